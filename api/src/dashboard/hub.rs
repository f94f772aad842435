//! The dashboard's change hub: one reader of the view store's change log that turns each batch
//! of net view changes into a [`Frame`], keeps the views' current rows and the recent frames,
//! and fans frames out to every open event stream.
//!
//! Frames chain: each one's `base` is the previous one's `frontier`, and together they hold
//! every change exactly once. A client that saw up to frontier `f` resumes with the frames
//! whose `base` is `f` onwards; one further back than the kept frames (or unknown) gets a
//! [`Frame`] snapshot of the current rows instead. A snapshot and the frames after it are
//! taken under one lock, so a client never misses nor repeats a change.
//!
//! Memory: the views' rows as JSON (the views are per-unit, per-patient and per-day
//! aggregates, small next to the events), plus at most [`KEEP_ROWS`] changed rows of recent
//! frames.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::{Map, Value};
use tokio::sync::broadcast;
use wardstream_pipelines::ViewStore;
use wardstream_pipelines::store::{ChangeReader, ViewDelta};

/// Changed rows kept in recent frames for resuming streams.
pub const KEEP_ROWS: usize = 200_000;
/// How often the hub reads the store's changes.
pub const POLL: Duration = Duration::from_millis(100);
/// Frames buffered per stream before a slow stream is cut (it reconnects and resumes).
pub const STREAM_BUFFER: usize = 256;
/// How often, at most, a frame with no rows tells streams that the frontier moved on.
pub const PROGRESS: Duration = Duration::from_secs(1);

/// One row change: the row as a JSON object (the view's columns; nulls left out) and the change
/// in its multiplicity (or, in a snapshot, the multiplicity).
pub type RowChange = (Arc<Map<String, Value>>, i64);

/// Net view changes from `base` (exclusive) to `frontier`, or, when `snapshot`, every row at
/// `frontier`.
#[derive(Debug)]
pub struct Frame {
    /// The frontier the previous frame reached (0 for a snapshot).
    pub base: u64,
    /// Every change at epochs before this is in (this and earlier) frames.
    pub frontier: u64,
    /// Whether `views` hold whole contents.
    pub snapshot: bool,
    /// Greatest event time in the views, ms since the Unix epoch (the data's "now": in a
    /// replay, far from the wall clock).
    pub as_of: Option<i64>,
    /// View name → its row changes.
    pub views: BTreeMap<&'static str, Vec<RowChange>>,
}

impl Frame {
    fn rows(&self) -> usize {
        self.views.values().map(Vec::len).sum()
    }
}

struct Inner {
    /// The frontier of the last frame.
    frontier: u64,
    /// Greatest event time at the last frame.
    as_of: Option<i64>,
    /// When the last frame was published.
    published: std::time::Instant,
    /// View → row (as JSON text) → (row, multiplicity).
    tables: BTreeMap<&'static str, HashMap<String, RowChange>>,
    /// Recent frames, oldest first.
    frames: VecDeque<Arc<Frame>>,
    rows_kept: usize,
}

/// The hub. Create it with [`Hub::start`].
pub struct Hub {
    store: Arc<ViewStore>,
    reader: ChangeReader,
    keep_rows: usize,
    progress: Duration,
    inner: Mutex<Inner>,
    sender: broadcast::Sender<Arc<Frame>>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("frontier", &self.lock().frontier)
            .finish_non_exhaustive()
    }
}

/// What a new stream starts with, and the frames after it.
pub struct Subscription {
    /// A snapshot or the frames to replay, in order.
    pub initial: Vec<Arc<Frame>>,
    /// Every frame published after `initial`.
    pub receiver: broadcast::Receiver<Arc<Frame>>,
}

impl Hub {
    /// A hub over `store` keeping at most `keep_rows` changed rows of recent frames and
    /// publishing a frame without rows at most every `progress` while the frontier moves; it
    /// reads the store's changes only when [`poll`](Self::poll)ed.
    pub fn new(store: Arc<ViewStore>, keep_rows: usize, progress: Duration) -> Hub {
        let (sender, _) = broadcast::channel(STREAM_BUFFER);
        let reader = store.track_changes();
        let hub = Hub {
            store,
            reader,
            keep_rows,
            progress,
            inner: Mutex::new(Inner {
                frontier: 0,
                as_of: None,
                published: std::time::Instant::now(),
                tables: BTreeMap::new(),
                frames: VecDeque::new(),
                rows_kept: 0,
            }),
            sender,
        };
        // The views so far, as the first state.
        hub.fold(true);
        hub
    }

