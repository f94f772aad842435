//! Publishing events to the input topics (`wardstream produce`): an idempotent, batching,
//! lz4-compressing producer, and topic creation.

use super::{Counted, DeliveryCounter, KafkaConfig, kafka_err, partition_key};
use crate::Result;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use wardstream_schemas::Event;

/// Creates the four input topics and the dead-letter topic with `partitions` partitions each
/// (replication factor 1) where they do not exist yet. Existing topics are left as they are.
/// Blocks on its own runtime: call it from a thread that is not driving async tasks.
///
/// Errors: the brokers cannot be reached, or refuse to create a topic ([`crate::Error::Kafka`]).
pub fn ensure_topics(config: &KafkaConfig, partitions: i32) -> Result<()> {
    let admin: AdminClient<DefaultClientContext> = config
        .client(&[], &[])
        .create()
        .map_err(|e| kafka_err("creating the admin client", e))?;
    let names: Vec<&str> = config
        .topics
        .inputs()
        .into_iter()
        .chain([config.topics.dead_letter.as_str()])
        .collect();
    let new: Vec<NewTopic<'_>> = names
        .iter()
        .map(|n| NewTopic::new(n, partitions.max(1), TopicReplication::Fixed(1)))
        .collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .map_err(|e| kafka_err("starting a runtime", e))?;
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
    let results = runtime
        .block_on(admin.create_topics(new.iter(), &opts))
        .map_err(|e| kafka_err("creating topics", e))?;
    for r in results {
        match r {
            Ok(_) | Err((_, RDKafkaErrorCode::TopicAlreadyExists)) => {}
            Err((topic, code)) => {
                return Err(kafka_err(&format!("creating topic {topic}"), code));
            }
        }
    }
    Ok(())
}

/// What a [`Publisher`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PublishSummary {
    /// Messages handed to the producer, per topic.
    pub sent: BTreeMap<String, u64>,
    /// Messages the brokers acknowledged.
    pub delivered: u64,
    /// Messages that failed for good (after librdkafka's retries).
    pub failed: u64,
}

/// An idempotent producer to the input topics: events keyed by [`partition_key`], value the
/// event's JSON, timestamp the time of producing; lz4 compression, 20 ms linger, batches up
/// to 1 MB.
pub struct Publisher {
    producer: BaseProducer<Counted>,
    counter: Arc<DeliveryCounter>,
    config: KafkaConfig,
    sent: BTreeMap<String, u64>,
    /// Failed deliveries already reported by [`Publisher::wait_acknowledged`].
    failed_seen: u64,
}

impl Publisher {
    /// A producer for `config`'s brokers and topics.
    ///
    /// Errors: invalid client settings ([`crate::Error::Kafka`]).
    pub fn new(config: &KafkaConfig) -> Result<Self> {
        let counter = Arc::new(DeliveryCounter::default());
        let producer: BaseProducer<Counted> = config
            .client(
                &[
                    ("compression.type", "lz4"),
                    ("linger.ms", "20"),
                    ("batch.size", "1000000"),
                ],
                &[("enable.idempotence", "true")],
            )
            .create_with_context(Counted(counter.clone()))
            .map_err(|e| kafka_err("creating the producer", e))?;
        Ok(Publisher {
            producer,
            counter,
            config: config.clone(),
            sent: BTreeMap::new(),
            failed_seen: 0,
        })
    }

    /// Publishes one event to its stream's topic.
    pub fn send_event(&mut self, event: &Event) -> Result<()> {
        let topic = self.config.topics.of(event.stream()).to_owned();
        let json = event.to_json();
        // No explicit timestamp: the message's CreateTime is when it was produced, which
        // time-based retention and the engine's produce-to-view latency go by (event time is
        // in the value, and may be years old in a replay).
        self.send(&topic, Some(partition_key(event)), json.as_bytes())
    }

    /// Publishes raw bytes to a topic (tests and tools: malformed input, other producers'
    /// formats).
    pub fn send_raw(&mut self, topic: &str, key: Option<&str>, payload: &[u8]) -> Result<()> {
        self.send(topic, key, payload)
    }

    fn send(&mut self, topic: &str, key: Option<&str>, payload: &[u8]) -> Result<()> {
        let mut record: BaseRecord<'_, str, [u8]> = BaseRecord::to(topic).payload(payload);
        if let Some(k) = key {
            record = record.key(k);
        }
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), r)) => {
                    // Serve delivery reports until the queue has room.
                    self.producer.poll(Duration::from_millis(100));
                    record = r;
                }
                Err((e, _)) => return Err(kafka_err(&format!("producing to {topic}"), e)),
            }
        }
        *self.sent.entry(topic.to_owned()).or_insert(0) += 1;
        if self.sent.values().sum::<u64>() % 1024 == 0 {
            self.producer.poll(Duration::ZERO);
        }
        Ok(())
    }

    /// Messages handed over so far.
    pub fn sent(&self) -> u64 {
        self.sent.values().sum()
    }

    /// Messages acknowledged so far.
    pub fn delivered(&self) -> u64 {
        self.counter.delivered()
    }

    /// Blocks until the brokers have acknowledged every message sent so far (the
    /// transactional outbox's relay marks a row published only after this returns `Ok`).
    ///
    /// While the brokers are unreachable it keeps waiting, logging every 5 s, and sends
    /// nothing twice; librdkafka gives a message up after `message.timeout.ms` (default
    /// 300 s, settable in [`KafkaConfig::properties`]).
    ///
    /// Errors: messages given up since the last call ([`crate::Error::Kafka`]); some of them
    /// may have been delivered and some not, so the caller sends them all again (the engine's
    /// ingest counts a repeated `event_id` with the same content once).
    pub fn wait_acknowledged(&mut self) -> Result<()> {
        loop {
            match self.producer.flush(Duration::from_secs(5)) {
                Ok(()) => break,
                Err(KafkaError::Flush(RDKafkaErrorCode::OperationTimedOut)) => {
                    tracing::warn!(
                        unacknowledged = self.producer.in_flight_count(),
                        brokers = %self.config.brokers,
                        "waiting for Kafka to acknowledge"
                    );
                }
                Err(e) => return Err(kafka_err("waiting for acknowledgements", e)),
            }
        }
        let failed = self.counter.failed();
        let new = failed - std::mem::replace(&mut self.failed_seen, failed);
        if new > 0 {
            return Err(kafka_err(
                "delivering",
                format!("{new} messages were not acknowledged (the log says why)"),
            ));
        }
        Ok(())
    }

    /// The settings this publisher was made with.
    pub fn config(&self) -> &KafkaConfig {
        &self.config
    }

    /// The topic names this publisher writes to.
    pub fn topics(&self) -> &super::Topics {
        &self.config.topics
    }

    /// Waits up to `timeout` for every message to be acknowledged.
    ///
    /// Errors: messages still unacknowledged at the timeout ([`crate::Error::Kafka`]).
    pub fn flush(&mut self, timeout: Duration) -> Result<PublishSummary> {
        self.producer
            .flush(timeout)
            .map_err(|e| kafka_err("waiting for acknowledgements", e))?;
        Ok(PublishSummary {
            sent: self.sent.clone(),
            delivered: self.counter.delivered(),
            failed: self.counter.failed(),
        })
    }
}
