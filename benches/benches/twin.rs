//! Speed of the digital twin (`wardstream-twin`): how fast the discrete-event engine turns
//! simulated time into results. Prints one row per workload: threads, runs, wall time per
//! run (median and min–max), events handled per run, events/s per core, the workload's own
//! throughput, a model check (so a fast but wrong engine shows), and the process's peak RSS.
//!
//! Workloads (pass one name after `--` to run only it):
//! - `mmc`: an M/M/10 queue (λ = 9/h, μ = 1/h), [`MMC_CUSTOMERS`] customers, one thread,
//!   through [`wardstream_twin::mmc::simulate`] (the full calendar and resource API),
//!   [`RUNS`] runs on replications `0..RUNS`. Throughput is customers/s; the model check is
//!   the mean wait against Erlang C (0.6687 h).
//! - `hospital-500`: the hospital calibrated (default options) from the ADT events of the
//!   MIMIC-IV demo and eICU demo replay, rescaled ([`wardstream_twin::sizing::resize`], beds
//!   for [`TARGET_OCCUPANCY`]) to the number of encounters/day that gives about
//!   [`TARGET_BEDS`] inpatient beds; one replication of [`YEAR_HOURS`] h per run, one thread,
//!   [`RUNS`] runs (replications `0..RUNS`). Timed is `hospital::simulate` alone (the scenario
//!   is compiled once, outside the timing).
//! - `replications`: the same hospital, [`REPLICATIONS`] replications × [`REPLICATION_DAYS`]
//!   days through [`wardstream_twin::replication::run`] (simulation, MSER-5 warm-up, KPIs) on
//!   1 and 2 threads, [`RUNS`] calls each: wall time per call, to show parallel scaling. The
//!   simulations alone, one after another, are timed too (printed on standard error).
//!
//! Run: `cargo bench -p wardstream-benches --bench twin [-- WORKLOAD]`.

use std::time::{Duration, Instant};
use wardstream_benches::{data_dir, max_rss_mib, workloads};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_twin::calibrate::{Calibration, CalibrationOptions, calibrate};
use wardstream_twin::hospital::{self, Compiled};
use wardstream_twin::mmc::{self, MmcConfig};
use wardstream_twin::replication::{self, RunOptions};
use wardstream_twin::scenario::Scenario;
use wardstream_twin::sizing::resize;
use wardstream_twin::stats::mmc_mean_wait;

/// Base seed of every run.
const SEED: u64 = 1;
/// Timed runs per workload and thread count (median, min and max are reported).
const RUNS: u64 = 5;
/// The M/M/c benchmark queue.
const MMC: MmcConfig = MmcConfig {
    arrival_rate: 9.0,
    service_rate: 1.0,
    servers: 10,
    customers: MMC_CUSTOMERS,
    warmup_customers: 0,
};
/// Customers per M/M/c run.
const MMC_CUSTOMERS: u64 = 1_000_000;
/// Inpatient beds the calibrated hospital is scaled to (approximately).
const TARGET_BEDS: f64 = 500.0;
/// Mean occupancy beds are sized for.
const TARGET_OCCUPANCY: f64 = 0.85;
/// Bisection rounds of the encounters/day search for [`TARGET_BEDS`].
const SIZING_ROUNDS: usize = 30;
/// One simulated year, h.
const YEAR_HOURS: usize = 8_760;
/// Replications per `replication::run` call.
const REPLICATIONS: usize = 40;
/// Days per replication in `replications`.
const REPLICATION_DAYS: usize = 28;
/// Thread counts of `replications`.
const THREADS: [usize; 2] = [1, 2];

/// One result row.
struct Row<'a> {
    workload: &'a str,
    threads: usize,
    /// Wall time of each run.
    elapsed: Vec<Duration>,
    /// Events handled per run (mean over runs).
    events: f64,
    /// The workload's own throughput, already formatted.
    throughput: String,
    /// A model output to compare with theory or data, formatted.
    check: String,
}

/// Median, min and max.
fn spread(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (median, v[0], v[n - 1])
}

fn seconds(elapsed: &[Duration]) -> Vec<f64> {
    elapsed.iter().map(Duration::as_secs_f64).collect()
}

