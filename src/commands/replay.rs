//! `wardstream replay --check <path>`: validate and count a replay without running the views.

use crate::config::Config;
use crate::sources::load_replay;
use clap::Args;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wardstream_pipelines::SourceRecord;

/// Arguments of `replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Validate and count only (the only mode so far; replays that run the views are `run --replay`).
    #[arg(long)]
    check: bool,
    /// A data folder (../shared/data) or NDJSON file / folder.
    path: PathBuf,
}

/// Runs the command.
pub fn run(config: Config, args: ReplayArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.check,
        "only `replay --check <path>` exists; to run the views over a replay use `wardstream run --replay <path>`"
    );
    let replay = load_replay(&args.path, &config)?;
    println!(
        "{:<58} {:>10} {:>10} {:>9} {:>9}",
        "file", "rows", "events", "rejected", "skipped"
    );
    for f in &replay.files {
        let rejected: u64 = f.rejected.values().sum();
        let skipped: u64 = f.skipped.values().sum();
        println!(
            "{:<58} {:>10} {:>10} {:>9} {:>9}",
            f.file, f.rows, f.events, rejected, skipped
        );
        for (reason, n) in &f.rejected {
            println!("    rejected  {:<40} {n:>10}", reason.code());
        }
        for (why, n) in &f.skipped {
            println!("    skipped   {why:<40} {n:>10}",);
        }
    }
    let mut per_stream: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in &replay.records {
        let e = per_stream.entry(r.stream().as_str()).or_default();
        match r {
            SourceRecord::Event(_) => e.0 += 1,
            SourceRecord::Rejected(_) => e.1 += 1,
        }
    }
    println!();
    println!("{:<14} {:>10} {:>14}", "stream", "valid", "dead letters");
    for (stream, (ok, bad)) in per_stream {
        println!("{stream:<14} {ok:>10} {bad:>14}");
    }
    Ok(())
}
