//! Column generation for the pattern model, then a MIP over the generated schedules
//! (price-and-branch), for staffs whose legal schedules are too many to list.
//!
//! The master is the pattern model's linear relaxation over the schedules found so far
//! ([`crate::mip::Master`]), kept in HiGHS for a whole column generation run: new schedules
//! join as columns and each round hot-starts the simplex from the last basis (on Instance8
//! the master's share of a round fell from 0.16 s, building and solving a new model, to
//! 0.024 s). Its duals price a new schedule for nurse `e`:
//!
//! `reduced cost = own cost − π_e − Σ_c y_c · (slots of cover c the schedule staffs)
//!                 − ν_e · nights − ω_e · weekends`
//!
//! with `π` the convexity duals, `y` the cover rows' and `ν, ω ≤ 0` the fairness rows'. The
//! cheapest schedules of each nurse at those prices come from [`crate::labelling`], exact
//! (first with a beam, which is fast but proves nothing); a nurse whose labels grow past
//! [`LABEL_LIMIT`] is priced by a one-nurse compact MIP (the run automaton and every
//! contract rule of [`crate::mip`]) whose objective carries the duals: `−y` on each slot's
//! work column, and the fairness duals as that nurse's fairness weights.
//! Schedules of negative reduced cost join the master; when no nurse has one, the master's
//! relaxation equals the pattern model's (the Dantzig–Wolfe bound). At every round
//! `master value + Σ_e min(0, cheapest reduced cost of e)` is a valid lower bound
//! (Lasdon 1970, *Optimization Theory for Large Systems*, §3; Vanderbeck & Wolsey 1996), and
//! when every cost is an integer it rounds up to the next multiple of their greatest common
//! divisor ([`cost_step`]). A dive ([`dive`]) then fixes nurses to schedules one by one,
//! re-generating columns for the others, until it has a roster; the answer is the best of a
//! MIP over every generated schedule warm-started from it, which proves optimality only when
//! it meets that bound — the price-and-branch heuristic (Barnhart et al., *Branch-and-price:
//! column generation for solving huge integer programs*, Oper. Res. 46 (1998) 316–329).
//!
//! [`crate::Formulation::BranchAndPrice`] goes on where that roster does not meet the
//! bound: a best-first tree ([`tree::branch_and_price`]) branches on whether nurse `e` makes
//! choice `c` (off, or a shift in a unit) on day `d` — a rule pricing honours by removing
//! arcs from the labelling graph — and, once the schedules are integral, on an agency
//! booking (`≤ ⌊v⌋` or `≥ ⌈v⌉`); column generation at every node gives a bound valid under
//! its rules. [`prove`] runs the tree alone from a roster found elsewhere.
//!
//! Hard covers start with an artificial slack at [`crate::mip::ARTIFICIAL`] per nurse, so the
//! first masters are feasible before any schedule staffs them.

use std::collections::HashSet;

use good_lp::constraint;
use std::time::{Duration, Instant};

mod tree;

use crate::Result;
use crate::mip::{
    AgencyLimits, Formulation, Master, Model, RowTag, Solution, SolveOptions, Status,
    nights_worked, pattern_cost, relative_gap, run, weekends_worked,
};
use crate::patterns::Pattern;
use crate::problem::Problem;

/// Share of the time limit column generation may use before the last MIP.
const PRICING_SHARE: f64 = 0.6;

/// Share of the time limit column generation and diving may use before the last MIP.
const DIVING_SHARE: f64 = 0.85;

/// With branch-and-price: where the root's column generation, the dive and the MIP over the
/// generated schedules end, as shares of the time limit; the tree has the rest.
const TREE_SHARES: [f64; 3] = [0.5, 0.8, 0.85];

/// Seconds one nurse's pricing MIP gets at first. Most finish in a few hundredths (Instance8:
/// median 0.035 s) but some take a second; one stopped at the cap still gives a schedule and a
/// valid bound, and the cap grows fourfold whenever a round adds nothing without proof.
const PRICE_SECONDS: f64 = 0.1;

/// What a column generation run did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct PricingReport {
    /// Master LP solves.
    pub rounds: usize,
    /// Schedules generated (initial ones included).
    pub columns: usize,
    /// Whether pricing found no improving schedule (the master's relaxation is the
    /// pattern model's).
    pub converged: bool,
    /// The master relaxation's last value.
    pub master_value: Option<f64>,
    /// The best lower bound found.
    pub bound: Option<f64>,
    /// Seconds in column generation at the root (diving and the last MIP excluded).
    pub seconds: f64,
    /// Whether diving found a roster (the last MIP's warm start).
    pub dived: bool,
    /// Branch-and-price nodes solved (column generation run), the root excluded.
    pub nodes: usize,
    /// Nodes still open when the time limit stopped the tree (0 when it finished).
    pub open_nodes: usize,
    /// Seconds solving master relaxations (building the LP included), over the whole run.
    pub master_seconds: f64,
    /// Seconds pricing (labelling and pricing MIPs), over the whole run.
    pub pricing_seconds: f64,
}

/// Duals of one master solve, by what they price.
#[derive(Clone)]
struct Prices<'a> {
    /// The covers counting each `(day, shift, unit)` slot ([`Problem::slot`]), built once.
    covers_at: &'a [Vec<usize>],
    convexity: Vec<f64>,
    cover: Vec<f64>,
    nights: Vec<f64>,
    weekends: Vec<f64>,
}

/// The covers counting each `(day, shift, unit)` slot, by [`Problem::slot`].
fn covers_at(problem: &Problem) -> Vec<Vec<usize>> {
    let mut at = vec![Vec::new(); problem.slot_count()];
    for (c, cover) in problem.covers.iter().enumerate() {
        for &(d, s) in &cover.slots {
            at[problem.slot(d, s, cover.unit)].push(c);
        }
    }
    at
}

