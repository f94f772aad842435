//! Independent replications, warm-up deletion and KPIs with confidence intervals.
//!
//! The replication/deletion approach (Law 2015, §9.5.2): run `R` independent replications
//! of the horizon, delete the warm-up from each, compute each KPI once per replication, and
//! report the mean with a Student-t 95% interval across replications. The warm-up is found
//! by MSER-5 (White 1997) on the replications' mean hourly census (ED + inpatient), unless
//! the scenario or the caller fixes it.
//!
//! Replications run in parallel on rayon; replication `r` always uses the random streams of
//! `(seed, r)`, and results are collected in replication order, so the output for a seed does
//! not depend on the number of threads.
//!
//! [`compare`] runs two scenarios on the same seeds (common random numbers) and reports each
//! KPI's paired differences `b − a` with their interval.
use crate::hospital::{Compiled, Trace, simulate};
use crate::scenario::Scenario;
use crate::stats::{ConfidenceInterval, Welford, mean_ci, mser5, quantile};
use crate::{Error, Result};
use rayon::prelude::*;
use serde::Serialize;

/// Confidence level of every interval.
pub const LEVEL: f64 = 0.95;

/// How to run replications.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Number of independent replications (≥ 2 for an interval).
    pub replications: usize,
    /// Simulated hours per replication (warm-up included).
    pub horizon_hours: usize,
    /// Base seed.
    pub seed: u64,
    /// Warm-up to delete, h; `None` = the scenario's, else automatic (MSER-5).
    pub warmup_hours: Option<f64>,
    /// Worker threads; `None` = rayon's default (one per core).
    pub threads: Option<usize>,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            replications: 200,
            horizon_hours: 28 * 24,
            seed: 1,
            warmup_hours: None,
            threads: None,
        }
    }
}

/// One KPI: its value in each replication and the interval of their mean.
#[derive(Clone, Debug, Serialize)]
pub struct Kpi {
    /// KPI name, e.g. `occupancy`, `ed_wait_p90`.
    pub name: String,
    /// Care unit, for per-unit KPIs.
    pub unit: Option<String>,
    /// Unit of measure: `%`, `h`, `/day`, `patients`, `/h`.
    pub measure: &'static str,
    /// Value per replication (NaN when the replication had no observations).
    pub values: Vec<f64>,
    /// Mean and 95% interval across replications.
    pub ci: ConfidenceInterval,
}

/// The result of running one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    /// Scenario name.
    pub scenario: String,
    /// Replications run.
    pub replications: usize,
    /// Hours per replication.
    pub horizon_hours: usize,
    /// Warm-up deleted, h.
    pub warmup_hours: f64,
    /// Whether the warm-up came from MSER-5.
    pub warmup_automatic: bool,
    /// Set when MSER-5 truncated near the end of its search window (the first half of the
    /// horizon): the run probably had not reached steady state, and the horizon should be
    /// longer.
    pub warning: Option<String>,
    /// Base seed.
    pub seed: u64,
    /// Events handled over all replications.
    pub events: u64,
    /// KPIs.
    pub kpis: Vec<Kpi>,
}

impl RunResult {
    /// The KPI called `name` (for care unit `unit`).
    pub fn kpi(&self, name: &str, unit: Option<&str>) -> Option<&Kpi> {
        self.kpis
            .iter()
            .find(|k| k.name == name && k.unit.as_deref() == unit)
    }
}

/// A paired difference `b − a` of one KPI.
#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    /// KPI name.
    pub name: String,
    /// Care unit, for per-unit KPIs.
    pub unit: Option<String>,
    /// Unit of measure.
    pub measure: &'static str,
    /// Mean of `a`.
    pub a: f64,
    /// Mean of `b`.
    pub b: f64,
    /// Interval of the mean paired difference `b − a`.
    pub difference: ConfidenceInterval,
    /// Sample variance of the per-replication differences.
    pub variance: f64,
}

