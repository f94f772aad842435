//! `wardstream run`: the main job.

use super::{engine_config, run_engine};
use crate::config::Config;
use crate::progress::Progress;
use crate::sources;
use anyhow::Context;
use clap::Args;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wardstream_pipelines::ViewStore;
use wardstream_pipelines::clickhouse_sink::{self, ArchiveQueue, ClickHouseConfig, MirrorHandle};

/// Arguments of `run`.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Print help (`-h` is timely's hostfile here).
    #[arg(long, action = clap::ArgAction::Help)]
    help: Option<bool>,
    /// Timely cluster mode: processes in all (each with --workers threads). Run the same
    /// command in every process with its own --process; Kafka partitions are spread over all
    /// workers, and process 0 holds the whole views.
    #[arg(long, short = 'n', default_value_t = 1, value_name = "N")]
    processes: usize,
    /// Timely cluster mode: this process's index, 0..N.
    #[arg(long, short = 'p', default_value_t = 0, value_name = "INDEX")]
    process: usize,
    /// Timely cluster mode: a file of `host:port` lines, one per process (default:
    /// localhost:2101, localhost:2102, …).
    #[arg(long, short = 'h', value_name = "FILE")]
    hostfile: Option<PathBuf>,
    /// Replay a data folder (e.g. ../shared/data) or NDJSON recording instead of generating.
    #[arg(long, conflicts_with = "kafka")]
    replay: Option<PathBuf>,
    /// Consume the Kafka topics on these brokers (`bootstrap.servers`, e.g. 127.0.0.1:9092)
    /// instead of generating. Checkpoints go to [kafka] checkpoint_dir and a restart resumes
    /// from them; with --exit-at-end the run stops at the topics' end offsets as of its start.
    #[arg(long, value_name = "BROKERS")]
    kafka: Option<String>,
    /// With --kafka: checkpoint folder (default: [kafka] checkpoint_dir).
    #[arg(long, requires = "kafka")]
    checkpoint_dir: Option<PathBuf>,
    /// Write every view, when the run ends, as sorted NDJSON files `<view>.ndjson` here.
    #[arg(long, value_name = "DIR")]
    views_out: Option<PathBuf>,
    /// Event-time seconds per wall-clock second (3600 = one hour per second). Default: as fast
    /// as possible for a replay, `replay.generator_speed` (3600) for the generator.
    #[arg(long)]
    speed: Option<f64>,
    /// Replay as fast as possible, ignoring any configured speed.
    #[arg(long, conflicts_with = "speed")]
    fast: bool,
    /// Timely worker threads (default: engine.workers).
    #[arg(long, short = 'w')]
    workers: Option<usize>,
    /// Address to serve SQL on (default: serve.listen, 127.0.0.1:7878).
    #[arg(long)]
    listen: Option<String>,
    /// Generator seed (default: generator.seed).
    #[arg(long)]
    seed: Option<u64>,
    /// Stop the generator after this many events.
    #[arg(long)]
    max_events: Option<u64>,
    /// Exit when a replay ends instead of serving its final views until Ctrl-C.
    #[arg(long)]
    exit_at_end: bool,
    /// Record every valid input event to this NDJSON file (replay it later with --replay).
    #[arg(long)]
    record: Option<PathBuf>,
    /// Write dead letters (reason, origin, raw bytes) to this NDJSON file when the run ends.
    #[arg(long)]
    dead_letters: Option<PathBuf>,
    /// Mirror every view, the raw events and the dead letters into ClickHouse at this HTTP URL
    /// (e.g. http://127.0.0.1:8123; default: clickhouse.url). See docs/clickhouse.md.
    #[arg(long, value_name = "URL")]
    clickhouse: Option<String>,
    /// No spinner.
    #[arg(long, short = 'q')]
    quiet: bool,
}

/// The mirror's settings, if one is asked for.
fn mirror_config(config: &Config, args: &RunArgs, source_id: &str) -> Option<ClickHouseConfig> {
    let section = &config.clickhouse;
    let url = args.clickhouse.clone().or_else(|| section.url.clone())?;
    let mut c = ClickHouseConfig::new(url, source_id);
    c.database = section.database.clone();
    c.user = section.user.clone();
    c.password = section.password.clone();
    c.min_rows = section.min_rows;
    c.max_interval = Duration::from_millis(section.max_interval_ms);
    c.archive_capacity = section.archive_capacity;
    Some(c)
}

