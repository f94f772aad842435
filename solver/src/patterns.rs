//! Every legal schedule of each nurse, for the pattern (set-partitioning) form of the MIP.
//!
//! A *pattern* is one nurse's whole schedule over the horizon: the shift and unit worked on
//! each day, or none. When every nurse's legal patterns can be listed, the roster is a choice
//! of one pattern per nurse, and the MIP needs only the covers as coupling rows. Its linear
//! relaxation is the convex hull of each nurse's legal schedules — the Dantzig–Wolfe
//! reformulation of the compact model, whose bound is the Lagrangian bound of relaxing the
//! covers (Jaumard, Semet & Vovor, *A generalized linear programming model for nurse
//! scheduling*, EJOR 107 (1998) 1–18). That bound is far tighter than the compact model's,
//! so small instances close at the root instead of branching.
//!
//! The listing is a depth-first search over days that prunes only partial schedules no
//! completion can make legal (a successor the run automaton lacks, a forbidden succession, a
//! shift-type, minute or weekend limit already passed, minimum minutes out of reach); every
//! complete schedule is then confirmed by the independent checker's
//! [`crate::check::contract_violations`]. It stops as soon as the count passes a limit, so
//! trying costs little on instances whose schedules are too many to list.

use crate::check::contract_violations;
use crate::problem::{Problem, Roster};
use crate::runs::RunAutomaton;

/// One nurse's schedule: `(shift, unit)` worked on each day of the horizon, or `None` off.
pub(crate) type Pattern = Vec<Option<(usize, usize)>>;

/// The legal patterns of every nurse (indexed like [`Problem::employees`]), or `None` when
/// there are more than `limit` in all.
pub(crate) fn enumerate(problem: &Problem, limit: usize) -> Option<Vec<Vec<Pattern>>> {
    let mut all = Vec::with_capacity(problem.employees.len());
    let mut total = 0usize;
    for e in 0..problem.employees.len() {
        let found = enumerate_one(problem, e, limit - total)?;
        total += found.len();
        all.push(found);
    }
    Some(all)
}

/// The shift worked on each day of `pattern`, as the checker takes it.
fn shifts(pattern: &Pattern) -> Vec<Option<usize>> {
    pattern.iter().map(|w| w.map(|(s, _)| s)).collect()
}

/// Each nurse's schedule in `roster`, as a pattern (assignments outside the problem's
/// nurses, days, shifts or units are left out).
pub(crate) fn of_roster(problem: &Problem, roster: &Roster) -> Vec<Pattern> {
    let mut out: Vec<Pattern> = vec![vec![None; problem.days]; problem.employees.len()];
    for a in &roster.assignments {
        if a.employee < out.len()
            && a.day < problem.days
            && a.shift < problem.shifts.len()
            && a.unit < problem.units.len()
        {
            out[a.employee][a.day] = Some((a.shift, a.unit));
        }
    }
    out
}

/// Whether `pattern` is a legal schedule of `employee`: eligible for every unit and day it
/// works, and every contract rule the checker knows.
pub(crate) fn is_legal(problem: &Problem, employee: usize, pattern: &Pattern) -> bool {
    pattern
        .iter()
        .enumerate()
        .all(|(d, w)| w.is_none_or(|(_, u)| problem.eligible(employee, d, u)))
        && contract_violations(problem, employee, &shifts(pattern)).is_empty()
}

/// Search state for one nurse.
struct Search<'a> {
    problem: &'a Problem,
    employee: usize,
    automaton: RunAutomaton,
    /// `(shift, unit)` choices on each day (eligibility and zero shift limits applied).
    choices: Vec<Vec<(usize, usize)>>,
    /// Most minutes the days from `d` on can add: `reachable[d]`.
    reachable: Vec<u32>,
    limit: usize,
    found: Vec<Pattern>,
    current: Pattern,
    per_shift: Vec<u32>,
    minutes: u32,
    weekends: u32,
    /// The last weekend counted in `weekends`.
    last_weekend: Option<usize>,
}

/// The legal patterns of `employee`, or `None` when there are more than `limit`.
fn enumerate_one(problem: &Problem, employee: usize, limit: usize) -> Option<Vec<Pattern>> {
    let e = &problem.employees[employee];
    let days = problem.days;
    let choices: Vec<Vec<(usize, usize)>> = (0..days)
        .map(|d| {
            e.units
                .iter()
                .filter(|&&u| problem.eligible(employee, d, u))
                .flat_map(|&u| {
                    (0..problem.shifts.len())
                        .filter(|&s| e.contract.max_shifts[s] > 0)
                        .map(move |s| (s, u))
                })
                .collect()
        })
        .collect();
    let mut reachable = vec![0u32; days + 1];
    for d in (0..days).rev() {
        let most = choices[d]
            .iter()
            .map(|&(s, _)| problem.shifts[s].minutes)
            .max()
            .unwrap_or(0);
        reachable[d] = reachable[d + 1].saturating_add(most);
    }
    let mut search = Search {
        problem,
        employee,
        automaton: RunAutomaton::new(&e.contract, days),
        choices,
        reachable,
        limit,
        found: Vec::new(),
        current: Vec::with_capacity(days),
        per_shift: vec![0; problem.shifts.len()],
        minutes: 0,
        weekends: 0,
        last_weekend: None,
    };
    search.extend(None).then_some(search.found)
}

