//! Exact pricing for column generation: one nurse's cheapest legal schedule when every day's
//! choice has a cost, by a labelling algorithm over the days (a resource-constrained
//! shortest path: Irnich & Desaulniers, *Shortest path problems with resource constraints*,
//! in *Column Generation*, Springer 2005, 33–65).
//!
//! A label is a partial schedule up to some day. Its *key* is what decides which choices
//! may come next and what they cost: the state of the run automaton ([`crate::runs`]), which
//! already says whether the day before was worked (so whether a weekend day starts a new
//! worked weekend), and the shift worked that day (forbidden successions). Its *resources*
//! are what the contract limits: shifts of each type, paid minutes, weekends, and the
//! minutes of the current pay week when overtime is paid. A label dominates another with the
//! same key when it costs no more and every completion of the other is also legal for it at
//! no higher cost: no more shifts of any type, weekends or week minutes, and the same paid
//! minutes — or fewer once the contract minimum is reached. Only undominated labels are
//! extended, so the cheapest final label is the cheapest legal schedule: the pricing is exact
//! and its value is a proven bound, unlike a time-capped MIP.
//!
//! Legality is the independent checker's ([`crate::check::contract_violations`]); a property
//! test compares the result with the minimum over every schedule the pattern listing
//! ([`crate::patterns`]) finds.

use crate::patterns::Pattern;
use crate::problem::Problem;
use crate::runs::{RunAutomaton, starts_weekend};

/// Each day's choices for one nurse and their costs, in the objective's units.
#[derive(Clone, Debug)]
pub(crate) struct Arcs {
    /// Cost of a day off on each day; `None` where the nurse must work (branching).
    pub(crate) off: Vec<Option<f64>>,
    /// `(shift, unit, cost)` the nurse may work on each day (eligible, allowed by the
    /// contract's shift limits and by branching).
    pub(crate) work: Vec<Vec<(usize, usize, f64)>>,
    /// Cost added for each worked weekend.
    pub(crate) weekend: f64,
    /// Cost added to every schedule.
    pub(crate) constant: f64,
}

/// What [`cheapest`] found.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// The cheapest schedules, cheapest first, with their costs (overtime and
    /// [`Arcs::constant`] included); the first is the cheapest legal schedule. Empty when
    /// the nurse has no legal schedule under these arcs.
    Found(Vec<(f64, Pattern)>),
    /// A cutoff was given and no legal schedule costs less than it.
    NoneBelow,
    /// More than the label limit were created: no answer.
    TooMany,
}

/// A label to be: its key, its day's choice and its cost.
type Candidate = (u32, Option<(usize, usize)>, f64);

struct Label {
    cost: f64,
    key: u32,
    /// Index of the label it extends on the day before (`u32::MAX` on day 0).
    parent: u32,
    /// The choice of its day: `None` off, else `(shift, unit)`.
    choice: Option<(u32, u32)>,
    alive: bool,
}

/// Resource layout of one nurse's labels: which limits are tracked, at which offsets.
struct Layout {
    /// Shift types whose limit can bind, with their limits.
    shifts: Vec<(usize, u32)>,
    /// Offset of the weekends worked, if the limit can bind.
    weekends: Option<usize>,
    /// Offset of the current pay week's minutes, if overtime is paid.
    week: Option<usize>,
    /// Offset of the paid minutes over the horizon, if a minimum or maximum can bind.
    minutes: Option<usize>,
    width: usize,
}

