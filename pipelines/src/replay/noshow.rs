//! Kaggle "Medical Appointment No Shows" (v2, May 2016) -> appointments.
//!
//! Source: Kaggle data set `joniarroba/noshowappointments` (J. Hoppen / Aquarela Advanced
//! Analytics): 110,527 public-health appointments of Vitória, Espírito Santo, Brazil, with
//! whether the patient came. File `noshow-appointments/KaggleV2-May-2016.csv.gz`. Tenant
//! `vitoria`. Real 2016 dates are kept (the data has a calendar).
//!
//! ## Columns -> [`Appointment`]
//! Each row gives two events that both carry the appointment's details:
//! - `booked` at `event_time` = `ScheduledDay` (the booking timestamp, UTC), id
//!   `noshow-<AppointmentID>-booked`;
//! - the outcome at `AppointmentDay + 24 h` (the end of the appointment day: the source has no
//!   time of day, and the outcome is known once the day is over): `completed` when `No-show` is
//!   `No`, `no_show` when `Yes`; id `noshow-<AppointmentID>-completed` / `-no_show`.
//!
//! Fields: `appointment_id` = `AppointmentID`; `patient_id` = `PatientId` as written, except
//! that a number in float notation that is a whole number is written as that integer
//! (`2.98724998242960E+13` -> `29872499824296`). Five ids in this copy are written
//! `9377952927E-5` etc., i.e. not whole numbers (the original Kaggle float ids such as
//! `93779.52927`); they are kept as written, as the only faithful identifier there is.
//! `clinic` = `Neighbourhood` (81 of them), `scheduled_start` = `AppointmentDay` at 00:00 UTC,
//! `booked_at` = `ScheduledDay`, `patient_age` = `Age` (years).
//!
//! Validation decides the dead letters: the 5 rows booked on a day after their appointment day
//! are `booked_after_appointment` and the row with `Age` -1 is `invalid_age` — for both events
//! of the row, since each event carries the same details (10 and 2 dead letters). Unreadable
//! times or ages are one `malformed` dead letter for the row; a `No-show` other than `Yes`/`No`
//! is a `malformed` outcome (the booking is still replayed).

use super::table::{Table, Tally, field, text};
use super::{FileSummary, ReplayOptions};
use crate::error::Result;
use crate::source::SourceRecord;
use csv::ByteRecord;
use std::borrow::Cow;
use wardstream_schemas::time::{DAY_MS, day_start, parse_date, parse_rfc3339};
use wardstream_schemas::{Appointment, AppointmentStatus, Event, Millis, SCHEMA_VERSION, Stream};

/// The data set's folder.
pub const FOLDER: &str = "noshow-appointments";
/// The tenant of every event.
pub const TENANT: &str = "vitoria";

const FILE: &str = "noshow-appointments/KaggleV2-May-2016.csv.gz";

/// A timestamp as RFC 3339, or a bare `YYYY-MM-DD` date at midnight UTC.
fn time(s: &str) -> Option<Millis> {
    parse_rfc3339(s).or_else(|| parse_date(s))
}

/// `PatientId` as written, or as an integer when written as a whole number in float notation
/// (`29872499824296.0`, `2.98724998242960E+13`). Exact: digits are shifted, never rounded
/// through a float.
pub fn patient_id(written: &str) -> Cow<'_, str> {
    if written.bytes().all(|b| b.is_ascii_digit()) {
        return Cow::Borrowed(written);
    }
    whole_number(written).map_or(Cow::Borrowed(written), Cow::Owned)
}

