//! Unit tests of the calibrate module, kept apart from its code.

use super::*;
use crate::scenario::{CareUnit, Duration, ScenarioFile};
use std::path::Path;
use wardstream_schemas::AdtKind;

const T: &str = "t";
const ED: &str = "Emergency Department";
const MICU: &str = "Medical Intensive Care Unit (MICU)";
const MS: &str = "Med/Surg";

fn ev(
    tenant: &str,
    id: &str,
    enc: &str,
    kind: AdtKind,
    hour: f64,
    unit: Option<&str>,
    from: Option<&str>,
) -> Adt {
    Adt {
        event_id: id.into(),
        tenant_id: tenant.into(),
        event_time: (hour * HOUR_MS as f64) as Millis,
        schema_version: 1,
        kind,
        patient_id: format!("p-{enc}"),
        encounter_id: enc.into(),
        care_unit: unit.map(Into::into),
        bed: None,
        from_care_unit: from.map(Into::into),
        from_bed: None,
    }
}

fn admit(enc: &str, n: u32, h: f64, unit: &str) -> Adt {
    ev(
        T,
        &format!("{enc}-{n}"),
        enc,
        AdtKind::Admit,
        h,
        Some(unit),
        None,
    )
}
fn transfer(enc: &str, n: u32, h: f64, from: &str, to: &str) -> Adt {
    ev(
        T,
        &format!("{enc}-{n}"),
        enc,
        AdtKind::Transfer,
        h,
        Some(to),
        Some(from),
    )
}
fn discharge(enc: &str, n: u32, h: f64, from: &str) -> Adt {
    ev(
        T,
        &format!("{enc}-{n}"),
        enc,
        AdtKind::Discharge,
        h,
        None,
        Some(from),
    )
}

/// Hours from 1970-01-01 00:00 UTC. Stays (h):
/// e1 ED 8–12, MICU 12–60, Med/Surg 60–156; e2 ED 30–32, MICU 32–56; e3 Med/Surg 34–106;
/// e4 ED 9–10 (ED only); e5 MICU 100–110, ED 110–112, Med/Surg 112–130; e6 malformed;
/// e7 Med/Surg 200–220 with a bed move at 210 and an ED trip 214–216.
fn events() -> Vec<Adt> {
    vec![
        admit("e1", 1, 8.0, ED),
        transfer("e1", 2, 12.0, ED, MICU),
        transfer("e1", 3, 60.0, MICU, MS),
        discharge("e1", 4, 156.0, MS),
        admit("e2", 1, 30.0, ED),
        transfer("e2", 2, 32.0, ED, MICU),
        discharge("e2", 3, 56.0, MICU),
        admit("e3", 1, 34.0, MS),
        discharge("e3", 2, 106.0, MS),
        admit("e4", 1, 9.0, ED),
        discharge("e4", 2, 10.0, ED),
        admit("e5", 1, 100.0, MICU),
        transfer("e5", 2, 110.0, MICU, ED),
        transfer("e5", 3, 112.0, ED, MS),
        discharge("e5", 4, 130.0, MS),
        transfer("e6", 1, 50.0, MS, MICU),
        admit("e7", 1, 200.0, MS),
        transfer("e7", 2, 210.0, MS, MS),
        transfer("e7", 3, 214.0, MS, ED),
        transfer("e7", 4, 216.0, ED, MS),
        discharge("e7", 5, 220.0, MS),
        // Another tenant: two ICU unit stays (30 h, 12 h) and a ward stay.
        ev(
            "eicu-1",
            "x1",
            "s1",
            AdtKind::Admit,
            0.0,
            Some("Med-Surg ICU"),
            None,
        ),
        ev(
            "eicu-1",
            "x2",
            "s1",
            AdtKind::Discharge,
            30.0,
            None,
            Some("Med-Surg ICU"),
        ),
        ev(
            "eicu-2",
            "y1",
            "s2",
            AdtKind::Admit,
            5.0,
            Some("CCU-CTICU"),
            None,
        ),
        ev(
            "eicu-2",
            "y2",
            "s2",
            AdtKind::Discharge,
            17.0,
            None,
            Some("CCU-CTICU"),
        ),
        ev(
            "eicu-2",
            "y3",
            "s3",
            AdtKind::Admit,
            5.0,
            Some("Floor"),
            None,
        ),
        ev(
            "eicu-2",
            "y4",
            "s3",
            AdtKind::Discharge,
            500.0,
            None,
            Some("Floor"),
        ),
    ]
}

fn opts(min_stays: usize, pool_icu_los: bool) -> CalibrationOptions {
    CalibrationOptions {
        tenant: T.into(),
        pool_icu_los,
        min_stays,
    }
}

