//! The ClickHouse mirror: every view as a collapsing table, every valid event in a raw archive,
//! every dead letter in its own table, exactly once.
//!
//! # Tables (in database [`ClickHouseConfig::database`], created on first connection)
//!
//! - **One per view** (`census`, `adt_hourly`, `news2`, `alerts`, `no_show`, `revenue`,
//!   `length_of_stay`, `ed_boarding`): the view's columns ([`row_binary`] maps the types), then `sign Int8`,
//!   `frontier UInt64`, `run_id String` and `written_at DateTime`. Engine
//!   `CollapsingMergeTree(sign)` ordered by every view column, so a row and its retraction
//!   collapse. Each view change `(row, diff)` is written as `|diff|` rows with
//!   `sign = signum(diff)`. A view's contents are
//!   `SELECT cols FROM t GROUP BY cols HAVING sum(sign) > 0`, or `SELECT cols FROM t FINAL`
//!   (every view row has multiplicity 1, which `FINAL` needs).
//! - **`raw_events`**: every valid event the engine was fed, with its source position
//!   (`source_id`, `shares`, `share`, `seq`), `stream`, `tenant_id`, `event_id`, `event_time`
//!   (ms) and its JSON `payload`. `MergeTree` partitioned by day
//!   (`toInt32(floor(event_time / 86400000))`, days since 1970-01-01 UTC).
//! - **`dead_letters`**: records that were not applied, with `reason`, `detail`, `origin`,
//!   `order_time` and the `raw` bytes; source rejections carry their position, late events
//!   from ingest carry `seq = 0`. Partitioned by day of `order_time`.
//! - **`archive_progress`**: after each archive flush, the highest `seq` per share written.
//!
//! # Exactly once
//!
//! - **Views**: after a write of unknown outcome (an error, a timeout, a restart of either
//!   side) the mirror *reconciles*. It first waits until no insert of its database can still
//!   land: this process's own until answered or disconnected (`InFlight`), then the server's
//!   (`system.processes` by `query_id` prefix). Then it reads each table's collapsed contents back
//!   (`GROUP BY` every column, `sum(sign)`) and writes the difference to the engine's current
//!   view, taken under the same lock that restarts the store's change log. Whatever the failed
//!   write did, the table then equals the view. A restarted engine (no checkpoints yet) starts
//!   from empty views, so its first reconcile retracts the old rows and the replay writes
//!   them back; at the end the tables equal the views again, with no duplicates.
//! - **Archive**: positions are deterministic (see [`archive`]). On connection the writer
//!   reads the committed prefix per share from `archive_progress` and the positions above it
//!   already in `raw_events` and `dead_letters` (a flush interrupted before its progress row),
//!   and skips those records. Late-event dead letters from ingest have no position and are
//!   skipped when an identical letter (stream and raw bytes) is already there.
//!
//! # Batching, faults and backpressure
//!
//! The mirror takes the store's consolidated changes every round (50 ms) into a buffer per
//! table; a table's buffer is inserted when ≥ [`ClickHouseConfig::min_rows`] rows wait or its
//! last insert is [`ClickHouseConfig::max_interval`] old, so each table gets at most one insert
//! per interval unless a thousand rows are ready (ClickHouse's advice for `MergeTree`
//! inserts). The archive is flushed on the same rule. A take is committed, and its events'
//! freshness recorded, once no buffer holds rows from it or an older take. A failed statement is retried with exponential backoff (100 ms to
//! [`ClickHouseConfig::max_backoff`]). Meanwhile the store keeps serving its in-memory views;
//! the view change log stays bounded by the size of the views (it is consolidated), and the
//! archive queue fills to [`ClickHouseConfig::archive_capacity`] records, at which point the
//! engine stops feeding until ClickHouse is back.
//!
//! # ClickHouse versions
//!
//! Written against Debian's `clickhouse-server` 18.16 and kept to SQL that current releases
//! also accept: no server-side query parameters (values are bound client-side by the
//! `clickhouse` crate), no `DateTime64` (times are `Int64` ms), no `allow_nullable_key` (a
//! nullable column enters the sorting key as `isNull(c), assumeNotNull(c)`), and at most 100
//! day-partitions per insert (the default `max_partitions_per_insert_block` of current
//! releases). The crate's schema validation is off: 18.16 lacks
//! `RowBinaryWithNamesAndTypes`.

