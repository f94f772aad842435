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
            decode_tagged(bytes).map_err(|e| match e {
                TaggedError::UnknownType(e) => {
                    Reject::new(RejectReason::UnknownEventType, e.to_string())
                }
                TaggedError::Malformed(e) => Reject::new(RejectReason::Malformed, e.to_string()),
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

/// The wire tags of [`Event`]'s variants, in declaration order.
const TAGS: [&str; 4] = ["appointment", "vital_sign", "charge", "adt"];

/// Why [`decode_tagged`] refused a document.
#[derive(Debug)]
enum TaggedError {
    /// Valid JSON whose `"type"` is missing or not one of [`TAGS`].
    UnknownType(serde_json::Error),
    /// Not JSON, or not the shape of the event its tag names.
    Malformed(serde_json::Error),
}

/// Our own JSON event: the `"type"` tag first, then the variant's struct straight from the
/// bytes (the struct ignores the `type` key). Accepts the same documents as
/// `serde_json::from_slice::<Event>`, without the derived internally-tagged path, which
/// buffers every field into an intermediate `Content` tree first (about a quarter of a Kafka
/// worker's time went there). A refusal is an unknown type only when the tag itself is
/// missing or unknown in valid JSON; anything else (broken JSON, a bad field value, even one
/// whose message reads "unknown variant") is malformed.
fn decode_tagged(bytes: &[u8]) -> Result<Event, TaggedError> {
    use TaggedError::{Malformed, UnknownType};
    let tag = event_tag(bytes).map_err(|e| {
        if e.to_string().starts_with("missing field `type`") {
            UnknownType(e)
        } else {
            Malformed(e)
        }
    })?;
    match tag.as_ref() {
        "appointment" => serde_json::from_slice(bytes).map(Event::Appointment),
        "vital_sign" => serde_json::from_slice(bytes).map(Event::VitalSign),
        "charge" => serde_json::from_slice(bytes).map(Event::Charge),
        "adt" => serde_json::from_slice(bytes).map(Event::Adt),
        other => {
            // Broken JSON is malformed whatever its tag says.
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(Malformed)?;
            return Err(UnknownType(serde::de::Error::unknown_variant(other, &TAGS)));
        }
    }
    .map_err(Malformed)
}

/// The value of the top-level `"type"` key. Fast path for documents that start with it (as
/// [`Event::to_json`] writes them); otherwise one pass that skips every other value.
fn event_tag(bytes: &[u8]) -> Result<std::borrow::Cow<'_, str>, serde_json::Error> {
    if let Some(rest) = bytes.strip_prefix(b"{\"type\":\"")
        && let Some(end) = memchr::memchr2(b'"', b'\\', rest)
        && rest[end] == b'"'
        && let Ok(tag) = std::str::from_utf8(&rest[..end])
    {
        return Ok(std::borrow::Cow::Borrowed(tag));
    }
    // serde reads a struct from a JSON array too: an event must be an object.
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        serde_json::from_slice::<serde::de::IgnoredAny>(bytes)?;
        return Err(serde::de::Error::custom("an event must be a JSON object"));
    }
    #[derive(Deserialize)]
    struct Tag<'a> {
        #[serde(rename = "type", borrow)]
        tag: std::borrow::Cow<'a, str>,
    }
    Ok(serde_json::from_slice::<Tag<'_>>(bytes)?.tag)
}

