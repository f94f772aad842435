//! Speed of the staffing solver (`wardstream-solver`) on the Curtois & Qu nurse-rostering
//! benchmark (`$WARDSTREAM_DATA_DIR/nurse-rostering-curtois-qu`, default `../shared/data`).
//!
//! Each workload is one instance (`Instance1` … `Instance4` by default; pass names after `--`,
//! e.g. `-- Instance1 Instance6`): [`RUNS`] solves to proven optimality on one HiGHS thread
//! with a fixed seed, then the checker re-scores the roster. One row per instance: median,
//! min and max wall time per solve (model building included), the objective, the best-known
//! value from `best_known.csv`, the checker's score and hard violations (so a fast but wrong
//! solver shows), the formulation [`wardstream_solver::Formulation::Auto`] picked and the
//! model's size. The target is Instance1 in ≤ 0.2 s.
//!
//! Run: `cargo bench -p wardstream-benches --bench rostering [-- INSTANCE…]` (release), or
//! with `--profile dev` to reuse the test build (the solver and HiGHS are optimised there too).

use std::time::Duration;
use wardstream_benches::data_dir;
use wardstream_solver::{SolveOptions, Status, benchmark, evaluate, solve};

/// Timed solves per instance.
const RUNS: usize = 5;
/// Instances run when none are named.
const DEFAULT: [&str; 4] = ["Instance1", "Instance2", "Instance3", "Instance4"];
/// Time limit per solve, s (a solve that hits it is reported as such).
const TIME_LIMIT: f64 = 600.0;

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let instances: Vec<String> = if named.is_empty() {
        DEFAULT.iter().map(|s| (*s).to_owned()).collect()
    } else {
        named
    };
    let dir = data_dir().join("nurse-rostering-curtois-qu");
    println!(
        "| instance | solves | median | min | max | status | objective | best known | checker | violations | formulation | columns × rows |"
    );
    println!("|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|---|");
    for name in &instances {
        let path = dir.join(format!("{name}.txt"));
        let problem = benchmark::load(&path)?;
        let best = benchmark::best_known(&path)?;
        let options = SolveOptions {
            time_limit: TIME_LIMIT,
            ..SolveOptions::default()
        };
        let mut times = Vec::with_capacity(RUNS);
        let mut last = None;
        for _ in 0..RUNS {
            let solution = solve(&problem, &options)?;
            times.push(Duration::from_secs_f64(solution.seconds));
            let limited = solution.status != Status::Optimal;
            last = Some(solution);
            if limited {
                break;
            }
        }
        times.sort();
        let Some(solution) = last else { continue };
        let eval = solution.roster.as_ref().map(|r| evaluate(&problem, r));
        let f = |x: Option<f64>| x.map_or("-".to_owned(), |v| format!("{v:.0}"));
        println!(
            "| {name} | {} | {:.3} s | {:.3} s | {:.3} s | {:?} | {} | {} | {} | {} | {:?} | {} × {} |",
            times.len(),
            times[times.len() / 2].as_secs_f64(),
            times[0].as_secs_f64(),
            times[times.len() - 1].as_secs_f64(),
            solution.status,
            f(solution.objective),
            f(best.as_ref().map(|b| b.upper)),
            f(eval.as_ref().map(|e| e.total)),
            eval.as_ref().map_or(0, |e| e.violations.len()),
            solution.formulation,
            solution.variables,
            solution.constraints,
        );
    }
    Ok(())
}
