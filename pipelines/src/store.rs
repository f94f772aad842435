//! The view store: every view's current contents at one frontier, plus ingest counters and
//! dead letters, served as Arrow tables.
//!
//! Workers push view updates `(row, epoch, diff)` as the dataflow produces them; they wait in
//! `pending` until the leader [`advance`](ViewStore::advance)s the store to a frontier the
//! dataflow's probe has passed, at which point every update before it is folded into the
//! current contents. A [`Snapshot`] is taken under one lock, so a query sees all views at the
//! same frontier (no torn reads).

use crate::view_arrow::ViewRow;
use arrow::array::{ArrayRef, Int64Array, StringArray, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::error::ArrowError;
use arrow::record_batch::RecordBatch;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use wardstream_operators::{
    AdtHourlyRow, AlertRow, BoardingRow, CensusRow, LengthOfStayRow, News2Row, NoShowRow, Outcome,
    RevenueRow,
};
use wardstream_schemas::batch::ts_type;
use wardstream_schemas::{Millis, Reject, RejectReason, Stream};

/// A record that was not applied, with everything needed to inspect or re-drive it.
#[derive(Clone, Debug, PartialEq)]
pub struct DeadLetter {
    /// The stream it was meant for.
    pub stream: Stream,
    /// Why.
    pub reject: Reject,
    /// Where it came from (file and line, or `ingest` for late events).
    pub origin: String,
    /// The bytes as received.
    pub raw: Vec<u8>,
    /// Its event time, or its place in event-time order.
    pub order_time: Millis,
}

/// One view's contents (internal to the store).
#[doc(hidden)]
pub struct Table<R> {
    pending: Vec<(R, u64, isize)>,
    current: HashMap<R, isize>,
    /// Per change reader ([`ViewStore::track_changes`]): net changes folded in since its
    /// last [`ViewStore::take_changes`].
    changes: Vec<HashMap<R, isize>>,
}

impl<R: ViewRow> Table<R> {
    fn new() -> Self {
        Table {
            pending: Vec::new(),
            current: HashMap::new(),
            changes: Vec::new(),
        }
    }

    fn advance(&mut self, frontier: u64) {
        let mut keep = Vec::new();
        for (row, time, diff) in self.pending.drain(..) {
            if time < frontier {
                for changes in &mut self.changes {
                    *changes.entry(row.clone()).or_insert(0) += diff;
                }
                let entry = self.current.entry(row).or_insert(0);
                *entry += diff;
            } else {
                keep.push((row, time, diff));
            }
        }
        self.pending = keep;
        self.current.retain(|_, d| *d != 0);
        for changes in &mut self.changes {
            changes.retain(|_, d| *d != 0);
        }
    }

    /// The net changes since `reader`'s last call (or, with `full`, every current row with its
    /// multiplicity), as a batch and a diff per row; resets the reader's change log.
    fn delta(&mut self, reader: ChangeReader, full: bool) -> Result<ViewDelta, ArrowError> {
        let taken = self
            .changes
            .get_mut(reader.0)
            .map(std::mem::take)
            .unwrap_or_default();
        let source = if full { &self.current } else { &taken };
        let mut rows: Vec<(&R, isize)> = source.iter().map(|(r, d)| (r, *d)).collect();
        rows.sort();
        let refs: Vec<&R> = rows.iter().map(|(r, _)| *r).collect();
        Ok(ViewDelta {
            name: R::NAME,
            rows: R::to_batch(&refs)?,
            diffs: rows.iter().map(|(_, d)| *d as i64).collect(),
        })
    }

    /// The rows, each repeated by its multiplicity, sorted.
    fn sorted(&self) -> Vec<&R> {
        let mut rows: Vec<&R> = self
            .current
            .iter()
            .flat_map(|(row, n)| std::iter::repeat_n(row, (*n).max(0) as usize))
            .collect();
        rows.sort();
        rows
    }

    fn batch(&self) -> Result<RecordBatch, ArrowError> {
        R::to_batch(&self.sorted())
    }

    fn rows(&self) -> Vec<R> {
        self.sorted().into_iter().cloned().collect()
    }
}

/// Counts of what happened to input, per stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct IngestStats {
    /// Records received from sources, per stream.
    pub received: BTreeMap<Stream, u64>,
    /// Outcomes per `(stream, outcome)`; dead letters keyed by their reason.
    pub outcomes: BTreeMap<(Stream, Outcome), u64>,
}

