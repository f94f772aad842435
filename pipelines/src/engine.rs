//! The engine: timely workers that feed a source through ingest into every view and keep the
//! [`ViewStore`] at the dataflow's frontier.
//!
//! Each worker runs the same dataflow over its share of the input: sources give every version
//! of an `event_id` to the same worker ([`owner`]), so ingest needs no exchange. Epochs are wall-clock ticks of
//! [`EngineConfig::epoch_ms`]: every event fed during a tick gets that epoch, so progress
//! tracking sees few distinct times. Workers park (`step_or_park`) when they have nothing to
//! do, and stop feeding when the frontier falls more than [`EngineConfig::max_lag_epochs`]
//! behind (backpressure). Worker 0 advances the store whenever the probe's frontier moves.

use crate::clickhouse_sink::{ArchiveQueue, Archived};
use crate::live::LiveInput;
use crate::source::SourceRecord;
use crate::store::{DeadLetter, Stored, ViewStore};
use crate::view_arrow::AlertRow;
use crate::{Error, Result};
use differential_dataflow::VecCollection;
use differential_dataflow::input::Input;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use timely::dataflow::operators::Input as _;
use timely::dataflow::{InputHandleVec, ProbeHandle};
use wardstream_operators::ingest::{ingest, owner};
use wardstream_operators::{Capacity, IngestConfig, Outcome, build_views};
use wardstream_schemas::{Event, Millis, Reject, Stream};

/// Engine settings.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Timely worker threads in this process.
    pub workers: usize,
    /// Epoch length in ms (10–100 keeps progress tracking cheap).
    pub epoch_ms: u64,
    /// Dedup, corrections and lateness.
    pub ingest: IngestConfig,
    /// Replay speed: `Some(3600.0)` releases one hour of event time per second; `None` is as
    /// fast as possible.
    pub speed: Option<f64>,
    /// The event time that maps to the start of the run when pacing (usually the first
    /// record's time).
    pub pace_origin: Millis,
    /// Stop feeding while the views lag the input by more than this many epochs.
    pub max_lag_epochs: u64,
    /// Deterministic batching: start a new epoch after every this many records a worker
    /// feeds, instead of wall-clock ticks (tests and benchmarks).
    pub epoch_records: Option<u64>,
    /// Where every record fed also goes, numbered by worker share, for the raw archive
    /// (the ClickHouse mirror's queue). When it is full the workers stop feeding.
    pub archive: Option<Arc<ArchiveQueue>>,
    /// Events handed in while the engine runs (the API's outbox relay). With one, the run
    /// goes on after its source is exhausted until the input is closed and drained.
    pub live: Option<Arc<LiveInput>>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            workers: 1,
            epoch_ms: 50,
            ingest: IngestConfig::default(),
            speed: None,
            pace_origin: 0,
            max_lag_epochs: 20,
            epoch_records: None,
            archive: None,
            live: None,
        }
    }
}

/// Builds a worker's share of the input: `(worker index, workers) -> records`.
pub type SourceFactory =
    Arc<dyn Fn(usize, usize) -> Box<dyn Iterator<Item = SourceRecord>> + Send + Sync>;

/// A source over records already in memory. Worker `k` of `n` takes the events whose
/// `event_id` it owns ([`owner`]) and the rejected records at positions `i % n == k`; each
/// share stays in the records' order.
pub fn records_source(records: Arc<Vec<SourceRecord>>) -> SourceFactory {
    Arc::new(move |index, peers| {
        let records = records.clone();
        let peers = peers.max(1);
        Box::new((0..records.len()).filter_map(move |i| {
            let mine = match &records[i] {
                SourceRecord::Event(e) => owner(e.event_id(), peers) == index,
                SourceRecord::Rejected(_) => i % peers == index,
            };
            mine.then(|| records[i].clone())
        }))
    })
}

/// What a run did.
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    /// Records fed by all workers.
    pub records: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Whether the run ended because the source ran out (rather than a stop request).
    pub completed: bool,
}

