//! # wardstream-schemas
//!
//! The typed events wardstream ingests, their wire formats and their validation. Every other
//! crate speaks these types.
//!
//! Four streams, one envelope ([`Event`], tagged by `"type"` on the wire):
//!
//! | stream | type | what |
//! |---|---|---|
//! | `adt` | [`Adt`] | admit / transfer / discharge of an encounter between care units |
//! | `vitals` | [`VitalSign`] | one LOINC-coded observation (UCUM unit), ACVPU, supplemental O2 |
//! | `appointments` | [`Appointment`] | booked, rescheduled, cancelled, checked_in, completed, no_show |
//! | `billing` | [`Charge`] | posted / adjusted / voided charges (CPT/HCPCS or MS-DRG, ICD-10) |
//!
//! Modules:
//! - [`time`]: event times as `i64` ms UTC, RFC 3339 on the wire.
//! - [`quantity`]: [`Milli`], fixed-point measured values (exact band boundaries, `Ord + Hash`).
//! - [`codes`]: LOINC vital signs and their UCUM units, ICD-10-CM / CPT / HCPCS / MS-DRG shapes, ISO 4217.
//! - [`reject`]: [`RejectReason`], the stable dead-letter reason codes.
//! - [`header`]: the fields every event carries (`event_id`, `tenant_id`, `event_time`, `schema_version`).
//! - [`adt`], [`vital_sign`], [`appointment`], [`charge`]: the event types.
//! - [`fhir`]: FHIR R4 Observation (vital-signs profile) <-> [`VitalSign`].
//! - [`event`]: the envelope, [`Stream`], and [`Event::decode`] (bytes -> validated event).
//! - [`batch`]: Arrow schemas and record batches of raw events, for DataFusion.
//!
//! Invariants: a decoded event has passed validation; a rejected one comes with a
//! [`RejectReason`] and never a panic; events are `Ord + Hash + Eq` so dataflows can key them.
//!
//! ```
//! use wardstream_schemas::{Event, RejectReason};
//!
//! let line = br#"{"type":"vital_sign","event_id":"v1","tenant_id":"general",
//!   "event_time":"2026-11-21T08:00:00Z","patient_id":"p1","encounter_id":"e1",
//!   "code":"8867-4","value":72,"unit":"/min"}"#;
//! let event = Event::decode(line).expect("a valid heart rate");
//! assert_eq!(event.tenant_id(), "general");
//!
//! let bad = br#"{"type":"vital_sign","event_id":"v2","tenant_id":"general",
//!   "event_time":"2026-11-21T08:00:00Z","patient_id":"p1","encounter_id":"e1",
//!   "code":"8867-4","value":400,"unit":"/min"}"#;
//! assert_eq!(Event::decode(bad).unwrap_err().reason, RejectReason::ValueOutOfRange);
//! ```

pub mod adt;
pub mod appointment;
pub mod batch;
pub mod charge;
pub mod codes;
pub mod event;
pub mod fhir;
pub mod header;
pub mod quantity;
pub mod reject;
pub mod time;
pub mod vital_sign;

