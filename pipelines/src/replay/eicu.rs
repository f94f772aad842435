//! eICU Collaborative Research Database Demo v2.0.1 -> ADT and vitals, one tenant per hospital.
//!
//! Source: Johnson A., Pollard T., Badawi O., Raffa J., "eICU Collaborative Research Database
//! Demo" v2.0.1, PhysioNet 2021 (2,520 ICU unit stays at 186 US hospitals, 2014–2015). Tenant
//! `eicu-<hospitalid>`: each hospital is its own tenant, which is what multi-hospital views and
//! federated learning need.
//!
//! ## Time
//! eICU has no dates: every time is a minute offset from the stay's unit (ICU) admission, plus
//! the clock time of the hospital admission (`hospitaladmittime24`). So a hospital stay is
//! placed on day `patienthealthsystemstayid mod 365` after the anchor's day, at its clock time:
//! `hospital_admit = day(anchor) + (patienthealthsystemstayid % 365) days + hospitaladmittime24`;
//! and `unit_admit = hospital_admit − hospitaladmitoffset` minutes (`hospitaladmitoffset` is the
//! minutes from unit admission to hospital admission, usually negative). Unit stays of one
//! hospital stay keep their true spacing; different hospital stays of one patient do not.
//!
//! ## `patient.csv.gz` -> [`Adt`]
//! Each unit stay (row) is one encounter: `encounter_id` = `patientunitstayid`, `patient_id` =
//! `uniquepid`.
//! - `admit` into `unittype` (`Med-Surg ICU`, `MICU`, …) at `unit_admit`, event id
//!   `eicu-adt-<patientunitstayid>-admit`;
//! - `discharge` with `from_care_unit` = `unittype` at `unit_admit + unitdischargeoffset`
//!   minutes, event id `eicu-adt-<patientunitstayid>-discharge`.
//!
//! A row whose stay times cannot be read is one `malformed` dead letter, and its stay is
//! unknown to the vitals below; an empty `hospitalid` is `missing_id`.
//!
//! ## `vitalAperiodic.csv.gz` -> [`VitalSign`](wardstream_schemas::VitalSign) (cuff BP)
//! At `unit_admit + observationoffset` minutes, device `nibp-cuff`:
//! `noninvasivesystolic` -> 8480-6 `mm[Hg]` (id `eicu-vap-<vitalaperiodicid>-sys`),
//! `noninvasivediastolic` -> 8462-4 `mm[Hg]` (id `eicu-vap-<vitalaperiodicid>-dia`). An empty
//! cell is no event (skipped `empty noninvasivesystolic` / `empty noninvasivediastolic`); the
//! other columns (mean, PAOP, cardiac output, SVR, PVR) are not vitals we carry.
//!
//! ## `respiratoryCharting.csv.gz` -> [`VitalSign`](wardstream_schemas::VitalSign)
//! At `unit_admit + respchartoffset` minutes (the charted time, not the entry time), id
//! `eicu-rc-<respchartid>`, by `respchartvaluelabel`:
//! - `RR (patient)`, `Total RR` -> 9279-1 respiratory rate `/min`;
//! - `SaO2` -> 2708-6 `%` (as charted by respiratory therapists);
//! - `FiO2` -> supplemental_oxygen = FiO2 > 21 % (a value ≤ 1 is a fraction); FiO2 below 21 %
//!   or above 100 % is `value_out_of_range` (162 rows in the demo, mostly `2`, `3`, `4`: oxygen
//!   flow in L/min typed into the FiO2 field, which must not read as "on air");
//! - other labels (PEEP, tidal volume, vent settings, `LPM O2`, …) are skipped (`other label`).
//!
//! Values are numbers; a trailing `%` is accepted for FiO2 and SaO2 (the demo has 56 FiO2
//! values such as `60%`); anything else non-numeric is `malformed`. Impossible values (e.g.
//! `RR (patient)` 340) are rejected by the schemas' validation.
//!
//! A vitals row whose `patientunitstayid` is not a stay read from `patient.csv.gz` is a
//! `missing_id` dead letter: without the stay there is no tenant, patient or time, i.e. the
//! identifiers the event requires are missing (none in the demo).

