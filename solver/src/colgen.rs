//! Column generation for the pattern model, then a MIP over the generated schedules
//! (price-and-branch), for staffs whose legal schedules are too many to list.
//!
//! The master is [`crate::mip`]'s pattern model over the schedules found so far, its linear
//! relaxation solved by HiGHS. Its duals price a new schedule for nurse `e`:
//!
//! `reduced cost = own cost − π_e − Σ_c y_c · (slots of cover c the schedule staffs)
//!                 − ν_e · nights − ω_e · weekends`
//!
//! with `π` the convexity duals, `y` the cover rows' and `ν, ω ≤ 0` the fairness rows'. The
//! cheapest schedule of each nurse at those prices is a one-nurse compact MIP (the run
//! automaton and every contract rule of [`crate::mip`]) whose objective carries the duals:
//! `−y` on each slot's work column, and the fairness duals as that nurse's fairness weights.
//! Schedules of negative reduced cost join the master; when no nurse has one, the master's
//! relaxation equals the pattern model's (the Dantzig–Wolfe bound). At every round
//! `master value + Σ_e min(0, cheapest reduced cost of e)` is a valid lower bound
//! (Lasdon 1970, *Optimization Theory for Large Systems*, §3; Vanderbeck & Wolsey 1996), and
//! when every cost is an integer it rounds up. The roster is the best of a MIP over the
//! generated schedules, which proves optimality only when it meets that bound — the method is
//! the price-and-branch heuristic (Barnhart et al., *Branch-and-price: column generation
//! for solving huge integer programs*, Oper. Res. 46 (1998) 316–329), not branch-and-price.
//!
//! Hard covers start with an artificial slack at [`crate::mip::ARTIFICIAL`] per nurse, so the
//! first masters are feasible before any schedule staffs them.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use crate::Result;
use crate::mip::{
    Formulation, Model, RowTag, Solution, SolveOptions, Status, nights_worked, pattern_cost,
    relative_gap, run, weekends_worked,
};
use crate::patterns::Pattern;
use crate::problem::Problem;

/// Share of the time limit column generation may use before the last MIP.
const PRICING_SHARE: f64 = 0.6;

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
    /// Seconds in column generation (the last MIP excluded).
    pub seconds: f64,
}

/// Duals of one master solve, by what they price.
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

/// Whether every cost the objective can carry is an integer, so a lower bound rounds up.
fn integral_costs(problem: &Problem) -> bool {
    let int = |x: f64| (x - x.round()).abs() < 1e-9;
    let pay = problem.employees.iter().all(|e| {
        e.pay.hourly == 0.0
            || (problem
                .shifts
                .iter()
                .all(|s| int(e.pay.hourly * f64::from(s.minutes) / 60.0))
                && int(e.pay.hourly * (e.pay.overtime_multiplier - 1.0) / 60.0))
    });
    let requests = problem
        .employees
        .iter()
        .flat_map(|e| e.on_requests.iter().chain(&e.off_requests))
        .all(|r| int(r.weight));
    let covers = problem
        .covers
        .iter()
        .all(|c| int(c.under_weight) && int(c.over_weight));
    let agency = problem.agency.as_ref().is_none_or(|a| {
        problem
            .shifts
            .iter()
            .all(|s| int(a.hourly * f64::from(s.minutes) / 60.0))
    });
    let w = &problem.weights;
    pay && requests
        && covers
        && agency
        && int(w.fairness_nights)
        && int(w.fairness_weekends)
        && int(w.change)
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
    pattern: Option<Pattern>,
    bound: Option<f64>,
    infeasible: bool,
    /// What counts as zero for this nurse's reduced cost.
    tolerance: f64,
}

/// The cheapest schedule of nurse `e` at `prices`: a one-nurse compact MIP with the duals in
/// its objective. Returns the schedule (if HiGHS found one) and a lower bound on the least
/// reduced cost.
fn price(
    problem: &Problem,
    e: usize,
    prices: &Prices,
    options: &SolveOptions,
    seconds: f64,
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
    let pattern = solution
        .roster
        .and_then(|r| crate::patterns::of_roster(&one, &r).pop());
    // HiGHS's proven dual bound, not the incumbent: a caller's gap option can stop a solve
    // "optimal" above the true minimum.
    let bound = match solution.status {
        Status::Infeasible => None,
        _ => solution.bound,
    };
    Ok(Priced {
        pattern,
        bound: bound.map(|b| b - prices.convexity[e]),
        infeasible: solution.status == Status::Infeasible,
        tolerance: EPSILON * prices.convexity[e].abs().max(1.0),
    })
}