/// Opens the transactional store when `[serve] database_url` (or `DATABASE_URL`) is set.
pub(crate) fn accounts_state(
    runtime: &tokio::runtime::Runtime,
    config: &Config,
) -> anyhow::Result<Option<wardstream_api::tenants::AppState>> {
    let Some(url) = &config.serve.database_url else {
        tracing::info!(
            "tenant and auth routes off: set [serve] database_url or DATABASE_URL (e.g. sqlite://wardstream.db) to serve them"
        );
        return Ok(None);
    };
    let mut auth = match &config.serve.jwt_secret {
        Some(key) => wardstream_api::auth::AuthConfig::new(key.as_bytes())
            .map_err(|e| anyhow::anyhow!("[serve] jwt_secret: {e}"))?,
        None => {
            tracing::warn!(
                "no [serve] jwt_secret or WARDSTREAM_JWT_SECRET: access tokens are signed with a random key and end with this process"
            );
            wardstream_api::auth::AuthConfig::ephemeral()
        }
    };
    auth.login_limit =
        wardstream_api::auth::LoginLimiter::new(config.serve.login_attempts_per_minute);
    let db = runtime.block_on(wardstream_api::db::open(url))?;
    eprintln!(
        "wardstream: tenant and auth API on, store {}",
        wardstream_api::db::mask(url)
    );
    Ok(Some(wardstream_api::tenants::AppState { db, auth }))
}

/// The outbox relay's Kafka destination: the input topics (created with `[kafka] partitions`
/// where missing) through an acknowledging producer.
pub(crate) fn outbox_to_kafka(
    kafka: &wardstream_pipelines::kafka::KafkaConfig,
    config: &Config,
) -> anyhow::Result<wardstream_api::outbox::Destination> {
    wardstream_pipelines::kafka::publish::ensure_topics(kafka, config.kafka.partitions)
        .context("creating the Kafka topics the outbox publishes to")?;
    let publisher = wardstream_pipelines::kafka::publish::Publisher::new(kafka)?;
    eprintln!(
        "wardstream: the API's outbox publishes to {} on {}",
        kafka.topics.inputs().join(", "),
        kafka.brokers
    );
    Ok(wardstream_api::outbox::Destination::Kafka(Arc::new(
        std::sync::Mutex::new(publisher),
    )))
}

/// Opens (or resumes from its checkpoint) the federation when `[federated] enabled`.
pub(crate) fn federation(
    config: &Config,
    accounts: bool,
) -> anyhow::Result<Option<wardstream_api::federated::SharedFederation>> {
    if !config.federated.enabled {
        return Ok(None);
    }
    if !accounts {
        anyhow::bail!(
            "[federated] enabled needs the tenant and auth store: set [serve] database_url or DATABASE_URL"
        );
    }
    let path = &config.federated.checkpoint;
    let server = wardstream_federated::server::FederatedServer::open(
        config.federated.server.clone(),
        Some(path),
    )
    .with_context(|| format!("opening the federation at {}", path.display()))?;
    eprintln!(
        "wardstream: federated learning on (/v1/fl/*), round {} done, checkpoint {}",
        server.state().round,
        path.display()
    );
    Ok(Some(std::sync::Arc::new(std::sync::Mutex::new(server))))
}

