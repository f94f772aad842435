//! The checker catches each kind of hard-constraint violation, scores soft terms as the
//! benchmark defines them, and agrees with the MIP's objective on what the MIP returns.

use wardstream_solver::benchmark;
use wardstream_solver::{
    Assignment, Formulation, Roster, SolveOptions, Status, Violation, evaluate, problem::Problem,
    solve,
};

/// Both MIP formulations: every model test runs on each.
const FORMULATIONS: [Formulation; 2] = [Formulation::Compact, Formulation::Patterns];

fn solve_as(problem: &Problem, formulation: Formulation) -> wardstream_solver::Solution {
    let options = SolveOptions {
        formulation,
        ..SolveOptions::default()
    };
    let solution = solve(problem, &options).expect("solves");
    assert_eq!(solution.formulation, formulation);
    solution
}

/// 14 days from a Monday, shifts E (480 min) and N (600 min, may not be followed by E),
/// two nurses: A works at most 5 days in a row, at least 2, needs 2 days off, 1 weekend.
const SMALL: &str = "
SECTION_HORIZON
14
SECTION_SHIFTS
E,480,
N,600,E
SECTION_STAFF
A,E=14|N=2,6000,960,5,2,2,1
B,E=14|N=14,6000,0,5,1,1,2
SECTION_DAYS_OFF
A,3
SECTION_SHIFT_ON_REQUESTS
A,0,E,2
SECTION_SHIFT_OFF_REQUESTS
B,1,N,3
SECTION_COVER
0,E,1,100,1
1,E,1,100,1
1,N,1,50,1
";

fn small() -> Problem {
    benchmark::parse("small", SMALL, "<test>").expect("parses")
}

fn roster(cells: &[(usize, usize, &str)]) -> Roster {
    let p = small();
    let mut r = Roster::default();
    for &(e, d, s) in cells {
        let shift = p.shifts.iter().position(|x| x.id == s).expect("shift");
        r.assignments.push(Assignment {
            employee: e,
            day: d,
            shift,
            unit: 0,
        });
    }
    r.assignments.sort();
    r
}

fn kinds(r: &Roster) -> Vec<&'static str> {
    let mut k: Vec<&'static str> = evaluate(&small(), r)
        .violations
        .iter()
        .map(|v| match v {
            Violation::UnknownIndex { .. } => "unknown",
            Violation::NotEligible { .. } => "not_eligible",
            Violation::TwoShiftsOneDay { .. } => "two_shifts",
            Violation::ForbiddenSuccession { .. } => "succession",
            Violation::MaxShifts { .. } => "max_shifts",
            Violation::TotalMinutes { .. } => "minutes",
            Violation::MaxConsecutive { .. } => "max_consecutive",
            Violation::MinConsecutive { .. } => "min_consecutive",
            Violation::MinConsecutiveOff { .. } => "min_off",
            Violation::MaxWeekends { .. } => "max_weekends",
            Violation::CoverShort { .. } => "cover_short",
            Violation::Agency { .. } => "agency",
        })
        .collect();
    k.sort();
    k.dedup();
    k
}

/// A feasible base for A: days 0–1 (E), off 2–3, 4–5 (E).
const BASE: [(usize, usize, &str); 4] = [(0, 0, "E"), (0, 1, "E"), (0, 4, "E"), (0, 5, "E")];

#[test]
fn feasible_base_has_no_violation() {
    assert_eq!(kinds(&roster(&BASE)), Vec::<&str>::new());
}

