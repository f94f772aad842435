//! Hospital staffing end to end on small roster files with a fixed census: ratio compliance
//! is 100% of unit-hours whenever the solve reports a roster, agency fills what own staff
//! cannot, infeasible requests are explained, and re-planning keeps the published roster.

use wardstream_solver::forecast::{CensusSnapshot, ForecastOptions};
use wardstream_solver::{RosterFile, SolveOptions, Status, evaluate, recommend, report};

/// Two units for 7 days from Monday 2026-11-23: ICU (1:2) with 5 patients planned, and
/// med-surg (1:5) with 12. `{icu_rn}` ICU nurses, agency `{agency}`.
fn file(icu_rn: u32, charge: u32, agency: &str) -> String {
    format!(
        r#"
name = "test"
start = "2026-11-23"
[rules]
census_z = 0.0
{agency}
fairness_nights = 100
[[shifts]]
id = "D"
start = "07:00"
hours = 12
[[shifts]]
id = "N"
start = "19:00"
hours = 12
night = true
not_followed_by = ["D"]
[[units]]
name = "ICU"
kind = "icu"
beds = 8
census = 5
[[units]]
name = "MS"
kind = "med_surg"
beds = 30
census = 12
charge_nurse = false
[contracts.ft]
hours_per_week = [0, 48]
max_consecutive = 3
[[staff]]
prefix = "ICU"
count = {icu_rn}
skills = ["RN", "ICU"]
units = ["ICU", "MS"]
contract = "ft"
hourly = 7000
[[staff]]
prefix = "CHG"
count = {charge}
skills = ["RN", "ICU", "charge"]
units = ["ICU"]
contract = "ft"
hourly = 7500
[[staff]]
prefix = "MS"
count = 12
skills = ["RN"]
units = ["MS"]
contract = "ft"
hourly = 6000
[[staff]]
prefix = "LVN"
count = 4
skills = ["LVN"]
units = ["MS"]
contract = "ft"
hourly = 3500
"#
    )
}

fn plan(text: &str) -> wardstream_solver::StaffingPlan {
    RosterFile::parse(text, "<test>")
        .expect("parses")
        .plan(7, &CensusSnapshot::default(), &ForecastOptions::default())
        .expect("plans")
}

fn options() -> SolveOptions {
    SolveOptions {
        time_limit: 60.0,
        ..SolveOptions::default()
    }
}

#[test]
fn demand_follows_title22_with_break_relief_and_charge() {
    let p = plan(&file(18, 4, ""));
    let icu = &p.demand[0].hourly[12];
    // 5 patients at 1:2 → 3 nurses; relief ⌈3 · 60/720⌉ = 1; charge outside the ratio.
    assert_eq!(
        (icu.patients, icu.ratio_nurses, icu.relief, icu.charge),
        (5, 3, 1, 1)
    );
    assert_eq!((icu.licensed, icu.rn), (5, 4));
    let ms = &p.demand[1].hourly[12];
    // 12 patients at 1:5 → 3; relief 1; half RNs.
    assert_eq!(
        (ms.ratio_nurses, ms.relief, ms.licensed, ms.rn),
        (3, 1, 4, 2)
    );
    // Hours 0–6 of day 0 belong to the previous roster's night.
    assert_eq!(p.uncovered_hours, 2 * 7);
}

#[test]
fn a_feasible_roster_meets_every_ratio_every_hour() {
    let p = plan(&file(18, 4, ""));
    let r = recommend(&p, None, &options()).expect("solves");
    assert_eq!(r.status, Status::Optimal);
    let roster = r.assignments.clone().expect("roster");
    assert!(evaluate(&p.problem, &roster).feasible());
    for c in &r.coverage {
        assert!(c.hours > 0);
        assert_eq!(c.compliant_hours, c.hours, "{c:?}");
        assert!(c.min_surplus >= 0);
    }
    assert!(r.gaps.is_empty());
    // The objective is the checker's: pay + overtime + fairness.
    let e = evaluate(&p.problem, &roster);
    assert!((r.objective.expect("objective") - e.total).abs() < 1e-3);
    // Coverage is recomputed from the roster: removing one ICU nurse breaks an hour.
    let mut fewer = roster.clone();
    let i = fewer
        .assignments
        .iter()
        .position(|a| a.unit == 0)
        .expect("an ICU shift");
    fewer.assignments.remove(i);
    let broken = report::coverage(&p, &fewer);
    assert!(broken[0].compliant_hours < broken[0].hours);
}