impl<'a> Prices<'a> {
    /// All duals zero: each nurse's own cost alone.
    fn zero(problem: &Problem, covers_at: &'a [Vec<usize>]) -> Prices<'a> {
        let n = problem.employees.len();
        Prices {
            covers_at,
            convexity: vec![0.0; n],
            cover: vec![0.0; problem.covers.len()],
            nights: vec![0.0; n],
            weekends: vec![0.0; n],
        }
    }

    fn read(
        problem: &Problem,
        covers_at: &'a [Vec<usize>],
        tags: &[(usize, RowTag)],
        duals: &[f64],
    ) -> Prices<'a> {
        let mut p = Prices::zero(problem, covers_at);
        for &(row, tag) in tags {
            let y = duals[row];
            match tag {
                RowTag::Convexity(e) => p.convexity[e] += y,
                RowTag::Cover(c) => p.cover[c] += y,
                RowTag::FairNights(e) => p.nights[e] += y,
                RowTag::FairWeekends(e) => p.weekends[e] += y,
            }
        }
        p
    }

    /// Reduced cost of `pattern` for nurse `e` (the formula in the module docs).
    fn reduced_cost(&self, problem: &Problem, e: usize, pattern: &Pattern) -> f64 {
        let mut rc = pattern_cost(problem, e, pattern)
            - self.convexity[e]
            - self.nights[e] * nights_worked(problem, pattern) as f64
            - self.weekends[e] * weekends_worked(problem, pattern) as f64;
        for (d, w) in pattern.iter().enumerate() {
            if let Some((s, u)) = *w {
                rc -= self.slot_price(problem, e, d, s, u);
            }
        }
        rc
    }

    /// `Σ y_c` over the covers nurse `e` counts toward when working `(d, s, u)`.
    fn slot_price(&self, problem: &Problem, e: usize, d: usize, s: usize, u: usize) -> f64 {
        let skills = problem.employees[e].skills;
        self.covers_at[problem.slot(d, s, u)]
            .iter()
            .filter(|&&c| skills.has_any(problem.covers[c].skills))
            .map(|&c| self.cover[c])
            .sum()
    }
}

/// The step of the objective's lattice: the greatest common divisor of every cost it can
/// carry (pay per shift, the overtime premium per common divisor of shift and regular-week
/// minutes, request, cover, agency, fairness and change weights), when each is an integer
/// (cents), so every roster's objective is a multiple of it and a lower bound rounds up to
/// one. `None` when a cost is fractional.
fn cost_step(problem: &Problem) -> Option<f64> {
    fn gcd(a: u64, b: u64) -> u64 {
        if b == 0 { a } else { gcd(b, a % b) }
    }
    let mut costs: Vec<f64> = Vec::new();
    let minutes = problem
        .shifts
        .iter()
        .fold(0, |g, s| gcd(g, u64::from(s.minutes)));
    for e in &problem.employees {
        if e.pay.hourly == 0.0 {
            continue;
        }
        costs.extend(
            problem
                .shifts
                .iter()
                .map(|s| e.pay.hourly * f64::from(s.minutes) / 60.0),
        );
        if e.pay.regular_week_minutes != u32::MAX && e.pay.overtime_multiplier > 1.0 {
            let step = gcd(minutes, u64::from(e.pay.regular_week_minutes));
            costs.push(e.pay.hourly * (e.pay.overtime_multiplier - 1.0) / 60.0 * step as f64);
        }
        costs.extend(
            e.on_requests
                .iter()
                .chain(&e.off_requests)
                .map(|r| r.weight),
        );
    }
    for c in &problem.covers {
        costs.extend([c.under_weight, c.over_weight]);
    }
    if let Some(a) = &problem.agency {
        costs.extend(
            problem
                .shifts
                .iter()
                .map(|s| a.hourly * f64::from(s.minutes) / 60.0),
        );
    }
    let w = &problem.weights;
    costs.extend([w.fairness_nights, w.fairness_weekends]);
    if problem.published.is_some() {
        costs.push(w.change);
    }
    let mut step = 0u64;
    for c in costs {
        let r = c.round();
        if (c - r).abs() > 1e-9 || !(0.0..=9.0e15).contains(&r) {
            return None;
        }
        step = gcd(step, r as u64);
    }
    (step > 0).then_some(step as f64)
}

/// Relative tolerance on reduced costs and bounds (costs reach 1e7 in cents).
const EPSILON: f64 = 1e-7;

/// Whether pricing proved that nurse has no schedule of negative reduced cost.
fn proven(p: &Priced) -> bool {
    p.infeasible || p.bound.is_some_and(|b| b >= -p.tolerance)
}

/// One nurse's pricing: the schedule found, a lower bound on the least reduced cost, and
/// whether the nurse has no legal schedule at all.
#[derive(Clone)]
struct Priced {
    /// Schedules found, cheapest first.
    patterns: Vec<Pattern>,
    bound: Option<f64>,
    infeasible: bool,
    /// What counts as zero for this nurse's reduced cost.
    tolerance: f64,
    /// Whether `bound` and `infeasible` are proofs (exact pricing), not a heuristic's.
    exact: bool,
}

/// A day's choice in a schedule: off (`None`) or `(shift, unit)`.
type Choice = Option<(usize, usize)>;

/// What diving and branching impose on one nurse's schedules.
#[derive(Clone, Debug, Default)]
struct Rules {
    /// Held to this one schedule (diving): never priced.
    fixed: Option<Pattern>,
    /// `(day, choice)` every schedule must make.
    required: Vec<(usize, Choice)>,
    /// `(day, choice)` no schedule may make.
    forbidden: Vec<(usize, Choice)>,
}