impl IngestStats {
    /// Records applied (new or corrected) on `stream`.
    pub fn applied(&self, stream: Stream) -> u64 {
        self.count(stream, |o| {
            matches!(o, Outcome::Applied | Outcome::Corrected)
        })
    }

    /// Records dead-lettered on `stream`.
    pub fn dead_lettered(&self, stream: Stream) -> u64 {
        self.count(stream, |o| matches!(o, Outcome::DeadLettered(_)))
    }

    /// Records dead-lettered on `stream` for `reason`.
    pub fn dead_lettered_for(&self, stream: Stream, reason: RejectReason) -> u64 {
        self.count(stream, |o| o == Outcome::DeadLettered(reason))
    }

    /// Records on `stream` with any outcome at all.
    pub fn accounted(&self, stream: Stream) -> u64 {
        self.count(stream, |_| true)
    }

    /// Dead letters over all streams.
    pub fn total_dead_lettered(&self) -> u64 {
        self.outcomes
            .iter()
            .filter(|((_, o), _)| matches!(o, Outcome::DeadLettered(_)))
            .map(|(_, n)| n)
            .sum()
    }

    /// Records received over all streams.
    pub fn total_received(&self) -> u64 {
        self.received.values().sum()
    }

    fn count(&self, stream: Stream, pred: impl Fn(Outcome) -> bool) -> u64 {
        self.outcomes
            .iter()
            .filter(|((s, o), _)| *s == stream && pred(*o))
            .map(|(_, n)| n)
            .sum()
    }
}

/// The store's state (internal).
#[doc(hidden)]
pub struct State {
    frontier: u64,
    census: Table<CensusRow>,
    adt_hourly: Table<AdtHourlyRow>,
    news2: Table<News2Row>,
    alerts: Table<AlertRow>,
    no_show: Table<NoShowRow>,
    revenue: Table<RevenueRow>,
    length_of_stay: Table<LengthOfStayRow>,
    ed_boarding: Table<BoardingRow>,
    stats: IngestStats,
    dead_letters: Vec<DeadLetter>,
    max_event_time: Option<Millis>,
    epochs: BTreeMap<u64, (Instant, u64)>,
    latencies: Latencies,
    /// Per change reader: epochs folded in since its last [`ViewStore::take_changes`]: when
    /// their first event was fed, and how many events (for event-to-sink freshness).
    folded: Vec<Vec<(Instant, u64)>>,
    /// Per epoch: producer timestamps (ms since the Unix epoch) of the Kafka messages fed,
    /// run-length encoded, until the views pass the epoch.
    produced: BTreeMap<u64, Vec<(i64, u64)>>,
    /// Produce-to-view latencies of Kafka messages.
    produce_latencies: Latencies,
    /// Produce-to-poll latencies of Kafka messages: until the engine's consumer read them.
    poll_latencies: Latencies,
}

/// A view row type the store holds.
pub trait Stored: ViewRow {
    #[doc(hidden)]
    fn table(state: &mut State) -> &mut Table<Self>
    where
        Self: Sized;
}

macro_rules! stored {
    ($row:ty, $field:ident) => {
        impl Stored for $row {
            fn table(state: &mut State) -> &mut Table<Self> {
                &mut state.$field
            }
        }
    };
}
stored!(CensusRow, census);
stored!(AdtHourlyRow, adt_hourly);
stored!(News2Row, news2);
stored!(AlertRow, alerts);
stored!(NoShowRow, no_show);
stored!(RevenueRow, revenue);
stored!(LengthOfStayRow, length_of_stay);
stored!(BoardingRow, ed_boarding);

/// Every view at one frontier, as Arrow tables.
#[derive(Clone, Debug)]
pub struct Snapshot {
    /// All updates at epochs before this are included, none after.
    pub frontier: u64,
    /// Greatest event time ingested so far.
    pub max_event_time: Option<Millis>,
    /// `(table name, batch)`: the views, then `ingest_stats` and `dead_letters`.
    pub tables: Vec<(&'static str, RecordBatch)>,
}

impl Snapshot {
    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&RecordBatch> {
        self.tables.iter().find(|(n, _)| *n == name).map(|(_, b)| b)
    }

