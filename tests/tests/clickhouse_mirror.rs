//! The ClickHouse mirror against a real `clickhouse-server` (a private one per test, started
//! from Debian's package): after replaying the real data sets, every view asked of ClickHouse
//! (`FINAL`, and collapsing by `sum(sign)`) equals the same view in DataFusion, analysts'
//! questions get identical answers, and the raw archive holds every valid event and every
//! dead letter exactly once, also when ClickHouse is killed mid-stream and when the engine is.

use arrow::datatypes::{DataType, Field, Schema};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wardstream_operators::IngestConfig;
use wardstream_pipelines::clickhouse_sink::{
    self, ArchiveQueue, ClickHouseConfig, column_list, select, view_schemas,
};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source, sql};
use wardstream_schemas::time::parse_rfc3339;
use wardstream_tests::clickhouse::ClickHouseServer;
use wardstream_tests::{canonical, data_dir};

const DB: &str = "wardstream";
const SOURCE: &str = "replay of the real data";

fn load(sets: Vec<DataSet>) -> anyhow::Result<Arc<Vec<SourceRecord>>> {
    let opts = ReplayOptions {
        data_dir: data_dir(),
        anchor: parse_rfc3339("2025-01-01T00:00:00Z").unwrap_or_default(),
        drg_base_rate_minor: 637_574,
        data_sets: sets,
    };
    Ok(Arc::new(replay::load_data_sets(&opts)?.records))
}

fn mirror_config(server: &ClickHouseServer, capacity: usize) -> ClickHouseConfig {
    let mut config = ClickHouseConfig::new(server.url(), SOURCE);
    config.max_interval = Duration::from_millis(200);
    config.max_backoff = Duration::from_millis(500);
    config.archive_capacity = capacity;
    config
}

fn engine_config(queue: &Arc<ArchiveQueue>) -> EngineConfig {
    EngineConfig {
        workers: 2,
        ingest: IngestConfig::default(),
        epoch_records: Some(5_000),
        max_lag_epochs: 1_000_000,
        archive: Some(queue.clone()),
        ..EngineConfig::default()
    }
}

