//! ADT (admission, discharge, transfer) events.

use crate::header::{default_schema_version, require_id, validate_header};
use crate::reject::{Reject, RejectReason};
use crate::time::{Millis, rfc3339};
use serde::{Deserialize, Serialize};

/// The kind of ADT event (HL7 v2 A01 admit, A06 change an outpatient to an inpatient, A02
/// transfer, A03 discharge).
///
/// The order (admit, decision to admit, transfer, discharge) breaks ties between an
/// encounter's events at the same time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdtKind {
    /// The patient arrives in `care_unit` and the encounter starts.
    Admit,
    /// The decision to admit: the encounter becomes an inpatient admission while the patient
    /// is still in `care_unit` (usually the emergency department; HL7 v2 A06, FHIR
    /// `Encounter.class` EMER → IMP). Nobody moves; from here until the patient leaves
    /// `care_unit` the patient is *boarding* (ACEP: admitted, but still in the ED).
    DecisionToAdmit,
    /// The patient moves from `from_care_unit` to `care_unit`.
    Transfer,
    /// The encounter ends; the patient leaves `from_care_unit`.
    Discharge,
}

impl AdtKind {
    /// `admit`, `decision_to_admit`, `transfer` or `discharge`.
    pub fn as_str(self) -> &'static str {
        match self {
            AdtKind::Admit => "admit",
            AdtKind::DecisionToAdmit => "decision_to_admit",
            AdtKind::Transfer => "transfer",
            AdtKind::Discharge => "discharge",
        }
    }
}

/// An admission, transfer or discharge of one encounter, at `event_time` (UTC).
///
/// Wire form (one NDJSON line, `type` selects the stream):
/// `{"type":"adt","event_id":"a1","tenant_id":"general","event_time":"2026-11-21T08:00:00Z",
///   "kind":"transfer","patient_id":"p1","encounter_id":"e1","care_unit":"ICU","bed":"ICU-04",
///   "from_care_unit":"ED"}`
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Adt {
    /// Unique id of this event (the dedup key; a re-sent id replaces the earlier version).
    pub event_id: String,
    /// The hospital (tenant) the event belongs to.
    pub tenant_id: String,
    /// When the movement happened.
    #[serde(with = "rfc3339")]
    pub event_time: Millis,
    /// Wire schema version (1).
    #[serde(default = "default_schema_version")]
    pub schema_version: u16,
    /// Admit, decision to admit, transfer or discharge.
    pub kind: AdtKind,
    /// The patient.
    pub patient_id: String,
    /// The hospital encounter (stay); census follows encounters.
    pub encounter_id: String,
    /// The care unit the patient is in after this event (required for admit, decision to
    /// admit and transfer).
    #[serde(default)]
    pub care_unit: Option<String>,
    /// The bed after this event.
    #[serde(default)]
    pub bed: Option<String>,
    /// The care unit the patient left (transfer, discharge).
    #[serde(default)]
    pub from_care_unit: Option<String>,
    /// The bed the patient left.
    #[serde(default)]
    pub from_bed: Option<String>,
}

impl Adt {
    /// Validates ids, time, and that admits and transfers name a care unit.
    pub fn validate(&self) -> Result<(), Reject> {
        validate_header(
            &self.event_id,
            &self.tenant_id,
            self.event_time,
            self.schema_version,
        )?;
        require_id(&self.patient_id, "patient_id")?;
        require_id(&self.encounter_id, "encounter_id")?;
        let unit_missing = self
            .care_unit
            .as_deref()
            .is_none_or(|u| u.trim().is_empty());
        if matches!(
            self.kind,
            AdtKind::Admit | AdtKind::DecisionToAdmit | AdtKind::Transfer
        ) && unit_missing
        {
            return Err(Reject::new(
                RejectReason::MissingCareUnit,
                format!("{} without care_unit", self.kind.as_str()),
            ));
        }
        Ok(())
    }
}