pub mod archive;
mod archive_writer;
use archive_writer::{Resume, archive_tables};
pub mod row_binary;
mod statements;
pub use statements::select;
use statements::{InFlight, execute, insert, primitive_column, string_column};

use crate::store::{ChangeReader, ChangeSet, DeadLetter, Freshness, Latencies, TABLES, ViewStore};
use crate::view_arrow::ViewRow;
use crate::{Error, Result, SourceRecord};
pub use archive::{ArchiveQueue, Archived};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wardstream_operators::{
    AdtHourlyRow, AlertRow, BoardingRow, CensusRow, LengthOfStayRow, News2Row, NoShowRow,
    RevenueRow,
};

/// The origin ingest gives late events it dead-letters.
pub const INGEST_ORIGIN: &str = "ingest";

/// Most rows in one `INSERT` (ClickHouse splits larger ones into several parts, which would
/// no longer land atomically).
const MAX_INSERT_ROWS: usize = 500_000;
/// Most day-partitions in one `INSERT` (`max_partitions_per_insert_block` in current releases).
const MAX_INSERT_PARTITIONS: usize = 100;
const MS_PER_DAY: i64 = 86_400_000;

/// Where and how to mirror.
#[derive(Clone, Debug)]
pub struct ClickHouseConfig {
    /// The HTTP interface, e.g. `http://127.0.0.1:8123`.
    pub url: String,
    /// The database the tables go in (created if missing).
    pub database: String,
    /// User name, if not `default`.
    pub user: Option<String>,
    /// Password (never logged).
    pub password: Option<String>,
    /// Flush when at least this many view rows or archive records wait (default 1,000).
    pub min_rows: usize,
    /// Flush at least this often when anything waits (default 1 s).
    pub max_interval: Duration,
    /// Archive records queued before the engine stops feeding (default 200,000).
    pub archive_capacity: usize,
    /// Longest wait between retries (default 5 s).
    pub max_backoff: Duration,
    /// Longest one statement may take before it counts as failed (default 60 s).
    pub statement_timeout: Duration,
    /// Names the source in `raw_events.source_id`, so positions are compared only with the
    /// same source's (e.g. `replay of ../shared/data`).
    pub source_id: String,
}

impl ClickHouseConfig {
    /// Defaults for `url`, the `wardstream` database and `source_id`.
    pub fn new(url: impl Into<String>, source_id: impl Into<String>) -> Self {
        ClickHouseConfig {
            url: url.into(),
            database: "wardstream".into(),
            user: None,
            password: None,
            min_rows: 1_000,
            max_interval: Duration::from_secs(1),
            archive_capacity: 200_000,
            max_backoff: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(60),
            source_id: source_id.into(),
        }
    }

    /// A client for this server and database's server (the database itself may not exist yet).
    pub fn client(&self) -> clickhouse::Client {
        let mut client = clickhouse::Client::default()
            .with_url(&self.url)
            .with_validation(false);
        if let Some(user) = &self.user {
            client = client.with_user(user);
        }
        if let Some(password) = &self.password {
            client = client.with_password(password);
        }
        client
    }
}

/// The view tables' names and Arrow schemas, in [`TABLES`] order.
pub fn view_schemas() -> Vec<(&'static str, SchemaRef)> {
    vec![
        (CensusRow::NAME, CensusRow::schema()),
        (AdtHourlyRow::NAME, AdtHourlyRow::schema()),
        (News2Row::NAME, News2Row::schema()),
        (AlertRow::NAME, AlertRow::schema()),
        (NoShowRow::NAME, NoShowRow::schema()),
        (RevenueRow::NAME, RevenueRow::schema()),
        (LengthOfStayRow::NAME, LengthOfStayRow::schema()),
        (BoardingRow::NAME, BoardingRow::schema()),
    ]
}