fn whole_number(s: &str) -> Option<String> {
    let (mantissa, exp) = match s.find(['e', 'E']) {
        Some(i) => (
            &s[..i],
            s[i + 1..].trim_start_matches('+').parse::<i32>().ok()?,
        ),
        None => (s, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if int.is_empty() && frac.is_empty()
        || !int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits: String = [int, frac].concat();
    let point = i64::from(exp) + int.len() as i64; // digits before the decimal point
    if !(0..=40).contains(&point) {
        return None;
    }
    let point = point as usize;
    let mut out = if point >= digits.len() {
        digits.clone() + &"0".repeat(point - digits.len())
    } else {
        if digits[point..].bytes().any(|b| b != b'0') {
            return None;
        }
        digits[..point].to_owned()
    };
    let zeros = out
        .bytes()
        .take_while(|&b| b == b'0')
        .count()
        .min(out.len().saturating_sub(1));
    out.drain(..zeros);
    if out.is_empty() { None } else { Some(out) }
}

/// Replays the appointments into `out`.
pub(crate) fn load(opts: &ReplayOptions, out: &mut Vec<SourceRecord>) -> Result<Vec<FileSummary>> {
    let mut table = Table::open(&opts.data_dir, FILE)?;
    let [c_pid, c_id, c_booked, c_day, c_age, c_clinic, c_outcome] = table.columns([
        "PatientId",
        "AppointmentID",
        "ScheduledDay",
        "AppointmentDay",
        "Age",
        "Neighbourhood",
        "No-show",
    ])?;
    let mut tally = Tally::new(table.file(), out);
    let mut rec = ByteRecord::new();
    while let Some(n) = table.next(&mut rec)? {
        tally.row();
        let Some(booked_at) = field(&rec, c_booked).and_then(time) else {
            tally.malformed(Stream::Appointments, "ScheduledDay is not a time", n, &rec);
            continue;
        };
        let Some(day) = field(&rec, c_day).and_then(time).map(day_start) else {
            tally.malformed(
                Stream::Appointments,
                "AppointmentDay is not a date",
                n,
                &rec,
            );
            continue;
        };
        let Some(age) = field(&rec, c_age).and_then(|s| s.parse::<i32>().ok()) else {
            tally.malformed(Stream::Appointments, "Age is not a whole number", n, &rec);
            continue;
        };
        let id = text(&rec, c_id);
        let appointment = |status: AppointmentStatus, event_time: Millis| {
            Event::Appointment(Appointment {
                event_id: format!("noshow-{id}-{}", status.as_str()),
                tenant_id: TENANT.to_owned(),
                event_time,
                schema_version: SCHEMA_VERSION,
                status,
                appointment_id: id.to_owned(),
                patient_id: patient_id(text(&rec, c_pid)).into_owned(),
                provider_id: None,
                clinic: text(&rec, c_clinic).to_owned(),
                scheduled_start: day,
                booked_at,
                patient_age: Some(age),
            })
        };
        let booked = appointment(AppointmentStatus::Booked, booked_at);
        let outcome = match text(&rec, c_outcome) {
            "No" => Some(appointment(AppointmentStatus::Completed, day + DAY_MS)),
            "Yes" => Some(appointment(AppointmentStatus::NoShow, day + DAY_MS)),
            _ => None,
        };
        tally.check(booked, n, &rec);
        match outcome {
            Some(outcome) => tally.check(outcome, n, &rec),
            None => tally.malformed(
                Stream::Appointments,
                "No-show is neither Yes nor No",
                n,
                &rec,
            ),
        }
    }
    Ok(vec![tally.finish()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{DataSet, test_data_dir};
    use std::collections::BTreeMap;
    use wardstream_schemas::RejectReason;

    #[test]
    fn patient_ids_in_float_notation() {
        assert_eq!(patient_id("29872499824296"), "29872499824296");
        assert_eq!(patient_id("29872499824296.0"), "29872499824296");
        assert_eq!(patient_id("2.98724998242960E+13"), "29872499824296");
        assert_eq!(patient_id("5.5e2"), "550");
        assert_eq!(patient_id("9377952927E-5"), "9377952927E-5"); // 93779.52927: kept
        assert_eq!(patient_id("12.5"), "12.5");
        assert_eq!(patient_id("abc"), "abc");
        assert_eq!(patient_id("1e999"), "1e999");
    }

    /// Expected numbers checked independently with Python's csv module: 110,527 rows, 88,208
    /// `No` and 22,319 `Yes`; booked on a later day than the appointment: AppointmentID 5679978,
    /// 5715660, 5664962, 5686628, 5655637; Age -1: 5775010 (booked the same day, so only
    /// `invalid_age`); no row has both problems.
    #[test]
    fn kaggle_counts() {
        let opts = ReplayOptions {
            data_dir: test_data_dir(),
            data_sets: vec![DataSet::Noshow],
            ..ReplayOptions::default()
        };
        let mut out = Vec::new();
        let files = load(&opts, &mut out).expect("no-show");
        let f = &files[0];
        assert_eq!((f.file.as_str(), f.rows), (FILE, 110_527));
        assert_eq!(f.events, 2 * 110_527 - 12);
        assert_eq!(
            f.rejected,
            BTreeMap::from([
                (RejectReason::BookedAfterAppointment, 10),
                (RejectReason::InvalidAge, 2)
            ])
        );
        assert!(f.skipped.is_empty());

        let mut completed = 0;
        let mut no_show = 0;
        let mut booked_after = Vec::new();
        for r in &out {
            match r {
                SourceRecord::Event(Event::Appointment(a)) => match a.status {
                    AppointmentStatus::Completed => completed += 1,
                    AppointmentStatus::NoShow => no_show += 1,
                    _ => {}
                },
                SourceRecord::Rejected(r) => {
                    let raw = String::from_utf8_lossy(&r.raw);
                    assert_eq!(r.stream, Stream::Appointments);
                    assert!(
                        r.origin
                            .starts_with("noshow-appointments/KaggleV2-May-2016.csv.gz:")
                    );
                    if r.reject.reason == RejectReason::BookedAfterAppointment {
                        booked_after.push(raw.split(',').nth(1).unwrap_or("").to_owned());
                    } else {
                        assert!(raw.contains(",5775010,") && raw.contains(",-1,"), "{raw}");
                    }
                }
                _ => {}
            }
        }
        // Outcomes of the 6 rejected rows: the 5 booked late are "Yes", the age -1 row is "No".
        assert_eq!((completed, no_show), (88_208 - 1, 22_319 - 5));
        booked_after.sort();
        booked_after.dedup();
        assert_eq!(
            booked_after,
            ["5655637", "5664962", "5679978", "5686628", "5715660"]
        );

        let first = out.iter().find_map(|r| match r {
            SourceRecord::Event(Event::Appointment(a)) if a.event_id == "noshow-5642903-booked" => {
                Some(a)
            }
            _ => None,
        });
        let first = first.expect("first row booked");
        assert_eq!(
            (
                first.patient_id.as_str(),
                first.clinic.as_str(),
                first.patient_age
            ),
            ("29872499824296", "JARDIM DA PENHA", Some(62))
        );
        assert_eq!(first.lead_days(), 0);
        assert_eq!(
            Some(first.event_time),
            parse_rfc3339("2016-04-29T18:38:08Z")
        );
    }
}
