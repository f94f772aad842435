//! Kafka in and out: the four input topics, the dead-letter topic, the per-worker consumer
//! the engine polls, the publisher behind `wardstream produce`, and the checkpoint that makes
//! a restarted run resume where the last one stopped.
//!
//! ## Topics and messages
//! One topic per stream (`wardstream.appointments`, `wardstream.vitals`, `wardstream.billing`,
//! `wardstream.adt`; the prefix is configurable), values in the schemas' JSON wire format
//! ([`Event::decode`], FHIR vital-sign Observations included), keyed by patient id (a charge
//! without one by encounter id; see [`partition_key`]). Every version of an event (a
//! correction) must carry the same key as the first, so that it lands in the same partition
//! and meets the same ingest state.
//!
//! ## Sources
//! Timely worker `k` of `n` owns partition `p` of every input topic when `p % n == k`
//! (manual assignment, one consumer per worker, no consumer-group rebalancing). Workers are
//! woken by librdkafka's queue callback instead of busy-polling. Epochs are the engine's
//! wall-clock ticks on every worker, so a worker without partitions never holds back the
//! frontier. Partitions added to a topic are picked up on the next metadata refresh.
//!
//! ## Dead letters
//! A message that does not decode or validate is dead-lettered: it goes to the engine's
//! dead-letter output and to the dead-letter topic with its original bytes as value and
//! headers `reason`, `detail`, `stream`, `origin` (`topic/partition@offset`),
//! `source.topic`, `source.partition` and `source.offset`. So do events ingest judges late.
//!
//! ## Recovery
//! See [`checkpoint`]: each worker's ingest state and its partitions' next offsets are
//! written together; a restarted run restores the views from them and reads on from those
//! offsets. Offsets are committed to the consumer group (`group_id`) only for monitoring
//! (lag dashboards), after the views reflect them.

pub mod checkpoint;
pub mod publish;
mod watermarks;

pub use watermarks::WatermarkState;
use watermarks::Watermarks;

use crate::source::SourceRecord;
use crate::store::DeadLetter;
use crate::{Error, Result};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseRecord, DeliveryResult, Producer, ProducerContext, ThreadedProducer};
use rdkafka::{ClientContext, Offset, TopicPartitionList};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wardstream_operators::{IngestConfig, LatePolicy};
use wardstream_schemas::{Event, Millis, Reject, RejectReason, Stream};

/// Topic names.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Topics {
    /// Appointment events.
    pub appointments: String,
    /// Vital signs.
    pub vitals: String,
    /// Charges.
    pub billing: String,
    /// Admissions, transfers, discharges.
    pub adt: String,
    /// Where dead letters go.
    pub dead_letter: String,
}

impl Default for Topics {
    fn default() -> Self {
        Topics::with_prefix("wardstream")
    }
}

impl Topics {
    /// `{prefix}.appointments`, `{prefix}.vitals`, `{prefix}.billing`, `{prefix}.adt` and
    /// `{prefix}.dead-letter`.
    pub fn with_prefix(prefix: &str) -> Self {
        Topics {
            appointments: format!("{prefix}.appointments"),
            vitals: format!("{prefix}.vitals"),
            billing: format!("{prefix}.billing"),
            adt: format!("{prefix}.adt"),
            dead_letter: format!("{prefix}.dead-letter"),
        }
    }

    /// The topic of a stream.
    pub fn of(&self, stream: Stream) -> &str {
        match stream {
            Stream::Appointments => &self.appointments,
            Stream::Vitals => &self.vitals,
            Stream::Billing => &self.billing,
            Stream::Adt => &self.adt,
        }
    }

    /// The stream an input topic carries.
    pub fn stream_of(&self, topic: &str) -> Option<Stream> {
        Stream::ALL.into_iter().find(|s| self.of(*s) == topic)
    }

    /// The four input topics.
    pub fn inputs(&self) -> Vec<&str> {
        Stream::ALL.iter().map(|s| self.of(*s)).collect()
    }
}