impl Rules {
    /// Whether `pattern` keeps these rules.
    fn allows(&self, pattern: &Pattern) -> bool {
        self.fixed.as_ref().is_none_or(|f| f == pattern)
            && self.required.iter().all(|&(d, c)| pattern[d] == c)
            && self.forbidden.iter().all(|&(d, c)| pattern[d] != c)
    }

    /// Removes from `arcs` every choice these rules forbid (`fixed` aside: never priced).
    fn restrict(&self, arcs: &mut crate::labelling::Arcs) {
        for &(d, c) in &self.required {
            match c {
                None => arcs.work[d].clear(),
                Some(su) => {
                    arcs.off[d] = None;
                    arcs.work[d].retain(|&(s, u, _)| (s, u) == su);
                }
            }
        }
        for &(d, c) in &self.forbidden {
            match c {
                None => arcs.off[d] = None,
                Some(su) => arcs.work[d].retain(|&(s, u, _)| (s, u) != su),
            }
        }
    }
}

/// Labels one nurse's pricing may create before it falls back to the MIP.
const LABEL_LIMIT: usize = 200_000;

/// Schedules one nurse's pricing returns at most (the cheapest ones found).
const COLUMNS_PER_NURSE: usize = 3;

/// Dual smoothing (Neame 1999; Wentges, *Weighted Dantzig–Wolfe decomposition for linear
/// mixed-integer programming*, Int. Trans. Oper. Res. 4 (1997) 151–162; Pessoa, Sadykov,
/// Uchoa & Vanderbeck, *Automation and combination of linear-programming based stabilization
/// techniques in column generation*, INFORMS J. Comput. 30 (2018) 339–360): each round
/// prices at `α · (the duals last priced at) + (1 − α) · (the master's duals)`, which damps
/// the master's oscillating duals. Schedules join only if they improve the master; when none
/// does (a mispricing), that round prices again at the master's own duals, so convergence
/// and the Lagrangian bounds are as without smoothing. Smoothed prices thus only ever meet
/// the narrowest beam, the first pricing after each master solve. 0 turns it off.
/// Measured on Instance8's root (dev build, 1 thread): converged in 69–70 s (247 rounds, two
/// runs), against 73–83 s (179 rounds) without: more rounds, each cheaper (exact pricing, 70%
/// of the smoothed run's pricing time, ran 11 times).
const SMOOTHING: f64 = 0.5;

/// Labels per day and key the heuristic pricing keeps: a narrow beam first, a wide one when
/// that finds nothing, then exact pricing.
const BEAMS: [usize; 2] = [8, 64];

/// Each day's choices of nurse `e` and their reduced costs at `prices`, for
/// [`crate::labelling`]: the nurse's own cost (pay, requests, changes to the published roster)
/// less the duals of the covers each slot counts toward and the fairness duals. Overtime is
/// the labelling's own (it depends on the week).
fn arcs(problem: &Problem, e: usize, prices: &Prices) -> crate::labelling::Arcs {
    let nurse = &problem.employees[e];
    let published: Vec<(usize, usize, usize)> = problem
        .published
        .as_ref()
        .filter(|_| problem.weights.change > 0.0)
        .map(|p| {
            p.assignments
                .iter()
                .filter(|a| a.employee == e)
                .map(|a| (a.day, a.shift, a.unit))
                .collect()
        })
        .unwrap_or_default();
    // Changes cost only against a published roster (as in `pattern_cost`).
    let change = if problem.published.is_some() {
        problem.weights.change
    } else {
        0.0
    };
    let mut off = Vec::with_capacity(problem.days);
    let mut work = Vec::with_capacity(problem.days);
    for d in 0..problem.days {
        let on_wanted: f64 = nurse
            .on_requests
            .iter()
            .filter(|r| r.day == d)
            .map(|r| r.weight)
            .sum();
        let was: Vec<(usize, usize)> = published
            .iter()
            .filter(|a| a.0 == d)
            .map(|a| (a.1, a.2))
            .collect();
        off.push(Some(on_wanted + change * was.len() as f64));
        let mut choices = Vec::new();
        for &u in &nurse.units {
            if !problem.eligible(e, d, u) {
                continue;
            }
            for (s, shift) in problem.shifts.iter().enumerate() {
                if nurse.contract.max_shifts[s] == 0 {
                    continue;
                }
                let mut c = nurse.pay.hourly * f64::from(shift.minutes) / 60.0;
                c += nurse
                    .on_requests
                    .iter()
                    .filter(|r| r.day == d && r.shift != s)
                    .map(|r| r.weight)
                    .sum::<f64>();
                c += nurse
                    .off_requests
                    .iter()
                    .filter(|r| r.day == d && r.shift == s)
                    .map(|r| r.weight)
                    .sum::<f64>();
                let kept = was.contains(&(s, u));
                c += change * (was.len() - usize::from(kept) + usize::from(!kept)) as f64;
                c -= prices.slot_price(problem, e, d, s, u);
                if shift.night {
                    c -= prices.nights[e];
                }
                choices.push((s, u, c));
            }
        }
        work.push(choices);
    }
    crate::labelling::Arcs {
        off,
        work,
        weekend: -prices.weekends[e],
        constant: -prices.convexity[e],
    }
}

