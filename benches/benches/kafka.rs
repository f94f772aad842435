//! Kafka in, against a real broker (a private tansu, `tests/src/kafka.rs`). Prints one row per
//! measurement.
//!
//! Workloads (pass one name after `--` to run only it):
//! - `throughput`: the four real data sets published to 4-partition topics, then in the same
//!   run (a) a plain rdkafka consumer reading every message of the four topics (no decoding),
//!   and (b) the engine consuming them into the full view set (1 worker, then 2). The figure
//!   is the engine's events/s per core over the plain consumer's messages/s.
//! - `latency`: the engine (1 worker) running while a producer publishes generator events at
//!   an average of [`RATE`] events/s for [`SECONDS`] s; p50/p99 produce-to-view latency, from
//!   each message's producer timestamp until the views' frontier passes the epoch it was fed
//!   in ([`ViewStore::produce_to_view`]).
//!
//! Run: `cargo bench -p wardstream-benches --bench kafka [-- WORKLOAD]`.

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::{Offset, TopicPartitionList};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use wardstream_benches::data_dir;
use wardstream_pipelines::generator::{Generator, GeneratorConfig};
use wardstream_pipelines::kafka::publish::{Publisher, ensure_topics};
use wardstream_pipelines::kafka::{KafkaConfig, Topics};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source};
use wardstream_schemas::Event;
use wardstream_tests::kafka::KafkaBroker;

/// Average events/s of the latency workload.
const RATE: f64 = 1_000.0;
/// Length of the latency workload, s.
const SECONDS: u64 = 30;

fn real_events() -> anyhow::Result<Vec<Event>> {
    let opts = ReplayOptions {
        data_dir: data_dir(),
        anchor: wardstream_schemas::time::parse_rfc3339("2025-01-01T00:00:00Z").unwrap_or(0),
        drg_base_rate_minor: 637_574,
        data_sets: DataSet::ALL.to_vec(),
    };
    Ok(replay::load_data_sets(&opts)?
        .records
        .into_iter()
        .filter_map(|r| match r {
            SourceRecord::Event(e) => Some(e),
            SourceRecord::Rejected(_) => None,
        })
        .collect())
}

/// Reads every message of the input topics once, as fast as one consumer can.
fn raw_consume(kafka: &KafkaConfig, expected: u64) -> anyhow::Result<(u64, u64, Duration)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &kafka.brokers)
        .set("group.id", "bench-raw")
        .set("enable.auto.commit", "false")
        .create()?;
    let mut tpl = TopicPartitionList::new();
    for topic in kafka.topics.inputs() {
        let md = consumer.fetch_metadata(Some(topic), Duration::from_secs(10))?;
        for t in md.topics() {
            for p in t.partitions() {
                tpl.add_partition_offset(topic, p.id(), Offset::Beginning)?;
            }
        }
    }
    let started = Instant::now();
    consumer.assign(&tpl)?;
    let (mut n, mut bytes) = (0u64, 0u64);
    let deadline = Instant::now() + Duration::from_secs(600);
    while n < expected && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            n += 1;
            bytes += m.payload().map_or(0, |p| p.len() as u64);
        }
    }
    Ok((n, bytes, started.elapsed()))
}

fn engine_consume(kafka: &KafkaConfig, workers: usize) -> anyhow::Result<(u64, Duration)> {
    let mut k = kafka.clone();
    k.bounded = true;
    k.checkpoint_dir = None;
    let store = Arc::new(ViewStore::new());
    let config = EngineConfig {
        workers,
        kafka: Some(Arc::new(k)),
        ..EngineConfig::default()
    };
    let summary = wardstream_pipelines::run(
        &config,
        records_source(Arc::new(Vec::new())),
        Vec::new(),
        store.clone(),
        Arc::new(AtomicBool::new(false)),
    )?;
    Ok((store.stats().total_received(), summary.elapsed))
}

