//! Vital-sign observations (bedside monitors, nurses' charting, IoT devices).

use crate::codes::VitalCode;
use crate::header::{default_schema_version, require_id, validate_header};
use crate::quantity::Milli;
use crate::reject::{Reject, RejectReason};
use crate::time::{Millis, rfc3339};
use serde::{Deserialize, Serialize};

/// Level of consciousness on the ACVPU scale (NEWS2, RCP 2017): Alert, new Confusion,
/// responds to Voice, responds to Pain, Unresponsive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Acvpu {
    /// Alert.
    A,
    /// New confusion.
    C,
    /// Responds to voice.
    V,
    /// Responds to pain.
    P,
    /// Unresponsive.
    U,
}

impl Acvpu {
    /// One letter: `A`, `C`, `V`, `P` or `U`.
    pub fn as_str(self) -> &'static str {
        match self {
            Acvpu::A => "A",
            Acvpu::C => "C",
            Acvpu::V => "V",
            Acvpu::P => "P",
            Acvpu::U => "U",
        }
    }
}

/// Which NEWS2 SpO2 scoring scale applies to the patient (RCP 2017, chart 1).
///
/// Scale 2 is for patients with hypercapnic respiratory failure and a prescribed target
/// range of 88–92 %, decided by a clinician; scale 1 is the default.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(rename_all = "snake_case")]
pub enum Spo2Scale {
    /// Scale 1 (default).
    #[default]
    Scale1,
    /// Scale 2 (hypercapnic respiratory failure, target 88–92 %).
    Scale2,
}

/// One observation of a patient at `event_time` (the effective time).
///
/// It carries a LOINC-coded quantity (`code`, `value`, `unit`), and/or the patient's level of
/// consciousness, and/or whether the patient is on supplemental oxygen, and/or the SpO2 scale
/// a clinician set. At least one of these is required.
///
/// Wire form: `{"type":"vital_sign","event_id":"v1","tenant_id":"general",
/// "event_time":"2026-11-21T08:00:00Z","patient_id":"p1","encounter_id":"e1","device_id":"mon-7",
/// "code":"8867-4","value":72,"unit":"/min"}`. A FHIR R4 Observation (vital-signs profile) is
/// accepted too (see [`crate::fhir`]).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct VitalSign {
    /// Unique id of this observation (dedup key; a re-sent id replaces the earlier value).
    pub event_id: String,
    /// The hospital (tenant).
    pub tenant_id: String,
    /// Effective time of the observation.
    #[serde(with = "rfc3339")]
    pub event_time: Millis,
    /// Wire schema version (1).
    #[serde(default = "default_schema_version")]
    pub schema_version: u16,
    /// The patient.
    pub patient_id: String,
    /// The encounter or ICU stay.
    pub encounter_id: String,
    /// The device that measured it, if any.
    #[serde(default)]
    pub device_id: Option<String>,
    /// LOINC code of the quantity, e.g. `8867-4` (heart rate).
    #[serde(default)]
    pub code: Option<String>,
    /// The value in `unit`.
    #[serde(default)]
    pub value: Option<Milli>,
    /// UCUM unit, which must be the code's unit (`/min`, `%`, `mm[Hg]`, `Cel`).
    #[serde(default)]
    pub unit: Option<String>,
    /// Level of consciousness (ACVPU).
    #[serde(default)]
    pub consciousness: Option<Acvpu>,
    /// Whether the patient is receiving supplemental oxygen (`false` = on air).
    #[serde(default)]
    pub supplemental_oxygen: Option<bool>,
    /// The SpO2 scale a clinician set for this patient.
    #[serde(default)]
    pub spo2_scale: Option<Spo2Scale>,
}

impl VitalSign {
    /// The measured quantity, if the event carries one and it is valid.
    pub fn quantity(&self) -> Option<(VitalCode, Milli)> {
        Some((VitalCode::from_loinc(self.code.as_deref()?)?, self.value?))
    }

    /// Validates ids and time; that a code has a value and the code's UCUM unit; that the value
    /// is physiologically possible; and that the event says something.
    pub fn validate(&self) -> Result<(), Reject> {
        validate_header(
            &self.event_id,
            &self.tenant_id,
            self.event_time,
            self.schema_version,
        )?;
        require_id(&self.patient_id, "patient_id")?;
        require_id(&self.encounter_id, "encounter_id")?;
        match (&self.code, self.value) {
            (Some(code), Some(value)) => {
                let vc = VitalCode::from_loinc(code).ok_or_else(|| {
                    Reject::new(
                        RejectReason::UnknownLoinc,
                        format!("LOINC {code} is not a vital sign we accept"),
                    )
                })?;
                let unit = self.unit.as_deref().unwrap_or("");
                if unit != vc.ucum() {
                    return Err(Reject::new(
                        RejectReason::UnitMismatch,
                        format!("LOINC {code} needs unit {}, got {unit:?}", vc.ucum()),
                    ));
                }
                let (lo, hi) = vc.plausible();
                if value < lo || value > hi {
                    return Err(Reject::new(
                        RejectReason::ValueOutOfRange,
                        format!(
                            "{code} value {} {unit} outside {}..={}",
                            value.as_f64(),
                            lo.as_f64(),
                            hi.as_f64()
                        ),
                    ));
                }
            }
            (Some(code), None) => {
                return Err(Reject::new(
                    RejectReason::Malformed,
                    format!("LOINC {code} without a value"),
                ));
            }
            (None, Some(_)) => {
                return Err(Reject::new(
                    RejectReason::Malformed,
                    "value without a LOINC code",
                ));
            }
            (None, None) => {
                if self.consciousness.is_none()
                    && self.supplemental_oxygen.is_none()
                    && self.spo2_scale.is_none()
                {
                    return Err(Reject::new(
                        RejectReason::EmptyObservation,
                        "no quantity, consciousness, oxygen or SpO2 scale",
                    ));
                }
            }
        }
        Ok(())
    }
}