/// The result of [`compare`].
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    /// Result of scenario `a`.
    pub a: RunResult,
    /// Result of scenario `b`.
    pub b: RunResult,
    /// Paired differences per KPI present in both.
    pub differences: Vec<Difference>,
}

/// Runs `options.replications` replications of `scenario` and reports KPIs.
///
/// `progress` is called (from worker threads) once per finished replication.
/// Errors: [`Error::Invalid`] for zero replications or hours, or a warm-up not shorter than
/// the horizon.
pub fn run(
    scenario: &Scenario,
    options: &RunOptions,
    progress: &(dyn Fn() + Sync),
) -> Result<RunResult> {
    check(options)?;
    in_pool(options, || {
        let traces = simulate_all(scenario, options, options.seed, progress);
        let fixed = options.warmup_hours.or(scenario.run.warmup_hours);
        let (warmup, automatic) = warmup(fixed, options, &[&traces])?;
        Ok(summarise(scenario, options, &traces, warmup, automatic))
    })
}

/// Runs `work` on a pool of `options.threads` threads (rayon's global pool when `None`).
fn in_pool<T: Send>(options: &RunOptions, work: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    match options.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n.max(1))
            .build()
            .map_err(|e| Error::Invalid(format!("cannot start {n} threads: {e}")))?
            .install(work),
        None => work(),
    }
}

fn check(options: &RunOptions) -> Result<()> {
    if options.replications == 0 {
        return Err(Error::Invalid("replications must be at least 1".into()));
    }
    if options.horizon_hours == 0 {
        return Err(Error::Invalid("the horizon must be at least 1 hour".into()));
    }
    Ok(())
}

/// Runs scenarios `a` and `b` with the same seeds (common random numbers) — or, with
/// `common_random_numbers = false`, `b` on different seeds — and reports paired differences.
/// Both use the same warm-up: the given one, else the larger of the scenarios' own, else
/// MSER-5 on both scenarios' replications together.
pub fn compare(
    a: &Scenario,
    b: &Scenario,
    options: &RunOptions,
    common_random_numbers: bool,
    progress: &(dyn Fn() + Sync),
) -> Result<Comparison> {
    check(options)?;
    in_pool(options, || {
        compare_in_pool(a, b, options, common_random_numbers, progress)
    })
}

fn compare_in_pool(
    a: &Scenario,
    b: &Scenario,
    options: &RunOptions,
    common_random_numbers: bool,
    progress: &(dyn Fn() + Sync),
) -> Result<Comparison> {
    let ta = simulate_all(a, options, options.seed, progress);
    let seed_b = if common_random_numbers {
        options.seed
    } else {
        crate::random::splitmix64(options.seed ^ 0x5eed)
    };
    let tb = simulate_all(b, options, seed_b, progress);
    let fixed = options
        .warmup_hours
        .or(match (a.run.warmup_hours, b.run.warmup_hours) {
            (Some(x), Some(y)) => Some(x.max(y)),
            (x, y) => x.or(y),
        });
    let (w, automatic) = warmup(fixed, options, &[&ta, &tb])?;
    let ra = summarise(a, options, &ta, w, automatic);
    let mut rb = summarise(b, options, &tb, w, automatic);
    rb.seed = seed_b;
    let differences = ra
        .kpis
        .iter()
        .filter_map(|ka| {
            let kb = rb.kpi(&ka.name, ka.unit.as_deref())?;
            let d: Vec<f64> = ka
                .values
                .iter()
                .zip(&kb.values)
                .map(|(x, y)| y - x)
                .collect();
            let ci = mean_ci(&d, LEVEL);
            let mut var = Welford::default();
            d.iter()
                .filter(|x| x.is_finite())
                .for_each(|x| var.push(*x));
            Some(Difference {
                name: ka.name.clone(),
                unit: ka.unit.clone(),
                measure: ka.measure,
                a: ka.ci.mean,
                b: kb.ci.mean,
                difference: ci,
                variance: var.variance(),
            })
        })
        .collect();
    Ok(Comparison {
        a: ra,
        b: rb,
        differences,
    })
}