/// The cheapest schedules of nurse `e` at `prices`, exactly, by [`crate::labelling`]; when
/// the labels grow past [`LABEL_LIMIT`], by [`price_by_mip`].
#[allow(clippy::too_many_arguments)]
fn price(
    problem: &Problem,
    e: usize,
    prices: &Prices,
    options: &SolveOptions,
    seconds: f64,
    has_columns: bool,
    rules: &Rules,
    beam: Option<usize>,
) -> Result<Priced> {
    let tolerance = EPSILON * prices.convexity[e].abs().max(1.0);
    let mut arcs = arcs(problem, e, prices);
    rules.restrict(&mut arcs);
    // A nurse with columns needs only schedules of negative reduced cost; one without needs
    // its cheapest schedule whatever it costs, exactly (that also tells a nurse without any
    // legal schedule).
    let cutoff = has_columns.then_some(-tolerance);
    let beam = beam.filter(|_| has_columns);
    let exact = beam.is_none();
    use crate::labelling::Outcome;
    match crate::labelling::cheapest(
        problem,
        e,
        &arcs,
        COLUMNS_PER_NURSE,
        LABEL_LIMIT,
        cutoff,
        beam,
    ) {
        Outcome::Found(found) => Ok(Priced {
            bound: if exact {
                found.first().map(|f| f.0)
            } else {
                None
            },
            infeasible: exact && found.is_empty(),
            patterns: found.into_iter().map(|f| f.1).collect(),
            tolerance,
            exact,
        }),
        // Nothing below −tolerance: when exact, a proof that counts as a bound of −tolerance.
        Outcome::NoneBelow => Ok(Priced {
            bound: exact.then_some(-tolerance),
            infeasible: false,
            patterns: Vec::new(),
            tolerance,
            exact,
        }),
        Outcome::TooMany => price_by_mip(problem, e, prices, options, seconds, rules),
    }
}

/// The cheapest schedule of nurse `e` at `prices` under `rules`: a one-nurse compact MIP with
/// the duals in its objective and the rules as rows. Returns the schedule (if HiGHS found
/// one) and a lower bound on the least reduced cost.
fn price_by_mip(
    problem: &Problem,
    e: usize,
    prices: &Prices,
    options: &SolveOptions,
    seconds: f64,
    rules: &Rules,
) -> Result<Priced> {
    let mut one = problem.clone();
    one.employees = vec![problem.employees[e].clone()];
    one.covers = Vec::new();
    one.agency = None;
    one.weights.fairness_nights = (-prices.nights[e]).max(0.0);
    one.weights.fairness_weekends = (-prices.weekends[e]).max(0.0);
    one.published = problem
        .published
        .as_ref()
        .map(|p| crate::lns::restrict(p, &[e]));
    let mut model = Model::new(&one);
    let by_slot = model.add_compact(&one);
    for d in 0..one.days {
        for s in 0..one.shifts.len() {
            for u in 0..one.units.len() {
                let y = prices.slot_price(problem, e, d, s, u);
                if y != 0.0 {
                    for &(_, v) in &by_slot[one.slot(d, s, u)] {
                        model.objective.add_mul(-y, v);
                    }
                }
            }
        }
    }
    // Branching: the slot of a required shift is worked, a forbidden one is not; a required
    // day off has no slot worked, a forbidden one at least one.
    let day = |d: usize| -> good_lp::Expression {
        (0..one.shifts.len())
            .flat_map(|s| (0..one.units.len()).map(move |u| (s, u)))
            .flat_map(|(s, u)| by_slot[one.slot(d, s, u)].iter().map(|&(_, v)| v))
            .sum()
    };
    let slot = |d: usize, (s, u): (usize, usize)| -> good_lp::Expression {
        by_slot[one.slot(d, s, u)].iter().map(|&(_, v)| v).sum()
    };
    for &(d, c) in &rules.required {
        model.add_row(match c {
            None => constraint!(day(d) == 0),
            Some(su) => constraint!(slot(d, su) == 1),
        });
    }
    for &(d, c) in &rules.forbidden {
        model.add_row(match c {
            None => constraint!(day(d) >= 1),
            Some(su) => constraint!(slot(d, su) == 0),
        });
    }
    // One nurse's model is small: HiGHS's presolve costs more than it saves (Instance8: 7
    // rounds in 30 s without, 5 with). The caller's options come after and can override.
    let mut highs_options = vec![("presolve".to_owned(), "off".to_owned())];
    highs_options.extend(options.highs_options.iter().cloned());
    let opts = SolveOptions {
        time_limit: seconds,
        relative_gap: 0.0,
        threads: 1,
        log_file: None,
        warm_start: None,
        highs_options,
        ..options.clone()
    };
    let (solution, _) = run(
        &one,
        model,
        None,
        &opts,
        Instant::now(),
        Formulation::Compact,
    )?;
    let patterns: Vec<Pattern> = solution
        .roster
        .and_then(|r| crate::patterns::of_roster(&one, &r).pop())
        .into_iter()
        .collect();
    // HiGHS's proven dual bound, not the incumbent: a caller's gap option can stop a solve
    // "optimal" above the true minimum.
    let bound = match solution.status {
        Status::Infeasible => None,
        _ => solution.bound,
    };
    Ok(Priced {
        patterns,
        bound: bound.map(|b| b - prices.convexity[e]),
        infeasible: solution.status == Status::Infeasible,
        tolerance: EPSILON * prices.convexity[e].abs().max(1.0),
        exact: true,
    })
}

/// [`price`]s every nurse marked in `todo` (`Some(whether it has columns already)`), on
/// `options.threads` threads (one HiGHS thread each), each for at most `cap` seconds and all
/// before `until`; `None` for a nurse not priced (not to do, or out of time).
#[allow(clippy::too_many_arguments)]
fn price_all(
    problem: &Problem,
    prices: &Prices,
    options: &SolveOptions,
    until: Instant,
    cap: f64,
    todo: &[Option<bool>],
    rules: &[Rules],
    beam: Option<usize>,
) -> Result<Vec<Option<Priced>>> {
    let n = problem.employees.len();
    let workers = (options.threads.max(1) as usize).min(n.max(1));
    let one = |e: usize| -> Result<Option<Priced>> {
        let seconds = until
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        let Some(has_columns) = todo[e].filter(|_| seconds > 0.0) else {
            return Ok(None);
        };
        price(
            problem,
            e,
            prices,
            options,
            seconds.min(cap),
            has_columns,
            &rules[e],
            beam,
        )
        .map(Some)
    };
    if workers == 1 {
        return (0..n).map(one).collect();
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut out: Vec<Option<Priced>> = vec![None; n];
    type Batch = Vec<(usize, Option<Priced>)>;
    let results: Vec<Result<Batch>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let e = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if e >= n {
                            return Ok(mine);
                        }
                        mine.push((e, one(e)?));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join().unwrap_or_else(|_| {
                    Err(crate::Error::Solver("a pricing thread panicked".into()))
                })
            })
            .collect()
    });
    for r in results {
        for (e, priced) in r? {
            out[e] = priced;
        }
    }
    Ok(out)
}