/// Runs the command.
pub fn run(mut config: Config, args: RunArgs) -> anyhow::Result<()> {
    if let Some(seed) = args.seed {
        config.generator.seed = seed;
    }
    let listen = args
        .listen
        .clone()
        .unwrap_or_else(|| config.serve.listen.clone());
    tracing::info!(config = %serde_json::to_string(&config).unwrap_or_default(), "configuration");
    let (mut source, speed) = match &args.replay {
        None if args.kafka.is_some() => (sources::nothing("Kafka".into()), None),
        Some(path) => {
            let replay = sources::load_replay(path, &config)?;
            let speed = if args.fast {
                None
            } else {
                args.speed.or(config.replay.speed)
            };
            (
                sources::from_replay(replay, format!("replay of {}", path.display())),
                speed,
            )
        }
        None => {
            let speed = if args.fast {
                None
            } else {
                Some(args.speed.unwrap_or(config.replay.generator_speed))
            };
            (sources::generator(&config, args.max_events), speed)
        }
    };
    if let Some(path) = &args.record {
        source = sources::recorded(source, path)?;
    }
    let finite = source.finite;
    let mut engine = engine_config(&config, &source, speed, args.workers);
    if args.processes > 1 {
        anyhow::ensure!(
            args.process < args.processes,
            "--process {} is not below --processes {}",
            args.process,
            args.processes
        );
        let cluster = match &args.hostfile {
            Some(f) => {
                wardstream_pipelines::Cluster::from_hostfile(args.processes, args.process, f)?
            }
            None => wardstream_pipelines::Cluster::local(args.processes, args.process),
        };
        eprintln!(
            "wardstream: process {} of {} in a timely cluster ({})",
            args.process,
            args.processes,
            cluster.addresses.join(", ")
        );
        engine.cluster = Some(cluster);
    }
    if let Some(brokers) = &args.kafka {
        let mut kafka = config.kafka.config(Some(brokers))?;
        if let Some(dir) = &args.checkpoint_dir {
            kafka.checkpoint_dir = Some(dir.clone());
        }
        kafka.bounded = args.exit_at_end;
        eprintln!(
            "wardstream: consuming {} on {} (checkpoints in {})",
            kafka.topics.inputs().join(", "),
            kafka.brokers,
            kafka
                .checkpoint_dir
                .as_ref()
                .map_or("nowhere".into(), |d| d.display().to_string())
        );
        engine.kafka = Some(Arc::new(kafka));
    }
    let mirror_cfg = mirror_config(&config, &args, &source.label);
    tracing::info!(source = %source.label, workers = engine.workers, speed = ?speed, "starting");

    let store = Arc::new(ViewStore::new());
    let stop = Arc::new(AtomicBool::new(false));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind(&listen))
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener.local_addr()?;
    let accounts = accounts_state(&runtime, &config)?;
    if let Some(state) = &accounts
        && !args.exit_at_end
    {
        // Bookings, status changes and invoices made through the API reach the views: the
        // outbox relay publishes each committed event to the Kafka topics the engine reads,
        // or, without Kafka, hands it to the running engine.
        let destination = match &engine.kafka {
            Some(kafka) => outbox_to_kafka(kafka, &config)?,
            None => {
                let live = Arc::new(wardstream_pipelines::LiveInput::new());
                engine.live = Some(live.clone());
                wardstream_api::outbox::Destination::Engine {
                    live,
                    store: store.clone(),
                }
            }
        };
        let _guard = runtime.enter();
        wardstream_api::outbox::spawn_relay(state.db.clone(), destination);
    }
    let federation = federation(&config, accounts.is_some())?;
    let (shutdown_tx, shutdown_rx) = tokio::sync::oneshot::channel::<()>();
    let server = runtime.spawn(wardstream_api::serve(
        listener,
        store.clone(),
        accounts,
        federation,
        async move {
            let _ = shutdown_rx.await;
        },
    ));
    let mut mirror: Option<MirrorHandle> = None;
    if let Some(cfg) = mirror_cfg {
        let queue = Arc::new(ArchiveQueue::new(cfg.archive_capacity));
        engine.archive = Some(queue.clone());
        eprintln!(
            "wardstream: mirroring views, raw events and dead letters into ClickHouse at {} (database {})",
            cfg.url, cfg.database
        );
        let _guard = runtime.enter();
        mirror = Some(clickhouse_sink::spawn(cfg, store.clone(), queue));
    }
    {
        let stop = stop.clone();
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.store(true, Ordering::Relaxed);
            }
        });
    }
    eprintln!("wardstream: dashboard at http://{addr}/ (API docs at http://{addr}/docs)");
    eprintln!(
        "wardstream: serving SQL at http://{addr}/v1/sql — try: wardstream sql --endpoint http://{addr} \"SELECT * FROM census\""
    );

    let mut progress = Progress::new(args.quiet, engine.ingest.allowed_lateness_ms);
    let summary = run_engine(engine, source, store.clone(), stop.clone(), &mut progress)?;
    progress.finish();
    let stats = store.stats();
    let fresh = store.freshness();
    eprintln!(
        "wardstream: {} records in {:.1} s ({:.0}/s); received {}, dead letters {}; freshness p50 {:?} p99 {:?}",
        summary.records,
        summary.elapsed.as_secs_f64(),
        summary.records as f64 / summary.elapsed.as_secs_f64().max(1e-9),
        stats.total_received(),
        stats.total_dead_lettered(),
        fresh.p50,
        fresh.p99
    );
    if let Some(path) = &args.dead_letters {
        write_dead_letters(&store, path)?;
    }
    if let Some(dir) = &args.views_out {
        if args.process == 0 {
            write_views(&store, dir)?;
        } else {
            eprintln!("wardstream: the views are in process 0; --views-out is left to it");
        }
    }
    if let Some(handle) = mirror.take() {
        finish_mirror(&runtime, handle, &stop)?;
    }
    if finite && summary.completed && !args.exit_at_end {
        eprintln!(
            "wardstream: replay finished; serving its final views at http://{addr} until Ctrl-C"
        );
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    let _ = shutdown_tx.send(());
    let served = runtime.block_on(server);
    // The outbox relay may be waiting for Kafka's acknowledgements in a blocking task: do not
    // wait for it (up to message.timeout.ms); what it has not stamped goes out on the next run.
    runtime.shutdown_timeout(Duration::from_secs(5));
    served??;
    Ok(())
}