#[test]
fn agency_fills_what_own_staff_cannot_and_is_recommended_in_words() {
    // Seven ICU-competent nurses (4 shifts a week each) cannot cover 5 a shift for a week.
    let p = plan(&file(
        3,
        4,
        "agency_hourly = 15000\nagency_max_per_shift = 4",
    ));
    let r = recommend(&p, None, &options()).expect("solves");
    assert!(matches!(r.status, Status::Optimal | Status::TimeLimit));
    assert!(!r.gaps.is_empty());
    assert!(r.coverage.iter().all(|c| c.compliant_hours == c.hours));
    assert!(r.cost.agency > 0.0);
    let words = r.recommendations.join("\n");
    assert!(
        words.contains("ICU") && words.contains("book agency (est. $"),
        "{words}"
    );
    assert!(words.contains("at ratio 1:2"), "{words}");
}

#[test]
fn an_overtime_multiplier_below_one_is_refused() {
    let text = file(18, 4, "overtime_multiplier = 0.5");
    let err = RosterFile::parse(&text, "<test>")
        .expect("parses")
        .plan(7, &CensusSnapshot::default(), &ForecastOptions::default())
        .expect_err("refused");
    assert!(
        err.to_string().contains("overtime multiplier 0.5 below 1"),
        "{err}"
    );
}

#[test]
fn an_infeasible_request_is_explained() {
    // No charge-qualified nurse for the ICU at all.
    let p = plan(&file(18, 0, ""));
    let r = recommend(&p, None, &options()).expect("answers");
    assert_eq!(r.status, Status::Infeasible);
    assert!(r.assignments.is_none());
    let why = r.explanation.join("\n");
    assert!(why.contains("ICU charge nurse"), "{why}");
    assert!(why.contains("only 0 nurse(s) qualified"), "{why}");

    // Enough qualified nurses exist, but contracts cannot staff every shift: elastic slack
    // names the shifts left short.
    let p = plan(&file(4, 2, ""));
    let r = recommend(&p, None, &options()).expect("answers");
    assert_eq!(r.status, Status::Infeasible);
    let why = r.explanation.join("\n");
    assert!(why.contains("short"), "{why}");
    assert!(why.contains("ICU"), "{why}");
}

#[test]
fn replanning_penalises_changes_to_the_published_roster() {
    let p = plan(&file(18, 4, ""));
    let first = recommend(&p, None, &options()).expect("solves");
    let published = first.assignments.clone().expect("roster");
    // The ICU census rises from 5 to 7 patients: 4 + 1 relief + charge.
    let p2 = plan(&file(18, 4, "").replace("census = 5", "census = 7"));
    let again = recommend(&p2, Some(&published), &options()).expect("re-plans");
    assert_eq!(again.status, Status::Optimal);
    assert!(again.coverage.iter().all(|c| c.compliant_hours == c.hours));
    let changes = again.changes.expect("changes counted");
    // Fourteen ICU shifts need one more nurse: at least 14 additions.
    assert!(changes >= 14, "{changes}");
    // A fresh, cost-optimal solve is feasible for the re-plan too, so an optimal re-plan
    // never changes more than it does.
    let fresh = recommend(&p2, None, &options()).expect("solves");
    let fresh_roster = fresh.assignments.expect("roster");
    let before: std::collections::HashSet<_> = published.assignments.iter().collect();
    let after: std::collections::HashSet<_> = fresh_roster.assignments.iter().collect();
    let moved = before.symmetric_difference(&after).count();
    assert!(
        changes <= moved,
        "re-plan changed {changes}, a fresh solve {moved}"
    );
}