use super::observation::{Observed, Subject, number, supplemental_oxygen_from_fio2, vital};
use super::table::{Table, Tally, field, text};
use super::{FileSummary, ReplayOptions};
use crate::error::Result;
use crate::source::SourceRecord;
use chrono::{NaiveTime, Timelike};
use csv::ByteRecord;
use std::collections::HashMap;
use wardstream_schemas::time::{DAY_MS, MINUTE_MS, day_start};
use wardstream_schemas::{
    Adt, AdtKind, Event, Millis, Reject, RejectReason, SCHEMA_VERSION, Stream, VitalCode,
};

/// The data set's folder.
pub const FOLDER: &str = "eicu-demo";
/// Tenants are this prefix and the `hospitalid`, e.g. `eicu-73`.
pub const TENANT_PREFIX: &str = "eicu-";

/// What the vitals tables need of a unit stay.
struct Stay {
    unit_admit: Millis,
    tenant: String,
    patient: String,
}

/// Unit admission of a stay (see the module docs).
pub fn unit_admission(
    anchor: Millis,
    health_system_stay: u64,
    hospital_admit_clock: Millis,
    hospital_admit_offset_min: i64,
) -> Millis {
    day_start(anchor) + (health_system_stay % 365) as i64 * DAY_MS + hospital_admit_clock
        - hospital_admit_offset_min * MINUTE_MS
}

/// Replays the eICU demo into `out`.
pub(crate) fn load(opts: &ReplayOptions, out: &mut Vec<SourceRecord>) -> Result<Vec<FileSummary>> {
    let mut stays = HashMap::new();
    let patients = load_patients(opts, out, &mut stays)?;
    let bp = load_vital_aperiodic(opts, out, &stays)?;
    let resp = load_respiratory_charting(opts, out, &stays)?;
    Ok(vec![patients, bp, resp])
}

fn clock(s: &str) -> Option<Millis> {
    NaiveTime::parse_from_str(s, "%H:%M:%S")
        .ok()
        .map(|t| i64::from(t.num_seconds_from_midnight()) * 1000)
}

fn load_patients(
    opts: &ReplayOptions,
    out: &mut Vec<SourceRecord>,
    stays: &mut HashMap<String, Stay>,
) -> Result<FileSummary> {
    let mut table = Table::open(&opts.data_dir, "eicu-demo/patient.csv.gz")?;
    let [
        c_stay,
        c_hss,
        c_hospital,
        c_clock,
        c_offset,
        c_unit,
        c_dis,
        c_pid,
    ] = table.columns([
        "patientunitstayid",
        "patienthealthsystemstayid",
        "hospitalid",
        "hospitaladmittime24",
        "hospitaladmitoffset",
        "unittype",
        "unitdischargeoffset",
        "uniquepid",
    ])?;
    let mut tally = Tally::new(table.file(), out);
    let mut rec = ByteRecord::new();
    while let Some(n) = table.next(&mut rec)? {
        tally.row();
        let hospital = text(&rec, c_hospital);
        if hospital.is_empty() {
            tally.reject(
                Stream::Adt,
                Reject::new(RejectReason::MissingId, "hospitalid is empty"),
                n,
                &rec,
                None,
            );
            continue;
        }
        let Some(hss) = field(&rec, c_hss).and_then(|s| s.parse::<u64>().ok()) else {
            tally.malformed(
                Stream::Adt,
                "patienthealthsystemstayid is not a number",
                n,
                &rec,
            );
            continue;
        };
        let Some(admit_clock) = field(&rec, c_clock).and_then(clock) else {
            tally.malformed(Stream::Adt, "hospitaladmittime24 is not HH:MM:SS", n, &rec);
            continue;
        };
        let Some(offset) = field(&rec, c_offset).and_then(|s| s.parse::<i64>().ok()) else {
            tally.malformed(
                Stream::Adt,
                "hospitaladmitoffset is not a whole number",
                n,
                &rec,
            );
            continue;
        };
        let unit_admit = unit_admission(opts.anchor, hss, admit_clock, offset);
        let stay_id = text(&rec, c_stay);
        let unit = text(&rec, c_unit);
        let tenant = format!("{TENANT_PREFIX}{hospital}");
        let patient = text(&rec, c_pid);
        let adt = |kind: AdtKind, time: Millis| {
            let (care_unit, from_care_unit) = match kind {
                AdtKind::Discharge => (None, Some(unit.to_owned())),
                _ => (Some(unit.to_owned()), None),
            };
            Event::Adt(Adt {
                event_id: format!("eicu-adt-{stay_id}-{}", kind.as_str()),
                tenant_id: tenant.clone(),
                event_time: time,
                schema_version: SCHEMA_VERSION,
                kind,
                patient_id: patient.to_owned(),
                encounter_id: stay_id.to_owned(),
                care_unit,
                bed: None,
                from_care_unit,
                from_bed: None,
            })
        };
        let admit = adt(AdtKind::Admit, unit_admit);
        let discharge = field(&rec, c_dis)
            .and_then(|s| s.parse::<i64>().ok())
            .map(|d| adt(AdtKind::Discharge, unit_admit + d * MINUTE_MS));
        tally.check(admit, n, &rec);
        match discharge {
            Some(discharge) => tally.check(discharge, n, &rec),
            None => tally.malformed(
                Stream::Adt,
                "unitdischargeoffset is not a whole number",
                n,
                &rec,
            ),
        }
        if !stay_id.is_empty() {
            stays.insert(
                stay_id.to_owned(),
                Stay {
                    unit_admit,
                    tenant,
                    patient: patient.to_owned(),
                },
            );
        }
    }
    Ok(tally.finish())
}

