//! The transactional outbox: a state change and its domain event commit together or not at
//! all, and a relay hands committed events to the streams.
//!
//! - [`enqueue`] writes an [`Event`] into the `outbox` table inside the caller's transaction
//!   (the booking, the status change, the invoice), keyed by its `event_id`, under the Kafka
//!   topic of its stream ([`topic`]).
//! - [`relay_once`] reads unpublished rows oldest first (`created_at`, then the order the
//!   process wrote them in) and hands them to a [`Destination`], then stamps `published_at`:
//!   - [`Destination::Kafka`]: each row goes to its stream's input topic (`appointments`,
//!     `billing`, …; see `wardstream_pipelines::kafka`), keyed like every other producer's
//!     messages (the patient id), and is stamped only once the brokers have acknowledged it.
//!     A row that is not a valid event is published as it is, keyed by its `event_id`, and
//!     the engine dead-letters it with its reason, as it does any producer's bad message.
//!   - [`Destination::Engine`] (no Kafka): valid events go to the in-process engine's
//!     [`LiveInput`], the rest to the store's dead-letter output with their reason and bytes.
//!
//!   A crash between handing over and stamping hands the same rows over again: delivery is
//!   at least once, and the engine's ingest counts a repeated `event_id` with the same
//!   content as a duplicate, so the views count it once.
//! - [`spawn_relay`] runs [`relay_once`] every [`RELAY_INTERVAL`]. For the in-process engine it
//!   first hands over every row published before ([`replay_published`]): those views live in
//!   memory and start empty, so each run rebuilds the API's share of them from the outbox, as
//!   it rebuilds the rest from its source; `published_at` is the cursor of new rows only. Kafka
//!   keeps what it acknowledged, and the engine reading it resumes from its checkpoint, so
//!   nothing is replayed there.
//!
//! One relay per store: two relays on one store would each publish the rows both read.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::Row;
use wardstream_pipelines::kafka::publish::Publisher;
use wardstream_pipelines::{DeadLetter, LiveInput, ViewStore};
use wardstream_schemas::{Event, Reject, Stream};

use crate::db::{Db, now_ms};
use crate::problem::Problem;

/// How often the relay looks for new rows.
pub const RELAY_INTERVAL: Duration = Duration::from_millis(100);
/// The longest wait between retries after failed passes (the wait doubles from
/// [`RELAY_INTERVAL`] up to this).
pub const MAX_RETRY_INTERVAL: Duration = Duration::from_secs(30);
/// Rows per relay pass.
const BATCH: i64 = 500;

/// The Kafka topic of a stream (`wardstream.appointments`, `wardstream.billing`, …).
pub fn topic(stream: Stream) -> &'static str {
    match stream {
        Stream::Appointments => "wardstream.appointments",
        Stream::Vitals => "wardstream.vitals",
        Stream::Billing => "wardstream.billing",
        Stream::Adt => "wardstream.adt",
    }
}