#[test]
fn each_hard_rule_is_caught() {
    let with = |extra: &[(usize, usize, &'static str)]| {
        let mut cells: Vec<(usize, usize, &str)> = BASE.to_vec();
        cells.extend_from_slice(extra);
        kinds(&roster(&cells))
    };
    // Working the day off (day 3) also leaves a one-day break on day 2.
    assert_eq!(with(&[(0, 3, "E")]), ["min_off", "not_eligible"]);
    // Two shifts on one day.
    assert_eq!(with(&[(0, 5, "N")]), ["two_shifts"]);
    // Night followed by early (B has no run limits that bite here).
    assert_eq!(with(&[(1, 7, "N"), (1, 8, "E")]), ["succession"]);
    // Max 2 nights for A: days 7, 8, 9 all N (run of 3, inside the horizon).
    assert_eq!(
        with(&[(0, 8, "N"), (0, 9, "N"), (0, 10, "N")]),
        ["max_shifts"]
    );
    // Max consecutive 5: days 8–13 (the day after the horizon counts as off); the run
    // covers the second weekend too.
    let long: Vec<(usize, usize, &str)> = (8..14).map(|d| (0, d, "E")).collect();
    assert_eq!(with(&long), ["max_consecutive", "max_weekends"]);
    // Min consecutive 2: a single day inside the horizon (day 8 alone).
    assert_eq!(with(&[(0, 8, "E")]), ["min_consecutive"]);
    // Min 2 days off: days 7–8 and 10–11 leave one-day breaks on days 6 and 9.
    assert_eq!(
        with(&[(0, 7, "E"), (0, 8, "E"), (0, 10, "E"), (0, 11, "E")]),
        ["min_off"]
    );
    // Max 1 weekend: days 5 (Sat, base) and 12–13 (Sat–Sun of the second weekend).
    assert_eq!(with(&[(0, 12, "E"), (0, 13, "E")]), ["max_weekends"]);
    // Minimum minutes (960): A works only day 0 and 13 (edges exempt from run rules).
    assert_eq!(kinds(&roster(&[(0, 13, "E")])), ["minutes"]);
    // Unknown shift index.
    let mut r = roster(&BASE);
    r.assignments.push(Assignment {
        employee: 0,
        day: 6,
        shift: 9,
        unit: 0,
    });
    assert_eq!(kinds(&r), ["unknown"]);
}

#[test]
fn runs_touching_the_horizon_edges_are_exempt_from_minimum_rules() {
    // A: one day at the very start and one at the very end, 480 × 2 = 960 minutes.
    assert_eq!(
        kinds(&roster(&[(0, 0, "E"), (0, 13, "E")])),
        Vec::<&str>::new()
    );
}

#[test]
fn soft_terms_follow_the_benchmark_definitions() {
    let p = small();
    // Empty roster: A's on-request (2) missed; covers short 100 + 100 + 50; minutes broken.
    let e = evaluate(&p, &Roster::default());
    assert_eq!(e.breakdown.on_requests, 2.0);
    assert_eq!(e.breakdown.cover_under, 250.0);
    assert_eq!(e.breakdown.cover_over, 0.0);
    // B works N on day 1 (off-request, 3) and E on day 0 and 1 is over-covered by A and B.
    let r = roster(&[(0, 0, "E"), (0, 1, "E"), (1, 0, "E"), (1, 1, "N")]);
    let e = evaluate(&p, &r);
    assert_eq!(e.breakdown.on_requests, 0.0);
    assert_eq!(e.breakdown.off_requests, 3.0);
    assert_eq!(e.breakdown.cover_over, 1.0);
    assert_eq!(e.breakdown.cover_under, 0.0);
    assert_eq!(e.total, 4.0);
}

#[test]
fn the_mip_objective_equals_the_checker_score() {
    // B's contract in SMALL allows too many schedules to list; at most 2,000 minutes it
    // allows about 20,000.
    let tight = benchmark::parse(
        "tight",
        &SMALL.replace("B,E=14|N=14,6000,", "B,E=14|N=14,2000,"),
        "<test>",
    )
    .expect("parses");
    let cases = [
        (small(), Formulation::Compact),
        (tight.clone(), Formulation::Compact),
        (tight, Formulation::Patterns),
    ];
    for (p, formulation) in cases {
        let s = solve_as(&p, formulation);
        assert_eq!(s.status, Status::Optimal);
        let r = s.roster.expect("roster");
        let e = evaluate(&p, &r);
        assert!(e.feasible(), "{formulation:?}: {:?}", e.violations);
        let objective = s.objective.expect("objective");
        assert!(
            (objective - e.total).abs() < 1e-6,
            "{formulation:?}: {objective} vs {}",
            e.total
        );
        assert!(s.bound.expect("bound") <= objective + 1e-6);
    }
}

#[test]
fn malformed_instances_name_the_line() {
    let bad = SMALL.replace("A,3", "A,30");
    let err = benchmark::parse("bad", &bad, "<test>").expect_err("day outside horizon");
    assert!(
        err.to_string().contains("outside the 14-day horizon"),
        "{err}"
    );
    let bad = SMALL.replace("N,600,E", "N,600,X");
    let err = benchmark::parse("bad", &bad, "<test>").expect_err("unknown shift");
    assert!(err.to_string().contains("unknown shift \"X\""), "{err}");
    let bad = SMALL.replace("B,E=14|N=14,6000,0,5,1,1,2", "B,E=14,6000,0,5");
    let err = benchmark::parse("bad", &bad, "<test>").expect_err("short staff row");
    assert!(err.to_string().contains("expected 8 fields"), "{err}");
    let bad = SMALL.replace("1,N,1,50,1", "1,N,-1,50,1");
    let err = benchmark::parse("bad", &bad, "<test>").expect_err("negative requirement");
    assert!(err.to_string().contains("line 19: requirement"), "{err}");
}

#[test]
fn a_signed_zero_requirement_is_zero() {
    // Instance15 writes "-0" for two requirements.
    let p = benchmark::parse("z", &SMALL.replace("1,N,1,50,1", "1,N,-0,50,1"), "<test>")
        .expect("parses");
    let n = p.shifts.iter().position(|s| s.id == "N").expect("N");
    let cover = p
        .covers
        .iter()
        .find(|c| c.slots == [(1, n)])
        .expect("the day-1 N cover");
    assert_eq!(cover.min, 0);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// The MIP can staff exactly a given work pattern (one nurse, every other day a day off,
    /// a cover of 1 on each worked day) iff the checker passes the pattern: the model's run,
    /// rest and weekend rules say what the checker's say, for random contracts, in both
    /// formulations.
    #[test]
    fn the_mip_staffs_exactly_the_patterns_the_checker_passes(
        days in 3usize..15,
        max in 1u32..6,
        min in 1u32..4,
        min_off in 1u32..4,
        weekends in 0u32..3,
        bits in proptest::collection::vec(proptest::bool::ANY, 15),
    ) {
        let on = &bits[..days];
        let off: Vec<String> = (0..days).filter(|&d| !on[d]).map(|d| d.to_string()).collect();
        let cover: String = (0..days)
            .filter(|&d| on[d])
            .map(|d| format!("{d},D,1,1000,0\n"))
            .collect();
        let days_off = if off.is_empty() { String::new() } else { format!("A,{}\n", off.join(",")) };
        let text = format!(
            "SECTION_HORIZON\n{days}\nSECTION_SHIFTS\nD,480,\nSECTION_STAFF\n\
             A,D={days},100000,0,{max},{min},{min_off},{weekends}\n\
             SECTION_DAYS_OFF\n{days_off}SECTION_COVER\n{cover}"
        );
        let problem = benchmark::parse("pattern", &text, "<proptest>").expect("parses");
        let work: Vec<Option<usize>> = on.iter().map(|&b| b.then_some(0)).collect();
        let legal = wardstream_solver::check::contract_violations(&problem, 0, &work).is_empty();
        for formulation in FORMULATIONS {
            let solution = solve_as(&problem, formulation);
            proptest::prop_assert_eq!(solution.status, Status::Optimal);
            let objective = solution.objective.unwrap_or(f64::NAN);
            proptest::prop_assert_eq!(
                objective.abs() < 0.5, legal, "{:?}: objective {} for {:?}", formulation, objective, on
            );
        }
    }
}