/// The schedules generated so far, per nurse, without repeats.
struct Pool {
    columns: Vec<Vec<Pattern>>,
    seen: Vec<HashSet<Pattern>>,
}

impl Pool {
    fn add(&mut self, e: usize, p: Pattern) -> bool {
        if self.seen[e].insert(p.clone()) {
            self.columns[e].push(p);
            true
        } else {
            false
        }
    }
}

/// What one column generation run ([`generate`]) ended with.
#[derive(Default)]
struct Generated {
    /// The last master relaxation's value.
    master_value: Option<f64>,
    /// Nurses missing on hard covers in that master (the artificial columns).
    artificial: f64,
    /// Its pattern columns `(nurse, schedule, value)` with a positive value, indexed into
    /// the master's columns ([`master_columns`]).
    values: Vec<(usize, usize, f64)>,
    /// Its agency columns `((day, shift, unit), value)`.
    agency: Vec<((usize, usize, usize), f64)>,
    /// Pricing found nothing more (exactly, when proving; by the beams, when diving).
    converged: bool,
    /// A nurse without any legal schedule under its rules (proven).
    no_schedule: Option<usize>,
    /// The best Lagrangian bound of the rounds, under the rules (only when proving).
    bound: Option<f64>,
}

/// The master's columns: each nurse's generated schedules that keep its rules.
fn master_columns(pool: &Pool, rules: &[Rules]) -> Vec<Vec<Pattern>> {
    pool.columns
        .iter()
        .zip(rules)
        .map(|(all, r)| all.iter().filter(|p| r.allows(p)).cloned().collect())
        .collect()
}