    /// A hub over `store` ([`KEEP_ROWS`], [`PROGRESS`]) polled every [`POLL`] on the current
    /// tokio runtime, until it is dropped.
    pub fn start(store: Arc<ViewStore>) -> Arc<Hub> {
        let hub = Arc::new(Hub::new(store, KEEP_ROWS, PROGRESS));
        let weak = Arc::downgrade(&hub);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(POLL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(hub) = weak.upgrade() else {
                    return;
                };
                hub.poll();
            }
        });
        hub
    }

    /// Reads the store's changes and publishes them (see [`Frame`]).
    pub fn poll(&self) {
        self.fold(false);
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock leaves the last complete frame's state.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Takes the store's changes and, when any row changed (or, every `progress`, when the
    /// frontier moved on), publishes them as a frame. The hub's lock is held from the take to
    /// the publication, so frames go out in the order of the takes.
    fn fold(&self, full: bool) {
        let mut inner = self.lock();
        let changes = match self.store.take_changes(self.reader, full) {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "dashboard: reading view changes failed");
                return;
            }
        };
        let mut views = BTreeMap::new();
        for delta in &changes.views {
            match rows_of(delta) {
                Ok(rows) if !rows.is_empty() => {
                    views.insert(delta.name, rows);
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::error!(view = delta.name, error = %e, "dashboard: encoding rows failed")
                }
            }
        }
        if full {
            inner.tables.clear();
        }
        let progress =
            changes.frontier > inner.frontier && inner.published.elapsed() >= self.progress;
        if views.is_empty() && !full && !progress {
            return;
        }
        for (name, rows) in &views {
            let table = inner.tables.entry(name).or_default();
            for (row, diff) in rows {
                let key = serde_json::to_string(&**row).unwrap_or_default();
                let entry = table.entry(key.clone()).or_insert_with(|| (row.clone(), 0));
                entry.1 += diff;
                if entry.1 == 0 {
                    table.remove(&key);
                }
            }
        }
        inner.as_of = self.store.max_event_time();
        if full {
            // The first state: no frame, clients start from its snapshot.
            inner.frontier = changes.frontier;
            return;
        }
        let frame = Arc::new(Frame {
            base: inner.frontier,
            frontier: changes.frontier,
            snapshot: false,
            as_of: inner.as_of,
            views,
        });
        inner.frontier = changes.frontier;
        inner.published = std::time::Instant::now();
        inner.rows_kept += frame.rows();
        inner.frames.push_back(frame.clone());
        while inner.rows_kept > self.keep_rows && !inner.frames.is_empty() {
            if let Some(old) = inner.frames.pop_front() {
                inner.rows_kept -= old.rows();
            }
        }
        // No receiver is not an error: nobody is watching.
        let _ = self.sender.send(frame);
    }

    /// A stream's start: after frontier `after` (the last event id it saw) when the kept frames
    /// reach back to it, else a snapshot of the current rows.
    pub fn subscribe(&self, after: Option<u64>) -> Subscription {
        let inner = self.lock();
        let receiver = self.sender.subscribe();
        let replay = after.and_then(|f| {
            if f == inner.frontier {
                return Some(Vec::new());
            }
            let start = inner.frames.iter().position(|fr| fr.base == f)?;
            Some(inner.frames.iter().skip(start).cloned().collect())
        });
        let initial = replay.unwrap_or_else(|| {
            vec![Arc::new(Frame {
                base: 0,
                frontier: inner.frontier,
                snapshot: true,
                as_of: inner.as_of,
                views: inner
                    .tables
                    .iter()
                    .map(|(name, rows)| (*name, rows.values().cloned().collect()))
                    .collect(),
            })]
        });
        Subscription { initial, receiver }
    }

    /// The frontier of the last frame.
    pub fn frontier(&self) -> u64 {
        self.lock().frontier
    }
}

