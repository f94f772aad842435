//! `wardstream serve`: the transactional API (tenants, auth, patients, providers,
//! appointments, invoices, audit, and federated learning when enabled) on its store, without
//! the engine. With Kafka (`--kafka BROKERS`) its outbox relay publishes every
//! domain event to the input topics, for any `wardstream run --kafka` to read; without, the
//! outbox keeps them until a `wardstream run` on the same store relays them into its views.

use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use wardstream_pipelines::ViewStore;

use crate::commands::run::{accounts_state, federation, outbox_to_kafka};
use crate::config::Config;

/// `wardstream serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on (default: serve.listen, 127.0.0.1:7878).
    #[arg(long)]
    listen: Option<String>,
    /// Publish the outbox's events to the Kafka topics on these brokers (`bootstrap.servers`;
    /// topic names and client settings from [kafka]). Without it the events wait in the
    /// outbox for a `wardstream run` on the same store.
    #[arg(long, value_name = "BROKERS")]
    kafka: Option<String>,
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
    if let Some(brokers) = args.kafka {
        let kafka = config.kafka.config(Some(&brokers))?;
        let destination = outbox_to_kafka(&kafka, &config)?;
        let _guard = runtime.enter();
        wardstream_api::outbox::spawn_relay(accounts.db.clone(), destination);
        eprintln!(
            "wardstream: serving the API at http://{addr} (no engine here: `wardstream run --kafka {brokers}` reads what it publishes)"
        );
    } else {
        eprintln!(
            "wardstream: serving the API at http://{addr} (no engine: the views stay empty; `wardstream run` on the same store relays the outbox into them)"
        );
    }
    let served = runtime.block_on(wardstream_api::serve(
        listener,
        Arc::new(ViewStore::new()),
        Some(accounts),
        federation,
        async {
            let _ = tokio::signal::ctrl_c().await;
        },
    ));
    // The outbox relay may be waiting for Kafka's acknowledgements in a blocking task: do not
    // wait for it (up to message.timeout.ms); what it has not stamped goes out next time.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    served?;
    Ok(())
}