fn mean_ln(hours: &[f64]) -> f64 {
    hours.iter().map(|h| h.ln()).sum::<f64>() / hours.len() as f64
}

fn lognormal(u: &CareUnit) -> (f64, f64) {
    match u.los {
        Duration::Lognormal { mu, sigma } => (mu, sigma),
        ref other => panic!("not lognormal: {other:?}"),
    }
}

fn unit<'a>(h: &'a Hospital, name: &str) -> &'a CareUnit {
    &h.units[h.unit_index(name).expect("unit exists")]
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[test]
fn units_routing_los_and_beds() {
    let c = calibrate(&events(), &opts(1, false)).expect("calibrates");
    let h = &c.hospital;
    h.validate().expect("validates");
    assert_eq!(h.name, "calibrated from t");
    let names: Vec<&str> = h.units.iter().map(|u| u.name.as_str()).collect();
    assert_eq!(names, [MS, MICU]); // ED excluded, name order
    let micu = unit(h, MICU);
    let ms = unit(h, MS);
    assert_eq!(micu.kind, UnitKind::Icu);
    assert_eq!(ms.kind, UnitKind::MedSurg);
    // MICU departures: e1 -> Med/Surg, e2 -> discharge, e5 -> (ED skipped) -> Med/Surg.
    assert_eq!(micu.routing.len(), 1);
    assert_eq!(micu.routing[0].to, MS);
    assert!(close(micu.routing[0].p, 2.0 / 3.0));
    assert!(ms.routing.is_empty()); // all four Med/Surg stays end in discharge
    // LOS: lognormal MLE over the hand-made stays (e7's bed move and ED trip merged).
    let (mu, sigma) = lognormal(micu);
    let micu_h = [48.0, 24.0, 10.0];
    assert!(close(mu, mean_ln(&micu_h)));
    let var = micu_h
        .iter()
        .map(|x: &f64| (x.ln() - mu).powi(2))
        .sum::<f64>()
        / 3.0;
    assert!(close(sigma, var.sqrt()));
    let (mu, _) = lognormal(ms);
    assert!(close(mu, mean_ln(&[96.0, 72.0, 18.0, 20.0])));
    // Peak census: MICU e1 12–60 with e2 32–56; Med/Surg e1 60–156 with e3 or e5.
    assert_eq!(micu.beds, 2);
    assert_eq!(ms.beds, 2);
    assert!(h.units.iter().all(|u| u.initial_census == 0));
    let skipped = c
        .report
        .iter()
        .find(|l| l.parameter == "data.encounters")
        .expect("line");
    assert_eq!(skipped.value, "6 used, 1 skipped");
    assert!(skipped.source.contains("transfer before the admit"));
}

#[test]
fn arrivals_ed_and_discharge_hours() {
    let c = calibrate(&events(), &opts(1, false)).expect("calibrates");
    let h = &c.hospital;
    let days = (220.0 - 8.0) / 24.0;
    let ed = &h.arrivals[0];
    assert_eq!((ed.name.as_str(), ed.kind), ("ed", ArrivalKind::Ed));
    let mut want = vec![0.0; 24];
    for hour in [8, 6, 9] {
        want[hour] += 1.0 / days; // e1, e2, e4
    }
    assert_eq!(ed.per_hour, want);
    let direct = &h.arrivals[1];
    assert_eq!(
        (direct.name.as_str(), direct.kind),
        ("direct", ArrivalKind::Direct)
    );
    let mut want = vec![0.0; 24];
    for hour in [10, 4, 8] {
        want[hour] += 1.0 / days; // e3, e5, e7
    }
    assert_eq!(direct.per_hour, want);
    let to: Vec<(&str, f64)> = direct.to.iter().map(|r| (r.to.as_str(), r.p)).collect();
    assert_eq!(to, [(MS, 2.0 / 3.0), (MICU, 1.0 / 3.0)]);

    let e = h.ed.as_ref().expect("ed");
    assert_eq!(e.admit_probability, vec![2.0 / 3.0; 5]); // e1, e2 of e1, e2, e4
    assert_eq!(e.acuity, ASSUMED_ESI_SHARES.to_vec());
    assert_eq!(
        e.admit_to,
        [Route {
            to: MICU.into(),
            p: 1.0
        }]
    );
    assert_eq!(e.bays, 2); // e1 8–12 with e4 9–10
    assert_eq!(e.patience, None);
    assert_eq!(e.diversion_queue, None);
    match e.treatment {
        Duration::Lognormal { mu, .. } => assert!(close(mu, mean_ln(&[4.0, 2.0, 1.0]))),
        ref other => panic!("{other:?}"),
    }
    let acuity = c
        .report
        .iter()
        .find(|l| l.parameter == "ed.acuity")
        .expect("line");
    assert!(acuity.source.contains("ASSUMED"));
    assert_eq!(acuity.n, 0);

    // Discharges from inpatient units at 156 h (12:00), 56 (08), 106 (10), 130 (10),
    // 220 (04); e4 left from the ED and does not count.
    let mut want = vec![0.0; 24];
    for hour in [12, 8, 10, 10, 4] {
        want[hour] += 1.0;
    }
    assert_eq!(h.discharge_hour, want);
}