fn arrow_error(e: arrow::error::ArrowError) -> Error {
    Error::Dataflow(format!("building a batch for ClickHouse: {e}"))
}

fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// Counters of what the mirror did, shared with whoever watches it.
#[derive(Debug, Default)]
pub struct MirrorStats {
    /// View rows written (each `sign` row counts).
    pub view_rows: AtomicU64,
    /// Archive rows written (`raw_events` and `dead_letters`).
    pub archive_rows: AtomicU64,
    /// `INSERT` statements that succeeded.
    pub inserts: AtomicU64,
    /// Statements that failed (each retry counts).
    pub failures: AtomicU64,
    /// Reconciles run (the first connection counts).
    pub reconciles: AtomicU64,
    /// The store frontier the view tables are known to equal (0 before the first write).
    pub frontier: AtomicU64,
    /// Set once every table exists and the first reconcile is done.
    pub connected: AtomicBool,
    last_error: Mutex<Option<String>>,
    latencies: Mutex<Latencies>,
}

impl MirrorStats {
    /// The last error, if the last statement failed.
    pub fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Event-to-ClickHouse latency so far: from the moment an epoch's first event was fed to
    /// the engine until the view changes it caused were committed in ClickHouse, weighted by
    /// events.
    pub fn freshness(&self) -> Freshness {
        self.latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .freshness()
    }

    fn failed(&self, e: &Error) {
        self.failures.fetch_add(1, Ordering::Relaxed);
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(e.to_string());
    }

    fn succeeded(&self) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }
}

/// The mirror task's state.
struct Mirror {
    config: ClickHouseConfig,
    client: clickhouse::Client,
    store: Arc<ViewStore>,
    /// The mirror's reader of the store's change log.
    reader: ChangeReader,
    queue: Arc<ArchiveQueue>,
    stats: Arc<MirrorStats>,
    draining: Arc<AtomicBool>,
    run_id: String,
    db: String,
    /// Set when the tables' state is unknown: reconcile before the next write.
    reconcile: bool,
    resume: Option<Resume>,
    /// Archive records taken from the queue and not yet known to be written.
    pending: Vec<Archived>,
    /// Store dead letters seen so far (index into the store's list).
    letters_seen: usize,
    /// Late-event dead letters taken from the store and not yet written.
    pending_letters: Vec<DeadLetter>,
    /// Takes of the store's changes whose rows are not all inserted yet, oldest first.
    takes: VecDeque<Take>,
    /// Numbers the takes.
    next_take: u64,
    last_flush: Instant,
    /// Numbers this run's inserts (their `query_id`s).
    inserts: AtomicU64,
    /// This process's unfinished inserts into the database.
    in_flight: Arc<InFlight>,
    /// Encoded view rows per table, taken from the store and not yet inserted.
    buffers: HashMap<&'static str, ViewBuffer>,
    /// The store frontier of the last changes taken.
    taken_frontier: u64,
}

/// A running mirror.
pub struct MirrorHandle {
    stats: Arc<MirrorStats>,
    draining: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<()>>,
}

impl MirrorHandle {
    /// What the mirror has done so far.
    pub fn stats(&self) -> &Arc<MirrorStats> {
        &self.stats
    }

    /// Writes everything still waiting (views at the store's current frontier, the archive
    /// queue, dead letters), then stops. Call after the engine has stopped feeding; it
    /// retries through outages, so bound it with a timeout if need be.
    ///
    /// Errors: the mirror's fatal error (a table in an incompatible shape, a source position
    /// conflict), or [`Error::Dataflow`] if its task panicked.
    pub async fn finish(self) -> Result<Arc<MirrorStats>> {
        self.draining.store(true, Ordering::Release);
        self.task
            .await
            .map_err(|e| Error::Dataflow(format!("ClickHouse mirror task failed: {e}")))??;
        Ok(self.stats)
    }