fn simulate_all(
    scenario: &Scenario,
    options: &RunOptions,
    seed: u64,
    progress: &(dyn Fn() + Sync),
) -> Vec<Trace> {
    let model = Compiled::new(scenario);
    (0..options.replications as u64)
        .into_par_iter()
        .map(|r| {
            let t = simulate(&model, options.horizon_hours, seed, r);
            progress();
            t
        })
        .collect()
}

/// Mean over replications of the total hourly census (inpatient + ED).
pub fn mean_census_series(traces: &[&Vec<Trace>]) -> Vec<f64> {
    let Some(first) = traces.iter().find_map(|t| t.first()) else {
        return Vec::new();
    };
    let hours = first.hours;
    let mut series = vec![0.0; hours];
    let mut n = 0.0;
    for t in traces.iter().flat_map(|v| v.iter()) {
        for (h, s) in series.iter_mut().enumerate() {
            *s += t.ed_census[h] + (0..t.units).map(|u| t.census[u * hours + h]).sum::<f64>();
        }
        n += 1.0;
    }
    series.iter_mut().for_each(|s| *s /= n);
    series
}

/// The warm-up to delete: `fixed`, or MSER-5 on the mean census of `traces`.
fn warmup(fixed: Option<f64>, options: &RunOptions, traces: &[&Vec<Trace>]) -> Result<(f64, bool)> {
    let (w, automatic) = match fixed {
        Some(w) => (w, false),
        None => (mser5(&mean_census_series(traces)) as f64, true),
    };
    if !(w >= 0.0 && w < options.horizon_hours as f64) {
        return Err(Error::Invalid(format!(
            "the warm-up ({w} h) must be shorter than the horizon ({} h)",
            options.horizon_hours
        )));
    }
    Ok((w, automatic))
}

/// Per-unit Little's-law terms of one replication after the warm-up: (L = mean census,
/// λ = entries per hour, W = mean time in unit of the patients who entered after the warm-up
/// and left before the horizon), for unit `u`.
pub fn little(trace: &Trace, u: usize, warmup_hours: f64) -> (f64, f64, f64) {
    let w = warmup_hours.ceil() as usize;
    let hours = trace.hours;
    let span = (hours - w.min(hours)) as f64;
    let census = &trace.census[u * hours + w..(u + 1) * hours];
    let entries = &trace.entries[u * hours + w..(u + 1) * hours];
    let l = census.iter().sum::<f64>() / span;
    let lambda = entries.iter().map(|e| f64::from(*e)).sum::<f64>() / span;
    let (sum, n) = trace.stays[u]
        .iter()
        .filter(|(t, _)| *t >= w as f64)
        .fold((0.0, 0usize), |(sum, n), (_, d)| (sum + d, n + 1));
    (l, lambda, sum / n as f64)
}

