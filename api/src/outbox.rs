//! The transactional outbox: a state change and its domain event commit together or not at
//! all, and a relay hands committed events to the streams.
//!
//! - [`enqueue`] writes an [`Event`] into the `outbox` table inside the caller's transaction
//!   (the booking, the status change, the invoice), keyed by its `event_id`, under the Kafka
//!   topic of its stream ([`topic`]).
//! - [`relay_once`] reads unpublished rows oldest first (`created_at`, then the order the
//!   process wrote them in),
//!   validates each event, hands the valid ones to a sink (the in-process engine's
//!   [`LiveInput`]; the Kafka producer once the Kafka issue lands) and the invalid ones to the
//!   dead-letter output with their reason and bytes, then stamps `published_at`. A crash
//!   between handing over and stamping hands the same events over again: delivery is at least
//!   once, and the engine's ingest counts a repeated `event_id` with the same content as a
//!   duplicate, so the views count it once.
//! - [`spawn_relay`] first hands over every row published before ([`replay_published`]): the
//!   in-process engine's views live in memory and start empty, so each run rebuilds the API's
//!   share of them from the outbox, as it rebuilds the rest from its source; `published_at`
//!   is the cursor of new rows only. Then it runs [`relay_once`] every [`RELAY_INTERVAL`].
//!   Rows stamped after the engine stopped are therefore not lost either: the next run
//!   replays them.
//!
//! One relay per store: two engines relaying one store would split its new rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use sqlx::Row;
use wardstream_pipelines::{DeadLetter, LiveInput, ViewStore};
use wardstream_schemas::{Event, Reject, Stream};

use crate::db::{Db, now_ms};
use crate::problem::Problem;

/// How often the relay looks for new rows.
pub const RELAY_INTERVAL: Duration = Duration::from_millis(100);
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

/// What one relay pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Events handed to the sink.
    pub published: usize,
    /// Rows that were not valid events, sent to the dead-letter output.
    pub dead_lettered: usize,
}

/// One pass: up to 500 unpublished rows, oldest first, to `live` (valid events) or to
/// `store`'s dead letters (the rest); then marks them published.
///
/// # Errors
/// Database errors; nothing is marked published then, so the next pass retries.
pub async fn relay_once(
    db: &Db,
    live: &LiveInput,
    store: &ViewStore,
) -> Result<RelayPass, sqlx::Error> {
    let rows = sqlx::query(
        "SELECT event_id, topic, payload FROM outbox WHERE published_at IS NULL ORDER BY created_at, ordinal LIMIT $1",
    )
    .bind(BATCH)
    .fetch_all(db)
    .await?;
    if rows.is_empty() {
        return Ok(RelayPass::default());
    }
    let (pass, ids) = hand_over(&rows, live, store)?;
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

/// Decodes `rows` (`event_id`, `topic`, `payload`) and hands the events to `live`, the rest
/// to `store`'s dead letters; returns what it did and the rows' ids.
fn hand_over(
    rows: &[sqlx::any::AnyRow],
    live: &LiveInput,
    store: &ViewStore,
) -> Result<(RelayPass, Vec<String>), sqlx::Error> {
    let mut pass = RelayPass::default();
    let mut ids = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        let id: String = row.try_get("event_id")?;
        let topic: String = row.try_get("topic")?;
        let payload: String = row.try_get("payload")?;
        match Event::decode(payload.as_bytes()) {
            Ok(event) => events.push(event),
            Err(reject) => {
                pass.dead_lettered += 1;
                store.dead_letter(dead_letter(&topic, &id, payload, reject));
            }
        }
        ids.push(id);
    }
    pass.published = events.len();
    live.push(events);
    Ok((pass, ids))
}

/// Hands every row published before to `live` (and the invalid ones to `store`'s dead
/// letters), oldest first, in pages of 500.
///
/// # Errors
/// Database errors.
pub async fn replay_published(
    db: &Db,
    live: &LiveInput,
    store: &ViewStore,
) -> Result<RelayPass, sqlx::Error> {
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
        let (pass, _) = hand_over(&rows, live, store)?;
        total.published += pass.published;
        total.dead_lettered += pass.dead_lettered;
    }
}

fn dead_letter(topic: &str, id: &str, payload: String, reject: Reject) -> DeadLetter {
    let stream = Stream::ALL
        .into_iter()
        .find(|s| self::topic(*s) == topic)
        .unwrap_or(Stream::Appointments);
    DeadLetter {
        stream,
        reject,
        origin: format!("outbox:{id}"),
        raw: payload.into_bytes(),
        order_time: now_ms(),
    }
}

/// Replays the rows published before ([`replay_published`]), then runs [`relay_once`] every
/// [`RELAY_INTERVAL`] (at once again while a pass was full) until the runtime shuts down;
/// database errors are logged and retried.
pub fn spawn_relay(
    db: Db,
    live: Arc<LiveInput>,
    store: Arc<ViewStore>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            match replay_published(&db, &live, &store).await {
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
        loop {
            match relay_once(&db, &live, &store).await {
                Ok(pass) if pass.published + pass.dead_lettered >= BATCH as usize => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "outbox relay: will retry"),
            }
            tokio::time::sleep(RELAY_INTERVAL).await;
        }
    })
}
