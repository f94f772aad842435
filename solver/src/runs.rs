//! Runs of working days and days off as a finite automaton, for the network-flow form of the
//! consecutive-days rules.
//!
//! A nurse's work/off sequence is a path through states "working, k-th day of the run" and
//! "off, k-th day of the break"; the contract's maximum and minimum consecutive working days
//! and minimum consecutive days off decide which transitions exist. In the MIP each nurse
//! gets one unit of flow through the time-expanded graph of this automaton, and the flow
//! into working states on day `d` equals the nurse's shifts on `d`. A flow path is a legal
//! sequence, so the linear relaxation only mixes legal sequences — much tighter than window
//! inequalities (the shortest-path / flow view of rostering; e.g. Burke, De Causmaecker,
//! Vanden Berghe & Van Landeghem, *The state of the art of nurse rostering*, J. Scheduling
//! 7 (2004) 441–499). With integral shifts the path is unique, so the flow columns need no
//! integrality.
//!
//! Boundary rules follow the Curtois & Qu benchmark (as [`crate::check`]): the days before
//! the horizon are off (maximum consecutive counts from day 0), and a run touching either
//! end of the horizon is exempt from the minimum-length rules.

use crate::problem::{Contract, Problem};

/// Contracts allowing at most this many weekends count them in the flow (the graph grows by
/// a factor of `max + 1`); larger limits keep only the MIP's weekend rows.
pub(crate) const MAX_WEEKENDS_IN_FLOW: u32 = 3;

/// The weekend limit the flow's nodes count up to, if the contract's limit binds over the
/// horizon's `weekend_count` weekends and is small enough.
pub(crate) fn weekend_cap(contract: &Contract, weekend_count: usize) -> Option<u32> {
    ((contract.max_weekends as usize) < weekend_count
        && contract.max_weekends <= MAX_WEEKENDS_IN_FLOW)
        .then_some(contract.max_weekends)
}

/// Whether working on day `d` starts a new worked weekend: `d` is a weekend day and the day
/// before was not worked in the same weekend.
pub(crate) fn starts_weekend(problem: &Problem, d: usize, worked_day_before: bool) -> bool {
    problem
        .weekend_of(d)
        .is_some_and(|k| !(d > 0 && worked_day_before && problem.weekend_of(d - 1) == Some(k)))
}

/// One state of the automaton.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RunState {
    /// The `k`-th working day of a run that started after a break inside the horizon.
    Work(u32),
    /// The `k`-th working day of the run that started on day 0 (exempt from the minimum).
    FirstWork(u32),
    /// The `k`-th day off of a break (the last state: at least the minimum).
    Off(u32),
}

impl RunState {
    pub(crate) fn working(self) -> bool {
        !matches!(self, RunState::Off(_))
    }
}

/// The automaton of one contract over a horizon.
#[derive(Clone, Debug)]
pub(crate) struct RunAutomaton {
    pub(crate) states: Vec<RunState>,
    /// Successors of each state (indices into `states`).
    pub(crate) next: Vec<Vec<usize>>,
    /// States day 0 may be in.
    pub(crate) initial: Vec<usize>,
}

impl RunAutomaton {
    /// The automaton of `contract` for a horizon of `days` days. A maximum of at least
    /// `days` is no maximum: the run counter then stops at the minimum and loops.
    pub(crate) fn new(contract: &Contract, days: usize) -> Self {
        let horizon = u32::try_from(days).unwrap_or(u32::MAX);
        let max = (contract.max_consecutive < horizon).then_some(contract.max_consecutive);
        let min_on = contract.min_consecutive.max(1);
        let min_off = contract.min_consecutive_off.max(1);
        let work_top = max.unwrap_or(min_on);
        let first_top = max.unwrap_or(1);
        let mut states = Vec::new();
        states.extend((1..=work_top).map(RunState::Work));
        states.extend((1..=first_top).map(RunState::FirstWork));
        states.extend((1..=min_off).map(RunState::Off));
        let index = |s: RunState| states.iter().position(|&t| t == s);
        let next = states
            .iter()
            .map(|&s| {
                let mut out = Vec::new();
                match s {
                    RunState::Work(k) => {
                        if k < work_top {
                            out.extend(index(RunState::Work(k + 1)));
                        } else if max.is_none() {
                            out.extend(index(s));
                        }
                        if k >= min_on {
                            out.extend(index(RunState::Off(1)));
                        }
                    }
                    RunState::FirstWork(k) => {
                        if k < first_top {
                            out.extend(index(RunState::FirstWork(k + 1)));
                        } else if max.is_none() {
                            out.extend(index(s));
                        }
                        out.extend(index(RunState::Off(1)));
                    }
                    RunState::Off(k) => {
                        out.extend(index(RunState::Off((k + 1).min(min_off))));
                        if k == min_off {
                            out.extend(index(RunState::Work(1)));
                        }
                    }
                }
                out
            })
            .collect();
        let initial = [RunState::FirstWork(1), RunState::Off(min_off)]
            .into_iter()
            .filter_map(index)
            .collect();
        RunAutomaton {
            states,
            next,
            initial,
        }
    }