fn print_header() {
    println!(
        "| workload | threads | runs | elapsed per run: median (min–max) | events per run | events/s per core (median) | throughput | model check | max RSS (process) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---|---|---:|");
}

fn print_row(row: &Row<'_>) {
    let (median, min, max) = spread(&seconds(&row.elapsed));
    let per_core = row.events / median.max(1e-9) / row.threads as f64;
    println!(
        "| {} | {} | {} | {median:.3} s ({min:.3}–{max:.3}) | {:.0} | {per_core:.0} | {} | {} | {:.0} MiB |",
        row.workload,
        row.threads,
        row.elapsed.len(),
        row.events,
        row.throughput,
        row.check,
        max_rss_mib().unwrap_or(f64::NAN)
    );
}

fn mmc_workload() {
    let mut elapsed = Vec::new();
    let mut events = 0u64;
    let mut waits = Vec::new();
    for r in 0..RUNS {
        let started = Instant::now();
        let run = mmc::simulate(&MMC, SEED, r);
        elapsed.push(started.elapsed());
        events += run.events;
        waits.push(run.mean_wait);
    }
    let rates: Vec<f64> = seconds(&elapsed)
        .iter()
        .map(|s| MMC_CUSTOMERS as f64 / s)
        .collect();
    let (median, min, max) = spread(&rates);
    let (w_median, w_min, w_max) = spread(&waits);
    print_row(&Row {
        workload: "mmc: M/M/10, λ=9, μ=1, 10^6 customers",
        threads: 1,
        elapsed,
        events: events as f64 / RUNS as f64,
        throughput: format!("{median:.0} customers/s ({min:.0}–{max:.0})"),
        check: format!(
            "mean wait {w_median:.4} h ({w_min:.4}–{w_max:.4}); Erlang C {:.4} h",
            mmc_mean_wait(MMC.arrival_rate, MMC.service_rate, MMC.servers)
        ),
    });
}

/// ADT events of the MIMIC-IV demo and eICU demo replay.
fn adt_events() -> anyhow::Result<Vec<wardstream_schemas::Adt>> {
    let opts = ReplayOptions {
        data_dir: data_dir(),
        data_sets: vec![DataSet::MimicIvDemo, DataSet::EicuDemo],
        ..ReplayOptions::default()
    };
    Ok(replay::load_data_sets(&opts)?.into_adt_events())
}

/// Inpatient beds of `calibration` resized to `per_day` encounters/day.
fn sized(calibration: &Calibration, per_day: f64) -> anyhow::Result<(Calibration, u32)> {
    let mut c = calibration.clone();
    resize(&mut c, per_day, TARGET_OCCUPANCY)?;
    let beds = c.hospital.units.iter().map(|u| u.beds).sum();
    Ok((c, beds))
}

/// The calibrated hospital scaled to about [`TARGET_BEDS`] beds: the smallest encounters/day
/// (bisection, [`SIZING_ROUNDS`] rounds) whose sized hospital has at least that many beds.
/// Beds grow with volume but not linearly (small units are sized by Erlang loss).
fn hospital_500() -> anyhow::Result<Scenario> {
    let started = Instant::now();
    let adts = adt_events()?;
    let calibration = calibrate(&adts, &CalibrationOptions::default())?;
    let observed: f64 = calibration
        .hospital
        .arrivals
        .iter()
        .map(|s| s.mean_rate())
        .sum::<f64>()
        * 24.0;
    let (mut low, mut high) = (observed.max(0.01), 10_000.0_f64);
    for _ in 0..SIZING_ROUNDS {
        let mid = 0.5 * (low + high);
        if f64::from(sized(&calibration, mid)?.1) >= TARGET_BEDS {
            high = mid;
        } else {
            low = mid;
        }
    }
    let per_day = high;
    let (best, beds) = sized(&calibration, per_day)?;
    let h = &best.hospital;
    eprintln!(
        "  hospital: {} ADT events → {} units, {beds} inpatient beds, {} ED bays at {per_day:.1} \
         encounters/day (observed {observed:.3}/day); load + calibrate + size {:.2} s",
        adts.len(),
        h.units.len(),
        h.ed.as_ref().map_or(0, |e| e.bays),
        started.elapsed().as_secs_f64()
    );
    Ok(Scenario::from_hospital(
        format!("{beds}-bed calibrated hospital"),
        best.hospital,
    )?)
}

