//! Large-neighbourhood search around the MIP, for instances where HiGHS's own heuristics find
//! poor rosters (or none) in the time given while its bound is already close.
//!
//! A move frees a few nurses and re-solves them exactly with the MIP while every other nurse
//! keeps their roster: the sub-problem holds only the free nurses, and each cover's minimum
//! and preferred maximum are reduced by what the kept nurses already staff, so the
//! sub-problem's objective is the full objective up to a constant (fairness maxima are taken
//! over the free nurses only). A move is kept when the checker ([`crate::evaluate`]) scores
//! the whole roster lower and finds no hard violation — the search never trusts the
//! sub-problem's objective. Without a starting roster, one is built by solving the nurses in
//! groups, each group against what the groups before it staff.
//!
//! This is the fix-and-optimise / MIP-based neighbourhood search used for the Curtois & Qu
//! instances (e.g. Della Croce & Salassa, *A variable neighborhood search based matheuristic
//! for nurse rostering problems*, Ann. Oper. Res. 218 (2014) 185–199).

use std::time::{Duration, Instant};

use rand::rngs::Xoshiro256PlusPlus;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

use crate::Result;
use crate::check::{evaluate, staffed};
use crate::mip::{Formulation, SolveOptions, solve};
use crate::problem::{Problem, Roster};

/// What a search did.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct LnsReport {
    /// Moves tried (sub-problems solved).
    pub moves: usize,
    /// Moves that lowered the checker's score.
    pub improvements: usize,
    /// Most nurses freed in one move (the neighbourhood grows when moves stop improving).
    pub largest_move: usize,
    /// Checker score of the starting roster (after construction, if one was built).
    pub start_score: Option<f64>,
    /// Checker score at the end.
    pub end_score: Option<f64>,
    /// Seconds spent.
    pub seconds: f64,
}

/// The sub-problem over `free` nurses (indices into `problem.employees`, in order) with the
/// other nurses' assignments in `roster` kept: covers lose what the kept nurses staff.
pub fn sub_problem(problem: &Problem, roster: &Roster, free: &[usize]) -> Problem {
    let is_free = |e: usize| free.binary_search(&e).is_ok();
    let kept = Roster {
        assignments: roster
            .assignments
            .iter()
            .filter(|a| !is_free(a.employee))
            .copied()
            .collect(),
        agency: Vec::new(),
    };
    let mut sub = problem.clone();
    sub.employees = free.iter().map(|&e| problem.employees[e].clone()).collect();
    for (c, cover) in sub.covers.iter_mut().enumerate() {
        let by_kept = staffed(problem, &kept, c);
        cover.min = cover.min.saturating_sub(by_kept);
        cover.preferred_max = cover.preferred_max.saturating_sub(by_kept);
    }
    sub.published = problem.published.as_ref().map(|p| restrict(p, free));
    sub
}

/// `roster`'s assignments of the `free` nurses, renumbered as in [`sub_problem`]; agency
/// bookings are kept as they are.
pub fn restrict(roster: &Roster, free: &[usize]) -> Roster {
    Roster {
        assignments: roster
            .assignments
            .iter()
            .filter_map(|a| {
                free.binary_search(&a.employee).ok().map(|i| {
                    let mut a = *a;
                    a.employee = i;
                    a
                })
            })
            .collect(),
        agency: roster.agency.clone(),
    }
}

/// `roster` with the `free` nurses' assignments and all agency bookings replaced by the
/// sub-problem's `sub`.
fn merge(roster: &Roster, free: &[usize], sub: &Roster) -> Roster {
    let mut out = Roster {
        assignments: roster
            .assignments
            .iter()
            .filter(|a| free.binary_search(&a.employee).is_err())
            .copied()
            .collect(),
        agency: sub.agency.clone(),
    };
    out.assignments.extend(sub.assignments.iter().map(|a| {
        let mut a = *a;
        a.employee = free[a.employee];
        a
    }));
    out.assignments.sort();
    out
}

/// Solves the sub-problem of `free` around `roster` and returns the merged roster, or `None`
/// when the sub-problem has no roster in the time given.
fn re_solve(
    problem: &Problem,
    roster: &Roster,
    free: &[usize],
    options: &SolveOptions,
    seconds: f64,
) -> Result<Option<Roster>> {
    let sub = sub_problem(problem, roster, free);
    let opts = SolveOptions {
        time_limit: seconds,
        relative_gap: 0.0,
        log_file: None,
        warm_start: Some(restrict(roster, free)),
        // A few nurses: listing or the compact model beats generating columns.
        formulation: match options.formulation {
            Formulation::PriceAndBranch | Formulation::BranchAndPrice => Formulation::Auto,
            f => f,
        },
        ..options.clone()
    };
    let solution = solve(&sub, &opts)?;
    Ok(solution.roster.map(|r| merge(roster, free, &r)))
}

/// Most nurses freed in one move.
const MAX_MOVE: usize = 24;

/// Nurses per move at first: a tenth of the staff, 3 to 8 (at least 1).
fn move_size(n: usize) -> usize {
    (n / 10).clamp(3, 8).min(n).max(1)
}