/// How the engine reads Kafka.
#[derive(Clone, Debug)]
pub struct KafkaConfig {
    /// `bootstrap.servers`, e.g. `127.0.0.1:9092`.
    pub brokers: String,
    /// Topic names.
    pub topics: Topics,
    /// Consumer group the engine commits offsets to, for monitoring only.
    pub group_id: String,
    /// Where each worker writes its checkpoint (`None`: no checkpoints; a restart reads the
    /// topics from the beginning).
    pub checkpoint_dir: Option<PathBuf>,
    /// How often a worker writes its checkpoint.
    pub checkpoint_interval: Duration,
    /// Stop once every partition owned has been read up to its end offset as of the start
    /// (tests, backfills); otherwise run until stopped.
    pub bounded: bool,
    /// How often to look for new partitions.
    pub metadata_interval: Duration,
    /// Further librdkafka properties (`security.protocol`, `sasl.*`, `linger.ms`, …). They
    /// override wardstream's defaults, not the settings correctness depends on (see
    /// `docs/kafka.md`).
    pub properties: Vec<(String, String)>,
    /// A partition that has been read to its end and sent nothing for this long stops
    /// holding back its tenants' watermarks.
    pub idle_timeout: Duration,
    /// Messages read again before a resumed position (and skipped undecoded), so that the
    /// record batch holding that position is fetched whole: some brokers (tansu 0.6) answer a
    /// fetch from an offset inside a batch with the next batch, losing the rest of that one.
    /// Default 10,000, librdkafka's largest batch (`batch.num.messages`); if the broker still
    /// starts after the position, the rewind grows fourfold until it does not.
    pub resume_rewind: i64,
}

impl KafkaConfig {
    /// Defaults for `brokers`: standard topics, group `wardstream-engine`, no checkpoints,
    /// unbounded.
    pub fn new(brokers: impl Into<String>) -> Self {
        KafkaConfig {
            brokers: brokers.into(),
            topics: Topics::default(),
            group_id: "wardstream-engine".into(),
            checkpoint_dir: None,
            checkpoint_interval: Duration::from_secs(5),
            bounded: false,
            metadata_interval: Duration::from_secs(10),
            properties: Vec::new(),
            idle_timeout: Duration::from_secs(1),
            resume_rewind: 10_000,
        }
    }

    /// A client for the brokers: `defaults` first, then [`properties`](Self::properties)
    /// (which may override them), then `required` (settings correctness depends on).
    fn client(&self, defaults: &[(&str, &str)], required: &[(&str, &str)]) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.brokers);
        for (k, v) in defaults {
            c.set(*k, *v);
        }
        for (k, v) in &self.properties {
            c.set(k, v);
        }
        for (k, v) in required {
            c.set(*k, *v);
        }
        c
    }
}

/// The message key an event is published under: its patient id, or for a charge without one
/// its encounter id.
pub fn partition_key(event: &Event) -> &str {
    match event {
        Event::Appointment(e) => &e.patient_id,
        Event::VitalSign(e) => &e.patient_id,
        Event::Adt(e) => &e.patient_id,
        Event::Charge(e) => e.patient_id.as_deref().unwrap_or(&e.encounter_id),
    }
}

/// `topic/partition@offset`: where a message came from.
pub fn origin(topic: &str, partition: i32, offset: i64) -> String {
    format!("{topic}/{partition}@{offset}")
}

/// Turns one message into a source record: the event, or a rejection carrying the raw bytes
/// (an empty value is rejected as `malformed`). `stream` is the topic's stream; an event of
/// another type on it is accepted as what it is.
pub fn decode_message(
    stream: Stream,
    topic: &str,
    partition: i32,
    offset: i64,
    timestamp_ms: Option<i64>,
    payload: Option<&[u8]>,
) -> SourceRecord {
    let Some(bytes) = payload.filter(|b| !b.is_empty()) else {
        return SourceRecord::rejected(
            stream,
            origin(topic, partition, offset),
            Vec::new(),
            Reject::new(RejectReason::Malformed, "empty message value"),
            timestamp_ms.unwrap_or(0),
        );
    };
    match Event::decode(bytes) {
        Ok(e) => SourceRecord::Event(e),
        Err(reject) => SourceRecord::rejected(
            wardstream_schemas::event::guess_stream(bytes).unwrap_or(stream),
            origin(topic, partition, offset),
            bytes,
            reject,
            timestamp_ms.unwrap_or(0),
        ),
    }
}

