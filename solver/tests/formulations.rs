//! The compact and the pattern formulation are the same model: on random benchmark problems
//! and on hospital staffing plans (units, skills, agency, overtime, fairness, changes to a
//! published roster) they reach the same optimum, and the checker scores each roster to
//! its solver's objective. Price-and-branch's bound and roster bracket that optimum, and its
//! column generation converges to the relaxation over every schedule; branch-and-price reaches
//! and proves that optimum.

use wardstream_solver::forecast::{CensusSnapshot, ForecastOptions};
use wardstream_solver::problem::Problem;
use wardstream_solver::{
    Formulation, RosterFile, Solution, SolveOptions, Status, benchmark, colgen, evaluate, solve,
};

fn solve_as(problem: &Problem, formulation: Formulation) -> Solution {
    let options = SolveOptions {
        formulation,
        time_limit: 120.0,
        ..SolveOptions::default()
    };
    let solution = solve(problem, &options).expect("solves");
    assert_eq!(solution.formulation, formulation);
    solution
}

/// Solves `problem` both ways and checks they agree; returns the pattern solution.
fn agree(problem: &Problem) -> Result<Solution, String> {
    let compact = solve_as(problem, Formulation::Compact);
    let patterns = solve_as(problem, Formulation::Patterns);
    if compact.status != patterns.status {
        return Err(format!(
            "compact {:?} vs patterns {:?}",
            compact.status, patterns.status
        ));
    }
    if compact.status != Status::Optimal {
        return Ok(patterns);
    }
    let mut objectives = Vec::new();
    for s in [&compact, &patterns] {
        let roster = s
            .roster
            .as_ref()
            .ok_or("an optimal solve without a roster")?;
        let e = evaluate(problem, roster);
        if !e.feasible() {
            return Err(format!("{:?}: {:?}", s.formulation, e.violations));
        }
        let objective = s.objective.ok_or("no objective")?;
        if (objective - e.total).abs() > 1e-6 {
            return Err(format!(
                "{:?}: solver {objective} vs checker {}",
                s.formulation, e.total
            ));
        }
        objectives.push(objective);
    }
    if (objectives[0] - objectives[1]).abs() > 1e-6 {
        return Err(format!(
            "compact {} vs patterns {}",
            objectives[0], objectives[1]
        ));
    }
    Ok(patterns)
}

/// Price-and-branch against the proven `optimum`: its bound is at most the optimum, its
/// roster (checker-feasible, scored to its objective) at least; it claims optimality only at
/// the optimum; converged, its master value is the pattern relaxation over every schedule.
fn price_and_branch_holds(problem: &Problem, optimum: &Solution) -> Result<(), String> {
    let (s, report) = colgen::solve(
        problem,
        &SolveOptions {
            formulation: Formulation::PriceAndBranch,
            time_limit: 120.0,
            ..SolveOptions::default()
        },
    )
    .map_err(|e| e.to_string())?;
    if optimum.status != Status::Optimal {
        return Ok(());
    }
    let best = optimum.objective.ok_or("no objective")?;
    let bound = s.bound.ok_or("no bound")?;
    if bound > best + 1e-6 {
        return Err(format!("bound {bound} above the optimum {best}"));
    }
    let roster = s.roster.as_ref().ok_or("no roster")?;
    let e = evaluate(problem, roster);
    let objective = s.objective.ok_or("no objective")?;
    if !e.feasible() || (e.total - objective).abs() > 1e-6 || objective < best - 1e-6 {
        return Err(format!(
            "roster {objective} (checker {}, {:?}) vs optimum {best}",
            e.total, e.violations
        ));
    }
    if s.status == Status::Optimal && (objective - best).abs() > 1e-6 {
        return Err(format!("optimal at {objective}, optimum {best}"));
    }
    if !report.converged {
        return Err("column generation did not converge".into());
    }
    let full = colgen::pattern_relaxation(problem, 1_000_000)
        .map_err(|e| e.to_string())?
        .ok_or("pattern relaxation")?;
    let master = report.master_value.ok_or("no master value")?;
    if (master - full).abs() > 1e-6 * full.abs().max(1.0) {
        return Err(format!(
            "master {master} vs every schedule's relaxation {full}"
        ));
    }
    // Converged, no schedule prices below zero: the bound is the master's value.
    if bound < master - 1e-6 * master.abs().max(1.0) {
        return Err(format!(
            "converged, yet bound {bound} below master {master}"
        ));
    }
    Ok(())
}