/// Waits until `cond` holds, polling every 10 ms, or fails after `limit`.
async fn wait_for(
    what: &str,
    limit: Duration,
    mut cond: impl AsyncFnMut() -> bool,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond().await {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    anyhow::bail!("timed out after {limit:?} waiting for {what}")
}

async fn count(client: &clickhouse::Client, sql: &str) -> anyhow::Result<i64> {
    let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
    let b = select(client, &format!("SELECT toInt64(({sql}))"), &[], schema).await?;
    let a = b
        .column(0)
        .as_any()
        .downcast_ref::<arrow::array::Int64Array>()
        .ok_or_else(|| anyhow::anyhow!("not Int64"))?;
    Ok(a.values().first().copied().unwrap_or(0))
}

/// Every view in ClickHouse equals the store's; returns the rows compared.
async fn assert_views_equal(
    client: &clickhouse::Client,
    store: &ViewStore,
) -> anyhow::Result<usize> {
    let snapshot = store.snapshot()?;
    let mut compared = 0;
    for (name, schema) in view_schemas() {
        let want = canonical(&[snapshot
            .table(name)
            .ok_or_else(|| anyhow::anyhow!("no view {name}"))?
            .clone()])?;
        let cols = column_list(&schema);
        let final_rows = select(
            client,
            &format!("SELECT {cols} FROM {DB}.{name} FINAL"),
            &[],
            schema.clone(),
        )
        .await?;
        assert_eq!(canonical(&[final_rows])?, want, "{name}: FINAL differs");
        let grouped = select(
            client,
            &format!("SELECT {cols} FROM {DB}.{name} GROUP BY {cols} HAVING sum(sign) > 0"),
            &[],
            schema.clone(),
        )
        .await?;
        assert_eq!(canonical(&[grouped])?, want, "{name}: sum(sign) differs");
        let odd = count(
            client,
            &format!(
                "SELECT count() FROM (SELECT sum(sign) AS n FROM {DB}.{name} GROUP BY {cols}) WHERE n NOT IN (0, 1)"
            ),
        )
        .await?;
        assert_eq!(odd, 0, "{name}: rows written twice or retracted twice");
        compared += want.len();
    }
    Ok(compared)
}

/// Analysts' questions, asked of both: `(DataFusion SQL, ClickHouse SQL, result columns)`.
async fn assert_questions_agree(
    client: &clickhouse::Client,
    store: &ViewStore,
) -> anyhow::Result<()> {
    let i64s = |names: &[&str], first: DataType| {
        let mut fields = vec![Field::new(names[0], first, false)];
        fields.extend(
            names[1..]
                .iter()
                .map(|n| Field::new(*n, DataType::Int64, false)),
        );
        Arc::new(Schema::new(fields))
    };
    let questions = [
        (
            "SELECT care_unit, CAST(SUM(stays) AS BIGINT), CAST(SUM(total_minutes) AS BIGINT) FROM length_of_stay GROUP BY care_unit",
            format!(
                "SELECT care_unit, toInt64(sum(stays)), toInt64(sum(total_minutes)) FROM {DB}.length_of_stay FINAL GROUP BY care_unit"
            ),
            i64s(&["care_unit", "stays", "minutes"], DataType::Utf8),
        ),
        (
            "SELECT CAST(day AS BIGINT), CAST(SUM(net_minor) AS BIGINT), CAST(SUM(charges) AS BIGINT) FROM revenue GROUP BY day",
            format!(
                "SELECT day, toInt64(sum(net_minor)), toInt64(sum(charges)) FROM {DB}.revenue FINAL GROUP BY day"
            ),
            i64s(&["day", "net", "charges"], DataType::Int64),
        ),
        (
            "SELECT clinic, CAST(SUM(no_shows) AS BIGINT), CAST(SUM(booked) AS BIGINT) FROM no_show GROUP BY clinic",
            format!(
                "SELECT clinic, toInt64(sum(no_shows)), toInt64(sum(booked)) FROM {DB}.no_show FINAL GROUP BY clinic"
            ),
            i64s(&["clinic", "no_shows", "booked"], DataType::Utf8),
        ),
        (
            "SELECT response, COUNT(*) FROM news2 GROUP BY response",
            format!("SELECT response, toInt64(count()) FROM {DB}.news2 FINAL GROUP BY response"),
            i64s(&["response", "patients"], DataType::Utf8),
        ),
        (
            "SELECT care_unit, CAST(SUM(admissions + transfers_in) AS BIGINT) FROM adt_hourly GROUP BY care_unit",
            format!(
                "SELECT care_unit, toInt64(sum(admissions + transfers_in)) FROM {DB}.adt_hourly FINAL GROUP BY care_unit"
            ),
            i64s(&["care_unit", "arrivals"], DataType::Utf8),
        ),
    ];
    let snapshot = store.snapshot()?;
    for (df, ch, schema) in questions {
        let want = canonical(&sql::query(&snapshot, df).await?)?;
        let got = canonical(&[select(client, &ch, &[], schema).await?])?;
        assert!(!want.is_empty(), "{df}: no rows to compare");
        assert_eq!(got, want, "{ch} differs from {df}");
    }
    Ok(())
}

/// The archive holds every valid event and every dead letter once.
async fn assert_archive_exact(
    client: &clickhouse::Client,
    records: &[SourceRecord],
    store: &ViewStore,
) -> anyhow::Result<()> {
    let mut events: BTreeMap<String, i64> = BTreeMap::new();
    for r in records {
        if let SourceRecord::Event(e) = r {
            *events.entry(e.stream().as_str().to_owned()).or_default() += 1;
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("stream", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let got = select(
        client,
        &format!("SELECT stream, toInt64(count()) FROM {DB}.raw_events GROUP BY stream"),
        &[],
        schema.clone(),
    )
    .await?;
    let want: Vec<String> = events.iter().map(|(s, n)| format!("{s}|{n}")).collect();
    assert_eq!(canonical(&[got])?, want, "raw_events per stream");
    let dup = count(
        client,
        &format!("SELECT count() - uniqExact(share, seq) FROM {DB}.raw_events"),
    )
    .await?;
    assert_eq!(dup, 0, "raw_events holds a position twice");

    let mut letters: BTreeMap<String, i64> = BTreeMap::new();
    for l in store.dead_letters() {
        *letters
            .entry(format!("{}|{}", l.stream.as_str(), l.reject.reason.code()))
            .or_default() += 1;
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("stream", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("n", DataType::Int64, false),
    ]));
    let got = select(
        client,
        &format!(
            "SELECT stream, reason, toInt64(count()) FROM {DB}.dead_letters GROUP BY stream, reason"
        ),
        &[],
        schema,
    )
    .await?;
    let want: Vec<String> = letters.iter().map(|(k, n)| format!("{k}|{n}")).collect();
    assert!(!want.is_empty(), "the real data has bad rows");
    assert_eq!(
        canonical(&[got])?,
        want,
        "dead_letters per stream and reason"
    );
    Ok(())
}

struct Run {
    store: Arc<ViewStore>,
    queue: Arc<ArchiveQueue>,
    stop: Arc<AtomicBool>,
    engine: tokio::task::JoinHandle<wardstream_pipelines::Result<wardstream_pipelines::RunSummary>>,
    mirror: clickhouse_sink::MirrorHandle,
}

fn start(records: &Arc<Vec<SourceRecord>>, config: ClickHouseConfig) -> Run {
    let store = Arc::new(ViewStore::new());
    let queue = Arc::new(ArchiveQueue::new(config.archive_capacity));
    let stop = Arc::new(AtomicBool::new(false));
    let mirror = clickhouse_sink::spawn(config, store.clone(), queue.clone());
    let engine = {
        let (cfg, records, store, stop) = (
            engine_config(&queue),
            records.clone(),
            store.clone(),
            stop.clone(),
        );
        tokio::task::spawn_blocking(move || {
            wardstream_pipelines::run(&cfg, records_source(records), Vec::new(), store, stop)
        })
    };
    Run {
        store,
        queue,
        stop,
        engine,
        mirror,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn views_and_archive_in_clickhouse_equal_datafusion_on_real_data() -> anyhow::Result<()> {
    let server = ClickHouseServer::start()?;
    let records = load(vec![
        DataSet::MimicIvDemo,
        DataSet::Physionet2012,
        DataSet::EicuDemo,
        DataSet::Noshow,
    ])?;
    assert!(records.len() > 1_000_000, "expected the full real data");
    let run = start(&records, mirror_config(&server, 200_000));
    let summary = run.engine.await??;
    assert!(summary.completed);
    let stats = tokio::time::timeout(Duration::from_secs(600), run.mirror.finish()).await??;
    assert_eq!(stats.frontier.load(Ordering::Relaxed), run.store.frontier());

    let client = ClickHouseConfig::new(server.url(), SOURCE).client();
    let compared = assert_views_equal(&client, &run.store).await?;
    assert!(compared > 10_000, "only {compared} view rows compared");
    assert_questions_agree(&client, &run.store).await?;
    assert_archive_exact(&client, &records, &run.store).await?;
    let wardstream_pipelines::store::Freshness { p50, p99, events } = stats.freshness();
    eprintln!(
        "mirrored {compared} view rows ({} sign rows, {} archive rows, {} inserts); freshness p50 {p50:?} p99 {p99:?} over {events} events",
        stats.view_rows.load(Ordering::Relaxed),
        stats.archive_rows.load(Ordering::Relaxed),
        stats.inserts.load(Ordering::Relaxed),
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clickhouse_killed_mid_stream_loses_and_duplicates_nothing() -> anyhow::Result<()> {
    let mut server = ClickHouseServer::start()?;
    let records = load(vec![DataSet::MimicIvDemo, DataSet::Noshow])?;
    let capacity = 5_000;
    assert!(records.len() > 20 * capacity);
    let run = start(&records, mirror_config(&server, capacity));
    let client = ClickHouseConfig::new(server.url(), SOURCE).client();

    wait_for(
        "the first archive rows",
        Duration::from_secs(120),
        async || {
            count(&client, &format!("SELECT count() FROM {DB}.raw_events"))
                .await
                .is_ok_and(|n| n > 0)
        },
    )
    .await?;
    server.kill();
    let stats = run.mirror.stats().clone();
    let failures = stats.failures.load(Ordering::Relaxed);
    // Backpressure: the engine stops feeding once the archive queue is full…
    wait_for(
        "the archive queue to fill",
        Duration::from_secs(120),
        async || run.queue.is_full(),
    )
    .await?;
    assert!(
        !run.engine.is_finished(),
        "the engine ran on past a full queue"
    );
    wait_for(
        "the mirror to notice",
        Duration::from_secs(60),
        async || stats.failures.load(Ordering::Relaxed) > failures,
    )
    .await?;
    assert!(stats.last_error().is_some());
    // …while the in-memory views keep answering SQL.
    let census = sql::query(&run.store.snapshot()?, "SELECT COUNT(*) FROM census").await?;
    assert_eq!(census.len(), 1);

    server.restart()?;
    let summary = run.engine.await??;
    assert!(summary.completed);
    let stats = tokio::time::timeout(Duration::from_secs(600), run.mirror.finish()).await??;
    assert!(
        stats.reconciles.load(Ordering::Relaxed) >= 2,
        "no reconcile after the outage"
    );
    let client = ClickHouseConfig::new(server.url(), SOURCE).client();
    assert_views_equal(&client, &run.store).await?;
    assert_archive_exact(&client, &records, &run.store).await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_killed_and_restarted_writes_no_duplicates() -> anyhow::Result<()> {
    let server = ClickHouseServer::start()?;
    let records = load(vec![
        DataSet::MimicIvDemo,
        DataSet::EicuDemo,
        DataSet::Noshow,
    ])?;
    let client = ClickHouseConfig::new(server.url(), SOURCE).client();

    // First run: its mirror task dropped mid-write (as a killed process would), then the
    // engine stopped part-way. An insert the dropped task had sent may still be on its way;
    // the next run must wait for it before it reads where the archive and views stand.
    let first = start(&records, mirror_config(&server, 5_000));
    wait_for(
        "a fifth of the archive",
        Duration::from_secs(120),
        async || {
            count(&client, &format!("SELECT count() FROM {DB}.raw_events"))
                .await
                .is_ok_and(|n| n as usize > records.len() / 5)
        },
    )
    .await?;
    first.mirror.abort();
    first.stop.store(true, Ordering::Relaxed);
    let summary = first.engine.await??;
    assert!(
        !summary.completed,
        "the first run finished before it was stopped"
    );
    let archived_before = count(&client, &format!("SELECT count() FROM {DB}.raw_events")).await?;
    assert!((archived_before as usize) < records.len());

    // Second run over the same source: resumes the archive, reconciles the views.
    let second = start(&records, mirror_config(&server, 5_000));
    let summary = second.engine.await??;
    assert!(summary.completed);
    tokio::time::timeout(Duration::from_secs(600), second.mirror.finish()).await??;
    assert_views_equal(&client, &second.store).await?;
    assert_questions_agree(&client, &second.store).await?;
    assert_archive_exact(&client, &records, &second.store).await?;
    Ok(())
}