/// Next offset to read, per topic and partition.
pub type Positions = BTreeMap<String, BTreeMap<i32, i64>>;

/// Counts failed deliveries of a producer and logs each.
#[derive(Default)]
pub struct DeliveryCounter {
    failed: AtomicU64,
    delivered: AtomicU64,
}

impl DeliveryCounter {
    /// Messages the broker did not take.
    pub fn failed(&self) -> u64 {
        self.failed.load(Ordering::Relaxed)
    }
    /// Messages the broker acknowledged.
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }
}

/// A producer context that counts deliveries.
#[derive(Clone, Default)]
pub struct Counted(pub Arc<DeliveryCounter>);

impl ClientContext for Counted {}
impl ProducerContext for Counted {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.0.delivered.fetch_add(1, Ordering::Relaxed);
            }
            Err((e, m)) => {
                self.0.failed.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, topic = m.topic(), "delivery to Kafka failed");
            }
        }
    }
}

/// The end offset (high watermark) of each partition a consumer fetches, as librdkafka's
/// statistics report it.
#[derive(Default)]
pub struct EndOffsets(std::sync::Mutex<HashMap<(String, i32), i64>>);

impl EndOffsets {
    fn end_offset(&self, partition: &(String, i32)) -> Option<i64> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(partition)
            .copied()
    }
}

impl ClientContext for EndOffsets {
    fn stats(&self, statistics: rdkafka::Statistics) {
        let mut ends = self.0.lock().unwrap_or_else(|p| p.into_inner());
        for (topic, t) in statistics.topics {
            for (p, s) in t.partitions {
                if p >= 0 && s.hi_offset >= 0 {
                    ends.insert((topic.clone(), p), s.hi_offset);
                }
            }
        }
    }
}

impl rdkafka::consumer::ConsumerContext for EndOffsets {}

/// One timely worker's view of Kafka: a consumer over the partitions it owns, and a producer
/// for dead letters.
pub struct KafkaSource {
    config: Arc<KafkaConfig>,
    consumer: BaseConsumer<EndOffsets>,
    dead_letters: ThreadedProducer<Counted>,
    dead_counter: Arc<DeliveryCounter>,
    index: usize,
    peers: usize,
    /// Next offset to read of every partition owned.
    next: BTreeMap<(String, i32), i64>,
    /// Bounded runs: the end offsets at start.
    end: Option<BTreeMap<(String, i32), i64>>,
    refreshed: Instant,
    consumed: u64,
    ingest: IngestConfig,
    watermarks: Watermarks,
    last_message: BTreeMap<(String, i32), Instant>,
    created: Vec<i64>,
    /// Whether the last poll emptied librdkafka's queue.
    drained: bool,
    /// Bounded runs: the partitions whose last record batch (the one at end offset - 1) has
    /// been fetched in this run.
    reached: BTreeSet<(String, i32)>,
    /// Partitions assigned before a resumed position, until a message at or before that
    /// position arrives: `(fetched from, rewind used)`.
    resuming: BTreeMap<(String, i32), (i64, i64)>,
}

fn kafka_err(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Kafka(format!("{what}: {e}"))
}

