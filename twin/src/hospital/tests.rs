//! Unit tests of the hospital module, kept apart from its code.

use super::*;
use crate::scenario::{
    ArrivalStream, CareUnit, EmergencyDepartment, Hospital, Route, Shift, Staffing, UnitKind,
    UnitStaff, title22_ratios,
};

fn unit(name: &str, beds: u32, mean_los: f64, routing: Vec<Route>) -> CareUnit {
    CareUnit {
        name: name.into(),
        kind: if name == "ICU" {
            UnitKind::Icu
        } else {
            UnitKind::MedSurg
        },
        beds,
        los: Duration::Exponential {
            mean_hours: mean_los,
        },
        routing,
        initial_census: 0,
        estimate: None,
    }
}

fn small_hospital() -> Hospital {
    Hospital {
        max_transfer_wait_hours: None,
        name: "test".into(),
        discharge_hour: (0..24)
            .map(|h| if (10..16).contains(&h) { 1.0 } else { 0.0 })
            .collect(),
        ed: Some(EmergencyDepartment {
            bays: 6,
            acuity: vec![0.05, 0.2, 0.5, 0.2, 0.05],
            treatment: Duration::Lognormal {
                mu: 1.0,
                sigma: 0.5,
            },
            admit_probability: vec![0.9, 0.6, 0.3, 0.1, 0.0],
            admit_to: vec![
                Route {
                    to: "ICU".into(),
                    p: 0.2,
                },
                Route {
                    to: "Ward".into(),
                    p: 0.8,
                },
            ],
            patience: Some(Duration::Exponential { mean_hours: 3.0 }),
            diversion_queue: Some(15),
            estimate: None,
        }),
        staffing: None,
        arrivals: vec![
            ArrivalStream {
                name: "ed".into(),
                kind: ArrivalKind::Ed,
                per_hour: (0..24)
                    .map(|h| if (8..22).contains(&h) { 2.5 } else { 1.0 })
                    .collect(),
                to: vec![],
                estimate: None,
            },
            ArrivalStream {
                name: "elective".into(),
                kind: ArrivalKind::Elective,
                per_hour: vec![0.3],
                to: vec![Route {
                    to: "Ward".into(),
                    p: 1.0,
                }],
                estimate: None,
            },
        ],
        units: vec![
            unit(
                "ICU",
                8,
                60.0,
                vec![Route {
                    to: "Ward".into(),
                    p: 0.7,
                }],
            ),
            unit("Ward", 40, 90.0, vec![]),
        ],
    }
}

#[test]
fn flows_balance_and_nothing_is_lost() {
    let sc = Scenario::from_hospital("t", small_hospital()).expect("valid");
    let m = Compiled::new(&sc);
    let t = simulate(&m, 24 * 60, 11, 0);
    let ed_arrivals: u32 = t.ed_arrivals.iter().sum();
    assert!(ed_arrivals > 1500, "{ed_arrivals}");
    assert!(!t.ed_waits.is_empty());
    assert!(t.ed_waits.iter().all(|(_, w)| *w >= 0.0));
    assert!(t.boarding.iter().all(|(_, w)| *w >= 0.0));
    // Census never exceeds beds, and units that admit have non-zero census.
    for (u, beds) in m.beds().iter().enumerate() {
        let series = &t.census[u * t.hours..(u + 1) * t.hours];
        assert!(
            series
                .iter()
                .all(|c| *c >= -1e-9 && *c <= f64::from(*beds) + 1e-9)
        );
        assert!(series.iter().sum::<f64>() > 0.0);
    }
    // Every stay recorded is non-negative; transfers into the ward happened.
    assert!(t.stays.iter().flatten().all(|(_, d)| *d >= 0.0));
    // Discharges follow the profile: every discharge from the ward is between 10 and 16 h.
    let entries: u32 = t.entries.iter().sum();
    assert!(entries as usize >= t.stays.iter().map(Vec::len).sum::<usize>());
}

#[test]
fn discharges_happen_at_profile_hours() {
    let mut h = small_hospital();
    h.units[1].routing.clear();
    let sc = Scenario::from_hospital("t", h).expect("valid");
    let m = Compiled::new(&sc);
    let t = simulate(&m, 24 * 30, 5, 0);
    let ward = &t.stays[1];
    assert!(ward.len() > 100);
    for (entered, stay) in ward {
        let hod = (entered + stay).rem_euclid(24.0);
        assert!((10.0..16.0).contains(&hod), "discharged at {hod}");
    }
}

