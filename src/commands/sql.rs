//! `wardstream sql`: SQL over the views of a running engine, or of a replay run to its end.

use super::run_to_end;
use crate::config::Config;
use crate::output::{self, Format};
use crate::sources;
use anyhow::Context;
use clap::Args;
use std::path::PathBuf;
use wardstream_pipelines::sql;

/// Arguments of `sql`.
#[derive(Args, Debug)]
pub struct SqlArgs {
    /// The query, e.g. "SELECT care_unit, patients FROM census ORDER BY patients DESC".
    query: String,
    /// A running engine's base URL (default: http:// + serve.listen).
    #[arg(long, conflicts_with = "replay")]
    endpoint: Option<String>,
    /// Replay this data folder or NDJSON recording to its end, then answer (no engine needed).
    #[arg(long)]
    replay: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Worker threads for --replay.
    #[arg(long, short = 'w')]
    workers: Option<usize>,
    /// Bearer token of an admin or analyst, for an engine that serves accounts (its SQL then
    /// sees only the token's tenant).
    #[arg(long, env = "WARDSTREAM_TOKEN", hide_env_values = true)]
    token: Option<String>,
}

/// Runs the command.
pub fn run(config: Config, args: SqlArgs) -> anyhow::Result<()> {
    let batches = match &args.replay {
        Some(path) => {
            let replay = sources::load_replay(path, &config)?;
            let source = sources::from_replay(replay, format!("replay of {}", path.display()));
            let store = run_to_end(&config, source, args.workers, false)?;
            let snapshot = store.snapshot()?;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(sql::query(&snapshot, &args.query))?
        }
        None => {
            let base = args
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("http://{}", config.serve.listen));
            let url = format!("{}/v1/sql", base.trim_end_matches('/'));
            let body = serde_json::json!({ "sql": args.query }).to_string();
            let mut request = reqwest::blocking::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .body(body);
            if let Some(token) = &args.token {
                request = request.bearer_auth(token);
            }
            let response = request
                .send()
                .with_context(|| format!("no engine answering at {base} (start one with `wardstream run`, or use --replay)"))?;
            let status = response.status();
            let bytes = response.bytes()?;
            if !status.is_success() {
                let problem: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
                anyhow::bail!(
                    "{}: {}",
                    problem["code"].as_str().unwrap_or("error"),
                    problem["detail"]
                        .as_str()
                        .unwrap_or(&String::from_utf8_lossy(&bytes))
                );
            }
            output::read_ipc(&bytes)?
        }
    };
    let stdout = std::io::stdout();
    output::write(&batches, args.format, &mut stdout.lock())
}