/// Column generation until pricing finds nothing, until `until`, or until the bound reaches
/// `cutoff` (an incumbent's value: nothing better under these rules), each nurse held to
/// its [`Rules`]. With `prove`, beams are followed by exact pricing, which gives the
/// Lagrangian bounds and proves convergence; without, it stops when the beams find nothing
/// (diving).
#[allow(clippy::too_many_arguments)]
fn generate(
    problem: &Problem,
    pool: &mut Pool,
    rules: &[Rules],
    agency: &AgencyLimits,
    options: &SolveOptions,
    covers_at: &[Vec<usize>],
    until: Instant,
    prove: bool,
    cutoff: Option<f64>,
    report: &mut PricingReport,
) -> Result<Generated> {
    let left = || {
        until
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
    };
    let n = problem.employees.len();
    let step = cost_step(problem);
    // Round 0 prices at zero duals, and only the nurses without a schedule that keeps their
    // rules: each one's cheapest schedule alone.
    let mut prices = Prices::zero(problem, covers_at);
    let mut out = Generated::default();
    let mut cap = PRICE_SECONDS;
    // Each nurse's last exact pricing at the current prices (`None`: to price).
    let mut priced: Vec<Option<Priced>> = vec![None; n];
    // Rounds price heuristically (a narrow beam, then a wide one) until that finds nothing,
    // then exactly: only exact pricing proves convergence and gives bounds.
    let mut level = 0usize;
    // The master, built at the first round; each nurse's pool schedules it has looked at.
    let mut master: Option<Master> = None;
    let mut examined = vec![0usize; n];
    // Dual smoothing: the master's row duals last priced at, the master's own duals and
    // their prices, and whether `prices` are smoothed ones.
    let mut last_duals: Vec<f64> = Vec::new();
    let mut master_duals: Vec<f64> = Vec::new();
    let mut master_prices = prices.clone();
    let mut smoothed = false;
    loop {
        let exact = level >= BEAMS.len();
        let has: Vec<bool> = (0..n)
            .map(|e| pool.columns[e].iter().any(|p| rules[e].allows(p)))
            .collect();
        // A nurse still without any schedule is priced again even when its bound says no
        // schedule is cheaper: the bound alone does not give a column. A fixed nurse never.
        let todo: Vec<Option<bool>> = (0..n)
            .map(|e| {
                let skip = rules[e].fixed.is_some()
                    || (has[e] && out.master_value.is_none())
                    || (has[e] && exact && priced[e].as_ref().is_some_and(proven));
                (!skip).then_some(has[e])
            })
            .collect();
        let pricing_started = Instant::now();
        let fresh = price_all(
            problem,
            &prices,
            options,
            until,
            cap,
            &todo,
            rules,
            BEAMS.get(level).copied(),
        )?;
        report.pricing_seconds += pricing_started.elapsed().as_secs_f64();
        let mut added = 0usize;
        for (e, result) in fresh.into_iter().enumerate() {
            let Some(result) = result else { continue };
            if result.infeasible {
                out.no_schedule = Some(e);
            }
            for p in &result.patterns {
                debug_assert!(rules[e].allows(p), "pricing broke nurse {e}'s rules");
                // Only schedules that improve the master join it: negative reduced cost at
                // its own duals, whatever the (smoothed) prices that found them.
                if (!has[e] || master_prices.reduced_cost(problem, e, p) < -result.tolerance)
                    && pool.add(e, p.clone())
                {
                    added += 1;
                }
            }
            // Bounds and proofs count only at the master's own duals.
            if result.exact && !smoothed {
                priced[e] = Some(result);
            }
        }
        // Lagrangian bound: the master's value plus each nurse's least reduced cost (a fixed
        // nurse's one schedule is in the master, so its least reduced cost is not negative).
        let least: Option<f64> = (0..n)
            .map(|e| {
                if rules[e].fixed.is_some() {
                    Some(0.0)
                } else {
                    priced[e].as_ref().and_then(|p| p.bound).map(|b| b.min(0.0))
                }
            })
            .sum();
        if prove && let (Some(z), Some(l)) = (out.master_value, least) {
            let mut b = z + l;
            if let Some(step) = step {
                b = ((b - EPSILON * b.abs().max(1.0)) / step).ceil() * step;
            }
            out.bound = Some(out.bound.map_or(b, |x: f64| x.max(b)));
        }
        if let (Some(c), Some(b)) = (cutoff, out.bound)
            && b >= c - EPSILON * c.abs().max(1.0)
        {
            break;
        }
        let all_proven =
            (0..n).all(|e| rules[e].fixed.is_some() || priced[e].as_ref().is_some_and(proven));
        if out.master_value.is_some() && all_proven {
            out.converged = true;
            break;
        }
        if left() <= 0.0 || out.no_schedule.is_some() {
            break;
        }
        if smoothed && added == 0 {
            // Mispricing: nothing found at the smoothed prices improves the master. Price at
            // its own duals, as without smoothing, which proves convergence when they find
            // nothing either.
            smoothed = false;
            prices = master_prices.clone();
            last_duals = master_duals.clone();
            continue;
        }
        if !exact && added == 0 && out.master_value.is_some() {
            if !prove && level + 1 == BEAMS.len() {
                // Diving: the widest beam found nothing; good enough.
                out.converged = true;
                break;
            }
            // The beam found nothing: a wider one, then exact pricing, at the same duals.
            level += 1;
            continue;
        }
        let lacking = (0..n).any(|e| {
            rules[e].fixed.is_none() && !pool.columns[e].iter().any(|p| rules[e].allows(p))
        });
        if (out.master_value.is_some() && added == 0) || lacking {
            // Nothing new at these prices (the master would not change), or a nurse still
            // without any schedule: price the nurses without proof again, with more time.
            cap *= 4.0;
            continue;
        }
        // The master's relaxation over the schedules so far: those that keep the rules
        // join the master kept from the last round.
        let master_started = Instant::now();
        let m = match master.as_mut() {
            Some(m) => m,
            None => master.insert(Master::new(problem, covers_at, agency, options)?),
        };
        for (e, seen) in examined.iter_mut().enumerate() {
            for p in &pool.columns[e][*seen..] {
                if rules[e].allows(p) {
                    m.add(problem, covers_at, e, p)?;
                }
            }
            *seen = pool.columns[e].len();
        }
        let solved = m.solve(left())?;
        report.rounds += 1;
        report.master_seconds += master_started.elapsed().as_secs_f64();
        let Some((value, extra)) = solved else { break };
        out.master_value = Some(value);
        out.artificial = extra.artificial;
        out.values = extra.values;
        out.agency = extra.agency;
        master_prices = Prices::read(problem, covers_at, &m.tags, &extra.duals);
        smoothed = SMOOTHING > 0.0 && last_duals.len() == extra.duals.len();
        if smoothed {
            for (last, &y) in last_duals.iter_mut().zip(&extra.duals) {
                *last = SMOOTHING * *last + (1.0 - SMOOTHING) * y;
            }
            prices = Prices::read(problem, covers_at, &m.tags, &last_duals);
        } else {
            last_duals.clone_from(&extra.duals);
            prices = master_prices.clone();
        }
        master_duals = extra.duals;
        priced = vec![None; n];
        level = 0;
    }
    Ok(out)
}

/// A diving heuristic over the master (Joncour, Michel, Sadykov, Sverdlov & Vanderbeck,
/// *Column generation based primal heuristics*, Electron. Notes Discrete Math. 36 (2010)
/// 695–702): fix every nurse whose schedule has value 1, and the free nurse whose schedule
/// has the largest fractional value; re-generate columns for the others; repeat until every
/// nurse has one schedule. Returns that roster's schedules, or `None` when out of time or
/// the fixings leave no feasible master.
fn dive(
    problem: &Problem,
    pool: &mut Pool,
    root: &Generated,
    options: &SolveOptions,
    covers_at: &[Vec<usize>],
    until: Instant,
    report: &mut PricingReport,
) -> Result<Option<Vec<Pattern>>> {
    let n = problem.employees.len();
    let mut rules: Vec<Rules> = vec![Rules::default(); n];
    let mut values = root.values.clone();
    let mut columns = master_columns(pool, &rules);
    loop {
        // The best schedule of each nurse in the master.
        let mut best: Vec<Option<(usize, f64)>> = vec![None; n];
        for &(e, p, v) in &values {
            if best[e].is_none_or(|(_, w)| v > w) {
                best[e] = Some((p, v));
            }
        }
        let mut progress = false;
        let mut top: Option<(usize, usize, f64)> = None;
        for e in 0..n {
            let Some((p, v)) = best[e] else { continue };
            if rules[e].fixed.is_some() {
                continue;
            }
            if v > 1.0 - 1e-6 {
                rules[e].fixed = Some(columns[e][p].clone());
                progress = true;
            } else if top.is_none_or(|t| v > t.2) {
                top = Some((e, p, v));
            }
        }
        if rules.iter().all(|r| r.fixed.is_some()) {
            return Ok(rules.into_iter().map(|r| r.fixed).collect());
        }
        if let Some((e, p, _)) = top {
            rules[e].fixed = Some(columns[e][p].clone());
            progress = true;
        }
        if !progress || Instant::now() >= until {
            return Ok(None);
        }
        let g = generate(
            problem,
            pool,
            &rules,
            &AgencyLimits::new(),
            options,
            covers_at,
            until,
            false,
            None,
            report,
        )?;
        if g.master_value.is_none() || g.artificial > 1e-6 || g.no_schedule.is_some() {
            return Ok(None);
        }
        values = g.values;
        columns = master_columns(pool, &rules);
    }
}

