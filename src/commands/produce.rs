//! `wardstream produce`: publish the real data sets (or a recording) or generator output to
//! the Kafka input topics, with a progress bar.

use crate::config::Config;
use crate::sources;
use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use wardstream_pipelines::SourceRecord;
use wardstream_pipelines::generator::Generator;
use wardstream_pipelines::kafka::publish::{Publisher, ensure_topics};
use wardstream_schemas::Event;

/// Arguments of `produce`.
#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("input").required(true).args(["replay", "generate"])))]
pub struct ProduceArgs {
    /// Brokers (`bootstrap.servers`; default: [kafka] brokers).
    #[arg(long)]
    brokers: Option<String>,
    /// Publish a replay of this data folder (e.g. ../shared/data) or NDJSON recording, in
    /// event-time order. Records the replay rejects are not published (they are counted).
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Publish the built-in generator's events.
    #[arg(long)]
    generate: bool,
    /// With --generate: how many events (default 100,000).
    #[arg(long, default_value_t = 100_000)]
    max_events: u64,
    /// Generator seed (default: generator.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Partitions of topics created here (default: [kafka] partitions, 4). Existing topics
    /// are left as they are.
    #[arg(long)]
    partitions: Option<i32>,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// Runs the command.
pub fn run(mut config: Config, args: ProduceArgs) -> anyhow::Result<()> {
    if let Some(seed) = args.seed {
        config.generator.seed = seed;
    }
    let kafka = config.kafka.config(args.brokers.as_deref())?;
    let partitions = args.partitions.unwrap_or(config.kafka.partitions);
    ensure_topics(&kafka, partitions)
        .with_context(|| format!("creating the topics on {}", kafka.brokers))?;
    let (events, rejected, label): (Box<dyn Iterator<Item = Event>>, u64, String) =
        match &args.replay {
            Some(path) => {
                let replay = sources::load_replay(path, &config)?;
                let rejected = replay.files.iter().map(|f| f.rejected_total()).sum();
                let events = replay.records.into_iter().filter_map(|r| match r {
                    SourceRecord::Event(e) => Some(e),
                    SourceRecord::Rejected(_) => None,
                });
                (
                    Box::new(events.collect::<Vec<_>>().into_iter()),
                    rejected,
                    format!("replay of {}", path.display()),
                )
            }
            None => (
                Box::new(Generator::new(config.generator.clone()).take(args.max_events as usize)),
                0,
                format!("generator (seed {})", config.generator.seed),
            ),
        };
    let total = events.size_hint().1.map(|n| n as u64);
    let bar = (!args.quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = match total {
            Some(n) => ProgressBar::new(n),
            None => ProgressBar::new_spinner(),
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {pos}/{len} events  {per_sec}  eta {eta}  {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar
    });
    eprintln!(
        "wardstream: publishing the {label} to {} ({} …)",
        kafka.brokers, kafka.topics.adt
    );
    let started = Instant::now();
    let mut publisher = Publisher::new(&kafka)?;
    for (i, e) in events.enumerate() {
        publisher.send_event(&e)?;
        if let Some(b) = &bar
            && i % 4096 == 0
        {
            b.set_position(i as u64);
            b.set_message(format!("{} acknowledged", publisher.delivered()));
        }
    }
    if let Some(b) = &bar {
        b.set_position(publisher.sent());
        b.set_message("waiting for acknowledgements");
    }
    let summary = publisher.flush(Duration::from_secs(120))?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let secs = started.elapsed().as_secs_f64();
    let sent: u64 = summary.sent.values().sum();
    for (topic, n) in &summary.sent {
        eprintln!("  {topic:<32} {n:>10}");
    }
    eprintln!(
        "wardstream: {sent} events published in {secs:.1} s ({:.0}/s), {} acknowledged, {} failed; {rejected} replay records rejected and not published",
        sent as f64 / secs.max(1e-9),
        summary.delivered,
        summary.failed
    );
    println!("{}", serde_json::to_string(&summary)?);
    anyhow::ensure!(
        summary.failed == 0,
        "{} events were not acknowledged by Kafka",
        summary.failed
    );
    Ok(())
}