    /// The same snapshot as one tenant may see it: every table with a `tenant_id` column
    /// keeps only that tenant's rows; the engine-wide tables without one (`ingest_stats`,
    /// `dead_letters`, whose raw bytes may hold any tenant's records) come back empty, with
    /// their schema.
    ///
    /// # Errors
    /// Arrow errors of the filter (none for well-formed batches).
    pub fn for_tenant(&self, tenant_id: &str) -> Result<Snapshot, ArrowError> {
        let wanted = arrow::array::Scalar::new(StringArray::from(vec![tenant_id]));
        let tables = self
            .tables
            .iter()
            .map(|(name, batch)| {
                let kept = match batch.column_by_name("tenant_id") {
                    Some(column) => {
                        let mask = arrow::compute::kernels::cmp::eq(column, &wanted)?;
                        arrow::compute::filter_record_batch(batch, &mask)?
                    }
                    None => RecordBatch::new_empty(batch.schema()),
                };
                Ok((*name, kept))
            })
            .collect::<Result<_, ArrowError>>()?;
        Ok(Snapshot {
            frontier: self.frontier,
            max_event_time: self.max_event_time,
            tables,
        })
    }
}

/// A reader of the store's change log, from [`ViewStore::track_changes`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeReader(usize);

/// One view's net changes (or whole contents): rows and their multiplicity changes.
#[derive(Clone, Debug)]
pub struct ViewDelta {
    /// The view's table name.
    pub name: &'static str,
    /// The changed rows in the view's Arrow schema, sorted, each once.
    pub rows: RecordBatch,
    /// Per row, the change in its multiplicity (never 0): +1 inserted, -1 retracted.
    pub diffs: Vec<i64>,
}

/// What [`ViewStore::take_changes`] returns: every view's changes up to one frontier.
#[derive(Clone, Debug)]
pub struct ChangeSet {
    /// The changes include every update at epochs before this.
    pub frontier: u64,
    /// Whether `views` hold whole contents rather than changes.
    pub full: bool,
    /// One entry per view, in [`TABLES`] order.
    pub views: Vec<ViewDelta>,
    /// Epochs whose updates these changes complete: when their first event was fed and how
    /// many events they held (the sink measures freshness from these).
    pub folded: Vec<(Instant, u64)>,
}

/// Event-to-view latency, from the moment an epoch's first event was fed until the
/// frontier passed that epoch, weighted by events.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Freshness {
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Events measured.
    pub events: u64,
}

/// A latency distribution in bounded memory: an HDR histogram of µs (1 µs to 1 h, three
/// significant digits, so quantiles are within 0.1%), however long the engine runs.
/// Latencies over an hour count as an hour.
#[derive(Clone, Debug)]
pub struct Latencies(hdrhistogram::Histogram<u64>);

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    const MAX_US: u64 = 3_600_000_000;

    /// Empty.
    pub fn new() -> Self {
        // 1..=MAX_US with 3 significant digits are valid bounds: construction cannot fail.
        Latencies(
            hdrhistogram::Histogram::new_with_bounds(1, Self::MAX_US, 3)
                .unwrap_or_else(|_| unreachable!("valid histogram bounds")),
        )
    }

    /// Records `events` events that each took `latency`.
    pub fn record(&mut self, latency: Duration, events: u64) {
        let us = (latency.as_micros() as u64).clamp(1, Self::MAX_US);
        // In range by the clamp above.
        let _ = self.0.record_n(us, events);
    }

    /// p50/p99 and the number of events recorded.
    pub fn freshness(&self) -> Freshness {
        let at = |q: f64| Duration::from_micros(self.0.value_at_quantile(q));
        let events = self.0.len();
        if events == 0 {
            return Freshness::default();
        }
        Freshness {
            p50: at(0.5),
            p99: at(0.99),
            events,
        }
    }
}

/// The shared store (one per process; all timely workers write to it).
pub struct ViewStore {
    state: Mutex<State>,
}

impl Default for ViewStore {
    fn default() -> Self {
        Self::new()
    }
}

