//! PhysioNet/Computing in Cardiology Challenge 2012, training set A -> vitals.
//!
//! Source: Silva I. et al., "Predicting In-Hospital Mortality of ICU Patients: The
//! PhysioNet/Computing in Cardiology Challenge 2012", CinC 2012;39:245-248 (4,000 ICU stays of
//! at least 48 h from MIMIC-II, first 48 h of measurements). File
//! `physionet-2012-icu-vitals/set-a_long.csv.gz`: `record_id,elapsed_min,parameter,value`, one
//! measurement per row, records in ascending `record_id`, rows in the original file order.
//! Tenant `physionet-2012`.
//!
//! ## Time
//! The challenge gives only minutes since ICU admission. Stay `i` (0-based, in ascending
//! `record_id`) is admitted at `anchor + ⌊i × 365 days / 4000⌋` (rounded down to the minute: a
//! new stay every 131.4 minutes over one year, so about 22 stays are within their 48 hours of
//! data at any time), and a row's `event_time` is that admission plus `elapsed_min` minutes.
//! The file must be in ascending `record_id` order (as published); otherwise the load fails with
//! [`crate::Error::DataSet`].
//!
//! ## Columns -> [`VitalSign`](wardstream_schemas::VitalSign)
//! - `record_id` -> `patient_id` and `encounter_id` (one stay per patient in set A).
//! - `event_id` = `physionet-<record_id>-<n>`, `n` the row's data record number in the file
//!   (unique and stable: the file is fixed).
//! - `value` -> `value`, read as a float into [`Milli`](wardstream_schemas::Milli) (thousandths);
//!   not a finite number -> dead letter `malformed`.
//!
//! | parameter | becomes | device |
//! |---|---|---|
//! | `HR` | 8867-4 heart rate, `/min` | |
//! | `RespRate` | 9279-1 respiratory rate, `/min` | |
//! | `SaO2` | 2708-6 arterial O2 saturation, `%` (blood gas, *not* pulse-oximetry SpO2 59408-5) | |
//! | `Temp` | 8310-5 body temperature, `Cel` | |
//! | `SysABP` / `NISysABP` | 8480-6 systolic BP, `mm[Hg]` | `arterial-line` / `nibp-cuff` |
//! | `DiasABP` / `NIDiasABP` | 8462-4 diastolic BP, `mm[Hg]` | `arterial-line` / `nibp-cuff` |
//! | `GCS` | consciousness only: 15 A, 14 C, 9–13 V, 4–8 P, 3 U; else `value_out_of_range` | |
//! | `FiO2` | supplemental_oxygen = FiO2 > 0.21 (values > 1 are percent); below 21 % or above 100 % -> `value_out_of_range` | |
//! | `MechVent` | supplemental_oxygen = true when 1 (a ventilated patient breathes enriched gas); 0 skipped; else `value_out_of_range` | |
//!
//! The GCS -> ACVPU bands are an approximation (GCS and ACVPU are different scales); only
//! "A" versus "not A" changes NEWS2, and that split (GCS 15 versus below) is the usual one.
//!
//! 54 of the 4,000 records carry no vital sign at all (only descriptors and labs); they still
//! take their admission slot `i`, so the placement of every other stay does not depend on
//! which parameters are mapped.
//!
//! Impossible values are not filtered here: the schemas' validation rejects them (set A has 129
//! temperatures outside 15–46 °C: 0, -17.8 (0 °F), 1.2 …, all dead letters `value_out_of_range`).
//!
//! Skipped rows (not events), by why: `descriptor row` (Age, Gender, Height, ICUType, and Weight
//! at minute 0: patient descriptors, -1 = missing), `weight` (later Weight rows), `lab parameter`
//! (pH, PaCO2, PaO2, HCT, K, Platelets, Creatinine, BUN, HCO3, Mg, Na, Glucose, WBC, Lactate,
//! Bilirubin, AST, ALT, ALP, Albumin, TroponinT, TroponinI, Cholesterol), `mean arterial pressure`
//! (MAP, NIMAP: not a NEWS2 input, derivable from systolic/diastolic), `urine output`, and
//! `unknown parameter`.