/// Improves `start` (or, when `None`, a roster built group by group) until `deadline`.
/// Returns the best roster the checker finds feasible, if any, and what the search did.
///
/// # Errors
/// [`crate::Error::Solver`] when HiGHS fails on a sub-problem.
pub fn improve(
    problem: &Problem,
    start: Option<Roster>,
    deadline: Instant,
    options: &SolveOptions,
    seed: u64,
) -> Result<(Option<Roster>, LnsReport)> {
    let started = Instant::now();
    let n = problem.employees.len();
    let mut report = LnsReport::default();
    let left = || deadline.saturating_duration_since(Instant::now());
    let mut k = move_size(n);
    report.largest_move = k;
    // Construction: groups of k nurses in order, each solved against the groups before.
    let mut current = match start {
        Some(r) => r,
        None => {
            let mut built = Roster::default();
            for group in (0..n).collect::<Vec<_>>().chunks(k) {
                let budget = left().as_secs_f64() / 2.0;
                if budget < 0.05 {
                    return Ok((None, report));
                }
                match re_solve(problem, &built, group, options, budget.min(10.0))? {
                    Some(r) => built = r,
                    None => return Ok((None, report)),
                }
                report.moves += 1;
            }
            built
        }
    };
    let first = evaluate(problem, &current);
    if !first.feasible() {
        report.seconds = started.elapsed().as_secs_f64();
        return Ok((None, report));
    }
    let mut score = first.total;
    report.start_score = Some(score);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut order: Vec<usize> = (0..n).collect();
    // Moves without improvement since the neighbourhood last grew.
    let mut stale = 0;
    while left() > Duration::from_millis(100) && n > 0 {
        // Random nurses, or a block of nurses next to each other in the file (teams).
        let mut free: Vec<usize> = if rng.random_range(0..2) == 0 {
            order.shuffle(&mut rng);
            order[..k].to_vec()
        } else {
            let first = rng.random_range(0..n);
            (0..k).map(|i| (first + i) % n).collect()
        };
        free.sort_unstable();
        let seconds = left().as_secs_f64().min(5.0);
        report.moves += 1;
        let Some(candidate) = re_solve(problem, &current, &free, options, seconds)? else {
            continue;
        };
        let eval = evaluate(problem, &candidate);
        if eval.feasible() && eval.total < score - 1e-6 {
            score = eval.total;
            current = candidate;
            report.improvements += 1;
            stale = 0;
        } else {
            // A local optimum for this size: after about two passes over the staff without
            // improvement, free one nurse more per move.
            stale += 1;
            if stale >= 2 * n.div_ceil(k) && k < n.min(MAX_MOVE) {
                k += 1;
                stale = 0;
            }
        }
        report.largest_move = report.largest_move.max(k);
    }
    report.end_score = Some(score);
    report.seconds = started.elapsed().as_secs_f64();
    Ok((Some(current), report))
}

/// Shares of the time limit: the first MIP solve (bound and a first roster), then the search,
/// then a last MIP solve warm-started from the search's best roster.
const FIRST_SHARE: f64 = 0.3;
const SEARCH_SHARE: f64 = 0.5;

/// Solves `problem` within `options.time_limit` as MIP → neighbourhood search → MIP: the
/// first MIP gives the bound (and a roster when it finds one; an optimal or infeasible answer
/// is returned as it is), the search improves or builds a roster, and the last MIP starts from
/// it. The result carries the best roster by the checker's score, its score as the objective,
/// the best bound of the two MIP solves, and the search's report.
///
/// # Errors
/// As [`solve`].
pub fn solve_with_search(
    problem: &Problem,
    options: &SolveOptions,
    seed: u64,
) -> Result<(crate::Solution, LnsReport)> {
    use crate::mip::Status;
    let started = Instant::now();
    let budget = options.time_limit.max(0.0);
    let first = solve(
        problem,
        &SolveOptions {
            time_limit: budget * FIRST_SHARE,
            ..options.clone()
        },
    )?;
    if matches!(first.status, Status::Optimal | Status::Infeasible) {
        return Ok((first, LnsReport::default()));
    }
    let deadline = started + Duration::from_secs_f64(budget * (FIRST_SHARE + SEARCH_SHARE));
    let (searched, report) = improve(problem, first.roster.clone(), deadline, options, seed)?;
    let rest = (budget - started.elapsed().as_secs_f64()).max(0.001);
    let last = solve(
        problem,
        &SolveOptions {
            time_limit: rest,
            warm_start: searched.clone().or_else(|| first.roster.clone()),
            ..options.clone()
        },
    )?;
    let score = |r: &Option<Roster>| {
        r.as_ref()
            .map(|r| evaluate(problem, r))
            .filter(crate::Evaluation::feasible)
            .map(|e| e.total)
    };
    let candidates = [
        (last.roster.clone(), score(&last.roster)),
        (searched.clone(), score(&searched)),
        (first.roster.clone(), score(&first.roster)),
    ];
    let best = candidates
        .into_iter()
        .filter_map(|(r, s)| Some((r?, s?)))
        .min_by(|a, b| a.1.total_cmp(&b.1));
    let bound = match (first.bound, last.bound) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let (roster, objective) = match best {
        Some((r, s)) => (Some(r), Some(s)),
        None => (None, None),
    };
    let proven = last.status == Status::Optimal
        && objective
            .zip(last.objective)
            .is_some_and(|(o, l)| (o - l).abs() < 1e-6);
    let status = if proven {
        Status::Optimal
    } else if last.status == Status::Infeasible {
        Status::Infeasible
    } else if roster.is_some() {
        Status::TimeLimit
    } else {
        Status::NoSolution
    };
    let gap = crate::mip::relative_gap(objective, bound);
    Ok((
        crate::Solution {
            status,
            roster,
            objective,
            bound,
            gap,
            seconds: started.elapsed().as_secs_f64(),
            build_seconds: first.build_seconds,
            variables: first.variables,
            constraints: first.constraints,
            formulation: first.formulation,
            pricing: first.pricing.clone(),
        },
        report,
    ))
}