/// A delta's rows as JSON objects with their diffs.
fn rows_of(delta: &ViewDelta) -> Result<Vec<RowChange>, String> {
    if delta.diffs.is_empty() {
        return Ok(Vec::new());
    }
    let json = crate::encode_json(std::slice::from_ref(&delta.rows)).map_err(|e| e.to_string())?;
    let rows: Vec<Map<String, Value>> = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    if rows.len() != delta.diffs.len() {
        return Err(format!(
            "{} rows but {} diffs",
            rows.len(),
            delta.diffs.len()
        ));
    }
    Ok(rows
        .into_iter()
        .map(Arc::new)
        .zip(delta.diffs.iter().copied())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardstream_operators::census::CensusRow;

    fn census(unit: &str, patients: i64) -> CensusRow {
        CensusRow {
            tenant_id: "t".into(),
            care_unit: unit.into(),
            patients,
            beds: None,
        }
    }

    /// The hub's rows of the census view, as (unit, patients) with multiplicities applied.
    fn units(frames: &[Arc<Frame>], start: BTreeMap<String, i64>) -> BTreeMap<String, i64> {
        let mut rows = start;
        for f in frames {
            if f.snapshot {
                rows.clear();
            }
            for (row, diff) in f.views.get("census").into_iter().flatten() {
                let key = format!("{}={}", row["care_unit"], row["patients"]);
                *rows.entry(key.clone()).or_insert(0) += diff;
                if rows[&key] == 0 {
                    rows.remove(&key);
                }
            }
        }
        rows
    }

    #[test]
    fn frames_chain_resume_after_a_kept_one_and_fall_back_to_a_snapshot() {
        let store = Arc::new(ViewStore::new());
        store.push([(census("ICU", 1), 0, 1)]);
        store.advance(1);
        let hub = Hub::new(store.clone(), 3, Duration::from_secs(3600));
        // The first state is a snapshot at the store's frontier.
        let first = hub.subscribe(None);
        assert_eq!(first.initial.len(), 1);
        assert!(first.initial[0].snapshot);
        assert_eq!(first.initial[0].frontier, 1);
        let mut seen = units(&first.initial, BTreeMap::new());
        assert_eq!(seen, BTreeMap::from([("\"ICU\"=1".to_owned(), 1)]));

        // ICU 1 → 2 at epoch 1, a new unit at epoch 2: two frames, chained.
        store.push([(census("ICU", 1), 1, -1), (census("ICU", 2), 1, 1)]);
        store.advance(2);
        hub.poll();
        store.push([(census("CCU", 1), 2, 1)]);
        store.advance(3);
        hub.poll();
        let mut rx = first.receiver;
        let (a, b) = (
            rx.try_recv().unwrap_or_else(|e| panic!("{e}")),
            rx.try_recv().unwrap_or_else(|e| panic!("{e}")),
        );
        assert_eq!((a.base, a.frontier, b.base, b.frontier), (1, 2, 2, 3));
        seen = units(&[a, b], seen);
        let now = BTreeMap::from([("\"CCU\"=1".to_owned(), 1), ("\"ICU\"=2".to_owned(), 1)]);
        assert_eq!(seen, now);

        // Resuming after frontier 2 replays only the second frame; after 3, nothing.
        let resumed = hub.subscribe(Some(2));
        assert_eq!(resumed.initial.len(), 1);
        assert_eq!(resumed.initial[0].base, 2);
        assert!(hub.subscribe(Some(3)).initial.is_empty());

        // A frontier moving on with no changes publishes nothing (until `progress` has passed).
        store.advance(4);
        hub.poll();
        assert!(rx.try_recv().is_err());

        // Past what is kept (3 rows): a snapshot equal to the state.
        store.push([(census("CCU", 1), 4, -1), (census("CCU", 2), 4, 1)]);
        store.advance(5);
        hub.poll();
        let old = hub.subscribe(Some(1));
        assert!(old.initial[0].snapshot);
        assert_eq!(
            units(&old.initial, BTreeMap::new()),
            BTreeMap::from([("\"CCU\"=2".to_owned(), 1), ("\"ICU\"=2".to_owned(), 1)])
        );
        // An id never sent also starts from a snapshot.
        assert!(hub.subscribe(Some(12345)).initial[0].snapshot);
    }
}