use super::observation::{
    Observed, Subject, acvpu_from_gcs, number, supplemental_oxygen_from_fio2, vital,
};
use super::table::{Table, Tally, field, text};
use super::{FileSummary, ReplayOptions};
use crate::error::{Error, Result};
use crate::source::SourceRecord;
use csv::ByteRecord;
use wardstream_schemas::time::{DAY_MS, MINUTE_MS};
use wardstream_schemas::{Millis, Reject, RejectReason, Stream, VitalCode};

/// The data set's folder.
pub const FOLDER: &str = "physionet-2012-icu-vitals";
/// The tenant of every event.
pub const TENANT: &str = "physionet-2012";
/// Stays spread over one year of admissions (set A has 4,000).
pub const STAYS: i64 = 4000;

const FILE: &str = "physionet-2012-icu-vitals/set-a_long.csv.gz";

/// What a parameter's row becomes.
#[derive(Clone, Copy)]
enum Param {
    Quantity(VitalCode, Option<&'static str>),
    Gcs,
    Fio2,
    MechVent,
    Skip(&'static str),
}

fn param(name: &[u8], elapsed: &[u8]) -> Param {
    use VitalCode::*;
    match name {
        b"HR" => Param::Quantity(HeartRate, None),
        b"RespRate" => Param::Quantity(RespiratoryRate, None),
        b"SaO2" => Param::Quantity(Sao2, None),
        b"Temp" => Param::Quantity(BodyTemperature, None),
        b"SysABP" => Param::Quantity(SystolicBp, Some("arterial-line")),
        b"NISysABP" => Param::Quantity(SystolicBp, Some("nibp-cuff")),
        b"DiasABP" => Param::Quantity(DiastolicBp, Some("arterial-line")),
        b"NIDiasABP" => Param::Quantity(DiastolicBp, Some("nibp-cuff")),
        b"GCS" => Param::Gcs,
        b"FiO2" => Param::Fio2,
        b"MechVent" => Param::MechVent,
        b"Age" | b"Gender" | b"Height" | b"ICUType" => Param::Skip("descriptor row"),
        b"Weight" if elapsed == b"0" => Param::Skip("descriptor row"),
        b"Weight" => Param::Skip("weight"),
        b"MAP" | b"NIMAP" => Param::Skip("mean arterial pressure"),
        b"Urine" => Param::Skip("urine output"),
        b"pH" | b"PaCO2" | b"PaO2" | b"HCT" | b"K" | b"Platelets" | b"Creatinine" | b"BUN"
        | b"HCO3" | b"Mg" | b"Na" | b"Glucose" | b"WBC" | b"Lactate" | b"Bilirubin" | b"AST"
        | b"ALT" | b"ALP" | b"Albumin" | b"TroponinT" | b"TroponinI" | b"Cholesterol" => {
            Param::Skip("lab parameter")
        }
        _ => Param::Skip("unknown parameter"),
    }
}

/// ICU admission of stay `i`: `anchor + ⌊i × 365 days / STAYS⌋` rounded down to the minute.
pub fn stay_admission(anchor: Millis, i: i64) -> Millis {
    anchor + (i * (365 * DAY_MS / MINUTE_MS) / STAYS) * MINUTE_MS
}

/// Replays set A into `out`.
pub(crate) fn load(opts: &ReplayOptions, out: &mut Vec<SourceRecord>) -> Result<Vec<FileSummary>> {
    let mut table = Table::open(&opts.data_dir, FILE)?;
    let [c_id, c_elapsed, c_param, c_value] =
        table.columns(["record_id", "elapsed_min", "parameter", "value"])?;
    let mut tally = Tally::new(table.file(), out);
    let mut rec = ByteRecord::new();
    let mut current: Option<u64> = None;
    let mut record_id = String::new();
    let mut stay = -1i64;
    let mut admitted: Millis = 0;
    while let Some(n) = table.next(&mut rec)? {
        tally.row();
        let Some(id) = field(&rec, c_id).and_then(|s| s.parse::<u64>().ok()) else {
            tally.malformed(Stream::Vitals, "record_id is not a number", n, &rec);
            continue;
        };
        if current != Some(id) {
            if current.is_some_and(|c| id < c) {
                return Err(Error::DataSet {
                    path: opts.data_dir.join(FILE),
                    detail: format!("record_id not ascending at data record {n}"),
                });
            }
            current = Some(id);
            stay += 1;
            admitted = stay_admission(opts.anchor, stay);
            record_id.clear();
            record_id.push_str(text(&rec, c_id));
        }
        let elapsed_bytes = rec.get(c_elapsed).unwrap_or(b"").trim_ascii();
        let what = param(rec.get(c_param).unwrap_or(b"").trim_ascii(), elapsed_bytes);
        if let Param::Skip(why) = what {
            tally.skip(why);
            continue;
        }
        let Some(elapsed) = field(&rec, c_elapsed).and_then(|s| s.parse::<i64>().ok()) else {
            tally.malformed(Stream::Vitals, "elapsed_min is not a whole number", n, &rec);
            continue;
        };
        let Some(value) = number(text(&rec, c_value)) else {
            tally.malformed(Stream::Vitals, "value is not a number", n, &rec);
            continue;
        };
        let time = admitted + elapsed * MINUTE_MS;
        let observed = match what {
            Param::Quantity(code, _) => Ok(Observed::Quantity(code, value)),
            Param::Gcs => acvpu_from_gcs(value).map(Observed::Consciousness),
            Param::Fio2 => supplemental_oxygen_from_fio2(value).map(Observed::SupplementalOxygen),
            Param::MechVent if value.0 == 1000 => Ok(Observed::SupplementalOxygen(true)),
            Param::MechVent if value.0 == 0 => {
                tally.skip("mechvent 0");
                continue;
            }
            Param::MechVent => Err(Reject::new(
                RejectReason::ValueOutOfRange,
                "MechVent is not 0 or 1",
            )),
            Param::Skip(_) => continue,
        };
        let device = match what {
            Param::Quantity(_, device) => device,
            _ => None,
        };
        match observed {
            Ok(observed) => {
                let who = Subject {
                    tenant: TENANT,
                    patient: &record_id,
                    encounter: &record_id,
                };
                tally.check(
                    vital(
                        format!("physionet-{record_id}-{n}"),
                        who,
                        time,
                        observed,
                        device,
                    ),
                    n,
                    &rec,
                );
            }
            Err(reject) => tally.reject(Stream::Vitals, reject, n, &rec, Some(time)),
        }
    }
    Ok(vec![tally.finish()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{DataSet, test_data_dir};
    use std::collections::{BTreeMap, HashMap};
    use wardstream_schemas::time::parse_rfc3339;
    use wardstream_schemas::{Acvpu, Event, Milli};

    #[test]
    fn stays_spread_over_a_year() {
        let a = parse_rfc3339("2025-01-01T00:00:00Z").expect("time");
        assert_eq!(stay_admission(a, 0), a);
        assert_eq!(stay_admission(a, 1), a + 131 * MINUTE_MS); // 131.4 min, rounded down
        assert_eq!(stay_admission(a, 5), a + 657 * MINUTE_MS);
        assert_eq!(stay_admission(a, 3999), a + 525_468 * MINUTE_MS); // 3999 × 131.4 = 525,468.6
    }

    /// Expected counts checked independently with Python's csv module over the same file:
    /// 1,753,980 rows; mapped parameters HR 228,538, SysABP 145,650, DiasABP 145,567, NISysABP
    /// 98,331, NIDiasABP 98,210, Temp 86,405 (129 outside 15–46 °C), RespRate 55,051, SaO2 8,185,
    /// GCS 61,563 (all whole numbers 3–15), FiO2 32,390 (all 0.21–1), MechVent 31,144 (all 1);
    /// 4,000 records.
    #[test]
    fn set_a_counts() {
        let opts = ReplayOptions {
            data_dir: test_data_dir(),
            data_sets: vec![DataSet::Physionet2012],
            ..ReplayOptions::default()
        };
        let mut out = Vec::new();
        let files = load(&opts, &mut out).expect("set A");
        let f = &files[0];
        assert_eq!(f.file, FILE);
        assert_eq!(f.rows, 1_753_980);
        let quantities =
            228_538 + 145_650 + 145_567 + 98_331 + 98_210 + (86_405 - 129) + 55_051 + 8_185;
        assert_eq!(f.events, quantities + 61_563 + 32_390 + 31_144);
        assert_eq!(
            f.rejected,
            BTreeMap::from([(RejectReason::ValueOutOfRange, 129)])
        );
        let skipped = |k: &str| f.skipped.get(k).copied().unwrap_or(0);
        assert_eq!(skipped("descriptor row"), 5 * 4_000);
        assert_eq!(skipped("weight"), 129_165 - 4_000);
        assert_eq!(skipped("mean arterial pressure"), 145_760 + 96_871);
        assert_eq!(skipped("urine output"), 136_918);
        let labs = 24_355
            + 23_293
            + 23_268
            + 18_271
            + 14_440
            + 14_104
            + 13_983
            + 13_916
            + 13_613
            + 13_590
            + 13_570
            + 13_021
            + 12_910
            + 8_024
            + 3_191
            + 3_182
            + 3_177
            + 3_092
            + 2_356
            + 2_126
            + 435
            + 315;
        assert_eq!(skipped("lab parameter"), labs);
        assert_eq!(f.rows, f.events + f.rejected_total() + f.skipped_total());

        // Every rejection is a temperature, with its raw row and origin.
        for r in out.iter().filter_map(|r| match r {
            SourceRecord::Rejected(r) => Some(r),
            SourceRecord::Event(_) => None,
        }) {
            assert!(
                String::from_utf8_lossy(&r.raw).contains(",Temp,"),
                "{:?}",
                r
            );
            assert!(
                r.origin
                    .starts_with("physionet-2012-icu-vitals/set-a_long.csv.gz:")
            );
        }

        // 54 of the 4,000 records have no vital sign at all (labs and descriptors only, e.g.
        // 132595, the 25th), yet every record takes its admission slot: 132597 (the 26th) is
        // stay 25, its first vital (GCS 15, data record 10,071) at minute 63; the last record,
        // 142673, is stay 3999 (first vital: DiasABP at minute 216, data record 1,753,185).
        let mut first_vital: HashMap<&str, (Millis, &str)> = HashMap::new();
        for r in &out {
            if let SourceRecord::Event(Event::VitalSign(v)) = r {
                first_vital
                    .entry(v.encounter_id.as_str())
                    .or_insert((v.event_time, v.event_id.as_str()));
            }
        }
        assert_eq!(first_vital.len(), 3_946);
        assert!(!first_vital.contains_key("132595"));
        assert_eq!(
            first_vital["132597"],
            (
                stay_admission(opts.anchor, 25) + 63 * MINUTE_MS,
                "physionet-132597-10071"
            )
        );
        assert_eq!(
            first_vital["142673"],
            (
                stay_admission(opts.anchor, 3999) + 216 * MINUTE_MS,
                "physionet-142673-1753185"
            )
        );

        // The first record (132539): GCS 15 at minute 7 is Alert; HR 73; NIBP by cuff.
        let first_time = opts.anchor + 7 * MINUTE_MS;
        let first: Vec<&wardstream_schemas::VitalSign> = out
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Event(Event::VitalSign(v))
                    if v.encounter_id == "132539" && v.event_time == first_time =>
                {
                    Some(v)
                }
                _ => None,
            })
            .collect();
        assert!(
            first
                .iter()
                .any(|v| v.consciousness == Some(Acvpu::A) && v.event_id == "physionet-132539-6")
        );
        assert!(first.iter().any(|v| v.code.as_deref() == Some("8867-4")
            && v.value == Some(Milli(73_000))
            && v.unit.as_deref() == Some("/min")));
        assert!(
            first.iter().any(|v| v.code.as_deref() == Some("8480-6")
                && v.device_id.as_deref() == Some("nibp-cuff"))
        );
    }
}