/// [`price`]s every nurse marked in `todo`, on `options.threads` threads (one HiGHS thread
/// each), each for at most `cap` seconds and all before `until`; `None` for a nurse not
/// priced (not to do, or out of time).
fn price_all(
    problem: &Problem,
    prices: &Prices,
    options: &SolveOptions,
    until: Instant,
    cap: f64,
    todo: &[bool],
) -> Result<Vec<Option<Priced>>> {
    let n = problem.employees.len();
    let workers = (options.threads.max(1) as usize).min(n.max(1));
    let one = |e: usize| -> Result<Option<Priced>> {
        let seconds = until
            .saturating_duration_since(Instant::now())
            .as_secs_f64();
        if !todo[e] || seconds <= 0.0 {
            return Ok(None);
        }
        price(problem, e, prices, options, seconds.min(cap)).map(Some)
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

/// Column generation, then a MIP over the generated schedules, within `options.time_limit`
/// (about 60% for generation). Starts from `options.warm_start`'s schedules when given.
///
/// # Errors
/// [`crate::Error::Solver`] when HiGHS fails.
pub fn solve(problem: &Problem, options: &SolveOptions) -> Result<(Solution, PricingReport)> {
    problem.validate()?;
    let started = Instant::now();
    let deadline = started + Duration::from_secs_f64(options.time_limit.max(0.0));
    let pricing_until =
        started + Duration::from_secs_f64(options.time_limit.max(0.0) * PRICING_SHARE);
    let left = |until: Instant| {
        until
            .saturating_duration_since(Instant::now())
            .as_secs_f64()
    };
    let n = problem.employees.len();
    let mut columns: Vec<Vec<Pattern>> = vec![Vec::new(); n];
    let mut seen: Vec<HashSet<Pattern>> = vec![HashSet::new(); n];
    let mut add = |e: usize, p: Pattern, columns: &mut Vec<Vec<Pattern>>| {
        if seen[e].insert(p.clone()) {
            columns[e].push(p);
            true
        } else {
            false
        }
    };
    if let Some(start) = &options.warm_start {
        // The start's schedules that are legal (a schedule breaking a rule cannot be a
        // column).
        for (e, p) in crate::patterns::of_roster(problem, start)
            .into_iter()
            .enumerate()
        {
            if crate::patterns::is_legal(problem, e, &p) {
                add(e, p, &mut columns);
            }
        }
    }
    let mut report = PricingReport::default();
    let round_up = integral_costs(problem);
    let mut best_bound: Option<f64> = None;
    // Round 0 prices at zero duals: each nurse's cheapest schedule alone.
    let covers_at = covers_at(problem);
    let mut prices = Prices::zero(problem, &covers_at);
    let mut master_value: Option<f64> = None;
    let mut artificial = 0.0;
    let mut cap = PRICE_SECONDS;
    // A nurse without any legal schedule: the problem is infeasible.
    let mut no_schedule: Option<usize> = None;
    // Each nurse's last pricing at the current prices (`None`: to price).
    let mut priced: Vec<Option<Priced>> = vec![None; n];
    loop {
        // A nurse still without any schedule is priced again even when its bound says no
        // schedule is cheaper: the bound alone does not give a column.
        let todo: Vec<bool> = priced
            .iter()
            .zip(&columns)
            .map(|(p, c)| c.is_empty() || !p.as_ref().is_some_and(proven))
            .collect();
        let fresh = price_all(problem, &prices, options, pricing_until, cap, &todo)?;
        let mut added = 0usize;
        for (e, result) in fresh.into_iter().enumerate() {
            let Some(result) = result else { continue };
            if result.infeasible {
                no_schedule = Some(e);
            }
            if let Some(p) = &result.pattern
                && (columns[e].is_empty() || prices.reduced_cost(problem, e, p) < -result.tolerance)
                && add(e, p.clone(), &mut columns)
            {
                added += 1;
            }
            priced[e] = Some(result);
        }
        // Lagrangian bound: the master's value plus each nurse's least reduced cost.
        let least: Option<f64> = priced
            .iter()
            .map(|p| p.as_ref().and_then(|p| p.bound).map(|b| b.min(0.0)))
            .sum();
        if let (Some(z), Some(l)) = (master_value, least) {
            let mut b = z + l;
            if round_up {
                b = (b - EPSILON * b.abs().max(1.0)).ceil();
            }
            best_bound = Some(best_bound.map_or(b, |x: f64| x.max(b)));
        }
        if master_value.is_some() && priced.iter().all(|p| p.as_ref().is_some_and(proven)) {
            report.converged = true;
            break;
        }
        if left(pricing_until) <= 0.0 || no_schedule.is_some() {
            break;
        }
        if (master_value.is_some() && added == 0) || columns.iter().any(Vec::is_empty) {
            // Nothing new at these prices (the master would not change), or a nurse still
            // without any schedule: price the nurses without proof again, with more time.
            cap *= 4.0;
            continue;
        }
        // The master's relaxation over the schedules so far.
        let mut model = Model::new(problem);
        let by_slot = model.add_patterns(problem, &columns, true);
        model.add_covers(problem, &by_slot, true);
        let tags = model.tags.clone();
        let opts = SolveOptions {
            time_limit: left(pricing_until),
            log_file: None,
            warm_start: None,
            ..options.clone()
        };
        let (lp, extra) = run(
            problem,
            model,
            Some(&columns),
            &opts,
            Instant::now(),
            Formulation::Patterns,
        )?;
        report.rounds += 1;
        if lp.status != Status::Optimal || extra.duals.is_empty() {
            break;
        }
        master_value = lp.objective;
        artificial = extra.artificial;
        prices = Prices::read(problem, &covers_at, &tags, &extra.duals);
        priced = vec![None; n];
    }
    report.columns = columns.iter().map(Vec::len).sum();
    report.master_value = master_value;
    report.bound = best_bound;
    report.seconds = started.elapsed().as_secs_f64();

    // No legal schedule for a nurse, or hard covers the relaxation can meet only with the
    // artificial slack: no roster exists.
    let short = report.converged && artificial > 1e-6;
    if no_schedule.is_some() || short {
        let solution = Solution {
            status: Status::Infeasible,
            roster: None,
            objective: None,
            bound: None,
            gap: None,
            seconds: started.elapsed().as_secs_f64(),
            build_seconds: 0.0,
            variables: report.columns,
            constraints: 0,
            formulation: Formulation::PriceAndBranch,
            pricing: Some(report.clone()),
        };
        return Ok((solution, report));
    }

    // The MIP over the generated schedules.
    let mut model = Model::new(problem);
    let by_slot = model.add_patterns(problem, &columns, false);
    model.add_covers(problem, &by_slot, false);
    let opts = SolveOptions {
        time_limit: left(deadline),
        ..options.clone()
    };
    let (mut solution, _) = run(
        problem,
        model,
        Some(&columns),
        &opts,
        Instant::now(),
        Formulation::PriceAndBranch,
    )?;
    solution.seconds = started.elapsed().as_secs_f64();
    solution.pricing = Some(report.clone());
    // HiGHS's bound holds for the generated schedules only; the pricing bound holds for all.
    solution.bound = best_bound;
    solution.gap = relative_gap(solution.objective, solution.bound);
    solution.status = match (solution.status, solution.objective, best_bound) {
        (Status::Optimal, Some(z), Some(b)) if z <= b + EPSILON * z.abs().max(1.0) => {
            Status::Optimal
        }
        (Status::Optimal | Status::TimeLimit, Some(_), _) => Status::TimeLimit,
        // Infeasible over the generated schedules says nothing about the others.
        (_, None, _) => Status::NoSolution,
        (s, _, _) => s,
    };
    Ok((solution, report))
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
    let mut model = Model::new(problem);
    let by_slot = model.add_patterns(problem, &all, true);
    model.add_covers(problem, &by_slot, true);
    let (lp, _) = run(
        problem,
        model,
        Some(&all),
        &SolveOptions::default(),
        Instant::now(),
        Formulation::Patterns,
    )?;
    Ok((lp.status == Status::Optimal)
        .then_some(lp.objective)
        .flatten())
}
