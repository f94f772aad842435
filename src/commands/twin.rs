//! `wardstream twin`: calibrate a hospital from replayed data, run scenarios with
//! replications, compare two scenarios with common random numbers.

use crate::config::Config;
use crate::sources::load_replay;
use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;
use wardstream_twin::calibrate::{CalibrationOptions, calibrate, to_commented_toml};
use wardstream_twin::export;
use wardstream_twin::replication::{self, Comparison, RunOptions, RunResult};
use wardstream_twin::scenario::Scenario;

/// Arguments of `twin`.
#[derive(Args, Debug)]
pub struct TwinArgs {
    #[command(subcommand)]
    command: TwinCommand,
}

#[derive(Subcommand, Debug)]
enum TwinCommand {
    /// Estimate a hospital file (units, beds, LOS, routing, arrivals, ED) from replayed ADT data.
    Calibrate(CalibrateArgs),
    /// Run a scenario: independent replications, warm-up deleted, KPIs with 95% intervals.
    Run(RunArgs),
    /// Run two scenarios on the same random numbers and report paired differences (b − a).
    Compare(CompareArgs),
}

#[derive(Args, Debug)]
struct CalibrateArgs {
    /// Data folder (../shared/data) or NDJSON recording to read ADT events from
    /// (default: the configured data folder).
    path: Option<PathBuf>,
    /// Tenant (hospital) whose flow is calibrated.
    #[arg(long, default_value = "mimic-iv-demo")]
    tenant: String,
    /// Do not pool other tenants' ICU stays (eICU) into the ICU length-of-stay fits.
    #[arg(long)]
    no_pool_icu_los: bool,
    /// Units with fewer stays than this borrow the LOS fit of their kind.
    #[arg(long, default_value_t = 10)]
    min_stays: usize,
    /// Scale arrivals to this many encounters per day (all streams together), and size beds
    /// and ED bays for `--target-occupancy` of the resulting offered load. Without it, rates
    /// and beds are as observed (a demo sample gives a tiny hospital).
    #[arg(long)]
    encounters_per_day: Option<f64>,
    /// Mean occupancy the beds are sized for with `--encounters-per-day` (0–1).
    #[arg(long, default_value_t = 0.85)]
    target_occupancy: f64,
    /// Write the hospital file here (default: standard output).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
struct RunSettings {
    /// Independent replications.
    #[arg(long, short = 'r', default_value_t = 200)]
    replications: usize,
    /// Simulated time per replication, warm-up included: `28d`, `672h`, `4w`.
    #[arg(long, default_value = "28d", value_parser = parse_hours)]
    horizon: f64,
    /// Warm-up to delete: `auto` (MSER-5) or a duration such as `7d`.
    #[arg(long, default_value = "auto")]
    warmup: String,
    /// Base seed; replication r uses the streams of (seed, r).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Worker threads (default: one per core). Results do not depend on it.
    #[arg(long)]
    threads: Option<usize>,
    /// Output on standard output.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Also write the summary to this file (.csv, .arrow or .parquet).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write every replication's KPI values to this file (.csv, .arrow or .parquet).
    #[arg(long)]
    replications_out: Option<PathBuf>,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct RunArgs {
    /// Scenario or hospital TOML file.
    scenario: PathBuf,
    #[command(flatten)]
    settings: RunSettings,
}

#[derive(Args, Debug)]
struct CompareArgs {
    /// Scenario a (the baseline).
    a: PathBuf,
    /// Scenario b.
    b: PathBuf,
    /// Use different random numbers for b (to see what common random numbers buy).
    #[arg(long)]
    independent: bool,
    #[command(flatten)]
    settings: RunSettings,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
enum Format {
    Table,
    Json,
}

/// Parses `28d`, `672h`, `4w` or a bare number of hours.
fn parse_hours(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (num, factor) = match s.chars().last() {
        Some('h') => (&s[..s.len() - 1], 1.0),
        Some('d') => (&s[..s.len() - 1], 24.0),
        Some('w') => (&s[..s.len() - 1], 168.0),
        Some('y') => (&s[..s.len() - 1], 8760.0),
        _ => (s, 1.0),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("{s:?}: expected a duration like 28d, 672h, 4w or 1y"))?;
    if !(v.is_finite() && v > 0.0) {
        return Err(format!("{s:?}: must be positive"));
    }
    Ok(v * factor)
}

/// Runs the command.
pub fn run(config: Config, args: TwinArgs) -> anyhow::Result<()> {
    match args.command {
        TwinCommand::Calibrate(a) => calibrate_cmd(&config, a),
        TwinCommand::Run(a) => run_cmd(a),
        TwinCommand::Compare(a) => compare_cmd(a),
    }
}

fn calibrate_cmd(config: &Config, args: CalibrateArgs) -> anyhow::Result<()> {
    let path = args.path.clone().unwrap_or_else(|| config.data_dir.clone());
    let replay = load_replay(&path, config)?;
    let adts = replay.into_adt_events();
    tracing::info!(adt_events = adts.len(), path = %path.display(), "calibrating");
    let opts = CalibrationOptions {
        tenant: args.tenant.clone(),
        pool_icu_los: !args.no_pool_icu_los,
        min_stays: args.min_stays,
    };
    let mut cal = calibrate(&adts, &opts)?;
    if let Some(n) = args.encounters_per_day {
        wardstream_twin::sizing::resize(&mut cal, n, args.target_occupancy)?;
    }
    let header = format!(
        "Hospital calibrated by `wardstream twin calibrate` from {} ({} ADT events), tenant {}.",
        path.display(),
        adts.len(),
        args.tenant
    );
    let text = to_commented_toml(&cal, &header)?;
    eprintln!("{:<44} {:>26} {:>7}  source", "parameter", "value", "n");
    for line in &cal.report {
        eprintln!(
            "{:<44} {:>26} {:>7}  {}",
            line.parameter, line.value, line.n, line.source
        );
    }
    match &args.out {
        Some(out) => {
            std::fs::write(out, &text).with_context(|| format!("writing {}", out.display()))?;
            eprintln!("wrote {}", out.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

fn options(s: &RunSettings) -> anyhow::Result<RunOptions> {
    let warmup_hours = match s.warmup.as_str() {
        "auto" => None,
        w => Some(parse_hours(w).map_err(anyhow::Error::msg)?),
    };
    anyhow::ensure!(s.replications >= 1, "--replications must be at least 1");
    Ok(RunOptions {
        replications: s.replications,
        horizon_hours: s.horizon.round().max(1.0) as usize,
        seed: s.seed,
        warmup_hours,
        threads: s.threads,
    })
}

/// Replications done: a bar on a terminal, a log line every 10% otherwise.
struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: AtomicUsize,
    log: bool,
}

impl Progress {
    fn new(total: usize, quiet: bool) -> Progress {
        let terminal = std::io::stderr().is_terminal();
        let bar = (!quiet && terminal).then(|| {
            let bar = ProgressBar::new(total as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} replications · {elapsed} · eta {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            total: total.max(1),
            done: AtomicUsize::new(0),
            log: !quiet && !terminal,
        }
    }

    fn tick(&self) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            bar.inc(1);
        } else if self.log && done * 10 / self.total != (done - 1) * 10 / self.total {
            tracing::info!(done, total = self.total, "replications");
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn load(path: &Path) -> anyhow::Result<Scenario> {
    Scenario::load(path).with_context(|| format!("loading scenario {}", path.display()))
}

fn run_cmd(args: RunArgs) -> anyhow::Result<()> {
    let scenario = load(&args.scenario)?;
    let opts = options(&args.settings)?;
    let bar = Progress::new(opts.replications, args.settings.quiet);
    let started = Instant::now();
    tracing::info!(
        scenario = %scenario.name,
        replications = opts.replications,
        horizon_hours = opts.horizon_hours,
        "twin run"
    );
    let result = replication::run(&scenario, &opts, &|| bar.tick())?;
    bar.finish();
    let elapsed = started.elapsed().as_secs_f64();
    tracing::info!(
        events = result.events,
        seconds = elapsed,
        "twin run finished"
    );
    match args.settings.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&result)?),
        Format::Table => print_run(&result, elapsed),
    }
    if let Some(out) = &args.settings.out {
        export::write(&export::summary(&result)?, out)?;
    }
    if let Some(out) = &args.settings.replications_out {
        export::write(&export::replications(&result)?, out)?;
    }
    Ok(())
}

fn compare_cmd(args: CompareArgs) -> anyhow::Result<()> {
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    let opts = options(&args.settings)?;
    let bar = Progress::new(2 * opts.replications, args.settings.quiet);
    let started = Instant::now();
    let c = replication::compare(&a, &b, &opts, !args.independent, &|| bar.tick())?;
    bar.finish();
    for w in [&c.a.warning, &c.b.warning].into_iter().flatten() {
        tracing::warn!("{w}");
    }
    match args.settings.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&c)?),
        Format::Table => print_compare(&c, started.elapsed().as_secs_f64(), args.independent),
    }
    if let Some(out) = &args.settings.out {
        export::write(&export::differences(&c)?, out)?;
    }
    if let Some(out) = &args.settings.replications_out {
        export::write(&export::replications(&c.b)?, out)?;
    }
    Ok(())
}

fn label(name: &str, unit: Option<&str>) -> String {
    match unit {
        Some(u) => format!("{name} [{u}]"),
        None => name.to_owned(),
    }
}

fn print_run(r: &RunResult, elapsed: f64) {
    println!(
        "scenario {} · {} replications × {} h · warm-up {} h ({}) · seed {} · {:.1} s",
        r.scenario,
        r.replications,
        r.horizon_hours,
        r.warmup_hours,
        if r.warmup_automatic {
            "MSER-5"
        } else {
            "given"
        },
        r.seed,
        elapsed
    );
    println!(
        "{:<52} {:>14} {:>12} {:>27}",
        "kpi", "measure", "mean", "95% CI"
    );
    for k in &r.kpis {
        println!(
            "{:<52} {:>14} {:>12.3} {:>27}",
            label(&k.name, k.unit.as_deref()),
            k.measure,
            k.ci.mean,
            format!("[{:.3}, {:.3}]", k.ci.lower, k.ci.upper)
        );
    }
}

fn print_compare(c: &Comparison, elapsed: f64, independent: bool) {
    println!(
        "a = {} · b = {} · {} replications × {} h · warm-up {} h · {} random numbers · {:.1} s",
        c.a.scenario,
        c.b.scenario,
        c.a.replications,
        c.a.horizon_hours,
        c.a.warmup_hours,
        if independent { "independent" } else { "common" },
        elapsed
    );
    println!(
        "{:<52} {:>14} {:>11} {:>11} {:>11} {:>25}",
        "kpi", "measure", "a", "b", "b − a", "95% CI of b − a"
    );
    for d in &c.differences {
        println!(
            "{:<52} {:>14} {:>11.3} {:>11.3} {:>11.3} {:>25}",
            label(&d.name, d.unit.as_deref()),
            d.measure,
            d.a,
            d.b,
            d.difference.mean,
            format!("[{:.3}, {:.3}]", d.difference.lower, d.difference.upper)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parse_hours;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_hours("28d"), Ok(672.0));
        assert_eq!(parse_hours("672h"), Ok(672.0));
        assert_eq!(parse_hours("4w"), Ok(672.0));
        assert_eq!(parse_hours("12"), Ok(12.0));
        assert!(parse_hours("-1d").is_err());
        assert!(parse_hours("soon").is_err());
    }
}
