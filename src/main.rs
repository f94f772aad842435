//! `wardstream`: stream-processing analytics for hospital operations.
//!
//! Thin on purpose: parse the command line, load the configuration, set up logging, and
//! dispatch to a command.

mod commands;
mod config;
mod output;
mod progress;
mod sources;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use tracing_subscriber::EnvFilter;

/// Live census, NEWS2 alerts, no-shows, revenue and length of stay, maintained incrementally
/// over hospital event streams and queryable with SQL.
#[derive(Parser, Debug)]
#[command(name = "wardstream", version, about, long_about = None)]
struct Cli {
    /// TOML configuration file (then WARDSTREAM__SECTION__KEY environment variables override it).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Folder holding the real public data sets (default ../shared/data).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Log filter, e.g. `info` or `wardstream=debug` (RUST_LOG works too). The highs crate's
    /// warning on every time-limited solve is off by default: the solve's status reports it.
    #[arg(long, global = true, default_value = "info,highs=error")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the views over the built-in generator (default) or a replay, serving SQL over HTTP.
    Run(commands::run::RunArgs),
    /// Query the views with SQL: of a running engine, or of a replay run to its end.
    Sql(commands::sql::SqlArgs),
    /// Validate and count a replay without running the views.
    Replay(commands::replay::ReplayArgs),
    /// Digital twin: calibrate a hospital, run what-if scenarios, compare them.
    Twin(commands::twin::TwinArgs),
    /// Staffing recommendations from a roster file and the census (nurse-rostering MIP), or a
    /// Curtois & Qu benchmark instance solved and checked.
    Optimize(commands::optimize::OptimizeArgs),
    /// Federated learning: sites train a no-show model on their own records and share only
    /// updates (FedAvg / FedProx / FedAdam / FedYogi, robust aggregation, DP, secure
    /// aggregation).
    Federate(commands::federate::FederateArgs),
    /// Serve the transactional API on its store, without the engine.
    Serve(commands::serve::ServeArgs),
    /// Publish a replay of the real data sets, or generator output, to the Kafka topics.
    Produce(commands::produce::ProduceArgs),
    /// The audit trail of patient records: verify its hash chains.
    Audit(commands::audit::AuditArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&cli.log));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let mut config = config::load(cli.config.as_deref())?;
    if let Some(dir) = cli.data_dir {
        config.data_dir = dir;
    }
    match cli.command {
        Command::Run(args) => commands::run::run(config, args),
        Command::Sql(args) => commands::sql::run(config, args),
        Command::Replay(args) => commands::replay::run(config, args),
        Command::Twin(args) => commands::twin::run(config, args),
        Command::Optimize(args) => commands::optimize::run(config, args),
        Command::Federate(args) => commands::federate::run(config, args),
        Command::Audit(args) => commands::audit::run(config, args),
        Command::Produce(args) => commands::produce::run(config, args),
        Command::Serve(args) => commands::serve::run(config, args),
    }
}
