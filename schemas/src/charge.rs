//! Billing charges: professional (CPT/HCPCS) and facility (MS-DRG) line items.

use crate::codes::{currency_exponent, is_cpt_or_hcpcs, is_icd10, is_ms_drg};
use crate::header::{default_schema_version, require_id, validate_header};
use crate::reject::{Reject, RejectReason};
use crate::time::{Millis, rfc3339};
use serde::{Deserialize, Serialize};

/// The code system of a charge's code.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeSystem {
    /// CPT / HCPCS Level I and II procedure codes (professional or outpatient services).
    Hcpcs,
    /// MS-DRG (Medicare Severity Diagnosis Related Group), an inpatient facility claim.
    MsDrg,
}

impl CodeSystem {
    /// `hcpcs` or `ms_drg`.
    pub fn as_str(self) -> &'static str {
        match self {
            CodeSystem::Hcpcs => "hcpcs",
            CodeSystem::MsDrg => "ms_drg",
        }
    }
}

/// The status a charge event moves its charge to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChargeStatus {
    /// The charge is posted with `amount_minor` (≥ 0).
    Posted,
    /// A signed adjustment of `amount_minor` to the charge.
    Adjusted,
    /// The charge is voided: its posted and adjusted amounts are retracted from net revenue.
    Voided,
}

impl ChargeStatus {
    /// `posted`, `adjusted` or `voided`.
    pub fn as_str(self) -> &'static str {
        match self {
            ChargeStatus::Posted => "posted",
            ChargeStatus::Adjusted => "adjusted",
            ChargeStatus::Voided => "voided",
        }
    }
}

/// One event on a charge (`charge_id`): posting, adjustment or void.
///
/// Amounts are integers in the currency's minor unit (cents for USD). The revenue view
/// attributes a charge to the day, code and care unit of its posting.
///
/// Wire form: `{"type":"charge","event_id":"c1-post","tenant_id":"general",
/// "event_time":"2026-11-21T10:00:00Z","charge_id":"c1","encounter_id":"e1","patient_id":"p1",
/// "care_unit":"MICU","code_system":"ms_drg","code":"871","diagnoses":["A419"],
/// "amount_minor":1203400,"currency":"USD","status":"posted"}`
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Charge {
    /// Unique id of this event.
    pub event_id: String,
    /// The hospital (tenant).
    pub tenant_id: String,
    /// When the charge was posted, adjusted or voided (the service time for a posting).
    #[serde(with = "rfc3339")]
    pub event_time: Millis,
    /// Wire schema version (1).
    #[serde(default = "default_schema_version")]
    pub schema_version: u16,
    /// The charge (line item) this event acts on.
    pub charge_id: String,
    /// The encounter billed.
    pub encounter_id: String,
    /// The patient, if known.
    #[serde(default)]
    pub patient_id: Option<String>,
    /// The care unit that rendered the service, if known.
    #[serde(default)]
    pub care_unit: Option<String>,
    /// The code system of `code`.
    pub code_system: CodeSystem,
    /// The CPT/HCPCS code or the three-digit MS-DRG.
    pub code: String,
    /// ICD-10-CM diagnoses supporting the charge (codes with or without the dot).
    #[serde(default)]
    pub diagnoses: Vec<String>,
    /// Amount in minor units of `currency` (≥ 0 for postings and voids; signed for adjustments).
    pub amount_minor: i64,
    /// ISO 4217 currency code.
    pub currency: String,
    /// Posted, adjusted or voided.
    pub status: ChargeStatus,
}

impl Charge {
    /// Validates ids, time, code shapes, ICD-10 diagnoses, the currency, and amount signs.
    pub fn validate(&self) -> Result<(), Reject> {
        validate_header(
            &self.event_id,
            &self.tenant_id,
            self.event_time,
            self.schema_version,
        )?;
        require_id(&self.charge_id, "charge_id")?;
        require_id(&self.encounter_id, "encounter_id")?;
        match self.code_system {
            CodeSystem::Hcpcs if !is_cpt_or_hcpcs(&self.code) => {
                return Err(Reject::new(
                    RejectReason::MalformedCpt,
                    format!("{:?} is not a CPT/HCPCS code", self.code),
                ));
            }
            CodeSystem::MsDrg if !is_ms_drg(&self.code) => {
                return Err(Reject::new(
                    RejectReason::MalformedDrg,
                    format!("{:?} is not an MS-DRG", self.code),
                ));
            }
            _ => {}
        }
        if let Some(bad) = self.diagnoses.iter().find(|d| !is_icd10(d)) {
            return Err(Reject::new(
                RejectReason::MalformedIcd10,
                format!("{bad:?} is not an ICD-10-CM code"),
            ));
        }
        if currency_exponent(&self.currency).is_none() {
            return Err(Reject::new(
                RejectReason::InvalidCurrency,
                format!("{:?} is not an accepted ISO 4217 code", self.currency),
            ));
        }
        if self.amount_minor < 0 && self.status != ChargeStatus::Adjusted {
            return Err(Reject::new(
                RejectReason::NegativeAmount,
                format!(
                    "{} with negative amount {}",
                    self.status.as_str(),
                    self.amount_minor
                ),
            ));
        }
        Ok(())
    }
}