/// The MIP over `columns` (each nurse's schedules), warm-started from `warm_start`, until
/// `until`.
fn pool_mip(
    problem: &Problem,
    columns: &[Vec<Pattern>],
    options: &SolveOptions,
    until: Instant,
    warm_start: Option<crate::problem::Roster>,
) -> Result<Solution> {
    let mut model = Model::new(problem);
    let by_slot = model.add_patterns(problem, columns);
    model.add_covers(problem, &by_slot);
    let opts = SolveOptions {
        time_limit: until
            .saturating_duration_since(Instant::now())
            .as_secs_f64(),
        warm_start,
        ..options.clone()
    };
    run(
        problem,
        model,
        Some(columns),
        &opts,
        Instant::now(),
        options.formulation,
    )
    .map(|(s, _)| s)
}

/// An answer no MIP gave: `status`, with `incumbent` (value, roster) if any, no bound yet.
fn unsolved(
    status: Status,
    incumbent: Option<(f64, crate::problem::Roster)>,
    report: &PricingReport,
    formulation: Formulation,
) -> Solution {
    let (objective, roster) = incumbent.unzip();
    Solution {
        status,
        roster,
        objective,
        bound: None,
        gap: None,
        seconds: 0.0,
        build_seconds: 0.0,
        variables: report.columns,
        constraints: 0,
        formulation,
        pricing: None,
    }
}

/// Column generation, then diving, then a MIP over the generated schedules, within
/// `options.time_limit` (about 60% for generation and 25% for diving); with
/// [`Formulation::BranchAndPrice`], generation, diving and that MIP end at 50%, 80% and 85%,
/// and branch-and-price the rest when the MIP's roster does not meet the bound. Starts from
/// `options.warm_start`'s schedules when given.
///
/// # Errors
/// [`crate::Error::Solver`] when HiGHS fails.
pub fn solve(problem: &Problem, options: &SolveOptions) -> Result<(Solution, PricingReport)> {
    search(problem, options, None)
}

/// Branch-and-price alone, to prove a roster found elsewhere (neighbourhood search, a
/// published roster) optimal or find a better one: column generation at the root from the
/// `incumbent`'s schedules, then the tree (see [`Formulation::BranchAndPrice`]) with the
/// incumbent as cutoff, and no other primal heuristic than the tree's integral nodes
/// (no dive, no MIP over the generated schedules) — so every roster it returns besides
/// the incumbent is one the tree found. An incumbent that breaks a hard constraint is
/// ignored. `options.formulation` is ignored; the answer's is
/// [`Formulation::BranchAndPrice`].
///
/// # Errors
/// [`crate::Error::Solver`] when HiGHS fails.
pub fn prove(
    problem: &Problem,
    options: &SolveOptions,
    incumbent: Option<&crate::problem::Roster>,
) -> Result<(Solution, PricingReport)> {
    let options = SolveOptions {
        formulation: Formulation::BranchAndPrice,
        warm_start: incumbent.cloned().or_else(|| options.warm_start.clone()),
        ..options.clone()
    };
    let incumbent = incumbent.and_then(|r| {
        let e = crate::evaluate(problem, r);
        e.feasible().then(|| (e.total, r.clone()))
    });
    search(problem, &options, Some(incumbent))
}