impl KafkaSource {
    /// Opens worker `index` of `peers`: assigns it the partitions it owns, starting each at
    /// its offset in `resume` (from a checkpoint) or at the beginning. `wake` is called from
    /// librdkafka's thread when messages arrive (it should unpark the worker).
    ///
    /// Errors: the brokers cannot be reached or the topics' metadata cannot be read within
    /// 10 s ([`Error::Kafka`]).
    pub fn open(
        config: Arc<KafkaConfig>,
        index: usize,
        peers: usize,
        ingest: IngestConfig,
        resume: Option<(&Positions, &WatermarkState)>,
        wake: impl Fn() + Send + Sync + 'static,
    ) -> Result<Self> {
        let client = config.client(
            &[
                // librdkafka's default (500 ms) is how long a fetch may wait for data. Apache
                // Kafka answers as soon as data arrives; tansu 0.6 holds an empty fetch for
                // the full wait, which at a low rate was the p50 produce-to-view latency.
                ("fetch.wait.max.ms", "10"),
                ("statistics.interval.ms", "500"),
            ],
            &[
                ("group.id", &config.group_id),
                ("enable.auto.commit", "false"),
                ("enable.auto.offset.store", "false"),
                ("auto.offset.reset", "earliest"),
                ("enable.partition.eof", "false"),
            ],
        );
        let mut consumer: BaseConsumer<EndOffsets> = client
            .create_with_context(EndOffsets::default())
            .map_err(|e| kafka_err("creating the consumer", e))?;
        consumer.set_nonempty_callback(wake);
        let counter = Arc::new(DeliveryCounter::default());
        let dead_letters: ThreadedProducer<Counted> = config
            .client(&[("compression.type", "lz4"), ("linger.ms", "20")], &[])
            .create_with_context(Counted(counter.clone()))
            .map_err(|e| kafka_err("creating the dead-letter producer", e))?;
        let mut source = KafkaSource {
            config,
            consumer,
            dead_letters,
            dead_counter: counter,
            index,
            peers: peers.max(1),
            next: BTreeMap::new(),
            end: None,
            refreshed: Instant::now(),
            consumed: 0,
            ingest,
            watermarks: resume
                .map(|(_, w)| Watermarks::restore(w))
                .unwrap_or_default(),
            last_message: BTreeMap::new(),
            created: Vec::new(),
            drained: false,
            reached: BTreeSet::new(),
            resuming: BTreeMap::new(),
        };
        for (topic, parts) in resume.map(|(p, _)| p).into_iter().flatten() {
            for (p, o) in parts {
                source.next.insert((topic.clone(), *p), *o);
            }
        }
        // Positions restored for partitions this worker no longer owns are an error of the
        // caller (checkpoints are per worker count); keep only what is owned.
        let owned = source.owned_partitions()?;
        source.next.retain(|k, _| owned.contains(k));
        for k in owned {
            source.next.entry(k).or_insert(-1);
        }
        if source.config.bounded {
            let mut end = BTreeMap::new();
            for (topic, p) in source.next.keys() {
                let (_, high) = source
                    .consumer
                    .fetch_watermarks(topic, *p, Duration::from_secs(10))
                    .map_err(|e| kafka_err(&format!("end offset of {topic}/{p}"), e))?;
                end.insert((topic.clone(), *p), high);
            }
            source.end = Some(end);
        }
        source.assign()?;
        Ok(source)
    }

    /// The partitions of the input topics this worker owns (`p % peers == index`); a topic
    /// that does not exist yet has none.
    fn owned_partitions(&self) -> Result<Vec<(String, i32)>> {
        let mut owned = Vec::new();
        for topic in self.config.topics.inputs() {
            let metadata = self
                .consumer
                .fetch_metadata(Some(topic), Duration::from_secs(10))
                .map_err(|e| kafka_err(&format!("metadata of {topic}"), e))?;
            for t in metadata.topics() {
                if t.error().is_some() {
                    continue; // not created yet
                }
                for p in t.partitions() {
                    if p.id() as usize % self.peers == self.index {
                        owned.push((t.name().to_owned(), p.id()));
                    }
                }
            }
        }
        Ok(owned)
    }

    /// Assigns every partition owned at its position. A resumed position (not the beginning)
    /// is fetched from `resume_rewind` messages before it (see [`KafkaConfig::resume_rewind`];
    /// the messages before it are skipped), and a bounded run resumed at or past the end
    /// offset from no later than end offset - 1 (see [`finished`](Self::finished)).
    fn assign(&mut self) -> Result<()> {
        let mut tpl = TopicPartitionList::new();
        self.resuming.clear();
        for (key, next) in &self.next {
            let (topic, p) = key;
            let offset = if *next <= 0 {
                Offset::Beginning
            } else {
                let mut from = *next - self.config.resume_rewind.max(1);
                if let Some(h) = self.end.as_ref().and_then(|e| e.get(key)).copied()
                    && h >= 1
                    && !self.reached.contains(key)
                {
                    from = from.min(h - 1);
                }
                let from = from.max(0);
                self.resuming
                    .insert(key.clone(), (from, self.config.resume_rewind.max(1)));
                Offset::Offset(from)
            };
            tpl.add_partition_offset(topic, *p, offset)
                .map_err(|e| kafka_err("assignment", e))?;
        }
        self.consumer
            .assign(&tpl)
            .map_err(|e| kafka_err("assigning partitions", e))
    }