    /// The states of a work/off sequence, or `None` when it breaks a rule.
    pub(crate) fn path(&self, working: &[bool]) -> Option<Vec<usize>> {
        let mut path: Vec<usize> = Vec::with_capacity(working.len());
        for &on in working {
            let candidates: &[usize] = match path.last() {
                None => &self.initial,
                Some(&s) => &self.next[s],
            };
            let s = *candidates
                .iter()
                .find(|&&t| self.states[t].working() == on)?;
            path.push(s);
        }
        Some(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract(max: u32, min: u32, min_off: u32) -> Contract {
        Contract {
            max_consecutive: max,
            min_consecutive: min,
            min_consecutive_off: min_off,
            ..Contract::unlimited(1)
        }
    }

    fn legal(a: &RunAutomaton, s: &str) -> bool {
        let w: Vec<bool> = s.chars().map(|c| c == 'x').collect();
        a.path(&w).is_some()
    }

    #[test]
    fn sequences_follow_the_benchmark_rules() {
        let a = RunAutomaton::new(&contract(3, 2, 2), 10);
        assert!(legal(&a, "xxx..xx..x"), "runs touching the end are exempt");
        assert!(
            legal(&a, "x..xxx...."),
            "a run from day 0 is exempt from the minimum"
        );
        assert!(legal(&a, ".xx..xxx.."));
        assert!(!legal(&a, "xxxx......"), "four in a row breaks max 3");
        assert!(!legal(&a, "..x..xx..."), "a one-day run inside");
        assert!(!legal(&a, "xx.xx....."), "a one-day break inside");
        assert!(legal(&a, ".xx.......") && legal(&a, "........xx"));
    }

    #[test]
    fn no_maximum_loops_and_stays_small() {
        let a = RunAutomaton::new(&contract(u32::MAX, 2, 1), 28);
        assert!(a.states.len() <= 4, "{:?}", a.states);
        let long: String = "x".repeat(28);
        assert!(legal(&a, &long));
        assert!(legal(&a, &format!(".{}", "x".repeat(27))));
        assert!(!legal(&a, &format!("xx.x.{}", "x".repeat(23))));
    }

    proptest::proptest! {
        /// The automaton accepts exactly the sequences the independent checker passes on
        /// run lengths (maximum and minimum consecutive shifts, minimum days off).
        #[test]
        fn accepts_what_the_checker_accepts(
            days in 1usize..16,
            max in 1u32..7,
            min in 1u32..4,
            min_off in 1u32..4,
            bits in proptest::collection::vec(proptest::bool::ANY, 16),
        ) {
            let text = format!(
                "SECTION_HORIZON\n{days}\nSECTION_SHIFTS\nD,480,\nSECTION_STAFF\n\
                 A,D={days},100000,0,{max},{min},{min_off},{days}\nSECTION_COVER\n"
            );
            let problem = crate::benchmark::parse("p", &text, "proptest")
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            let on = &bits[..days];
            let work: Vec<Option<usize>> = on.iter().map(|&b| b.then_some(0)).collect();
            let checker_ok = !crate::check::contract_violations(&problem, 0, &work)
                .iter()
                .any(|v| matches!(
                    v,
                    crate::Violation::MaxConsecutive { .. }
                        | crate::Violation::MinConsecutive { .. }
                        | crate::Violation::MinConsecutiveOff { .. }
                ));
            let automaton = RunAutomaton::new(&problem.employees[0].contract, days);
            proptest::prop_assert_eq!(automaton.path(on).is_some(), checker_ok, "{:?}", on);
        }
    }
}