    /// Stops at once; what was not written is written by the next run (reconcile, resume).
    pub fn abort(self) {
        self.task.abort();
    }
}

/// Starts mirroring `store` and the records `queue` receives into ClickHouse, on the current
/// tokio runtime. Turns on the store's change log. Pass the same `queue` to the engine
/// ([`EngineConfig::archive`](crate::EngineConfig::archive)).
///
/// The task retries through outages; it ends only by [`MirrorHandle::finish`], or on a fatal
/// error: a table that exists with other columns (the user's: another wardstream version
/// wrote it) or an archive written by the same source with another worker count.
pub fn spawn(
    config: ClickHouseConfig,
    store: Arc<ViewStore>,
    queue: Arc<ArchiveQueue>,
) -> MirrorHandle {
    let reader = store.track_changes();
    let stats = Arc::new(MirrorStats::default());
    let draining = Arc::new(AtomicBool::new(false));
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mirror = Mirror {
        client: config.client(),
        in_flight: InFlight::of(&config.url, &config.database),
        db: quote(&config.database),
        config,
        store,
        reader,
        queue,
        stats: stats.clone(),
        draining: draining.clone(),
        run_id: format!("{nanos:x}-{}", std::process::id()),
        reconcile: true,
        resume: None,
        pending: Vec::new(),
        letters_seen: 0,
        pending_letters: Vec::new(),
        takes: VecDeque::new(),
        next_take: 0,
        last_flush: Instant::now(),
        inserts: AtomicU64::new(0),
        buffers: HashMap::new(),
        taken_frontier: 0,
    };
    let task = tokio::spawn(mirror.run());
    MirrorHandle {
        stats,
        draining,
        task,
    }
}

impl Mirror {
    async fn run(mut self) -> Result<()> {
        let mut backoff = Duration::from_millis(100);
        loop {
            let draining = self.draining.load(Ordering::Acquire);
            match self.step(draining).await {
                Ok(done) => {
                    backoff = Duration::from_millis(100);
                    self.stats.succeeded();
                    if draining && done {
                        return Ok(());
                    }
                    tokio::time::sleep(Duration::from_millis(if draining { 1 } else { 50 })).await;
                }
                Err(
                    e @ Error::ClickHouse {
                        transient: false, ..
                    },
                ) => {
                    tracing::error!(error = %e, "ClickHouse mirror stopped");
                    self.stats.failed(&e);
                    return Err(e);
                }
                Err(e) => {
                    self.stats.failed(&e);
                    tracing::warn!(error = %e, retry_in = ?backoff, "ClickHouse write failed; the views keep serving and the mirror will catch up");
                    self.reconcile = true;
                    self.resume = None;
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(self.config.max_backoff);
                }
            }
        }
    }

    /// One round: connect and reconcile if needed, then flush what is due. Returns whether
    /// nothing is left to write.
    async fn step(&mut self, draining: bool) -> Result<bool> {
        if self.reconcile || self.resume.is_none() {
            self.wait_for_inserts_in_flight().await?;
        }
        if self.reconcile {
            self.ensure_tables().await?;
            self.reconcile_views().await?;
            self.reconcile = false;
            self.stats.connected.store(true, Ordering::Release);
        }
        if self.resume.is_none() {
            self.resume = Some(self.load_resume().await?);
        }
        let due = draining
            || self.last_flush.elapsed() >= self.config.max_interval
            || self.queue.len() + self.pending.len() >= self.config.min_rows
            || self.store.pending_changes(self.reader) >= self.config.min_rows;
        // The store's changes are taken every round and each table's buffer goes out on its
        // own clock; the archive is flushed on the mirror's clock.
        self.flush_views(draining).await?;
        if !due {
            return Ok(false);
        }
        self.last_flush = Instant::now();
        self.flush_archive().await?;
        Ok(self.queue.is_empty()
            && self.buffers.values().all(|b| b.rows == 0)
            && self.pending.is_empty()
            && self.pending_letters.is_empty()
            && self.store.pending_changes(self.reader) == 0
            && self.stats.frontier.load(Ordering::Acquire) >= self.store.frontier())
    }