    /// Whether message `offset` of partition `key` is one to skip because the broker started
    /// a resumed partition after its position (`next`): then the partition is fetched again
    /// from further back. An associated function so that it can run while a message borrows
    /// the consumer.
    fn started_late(
        consumer: &BaseConsumer<EndOffsets>,
        resuming: &mut BTreeMap<(String, i32), (i64, i64)>,
        key: &(String, i32),
        next: i64,
        offset: i64,
    ) -> Result<bool> {
        let Some((from, rewind)) = resuming.get(key).copied() else {
            return Ok(false);
        };
        if offset <= next || from == 0 {
            // At or before the position, or fetched from the very beginning: a later first
            // offset is then a real gap (e.g. trimmed by retention).
            resuming.remove(key);
            return Ok(false);
        }
        let rewind = rewind.saturating_mul(4);
        let from = (next - rewind).max(0);
        tracing::warn!(
            topic = %key.0, partition = key.1, position = next, first = offset, from,
            "the broker answered from after the resumed position; fetching again from further back"
        );
        // A seek discards what was fetched before it (librdkafka's op versions).
        consumer
            .seek(&key.0, key.1, Offset::Offset(from), Duration::from_secs(10))
            .map_err(|e| kafka_err("fetching again", e))?;
        resuming.insert(key.clone(), (from, rewind));
        Ok(true)
    }

    /// Looks for partitions added since the last look and assigns those this worker owns
    /// (read from the beginning).
    fn refresh(&mut self) -> Result<()> {
        self.refreshed = Instant::now();
        let owned = self.owned_partitions()?;
        let mut added = false;
        for k in owned {
            if let std::collections::btree_map::Entry::Vacant(v) = self.next.entry(k) {
                tracing::info!(topic = %v.key().0, partition = v.key().1, worker = self.index, "new partition");
                v.insert(-1);
                added = true;
            }
        }
        if added {
            self.assign()?;
        }
        Ok(())
    }

    /// Reads up to `max` messages without blocking, appending them to `out` decoded.
    ///
    /// Errors: none so far (a broker that is down is retried by librdkafka and logged); the
    /// `Result` leaves room for sources that can fail.
    pub fn poll(&mut self, max: usize, out: &mut Vec<SourceRecord>) -> Result<usize> {
        if self.refreshed.elapsed() >= self.config.metadata_interval
            && let Err(e) = self.refresh()
        {
            // The broker may be down for a while: librdkafka reconnects; look again later.
            tracing::warn!(error = %e, worker = self.index, "looking for new partitions");
        }
        let idle = self.idle_partitions();
        let mut n = 0;
        self.drained = false;
        while n < max {
            match self.consumer.poll(Duration::ZERO) {
                None => {
                    self.drained = true;
                    break;
                }
                Some(Err(e)) => {
                    tracing::warn!(error = %e, worker = self.index, "Kafka consumer");
                    break;
                }
                Some(Ok(m)) => {
                    let topic = m.topic();
                    let Some(stream) = self.config.topics.stream_of(topic) else {
                        continue;
                    };
                    let key = (topic.to_owned(), m.partition());
                    // Anything delivered, even a message before the position that is skipped
                    // below, shows the partition is being read: it is not idle.
                    self.last_message.insert(key.clone(), Instant::now());
                    let next = self.next.get(&key).copied().unwrap_or(-1);
                    if Self::started_late(
                        &self.consumer,
                        &mut self.resuming,
                        &key,
                        next,
                        m.offset(),
                    )? {
                        continue;
                    }
                    if let Some(high) = self.end.as_ref().and_then(|e| e.get(&key))
                        && m.offset() >= high - 1
                    {
                        self.reached.insert(key.clone());
                    }
                    match self.next.get_mut(&key) {
                        // A message before our position (a fetch from before a seek): skip.
                        Some(next) if *next >= 0 && m.offset() < *next => continue,
                        Some(next) => *next = m.offset() + 1,
                        None => continue,
                    }
                    if let Some(t) = m.timestamp().to_millis() {
                        self.created.push(t);
                    }
                    let mut record = decode_message(
                        stream,
                        topic,
                        m.partition(),
                        m.offset(),
                        m.timestamp().to_millis(),
                        m.payload(),
                    );
                    if let SourceRecord::Event(e) = &record {
                        let (tenant, time) = (e.tenant_id(), e.event_time());
                        let lateness = self.ingest.allowed_lateness_ms;
                        let late = self.ingest.late_policy == LatePolicy::DeadLetter
                            && self
                                .watermarks
                                .of(tenant, lateness, self.next.keys(), &idle)
                                .is_some_and(|w| time < w);
                        if late {
                            record = SourceRecord::rejected(
                                e.stream(),
                                origin(topic, m.partition(), m.offset()),
                                m.payload().unwrap_or_default(),
                                Reject::new(
                                    RejectReason::Late,
                                    "event time behind its partitions' watermark by more than the allowed lateness",
                                ),
                                time,
                            );
                        } else {
                            self.watermarks.saw(tenant, &key, time);
                        }
                    }
                    out.push(record);
                    n += 1;
                }
            }
        }
        self.consumed += n as u64;
        Ok(n)
    }

