//! Outpatient appointment lifecycle events.

use crate::header::{default_schema_version, require_id, validate_header, validate_time};
use crate::reject::{Reject, RejectReason};
use crate::time::{DAY_MS, Millis, day_start, rfc3339};
use serde::{Deserialize, Serialize};

/// Where an appointment is in its lifecycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppointmentStatus {
    /// Booked for `scheduled_start`.
    Booked,
    /// Moved to a new `scheduled_start`.
    Rescheduled,
    /// Cancelled before it happened.
    Cancelled,
    /// The patient arrived.
    CheckedIn,
    /// The visit took place.
    Completed,
    /// The patient did not come.
    NoShow,
}

impl AppointmentStatus {
    /// The wire name, e.g. `no_show`.
    pub fn as_str(self) -> &'static str {
        match self {
            AppointmentStatus::Booked => "booked",
            AppointmentStatus::Rescheduled => "rescheduled",
            AppointmentStatus::Cancelled => "cancelled",
            AppointmentStatus::CheckedIn => "checked_in",
            AppointmentStatus::Completed => "completed",
            AppointmentStatus::NoShow => "no_show",
        }
    }
}

/// One lifecycle event of an appointment; every event carries the appointment's current
/// details so that the latest event alone describes it.
///
/// Wire form: `{"type":"appointment","event_id":"ap1-booked","tenant_id":"vitoria",
/// "event_time":"2016-04-29T18:38:08Z","status":"booked","appointment_id":"5642903",
/// "patient_id":"29872499824296","clinic":"JARDIM DA PENHA",
/// "scheduled_start":"2016-04-29T00:00:00Z","booked_at":"2016-04-29T18:38:08Z","patient_age":62}`
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Appointment {
    /// Unique id of this event.
    pub event_id: String,
    /// The organisation (tenant).
    pub tenant_id: String,
    /// When this lifecycle step happened.
    #[serde(with = "rfc3339")]
    pub event_time: Millis,
    /// Wire schema version (1).
    #[serde(default = "default_schema_version")]
    pub schema_version: u16,
    /// The lifecycle step.
    pub status: AppointmentStatus,
    /// The appointment (stable across its lifecycle).
    pub appointment_id: String,
    /// The patient.
    pub patient_id: String,
    /// The provider, if known.
    #[serde(default)]
    pub provider_id: Option<String>,
    /// The clinic (for the Kaggle data set: the neighbourhood).
    pub clinic: String,
    /// When the appointment is (was) to start. A date-only source puts it at 00:00 UTC.
    #[serde(with = "rfc3339")]
    pub scheduled_start: Millis,
    /// When it was booked.
    #[serde(with = "rfc3339")]
    pub booked_at: Millis,
    /// The patient's age in years at booking, if known.
    #[serde(default)]
    pub patient_age: Option<i32>,
}

impl Appointment {
    /// Lead time in whole days: scheduled day minus booking day (UTC dates), as in the
    /// Kaggle no-show literature.
    pub fn lead_days(&self) -> i64 {
        (day_start(self.scheduled_start) - day_start(self.booked_at)) / DAY_MS
    }

    /// Validates ids and times; rejects a booking dated after the appointment's day and ages
    /// outside 0–130 years.
    pub fn validate(&self) -> Result<(), Reject> {
        validate_header(
            &self.event_id,
            &self.tenant_id,
            self.event_time,
            self.schema_version,
        )?;
        require_id(&self.appointment_id, "appointment_id")?;
        require_id(&self.patient_id, "patient_id")?;
        require_id(&self.clinic, "clinic")?;
        validate_time(self.scheduled_start, "scheduled_start")?;
        validate_time(self.booked_at, "booked_at")?;
        if self.lead_days() < 0 {
            return Err(Reject::new(
                RejectReason::BookedAfterAppointment,
                format!(
                    "booked {} day(s) after the appointment day",
                    -self.lead_days()
                ),
            ));
        }
        if let Some(age) = self.patient_age
            && !(0..=130).contains(&age)
        {
            return Err(Reject::new(
                RejectReason::InvalidAge,
                format!("age {age} outside 0..=130"),
            ));
        }
        Ok(())
    }
}