    fn timeout(&self) -> Duration {
        self.config.statement_timeout
    }

    /// The `query_id` prefix of every insert into this database.
    fn query_id_prefix(&self) -> String {
        format!("wardstream-{}-", self.config.database)
    }

    fn next_query_id(&self) -> String {
        let n = self.inserts.fetch_add(1, Ordering::Relaxed);
        format!("{}{}-{n}", self.query_id_prefix(), self.run_id)
    }

    /// Waits until no insert into this database is still running: first this process's own
    /// (an aborted mirror's or a timed-out one may still be on its way, see [`InFlight`]),
    /// then any on the server (a killed process's insert may still be committing). Their rows
    /// must be in the tables before they are read back to reconcile or resume, or they would
    /// be written twice.
    async fn wait_for_inserts_in_flight(&self) -> Result<()> {
        self.in_flight.wait_idle(self.timeout()).await?;
        let prefix = self.query_id_prefix();
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::UInt64, false)]));
        let deadline = Instant::now() + self.timeout();
        loop {
            let running = select(
                &self.client,
                &format!(
                    "SELECT toUInt64(count()) FROM system.processes WHERE substring(query_id, 1, {}) = ?",
                    prefix.len()
                ),
                &[&prefix],
                schema.clone(),
            )
            .await?;
            if primitive_column::<arrow::datatypes::UInt64Type>(&running, 0)?
                .first()
                .copied()
                .unwrap_or(0)
                == 0
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(Error::ClickHouse {
                    detail: "an earlier insert is still running on the server".into(),
                    transient: true,
                });
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn ensure_tables(&self) -> Result<()> {
        let t = self.timeout();
        execute(
            &self.client,
            t,
            &format!("CREATE DATABASE IF NOT EXISTS {}", self.db),
        )
        .await?;
        for (name, schema) in view_schemas() {
            let mut columns = Vec::new();
            let mut key = Vec::new();
            for f in schema.fields() {
                columns.push(format!(
                    "{} {}",
                    quote(f.name()),
                    row_binary::column_type(f)?
                ));
                let c = quote(f.name());
                if f.is_nullable() {
                    key.push(format!("isNull({c}), assumeNotNull({c})"));
                } else {
                    key.push(c);
                }
            }
            columns.extend(
                [
                    "`sign` Int8",
                    "`frontier` UInt64",
                    "`run_id` String",
                    "`written_at` DateTime DEFAULT now()",
                ]
                .map(String::from),
            );
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {}.{} ({}) ENGINE = CollapsingMergeTree(sign) ORDER BY ({})",
                self.db,
                quote(name),
                columns.join(", "),
                key.join(", ")
            );
            execute(&self.client, t, &sql).await?;
            self.check_columns(name, &view_columns(&schema)?).await?;
        }
        for (name, ddl, schema) in archive_tables() {
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {}.{} {ddl}",
                self.db,
                quote(name)
            );
            execute(&self.client, t, &sql).await?;
            self.check_columns(name, &view_columns(&schema)?).await?;
        }
        Ok(())
    }

    /// Fails (not transient) if `table` lacks a column of `expected` or has it with another type.
    async fn check_columns(&self, table: &str, expected: &[(String, String)]) -> Result<()> {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, false),
            Field::new("type", DataType::Utf8, false),
        ]));
        let found = select(
            &self.client,
            "SELECT name, type FROM system.columns WHERE database = ? AND table = ?",
            &[&self.config.database, table],
            schema,
        )
        .await?;
        let names = string_column(&found, 0)?;
        let types = string_column(&found, 1)?;
        let have: HashMap<&str, &str> = names.into_iter().zip(types).collect();
        for (name, ty) in expected {
            if have.get(name.as_str()) != Some(&ty.as_str()) {
                return Err(Error::ClickHouse {
                    detail: format!(
                        "table {}.{table} exists without column {name} {ty} (found {:?}); drop it or mirror into another database",
                        self.config.database,
                        have.get(name.as_str())
                    ),
                    transient: false,
                });
            }
        }
        Ok(())
    }

    /// Makes every view table equal the store's current views.
    async fn reconcile_views(&mut self) -> Result<()> {
        let t = self.timeout();
        // The tables' state first, then the views: changes after the views' snapshot stay in
        // the store's log for the next flush.
        let mut held = Vec::new();
        for (name, schema) in view_schemas() {
            let cols = column_list(&schema);
            let mut fields: Vec<Field> = schema.fields().iter().map(|f| (**f).clone()).collect();
            fields.push(Field::new("n", DataType::Int64, false));
            let sql = format!(
                "SELECT {cols}, toInt64(sum(sign)) AS n FROM {}.{} GROUP BY {cols} HAVING n != 0",
                self.db,
                quote(name)
            );
            let batch = tokio::time::timeout(
                t,
                select(&self.client, &sql, &[], Arc::new(Schema::new(fields))),
            )
            .await
            .map_err(|_| Error::ClickHouse {
                detail: format!("reading {name} timed out"),
                transient: true,
            })??;
            let counts =
                primitive_column::<arrow::datatypes::Int64Type>(&batch, batch.num_columns() - 1)?;
            let rows = batch
                .project(&(0..batch.num_columns() - 1).collect::<Vec<_>>())
                .map_err(arrow_error)?;
            let mut map: HashMap<Vec<u8>, i64> = HashMap::new();
            let enc = row_binary::Encoder::new(&rows)?;
            for (i, n) in counts.into_iter().enumerate() {
                let mut key = Vec::new();
                enc.write_row(i, &mut key);
                *map.entry(key).or_insert(0) += n;
            }
            held.push(map);
        }
        let full = self
            .store
            .take_changes(self.reader, true)
            .map_err(arrow_error)?;
        // Whatever the buffers held is in the full contents now: one take, committed when the
        // writes below are.
        self.buffers.clear();
        self.taken_frontier = full.frontier;
        let mut folded: Vec<(Instant, u64)> = self.takes.drain(..).flat_map(|t| t.folded).collect();
        folded.extend(full.folded.iter().copied());
        let id = self.next_take;
        self.next_take += 1;
        self.takes.push_back(Take {
            id,
            frontier: full.frontier,
            folded,
        });
        let mut writes = Vec::new();
        for (view, mut have) in full.views.iter().zip(held) {
            let enc = row_binary::Encoder::new(&view.rows)?;
            let mut delta: Vec<(Vec<u8>, i64)> = Vec::new();
            for (i, want) in view.diffs.iter().enumerate() {
                let mut key = Vec::new();
                enc.write_row(i, &mut key);
                let had = have.remove(&key).unwrap_or(0);
                if *want != had {
                    delta.push((key, want - had));
                }
            }
            delta.extend(have.into_iter().map(|(k, had)| (k, -had)));
            delta.sort();
            writes.push((view.name, delta));
        }
        for (name, delta) in writes {
            self.write_view(name, delta, full.frontier).await?;
        }
        self.stats.reconciles.fetch_add(1, Ordering::Relaxed);
        self.commit_takes();
        Ok(())
    }

    /// Takes the store's changes into the per-table buffers; then inserts each buffer that
    /// holds [`ClickHouseConfig::min_rows`] rows or whose last insert is
    /// [`ClickHouseConfig::max_interval`] old (every non-empty one when draining). The tables
    /// equal the views at the taken frontier once every buffer is empty.
    async fn flush_views(&mut self, draining: bool) -> Result<()> {
        if self.store.frontier() > self.taken_frontier
            || self.store.pending_changes(self.reader) > 0
        {
            let mut changes: ChangeSet = self
                .store
                .take_changes(self.reader, false)
                .map_err(arrow_error)?;
            let id = self.next_take;
            self.next_take += 1;
            self.takes.push_back(Take {
                id,
                frontier: changes.frontier,
                folded: std::mem::take(&mut changes.folded),
            });
            self.taken_frontier = changes.frontier;
            for view in &changes.views {
                let enc = row_binary::Encoder::new(&view.rows)?;
                let mut key = Vec::new();
                let buffer = self
                    .buffers
                    .entry(view.name)
                    .or_insert_with(ViewBuffer::new);
                if buffer.rows == 0 {
                    buffer.oldest_take = id;
                }
                for (i, d) in view.diffs.iter().enumerate() {
                    key.clear();
                    enc.write_row(i, &mut key);
                    buffer.rows +=
                        encode_signed(&key, *d, changes.frontier, &self.run_id, &mut buffer.bytes);
                }
            }
        }
        let names: Vec<&'static str> = self.buffers.keys().copied().collect();
        for name in names {
            let due = self.buffers.get(name).is_some_and(|b| {
                b.rows > 0
                    && (draining
                        || b.rows >= self.config.min_rows
                        || b.last_insert
                            .is_none_or(|at| at.elapsed() >= self.config.max_interval))
            });
            if !due {
                continue;
            }
            let Some(b) = self.buffers.get_mut(name) else {
                continue;
            };
            let (bytes, rows) = (std::mem::take(&mut b.bytes), std::mem::take(&mut b.rows));
            b.last_insert = Some(Instant::now());
            self.insert_view(name, bytes, rows).await?;
        }
        self.commit_takes();
        Ok(())
    }

    /// Commits every take older than the oldest rows still buffered: their events' latencies
    /// are recorded and the mirrored frontier advances to the newest of them.
    fn commit_takes(&mut self) {
        let oldest_buffered = self
            .buffers
            .values()
            .filter(|b| b.rows > 0)
            .map(|b| b.oldest_take)
            .min()
            .unwrap_or(u64::MAX);
        let now = Instant::now();
        let mut l = self
            .stats
            .latencies
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        while self.takes.front().is_some_and(|t| t.id < oldest_buffered) {
            let Some(t) = self.takes.pop_front() else {
                break;
            };
            for (at, n) in t.folded {
                l.record(now - at, n);
            }
            self.stats.frontier.fetch_max(t.frontier, Ordering::AcqRel);
        }
    }

    /// Writes `(row, diff)` changes of view `name` at once (the reconcile).
    async fn write_view(
        &self,
        name: &'static str,
        delta: Vec<(Vec<u8>, i64)>,
        frontier: u64,
    ) -> Result<()> {
        let mut bytes = Vec::new();
        let mut rows = 0;
        for (key, d) in delta {
            rows += encode_signed(&key, d, frontier, &self.run_id, &mut bytes);
        }
        self.insert_view(name, bytes, rows).await
    }

    /// Inserts `rows` encoded view rows, in statements of at most [`MAX_INSERT_ROWS`].
    async fn insert_view(&self, name: &'static str, bytes: Vec<u8>, rows: usize) -> Result<()> {
        if rows == 0 {
            return Ok(());
        }
        let schema = view_schemas()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, s)| s)
            .ok_or_else(|| Error::Dataflow(format!("no view named {name}")))?;
        let mut columns: Vec<String> = schema.fields().iter().map(|f| quote(f.name())).collect();
        columns.extend(["`sign`", "`frontier`", "`run_id`"].map(String::from));
        let table = format!("{}.{}", self.db, quote(name));
        if rows <= MAX_INSERT_ROWS {
            return self
                .insert_counted(&table, &columns, bytes, rows, true)
                .await;
        }
        // Split at row boundaries: walk the rows with the table's column types.
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| (**f).clone()).collect();
        fields.extend([
            Field::new("sign", DataType::Int8, false),
            Field::new("frontier", DataType::UInt64, false),
            Field::new("run_id", DataType::Utf8, false),
        ]);
        let batch = row_binary::decode(&bytes, Arc::new(Schema::new(fields)))?;
        let mut at = 0;
        while at < batch.num_rows() {
            let n = MAX_INSERT_ROWS.min(batch.num_rows() - at);
            let part = batch.slice(at, n);
            let enc = row_binary::Encoder::new(&part)?;
            let mut buf = Vec::new();
            for i in 0..n {
                enc.write_row(i, &mut buf);
            }
            self.insert_counted(&table, &columns, buf, n, true).await?;
            at += n;
        }
        Ok(())
    }

    async fn insert_counted(
        &self,
        table: &str,
        columns: &[String],
        buf: Vec<u8>,
        rows: usize,
        view: bool,
    ) -> Result<()> {
        insert(
            &self.client,
            &self.in_flight,
            self.timeout(),
            self.next_query_id(),
            table,
            columns,
            buf,
        )
        .await?;
        self.stats.inserts.fetch_add(1, Ordering::Relaxed);
        let counter = if view {
            &self.stats.view_rows
        } else {
            &self.stats.archive_rows
        };
        counter.fetch_add(rows as u64, Ordering::Relaxed);
        Ok(())
    }
}