    /// Partitions read to their end that sent nothing for [`KafkaConfig::idle_timeout`]:
    /// they do not hold back watermarks. End offsets come from librdkafka's statistics
    /// (every 500 ms, from its fetch responses), so this never waits on the broker.
    ///
    /// A partition that has delivered nothing in this run is idle only when it is empty: a
    /// broker may report less than a partition's true end (tansu 0.6 reports its last record
    /// batch's base + 1), so a resumed position at or past that figure proves nothing until
    /// a fetch has come back. Before that, a partition judged idle would let the other
    /// partitions carry its tenants' watermarks past its unread events, which would then be
    /// dead-lettered as late.
    fn idle_partitions(&mut self) -> BTreeSet<(String, i32)> {
        let mut idle = BTreeSet::new();
        let positions: Vec<((String, i32), i64)> =
            self.next.iter().map(|(k, n)| (k.clone(), *n)).collect();
        for (k, next) in &positions {
            let high = self.consumer.context().end_offset(k);
            let at_end = match self.last_message.get(k) {
                Some(t) => {
                    t.elapsed() >= self.config.idle_timeout && high.is_some_and(|h| *next >= h)
                }
                None => high == Some(0) && *next < 0,
            };
            if at_end {
                idle.insert(k.clone());
            }
        }
        idle
    }

    /// Each tenant's watermark as judged so far (what ingest may evict by).
    pub fn watermarks(&self) -> Vec<(String, Millis)> {
        self.watermarks
            .current
            .iter()
            .map(|(t, w)| (t.clone(), *w))
            .collect()
    }

    /// The event-time state a checkpoint keeps.
    pub fn watermark_state(&self) -> WatermarkState {
        self.watermarks.snapshot()
    }

    /// The producer timestamps (ms) of the messages polled since the last call.
    pub fn take_created(&mut self) -> Vec<i64> {
        std::mem::take(&mut self.created)
    }

    /// Whether the last [`poll`](Self::poll) found librdkafka's queue empty: everything
    /// fetched so far has been read.
    pub fn drained(&self) -> bool {
        self.drained
    }

    /// Whether a bounded run has read every partition it owns to its end offset, and the
    /// messages fetched with the last one.
    ///
    /// Some brokers (tansu 0.6) report the end offset as the base offset of the last record
    /// batch + 1 instead of the last offset + 1, so a position at the end offset is not
    /// enough: the record at end offset - 1 must have been fetched in this run (a run resumed
    /// past it reads from there again), and then the rest of its batch, which came in the same
    /// fetch response, once a poll has found the queue empty.
    pub fn finished(&self) -> bool {
        self.drained
            && self.end.as_ref().is_some_and(|end| {
                end.iter()
                    .all(|(k, high)| *high <= 0 || self.reached.contains(k))
            })
    }

    /// The next offset of every partition owned (`-1`: nothing read yet).
    pub fn positions(&self) -> Positions {
        let mut p = Positions::new();
        for ((topic, part), next) in &self.next {
            p.entry(topic.clone()).or_default().insert(*part, *next);
        }
        p
    }

