//! The ClickHouse mirror against a real `clickhouse-server`: a private server started from
//! Debian's package (or the one at `$WARDSTREAM_CLICKHOUSE_URL`), database `wardstream_bench`
//! dropped before each workload. Prints one row per workload.
//!
//! Workloads (pass one name after `--` to run only it):
//! - `throughput`: the four real data sets replayed as fast as possible through 2 workers with
//!   the mirror on; rows/s into ClickHouse over the whole run (engine start to the last
//!   insert), archive and view rows separately.
//! - `freshness`: [`PACED_EVENTS`] generator events released at an average of
//!   [`RATE`] events/s (the engine's event-time pacing, 1 worker) with the mirror's defaults
//!   (flush at 1,000 rows or every second); p50/p99 event-to-ClickHouse freshness, from the
//!   moment an epoch's first event is fed until the insert carrying its view changes returns.
//!
//! Run: `cargo bench -p wardstream-benches --bench clickhouse [-- WORKLOAD]`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wardstream_benches::{data_dir, workloads};
use wardstream_pipelines::clickhouse_sink::{self, ArchiveQueue, ClickHouseConfig};
use wardstream_pipelines::generator::{Generator, GeneratorConfig};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source};
use wardstream_tests::clickhouse::ClickHouseServer;

/// Events of the paced workload (one minute at [`RATE`]).
const PACED_EVENTS: usize = 60_000;
/// Average events/s of the paced workload.
const RATE: f64 = 1_000.0;
const DATABASE: &str = "wardstream_bench";

struct Measured {
    records: u64,
    elapsed: Duration,
    stats: Arc<clickhouse_sink::MirrorStats>,
}

fn mirrored(
    runtime: &tokio::runtime::Runtime,
    url: &str,
    records: Vec<SourceRecord>,
    mut engine: EngineConfig,
) -> anyhow::Result<Measured> {
    let mut config = ClickHouseConfig::new(url, "bench");
    config.database = DATABASE.into();
    let client = config.client();
    runtime.block_on(async {
        client
            .query(&format!("DROP DATABASE IF EXISTS {DATABASE}"))
            .execute()
            .await
    })?;
    let store = Arc::new(ViewStore::new());
    let queue = Arc::new(ArchiveQueue::new(config.archive_capacity));
    engine.archive = Some(queue.clone());
    let started = Instant::now();
    let mirror = {
        let _guard = runtime.enter();
        clickhouse_sink::spawn(config, store.clone(), queue)
    };
    let summary = wardstream_pipelines::run(
        &engine,
        records_source(Arc::new(records)),
        Vec::new(),
        store,
        Arc::new(AtomicBool::new(false)),
    )?;
    let stats = runtime.block_on(mirror.finish())?;
    Ok(Measured {
        records: summary.records,
        elapsed: started.elapsed(),
        stats,
    })
}

fn main() -> anyhow::Result<()> {
    let Some(wanted) = workloads() else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    let _server;
    let url = match std::env::var("WARDSTREAM_CLICKHOUSE_URL") {
        Ok(url) => url,
        Err(_) => {
            let s = ClickHouseServer::start()?;
            let url = s.url();
            _server = s;
            url
        }
    };
    println!(
        "| workload | records | elapsed s | archive rows/s | view rows | inserts | freshness p50 | freshness p99 |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    let row = |name: &str, m: &Measured| {
        let fresh = m.stats.freshness();
        let (p50, p99) = (fresh.p50, fresh.p99);
        let secs = m.elapsed.as_secs_f64();
        println!(
            "| {name} | {} | {:.1} | {:.0} | {} | {} | {:.0} ms | {:.0} ms |",
            m.records,
            secs,
            m.stats.archive_rows.load(Ordering::Relaxed) as f64 / secs,
            m.stats.view_rows.load(Ordering::Relaxed),
            m.stats.inserts.load(Ordering::Relaxed),
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
        );
    };
    if wanted("throughput") {
        let opts = ReplayOptions {
            data_dir: data_dir(),
            data_sets: vec![
                DataSet::MimicIvDemo,
                DataSet::Physionet2012,
                DataSet::EicuDemo,
                DataSet::Noshow,
            ],
            ..ReplayOptions::default()
        };
        let records = replay::load_data_sets(&opts)?.records;
        let engine = EngineConfig {
            workers: 2,
            ..EngineConfig::default()
        };
        let m = mirrored(&runtime, &url, records, engine)?;
        row("throughput (real data, 2 workers)", &m);
    }
    if wanted("freshness") {
        let mut records: Vec<SourceRecord> = Generator::new(GeneratorConfig::default())
            .take(PACED_EVENTS)
            .map(SourceRecord::Event)
            .collect();
        wardstream_pipelines::source::sort_by_event_time(&mut records);
        let first = records.first().map(SourceRecord::order_time).unwrap_or(0);
        let last = records.last().map(SourceRecord::order_time).unwrap_or(0);
        // Event-time ms per wall ms that releases PACED_EVENTS in PACED_EVENTS / RATE seconds.
        let speed = (last - first).max(1) as f64 / (PACED_EVENTS as f64 / RATE * 1000.0);
        let engine = EngineConfig {
            workers: 1,
            speed: Some(speed),
            pace_origin: first,
            ..EngineConfig::default()
        };
        let m = mirrored(&runtime, &url, records, engine)?;
        row("freshness (generator, 1,000 events/s)", &m);
    }
    Ok(())
}