#[test]
fn small_units_pool_by_kind_then_all_and_icu_pools_other_tenants() {
    // min_stays 5: MICU has 3 own + 2 eICU ICU stays = 5, enough; Med/Surg has 4, no
    // other med-surg unit, so all units (7 stays, no eICU: it is not an ICU unit).
    let c = calibrate(&events(), &opts(5, true)).expect("calibrates");
    let h = &c.hospital;
    let (mu, _) = lognormal(unit(h, MICU));
    assert!(close(mu, mean_ln(&[48.0, 24.0, 10.0, 30.0, 12.0])));
    assert!(
        unit(h, MICU)
            .estimate
            .as_ref()
            .expect("estimate")
            .source
            .contains("+ 2 ICU unit stays from 2 other tenants")
    );
    let (mu, _) = lognormal(unit(h, MS));
    assert!(close(
        mu,
        mean_ln(&[96.0, 72.0, 18.0, 20.0, 48.0, 24.0, 10.0])
    ));
    let src = &unit(h, MS).estimate.as_ref().expect("estimate").source;
    assert!(
        src.contains("stays in all 2 inpatient units of t; pooled because"),
        "{src}"
    );

    // Without ICU pooling MICU's 3 stays are too few as well.
    let c = calibrate(&events(), &opts(5, false)).expect("calibrates");
    let (mu, _) = lognormal(unit(&c.hospital, MICU));
    assert!(close(
        mu,
        mean_ln(&[96.0, 72.0, 18.0, 20.0, 48.0, 24.0, 10.0])
    ));
}

#[test]
fn commented_toml_round_trips() {
    let c = calibrate(
        &events(),
        &CalibrationOptions {
            tenant: T.into(),
            ..CalibrationOptions::default()
        },
    )
    .expect("calibrates");
    let text = to_commented_toml(&c, "wardstream twin calibrate\nfrom test events").expect("toml");
    assert!(text.starts_with("# wardstream twin calibrate\n# from test events\n"));
    let comments = text.lines().take_while(|l| l.starts_with('#')).count();
    assert!(comments >= c.report.len() + ASSUMPTIONS.len());
    assert!(text.contains("ed.acuity"));
    let file = ScenarioFile::parse(&text, Path::new("calibrated.toml")).expect("parses");
    assert_eq!(file.hospital.as_ref(), Some(&c.hospital));
}

#[test]
fn order_of_events_does_not_matter() {
    let mut shuffled = events();
    shuffled.reverse();
    shuffled.rotate_left(7);
    let a = calibrate(&events(), &opts(3, true)).expect("calibrates");
    let b = calibrate(&shuffled, &opts(3, true)).expect("calibrates");
    assert_eq!(a, b);
}

#[test]
fn resent_events_replace_earlier_versions() {
    let mut evs = events();
    // e3 re-sent: discharged at 58 h (24:00 + 10 h) instead of 106 h.
    evs.push(discharge("e3", 2, 58.0, MS));
    let c = calibrate(&evs, &opts(1, false)).expect("calibrates");
    let (mu, _) = lognormal(unit(&c.hospital, MS));
    assert!(close(mu, mean_ln(&[96.0, 24.0, 18.0, 20.0])));
}

#[test]
fn too_little_data_is_a_calibration_error() {
    let err = calibrate(
        &events(),
        &CalibrationOptions {
            tenant: "nobody".into(),
            ..CalibrationOptions::default()
        },
    );
    assert!(matches!(err, Err(Error::Calibration(m)) if m.contains("no ADT events")));
    let ed_only = [admit("a", 1, 1.0, ED), discharge("a", 2, 3.0, ED)];
    let err = calibrate(&ed_only, &opts(1, true));
    assert!(matches!(err, Err(Error::Calibration(m)) if m.contains("no inpatient")));
    let open = [admit("a", 1, 1.0, MS)];
    let err = calibrate(&open, &opts(1, true));
    assert!(matches!(err, Err(Error::Calibration(m)) if m.contains("no completed")));
}

