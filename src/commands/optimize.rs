//! `wardstream optimize`: staffing recommendations from a roster file and the live census
//! (`--roster`), or a Curtois & Qu benchmark instance solved and checked (`--benchmark`).

use crate::commands::run_to_end;
use crate::config::Config;
use crate::sources;
use anyhow::Context;
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wardstream_solver::forecast::{CensusSnapshot, ForecastOptions};
use wardstream_solver::report::{StaffingReport, money};
use wardstream_solver::{
    Formulation, Roster, RosterFile, Search, SolveOptions, benchmark, evaluate, optimise, recommend,
};

/// Arguments of `optimize`.
#[derive(Args, Debug)]
pub struct OptimizeArgs {
    /// Roster file (TOML: units, shifts, contracts, nurses, rules); see solver/rosters/.
    #[arg(
        long,
        conflicts_with = "benchmark",
        required_unless_present = "benchmark"
    )]
    roster: Option<PathBuf>,
    /// A Curtois & Qu instance file; reports objective, bound, gap and the best-known value
    /// from a best_known.csv beside it.
    #[arg(long)]
    benchmark: Option<PathBuf>,
    /// Planning horizon for --roster (`14d`, `4w`).
    #[arg(long, default_value = "14d")]
    horizon: String,
    /// Census source for --roster: a data folder or NDJSON recording replayed to its end.
    /// Without it, the built-in generator runs for --generate events (units with a fixed
    /// `census` in the roster file need neither).
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Only this tenant's census (default: every tenant's rows for the roster's unit names).
    #[arg(long)]
    tenant: Option<String>,
    /// Generator events to run for the census when no --replay is given.
    #[arg(long, default_value_t = 200_000)]
    generate: u64,
    /// The published roster (JSON, as written by --out) to re-plan from: changes to it are
    /// penalised and the solve starts from it.
    #[arg(long)]
    published: Option<PathBuf>,
    /// Solver time limit, seconds; the best roster found so far is kept when it hits.
    #[arg(long, default_value_t = 600.0)]
    time_limit: f64,
    /// Stop at this relative gap (0 = prove optimality).
    #[arg(long, default_value_t = 0.0)]
    gap: f64,
    /// How to spend the time limit: `mip` (one solve; proves optimality when there is time)
    /// or `lns` (MIP, then neighbourhood search from its roster, then MIP again: better
    /// rosters on large instances).
    #[arg(long, value_enum, default_value_t = SearchArg::Mip)]
    search: SearchArg,
    /// Which MIP to build: `auto` (patterns when every nurse's legal schedules can be listed,
    /// at most 2,000 in all; otherwise compact), `compact` (one binary per nurse, day and
    /// shift) or `patterns` (one binary per nurse and schedule: a much tighter relaxation,
    /// up to 500,000 schedules).
    #[arg(long, value_enum, default_value_t = FormulationArg::Auto)]
    formulation: FormulationArg,
    /// HiGHS threads.
    #[arg(long, default_value_t = 1)]
    threads: u32,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the roster (assignments and agency bookings, JSON) here.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// A further HiGHS option, `NAME=VALUE` (repeatable), e.g. `mip_heuristic_effort=0.3`.
    #[arg(long = "highs-option", value_name = "NAME=VALUE", value_parser = parse_highs_option)]
    highs_options: Vec<(String, String)>,
    /// Keep HiGHS's log in this file.
    #[arg(long)]
    solver_log: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum SearchArg {
    Mip,
    Lns,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FormulationArg {
    Auto,
    Compact,
    Patterns,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// Runs `optimize`.
pub fn run(config: Config, args: OptimizeArgs) -> anyhow::Result<()> {
    let (log, progress) = solver_progress(args.quiet, args.solver_log.clone());
    let options = SolveOptions {
        time_limit: args.time_limit,
        relative_gap: args.gap,
        threads: args.threads,
        log_file: log.clone(),
        warm_start: None,
        highs_options: args.highs_options.clone(),
        search: match args.search {
            SearchArg::Mip => Search::Mip,
            SearchArg::Lns => Search::Lns,
        },
        formulation: match args.formulation {
            FormulationArg::Auto => Formulation::Auto,
            FormulationArg::Compact => Formulation::Compact,
            FormulationArg::Patterns => Formulation::Patterns,
        },
    };
    let result = match &args.benchmark {
        Some(path) => run_benchmark(path, &options, &args),
        None => run_roster(&config, &options, &args),
    };
    progress.store(true, Ordering::Relaxed);
    if let Some(log) = log
        && args.solver_log.is_none()
    {
        let _ = std::fs::remove_file(log);
    }
    result
}

fn run_benchmark(path: &Path, options: &SolveOptions, args: &OptimizeArgs) -> anyhow::Result<()> {
    let problem = benchmark::load(path)?;
    let best = benchmark::best_known(path)?;
    let (solution, search) = optimise(&problem, options)?;
    let eval = solution.roster.as_ref().map(|r| evaluate(&problem, r));
    if let (Some(out), Some(roster)) = (&args.out, &solution.roster) {
        write_json(out, roster)?;
    }
    let checked = eval.as_ref().map(|e| e.total);
    match args.format {
        Format::Json => {
            let v = serde_json::json!({
                "instance": problem.name,
                "status": solution.status,
                "objective": solution.objective,
                "bound": solution.bound,
                "gap": solution.gap,
                "seconds": solution.seconds,
                "build_seconds": solution.build_seconds,
                "variables": solution.variables,
                "constraints": solution.constraints,
                "formulation": solution.formulation,
                "checker": eval,
                "search": search,
                "best_known": best,
            });
            println!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Table => {
            let f = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.0}"));
            println!("instance     {}", problem.name);
            println!(
                "size         {} days, {} nurses, {} shift types; {} columns, {} rows ({:?})",
                problem.days,
                problem.employees.len(),
                problem.shifts.len(),
                solution.variables,
                solution.constraints,
                solution.formulation,
            );
            println!("status       {:?}", solution.status);
            println!("objective    {}", f(solution.objective));
            println!("bound        {}", f(solution.bound));
            println!(
                "gap          {}",
                solution
                    .gap
                    .map_or("-".into(), |g| format!("{:.2}%", 100.0 * g))
            );
            println!(
                "time         {:.2} s ({:.2} s building the model)",
                solution.seconds, solution.build_seconds
            );
            if let Some(r) = &search {
                println!(
                    "search       {} moves, {} improvements, up to {} nurses a move, {} → {}",
                    r.moves,
                    r.improvements,
                    r.largest_move,
                    f(r.start_score),
                    f(r.end_score)
                );
            }
            if let Some(e) = &eval {
                println!(
                    "checker      {} ({} hard violations)",
                    e.total,
                    e.violations.len()
                );
            }
            if let Some(b) = &best {
                println!(
                    "best known   {} (lower bound {}, proven optimal: {})",
                    b.upper, b.lower, b.proven_optimal
                );
                if let Some(o) = checked {
                    println!("vs best      {:+.2}%", 100.0 * (o - b.upper) / b.upper);
                }
            }
        }
    }
    if eval.as_ref().is_some_and(|e| !e.feasible()) {
        anyhow::bail!("the checker found hard violations in the solver's roster");
    }
    Ok(())
}

fn run_roster(config: &Config, options: &SolveOptions, args: &OptimizeArgs) -> anyhow::Result<()> {
    let path = args
        .roster
        .as_ref()
        .context("--roster or --benchmark is required")?;
    let file = RosterFile::load(path)?;
    let days = parse_days(&args.horizon)?;
    // Plan once without a census: reports errors in the file before any replay runs.
    let mut plan = file.plan(
        days,
        &CensusSnapshot::default(),
        &ForecastOptions::default(),
    )?;
    if file.units.iter().any(|u| u.census.is_none()) {
        let snapshot = census_snapshot(config, args)?;
        plan = file.plan(days, &snapshot, &ForecastOptions::default())?;
    }
    let published: Option<Roster> = match &args.published {
        Some(p) => Some(
            serde_json::from_str(
                &std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?,
            )
            .with_context(|| format!("{}: not a roster written by --out", p.display()))?,
        ),
        None => None,
    };
    let report = recommend(&plan, published.as_ref(), options)?;
    if let (Some(out), Some(roster)) = (&args.out, &report.assignments) {
        write_json(out, roster)?;
    }
    match args.format {
        Format::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Format::Table => print_report(&report, &plan.problem),
    }
    Ok(())
}

/// The census and hourly movements at the end of a replay or generator run.
fn census_snapshot(config: &Config, args: &OptimizeArgs) -> anyhow::Result<CensusSnapshot> {
    let source = match &args.replay {
        Some(path) => {
            let replay = sources::load_replay(path, config)?;
            sources::from_replay(replay, format!("replay of {}", path.display()))
        }
        None => sources::generator(config, Some(args.generate)),
    };
    let store = run_to_end(config, source, Some(1), args.quiet)?;
    Ok(wardstream_api::staffing::census_snapshot(
        &store,
        args.tenant.as_deref(),
    ))
}

fn print_report(r: &StaffingReport, p: &wardstream_solver::Problem) {
    let cur = &r.currency;
    println!("{}: {:?}", r.name, r.status);
    if let Some(o) = r.objective {
        println!(
            "objective {} (bound {}, gap {}), {:.1} s",
            money(o, cur),
            r.bound.map_or("-".into(), |b| money(b, cur)),
            r.gap.map_or("-".into(), |g| format!("{:.2}%", 100.0 * g)),
            r.seconds
        );
    }
    for line in &r.explanation {
        println!("  conflict: {line}");
    }
    if !r.coverage.is_empty() {
        println!("\nratio compliance per unit-hour");
        for c in &r.coverage {
            println!(
                "  {:<14} {:>5}/{:<5} {:6.1}%  (smallest surplus {} nurse(s))",
                c.unit, c.compliant_hours, c.hours, c.compliance_percent, c.min_surplus
            );
        }
    }
    println!("\nrecommendations");
    for line in &r.recommendations {
        println!("  - {line}");
    }
    if let Some(n) = r.changes {
        println!("  - {n} change(s) to the published roster");
    }
    if !r.roster.is_empty() {
        println!("\nroster");
        let header: Vec<String> = (0..p.days)
            .map(|d| format!("{:>8}", p.day_label(d).get(5..).unwrap_or("")))
            .collect();
        println!("  {:<14}{}", "", header.join(""));
        for (nurse, cells) in &r.roster {
            let row: Vec<String> = cells.iter().map(|c| format!("{c:>8}")).collect();
            println!("  {nurse:<14}{}", row.join(""));
        }
    }
}

fn write_json(path: &Path, roster: &Roster) -> anyhow::Result<()> {
    std::fs::write(path, serde_json::to_string_pretty(roster)?)
        .with_context(|| format!("writing {}", path.display()))
}

/// `NAME=VALUE`.
fn parse_highs_option(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("{s:?}: expected NAME=VALUE, e.g. mip_heuristic_effort=0.3"))
}

/// `14d`, `2w` or a bare number of days.
fn parse_days(s: &str) -> anyhow::Result<usize> {
    let s = s.trim();
    let (n, unit) = match s.strip_suffix('d') {
        Some(n) => (n, 1),
        None => match s.strip_suffix('w') {
            Some(n) => (n, 7),
            None => (s, 1),
        },
    };
    let n: usize = n
        .parse()
        .with_context(|| format!("--horizon {s:?}: expected days like 14d or weeks like 2w"))?;
    anyhow::ensure!(n > 0, "--horizon must be at least one day");
    Ok(n * unit)
}

/// A HiGHS log file and a spinner that shows its latest line while the solver runs (on a
/// terminal); the returned flag stops the spinner.
fn solver_progress(quiet: bool, keep: Option<PathBuf>) -> (Option<PathBuf>, Arc<AtomicBool>) {
    let done = Arc::new(AtomicBool::new(false));
    if quiet || !std::io::stderr().is_terminal() {
        return (keep, done);
    }
    let log = keep.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("wardstream-highs-{}.log", std::process::id()))
    });
    let _ = std::fs::remove_file(&log);
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {elapsed_precise} solving: {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let (path, flag) = (log.clone(), done.clone());
    std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            if let Some(text) = log_tail(&path)
                && let Some(line) = text.lines().rev().find(|l| !l.trim().is_empty())
            {
                bar.set_message(line.trim().chars().take(100).collect::<String>());
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        bar.finish_and_clear();
    });
    (Some(log), done)
}

/// The last 4 KiB of the log (it grows for the whole solve; only its end is shown).
fn log_tail(path: &Path) -> Option<String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(4096))).ok()?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::parse_days;

    #[test]
    fn horizons() {
        assert_eq!(parse_days("14d").ok(), Some(14));
        assert_eq!(parse_days("2w").ok(), Some(14));
        assert_eq!(parse_days("28").ok(), Some(28));
        assert!(parse_days("0d").is_err());
        assert!(parse_days("soon").is_err());
    }
}