    /// Commits `positions` to the consumer group, for monitoring (asynchronous; a failure
    /// is logged and changes nothing, since recovery reads the checkpoint).
    pub fn commit(&self, positions: &Positions) {
        let mut tpl = TopicPartitionList::new();
        for (topic, parts) in positions {
            for (p, next) in parts {
                if *next >= 0 {
                    let _ = tpl.add_partition_offset(topic, *p, Offset::Offset(*next));
                }
            }
        }
        if tpl.count() == 0 {
            return;
        }
        if let Err(e) = self.consumer.commit(&tpl, CommitMode::Async) {
            tracing::debug!(error = %e, "offset commit (monitoring only) failed");
        }
    }

    /// Publishes a dead letter to the dead-letter topic (original bytes as value, reason and
    /// source position as headers). Waits while librdkafka's queue is full.
    pub fn dead_letter(&self, letter: &DeadLetter) {
        let mut headers = OwnedHeaders::new()
            .insert(Header {
                key: "reason",
                value: Some(letter.reject.reason.code()),
            })
            .insert(Header {
                key: "detail",
                value: Some(letter.reject.detail.as_str()),
            })
            .insert(Header {
                key: "stream",
                value: Some(letter.stream.as_str()),
            })
            .insert(Header {
                key: "origin",
                value: Some(letter.origin.as_str()),
            });
        if let Some((topic, rest)) = letter.origin.rsplit_once('/')
            && let Some((p, o)) = rest.split_once('@')
        {
            headers = headers
                .insert(Header {
                    key: "source.topic",
                    value: Some(topic),
                })
                .insert(Header {
                    key: "source.partition",
                    value: Some(p),
                })
                .insert(Header {
                    key: "source.offset",
                    value: Some(o),
                });
        }
        let mut record = BaseRecord::to(&self.config.topics.dead_letter)
            .key(letter.origin.as_str())
            .payload(letter.raw.as_slice())
            .headers(headers);
        loop {
            match self.dead_letters.send(record) {
                Ok(()) => return,
                Err((e, r)) => {
                    if matches!(
                        e,
                        rdkafka::error::KafkaError::MessageProduction(
                            rdkafka::types::RDKafkaErrorCode::QueueFull
                        )
                    ) {
                        record = r;
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                    tracing::error!(error = %e, origin = %letter.origin, "dead letter not sent to Kafka");
                    return;
                }
            }
        }
    }

    /// Waits up to `timeout` for the dead letters sent to be acknowledged; returns how many
    /// failed overall.
    pub fn flush(&self, timeout: Duration) -> u64 {
        if let Err(e) = self.dead_letters.flush(timeout) {
            tracing::error!(error = %e, "dead letters not all acknowledged by Kafka");
        }
        self.dead_counter.failed()
    }

    /// Messages read so far.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_decode_or_are_rejected_with_their_position() {
        let ok = br#"{"type":"adt","event_id":"a1","tenant_id":"h","event_time":"2026-11-21T08:00:00Z","kind":"admit","patient_id":"p","encounter_id":"e","care_unit":"ICU"}"#;
        assert!(matches!(
            decode_message(Stream::Adt, "x.adt", 2, 7, None, Some(ok)),
            SourceRecord::Event(_)
        ));
        let SourceRecord::Rejected(r) =
            decode_message(Stream::Adt, "x.adt", 2, 8, Some(5), Some(b"{oops"))
        else {
            panic!("malformed JSON must be rejected")
        };
        assert_eq!(r.origin, "x.adt/2@8");
        assert_eq!(r.raw, b"{oops");
        assert_eq!(r.reject.reason, RejectReason::Malformed);
        let SourceRecord::Rejected(r) = decode_message(Stream::Vitals, "x.v", 0, 1, None, None)
        else {
            panic!("an empty value must be rejected")
        };
        assert_eq!(r.stream, Stream::Vitals);
    }

    #[test]
    fn topics_map_to_streams() {
        let t = Topics::with_prefix("h1");
        assert_eq!(t.of(Stream::Billing), "h1.billing");
        assert_eq!(t.stream_of("h1.adt"), Some(Stream::Adt));
        assert_eq!(t.stream_of("h1.dead-letter"), None);
        assert_eq!(t.inputs().len(), 4);
    }
}
