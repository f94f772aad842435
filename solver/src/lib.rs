//! # wardstream-solver
//!
//! Staffing recommendations: a nurse-rostering MIP on good_lp + HiGHS, fed by the live
//! `census` view, validated on the Curtois & Qu benchmark instances in
//! `../shared/data/nurse-rostering-curtois-qu`.
//!
//! - [`problem`]: the model every front end maps onto — shift types, units, nurses with skills
//!   and contracts, cover requirements, agency staff, fairness and re-planning weights.
//! - [`benchmark`]: the Curtois & Qu instance format and `best_known.csv`.
//! - [`staffing`]: hospital roster files; demand per unit and hour from a ratio table held as
//!   data (default California Title 22 §70217) applied to a census [`forecast`].
//! - [`mip`]: the integer programme and its solve, reporting incumbent, bound and gap.
//! - [`lns`]: neighbourhood search around the MIP for large instances (`--search lns`).
//! - [`check`]: an independent checker that re-scores any roster and lists every hard
//!   violation.
//! - [`report`]: ratio compliance per unit-hour, costs, agency gaps, recommendations in words.
//! - [`explain`]: why a problem is infeasible (capacity, then elastic slack).
//! - [`replan`]: re-optimising after the census changes, penalising changes to the published
//!   roster and warm-starting from it.

pub mod benchmark;
pub mod check;
pub mod colgen;
mod error;
pub mod explain;
pub mod forecast;
mod labelling;
pub mod lns;
pub mod mip;
mod patterns;
pub mod problem;
pub mod report;
mod runs;
pub mod staffing;

pub use check::{Evaluation, Violation, evaluate};
pub use error::{Error, Result};
pub use mip::{Formulation, Search, Solution, SolveOptions, Status, solve};
pub use problem::{
    Agency, AgencyBooking, Assignment, Contract, Cover, Employee, Pay, Problem, Request, Roster,
    ShiftType, Skills, Unit, Weights,
};
pub use report::StaffingReport;
pub use staffing::{RosterFile, StaffingPlan};

/// Solves a staffing plan and reports on it; when it is infeasible, explains why.
///
/// `published`: the roster already published, when re-planning — changes to it are penalised
/// by the roster file's `change_penalty`, and the solve starts from it.
///
/// # Errors
/// [`Error::Solver`] when HiGHS fails.
pub fn recommend(
    plan: &StaffingPlan,
    published: Option<&Roster>,
    options: &SolveOptions,
) -> Result<StaffingReport> {
    let mut plan = plan.clone();
    let mut options = options.clone();
    if let Some(published) = published {
        let kept = replan::admissible(&plan.problem, published);
        plan.problem.published = Some(published.clone());
        options.warm_start = Some(kept);
    }
    let (solution, _) = optimise(&plan.problem, &options)?;
    let explanation = if solution.status == Status::Infeasible {
        explain::explain(&plan.problem, &options)?
    } else {
        Vec::new()
    };
    Ok(report::report(&plan, &solution, explanation))
}

/// Solves `problem` as `options.search` says: one MIP solve, or MIP → neighbourhood search →
/// MIP ([`lns::solve_with_search`], seeded by the HiGHS seed 0 so runs repeat), with the
/// search's report when there was one.
///
/// # Errors
/// [`Error::Solver`] when HiGHS fails.
pub fn optimise(
    problem: &Problem,
    options: &SolveOptions,
) -> Result<(Solution, Option<lns::LnsReport>)> {
    match options.search {
        Search::Mip => Ok((solve(problem, options)?, None)),
        Search::Lns => lns::solve_with_search(problem, options, 0).map(|(s, r)| (s, Some(r))),
    }
}

/// Re-planning helpers.
pub mod replan {
    use crate::problem::{Problem, Roster};

    /// The part of `published` the problem can still hold (known nurse, day, shift and unit,
    /// nurse eligible), as a warm start.
    pub fn admissible(problem: &Problem, published: &Roster) -> Roster {
        let mut kept = Roster {
            assignments: published
                .assignments
                .iter()
                .filter(|a| {
                    a.employee < problem.employees.len()
                        && a.day < problem.days
                        && a.shift < problem.shifts.len()
                        && a.unit < problem.units.len()
                        && problem.eligible(a.employee, a.day, a.unit)
                })
                .copied()
                .collect(),
            agency: published
                .agency
                .iter()
                .filter(|b| {
                    b.day < problem.days
                        && b.shift < problem.shifts.len()
                        && b.unit < problem.units.len()
                })
                .copied()
                .collect(),
        };
        kept.assignments.sort();
        kept
    }
}