/// The stay of a vitals row, or a `missing_id` dead letter.
fn stay_of<'s>(
    stays: &'s HashMap<String, Stay>,
    id: &str,
    tally: &mut Tally<'_>,
    n: u64,
    rec: &ByteRecord,
) -> Option<&'s Stay> {
    let stay = stays.get(id);
    if stay.is_none() {
        let reject = Reject::new(
            RejectReason::MissingId,
            "patientunitstayid is not a stay in patient.csv.gz",
        );
        tally.reject(Stream::Vitals, reject, n, rec, None);
    }
    stay
}

fn load_vital_aperiodic(
    opts: &ReplayOptions,
    out: &mut Vec<SourceRecord>,
    stays: &HashMap<String, Stay>,
) -> Result<FileSummary> {
    let mut table = Table::open(&opts.data_dir, "eicu-demo/vitalAperiodic.csv.gz")?;
    let [c_id, c_stay, c_offset, c_sys, c_dia] = table.columns([
        "vitalaperiodicid",
        "patientunitstayid",
        "observationoffset",
        "noninvasivesystolic",
        "noninvasivediastolic",
    ])?;
    let mut tally = Tally::new(table.file(), out);
    let mut rec = ByteRecord::new();
    let cells = [
        (
            c_sys,
            VitalCode::SystolicBp,
            "sys",
            "empty noninvasivesystolic",
            "noninvasivesystolic is not a number",
        ),
        (
            c_dia,
            VitalCode::DiastolicBp,
            "dia",
            "empty noninvasivediastolic",
            "noninvasivediastolic is not a number",
        ),
    ];
    while let Some(n) = table.next(&mut rec)? {
        tally.row();
        let mut any = false;
        for &(c, _, _, empty, _) in &cells {
            if text(&rec, c).is_empty() {
                tally.skip(empty);
            } else {
                any = true;
            }
        }
        if !any {
            continue;
        }
        let stay_id = text(&rec, c_stay);
        let Some(stay) = stay_of(stays, stay_id, &mut tally, n, &rec) else {
            continue;
        };
        let Some(offset) = field(&rec, c_offset).and_then(|s| s.parse::<i64>().ok()) else {
            tally.malformed(
                Stream::Vitals,
                "observationoffset is not a whole number",
                n,
                &rec,
            );
            continue;
        };
        let time = stay.unit_admit + offset * MINUTE_MS;
        let who = Subject {
            tenant: &stay.tenant,
            patient: &stay.patient,
            encounter: stay_id,
        };
        let id = text(&rec, c_id);
        for &(c, code, suffix, _, bad) in &cells {
            let cell = text(&rec, c);
            if cell.is_empty() {
                continue;
            }
            match number(cell) {
                Some(v) => {
                    let event = vital(
                        format!("eicu-vap-{id}-{suffix}"),
                        who,
                        time,
                        Observed::Quantity(code, v),
                        Some("nibp-cuff"),
                    );
                    tally.check(event, n, &rec);
                }
                None => tally.malformed(Stream::Vitals, bad, n, &rec),
            }
        }
    }
    Ok(tally.finish())
}

