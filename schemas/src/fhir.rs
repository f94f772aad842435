//! FHIR R4 Observation (vital-signs profile) as a wire form of [`VitalSign`].
//!
//! Accepted: `resourceType` `Observation`, `status` `final`/`amended`/`corrected`/`preliminary`,
//! one LOINC coding in `code` that is one of our vital signs, `valueQuantity` with the UCUM
//! unit in `code`, `subject` `Patient/<id>`, `encounter` `Encounter/<id>`, optional `device`
//! `Device/<id>`, `effectiveDateTime`, and the tenant in `meta.tag` with system
//! [`TENANT_TAG_SYSTEM`]. The Observation `id` is the event id. Source: HL7 FHIR R4
//! `observation-vitalsigns` profile.

use crate::codes::VitalCode;
use crate::header::SCHEMA_VERSION;
use crate::quantity::Milli;
use crate::reject::{Reject, RejectReason};
use crate::time::parse_rfc3339;
use crate::vital_sign::VitalSign;
use serde::Deserialize;

/// The `meta.tag` system whose `code` names the tenant.
pub const TENANT_TAG_SYSTEM: &str = "urn:wardstream:tenant";
/// The LOINC code system URI.
pub const LOINC_SYSTEM: &str = "http://loinc.org";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Observation {
    resource_type: String,
    id: Option<String>,
    status: Option<String>,
    meta: Option<Meta>,
    code: Option<CodeableConcept>,
    subject: Option<Reference>,
    encounter: Option<Reference>,
    device: Option<Reference>,
    effective_date_time: Option<String>,
    value_quantity: Option<Quantity>,
    component: Option<Vec<serde_json::Value>>,
}

#[derive(Deserialize)]
struct Meta {
    tag: Option<Vec<Coding>>,
}

#[derive(Deserialize)]
struct CodeableConcept {
    coding: Option<Vec<Coding>>,
}

#[derive(Deserialize)]
struct Coding {
    system: Option<String>,
    code: Option<String>,
}

#[derive(Deserialize)]
struct Reference {
    reference: Option<String>,
}

#[derive(Deserialize)]
struct Quantity {
    value: Option<f64>,
    code: Option<String>,
    unit: Option<String>,
}

fn reference_id(r: &Option<Reference>, kind: &str) -> Option<String> {
    let s = r.as_ref()?.reference.as_deref()?;
    s.strip_prefix(kind)?.strip_prefix('/').map(str::to_owned)
}

/// Reads a FHIR R4 Observation into a [`VitalSign`] (not yet validated).
pub fn observation_from_json(bytes: &[u8]) -> Result<VitalSign, Reject> {
    let obs: Observation = serde_json::from_slice(bytes)
        .map_err(|e| Reject::new(RejectReason::Malformed, e.to_string()))?;
    if obs.resource_type != "Observation" {
        return Err(Reject::new(
            RejectReason::UnknownEventType,
            format!("FHIR resourceType {} is not Observation", obs.resource_type),
        ));
    }
    match obs.status.as_deref() {
        Some("final" | "amended" | "corrected" | "preliminary") => {}
        other => {
            return Err(Reject::new(
                RejectReason::UnsupportedFhir,
                format!("Observation status {other:?}"),
            ));
        }
    }
    if obs.component.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err(Reject::new(
            RejectReason::UnsupportedFhir,
            "panels with components: send one Observation per LOINC code",
        ));
    }
    let missing = |what: &str| {
        Reject::new(
            RejectReason::Malformed,
            format!("Observation without {what}"),
        )
    };
    let tenant_id = obs
        .meta
        .and_then(|m| m.tag)
        .and_then(|tags| {
            tags.into_iter()
                .find(|t| t.system.as_deref() == Some(TENANT_TAG_SYSTEM))
        })
        .and_then(|t| t.code)
        .ok_or_else(|| missing("meta.tag for the tenant"))?;
    let code = obs
        .code
        .and_then(|c| c.coding)
        .and_then(|cs| {
            cs.into_iter()
                .find(|c| c.system.as_deref() == Some(LOINC_SYSTEM))
        })
        .and_then(|c| c.code)
        .ok_or_else(|| missing("a LOINC coding"))?;
    if VitalCode::from_loinc(&code).is_none() {
        return Err(Reject::new(
            RejectReason::UnknownLoinc,
            format!("LOINC {code} is not a vital sign we accept"),
        ));
    }
    let q = obs.value_quantity.ok_or_else(|| missing("valueQuantity"))?;
    let value = q
        .value
        .and_then(Milli::from_f64)
        .ok_or_else(|| missing("valueQuantity.value"))?;
    let time = obs
        .effective_date_time
        .ok_or_else(|| missing("effectiveDateTime"))?;
    let event_time = parse_rfc3339(&time).ok_or_else(|| {
        Reject::new(
            RejectReason::InvalidTime,
            "effectiveDateTime is not RFC 3339",
        )
    })?;
    Ok(VitalSign {
        event_id: obs.id.ok_or_else(|| missing("id"))?,
        tenant_id,
        event_time,
        schema_version: SCHEMA_VERSION,
        patient_id: reference_id(&obs.subject, "Patient")
            .ok_or_else(|| missing("subject Patient/<id>"))?,
        encounter_id: reference_id(&obs.encounter, "Encounter")
            .ok_or_else(|| missing("encounter Encounter/<id>"))?,
        device_id: reference_id(&obs.device, "Device"),
        code: Some(code),
        value: Some(value),
        unit: q.code.or(q.unit),
        consciousness: None,
        supplemental_oxygen: None,
        spo2_scale: None,
    })
}

/// Writes a quantity-bearing [`VitalSign`] as a FHIR R4 Observation (the inverse of
/// [`observation_from_json`]); `None` when the event has no quantity.
pub fn observation_to_json(v: &VitalSign) -> Option<serde_json::Value> {
    let (code, value) = v.quantity()?;
    let mut obs = serde_json::json!({
        "resourceType": "Observation",
        "id": v.event_id,
        "status": "final",
        "meta": {"tag": [{"system": TENANT_TAG_SYSTEM, "code": v.tenant_id}]},
        "category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC_SYSTEM, "code": code.loinc()}]},
        "subject": {"reference": format!("Patient/{}", v.patient_id)},
        "encounter": {"reference": format!("Encounter/{}", v.encounter_id)},
        "effectiveDateTime": crate::time::format_rfc3339(v.event_time),
        "valueQuantity": {"value": value.as_f64(), "unit": code.ucum(),
                          "system": "http://unitsofmeasure.org", "code": code.ucum()},
    });
    if let Some(d) = &v.device_id {
        obs["device"] = serde_json::json!({"reference": format!("Device/{d}")});
    }
    Some(obs)
}