/// Appends `|diff|` copies of the encoded view row `key` with `sign = signum(diff)`, the
/// frontier and the run id; returns how many rows it wrote.
fn encode_signed(key: &[u8], diff: i64, frontier: u64, run_id: &str, out: &mut Vec<u8>) -> usize {
    let sign: i8 = if diff > 0 { 1 } else { -1 };
    for _ in 0..diff.unsigned_abs() {
        out.extend_from_slice(key);
        out.extend_from_slice(&sign.to_le_bytes());
        out.extend_from_slice(&frontier.to_le_bytes());
        row_binary::write_str(run_id, out);
    }
    diff.unsigned_abs() as usize
}

/// A view table's encoded rows waiting for their insert.
struct ViewBuffer {
    bytes: Vec<u8>,
    rows: usize,
    /// The take the oldest buffered rows came from (meaningful while `rows > 0`).
    oldest_take: u64,
    /// `None` before the table's first insert of this run.
    last_insert: Option<Instant>,
}

/// One take of the store's changes: the store frontier it reached and the epochs it folded
/// (when their first event was fed, how many events).
struct Take {
    id: u64,
    frontier: u64,
    folded: Vec<(Instant, u64)>,
}

impl ViewBuffer {
    fn new() -> Self {
        ViewBuffer {
            bytes: Vec::new(),
            rows: 0,
            oldest_take: 0,
            last_insert: None,
        }
    }
}

fn insert_columns(schema: &Schema) -> Vec<String> {
    schema.fields().iter().map(|f| quote(f.name())).collect()
}

/// `(name, ClickHouse type)` of every column the mirror writes to a table of `schema`.
fn view_columns(schema: &Schema) -> Result<Vec<(String, String)>> {
    schema
        .fields()
        .iter()
        .map(|f| Ok((f.name().clone(), row_binary::column_type(f)?)))
        .collect()
}

/// The quoted, comma-separated columns of `schema`.
pub fn column_list(schema: &Schema) -> String {
    insert_columns(schema).join(", ")
}

/// The names of the tables the mirror writes: the views (as in [`TABLES`]), then the archive.
pub fn table_names() -> Vec<&'static str> {
    TABLES
        .iter()
        .copied()
        .filter(|t| *t != "ingest_stats" && *t != "dead_letters")
        .chain(["raw_events", "dead_letters", "archive_progress"])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_tables_are_every_view() {
        let names: Vec<&str> = view_schemas().into_iter().map(|(n, _)| n).collect();
        assert_eq!(&table_names()[..names.len()], names.as_slice());
    }
}