#[test]
fn discharge_before_noon_moves_discharges_to_the_morning() {
    let mut h = small_hospital();
    h.units[1].routing.clear();
    // Profile: half the weight before noon (9-11 h), half after (13-15 h).
    h.discharge_hour = (0..24)
        .map(|x| {
            if (9..12).contains(&x) || (13..16).contains(&x) {
                1.0
            } else {
                0.0
            }
        })
        .collect();
    let morning_share = |dbn: f64| {
        let changes = crate::scenario::Changes {
            discharge_before_noon: Some(dbn),
            ..Default::default()
        };
        let sc = Scenario::new("t".into(), h.clone(), &changes, Default::default()).expect("valid");
        let t = simulate(&Compiled::new(&sc), 24 * 60, 8, 0);
        let ends: Vec<f64> = t.stays[1]
            .iter()
            .map(|(e, d)| (e + d).rem_euclid(24.0))
            .collect();
        ends.iter().filter(|x| **x < 12.0).count() as f64 / ends.len() as f64
    };
    let (none, half) = (morning_share(0.0), morning_share(0.5));
    // Expected: 0.5 without the policy, 0.5 + 0.5 × 0.5 = 0.75 with half of the
    // afternoon discharges moved.
    assert!((none - 0.5).abs() < 0.05, "{none}");
    assert!((half - 0.75).abs() < 0.05, "{half}");
}

/// Two one-bed units feeding each other: A → B always, B → A half the time.
fn loop_hospital(max_wait: Option<f64>) -> Hospital {
    let direct = |name: &str, to: &str| ArrivalStream {
        name: name.into(),
        kind: ArrivalKind::Direct,
        per_hour: vec![0.05],
        to: vec![Route {
            to: to.into(),
            p: 1.0,
        }],
        estimate: None,
    };
    Hospital {
        max_transfer_wait_hours: max_wait,
        name: "loop".into(),
        discharge_hour: vec![],
        ed: None,
        staffing: None,
        arrivals: vec![direct("a", "A"), direct("b", "B")],
        units: vec![
            unit(
                "A",
                1,
                10.0,
                vec![Route {
                    to: "B".into(),
                    p: 1.0,
                }],
            ),
            unit(
                "B",
                1,
                10.0,
                vec![Route {
                    to: "A".into(),
                    p: 0.5,
                }],
            ),
        ],
    }
}

#[test]
fn overflow_placements_break_gridlock_between_full_units() {
    let entries_late = |t: &Trace| {
        (0..t.units)
            .map(|u| {
                t.entries[u * t.hours + t.hours / 2..(u + 1) * t.hours]
                    .iter()
                    .sum::<u32>()
            })
            .sum::<u32>()
    };
    let hours = 24 * 200;
    let stuck = simulate(
        &Compiled::new(&Scenario::from_hospital("t", loop_hospital(None)).expect("valid")),
        hours,
        1,
        0,
    );
    // Without a limit, A's patient waits for B's bed while B's waits for A's: forever.
    assert_eq!(entries_late(&stuck), 0, "expected gridlock");
    assert_eq!(stuck.overflows.iter().sum::<u32>(), 0);
    let flowing = simulate(
        &Compiled::new(&Scenario::from_hospital("t", loop_hospital(Some(24.0))).expect("valid")),
        hours,
        1,
        0,
    );
    assert!(entries_late(&flowing) > 100, "{}", entries_late(&flowing));
    assert!(flowing.overflows.iter().sum::<u32>() > 0);
    // Each overflow is a placement over the bed count: census can exceed 1 bed.
    assert!(flowing.census.iter().any(|c| *c > 1.0));
}

#[test]
fn same_seed_same_trace_different_seed_differs() {
    let sc = Scenario::from_hospital("t", small_hospital()).expect("valid");
    let m = Compiled::new(&sc);
    let a = simulate(&m, 24 * 14, 1, 3);
    let b = simulate(&m, 24 * 14, 1, 3);
    let c = simulate(&m, 24 * 14, 1, 4);
    assert_eq!(a.census, b.census);
    assert_eq!(a.ed_waits, b.ed_waits);
    assert_ne!(a.census, c.census);
}

#[test]
fn staffing_closes_beds_and_counts_breaches() {
    let mut h = small_hospital();
    h.staffing = Some(Staffing {
        ratios: title22_ratios(),
        shifts: vec![
            Shift {
                name: "day".into(),
                start_hour: 7,
                hours: 12,
            },
            Shift {
                name: "night".into(),
                start_hour: 19,
                hours: 12,
            },
        ],
        // ICU 1:2: 3 nurses by day (6 beds), 1 by night (2 beds).
        units: vec![UnitStaff {
            unit: "ICU".into(),
            nurses: vec![3, 1],
        }],
        limit_beds: true,
    });
    let sc = Scenario::from_hospital("t", h).expect("valid");
    let m = Compiled::new(&sc);
    let t = simulate(&m, 24 * 30, 2, 0);
    let icu = &t.census[..t.hours];
    // Never more than 6 in the ICU (day capacity); breaches happen after 19:00 drops to 2.
    assert!(icu.iter().all(|c| *c <= 6.0 + 1e-9));
    let breaches: u32 = t.ratio_breaches.iter().sum();
    assert!(breaches > 0);
    // No breach is counted in a day-shift hour ending before 19:00 when census ≤ 6.
    for (h, b) in t.ratio_breaches.iter().enumerate() {
        if (7..18).contains(&(h % 24)) {
            assert_eq!(*b, 0, "hour {h}");
        }
    }
}