#[test]
fn malformed_sequences_are_skipped_not_fatal() {
    let evs = [
        admit("ok", 1, 0.0, MS),
        discharge("ok", 2, 5.0, MS),
        admit("twice", 1, 0.0, MS),
        admit("twice", 2, 1.0, MICU),
        admit("after", 1, 0.0, MS),
        discharge("after", 2, 1.0, MS),
        transfer("after", 3, 2.0, MS, MICU),
        admit("wrong-from", 1, 0.0, MS),
        transfer("wrong-from", 2, 1.0, MICU, ED),
        ev(T, "blank", "blank", AdtKind::Admit, 0.0, Some("  "), None),
    ];
    let c = calibrate(&evs, &opts(1, false)).expect("calibrates");
    assert_eq!(c.hospital.units.len(), 1);
    let l = c
        .report
        .iter()
        .find(|l| l.parameter == "data.encounters")
        .expect("line");
    assert_eq!(l.value, "1 used, 4 skipped");
}

#[test]
fn simultaneous_transfers_chain_in_either_id_order() {
    // Two transfers at 10 h whose ids sort against the movement (z before y).
    let evs = [
        admit("c", 1, 0.0, MS),
        ev(T, "c-z", "c", AdtKind::Transfer, 10.0, Some(MICU), Some(MS)),
        ev(
            T,
            "c-y",
            "c",
            AdtKind::Transfer,
            10.0,
            Some("Neuro Stepdown"),
            Some(MICU),
        ),
        discharge("c", 9, 20.0, "Neuro Stepdown"),
    ];
    let c = calibrate(&evs, &opts(1, false)).expect("calibrates");
    let h = &c.hospital;
    assert_eq!(h.units.len(), 3);
    assert_eq!(unit(h, "Neuro Stepdown").kind, UnitKind::StepDown);
    assert_eq!(
        unit(h, MS).routing,
        [Route {
            to: MICU.into(),
            p: 1.0
        }]
    );
    // The 0 h MICU stay is left out of its fit, which falls back to all units.
    let micu_los = c
        .report
        .iter()
        .find(|l| l.parameter == format!("units[{MICU:?}].los"))
        .expect("line");
    assert!(
        micu_los.source.contains("1 stays of 0 h"),
        "{}",
        micu_los.source
    );
    assert!(
        micu_los
            .source
            .contains("the 2 completed stays in all 3 inpatient units")
    );
}

#[test]
fn unit_kinds_of_the_real_data_sets() {
    use UnitKind::*;
    let cases = [
        ("Medical Intensive Care Unit (MICU)", Icu),
        ("Surgical Intensive Care Unit (SICU)", Icu),
        ("Medical/Surgical Intensive Care Unit (MICU/SICU)", Icu),
        ("Cardiac Vascular Intensive Care Unit (CVICU)", Icu),
        ("Trauma SICU (TSICU)", Icu),
        ("Coronary Care Unit (CCU)", Icu),
        ("Neuro Surgical Intensive Care Unit (Neuro SICU)", Icu),
        ("Med-Surg ICU", Icu),
        ("MICU", Icu),
        ("CCU-CTICU", Icu),
        ("CSICU", Icu),
        ("Neuro ICU", Icu),
        ("Neonatal Intensive Care Unit (NICU)", Icu),
        ("Emergency Department", Ed),
        ("Emergency Department Observation", Ed),
        ("ED", Ed),
        ("PACU", Pacu),
        ("Neuro Stepdown", StepDown),
        ("Hematology/Oncology Intermediate", StepDown),
        ("Medicine/Cardiology Intermediate", StepDown),
        ("Cardiac Step-Down", StepDown),
        ("Telemetry", Telemetry),
        ("Pediatric Medicine", Pediatrics),
        ("Well-Baby Nursery", Pediatrics),
        ("Psychiatry", Psychiatric),
        ("Labor & Delivery", Obstetrics),
        ("Obstetrics Antepartum", Obstetrics),
        ("Med/Surg", MedSurg),
        ("Med/Surg/GYN", MedSurg),
        ("Medicine", MedSurg),
        ("Medicine/Cardiology", MedSurg),
        ("Cardiac Surgery", MedSurg),
        ("Surgery/Trauma", MedSurg),
        ("Neurology", Other),
        ("Transplant", Other),
        ("Discharge Lounge", Other),
        ("Observation", Other),
        ("Collaborative Care", Other),
        ("Unknown", Other),
    ];
    for (name, kind) in cases {
        assert_eq!(unit_kind(name), kind, "{name}");
    }
}