#[derive(Default)]
struct LocalStats {
    outcomes: BTreeMap<(Stream, Outcome), u64>,
    max_time: Option<Millis>,
    late: Vec<DeadLetter>,
}

impl LocalStats {
    fn flush(&mut self, store: &ViewStore) {
        for ((stream, outcome), n) in std::mem::take(&mut self.outcomes) {
            store.outcome(stream, outcome, n, self.max_time);
        }
        for letter in self.late.drain(..) {
            store.dead_letter(letter);
        }
    }
}

fn sink<'s, R: Stored>(
    rows: VecCollection<'s, u64, R>,
    store: &Arc<ViewStore>,
    probe: &ProbeHandle<u64>,
) {
    let store = store.clone();
    rows.inspect_batch(move |_t, updates| store.push(updates.iter().cloned()))
        .probe_with(probe);
}

/// Folds into the store everything before the probe's frontier (leader only).
fn advance_store(store: &ViewStore, probe: &ProbeHandle<u64>) {
    if let Some(f) = probe.with_frontier(|f| f.first().copied()) {
        store.advance(f);
    }
}

/// Runs the views over `source` until it is exhausted or `stop` is set, keeping `store` current.
/// Blocks; run it on its own thread to serve queries meanwhile.
pub fn run(
    config: &EngineConfig,
    source: SourceFactory,
    capacities: Vec<Capacity>,
    store: Arc<ViewStore>,
    stop: Arc<AtomicBool>,
) -> Result<RunSummary> {
    let config = config.clone();
    let started = Instant::now();
    let guards = timely::execute(
        timely::Config::process(config.workers.max(1)),
        move |worker| {
            let index = worker.index();
            let peers = worker.peers();
            let mut input = InputHandleVec::<u64, Event>::new();
            let probe = ProbeHandle::new();
            let local = Rc::new(RefCell::new(LocalStats::default()));
            let observed = local.clone();
            let mut capacity_in = worker.dataflow::<u64, _, _>(|scope| {
                let stream = scope.input_from(&mut input);
                let (capacity_in, capacity) = scope.new_collection::<Capacity, isize>();
                let events = ingest(stream, config.ingest, move |e: &Event, outcome| {
                    let mut s = observed.borrow_mut();
                    let t = e.event_time();
                    s.max_time = Some(s.max_time.map_or(t, |m| m.max(t)));
                    match outcome {
                        Outcome::DeadLettered(reason) => s.late.push(DeadLetter {
                            stream: e.stream(),
                            reject: Reject::new(
                                reason,
                                "event time behind the watermark by more than the allowed lateness",
                            ),
                            origin: crate::clickhouse_sink::INGEST_ORIGIN.into(),
                            raw: e.to_json().into_bytes(),
                            order_time: t,
                        }),
                        other => *s.outcomes.entry((e.stream(), other)).or_insert(0) += 1,
                    }
                });
                let views = build_views(events, capacity);
                sink(views.census, &store, &probe);
                sink(views.adt_hourly, &store, &probe);
                sink(views.news2, &store, &probe);
                sink(views.alerts.map(AlertRow), &store, &probe);
                sink(views.no_show, &store, &probe);
                sink(views.revenue, &store, &probe);
                sink(views.length_of_stay, &store, &probe);
                capacity_in
            });

            let mut epoch = 1u64;
            input.advance_to(epoch);
            capacity_in.advance_to(epoch);
            if index == 0 {
                for c in &capacities {
                    capacity_in.insert(c.clone());
                }
            }
            capacity_in.flush();
            drop(capacity_in);

            if let Some(archive) = &config.archive {
                archive.set_shares(peers);
            }
            if let Some(live) = &config.live
                && index == 0
            {
                live.set_shares(peers);
            }
            let mut records = source(index, peers).peekable();
            let mut seq = 0u64;
            let mut archived: Vec<Archived> = Vec::new();
            let mut received: BTreeMap<Stream, u64> = BTreeMap::new();
            let mut fed_total = 0u64;
            let mut completed = false;
            const CHUNK: usize = 1024;
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let now = Instant::now();
                let tick = match config.epoch_records {
                    Some(n) => 1 + fed_total / n.max(1),
                    None => {
                        1 + now.duration_since(started).as_millis() as u64 / config.epoch_ms.max(1)
                    }
                };
                if tick > epoch {
                    epoch = tick;
                    input.advance_to(epoch);
                }
                let lagging = probe.less_than(&epoch.saturating_sub(config.max_lag_epochs))
                    || config.archive.as_ref().is_some_and(|a| a.is_full());
                let mut fed = 0u64;
                let mut wait = None;
                let chunk = match config.epoch_records {
                    Some(n) => {
                        let n = n.max(1);
                        (n - fed_total % n) as usize
                    }
                    None => CHUNK,
                };
                while !lagging && (fed as usize) < chunk {
                    let Some(next) = records.peek() else { break };
                    if let Some(speed) = config.speed {
                        let offset_ms =
                            (next.order_time() - config.pace_origin).max(0) as f64 / speed;
                        let release = started + Duration::from_secs_f64(offset_ms / 1000.0);
                        if release > now {
                            wait = Some(release - now);
                            break;
                        }
                    }
                    let Some(record) = records.next() else { break };
                    *received.entry(record.stream()).or_insert(0) += 1;
                    seq += 1;
                    if config.archive.is_some() {
                        archived.push(Archived {
                            share: index as u16,
                            seq,
                            record: record.clone(),
                        });
                    }
                    match record {
                        SourceRecord::Event(e) => input.send(e),
                        SourceRecord::Rejected(r) => store.dead_letter(DeadLetter {
                            stream: r.stream,
                            reject: r.reject,
                            origin: r.origin,
                            raw: r.raw,
                            order_time: r.order_time,
                        }),
                    }
                    fed += 1;
                }
                if let Some(live) = &config.live
                    && !lagging
                {
                    // Not numbered into the raw archive: its positions are those of the
                    // replayable source, which a restarted run feeds again from the start.
                    for e in live.take(index, CHUNK) {
                        *received.entry(e.stream()).or_insert(0) += 1;
                        input.send(e);
                        fed += 1;
                    }
                }
                if let Some(archive) = &config.archive
                    && !archived.is_empty()
                {
                    archive.push(archived.drain(..));
                }
                let exhausted = records.peek().is_none()
                    && config
                        .live
                        .as_ref()
                        .is_none_or(|l| l.is_closed() && l.pending(index) == 0);
                if fed > 0 {
                    fed_total += fed;
                    store.fed(epoch, fed);
                    input.flush();
                    worker.step();
                } else if !exhausted {
                    let park = wait
                        .unwrap_or(Duration::from_millis(config.epoch_ms))
                        .min(Duration::from_millis(config.epoch_ms));
                    worker.step_or_park(Some(park));
                }
                for (s, n) in std::mem::take(&mut received) {
                    store.received(s, n);
                }
                local.borrow_mut().flush(&store);
                if index == 0 {
                    advance_store(&store, &probe);
                }
                if exhausted {
                    completed = true;
                    break;
                }
            }
            drop(input);
            while !probe.done() {
                worker.step_or_park(Some(Duration::from_millis(config.epoch_ms)));
                local.borrow_mut().flush(&store);
                if index == 0 {
                    advance_store(&store, &probe);
                }
            }
            local.borrow_mut().flush(&store);
            if index == 0 && probe.done() {
                store.advance(u64::MAX);
            }
            (fed_total, completed)
        },
    )
    .map_err(Error::Dataflow)?;
    let mut records = 0;
    let mut completed = true;
    for r in guards.join() {
        let (n, c) = r.map_err(Error::Dataflow)?;
        records += n;
        completed &= c;
    }
    Ok(RunSummary {
        records,
        elapsed: started.elapsed(),
        completed,
    })
}
