//! End to end through a real Kafka-protocol broker (tansu): the real data published to the
//! topics and consumed by the engine gives the same views as the embedded replay; malformed
//! messages end in the dead-letter topic with their reason, bytes and position, and
//! in + dead-lettered = produced; a run resumed from its checkpoint equals one that never
//! stopped; workers without partitions hold nothing back.

use rdkafka::Message;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Headers;
use rdkafka::{Offset, TopicPartitionList};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};
use wardstream_operators::IngestConfig;
use wardstream_pipelines::kafka::KafkaConfig;
use wardstream_pipelines::kafka::publish::{Publisher, ensure_topics};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::store::TABLES;
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source};
use wardstream_schemas::time::parse_rfc3339;
use wardstream_schemas::{Event, RejectReason, Stream};
use wardstream_tests::kafka::KafkaBroker;
use wardstream_tests::{canonical, data_dir};

/// The eight views (a snapshot's tables less `ingest_stats` and `dead_letters`).
const VIEWS: &[&str] = TABLES.split_at(TABLES.len() - 2).0;

fn real_events(sets: Vec<DataSet>) -> Vec<Event> {
    let opts = ReplayOptions {
        data_dir: data_dir(),
        anchor: parse_rfc3339("2025-01-01T00:00:00Z").unwrap_or_default(),
        drg_base_rate_minor: 637_574,
        data_sets: sets,
    };
    let replay = replay::load_data_sets(&opts).unwrap_or_else(|e| panic!("{e}"));
    replay
        .records
        .into_iter()
        .filter_map(|r| match r {
            SourceRecord::Event(e) => Some(e),
            SourceRecord::Rejected(_) => None,
        })
        .collect()
}

fn publish(kafka: &KafkaConfig, events: &[Event]) {
    let mut p = Publisher::new(kafka).unwrap_or_else(|e| panic!("{e}"));
    for e in events {
        p.send_event(e).unwrap_or_else(|e| panic!("{e}"));
    }
    let summary = p
        .flush(Duration::from_secs(120))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(summary.failed, 0);
    assert_eq!(summary.delivered, events.len() as u64);
}

fn engine(workers: usize, kafka: Option<KafkaConfig>) -> EngineConfig {
    EngineConfig {
        workers,
        ingest: IngestConfig::default(),
        kafka: kafka.map(Arc::new),
        ..EngineConfig::default()
    }
}