fn summarise(
    scenario: &Scenario,
    options: &RunOptions,
    traces: &[Trace],
    warmup_hours: f64,
    automatic: bool,
) -> RunResult {
    let h = &scenario.hospital;
    let w = warmup_hours.ceil() as usize;
    let hours = options.horizon_hours;
    let days = (hours - w) as f64 / 24.0;
    let mut kpis: Vec<Kpi> = Vec::new();
    let per_trace =
        |f: &(dyn Fn(&Trace) -> f64 + Sync)| -> Vec<f64> { traces.par_iter().map(f).collect() };
    let mut add_values =
        |name: &str, unit: Option<&str>, measure: &'static str, values: Vec<f64>| {
            let ci = mean_ci(&values, LEVEL);
            kpis.push(Kpi {
                name: name.to_owned(),
                unit: unit.map(str::to_owned),
                measure,
                values,
                ci,
            });
        };
    let mut add = |name: &str,
                   unit: Option<&str>,
                   measure: &'static str,
                   f: &(dyn Fn(&Trace) -> f64 + Sync)| {
        add_values(name, unit, measure, per_trace(f));
    };
    let window = |v: &[(f64, f64)], q: Option<f64>| -> f64 {
        let mut xs: Vec<f64> = v
            .iter()
            .filter(|(t, _)| *t >= w as f64)
            .map(|(_, x)| *x)
            .collect();
        match q {
            Some(q) => quantile(&mut xs, q),
            None if xs.is_empty() => f64::NAN,
            None => xs.iter().sum::<f64>() / xs.len() as f64,
        }
    };
    let per_day = |v: &[u32]| v[w..].iter().map(|x| f64::from(*x)).sum::<f64>() / days;
    let total_census = |t: &Trace| {
        (0..t.units)
            .map(|u| t.census[u * hours + w..(u + 1) * hours].iter().sum::<f64>())
            .sum::<f64>()
            / (hours - w) as f64
    };
    add("inpatient_census", None, "patients", &total_census);
    if h.ed.is_some() {
        add("ed_arrivals", None, "/day", &|t| per_day(&t.ed_arrivals));
        add("ed_census", None, "patients", &|t| {
            t.ed_census[w..].iter().sum::<f64>() / (hours - w) as f64
        });
        add("ed_wait_mean", None, "h", &|t| window(&t.ed_waits, None));
        add("ed_wait_p50", None, "h", &|t| {
            window(&t.ed_waits, Some(0.5))
        });
        add("ed_wait_p90", None, "h", &|t| {
            window(&t.ed_waits, Some(0.9))
        });
        add("boarding_p50", None, "h", &|t| {
            window(&t.boarding, Some(0.5))
        });
        add("boarding_p90", None, "h", &|t| {
            window(&t.boarding, Some(0.9))
        });
        add("diversions", None, "/day", &|t| per_day(&t.diversions));
        add("lwbs", None, "/day", &|t| per_day(&t.lwbs));
    }
    if h.max_transfer_wait_hours.is_some() {
        add("overflows", None, "/day", &|t| per_day(&t.overflows));
    }
    add("bed_wait_mean", None, "h", &|t| window(&t.bed_waits, None));
    add("bed_wait_p90", None, "h", &|t| {
        window(&t.bed_waits, Some(0.9))
    });
    if h.staffing.is_some() {
        add("ratio_breaches", None, "unit-hours/day", &|t| {
            per_day(&t.ratio_breaches)
        });
    }
    // Little's-law terms once per replication and unit: [replication][unit] = (L, λ, W).
    let littles: Vec<Vec<(f64, f64, f64)>> = traces
        .par_iter()
        .map(|t| (0..h.units.len()).map(|u| little(t, u, w as f64)).collect())
        .collect();
    let column = |u: usize, f: fn((f64, f64, f64)) -> f64| -> Vec<f64> {
        littles.iter().map(|r| f(r[u])).collect()
    };
    for (u, unit) in h.units.iter().enumerate() {
        let name = Some(unit.name.as_str());
        let beds = f64::from(unit.beds.max(1));
        let census = column(u, |x| x.0);
        let occupancy = census.iter().map(|c| 100.0 * c / beds).collect();
        add_values("occupancy", name, "%", occupancy);
        add_values("census", name, "patients", census);
        add_values("admissions", name, "/day", column(u, |x| 24.0 * x.1));
        add_values("mean_stay", name, "h", column(u, |x| x.2));
    }
    let warning = (automatic && w as f64 >= 0.45 * hours as f64).then(|| {
        format!(
            "MSER-5 deleted {w} of {hours} h, close to the half it may search: the hospital \
             probably had not settled; use a longer --horizon (or set --warmup)"
        )
    });
    RunResult {
        scenario: scenario.name.clone(),
        warning,
        replications: traces.len(),
        horizon_hours: hours,
        warmup_hours: w as f64,
        warmup_automatic: automatic,
        seed: options.seed,
        events: traces.iter().map(|t| t.events).sum(),
        kpis,
    }
}