/// The `k` cheapest schedules (at most) of nurse `employee` over `arcs` that cost less than
/// `cutoff` (when given), or [`Outcome::TooMany`] after `limit` labels.
///
/// With a cutoff, a label is dropped as soon as its cost plus a lower bound on any completion
/// (the cheapest path to the last day through the run automaton and the successions,
/// resources ignored) reaches the cutoff: column generation needs only schedules of negative
/// reduced cost, and "none below 0" is itself the proof it needs.
///
/// With a `beam`, each day keeps at most that many labels per key (the cheapest): a heuristic
/// that finds cheap schedules fast but proves nothing — the result may miss the cheapest and
/// [`Outcome::NoneBelow`] is no proof.
pub(crate) fn cheapest(
    problem: &Problem,
    employee: usize,
    arcs: &Arcs,
    k: usize,
    limit: usize,
    cutoff: Option<f64>,
    beam: Option<usize>,
) -> Outcome {
    let days = problem.days;
    let nurse = &problem.employees[employee];
    let contract = &nurse.contract;
    let automaton = RunAutomaton::new(contract, days);
    let n_shifts = problem.shifts.len();

    // Most minutes the days from `d` on can add.
    let mut reachable = vec![0u32; days + 1];
    for d in (0..days).rev() {
        let most = arcs.work[d]
            .iter()
            .map(|&(s, _, _)| problem.shifts[s].minutes)
            .max()
            .unwrap_or(0);
        reachable[d] = reachable[d + 1].saturating_add(most);
    }
    let working_days = u32::try_from(days).unwrap_or(u32::MAX);
    let mut width = 0;
    let mut slot = || {
        width += 1;
        width - 1
    };
    let shifts: Vec<(usize, u32)> = (0..n_shifts)
        .filter(|&s| contract.max_shifts[s] < working_days)
        .map(|s| (s, contract.max_shifts[s]))
        .collect();
    for _ in &shifts {
        slot();
    }
    let weekends = ((contract.max_weekends as usize) < problem.weekend_count()).then(&mut slot);
    let overtime = nurse.pay.hourly > 0.0 && nurse.pay.regular_week_minutes != u32::MAX;
    let week = overtime.then(&mut slot);
    let minutes = (contract.max_minutes < reachable[0] || contract.min_minutes > 0).then(&mut slot);
    let layout = Layout {
        shifts,
        weekends,
        week,
        minutes,
        width,
    };
    let premium = if overtime {
        nurse.pay.hourly * (nurse.pay.overtime_multiplier - 1.0) / 60.0
    } else {
        0.0
    };
    let n_keys = automaton.states.len() * (n_shifts + 1);
    let key_of = |state: usize, shift: Option<usize>| -> u32 {
        (state * (n_shifts + 1) + shift.map_or(0, |s| s + 1)) as u32
    };
    let worked = |state: usize| automaton.states[state].working();
    let step_of = |successors: &[usize], on: bool| {
        successors
            .iter()
            .copied()
            .find(|&t| automaton.states[t].working() == on)
    };
    // `to_go.at(d, key, r)`: the least cost of days `d..` after a day ending in `key`, working
    // exactly `r` of them (+∞ when impossible), other resources ignored: a lower bound on any
    // legal completion that works `r` more days. The counts dimension holds `r ≤ days − d`.
    let to_go = cutoff.map(|_| ToGo::new(problem, arcs, &automaton, n_keys, &key_of));
    // Shifts a completion must still work (to reach the minimum minutes) and may still work
    // (under the maximum), from the paid minutes so far.
    let lengths = arcs
        .work
        .iter()
        .flatten()
        .map(|&(s, _, _)| problem.shifts[s].minutes);
    let (shortest, longest) = (
        lengths.clone().min().unwrap_or(1).max(1),
        lengths.max().unwrap_or(1).max(1),
    );
    let span = |minutes: u32| -> (usize, usize) {
        let need = contract
            .min_minutes
            .saturating_sub(minutes)
            .div_ceil(longest) as usize;
        let most = if contract.max_minutes == u32::MAX {
            usize::MAX
        } else {
            (contract.max_minutes.saturating_sub(minutes) / shortest) as usize
        };
        (need, most)
    };
    // `covers(a, b)`: resources `a` are no worse than `b` for every completion: no more of
    // each counted resource (the leading slots), and the same paid minutes, or fewer once
    // the contract minimum is reached (the minutes are the last slot).
    debug_assert!(layout.minutes.is_none_or(|i| i + 1 == layout.width));
    let counted = layout.width - usize::from(layout.minutes.is_some());
    let covers = |a: &[u32], b: &[u32]| {
        a[..counted].iter().zip(&b[..counted]).all(|(x, y)| x <= y)
            && layout
                .minutes
                .is_none_or(|i| a[i] == b[i] || (a[i] < b[i] && a[i] >= contract.min_minutes))
    };
    let mut pruned = false;
    // Labels per day, their resources (flat, `layout.width` each) and buckets per key.
    let mut labels: Vec<Vec<Label>> = Vec::with_capacity(days);
    let mut resources: Vec<Vec<u32>> = Vec::with_capacity(days);
    let mut created = 0usize;
    let mut scratch = vec![0u32; layout.width];
    for d in 0..days {
        let mut today: Vec<Label> = Vec::new();
        let mut res: Vec<u32> = Vec::new();
        let mut buckets: Vec<Vec<u32>> = vec![Vec::new(); n_keys];
        let closes_week = (d + 1) % 7 == 0 || d + 1 == days;
        // The labels of the day before, or the empty schedule on day 0.
        let parents: Vec<u32> = if d == 0 {
            vec![u32::MAX]
        } else {
            (0..labels[d - 1].len() as u32)
                .filter(|&i| labels[d - 1][i as usize].alive)
                .collect()
        };
        for parent in parents {
            let (state, last, cost, base): (Option<usize>, Option<usize>, f64, &[u32]) =
                if parent == u32::MAX {
                    (None, None, arcs.constant, &[])
                } else {
                    let p = &labels[d - 1][parent as usize];
                    let key = p.key as usize;
                    let w = layout.width;
                    (
                        Some(key / (n_shifts + 1)),
                        (key % (n_shifts + 1)).checked_sub(1),
                        p.cost,
                        &resources[d - 1][parent as usize * w..(parent as usize + 1) * w],
                    )
                };
            let successors: &[usize] = match state {
                None => &automaton.initial,
                Some(s) => &automaton.next[s],
            };
            let step = |on: bool| step_of(successors, on);
            let worked_before = state.is_some_and(worked);
            let mut candidates: Vec<Candidate> = Vec::new();
            if let (Some(t), Some(c)) = (step(false), arcs.off[d]) {
                candidates.push((key_of(t, None), None, cost + c));
            }
            if let Some(t) = step(true) {
                let new_weekend = starts_weekend(problem, d, worked_before);
                for &(s, u, c) in &arcs.work[d] {
                    if last.is_some_and(|p| problem.shifts[p].forbidden_next.contains(&s)) {
                        continue;
                    }
                    let extra = if new_weekend { arcs.weekend } else { 0.0 };
                    candidates.push((key_of(t, Some(s)), Some((s, u)), cost + c + extra));
                }
            }
            for (key, choice, mut cost) in candidates {
                // The resources after this day's choice.
                if base.is_empty() {
                    scratch.iter_mut().for_each(|x| *x = 0);
                } else {
                    scratch.copy_from_slice(base);
                }
                if let Some((s, _)) = choice {
                    let m = problem.shifts[s].minutes;
                    if let Some(i) = layout.shifts.iter().position(|&(t, _)| t == s) {
                        scratch[i] += 1;
                        if scratch[i] > layout.shifts[i].1 {
                            continue;
                        }
                    }
                    if let Some(w) = layout.weekends
                        && starts_weekend(problem, d, worked_before)
                    {
                        scratch[w] += 1;
                        if scratch[w] > contract.max_weekends {
                            continue;
                        }
                    }
                    if let Some(w) = layout.week {
                        scratch[w] += m;
                    }
                    if let Some(i) = layout.minutes {
                        scratch[i] = scratch[i].saturating_add(m);
                        if scratch[i] > contract.max_minutes {
                            continue;
                        }
                    }
                }
                if let Some(i) = layout.minutes
                    && scratch[i].saturating_add(reachable[d + 1]) < contract.min_minutes
                {
                    continue;
                }
                if closes_week && let Some(w) = layout.week {
                    cost += premium
                        * f64::from(scratch[w].saturating_sub(nurse.pay.regular_week_minutes));
                    scratch[w] = 0;
                }
                if let (Some(cut), Some(to_go)) = (cutoff, &to_go)
                    && cost
                        + to_go.least(
                            d + 1,
                            key,
                            layout.minutes.map_or((0, usize::MAX), |i| span(scratch[i])),
                        )
                        >= cut
                {
                    pruned = true;
                    continue;
                }
                // Dominance against the labels of the same key. Buckets are sorted by cost:
                // only labels costing no more can dominate this one, and only those costing
                // no less can be dominated by it.
                let w = layout.width;
                let bucket = &mut buckets[key as usize];
                let cost_of = |j: u32| today[j as usize].cost;
                let within = |j: u32| &res[j as usize * w..(j as usize + 1) * w];
                let cheaper = bucket.partition_point(|&j| cost_of(j) <= cost);
                if bucket[..cheaper]
                    .iter()
                    .any(|&j| covers(within(j), &scratch))
                {
                    continue;
                }
                let dearer = bucket.partition_point(|&j| cost_of(j) < cost);
                let mut kept = dearer;
                for i in dearer..bucket.len() {
                    let j = bucket[i];
                    if covers(&scratch, within(j)) {
                        today[j as usize].alive = false;
                    } else {
                        bucket[kept] = j;
                        kept += 1;
                    }
                }
                bucket.truncate(kept);
                if let Some(b) = beam
                    && bucket.len() >= b
                {
                    // Full: replace the dearest (the last) if this one is cheaper.
                    let Some(&j) = bucket.last() else { continue };
                    if today[j as usize].cost <= cost {
                        continue;
                    }
                    today[j as usize].alive = false;
                    bucket.pop();
                }
                let at = bucket.partition_point(|&j| today[j as usize].cost <= cost);
                bucket.insert(at, today.len() as u32);
                today.push(Label {
                    cost,
                    key,
                    parent,
                    choice: choice.map(|(s, u)| (s as u32, u as u32)),
                    alive: true,
                });
                res.extend_from_slice(&scratch);
                created += 1;
                if created > limit {
                    return Outcome::TooMany;
                }
            }
        }
        labels.push(today);
        resources.push(res);
    }
    let Some(last) = labels.last() else {
        return Outcome::Found(Vec::new());
    };
    let mut finals: Vec<usize> = (0..last.len()).filter(|&i| last[i].alive).collect();
    if finals.is_empty() && (pruned || cutoff.is_some()) {
        return Outcome::NoneBelow;
    }
    finals.sort_by(|&a, &b| last[a].cost.total_cmp(&last[b].cost));
    finals.truncate(k);
    let out = finals
        .into_iter()
        .map(|i| {
            let mut pattern: Pattern = vec![None; days];
            let mut at = i as u32;
            for d in (0..days).rev() {
                let l = &labels[d][at as usize];
                pattern[d] = l.choice.map(|(s, u)| (s as usize, u as usize));
                at = l.parent;
            }
            (last[i].cost, pattern)
        })
        .collect();
    Outcome::Found(out)
}