/// Runs the engine over Kafka until the topics' end offsets (bounded).
fn run_kafka(workers: usize, kafka: &KafkaConfig) -> Arc<ViewStore> {
    let mut k = kafka.clone();
    k.bounded = true;
    let store = Arc::new(ViewStore::new());
    let summary = wardstream_pipelines::run(
        &engine(workers, Some(k)),
        records_source(Arc::new(Vec::new())),
        Vec::new(),
        store.clone(),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(summary.completed);
    store
}

fn run_embedded(workers: usize, events: &[Event]) -> Arc<ViewStore> {
    let store = Arc::new(ViewStore::new());
    let records = events.iter().cloned().map(SourceRecord::Event).collect();
    wardstream_pipelines::run(
        &engine(workers, None),
        records_source(Arc::new(records)),
        Vec::new(),
        store.clone(),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    store
}

fn views(store: &ViewStore) -> BTreeMap<&'static str, Vec<String>> {
    let snap = store.snapshot().unwrap_or_else(|e| panic!("{e}"));
    VIEWS
        .iter()
        .map(|v| {
            let batch = snap.table(v).unwrap_or_else(|| panic!("no view {v}"));
            (
                *v,
                canonical(std::slice::from_ref(batch)).unwrap_or_default(),
            )
        })
        .collect()
}

fn assert_same_views(got: &ViewStore, want: &ViewStore) {
    let (got, want) = (views(got), views(want));
    for &v in VIEWS {
        assert_eq!(
            got[v].len(),
            want[v].len(),
            "{v}: {} rows via Kafka, {} embedded",
            got[v].len(),
            want[v].len()
        );
        assert!(got[v] == want[v], "{v} differs from the embedded replay");
    }
}

fn config(broker: &KafkaBroker, prefix: &str, checkpoint: Option<&Path>) -> KafkaConfig {
    let mut k = KafkaConfig::new(broker.brokers());
    k.topics = wardstream_pipelines::kafka::Topics::with_prefix(prefix);
    k.checkpoint_dir = checkpoint.map(Path::to_path_buf);
    k
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("wardstream-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn real_data_through_kafka_equals_the_embedded_replay_and_resumes_exactly() {
    let broker = KafkaBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let events = real_events(vec![
        DataSet::MimicIvDemo,
        DataSet::EicuDemo,
        DataSet::Noshow,
    ]);
    assert!(events.len() > 100_000, "only {} events", events.len());
    let dir = temp_dir("kafka-checkpoint");
    let kafka = config(&broker, "real", Some(&dir));
    ensure_topics(&kafka, 4).unwrap_or_else(|e| panic!("{e}"));

    // First the first 60% of the real data, run to the end and checkpointed …
    let cut = events.len() * 6 / 10;
    let t = Instant::now();
    publish(&kafka, &events[..cut]);
    eprintln!("published {cut} of {} in {:?}", events.len(), t.elapsed());
    let t = Instant::now();
    let first = run_kafka(2, &kafka);
    eprintln!("consumed them in {:?}", t.elapsed());
    assert_eq!(first.stats().total_received(), cut as u64);
    assert!(dir.join("worker-0.json").exists() && dir.join("worker-1.json").exists());

    // … then the rest, resumed from the checkpoint: only the new messages are read, and the
    // views equal one embedded run over everything.
    publish(&kafka, &events[cut..]);
    let resumed = run_kafka(2, &kafka);
    assert_eq!(
        resumed.stats().total_received(),
        (events.len() - cut) as u64,
        "the resumed run reads exactly the messages after its checkpoint"
    );
    assert_eq!(resumed.stats().total_dead_lettered(), 0, "none late");
    let embedded = run_embedded(2, &events);
    assert_same_views(&resumed, &embedded);

    // From scratch (no checkpoint), one worker: the same views again.
    let scratch = run_kafka(1, &config(&broker, "real", None));
    assert_eq!(scratch.stats().total_received(), events.len() as u64);
    assert_same_views(&scratch, &embedded);

    // A checkpoint of 2 workers is not resumed by 3.
    let mut three = config(&broker, "real", Some(&dir));
    three.bounded = true;
    let err = wardstream_pipelines::run(
        &engine(3, Some(three)),
        records_source(Arc::new(Vec::new())),
        Vec::new(),
        Arc::new(ViewStore::new()),
        Arc::new(AtomicBool::new(false)),
    )
    .expect_err("another worker count");
    assert!(err.to_string().contains("of 2"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Reads every message of `topic` (all partitions) until `n` have arrived or 60 s pass.
fn read_topic(brokers: &str, topic: &str, n: usize) -> Vec<(Vec<u8>, BTreeMap<String, String>)> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", "test-reader")
        .set("enable.auto.commit", "false")
        .create()
        .unwrap_or_else(|e| panic!("{e}"));
    let md = consumer
        .fetch_metadata(Some(topic), Duration::from_secs(10))
        .unwrap_or_else(|e| panic!("{e}"));
    let mut tpl = TopicPartitionList::new();
    for t in md.topics() {
        for p in t.partitions() {
            tpl.add_partition_offset(topic, p.id(), Offset::Beginning)
                .unwrap_or_else(|e| panic!("{e}"));
        }
    }
    consumer.assign(&tpl).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while out.len() < n && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
            let mut headers = BTreeMap::new();
            if let Some(h) = m.headers() {
                for x in h.iter() {
                    headers.insert(
                        x.key.to_owned(),
                        String::from_utf8_lossy(x.value.unwrap_or_default()).into_owned(),
                    );
                }
            }
            out.push((m.payload().unwrap_or_default().to_vec(), headers));
        }
    }
    out
}

#[test]
fn malformed_messages_go_to_the_dead_letter_topic_and_nothing_is_lost() {
    let broker = KafkaBroker::start().unwrap_or_else(|e| panic!("{e}"));
    let kafka = config(&broker, "dlq", None);
    ensure_topics(&kafka, 3).unwrap_or_else(|e| panic!("{e}"));
    let good: Vec<Event> = wardstream_pipelines::generator::Generator::new(Default::default())
        .take(5_000)
        .collect();
    let mut p = Publisher::new(&kafka).unwrap_or_else(|e| panic!("{e}"));
    for e in &good {
        p.send_event(e).unwrap_or_else(|e| panic!("{e}"));
    }
    let bad: Vec<(&str, Vec<u8>, RejectReason)> = vec![
        (&kafka.topics.adt, b"not json at all".to_vec(), RejectReason::Malformed),
        (
            &kafka.topics.billing,
            br#"{"type":"parking_ticket","event_id":"x"}"#.to_vec(),
            RejectReason::UnknownEventType,
        ),
        (
            &kafka.topics.vitals,
            // A heart rate of 400 /min: a well-formed event, an impossible value.
            br#"{"type":"vital_sign","event_id":"hr400","tenant_id":"general","event_time":"2026-11-21T08:00:00Z","patient_id":"p1","encounter_id":"e1","device_id":"mon-7","code":"8867-4","value":400,"unit":"/min"}"#.to_vec(),
            RejectReason::ValueOutOfRange,
        ),
        (&kafka.topics.appointments, Vec::new(), RejectReason::Malformed),
    ];
    for (topic, bytes, _) in &bad {
        p.send_raw(topic, Some("k"), bytes)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let summary = p
        .flush(Duration::from_secs(60))
        .unwrap_or_else(|e| panic!("{e}"));
    let produced = summary.sent.values().sum::<u64>();
    assert_eq!(produced, (good.len() + bad.len()) as u64);

    // Three workers over three partitions per topic.
    let store = run_kafka(3, &kafka);
    let stats = store.stats();
    assert_eq!(
        stats.total_received(),
        produced,
        "every message read once: {:?} of {:?}",
        stats.received,
        summary.sent
    );
    let accounted: u64 = Stream::ALL.iter().map(|s| stats.accounted(*s)).sum();
    assert_eq!(accounted, produced, "in + dead-lettered = produced");
    let letters = store.dead_letters();
    assert_eq!(letters.len(), bad.len(), "{letters:?}");
    for (topic, bytes, reason) in &bad {
        let l = letters
            .iter()
            .find(|l| l.raw == *bytes && l.origin.starts_with(&format!("{topic}/")))
            .unwrap_or_else(|| panic!("no dead letter from {topic}: {letters:?}"));
        assert_eq!(l.reject.reason, *reason, "{topic}: {}", l.reject.detail);
    }

    // The dead-letter topic holds the same, with the original bytes and the position.
    let topic = read_topic(&broker.brokers(), &kafka.topics.dead_letter, bad.len());
    assert_eq!(topic.len(), bad.len());
    for (topic_name, bytes, reason) in &bad {
        let (_, h) = topic
            .iter()
            .find(|(raw, h)| raw == bytes && h.get("source.topic") == Some(&topic_name.to_string()))
            .unwrap_or_else(|| panic!("{topic_name} not in the dead-letter topic"));
        assert_eq!(h.get("reason").map(String::as_str), Some(reason.code()));
        assert!(
            h.get("source.partition")
                .is_some_and(|p| p.parse::<i32>().is_ok())
        );
        assert!(
            h.get("source.offset")
                .is_some_and(|o| o.parse::<i64>().is_ok())
        );
    }
}