/// Waits for the mirror to write everything (retrying through outages) unless Ctrl-C comes,
/// then prints what it did. What is left unwritten at Ctrl-C is written by the next run.
fn finish_mirror(
    runtime: &tokio::runtime::Runtime,
    handle: MirrorHandle,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<()> {
    let stats = handle.stats().clone();
    let stop = stop.clone();
    // After Ctrl-C the mirror gets a grace period; otherwise it takes as long as it needs
    // until Ctrl-C.
    let already_stopped = stop.load(Ordering::Relaxed);
    let interrupted = async move {
        if already_stopped {
            tokio::time::sleep(Duration::from_secs(10)).await;
        }
        while !stop.load(Ordering::Relaxed) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    if !stats.connected.load(Ordering::Relaxed) || stats.last_error().is_some() {
        eprintln!(
            "wardstream: waiting for ClickHouse to take the rest (Ctrl-C to leave it for the next run)"
        );
    }
    let finished = runtime.block_on(async move {
        tokio::select! {
            r = handle.finish() => Some(r),
            _ = interrupted => None,
        }
    });
    match finished {
        Some(r) => {
            r.context("ClickHouse mirror")?;
        }
        None => eprintln!("wardstream: ClickHouse mirror interrupted; the next run completes it"),
    }
    let wardstream_pipelines::store::Freshness { p50, p99, events } = stats.freshness();
    eprintln!(
        "wardstream: ClickHouse: {} view rows, {} archive rows in {} inserts ({} failed, {} reconciles); event-to-ClickHouse p50 {:?} p99 {:?} over {} events",
        stats.view_rows.load(Ordering::Relaxed),
        stats.archive_rows.load(Ordering::Relaxed),
        stats.inserts.load(Ordering::Relaxed),
        stats.failures.load(Ordering::Relaxed),
        stats.reconciles.load(Ordering::Relaxed),
        p50,
        p99,
        events
    );
    Ok(())
}

/// Writes each view as `<dir>/<view>.ndjson`, one JSON object per row, lines sorted (so two
/// runs' outputs compare with `diff`).
fn write_views(store: &ViewStore, dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let snapshot = store.snapshot()?;
    for (name, batch) in &snapshot.tables {
        if matches!(*name, "ingest_stats" | "dead_letters") {
            continue;
        }
        let mut buf = Vec::new();
        {
            let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
            w.write(batch)?;
            w.finish()?;
        }
        let text = String::from_utf8(buf)?;
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        let path = dir.join(format!("{name}.ndjson"));
        let mut out = std::io::BufWriter::new(
            std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
        );
        for l in lines {
            writeln!(out, "{l}")?;
        }
        out.flush()?;
    }
    Ok(())
}

fn write_dead_letters(store: &ViewStore, path: &std::path::Path) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
    );
    for l in store.dead_letters() {
        let line = serde_json::json!({
            "stream": l.stream.as_str(),
            "reason": l.reject.reason.code(),
            "detail": l.reject.detail,
            "origin": l.origin,
            "order_time": wardstream_schemas::time::format_rfc3339(l.order_time),
            "raw": String::from_utf8_lossy(&l.raw),
        });
        writeln!(out, "{line}")?;
    }
    out.flush()?;
    Ok(())
}