/// [`solve`], or [`prove`] when `given` holds its incumbent (`Some(None)`: none).
fn search(
    problem: &Problem,
    options: &SolveOptions,
    given: Option<Option<(f64, crate::problem::Roster)>>,
) -> Result<(Solution, PricingReport)> {
    problem.validate()?;
    let started = Instant::now();
    let tree = options.formulation == Formulation::BranchAndPrice;
    let heuristics = given.is_none();
    let options = &SolveOptions {
        formulation: if tree {
            Formulation::BranchAndPrice
        } else {
            Formulation::PriceAndBranch
        },
        ..options.clone()
    };
    let limit = options.time_limit.max(0.0);
    let at = |share: f64| started + Duration::from_secs_f64(limit * share);
    let deadline = at(1.0);
    let (pricing_until, diving_until, pool_until) = if !heuristics {
        (deadline, deadline, deadline)
    } else if tree {
        (at(TREE_SHARES[0]), at(TREE_SHARES[1]), at(TREE_SHARES[2]))
    } else {
        (at(PRICING_SHARE), at(DIVING_SHARE), deadline)
    };
    let n = problem.employees.len();
    let mut pool = Pool {
        columns: vec![Vec::new(); n],
        seen: vec![HashSet::new(); n],
    };
    if let Some(start) = &options.warm_start {
        // The start's schedules that are legal (a schedule breaking a rule cannot be a
        // column).
        for (e, p) in crate::patterns::of_roster(problem, start)
            .into_iter()
            .enumerate()
        {
            if crate::patterns::is_legal(problem, e, &p) {
                pool.add(e, p);
            }
        }
    }
    let mut report = PricingReport::default();
    let covers_at = covers_at(problem);
    let none = vec![Rules::default(); n];
    let root = generate(
        problem,
        &mut pool,
        &none,
        &AgencyLimits::new(),
        options,
        &covers_at,
        pricing_until,
        true,
        None,
        &mut report,
    )?;
    let best_bound = root.bound;
    report.converged = root.converged;
    report.master_value = root.master_value;
    report.bound = best_bound;
    report.seconds = started.elapsed().as_secs_f64();
    tracing::info!(
        rounds = report.rounds,
        master = ?root.master_value,
        bound = ?best_bound,
        converged = root.converged,
        seconds = report.seconds,
        master_seconds = report.master_seconds,
        pricing_seconds = report.pricing_seconds,
        "column generation at the root"
    );

    // No legal schedule for a nurse, or hard covers the relaxation can meet only with the
    // artificial slack: no roster exists.
    let short = root.converged && root.artificial > 1e-6;
    if root.no_schedule.is_some() || short {
        report.columns = pool.columns.iter().map(Vec::len).sum();
        let mut solution = unsolved(Status::Infeasible, None, &report, options.formulation);
        solution.seconds = started.elapsed().as_secs_f64();
        solution.pricing = Some(report.clone());
        return Ok((solution, report));
    }

    // A roster by diving, unless the root's relaxation already is one.
    let dived = if heuristics && root.master_value.is_some() {
        dive(
            problem,
            &mut pool,
            &root,
            options,
            &covers_at,
            diving_until,
            &mut report,
        )?
    } else {
        None
    };
    report.dived = dived.is_some();
    report.columns = pool.columns.iter().map(Vec::len).sum();
    if heuristics {
        tracing::info!(
            roster = report.dived,
            schedules = report.columns,
            seconds = started.elapsed().as_secs_f64(),
            "dive"
        );
    }

    // The MIP over the generated schedules, from the dive's roster.
    let warm_start = dived
        .map(|patterns| roster_of(&patterns))
        .or_else(|| options.warm_start.clone());
    let mut solution = match &given {
        None => pool_mip(problem, &pool.columns, options, pool_until, warm_start)?,
        Some(None) => unsolved(Status::NoSolution, None, &report, options.formulation),
        Some(Some(incumbent)) => unsolved(
            Status::TimeLimit,
            Some(incumbent.clone()),
            &report,
            options.formulation,
        ),
    };
    if heuristics {
        tracing::info!(
            status = ?solution.status,
            objective = ?solution.objective,
            seconds = started.elapsed().as_secs_f64(),
            "MIP over the generated schedules"
        );
    }
    // HiGHS's bound holds for the generated schedules only; the pricing bound holds for all.
    let mut bound = best_bound;
    let met = |z: Option<f64>, b: Option<f64>| {
        z.zip(b)
            .is_some_and(|(z, b)| z <= b + EPSILON * z.abs().max(1.0))
    };
    if tree
        && root.converged
        && let Some(root_bound) = best_bound
        && !met(solution.objective, bound)
        && Instant::now() < deadline
    {
        let mut incumbent = solution.objective.zip(solution.roster.clone());
        let tree_bound = tree::branch_and_price(
            problem,
            &mut pool,
            &root,
            root_bound,
            &mut incumbent,
            options,
            &covers_at,
            deadline,
            &mut report,
        )?;
        bound = Some(root_bound.max(tree_bound));
        report.bound = bound;
        report.columns = pool.columns.iter().map(Vec::len).sum();
        if let Some((z, roster)) = incumbent
            && solution.objective.is_none_or(|o| z < o)
        {
            solution.objective = Some(z);
            solution.roster = Some(roster);
            if solution.status == Status::NoSolution {
                solution.status = Status::TimeLimit;
            }
        }
    }
    // The tree exhausted without a roster: none exists.
    let exhausted = solution.objective.is_none() && bound.is_some_and(f64::is_infinite);
    if exhausted {
        bound = None;
    }
    solution.seconds = started.elapsed().as_secs_f64();
    solution.pricing = Some(report.clone());
    solution.bound = bound;
    solution.gap = relative_gap(solution.objective, solution.bound);
    solution.status = match (solution.status, solution.objective) {
        _ if exhausted => Status::Infeasible,
        (Status::Optimal | Status::TimeLimit, Some(z)) if met(Some(z), bound) => Status::Optimal,
        (Status::Optimal | Status::TimeLimit, Some(_)) => Status::TimeLimit,
        // Infeasible over the generated schedules says nothing about the others.
        (_, None) => Status::NoSolution,
        (s, _) => s,
    };
    Ok((solution, report))
}

/// The roster of one schedule per nurse.
fn roster_of(patterns: &[Pattern]) -> crate::problem::Roster {
    let mut roster = crate::problem::Roster::default();
    for (employee, pattern) in patterns.iter().enumerate() {
        for (day, w) in pattern.iter().enumerate() {
            if let Some((shift, unit)) = *w {
                roster.assignments.push(crate::problem::Assignment {
                    employee,
                    day,
                    shift,
                    unit,
                });
            }
        }
    }
    roster
}

/// The pattern model's linear relaxation over every legal schedule, listed
/// ([`crate::patterns`]): the value column generation converges to. `None` when the nurses
/// have more than `limit` schedules, or when HiGHS does not solve it to optimality.
///
/// # Errors
/// [`crate::Error::Solver`] when HiGHS fails.
pub fn pattern_relaxation(problem: &Problem, limit: usize) -> Result<Option<f64>> {
    let Some(all) = crate::patterns::enumerate(problem, limit) else {
        return Ok(None);
    };
    let covers_at = covers_at(problem);
    let mut master = Master::new(
        problem,
        &covers_at,
        &AgencyLimits::new(),
        &SolveOptions::default(),
    )?;
    for (e, list) in all.iter().enumerate() {
        for p in list {
            master.add(problem, &covers_at, e, p)?;
        }
    }
    Ok(master
        .solve(SolveOptions::default().time_limit)?
        .map(|(value, _)| value))
}