pub use adt::{Adt, AdtKind};
pub use appointment::{Appointment, AppointmentStatus};
pub use charge::{Charge, ChargeStatus, CodeSystem};
pub use codes::VitalCode;
pub use event::{Event, Stream, guess_stream};
pub use header::SCHEMA_VERSION;
pub use quantity::Milli;
pub use reject::{Reject, RejectReason};
pub use time::Millis;
pub use vital_sign::{Acvpu, Spo2Scale, VitalSign};

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(line: &str) -> RejectReason {
        match Event::decode(line.as_bytes()) {
            Ok(e) => panic!("accepted {e:?}"),
            Err(r) => r.reason,
        }
    }

    const HR: &str = r#"{"type":"vital_sign","event_id":"v1","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","patient_id":"p","encounter_id":"e","code":"8867-4","value":VALUE,"unit":"UNIT"}"#;

    #[test]
    fn vital_sign_rules() {
        assert!(
            Event::decode(
                HR.replace("VALUE", "350")
                    .replace("UNIT", "/min")
                    .as_bytes()
            )
            .is_ok()
        );
        assert_eq!(
            reason(&HR.replace("VALUE", "350.5").replace("UNIT", "/min")),
            RejectReason::ValueOutOfRange
        );
        assert_eq!(
            reason(&HR.replace("VALUE", "-1").replace("UNIT", "/min")),
            RejectReason::ValueOutOfRange
        );
        assert_eq!(
            reason(&HR.replace("VALUE", "72").replace("UNIT", "bpm")),
            RejectReason::UnitMismatch
        );
        assert_eq!(
            reason(
                &HR.replace("8867-4", "59408-5")
                    .replace("VALUE", "101")
                    .replace("UNIT", "%")
            ),
            RejectReason::ValueOutOfRange
        );
        assert_eq!(
            reason(
                &HR.replace("8867-4", "1234-5")
                    .replace("VALUE", "1")
                    .replace("UNIT", "%")
            ),
            RejectReason::UnknownLoinc
        );
        assert_eq!(
            reason(
                r#"{"type":"vital_sign","event_id":"v1","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","patient_id":"p","encounter_id":"e"}"#
            ),
            RejectReason::EmptyObservation
        );
        assert!(Event::decode(br#"{"type":"vital_sign","event_id":"v1","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","patient_id":"p","encounter_id":"e","consciousness":"V"}"#).is_ok());
    }

    #[test]
    fn envelope_rules() {
        assert_eq!(reason("not json"), RejectReason::Malformed);
        assert_eq!(
            reason(r#"{"type":"lab","event_id":"x"}"#),
            RejectReason::UnknownEventType
        );
        assert_eq!(
            reason(
                &HR.replace("\"v1\"", "\"\"")
                    .replace("VALUE", "1")
                    .replace("UNIT", "/min")
            ),
            RejectReason::MissingId
        );
        assert_eq!(
            reason(
                &HR.replace("2026-11-21T08", "1776-07-04T08")
                    .replace("VALUE", "1")
                    .replace("UNIT", "/min")
            ),
            RejectReason::InvalidTime
        );
        assert_eq!(
            reason(
                &HR.replace("\"unit\"", "\"schema_version\":2,\"unit\"")
                    .replace("VALUE", "1")
                    .replace("UNIT", "/min")
            ),
            RejectReason::UnsupportedSchemaVersion
        );
        assert_eq!(
            guess_stream(br#"{"type":"charge","x":"adt"}"#),
            Some(Stream::Billing)
        );
    }

    const CHARGE: &str = r#"{"type":"charge","event_id":"c1","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","charge_id":"c","encounter_id":"e","code_system":"SYS","code":"CODE","diagnoses":["DX"],"amount_minor":AMT,"currency":"CUR","status":"STATUS"}"#;

    fn charge(sys: &str, code: &str, dx: &str, amt: &str, cur: &str, status: &str) -> String {
        CHARGE
            .replace("SYS", sys)
            .replace("CODE", code)
            .replace("DX", dx)
            .replace("AMT", amt)
            .replace("CUR", cur)
            .replace("STATUS", status)
    }

    #[test]
    fn charge_rules() {
        assert!(
            Event::decode(charge("hcpcs", "99291", "I10", "21383", "USD", "posted").as_bytes())
                .is_ok()
        );
        assert!(
            Event::decode(charge("ms_drg", "871", "A419", "-500", "USD", "adjusted").as_bytes())
                .is_ok()
        );
        assert_eq!(
            reason(&charge("hcpcs", "9929", "I10", "1", "USD", "posted")),
            RejectReason::MalformedCpt
        );
        assert_eq!(
            reason(&charge("ms_drg", "87", "I10", "1", "USD", "posted")),
            RejectReason::MalformedDrg
        );
        assert_eq!(
            reason(&charge("hcpcs", "99291", "4019", "1", "USD", "posted")),
            RejectReason::MalformedIcd10
        );
        assert_eq!(
            reason(&charge("hcpcs", "99291", "I10", "-1", "USD", "posted")),
            RejectReason::NegativeAmount
        );
        assert_eq!(
            reason(&charge("hcpcs", "99291", "I10", "1", "US$", "posted")),
            RejectReason::InvalidCurrency
        );
    }

    #[test]
    fn appointment_and_adt_rules() {
        let appt = r#"{"type":"appointment","event_id":"a","tenant_id":"t","event_time":"2016-04-29T18:38:08Z","status":"booked","appointment_id":"1","patient_id":"p","clinic":"C","scheduled_start":"SCHED","booked_at":"2016-04-29T18:38:08Z","patient_age":AGE}"#;
        assert!(
            Event::decode(
                appt.replace("SCHED", "2016-04-29T00:00:00Z")
                    .replace("AGE", "62")
                    .as_bytes()
            )
            .is_ok()
        );
        assert_eq!(
            reason(
                &appt
                    .replace("SCHED", "2016-04-28T00:00:00Z")
                    .replace("AGE", "62")
            ),
            RejectReason::BookedAfterAppointment
        );
        assert_eq!(
            reason(
                &appt
                    .replace("SCHED", "2016-04-29T00:00:00Z")
                    .replace("AGE", "-1")
            ),
            RejectReason::InvalidAge
        );
        let adt = r#"{"type":"adt","event_id":"a","tenant_id":"t","event_time":"2026-11-21T08:00:00Z","kind":"KIND","patient_id":"p","encounter_id":"e"}"#;
        for kind in ["admit", "decision_to_admit", "transfer"] {
            assert_eq!(
                reason(&adt.replace("KIND", kind)),
                RejectReason::MissingCareUnit,
                "{kind}"
            );
        }
        assert!(Event::decode(adt.replace("KIND", "discharge").as_bytes()).is_ok());
        let decided = adt.replace("KIND", "decision_to_admit").replace(
            r#""encounter_id":"e""#,
            r#""encounter_id":"e","care_unit":"ED""#,
        );
        match Event::decode(decided.as_bytes()) {
            Ok(Event::Adt(a)) => assert_eq!(a.kind, AdtKind::DecisionToAdmit),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fhir_observation_round_trips() {
        let v = VitalSign {
            event_id: "obs-1".into(),
            tenant_id: "general".into(),
            event_time: time::parse_rfc3339("2026-11-21T08:00:00Z").expect("time"),
            schema_version: 1,
            patient_id: "p1".into(),
            encounter_id: "e1".into(),
            device_id: Some("mon-3".into()),
            code: Some("8310-5".into()),
            value: Milli::from_f64(38.4),
            unit: Some("Cel".into()),
            consciousness: None,
            supplemental_oxygen: None,
            spo2_scale: None,
        };
        let json = fhir::observation_to_json(&v)
            .expect("has a quantity")
            .to_string();
        assert_eq!(Event::decode(json.as_bytes()), Ok(Event::VitalSign(v)));
        let panel = json.replace(
            "\"status\":\"final\"",
            "\"status\":\"final\",\"component\":[{}]",
        );
        assert_eq!(reason(&panel), RejectReason::UnsupportedFhir);
        let no_tenant = json.replace(fhir::TENANT_TAG_SYSTEM, "urn:other");
        assert_eq!(reason(&no_tenant), RejectReason::Malformed);
    }

    #[test]
    fn events_round_trip_through_json() {
        let line = HR.replace("VALUE", "72.5").replace("UNIT", "/min");
        let e = Event::decode(line.as_bytes()).expect("valid");
        assert_eq!(Event::decode(e.to_json().as_bytes()), Ok(e));
    }
}