impl Search<'_> {
    /// Extends `current` (whose last day is in automaton state `state`) by every legal
    /// choice for the next day. Returns false once more than `limit` patterns were found.
    fn extend(&mut self, state: Option<usize>) -> bool {
        let d = self.current.len();
        let problem = self.problem;
        let contract = &problem.employees[self.employee].contract;
        if d == problem.days {
            if contract_violations(problem, self.employee, &shifts(&self.current)).is_empty() {
                if self.found.len() == self.limit {
                    return false;
                }
                self.found.push(self.current.clone());
            }
            return true;
        }
        if self.minutes.saturating_add(self.reachable[d]) < contract.min_minutes {
            return true;
        }
        let successors: &[usize] = match state {
            None => &self.automaton.initial,
            Some(s) => &self.automaton.next[s],
        };
        let step = |on: bool| {
            successors
                .iter()
                .copied()
                .find(|&t| self.automaton.states[t].working() == on)
        };
        let (off, on) = (step(false), step(true));
        if let Some(t) = off {
            self.current.push(None);
            let more = self.extend(Some(t));
            self.current.pop();
            if !more {
                return false;
            }
        }
        let Some(t) = on else { return true };
        let previous = d.checked_sub(1).and_then(|p| self.current[p]);
        let weekend = problem.weekend_of(d);
        let new_weekend = weekend.is_some() && weekend != self.last_weekend;
        if new_weekend && self.weekends + 1 > contract.max_weekends {
            return true;
        }
        for i in 0..self.choices[d].len() {
            let (s, u) = self.choices[d][i];
            let minutes = problem.shifts[s].minutes;
            if self.per_shift[s] + 1 > contract.max_shifts[s]
                || self.minutes.saturating_add(minutes) > contract.max_minutes
                || previous.is_some_and(|(p, _)| problem.shifts[p].forbidden_next.contains(&s))
            {
                continue;
            }
            self.per_shift[s] += 1;
            self.minutes += minutes;
            let saved = (self.weekends, self.last_weekend);
            if new_weekend {
                self.weekends += 1;
                self.last_weekend = weekend;
            }
            self.current.push(Some((s, u)));
            let more = self.extend(Some(t));
            self.current.pop();
            (self.weekends, self.last_weekend) = saved;
            self.minutes -= minutes;
            self.per_shift[s] -= 1;
            if !more {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every schedule of `days` days over the problem's shifts (one unit), by brute force.
    fn brute_force(problem: &Problem, employee: usize) -> Vec<Pattern> {
        let n = problem.shifts.len() + 1;
        let days = problem.days;
        let mut out = Vec::new();
        for code in 0..n.pow(days as u32) {
            let mut c = code;
            let p: Pattern = (0..days)
                .map(|_| {
                    let k = c % n;
                    c /= n;
                    (k > 0).then(|| (k - 1, 0))
                })
                .collect();
            if is_legal(problem, employee, &p) {
                out.push(p);
            }
        }
        out.sort();
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// The search lists exactly the schedules the checker passes: nothing legal is
        /// pruned, nothing illegal kept.
        #[test]
        fn lists_exactly_the_legal_schedules(
            days in 1usize..8,
            max_d in 0u32..8,
            max_n in 0u32..4,
            max_min in 0u32..5,
            min_min in 0u32..4,
            max_run in 1u32..5,
            min_run in 1u32..3,
            min_off in 1u32..3,
            max_weekends in 0u32..3,
            day_off in 0usize..10,
        ) {
            let text = format!(
                "SECTION_HORIZON\n{days}\nSECTION_SHIFTS\nD,480,\nN,600,D\n\
                 SECTION_STAFF\nA,D={max_d}|N={max_n},{},{},{max_run},{min_run},{min_off},\
                 {max_weekends}\n{}SECTION_COVER\n",
                max_min * 1000,
                min_min * 480,
                if day_off < days { format!("SECTION_DAYS_OFF\nA,{day_off}\n") } else { String::new() },
            );
            let problem = crate::benchmark::parse("p", &text, "proptest")
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let mut listed = enumerate(&problem, usize::MAX).expect("no limit").remove(0);
            listed.sort();
            proptest::prop_assert_eq!(listed, brute_force(&problem, 0));
        }
    }

    #[test]
    fn stops_past_the_limit() {
        let text = "SECTION_HORIZON\n10\nSECTION_SHIFTS\nD,480,\n\
                    SECTION_STAFF\nA,D=10,100000,0,10,1,1,10\nSECTION_COVER\n";
        let problem = crate::benchmark::parse("p", text, "test").expect("parses");
        assert_eq!(enumerate(&problem, 1024).map(|p| p[0].len()), Some(1024));
        assert!(enumerate(&problem, 1023).is_none());
    }
}