/// What a respiratory-charting label becomes.
#[derive(Clone, Copy)]
enum Label {
    RespRate,
    Sao2,
    Fio2,
}

fn load_respiratory_charting(
    opts: &ReplayOptions,
    out: &mut Vec<SourceRecord>,
    stays: &HashMap<String, Stay>,
) -> Result<FileSummary> {
    let mut table = Table::open(&opts.data_dir, "eicu-demo/respiratoryCharting.csv.gz")?;
    let [c_id, c_stay, c_offset, c_label, c_value] = table.columns([
        "respchartid",
        "patientunitstayid",
        "respchartoffset",
        "respchartvaluelabel",
        "respchartvalue",
    ])?;
    let mut tally = Tally::new(table.file(), out);
    let mut rec = ByteRecord::new();
    while let Some(n) = table.next(&mut rec)? {
        tally.row();
        let label = match text(&rec, c_label) {
            "RR (patient)" | "Total RR" => Label::RespRate,
            "SaO2" => Label::Sao2,
            "FiO2" => Label::Fio2,
            _ => {
                tally.skip("other label");
                continue;
            }
        };
        let stay_id = text(&rec, c_stay);
        let Some(stay) = stay_of(stays, stay_id, &mut tally, n, &rec) else {
            continue;
        };
        let Some(offset) = field(&rec, c_offset).and_then(|s| s.parse::<i64>().ok()) else {
            tally.malformed(
                Stream::Vitals,
                "respchartoffset is not a whole number",
                n,
                &rec,
            );
            continue;
        };
        let raw_value = text(&rec, c_value);
        let value = match label {
            Label::RespRate => number(raw_value),
            Label::Sao2 | Label::Fio2 => number(raw_value.strip_suffix('%').unwrap_or(raw_value)),
        };
        let Some(value) = value else {
            tally.malformed(Stream::Vitals, "respchartvalue is not a number", n, &rec);
            continue;
        };
        let time = stay.unit_admit + offset * MINUTE_MS;
        let observed = match label {
            Label::RespRate => Observed::Quantity(VitalCode::RespiratoryRate, value),
            Label::Sao2 => Observed::Quantity(VitalCode::Sao2, value),
            Label::Fio2 => match supplemental_oxygen_from_fio2(value) {
                Ok(on) => Observed::SupplementalOxygen(on),
                Err(reject) => {
                    tally.reject(Stream::Vitals, reject, n, &rec, Some(time));
                    continue;
                }
            },
        };
        let who = Subject {
            tenant: &stay.tenant,
            patient: &stay.patient,
            encounter: stay_id,
        };
        tally.check(
            vital(
                format!("eicu-rc-{}", text(&rec, c_id)),
                who,
                time,
                observed,
                None,
            ),
            n,
            &rec,
        );
    }
    Ok(tally.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replay::{DataSet, test_data_dir};
    use std::collections::{BTreeMap, BTreeSet};
    use wardstream_schemas::time::parse_rfc3339;

    fn replay() -> (Vec<FileSummary>, Vec<SourceRecord>) {
        let opts = ReplayOptions {
            data_dir: test_data_dir(),
            data_sets: vec![DataSet::EicuDemo],
            ..ReplayOptions::default()
        };
        let mut out = Vec::new();
        let files = load(&opts, &mut out).expect("eICU demo");
        (files, out)
    }

    #[test]
    fn unit_admission_from_offsets() {
        let anchor = parse_rfc3339("2025-01-01T00:00:00Z").expect("time");
        // Stay 141765 (health-system stay 129391, admitted 23:36, offset -8): unit admit 23:44
        // on day 129391 % 365 = 181.
        let t = unit_admission(anchor, 129_391, clock("23:36:00").expect("clock"), -8);
        assert_eq!(t, parse_rfc3339("2025-07-01T23:44:00Z").expect("time"));
    }

    /// Expected numbers checked independently with Python's csv module: 2,520 stays at 186
    /// hospitals; vitalAperiodic 274,088 rows, 241,808 systolic and 241,823 diastolic values (all
    /// in range), 32,280 / 32,265 empty cells; respiratoryCharting 176,089 rows, RR (patient)
    /// 22,210 (8 above 120 /min), Total RR 9,843 (1 above), SaO2 3,672, FiO2 27,432 (162 below
    /// 21 % once `%` is stripped and fractions scaled); every stay id resolves.
    #[test]
    fn demo_counts() {
        let (files, out) = replay();
        let [patients, bp, resp] = &files[..] else {
            panic!("three files")
        };
        assert_eq!(
            (patients.rows, patients.events, patients.rejected_total()),
            (2_520, 5_040, 0)
        );
        assert_eq!(
            (bp.rows, bp.events, bp.rejected_total()),
            (274_088, 241_808 + 241_823, 0)
        );
        assert_eq!(
            bp.skipped,
            BTreeMap::from([
                ("empty noninvasivediastolic".to_owned(), 32_265),
                ("empty noninvasivesystolic".to_owned(), 32_280)
            ])
        );
        assert_eq!(resp.rows, 176_089);
        assert_eq!(
            resp.events,
            (22_210 - 8) + (9_843 - 1) + 3_672 + (27_432 - 162)
        );
        assert_eq!(
            resp.rejected,
            BTreeMap::from([(RejectReason::ValueOutOfRange, 8 + 1 + 162)])
        );
        assert_eq!(
            resp.skipped,
            BTreeMap::from([(
                "other label".to_owned(),
                176_089 - 22_210 - 9_843 - 3_672 - 27_432
            )])
        );

        let tenants: BTreeSet<&str> = out
            .iter()
            .filter_map(|r| match r {
                SourceRecord::Event(e) => Some(e.tenant_id()),
                SourceRecord::Rejected(_) => None,
            })
            .collect();
        assert_eq!(tenants.len(), 186);
        assert!(tenants.iter().all(|t| t.starts_with(TENANT_PREFIX)));
    }

    #[test]
    fn stays_are_admitted_then_discharged_and_vitals_follow_their_stay() {
        let (_, out) = replay();
        let mut census: BTreeMap<&str, i64> = BTreeMap::new();
        let mut admits = BTreeMap::new();
        for r in &out {
            if let SourceRecord::Event(Event::Adt(a)) = r {
                *census.entry(a.encounter_id.as_str()).or_default() +=
                    if a.kind == AdtKind::Admit { 1 } else { -1 };
                if a.kind == AdtKind::Admit {
                    admits.insert(
                        a.encounter_id.as_str(),
                        (a.event_time, a.tenant_id.as_str(), a.patient_id.as_str()),
                    );
                }
            }
        }
        assert_eq!(census.len(), 2_520);
        assert!(census.values().all(|&c| c == 0));
        // Stay 141764: Med-Surg ICU at hospital 59, patient 002-1039, discharged 344 min later.
        let (t, tenant, patient) = admits["141764"];
        assert_eq!((tenant, patient), ("eicu-59", "002-1039"));
        let discharge = out.iter().find_map(|r| match r {
            SourceRecord::Event(Event::Adt(a)) if a.event_id == "eicu-adt-141764-discharge" => {
                Some(a)
            }
            _ => None,
        });
        let discharge = discharge.expect("discharge of 141764");
        assert_eq!(discharge.event_time, t + 344 * MINUTE_MS);
        assert_eq!(discharge.from_care_unit.as_deref(), Some("Med-Surg ICU"));
        // Its first cuff reading (id 3661418, offset 81: 171/90).
        let sys = out.iter().find_map(|r| match r {
            SourceRecord::Event(Event::VitalSign(v)) if v.event_id == "eicu-vap-3661418-sys" => {
                Some(v)
            }
            _ => None,
        });
        let sys = sys.expect("systolic 3661418");
        assert_eq!(
            (
                sys.event_time,
                sys.tenant_id.as_str(),
                sys.encounter_id.as_str()
            ),
            (t + 81 * MINUTE_MS, "eicu-59", "141764")
        );
        assert_eq!(
            (sys.code.as_deref(), sys.value.map(|v| v.round_whole())),
            (Some("8480-6"), Some(171))
        );
        // Every vital's tenant and patient are its stay's.
        for r in &out {
            if let SourceRecord::Event(Event::VitalSign(v)) = r {
                let (_, tenant, patient) = admits[v.encounter_id.as_str()];
                assert_eq!(
                    (v.tenant_id.as_str(), v.patient_id.as_str()),
                    (tenant, patient)
                );
            }
        }
    }
}