/// Branch-and-price against the proven `optimum` (or infeasibility): it must reach and
/// prove it — a pruning or branching rule that cut off the optimum would end above it, or
/// claim optimality below the true optimum's roster. Both as the formulation (after the
/// dive and the MIP over the root's schedules) and as [`colgen::prove`] without an
/// incumbent, where every roster comes from the tree's integral nodes.
fn branch_and_price_proves(problem: &Problem, optimum: &Solution) -> Result<(), String> {
    let options = SolveOptions {
        formulation: Formulation::BranchAndPrice,
        time_limit: 120.0,
        ..SolveOptions::default()
    };
    let runs = [
        colgen::solve(problem, &options),
        colgen::prove(problem, &options, None),
    ];
    for (run, answer) in ["formulation", "tree alone"].into_iter().zip(runs) {
        let (s, report) = answer.map_err(|e| e.to_string())?;
        proves(problem, optimum, &s, &report).map_err(|e| format!("{run}: {e}"))?;
    }
    Ok(())
}

fn proves(
    problem: &Problem,
    optimum: &Solution,
    s: &Solution,
    report: &colgen::PricingReport,
) -> Result<(), String> {
    if s.formulation != Formulation::BranchAndPrice {
        return Err(format!("formulation {:?}", s.formulation));
    }
    match optimum.status {
        Status::Infeasible if s.status == Status::Infeasible => return Ok(()),
        Status::Optimal => {}
        other => {
            return Err(format!(
                "optimum {other:?}, branch-and-price {:?}",
                s.status
            ));
        }
    }
    let best = optimum.objective.ok_or("no objective")?;
    let roster = s.roster.as_ref().ok_or("no roster")?;
    let e = evaluate(problem, roster);
    let objective = s.objective.ok_or("no objective")?;
    if s.status != Status::Optimal
        || !e.feasible()
        || (e.total - objective).abs() > 1e-6
        || (objective - best).abs() > 1e-6
    {
        return Err(format!(
            "{:?} at {objective} (checker {}, {:?}, {} nodes, {} open) vs optimum {best}",
            s.status, e.total, e.violations, report.nodes, report.open_nodes
        ));
    }
    Ok(())
}