/// Whether the record is a FHIR resource (has a `"resourceType"` key).
fn is_fhir(bytes: &[u8]) -> bool {
    static FINDER: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"resourceType\""));
    FINDER.find(bytes).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// One valid document per event type, `"type"` first as [`Event::to_json`] writes it.
    const DOCS: [&str; 4] = [
        r#"{"type":"appointment","event_id":"a","tenant_id":"t","event_time":"2016-04-29T18:38:08Z","status":"booked","appointment_id":"1","patient_id":"p","clinic":"C","scheduled_start":"2016-04-29T00:00:00Z","booked_at":"2016-04-29T18:38:08Z","patient_age":62}"#,
        r#"{"type":"vital_sign","event_id":"v1","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","patient_id":"p","encounter_id":"e","code":"8867-4","value":72.5,"unit":"/min"}"#,
        r#"{"type":"charge","event_id":"c1","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","charge_id":"c","encounter_id":"e","code_system":"ms_drg","code":"470","diagnoses":["M17.11"],"amount_minor":1200,"currency":"USD","status":"posted"}"#,
        r#"{"type":"adt","event_id":"a","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","kind":"discharge","patient_id":"p","encounter_id":"e"}"#,
    ];

    /// `doc`'s top-level members in the given order, optionally with `type` replaced.
    fn reordered(doc: &str, order: &[usize], tag: Option<&str>) -> String {
        let value: serde_json::Value = serde_json::from_str(doc).expect("test document");
        let members: Vec<(String, serde_json::Value)> = value
            .as_object()
            .expect("an object")
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let mut parts = Vec::new();
        for &i in order.iter().filter(|&&i| i < members.len()) {
            let (k, v) = &members[i];
            let v = match (k.as_str(), tag) {
                ("type", Some(t)) => t.to_owned(),
                _ => v.to_string(),
            };
            parts.push(format!("{}:{v}", serde_json::Value::from(k.as_str())));
        }
        format!("{{{}}}", parts.join(","))
    }

    /// The derived internally-tagged decoder, which `decode_tagged` replaces.
    fn derived(bytes: &[u8]) -> Result<Event, String> {
        serde_json::from_slice::<Event>(bytes).map_err(|e| e.to_string())
    }

    fn both_agree(bytes: &[u8]) {
        let ours = decode_tagged(bytes);
        match (ours, derived(bytes)) {
            (Ok(a), Ok(b)) => assert_eq!(a, b),
            (Err(a), Err(b)) => {
                // An unknown type is exactly valid JSON whose top-level "type" is missing or
                // a string other than the four tags; everything else is malformed.
                let value = serde_json::from_slice::<serde_json::Value>(bytes).ok();
                let unknown_tag =
                    value.as_ref().and_then(|v| v.as_object()).is_some_and(|o| {
                        match o.get("type") {
                            None => true,
                            Some(serde_json::Value::String(t)) => !TAGS.contains(&t.as_str()),
                            Some(_) => false,
                        }
                    });
                assert_eq!(
                    matches!(a, TaggedError::UnknownType(_)),
                    unknown_tag,
                    "{a:?} (derived: {b}) on {}",
                    String::from_utf8_lossy(bytes)
                );
            }
            (a, b) => panic!(
                "disagree on {}: ours {a:?}, derived {b:?}",
                String::from_utf8_lossy(bytes)
            ),
        }
    }

    #[test]
    fn fast_path_reads_the_leading_tag() {
        for doc in DOCS {
            assert!(matches!(
                event_tag(doc.as_bytes()),
                Ok(std::borrow::Cow::Borrowed(_))
            ));
            both_agree(doc.as_bytes());
        }
        for odd in [
            r#" {"type":"adt"}"#,
            r#"{"type":"vital\u005fsign","event_id":"v"}"#,
            r#"{"type":"lab","event_id":"x"}"#,
            r#"{"event_id":"x"}"#,
            r#"{"type":5}"#,
            r#"{"type":"adt""#,
            r#"["type"]"#,
            "not json",
            "",
        ] {
            both_agree(odd.as_bytes());
        }
    }

    proptest! {
        /// Any member order, any tag (valid, unknown, or not a string), any truncation:
        /// decoding agrees with the derived enum.
        #[test]
        fn tag_first_decoding_matches_the_derived_enum(
            doc in 0usize..4,
            order in Just((0..16).collect::<Vec<usize>>()).prop_shuffle(),
            keep in 1usize..=16,
            tag in prop_oneof![
                Just(None),
                Just(Some("\"appointment\"")),
                Just(Some("\"vital_sign\"")),
                Just(Some("\"charge\"")),
                Just(Some("\"adt\"")),
                Just(Some("\"lab\"")),
                Just(Some("7")),
                Just(Some("null")),
            ],
            cut in 0usize..400,
        ) {
            let text = reordered(DOCS[doc], &order[..keep], tag);
            both_agree(text.as_bytes());
            let cut = cut.min(text.len());
            both_agree(&text.as_bytes()[..cut]);
        }
    }
}
