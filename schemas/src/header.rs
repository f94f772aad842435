//! Fields every event carries.

use crate::reject::{Reject, RejectReason};
use crate::time::{MAX_EVENT_TIME, MIN_EVENT_TIME, Millis};

/// The schema version this build writes and accepts.
pub const SCHEMA_VERSION: u16 = 1;

/// Checks the fields every event carries: `event_id` (the dedup key) and `tenant_id` non-empty,
/// a supported `schema_version`, and an event time between 1900 and 2300 UTC.
pub fn validate_header(
    event_id: &str,
    tenant_id: &str,
    event_time: Millis,
    schema_version: u16,
) -> Result<(), Reject> {
    if event_id.trim().is_empty() {
        return Err(Reject::new(RejectReason::MissingId, "event_id is empty"));
    }
    if tenant_id.trim().is_empty() {
        return Err(Reject::new(RejectReason::MissingId, "tenant_id is empty"));
    }
    if schema_version != SCHEMA_VERSION {
        return Err(Reject::new(
            RejectReason::UnsupportedSchemaVersion,
            format!("schema_version {schema_version}, this build reads {SCHEMA_VERSION}"),
        ));
    }
    validate_time(event_time, "event_time")
}

/// Requires a real time (1900–2300 UTC) in `field`.
pub fn validate_time(time: Millis, field: &str) -> Result<(), Reject> {
    if (MIN_EVENT_TIME..MAX_EVENT_TIME).contains(&time) {
        Ok(())
    } else {
        Err(Reject::new(
            RejectReason::InvalidTime,
            format!("{field} outside 1900..2300"),
        ))
    }
}

/// Requires a non-empty identifier.
pub fn require_id(value: &str, field: &str) -> Result<(), Reject> {
    if value.trim().is_empty() {
        Err(Reject::new(
            RejectReason::MissingId,
            format!("{field} is empty"),
        ))
    } else {
        Ok(())
    }
}

/// Serde default for `schema_version`.
pub fn default_schema_version() -> u16 {
    SCHEMA_VERSION
}