/// Values [`ToGo`] may hold; past it the count of days worked is dropped from the bound.
const TO_GO_VALUES: usize = 4_000_000;

/// Least completion costs by day, key and number of days still worked (see [`cheapest`]).
/// On long horizons (more than [`TO_GO_VALUES`] values) the count is dropped: one value per
/// day and key, any number of days worked.
struct ToGo {
    /// Whether values are kept per number of days still worked.
    counted: bool,
    /// Offsets of each day's block.
    offset: Vec<usize>,
    values: Vec<f64>,
    days: usize,
}

impl ToGo {
    fn new(
        problem: &Problem,
        arcs: &Arcs,
        automaton: &RunAutomaton,
        n_keys: usize,
        key_of: &dyn Fn(usize, Option<usize>) -> u32,
    ) -> ToGo {
        let days = problem.days;
        let n_shifts = problem.shifts.len();
        let counted = n_keys * (days + 1) * (days + 2) / 2 <= TO_GO_VALUES;
        let mut t = ToGo {
            counted,
            offset: Vec::with_capacity(days + 2),
            values: Vec::new(),
            days,
        };
        let mut total = 0;
        for d in 0..=days {
            t.offset.push(total);
            total += n_keys * t.width(d);
        }
        t.values = vec![f64::INFINITY; total];
        for key in 0..n_keys {
            let i = t.index(days, key, 0);
            t.values[i] = 0.0;
        }
        let step_of = |successors: &[usize], on: bool| {
            successors
                .iter()
                .copied()
                .find(|&x| automaton.states[x].working() == on)
        };
        for d in (0..days).rev() {
            for state in 0..automaton.states.len() {
                let successors = &automaton.next[state];
                let off = step_of(successors, false);
                let on = step_of(successors, true);
                let weekend = if starts_weekend(problem, d, automaton.states[state].working()) {
                    arcs.weekend
                } else {
                    0.0
                };
                for last in std::iter::once(None).chain((0..n_shifts).map(Some)) {
                    let key = key_of(state, last) as usize;
                    for r in 0..t.width(d) {
                        let mut best = f64::INFINITY;
                        if let (Some(x), Some(c)) = (off, arcs.off[d]) {
                            best = best.min(c + t.get(d + 1, key_of(x, None) as usize, r));
                        }
                        if let Some(x) = on
                            && (r >= 1 || !counted)
                        {
                            let r = if counted { r - 1 } else { 0 };
                            for &(s, _, c) in &arcs.work[d] {
                                if last.is_some_and(|p: usize| {
                                    problem.shifts[p].forbidden_next.contains(&s)
                                }) {
                                    continue;
                                }
                                let next = key_of(x, Some(s)) as usize;
                                best = best.min(c + weekend + t.get(d + 1, next, r));
                            }
                        }
                        let i = t.index(d, key, r);
                        t.values[i] = best;
                    }
                }
            }
        }
        t
    }

