//! Why an event was not applied: stable reason codes for dead letters.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A stable, machine-readable reason code for a dead-lettered event.
///
/// The `snake_case` names are part of the external contract (dead-letter files, the
/// `ingest_stats` view, later the Kafka dead-letter topic): never rename one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RejectReason {
    /// The bytes are not valid JSON / CSV for the event type, or a required field is missing.
    Malformed,
    /// The `type` (or FHIR `resourceType`) is not one of ours.
    UnknownEventType,
    /// `schema_version` is not supported by this build.
    UnsupportedSchemaVersion,
    /// A required identifier (`event_id`, `tenant_id`, patient, encounter, …) is empty.
    MissingId,
    /// The event time is not a real time (before 1900 or after 2300).
    InvalidTime,
    /// The LOINC code is not one of the vital signs we accept.
    UnknownLoinc,
    /// The UCUM unit does not match the LOINC code's unit.
    UnitMismatch,
    /// A measured value is physiologically impossible for its code (e.g. heart rate 400 /min).
    ValueOutOfRange,
    /// A vital-sign event carries no measurement, consciousness or oxygen information.
    EmptyObservation,
    /// Not a well-formed ICD-10-CM diagnosis code.
    MalformedIcd10,
    /// Not a well-formed CPT/HCPCS Level II code.
    MalformedCpt,
    /// Not a well-formed MS-DRG (three digits).
    MalformedDrg,
    /// A posting or void carries a negative amount.
    NegativeAmount,
    /// Not an ISO 4217 currency code we know.
    InvalidCurrency,
    /// The appointment was booked after the day it took place.
    BookedAfterAppointment,
    /// The patient's age is negative or above 130 years.
    InvalidAge,
    /// An ADT event lacks the care unit its kind requires (admit, decision to admit and
    /// transfer need one).
    MissingCareUnit,
    /// The code has no price in the configured fee schedule / DRG weights (replay mapping).
    UnpricedCode,
    /// The FHIR resource is valid but not a form we accept (panels, non-numeric values).
    UnsupportedFhir,
    /// The event's time is behind the watermark by more than the allowed lateness.
    Late,
}

impl RejectReason {
    /// Every reason, in declaration order.
    pub const ALL: [RejectReason; 20] = [
        RejectReason::Malformed,
        RejectReason::UnknownEventType,
        RejectReason::UnsupportedSchemaVersion,
        RejectReason::MissingId,
        RejectReason::InvalidTime,
        RejectReason::UnknownLoinc,
        RejectReason::UnitMismatch,
        RejectReason::ValueOutOfRange,
        RejectReason::EmptyObservation,
        RejectReason::MalformedIcd10,
        RejectReason::MalformedCpt,
        RejectReason::MalformedDrg,
        RejectReason::NegativeAmount,
        RejectReason::InvalidCurrency,
        RejectReason::BookedAfterAppointment,
        RejectReason::InvalidAge,
        RejectReason::MissingCareUnit,
        RejectReason::UnpricedCode,
        RejectReason::UnsupportedFhir,
        RejectReason::Late,
    ];

    /// The stable code, e.g. `value_out_of_range`.
    pub fn code(self) -> &'static str {
        match self {
            RejectReason::Malformed => "malformed",
            RejectReason::UnknownEventType => "unknown_event_type",
            RejectReason::UnsupportedSchemaVersion => "unsupported_schema_version",
            RejectReason::MissingId => "missing_id",
            RejectReason::InvalidTime => "invalid_time",
            RejectReason::UnknownLoinc => "unknown_loinc",
            RejectReason::UnitMismatch => "unit_mismatch",
            RejectReason::ValueOutOfRange => "value_out_of_range",
            RejectReason::EmptyObservation => "empty_observation",
            RejectReason::MalformedIcd10 => "malformed_icd10",
            RejectReason::MalformedCpt => "malformed_cpt",
            RejectReason::MalformedDrg => "malformed_drg",
            RejectReason::NegativeAmount => "negative_amount",
            RejectReason::InvalidCurrency => "invalid_currency",
            RejectReason::BookedAfterAppointment => "booked_after_appointment",
            RejectReason::InvalidAge => "invalid_age",
            RejectReason::MissingCareUnit => "missing_care_unit",
            RejectReason::UnpricedCode => "unpriced_code",
            RejectReason::UnsupportedFhir => "unsupported_fhir",
            RejectReason::Late => "late",
        }
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejection: the reason code plus a human-readable detail (no patient data in it).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}: {detail}")]
pub struct Reject {
    /// The stable reason code.
    pub reason: RejectReason,
    /// What exactly was wrong, e.g. `heart rate 400 /min outside 0..=350`.
    pub detail: String,
}

impl Reject {
    /// A rejection with a reason and detail.
    pub fn new(reason: RejectReason, detail: impl Into<String>) -> Self {
        Reject {
            reason,
            detail: detail.into(),
        }
    }
}