/// Two units for 5 days from Monday 2026-11-23: ICU (1:2) and med-surg (1:5), ICU nurses
/// floating to med-surg, agency for the ICU, night fairness and overtime past 20 hours a week
/// (a 5-day horizon allows 34 of a contract's 48 hours).
fn roster_file(icu_census: u32) -> String {
    format!(
        r#"
name = "formulations"
start = "2026-11-23"
[rules]
census_z = 0.0
agency_hourly = 15000
agency_max_per_shift = 3
fairness_nights = 200
regular_week_hours = 20
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
beds = 6
census = {icu_census}
charge_nurse = false
[[units]]
name = "MS"
kind = "med_surg"
beds = 20
census = 6
charge_nurse = false
[contracts.ft]
hours_per_week = [0, 48]
max_consecutive = 3
[[staff]]
prefix = "ICU"
count = 6
skills = ["RN", "ICU"]
units = ["ICU", "MS"]
contract = "ft"
hourly = 7000
[[staff]]
prefix = "MS"
count = 6
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

fn staffing_problem(icu_census: u32) -> Problem {
    RosterFile::parse(&roster_file(icu_census), "<test>")
        .expect("parses")
        .plan(5, &CensusSnapshot::default(), &ForecastOptions::default())
        .expect("plans")
        .problem
}

#[test]
fn a_staffing_plan_and_its_replan_reach_the_same_optimum() {
    let problem = staffing_problem(3);
    let first = agree(&problem).expect("formulations agree");
    assert_eq!(first.status, Status::Optimal);
    price_and_branch_holds(&problem, &first).expect("price-and-branch");
    branch_and_price_proves(&problem, &first).expect("branch-and-price");
    // Six ICU nurses at four shifts a week cannot staff 3 a shift: agency is in the optimum.
    assert!(!first.roster.as_ref().expect("roster").agency.is_empty());
    // The census rises: re-plan against the published roster, with changes penalised.
    let mut replan = staffing_problem(5);
    replan.published = Some(first.roster.clone().expect("roster"));
    let again = agree(&replan).expect("formulations agree on the re-plan");
    assert_eq!(again.status, Status::Optimal);
    price_and_branch_holds(&replan, &again).expect("price-and-branch on the re-plan");
    branch_and_price_proves(&replan, &again).expect("branch-and-price on the re-plan");
    let roster = again.roster.expect("roster");
    assert!(evaluate(&replan, &roster).breakdown.changes > 0.0);
    // Warm-started from the published roster, both forms reach that optimum again.
    for formulation in [Formulation::Compact, Formulation::Patterns] {
        let options = SolveOptions {
            formulation,
            warm_start: replan.published.clone(),
            ..SolveOptions::default()
        };
        let warm = solve(&replan, &options).expect("solves");
        assert_eq!(warm.status, Status::Optimal);
        let (a, b) = (
            warm.objective.expect("objective"),
            again.objective.expect("objective"),
        );
        assert!(
            (a - b).abs() < 1e-6,
            "{formulation:?}: warm {a} vs cold {b}"
        );
    }
}

#[test]
fn price_and_branch_says_infeasible_when_hard_covers_need_the_artificial_slack() {
    // Two ICU nurses and no agency cannot staff the ICU's hard ratio covers.
    let text = roster_file(3)
        .replace("agency_hourly = 15000\nagency_max_per_shift = 3\n", "")
        .replace("prefix = \"ICU\"\ncount = 6", "prefix = \"ICU\"\ncount = 2");
    let problem = RosterFile::parse(&text, "<test>")
        .expect("parses")
        .plan(5, &CensusSnapshot::default(), &ForecastOptions::default())
        .expect("plans")
        .problem;
    assert_eq!(
        solve_as(&problem, Formulation::Compact).status,
        Status::Infeasible
    );
    let (s, report) = colgen::solve(
        &problem,
        &SolveOptions {
            formulation: Formulation::PriceAndBranch,
            ..SolveOptions::default()
        },
    )
    .expect("answers");
    assert!(report.converged);
    assert_eq!(s.status, Status::Infeasible);
    assert!(s.roster.is_none());
    let infeasible = Solution {
        status: Status::Infeasible,
        ..s
    };
    branch_and_price_proves(&problem, &infeasible).expect("branch-and-price says infeasible");
}

/// The benchmark format's request and cover sections for the random problems: requests
/// `(nurse, day, on (a day shift) or off (a night), weight)`, and covers `(minimum, under
/// weight, over weight)` per day for D then N.
fn requests_and_covers(
    requests: &[(usize, usize, bool, u32)],
    covers: impl Iterator<Item = (u32, u32, u32)>,
) -> String {
    let mut text = String::from("SECTION_SHIFT_ON_REQUESTS\n");
    for &(e, d, _, w) in requests.iter().filter(|r| r.2) {
        text += &format!("E{e},{d},D,{w}\n");
    }
    text += "SECTION_SHIFT_OFF_REQUESTS\n";
    for &(e, d, _, w) in requests.iter().filter(|r| !r.2) {
        text += &format!("E{e},{d},N,{w}\n");
    }
    text += "SECTION_COVER\n";
    for (k, (min, under, over)) in covers.enumerate() {
        let shift = if k % 2 == 0 { "D" } else { "N" };
        text += &format!("{},{shift},{min},{under},{over}\n", k / 2);
    }
    text
}

/// Branch-and-price alone ([`colgen::prove`], no incumbent) within `seconds`.
fn tree_alone(
    problem: &Problem,
    seconds: f64,
) -> Result<(Solution, colgen::PricingReport), proptest::test_runner::TestCaseError> {
    let options = SolveOptions {
        formulation: Formulation::BranchAndPrice,
        time_limit: seconds,
        ..SolveOptions::default()
    };
    colgen::prove(problem, &options, None)
        .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Random 7-day benchmark problems (three nurses, day and night shifts, night → day
    /// forbidden, random contracts, days off, requests and covers): both formulations give
    /// the same status and optimum.
    #[test]
    fn random_benchmark_problems_reach_the_same_optimum(
        contracts in proptest::collection::vec(
            (1u32..6, 0u32..4, 2u32..5, 0u32..3, 2u32..5, 1u32..3, 1u32..3, 0u32..3),
            3,
        ),
        days_off in proptest::collection::vec(0usize..10, 3),
        requests in proptest::collection::vec((0usize..3, 0usize..7, proptest::bool::ANY, 1u32..4), 0..6),
        covers in proptest::collection::vec((0u32..3, 0u32..2, 1u32..100), 14),
    ) {
        let mut text = String::from(
            "SECTION_HORIZON\n7\nSECTION_SHIFTS\nD,480,\nN,600,D\nSECTION_STAFF\n",
        );
        for (i, &(d, n, max_min, min_min, max_run, min_run, min_off, weekends)) in
            contracts.iter().enumerate()
        {
            text += &format!(
                "E{i},D={d}|N={n},{},{},{max_run},{min_run},{min_off},{weekends}\n",
                max_min * 1000,
                min_min * 480,
            );
        }
        text += "SECTION_DAYS_OFF\n";
        for (i, &d) in days_off.iter().enumerate() {
            if d < 7 {
                text += &format!("E{i},{d}\n");
            }
        }
        text += &requests_and_covers(
            &requests,
            covers.iter().map(|&(min, over, under)| (min, under, over)),
        );
        let problem = benchmark::parse("random", &text, "<proptest>")
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let optimum = agree(&problem).map_err(proptest::test_runner::TestCaseError::fail)?;
        price_and_branch_holds(&problem, &optimum)
            .map_err(proptest::test_runner::TestCaseError::fail)?;
        branch_and_price_proves(&problem, &optimum)
            .map_err(proptest::test_runner::TestCaseError::fail)?;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Random 7-day problems with five nurses, minimum runs and shift maxima, whose pattern
    /// relaxation is often fractional: branch-and-price alone (no incumbent, no dive) must
    /// find and prove the optimum of every listed schedule's MIP, so its tree must branch
    /// completely and every node's bound must hold.
    #[test]
    fn the_tree_alone_proves_the_listed_optimum(
        contracts in proptest::collection::vec((2u32..5, 0u32..4, 2u32..4, 1u32..3), 5),
        requests in proptest::collection::vec((0usize..5, 0usize..7, proptest::bool::ANY, 1u32..9), 0..10),
        covers in proptest::collection::vec((1u32..4, 1u32..60, 1u32..60), 14),
    ) {
        let mut text = String::from(
            "SECTION_HORIZON\n7\nSECTION_SHIFTS\nD,480,\nN,600,D\nSECTION_STAFF\n",
        );
        for (i, &(d, n, min_run, min_off)) in contracts.iter().enumerate() {
            text += &format!("E{i},D={d}|N={n},5000,1440,4,{min_run},{min_off},1\n");
        }
        text += "SECTION_DAYS_OFF\n";
        text += &requests_and_covers(&requests, covers.iter().copied());
        let problem = benchmark::parse("random", &text, "<proptest>")
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
        let optimum = solve_as(&problem, Formulation::Patterns);
        let (s, report) = tree_alone(&problem, 120.0)?;
        proves(&problem, &optimum, &s, &report)
            .map_err(proptest::test_runner::TestCaseError::fail)?;
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

    /// Random staffing plans (ICU census and nurses, med-surg census, agency price,
    /// fairness): hard ratio covers that agency tops up, and identical nurses. Branch-and-price
    /// alone, given 5 s, must never claim a false optimum: proven, it is the listed optimum;
    /// out of time, its bound is at most the optimum and its roster (if any) at least it.
    /// Identical nurses make the tree symmetric (branching on one nurse leaves its twins
    /// free), so some plans stay open: see docs/staffing.md.
    #[test]
    fn the_tree_alone_never_claims_a_false_optimum_on_staffing_plans(
        icu_census in 1u32..6,
        icu_nurses in 3u32..7,
        ms_census in 2u32..14,
        agency in proptest::sample::select(vec![9000u32, 15000, 40000]),
        fairness in proptest::sample::select(vec![0u32, 150, 200, 250]),
    ) {
        let text = roster_file(icu_census)
            .replace("census = 6\n", &format!("census = {ms_census}\n"))
            .replace("prefix = \"ICU\"\ncount = 6", &format!("prefix = \"ICU\"\ncount = {icu_nurses}"))
            .replace("agency_hourly = 15000", &format!("agency_hourly = {agency}"))
            .replace("fairness_nights = 200", &format!("fairness_nights = {fairness}"));
        let problem = RosterFile::parse(&text, "<proptest>")
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?
            .plan(5, &CensusSnapshot::default(), &ForecastOptions::default())
            .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?
            .problem;
        let optimum = solve_as(&problem, Formulation::Patterns);
        let (s, report) = tree_alone(&problem, 5.0)?;
        if s.status == Status::TimeLimit || s.status == Status::NoSolution {
            let best = optimum.objective.expect("the listed MIP proves these plans");
            let bound = s.bound.expect("a converged root gives a bound");
            proptest::prop_assert!(bound <= best + 1e-6, "bound {} above optimum {}", bound, best);
            if let Some(z) = s.objective {
                proptest::prop_assert!(z >= best - 1e-6, "roster {} below optimum {}", z, best);
                proptest::prop_assert!(evaluate(&problem, s.roster.as_ref().expect("roster")).feasible());
            }
        } else {
            proves(&problem, &optimum, &s, &report)
                .map_err(proptest::test_runner::TestCaseError::fail)?;
        }
    }
}