fn hospital_workload(scenario: &Scenario) {
    let model = Compiled::new(scenario);
    let beds: u32 = model.beds().iter().sum();
    let mut elapsed = Vec::new();
    let mut events = 0u64;
    let mut admitted = Vec::new();
    let mut entries = Vec::new();
    let mut occupancy = Vec::new();
    let mut ed_census = Vec::new();
    for r in 0..RUNS {
        let started = Instant::now();
        let trace = hospital::simulate(&model, YEAR_HOURS, SEED, r);
        elapsed.push(started.elapsed());
        events += trace.events;
        // First beds: elective/direct admissions plus ED boarders who got a bed.
        admitted.push((trace.bed_waits.len() + trace.boarding.len()) as f64);
        entries.push(trace.entries.iter().map(|e| f64::from(*e)).sum::<f64>());
        let census: f64 = trace.census.iter().sum::<f64>() / trace.hours as f64;
        occupancy.push(100.0 * census / f64::from(beds.max(1)));
        ed_census.push(trace.ed_census.iter().sum::<f64>() / trace.hours as f64);
    }
    let (a, _, _) = spread(&admitted);
    let (e, _, _) = spread(&entries);
    let (o, o_min, o_max) = spread(&occupancy);
    let (ed, _, _) = spread(&ed_census);
    print_row(&Row {
        workload: &format!("hospital-500: {beds} beds, 1 replication × 8,760 h"),
        threads: 1,
        elapsed,
        events: events as f64 / RUNS as f64,
        throughput: format!("{a:.0} admissions, {e:.0} unit entries per replication (median)"),
        check: format!(
            "mean inpatient occupancy {o:.1}% ({o_min:.1}–{o_max:.1}), sized for 85%; mean ED \
             census {ed:.0}"
        ),
    });
}

fn replications_workload(scenario: &Scenario) -> anyhow::Result<()> {
    let horizon_hours = REPLICATION_DAYS * 24;
    // Where the time goes: the simulations alone, one after another on this thread.
    let model = Compiled::new(scenario);
    let started = Instant::now();
    for r in 0..REPLICATIONS as u64 {
        std::hint::black_box(hospital::simulate(&model, horizon_hours, SEED, r));
    }
    eprintln!(
        "  {REPLICATIONS} simulations alone, sequential: {:.3} s",
        started.elapsed().as_secs_f64()
    );
    let mut one_thread: Option<f64> = None;
    for threads in THREADS {
        let options = RunOptions {
            replications: REPLICATIONS,
            horizon_hours,
            seed: SEED,
            warmup_hours: None,
            threads: Some(threads),
        };
        let mut elapsed = Vec::new();
        let mut result = None;
        for _ in 0..RUNS {
            let started = Instant::now();
            result = Some(replication::run(scenario, &options, &|| {})?);
            elapsed.push(started.elapsed());
        }
        let Some(result) = result else { continue };
        if let Some(w) = &result.warning {
            eprintln!("  {threads} thread(s): {w}");
        }
        let (median, _, _) = spread(&seconds(&elapsed));
        let speedup = one_thread.map_or(1.0, |one| one / median);
        one_thread.get_or_insert(median);
        let census = result
            .kpi("inpatient_census", None)
            .map_or(f64::NAN, |k| k.ci.mean);
        print_row(&Row {
            workload: &format!("replications: {REPLICATIONS} × {REPLICATION_DAYS} days"),
            threads,
            elapsed,
            events: result.events as f64,
            throughput: format!(
                "{:.0} replications/s (median); speed-up ×{speedup:.2} over 1 thread",
                REPLICATIONS as f64 / median
            ),
            check: format!(
                "inpatient census {census:.1}, warm-up {:.0} h (MSER-5)",
                result.warmup_hours
            ),
        });
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let Some(wanted) = workloads() else {
        return Ok(());
    };
    print_header();
    if wanted("mmc") {
        mmc_workload();
    }
    if wanted("hospital-500") || wanted("replications") {
        let scenario = hospital_500()?;
        if wanted("hospital-500") {
            hospital_workload(&scenario);
        }
        if wanted("replications") {
            replications_workload(&scenario)?;
        }
    }
    Ok(())
}
