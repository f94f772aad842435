//! The four event streams and the one envelope that carries any of them.

use crate::adt::Adt;
use crate::appointment::Appointment;
use crate::charge::Charge;
use crate::fhir;
use crate::reject::{Reject, RejectReason};
use crate::time::Millis;
use crate::vital_sign::VitalSign;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The streams events arrive on (later: one Kafka topic each).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Appointment lifecycle events.
    Appointments,
    /// Vital-sign observations.
    Vitals,
    /// Charges.
    Billing,
    /// Admissions, transfers, discharges.
    Adt,
}

impl Stream {
    /// Every stream.
    pub const ALL: [Stream; 4] = [
        Stream::Appointments,
        Stream::Vitals,
        Stream::Billing,
        Stream::Adt,
    ];

    /// `appointments`, `vitals`, `billing` or `adt`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Appointments => "appointments",
            Stream::Vitals => "vitals",
            Stream::Billing => "billing",
            Stream::Adt => "adt",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Any event, tagged on the wire by `"type"`: `appointment`, `vital_sign`, `charge` or `adt`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    /// An appointment lifecycle event.
    Appointment(Appointment),
    /// A vital-sign observation.
    VitalSign(VitalSign),
    /// A charge event.
    Charge(Charge),
    /// An admission, transfer or discharge.
    Adt(Adt),
}

impl Event {
    /// The stream this event belongs to.
    pub fn stream(&self) -> Stream {
        match self {
            Event::Appointment(_) => Stream::Appointments,
            Event::VitalSign(_) => Stream::Vitals,
            Event::Charge(_) => Stream::Billing,
            Event::Adt(_) => Stream::Adt,
        }
    }

    /// The dedup key.
    pub fn event_id(&self) -> &str {
        match self {
            Event::Appointment(e) => &e.event_id,
            Event::VitalSign(e) => &e.event_id,
            Event::Charge(e) => &e.event_id,
            Event::Adt(e) => &e.event_id,
        }
    }

    /// The tenant.
    pub fn tenant_id(&self) -> &str {
        match self {
            Event::Appointment(e) => &e.tenant_id,
            Event::VitalSign(e) => &e.tenant_id,
            Event::Charge(e) => &e.tenant_id,
            Event::Adt(e) => &e.tenant_id,
        }
    }

    /// Event time, ms since the epoch (UTC).
    pub fn event_time(&self) -> Millis {
        match self {
            Event::Appointment(e) => e.event_time,
            Event::VitalSign(e) => e.event_time,
            Event::Charge(e) => e.event_time,
            Event::Adt(e) => e.event_time,
        }
    }

    /// Validates the event by the rules of its type.
    pub fn validate(&self) -> Result<(), Reject> {
        match self {
            Event::Appointment(e) => e.validate(),
            Event::VitalSign(e) => e.validate(),
            Event::Charge(e) => e.validate(),
            Event::Adt(e) => e.validate(),
        }
    }

    /// Decodes one wire record and validates it.
    ///
    /// Accepts our own JSON events (tagged by `"type"`) and FHIR R4 vital-signs Observations
    /// (`"resourceType":"Observation"`). Errors carry a reason code: `malformed` for bytes
    /// that are not an event, `unknown_event_type`, or the validation reason.
    pub fn decode(bytes: &[u8]) -> Result<Event, Reject> {
        let event = if is_fhir(bytes) {
            Event::VitalSign(fhir::observation_from_json(bytes)?)
        } else {
            serde_json::from_slice::<Event>(bytes).map_err(|e| {
                let msg = e.to_string();
                if msg.starts_with("unknown variant") || msg.contains("missing field `type`") {
                    Reject::new(RejectReason::UnknownEventType, msg)
                } else {
                    Reject::new(RejectReason::Malformed, msg)
                }
            })?
        };
        event.validate()?;
        Ok(event)
    }

    /// The event as one line of NDJSON (no trailing newline).
    pub fn to_json(&self) -> String {
        // Serialising our own derived types into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The stream a raw record most likely belongs to, from its `"type"` tag, for counting
/// records that fail to decode. `None` when it cannot be told.
pub fn guess_stream(bytes: &[u8]) -> Option<Stream> {
    if is_fhir(bytes) {
        return Some(Stream::Vitals);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let tags = [
        ("\"appointment\"", Stream::Appointments),
        ("\"vital_sign\"", Stream::Vitals),
        ("\"charge\"", Stream::Billing),
        ("\"adt\"", Stream::Adt),
    ];
    let pos = text.find("\"type\"")?;
    let rest = &text[pos + 6..];
    tags.iter()
        .filter_map(|(tag, s)| rest.find(tag).map(|p| (p, *s)))
        .min_by_key(|(p, _)| *p)
        .map(|(_, s)| s)
}

fn is_fhir(bytes: &[u8]) -> bool {
    bytes.windows(14).any(|w| w == b"\"resourceType\"")
}