impl ViewStore {
    /// An empty store at frontier 0.
    pub fn new() -> Self {
        ViewStore {
            state: Mutex::new(State {
                frontier: 0,
                census: Table::new(),
                adt_hourly: Table::new(),
                news2: Table::new(),
                alerts: Table::new(),
                no_show: Table::new(),
                revenue: Table::new(),
                length_of_stay: Table::new(),
                ed_boarding: Table::new(),
                stats: IngestStats::default(),
                dead_letters: Vec::new(),
                max_event_time: None,
                epochs: BTreeMap::new(),
                latencies: Latencies::new(),
                folded: Vec::new(),
                produced: BTreeMap::new(),
                produce_latencies: Latencies::new(),
                poll_latencies: Latencies::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A poisoned lock means a worker panicked mid-update; the data is still the best we have.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds view updates produced by a worker.
    pub fn push<R: Stored>(&self, updates: impl IntoIterator<Item = (R, u64, isize)>) {
        R::table(&mut self.lock()).pending.extend(updates);
    }

    /// Counts records received from a source.
    pub fn received(&self, stream: Stream, n: u64) {
        *self.lock().stats.received.entry(stream).or_insert(0) += n;
    }

    /// Records what ingest did with `n` events of `stream`, and the greatest event time seen.
    pub fn outcome(
        &self,
        stream: Stream,
        outcome: Outcome,
        n: u64,
        max_event_time: Option<Millis>,
    ) {
        let mut state = self.lock();
        *state.stats.outcomes.entry((stream, outcome)).or_insert(0) += n;
        if let Some(t) = max_event_time {
            state.max_event_time = Some(state.max_event_time.map_or(t, |m| m.max(t)));
        }
    }

    /// Records a dead letter (and counts it as an outcome).
    pub fn dead_letter(&self, letter: DeadLetter) {
        let mut state = self.lock();
        *state
            .stats
            .outcomes
            .entry((letter.stream, Outcome::DeadLettered(letter.reject.reason)))
            .or_insert(0) += 1;
        state.dead_letters.push(letter);
    }

    /// Notes that `events` were fed at `epoch` (for freshness).
    pub fn fed(&self, epoch: u64, events: u64) {
        let mut state = self.lock();
        let entry = state.epochs.entry(epoch).or_insert((Instant::now(), 0));
        entry.1 += events;
    }

    /// Notes the producer timestamps (ms since the Unix epoch) of Kafka messages fed at
    /// `epoch`, for [`produce_to_view`](Self::produce_to_view).
    pub fn produced(&self, epoch: u64, timestamps_ms: &[i64]) {
        if timestamps_ms.is_empty() {
            return;
        }
        let now_ms = wardstream_schemas::time::now();
        let state = &mut *self.lock();
        let runs = state.produced.entry(epoch).or_default();
        for &t in timestamps_ms {
            let waited = Duration::from_millis((now_ms - t).max(0) as u64);
            state.poll_latencies.record(waited, 1);
            match runs.last_mut() {
                Some((last, n)) if *last == t => *n += 1,
                _ => runs.push((t, 1)),
            }
        }
    }

    /// Folds every update before `frontier` into the views. Call only with a frontier the
    /// dataflow's probe has passed.
    pub fn advance(&self, frontier: u64) {
        let mut state = self.lock();
        if frontier <= state.frontier {
            return;
        }
        state.frontier = frontier;
        state.census.advance(frontier);
        state.adt_hourly.advance(frontier);
        state.news2.advance(frontier);
        state.alerts.advance(frontier);
        state.no_show.advance(frontier);
        state.revenue.advance(frontier);
        state.length_of_stay.advance(frontier);
        state.ed_boarding.advance(frontier);
        let now = Instant::now();
        let done: Vec<u64> = state.epochs.range(..frontier).map(|(e, _)| *e).collect();
        for e in done {
            if let Some((at, n)) = state.epochs.remove(&e)
                && n > 0
            {
                state.latencies.record(now - at, n);
                for folded in &mut state.folded {
                    folded.push((at, n));
                }
            }
        }
        if !state.produced.is_empty() {
            let now_ms = wardstream_schemas::time::now();
            let done: Vec<u64> = state.produced.range(..frontier).map(|(e, _)| *e).collect();
            for e in done {
                for (t, n) in state.produced.remove(&e).unwrap_or_default() {
                    let ms = (now_ms - t).max(0) as u64;
                    state.produce_latencies.record(Duration::from_millis(ms), n);
                }
            }
        }
    }

    /// Starts a log of net view changes for a new reader, read with
    /// [`take_changes`](Self::take_changes); each reader (the ClickHouse mirror, the dashboard's
    /// event hub) has its own, from this call on. Without readers the store keeps no change log.
    pub fn track_changes(&self) -> ChangeReader {
        let mut state = self.lock();
        let reader = ChangeReader(state.folded.len());
        state.census.changes.push(HashMap::new());
        state.adt_hourly.changes.push(HashMap::new());
        state.news2.changes.push(HashMap::new());
        state.alerts.changes.push(HashMap::new());
        state.no_show.changes.push(HashMap::new());
        state.revenue.changes.push(HashMap::new());
        state.length_of_stay.changes.push(HashMap::new());
        state.ed_boarding.changes.push(HashMap::new());
        state.folded.push(Vec::new());
        reader
    }

    /// Every view's net changes since `reader`'s last call, at the current frontier, under one
    /// lock; with `full`, every view's whole contents instead (to reconcile a sink whose state
    /// is unknown). Either way the reader's change log restarts empty, so its successive calls
    /// partition the history: applying each result in order to a sink (full ones replacing
    /// what it held) leaves it equal to the views. Rows with a net change of 0 are left out.
    ///
    /// Errors: an Arrow error building a batch (a bug, not input).
    pub fn take_changes(&self, reader: ChangeReader, full: bool) -> Result<ChangeSet, ArrowError> {
        let mut state = self.lock();
        let views = vec![
            state.census.delta(reader, full)?,
            state.adt_hourly.delta(reader, full)?,
            state.news2.delta(reader, full)?,
            state.alerts.delta(reader, full)?,
            state.no_show.delta(reader, full)?,
            state.revenue.delta(reader, full)?,
            state.length_of_stay.delta(reader, full)?,
            state.ed_boarding.delta(reader, full)?,
        ];
        let folded = state
            .folded
            .get_mut(reader.0)
            .map(std::mem::take)
            .unwrap_or_default();
        Ok(ChangeSet {
            frontier: state.frontier,
            full,
            views,
            folded,
        })
    }

    /// View rows waiting in `reader`'s change log.
    pub fn pending_changes(&self, reader: ChangeReader) -> usize {
        let state = self.lock();
        fn n<R>(t: &Table<R>, reader: ChangeReader) -> usize {
            t.changes.get(reader.0).map_or(0, HashMap::len)
        }
        n(&state.census, reader)
            + n(&state.adt_hourly, reader)
            + n(&state.news2, reader)
            + n(&state.alerts, reader)
            + n(&state.no_show, reader)
            + n(&state.revenue, reader)
            + n(&state.length_of_stay, reader)
            + n(&state.ed_boarding, reader)
    }

    /// The dead letters from index `from` on (in arrival order), and the total count.
    pub fn dead_letters_from(&self, from: usize) -> (Vec<DeadLetter>, usize) {
        let state = self.lock();
        let n = state.dead_letters.len();
        (state.dead_letters[from.min(n)..].to_vec(), n)
    }

    /// The frontier the views are at.
    pub fn frontier(&self) -> u64 {
        self.lock().frontier
    }

    /// Ingest counters.
    pub fn stats(&self) -> IngestStats {
        self.lock().stats.clone()
    }

    /// All dead letters so far.
    pub fn dead_letters(&self) -> Vec<DeadLetter> {
        self.lock().dead_letters.clone()
    }

    /// Epochs fed that the views have not caught up with yet (the view lag).
    pub fn pending_epochs(&self) -> usize {
        self.lock().epochs.len()
    }

    /// Greatest event time ingested.
    pub fn max_event_time(&self) -> Option<Millis> {
        self.lock().max_event_time
    }

    /// Event-to-view latency so far.
    pub fn freshness(&self) -> Freshness {
        self.lock().latencies.freshness()
    }

    /// Produce-to-view latency of Kafka messages: from the message's timestamp (its producer's
    /// clock, ms resolution) to the moment the views passed the epoch it was fed in. Empty
    /// without Kafka input.
    pub fn produce_to_view(&self) -> Freshness {
        self.lock().produce_latencies.freshness()
    }

    /// Produce-to-poll latency of Kafka messages: from the message's timestamp until the
    /// engine's consumer handed it over (the broker's and the client's share of
    /// [`produce_to_view`](Self::produce_to_view)).
    pub fn produce_to_poll(&self) -> Freshness {
        self.lock().poll_latencies.freshness()
    }

    /// The current rows of one view, sorted (for tests and tools).
    pub fn rows<R: Stored>(&self) -> Vec<R> {
        R::table(&mut self.lock()).rows()
    }

    /// The `census` and `adt_hourly` views and the greatest event time, under one lock: one
    /// consistent snapshot for the staffing forecast.
    pub fn census_snapshot(&self) -> (Vec<CensusRow>, Vec<AdtHourlyRow>, Option<Millis>) {
        let state = self.lock();
        let census = state.census.rows();
        let hourly = state.adt_hourly.rows();
        (census, hourly, state.max_event_time)
    }

    /// All views, counters and dead letters at the current frontier, under one lock.
    pub fn snapshot(&self) -> Result<Snapshot, ArrowError> {
        let state = self.lock();
        let tables = vec![
            (CensusRow::NAME, state.census.batch()?),
            (AdtHourlyRow::NAME, state.adt_hourly.batch()?),
            (News2Row::NAME, state.news2.batch()?),
            (AlertRow::NAME, state.alerts.batch()?),
            (NoShowRow::NAME, state.no_show.batch()?),
            (RevenueRow::NAME, state.revenue.batch()?),
            (LengthOfStayRow::NAME, state.length_of_stay.batch()?),
            (BoardingRow::NAME, state.ed_boarding.batch()?),
            ("ingest_stats", stats_batch(&state.stats)?),
            ("dead_letters", dead_letter_batch(&state.dead_letters)?),
        ];
        Ok(Snapshot {
            frontier: state.frontier,
            max_event_time: state.max_event_time,
            tables,
        })
    }
}

/// The names of every table a snapshot holds.
pub const TABLES: [&str; 10] = [
    "census",
    "adt_hourly",
    "news2",
    "alerts",
    "no_show",
    "revenue",
    "length_of_stay",
    "ed_boarding",
    "ingest_stats",
    "dead_letters",
];

fn stats_batch(stats: &IngestStats) -> Result<RecordBatch, ArrowError> {
    let mut stream = Vec::new();
    let mut outcome = Vec::new();
    let mut reason: Vec<Option<&'static str>> = Vec::new();
    let mut events = Vec::new();
    for (s, n) in &stats.received {
        stream.push(s.as_str());
        outcome.push("received");
        reason.push(None);
        events.push(*n as i64);
    }
    for ((s, o), n) in &stats.outcomes {
        stream.push(s.as_str());
        outcome.push(o.as_str());
        reason.push(match o {
            Outcome::DeadLettered(r) => Some(r.code()),
            _ => None,
        });
        events.push(*n as i64);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("stream", DataType::Utf8, false),
        Field::new("outcome", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, true),
        Field::new("events", DataType::Int64, false),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from(stream)),
        Arc::new(StringArray::from(outcome)),
        Arc::new(StringArray::from(reason)),
        Arc::new(Int64Array::from(events)),
    ];
    RecordBatch::try_new(schema, cols)
}

fn dead_letter_batch(letters: &[DeadLetter]) -> Result<RecordBatch, ArrowError> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("stream", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("detail", DataType::Utf8, false),
        Field::new("origin", DataType::Utf8, false),
        Field::new("order_time", ts_type(), false),
        Field::new("raw", DataType::Utf8, false),
    ]));
    let raw: Vec<String> = letters
        .iter()
        .map(|l| String::from_utf8_lossy(&l.raw).into_owned())
        .collect();
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.stream.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.reject.reason.code()),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.reject.detail.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            letters.iter().map(|l| l.origin.as_str()),
        )),
        Arc::new(
            TimestampMillisecondArray::from_iter_values(letters.iter().map(|l| l.order_time))
                .with_timezone("UTC"),
        ),
        Arc::new(StringArray::from_iter_values(
            raw.iter().map(String::as_str),
        )),
    ];
    RecordBatch::try_new(schema, cols)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The exact weighted quantile: the smallest latency with at least `q` of events at or
    /// below it.
    fn exact(mut samples: Vec<(u64, u64)>, q: f64) -> u64 {
        samples.sort();
        let total: u64 = samples.iter().map(|(_, n)| n).sum();
        let rank = ((q * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (us, n) in samples {
            seen += n;
            if seen >= rank {
                return us;
            }
        }
        0
    }

    proptest! {
        /// p50/p99 are within the histogram's 0.1% of the exact weighted quantiles.
        #[test]
        fn latencies_match_exact_quantiles(
            samples in prop::collection::vec((1u64..50_000_000, 1u64..20), 1..300)
        ) {
            let mut l = Latencies::new();
            for &(us, n) in &samples {
                l.record(Duration::from_micros(us), n);
            }
            let f = l.freshness();
            prop_assert_eq!(f.events, samples.iter().map(|(_, n)| n).sum::<u64>());
            for (got, q) in [(f.p50, 0.5), (f.p99, 0.99)] {
                let want = exact(samples.clone(), q) as f64;
                let got = got.as_micros() as f64;
                prop_assert!((got - want).abs() <= want * 0.001 + 1.0, "q {q}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn empty_latencies_are_zero() {
        assert_eq!(Latencies::new().freshness(), Freshness::default());
    }

    use arrow::array::Array;

    fn census(unit: u8, patients: i64) -> CensusRow {
        CensusRow {
            tenant_id: "t".into(),
            care_unit: format!("U{unit}"),
            patients,
            beds: None,
        }
    }

    /// A reader's copy of the census view, rebuilt from its takes.
    fn replay(copy: &mut HashMap<String, i64>, set: &ChangeSet) {
        if set.full {
            copy.clear();
        }
        let delta = &set.views[0];
        let units = delta
            .rows
            .column(1)
            .as_any()
            .downcast_ref::<arrow::array::StringArray>()
            .map(|a| {
                (0..a.len())
                    .map(|i| a.value(i).to_owned())
                    .collect::<Vec<_>>()
            })
            .unwrap_or_default();
        let patients = delta
            .rows
            .column(2)
            .as_any()
            .downcast_ref::<arrow::array::Int64Array>()
            .map(|a| a.values().to_vec())
            .unwrap_or_default();
        for ((u, p), d) in units.iter().zip(&patients).zip(&delta.diffs) {
            let key = format!("{u}={p}");
            *copy.entry(key.clone()).or_insert(0) += d;
            if copy[&key] == 0 {
                copy.remove(&key);
            }
        }
    }

    proptest! {
        /// Two readers of the change log, taking at different times (one starting late, with a
        /// full take), each rebuild exactly the view: the logs are independent.
        #[test]
        fn change_readers_each_rebuild_the_view(
            steps in prop::collection::vec((0u8..4, 0i64..5, 1u64..3), 1..40),
            every in 1usize..5,
            late in 0usize..10,
        ) {
            let store = ViewStore::new();
            let a = store.track_changes();
            let mut b = None;
            let (mut copy_a, mut copy_b) = (HashMap::new(), HashMap::new());
            let mut current: HashMap<u8, i64> = HashMap::new();
            let mut frontier = 0u64;
            for (i, &(unit, patients, gap)) in steps.iter().enumerate() {
                let mut updates = vec![(census(unit, patients), frontier, 1)];
                if let Some(old) = current.insert(unit, patients) {
                    updates.push((census(unit, old), frontier, -1));
                }
                store.push(updates);
                frontier += gap;
                store.advance(frontier);
                replay(&mut copy_a, &store.take_changes(a, false).unwrap_or_else(|e| panic!("{e}")));
                if i == late {
                    let reader = store.track_changes();
                    replay(&mut copy_b, &store.take_changes(reader, true).unwrap_or_else(|e| panic!("{e}")));
                    b = Some(reader);
                } else if let Some(reader) = b.filter(|_| i % every == 0) {
                    replay(&mut copy_b, &store.take_changes(reader, false).unwrap_or_else(|e| panic!("{e}")));
                }
            }
            if let Some(reader) = b {
                replay(&mut copy_b, &store.take_changes(reader, false).unwrap_or_else(|e| panic!("{e}")));
                prop_assert_eq!(store.pending_changes(reader), 0);
            }
            let view: HashMap<String, i64> = store
                .rows::<CensusRow>()
                .into_iter()
                .map(|r| (format!("{}={}", r.care_unit, r.patients), 1))
                .collect();
            prop_assert_eq!(&copy_a, &view);
            if b.is_some() {
                prop_assert_eq!(&copy_b, &view);
            }
        }
    }
}