fn throughput(broker: &KafkaBroker) -> anyhow::Result<()> {
    let mut kafka = KafkaConfig::new(broker.brokers());
    kafka.topics = Topics::with_prefix("bench");
    ensure_topics(&kafka, 4)?;
    let events = real_events()?;
    let started = Instant::now();
    let mut p = Publisher::new(&kafka)?;
    for e in &events {
        p.send_event(e)?;
    }
    let summary = p.flush(Duration::from_secs(300))?;
    anyhow::ensure!(summary.failed == 0, "{} not delivered", summary.failed);
    let n = events.len() as u64;
    drop(events);
    let t = started.elapsed();
    println!(
        "produce (idempotent, lz4)          {n:>9} events  {:>7.2} s  {:>9.0} events/s",
        t.as_secs_f64(),
        n as f64 / t.as_secs_f64()
    );
    let (raw, bytes, t_raw) = raw_consume(&kafka, n)?;
    anyhow::ensure!(raw == n, "raw consumer read {raw} of {n}");
    let raw_rate = raw as f64 / t_raw.as_secs_f64();
    println!(
        "raw rdkafka consume (1 consumer)   {raw:>9} msgs    {:>7.2} s  {raw_rate:>9.0} msgs/s  ({:.0} MB/s)",
        t_raw.as_secs_f64(),
        bytes as f64 / 1e6 / t_raw.as_secs_f64()
    );
    for workers in [1, 2] {
        let (got, t) = engine_consume(&kafka, workers)?;
        anyhow::ensure!(got == n, "engine read {got} of {n}");
        let per_core = got as f64 / t.as_secs_f64() / workers as f64;
        println!(
            "engine, all views, {workers} worker(s)     {got:>9} events  {:>7.2} s  {per_core:>9.0} events/s per core  ratio to raw {:.2}",
            t.as_secs_f64(),
            per_core / raw_rate
        );
    }
    Ok(())
}

fn latency(broker: &KafkaBroker) -> anyhow::Result<()> {
    let mut kafka = KafkaConfig::new(broker.brokers());
    kafka.topics = Topics::with_prefix("latency");
    // Extra librdkafka properties to compare, e.g. `WARDSTREAM_BENCH_KAFKA=fetch.wait.max.ms=10`
    // (comma-separated `key=value` pairs).
    if let Ok(extra) = std::env::var("WARDSTREAM_BENCH_KAFKA") {
        for pair in extra.split(',').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                anyhow::anyhow!("WARDSTREAM_BENCH_KAFKA: {pair} is not key=value")
            })?;
            kafka.properties.push((k.to_owned(), v.to_owned()));
        }
        println!("latency with extra properties: {extra}");
    }
    ensure_topics(&kafka, 4)?;
    let store = Arc::new(ViewStore::new());
    let stop = Arc::new(AtomicBool::new(false));
    let engine = {
        let (store, stop, kafka) = (store.clone(), stop.clone(), kafka.clone());
        std::thread::spawn(move || {
            let config = EngineConfig {
                workers: 1,
                kafka: Some(Arc::new(kafka)),
                ..EngineConfig::default()
            };
            wardstream_pipelines::run(
                &config,
                records_source(Arc::new(Vec::new())),
                Vec::new(),
                store,
                stop,
            )
        })
    };
    let total = (RATE * SECONDS as f64) as u64;
    let gen_config = GeneratorConfig {
        start: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64),
        ..GeneratorConfig::default()
    };
    let mut p = Publisher::new(&kafka)?;
    let mut events = Generator::new(gen_config).take(total as usize);
    // Warm-up: the idempotent producer holds its first messages until it has a producer id
    // (about 500 ms with librdkafka 2.x against tansu), so the first event is sent and
    // acknowledged before the clock starts; the rest measure the steady state.
    if let Some(first) = events.next() {
        p.send_event(&first)?;
        p.flush(Duration::from_secs(30))?;
    }
    let started = Instant::now();
    for (i, e) in events.enumerate() {
        // Pace: event i goes out at i / RATE seconds (a steady rate, not bursts).
        let due = started + Duration::from_secs_f64(i as f64 / RATE);
        if let Some(wait) = due.checked_duration_since(Instant::now()) {
            std::thread::sleep(wait);
        }
        p.send_event(&e)?;
    }
    p.flush(Duration::from_secs(60))?;
    let deadline = Instant::now() + Duration::from_secs(60);
    while store.produce_to_view().events < total && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, Ordering::Relaxed);
    engine
        .join()
        .map_err(|_| anyhow::anyhow!("engine panicked"))??;
    let (f, polled) = (store.produce_to_view(), store.produce_to_poll());
    println!(
        "produce-to-view at {RATE:.0} events/s for {SECONDS} s: {} events, p50 {:?}, p99 {:?} (produce-to-poll p50 {:?}, p99 {:?})",
        f.events, f.p50, f.p99, polled.p50, polled.p99
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let broker = KafkaBroker::start()?;
    if only.as_deref().is_none_or(|w| w == "throughput") {
        throughput(&broker)?;
    }
    if only.as_deref().is_none_or(|w| w == "latency") {
        latency(&broker)?;
    }
    Ok(())
}
