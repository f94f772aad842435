//! The statements the mirror sends: DDL, `SELECT`s decoded from RowBinary, and inserts
//! tracked until the server has answered (see [`InFlight`]).

use super::row_binary;
use crate::{Error, Result};
use arrow::array::{ArrowPrimitiveType, AsArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

pub(super) fn ch_error(what: &str, e: clickhouse::error::Error) -> Error {
    Error::ClickHouse {
        detail: format!("{what}: {e}"),
        transient: true,
    }
}

/// Runs SQL that returns nothing.
pub(super) async fn execute(
    client: &clickhouse::Client,
    timeout: Duration,
    sql: &str,
) -> Result<()> {
    tokio::time::timeout(timeout, client.query(sql).execute())
        .await
        .map_err(|_| Error::ClickHouse {
            detail: format!("timed out after {timeout:?}"),
            transient: true,
        })?
        .map_err(|e| ch_error("statement failed", e))
}

/// Runs a `SELECT` whose columns are exactly `schema`'s and returns its rows.
///
/// `binds` fill the query's `?` placeholders in order (escaped client-side by the
/// `clickhouse` crate; 18.16 has no server-side parameters).
///
/// Errors: [`Error::ClickHouse`] if the server cannot be reached, rejects the query, or
/// returns rows that do not match `schema`.
pub async fn select(
    client: &clickhouse::Client,
    sql: &str,
    binds: &[&str],
    schema: SchemaRef,
) -> Result<RecordBatch> {
    let mut query = client.query(sql);
    for b in binds {
        query = query.bind(*b);
    }
    let mut cursor = query
        .fetch_bytes("RowBinary")
        .map_err(|e| ch_error("query failed", e))?;
    let bytes = cursor
        .collect()
        .await
        .map_err(|e| ch_error("query failed", e))?;
    row_binary::decode(&bytes, schema)
}

/// This process's inserts into one database that have not finished: they may still reach the
/// server. The server's `system.processes` lists only inserts it has begun to read; one whose
/// writer gave up (a timeout, an aborted mirror) can still be queued on a connection of this
/// process and land later. A mirror waits for both kinds before it reads the tables' state.
#[derive(Debug, Default)]
pub(super) struct InFlight {
    running: AtomicUsize,
    finished: tokio::sync::Notify,
}

impl InFlight {
    /// The registry entry of database `database` at `url`, shared by every mirror of this
    /// process that writes there.
    pub(super) fn of(url: &str, database: &str) -> Arc<InFlight> {
        /// Keyed by (url, database).
        type Registry = HashMap<(String, String), Arc<InFlight>>;
        static REGISTRY: LazyLock<Mutex<Registry>> = LazyLock::new(Default::default);
        REGISTRY
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((url.to_owned(), database.to_owned()))
            .or_default()
            .clone()
    }

    /// Waits until none is running, or fails after `limit`.
    pub(super) async fn wait_idle(&self, limit: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            // Registered before the check, so a finish in between is not missed.
            let finished = self.finished.notified();
            if self.running.load(Ordering::Acquire) == 0 {
                return Ok(());
            }
            if tokio::time::timeout_at(deadline, finished).await.is_err() {
                return Err(Error::ClickHouse {
                    detail: format!(
                        "an insert this process gave up on is still running after {limit:?}"
                    ),
                    transient: true,
                });
            }
        }
    }
}

/// Counts one insert task as running until dropped.
struct Running(Arc<InFlight>);

impl Running {
    fn start(in_flight: &Arc<InFlight>) -> Self {
        in_flight.running.fetch_add(1, Ordering::AcqRel);
        Running(in_flight.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.running.fetch_sub(1, Ordering::AcqRel);
        self.0.finished.notify_waiters();
    }
}

/// Inserts RowBinary `rows` into `table`. The insert runs as its own task, counted in
/// `in_flight` until the server has answered or the connection is gone; waiting for it is
/// bounded by `timeout`, after which the error is transient and the task is left to finish.
pub(super) async fn insert(
    client: &clickhouse::Client,
    in_flight: &Arc<InFlight>,
    timeout: Duration,
    query_id: String,
    table: &str,
    columns: &[String],
    rows: Vec<u8>,
) -> Result<()> {
    let sql = format!(
        "INSERT INTO {table} ({}) FORMAT RowBinary",
        columns.join(", ")
    );
    let client = client.clone();
    let running = Running::start(in_flight);
    let task = tokio::spawn(async move {
        let _running = running;
        let mut ins = client
            .insert_formatted_with(sql)
            .with_setting("query_id", query_id);
        ins.send(bytes::Bytes::from(rows)).await?;
        ins.end().await
    });
    match tokio::time::timeout(timeout, task).await {
        Err(_) => Err(Error::ClickHouse {
            detail: format!("insert into {table} unanswered after {timeout:?}"),
            transient: true,
        }),
        Ok(Err(e)) => Err(Error::ClickHouse {
            detail: format!("insert into {table} did not finish: {e}"),
            transient: true,
        }),
        Ok(Ok(r)) => r.map_err(|e| ch_error("insert failed", e)),
    }
}

/// Column `i` of `batch` as strings (nulls as `""`).
pub(super) fn string_column(batch: &RecordBatch, i: usize) -> Result<Vec<&str>> {
    let a = batch
        .column(i)
        .as_string_opt::<i32>()
        .ok_or_else(|| Error::Dataflow("expected a string column".into()))?;
    Ok(a.iter().map(|v| v.unwrap_or("")).collect())
}

/// Column `i` of `batch` as values of the primitive Arrow type `T`.
pub(super) fn primitive_column<T: ArrowPrimitiveType>(
    batch: &RecordBatch,
    i: usize,
) -> Result<Vec<T::Native>> {
    let a = batch
        .column(i)
        .as_primitive_opt::<T>()
        .ok_or_else(|| Error::Dataflow(format!("expected a {} column", T::DATA_TYPE)))?;
    Ok(a.values().to_vec())
}