    /// Values per key on day `d`: days still to come plus one, or one when not counted.
    fn width(&self, d: usize) -> usize {
        if self.counted { self.days - d + 1 } else { 1 }
    }

    fn index(&self, d: usize, key: usize, r: usize) -> usize {
        self.offset[d] + key * self.width(d) + r
    }

    fn get(&self, d: usize, key: usize, r: usize) -> f64 {
        if r >= self.width(d) {
            f64::INFINITY
        } else {
            self.values[self.index(d, key, r)]
        }
    }

    /// The least completion cost from day `d` after `key` working between `span.0` and
    /// `span.1` more days.
    fn least(&self, d: usize, key: u32, span: (usize, usize)) -> f64 {
        if !self.counted {
            return self.values[self.index(d, key as usize, 0)];
        }
        let top = span.1.min(self.days - d);
        (span.0..=top)
            .map(|r| self.values[self.index(d, key as usize, r)])
            .fold(f64::INFINITY, f64::min)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mip::{nights_worked, pattern_cost, weekends_worked};

    /// Arcs pricing each day off and each shift at the given per-(day, shift) prices, with a
    /// night and weekend price, over the nurse's own costs.
    fn arcs(problem: &Problem, e: usize, y: &[Vec<f64>], night: f64, weekend: f64) -> Arcs {
        let nurse = &problem.employees[e];
        let pattern_of = |d: usize, w: Option<(usize, usize)>| {
            let mut p: Pattern = vec![None; problem.days];
            p[d] = w;
            p
        };
        // Day costs as the difference a single day makes to the pattern's own cost (which
        // is additive per day for the benchmark: requests only).
        let empty = pattern_cost(problem, e, &vec![None; problem.days]);
        Arcs {
            off: (0..problem.days).map(|_| Some(0.0)).collect(),
            work: (0..problem.days)
                .map(|d| {
                    (0..problem.shifts.len())
                        .filter(|&s| nurse.contract.max_shifts[s] > 0)
                        .filter(|_| problem.eligible(e, d, 0))
                        .map(|s| {
                            let own =
                                pattern_cost(problem, e, &pattern_of(d, Some((s, 0)))) - empty;
                            let n = if problem.shifts[s].night { night } else { 0.0 };
                            (s, 0, own - y[d][s] - n)
                        })
                        .collect()
                })
                .collect(),
            weekend: -weekend,
            constant: empty,
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(96))]
        /// The labelling's cheapest schedule costs exactly the minimum over every legal
        /// schedule the listing finds, and each schedule it returns is legal and costs what
        /// it says.
        #[test]
        fn finds_the_cheapest_legal_schedule(
            days in 1usize..10,
            max_d in 0u32..8,
            max_n in 0u32..5,
            max_min in 1u32..6,
            min_min in 0u32..4,
            max_run in 1u32..6,
            min_run in 1u32..3,
            min_off in 1u32..3,
            max_weekends in 0u32..3,
            day_off in 0usize..12,
            request in 0usize..12,
            prices in proptest::collection::vec(-300i32..300, 20),
            night in 0i32..50,
            weekend in 0i32..80,
            overtime in proptest::bool::ANY,
            cut in proptest::option::of(-500i32..500),
        ) {
            let text = format!(
                "SECTION_HORIZON\n{days}\nSECTION_SHIFTS\nD,480,\nN,600,D\n\
                 SECTION_STAFF\nA,D={max_d}|N={max_n},{},{},{max_run},{min_run},{min_off},\
                 {max_weekends}\n{}{}SECTION_COVER\n",
                max_min * 1000,
                min_min * 480,
                if day_off < days { format!("SECTION_DAYS_OFF\nA,{day_off}\n") } else { String::new() },
                if request < days {
                    format!("SECTION_SHIFT_ON_REQUESTS\nA,{request},D,3\nSECTION_SHIFT_OFF_REQUESTS\nA,{},N,2\n", days - 1 - request)
                } else { String::new() },
            );
            let mut problem = crate::benchmark::parse("p", &text, "proptest")
                .map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
            problem.shifts[1].night = true;
            if overtime {
                // Paid, with overtime past two shifts a week (so the weekly term binds).
                problem.employees[0].pay = crate::problem::Pay {
                    hourly: 6.0,
                    regular_week_minutes: 960,
                    overtime_multiplier: 1.5,
                };
            }
            let y: Vec<Vec<f64>> = (0..days)
                .map(|d| (0..2).map(|s| f64::from(prices[(2 * d + s) % prices.len()])).collect())
                .collect();
            let (night, weekend) = (f64::from(night), f64::from(weekend));
            let cost = |p: &Pattern| {
                pattern_cost(&problem, 0, p)
                    - p.iter().enumerate().filter_map(|(d, w)| w.map(|(s, _)| y[d][s])).sum::<f64>()
                    - night * nights_worked(&problem, p) as f64
                    - weekend * weekends_worked(&problem, p) as f64
            };
            let all = crate::patterns::enumerate(&problem, usize::MAX).expect("no limit").remove(0);
            let best = all.iter().map(&cost).min_by(f64::total_cmp);
            let cutoff = cut.map(f64::from);
            let outcome = cheapest(&problem, 0, &arcs(&problem, 0, &y, night, weekend), 3, usize::MAX, cutoff, None);
            let found = match outcome {
                Outcome::Found(found) => found,
                Outcome::NoneBelow => {
                    // Only with a cutoff, and only when nothing legal is cheaper.
                    let cutoff = cutoff.expect("NoneBelow without a cutoff");
                    proptest::prop_assert!(best.is_none_or(|b| b >= cutoff), "{:?} < {}", best, cutoff);
                    return Ok(());
                }
                Outcome::TooMany => return Err(proptest::test_runner::TestCaseError::fail("no limit")),
            };
            // A beam returns legal schedules at their true cost, never below the minimum.
            if let Outcome::Found(beamed) = cheapest(&problem, 0, &arcs(&problem, 0, &y, night, weekend), 3, usize::MAX, cutoff, Some(2)) {
                for (c, p) in &beamed {
                    proptest::prop_assert!(crate::patterns::is_legal(&problem, 0, p), "{:?}", p);
                    proptest::prop_assert!((cost(p) - c).abs() < 1e-9);
                    proptest::prop_assert!(best.is_some_and(|b| *c >= b));
                }
            }
            proptest::prop_assert_eq!(found.first().map(|f| f.0), best);
            proptest::prop_assert!(cutoff.is_none_or(|c| found.iter().all(|f| f.0 < c)));
            for (c, p) in &found {
                proptest::prop_assert!(crate::patterns::is_legal(&problem, 0, p), "{:?}", p);
                proptest::prop_assert!((cost(p) - c).abs() < 1e-9, "{} vs {}", cost(p), c);
            }
        }
    }
}