/// Writes `event` into the outbox inside `tx`.
///
/// # Errors
/// A database error as a [`Problem`] (the caller's transaction then rolls back).
pub async fn enqueue(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    event: &Event,
) -> Result<(), Problem> {
    let now = now_ms();
    sqlx::query(
        "INSERT INTO outbox (event_id, tenant_id, topic, payload, created_at, ordinal) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(event.event_id())
    .bind(event.tenant_id())
    .bind(topic(event.stream()))
    .bind(event.to_json())
    .bind(now)
    .bind(next_ordinal(now))
    .execute(&mut **tx)
    .await
    .map_err(Problem::from_db)?;
    Ok(())
}

/// The next row ordinal: above every earlier one of this process, and at least
/// `now_ms · 1000` so that a restarted process continues above the last one's.
fn next_ordinal(now_ms: i64) -> i64 {
    static ORDINAL: AtomicI64 = AtomicI64::new(0);
    ORDINAL.fetch_max(now_ms.saturating_mul(1000), Ordering::Relaxed);
    ORDINAL.fetch_add(1, Ordering::Relaxed) + 1
}

/// Where the relay hands committed events.
#[derive(Clone)]
pub enum Destination {
    /// The in-process engine: valid events to its live input, the rest to the store's
    /// dead-letter output.
    Engine {
        /// The running engine's input.
        live: Arc<LiveInput>,
        /// Its views (for dead letters).
        store: Arc<ViewStore>,
    },
    /// The Kafka input topics, through a producer that waits for the brokers'
    /// acknowledgements (shared so that tests and tools can publish with it too).
    Kafka(Arc<Mutex<Publisher>>),
}

/// A relay pass failed; nothing of it was stamped, so the next pass hands the same rows over
/// again.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The store could not be read or stamped.
    #[error("outbox store: {0}")]
    Db(#[from] sqlx::Error),
    /// Kafka did not acknowledge every message.
    #[error("{0}")]
    Kafka(#[from] wardstream_pipelines::Error),
    /// The publishing thread panicked.
    #[error("the Kafka publisher failed: {0}")]
    Publisher(String),
}

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Events handed to the destination.
    pub published: usize,
    /// Rows that were not valid events: dead-lettered (in-process engine) or published as
    /// they are for the engine to dead-letter (Kafka).
    pub dead_lettered: usize,
}

/// One pass: up to 500 unpublished rows, oldest first, to `destination`; then marks them
/// published.
///
/// # Errors
/// [`RelayError`]; nothing is marked published then, so the next pass retries.
pub async fn relay_once(db: &Db, destination: &Destination) -> Result<RelayPass, RelayError> {
    let rows = sqlx::query(
        "SELECT event_id, topic, payload FROM outbox WHERE published_at IS NULL ORDER BY created_at, ordinal LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(db)
    .await?;
    if rows.is_empty() {
        return Ok(RelayPass::default());
    }
    let rows = decode(&rows)?;
    let ids: Vec<String> = rows.iter().map(|r| r.event_id.clone()).collect();
    let pass = hand_over(rows, destination).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    for id in &ids {
        sqlx::query("UPDATE outbox SET published_at = $1 WHERE event_id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(pass)
}

/// One outbox row, decoded.
struct Outgoing {
    event_id: String,
    topic: String,
    payload: String,
    event: Result<Event, Reject>,
}

/// Decodes `rows` (`event_id`, `topic`, `payload`).
fn decode(rows: &[sqlx::any::AnyRow]) -> Result<Vec<Outgoing>, sqlx::Error> {
    rows.iter()
        .map(|row| {
            let payload: String = row.try_get("payload")?;
            Ok(Outgoing {
                event_id: row.try_get("event_id")?,
                topic: row.try_get("topic")?,
                event: Event::decode(payload.as_bytes()),
                payload,
            })
        })
        .collect()
}

/// Hands `rows` to `destination`.
async fn hand_over(
    rows: Vec<Outgoing>,
    destination: &Destination,
) -> Result<RelayPass, RelayError> {
    let pass = RelayPass {
        published: rows.iter().filter(|r| r.event.is_ok()).count(),
        dead_lettered: rows.iter().filter(|r| r.event.is_err()).count(),
    };
    match destination {
        Destination::Engine { live, store } => {
            let mut events = Vec::with_capacity(pass.published);
            for row in rows {
                match row.event {
                    Ok(event) => events.push(event),
                    Err(reject) => store.dead_letter(dead_letter(
                        &row.topic,
                        &row.event_id,
                        row.payload,
                        reject,
                    )),
                }
            }
            live.push(events);
        }
        Destination::Kafka(publisher) => {
            let publisher = publisher.clone();
            tokio::task::spawn_blocking(move || publish(&publisher, &rows))
                .await
                .map_err(|e| RelayError::Publisher(e.to_string()))??;
        }
    }
    Ok(pass)
}

/// Sends `rows` to their topics and waits for the acknowledgements. On an error it still
/// waits for what it queued (so the next pass does not pile copies onto a queue still
/// draining), then replaces the producer: an idempotent producer's fatal error is permanent.
fn publish(publisher: &Mutex<Publisher>, rows: &[Outgoing]) -> Result<(), RelayError> {
    let mut publisher = publisher
        .lock()
        .map_err(|_| RelayError::Publisher("poisoned by an earlier panic".into()))?;
    let sent = rows.iter().try_for_each(|row| match &row.event {
        Ok(event) => publisher.send_event(event),
        Err(_) => {
            let topic = publisher.topics().of(stream_of(&row.topic)).to_owned();
            publisher.send_raw(&topic, Some(&row.event_id), row.payload.as_bytes())
        }
    });
    let result = sent.and(publisher.wait_acknowledged());
    if result.is_err() {
        match Publisher::new(publisher.config()) {
            Ok(fresh) => *publisher = fresh,
            Err(e) => {
                tracing::warn!(error = %e, "outbox relay: could not renew the Kafka producer")
            }
        }
    }
    Ok(result?)
}

/// Hands every row published before to `destination`, oldest first, in pages of 500.
///
/// # Errors
/// [`RelayError`].
pub async fn replay_published(db: &Db, destination: &Destination) -> Result<RelayPass, RelayError> {
    let mut total = RelayPass::default();
    let mut after = (i64::MIN, i64::MIN);
    loop {
        let rows = sqlx::query(
            "SELECT event_id, topic, payload, created_at, ordinal FROM outbox WHERE published_at IS NOT NULL AND (created_at > $1 OR (created_at = $1 AND ordinal > $2)) ORDER BY created_at, ordinal LIMIT $3",
        )
        .bind(after.0)
        .bind(after.1)
        .bind(BATCH)
        .fetch_all(db)
        .await?;
        let Some(last) = rows.last() else {
            return Ok(total);
        };
        after = (last.try_get("created_at")?, last.try_get("ordinal")?);
        let pass = hand_over(decode(&rows)?, destination).await?;
        total.published += pass.published;
        total.dead_lettered += pass.dead_lettered;
    }
}

/// The stream of an outbox row's `topic` column.
fn stream_of(topic: &str) -> Stream {
    Stream::ALL
        .into_iter()
        .find(|s| self::topic(*s) == topic)
        .unwrap_or(Stream::Appointments)
}

fn dead_letter(topic: &str, id: &str, payload: String, reject: Reject) -> DeadLetter {
    DeadLetter {
        stream: stream_of(topic),
        reject,
        origin: format!("outbox:{id}"),
        raw: payload.into_bytes(),
        order_time: now_ms(),
    }
}

/// Runs [`relay_once`] every [`RELAY_INTERVAL`] (at once again while a pass was full) until
/// the runtime shuts down; errors are logged and retried after a wait that doubles up to
/// [`MAX_RETRY_INTERVAL`]. For [`Destination::Engine`] it first replays the rows published
/// before ([`replay_published`]); a store that relayed to the engine before and to Kafka now
/// does not republish those rows to Kafka.
pub fn spawn_relay(db: Db, destination: Destination) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if matches!(destination, Destination::Engine { .. }) {
            loop {
                match replay_published(&db, &destination).await {
                    Ok(pass) => {
                        tracing::info!(
                            events = pass.published,
                            dead_letters = pass.dead_lettered,
                            "outbox: replayed the events published before"
                        );
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "outbox replay: will retry");
                        tokio::time::sleep(RELAY_INTERVAL).await;
                    }
                }
            }
        }
        let mut wait = RELAY_INTERVAL;
        loop {
            match relay_once(&db, &destination).await {
                Ok(pass) => {
                    wait = RELAY_INTERVAL;
                    if pass.published + pass.dead_lettered >= BATCH as usize {
                        continue;
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in = ?wait, "outbox relay: will retry");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(MAX_RETRY_INTERVAL);
                    continue;
                }
            }
            tokio::time::sleep(RELAY_INTERVAL).await;
        }
    })
}
