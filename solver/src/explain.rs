//! Why a staffing problem has no feasible roster, in words.
//!
//! Two steps, cheapest first:
//! 1. **Capacity**: a hard cover needs more nurses than could possibly work it — qualified for
//!    the unit and the cover's skills, not on a day off — plus the agency limit.
//! 2. **Elastic re-solve**: every hard cover becomes soft with a large penalty per nurse short
//!    (elastic slack); the covers still short in that optimum are the ones the contracts, days
//!    off and rest rules cannot staff together. If even that has no solution, the contracts'
//!    minimum hours are relaxed too, and the nurses who cannot reach theirs are named.

use crate::mip::{SolveOptions, Status, solve};
use crate::problem::{Problem, Skills};
use crate::{Result, check};

/// Penalty per nurse short in the elastic re-solve: above any cost of a nurse-shift.
const ELASTIC: f64 = 1.0e9;

/// Explains why `problem` is infeasible. Returns one sentence per conflict found.
///
/// # Errors
/// [`crate::Error::Solver`] when HiGHS fails on the elastic model.
pub fn explain(problem: &Problem, options: &SolveOptions) -> Result<Vec<String>> {
    let mut out = capacity(problem);
    if !out.is_empty() {
        return Ok(out);
    }
    let mut elastic = problem.clone();
    for c in elastic.covers.iter_mut().filter(|c| c.hard) {
        c.hard = false;
        c.under_weight = ELASTIC;
    }
    let mut solution = solve(&elastic, options)?;
    if solution.roster.is_none() {
        // Contracts conflict by themselves: relax minimum hours, say whose cannot be met.
        for (ei, e) in problem.employees.iter().enumerate() {
            let reachable = (0..problem.days)
                .filter(|&d| e.units.iter().any(|&u| problem.eligible(ei, d, u)))
                .count() as u32
                * problem.shifts.iter().map(|s| s.minutes).max().unwrap_or(0);
            let cap = reachable.min(e.contract.max_minutes);
            if cap < e.contract.min_minutes {
                out.push(format!(
                    "{}: the contract asks for at least {} h, but days off and limits leave at most {} h",
                    e.id,
                    e.contract.min_minutes / 60,
                    cap / 60
                ));
            }
        }
        for e in &mut elastic.employees {
            e.contract.min_minutes = 0;
        }
        solution = solve(&elastic, options)?;
        if solution.roster.is_some() && out.is_empty() {
            out.push(
                "the contracts' minimum hours cannot all be met together with days off, rest and consecutive-day rules"
                    .into(),
            );
        }
    }
    if let Some(roster) = &solution.roster {
        for (ci, c) in problem.covers.iter().enumerate().filter(|(_, c)| c.hard) {
            let staffed = check::staffed(problem, roster, ci);
            if staffed < c.min {
                out.push(format!(
                    "{}: needs {}, the best roster within contracts, days off and rest rules staffs {} (short {})",
                    c.label,
                    c.min,
                    staffed,
                    c.min - staffed
                ));
            }
        }
    } else if solution.status == Status::NoSolution {
        out.push(
            "the time limit ended before the conflict could be located; allow more time".into(),
        );
    }
    if out.is_empty() {
        out.push(
            "the solver proved infeasibility but no single cover or contract explains it".into(),
        );
    }
    Ok(out)
}

/// Hard covers that need more nurses than could ever work them.
fn capacity(p: &Problem) -> Vec<String> {
    let mut out = Vec::new();
    for c in p.covers.iter().filter(|c| c.hard) {
        let mut names = Vec::new();
        for (ei, e) in p.employees.iter().enumerate() {
            let could = e.skills.has_any(c.skills)
                && c.slots
                    .iter()
                    .any(|&(d, s)| p.eligible(ei, d, c.unit) && e.contract.max_shifts[s] > 0);
            if could {
                names.push(e.id.as_str());
            }
        }
        let agency = p
            .agency
            .as_ref()
            .filter(|ag| ag.skills.has_any(c.skills))
            .map_or(0, |ag| ag.max_per_shift as usize * c.slots.len());
        if names.len() + agency < c.min as usize {
            let skills = if c.skills == Skills::NONE {
                "any".to_owned()
            } else {
                c.skills.names().join(" or ")
            };
            out.push(format!(
                "{}: needs {}, but only {} nurse(s) qualified ({skills}, {} competency) and available could work it{}{}",
                c.label,
                c.min,
                names.len(),
                p.units[c.unit].name,
                if names.is_empty() { String::new() } else { format!(": {}", names.join(", ")) },
                if agency > 0 { format!(", plus at most {agency} agency") } else { String::new() },
            ));
        }
    }
    out
}
