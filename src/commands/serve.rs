//! `wardstream serve`: the transactional API (tenants, auth, patients, providers,
//! appointments, invoices, audit, and federated learning when enabled) on its store, without
//! the engine. Its outbox keeps every domain event until a `wardstream run` on the same store
//! relays it into the views.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use wardstream_pipelines::ViewStore;

use crate::commands::run::{accounts_state, federation};
use crate::config::Config;

/// `wardstream serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: serve.listen, 127.0.0.1:7878).
    #[arg(long)]
    listen: Option<String>,
}

/// Runs the API until Ctrl-C.
pub fn run(config: Config, args: ServeArgs) -> anyhow::Result<()> {
    let listen = args.listen.unwrap_or_else(|| config.serve.listen.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let accounts = accounts_state(&runtime, &config)?.ok_or_else(|| {
        anyhow::anyhow!(
            "wardstream serve needs a store: set [serve] database_url or DATABASE_URL (e.g. sqlite://wardstream.db)"
        )
    })?;
    let federation = federation(&config, true)?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&listen))
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    eprintln!(
        "wardstream: serving the API at http://{addr} (no engine: the views stay empty; `wardstream run` on the same store relays the outbox into them)"
    );
    runtime.block_on(wardstream_api::serve(
        listener,
        Arc::new(ViewStore::new()),
        Some(accounts),
        federation,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ))?;
    Ok(())
}
