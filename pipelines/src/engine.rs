//! The engine: timely workers that feed a source through ingest into every view and keep the
//! [`ViewStore`] at the dataflow's frontier.
//!
//! Each worker runs the same dataflow over its share of the input: sources give every version
//! of an `event_id` to the same worker ([`owner`]), so ingest needs no exchange. Epochs are
//! wall-clock ms since the Unix epoch, advanced in ticks of [`EngineConfig::epoch_ms`]: every
//! event fed during a tick gets that epoch, so progress tracking sees few distinct times. A
//! live Kafka source that has handed over everything fetched closes its epoch at once (at the
//! clock's ms), so at low rates an event reaches the views without waiting for the tick.
//! Workers park (`step_or_park`) when they have nothing to do, and stop feeding when the
//! frontier falls more than [`EngineConfig::max_lag_epochs`] ticks behind (backpressure).
//! Worker 0 advances the store whenever the probe's frontier moves.

use crate::clickhouse_sink::{ArchiveQueue, Archived};
use crate::kafka::checkpoint::{self, WorkerCheckpoint};
use crate::kafka::{KafkaConfig, KafkaSource, Positions};
use crate::live::LiveInput;
use crate::source::SourceRecord;
use crate::store::{DeadLetter, Stored, ViewStore};
use crate::{Error, Result};
use differential_dataflow::input::Input;
use differential_dataflow::{AsCollection, ExchangeData, VecCollection};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use timely::dataflow::operators::Exchange as _;
use timely::dataflow::operators::Input as _;
use timely::dataflow::{InputHandleVec, ProbeHandle};
use wardstream_operators::ingest::{IngestState, ingest, owner};
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
    /// Kafka input topics, read next to the source (usually an empty one): each worker
    /// consumes the partitions it owns, dead-letters to the dead-letter topic and, with a
    /// checkpoint folder, checkpoints and resumes (see [`crate::kafka`]).
    pub kafka: Option<Arc<KafkaConfig>>,
    /// Timely cluster mode: this process's place among several (each with `workers`
    /// threads). Worker indices, and so Kafka partition ownership, are global; every view's
    /// updates are gathered to worker 0, so process 0's store holds the whole views, while
    /// each process's store counts what its own workers read.
    pub cluster: Option<Cluster>,
}

/// One process of a timely cluster (timely's `-n`, `-p` and `-h`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    /// Processes in all.
    pub processes: usize,
    /// This process's index, `0..processes`.
    pub process: usize,
    /// `host:port` of every process, in process order (timely's hostfile lines).
    pub addresses: Vec<String>,
}

impl Cluster {
    /// Reads timely's hostfile: one `host:port` per line, the first `processes` lines.
    ///
    /// Errors: unreadable file, or fewer lines than processes ([`Error::Io`]).
    pub fn from_hostfile(
        processes: usize,
        process: usize,
        hostfile: &std::path::Path,
    ) -> Result<Self> {
        let text = std::fs::read_to_string(hostfile).map_err(|e| Error::io(hostfile, e))?;
        let addresses: Vec<String> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .take(processes)
            .map(str::to_owned)
            .collect();
        if addresses.len() < processes || process >= processes {
            return Err(Error::io(
                hostfile,
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!(
                        "{} addresses for {processes} processes (this is process {process})",
                        addresses.len()
                    ),
                ),
            ));
        }
        Ok(Cluster {
            processes,
            process,
            addresses,
        })
    }

    /// `localhost:2101`, `localhost:2102`, … (timely's default without a hostfile).
    pub fn local(processes: usize, process: usize) -> Self {
        Cluster {
            processes,
            process,
            addresses: (0..processes)
                .map(|i| format!("localhost:{}", 2101 + i))
                .collect(),
        }
    }
}

fn timely_config(config: &EngineConfig) -> timely::Config {
    let threads = config.workers.max(1);
    match &config.cluster {
        Some(c) if c.processes > 1 => timely::Config {
            communication: timely::CommunicationConfig::Cluster {
                threads,
                process: c.process,
                addresses: c.addresses.clone(),
                report: false,
                zerocopy: false,
            },
            worker: timely::WorkerConfig::default(),
        },
        _ => timely::Config::process(threads),
    }
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
            kafka: None,
            cluster: None,
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
    fn flush(&mut self, store: &ViewStore, kafka: Option<&KafkaSource>) {
        for ((stream, outcome), n) in std::mem::take(&mut self.outcomes) {
            store.outcome(stream, outcome, n, self.max_time);
        }
        for letter in self.late.drain(..) {
            if let Some(k) = kafka {
                k.dead_letter(&letter);
            }
            store.dead_letter(letter);
        }
    }
}

/// A worker's Kafka side: its consumer, and the checkpoints written but not yet reflected in
/// the views (their offsets are committed for monitoring once they are).
struct KafkaWorker {
    source: KafkaSource,
    config: Arc<KafkaConfig>,
    last_checkpoint: Instant,
    uncommitted: Vec<(u64, Positions)>,
    buffer: Vec<SourceRecord>,
}

impl KafkaWorker {
    /// Writes the checkpoint if the ingest state matches what was fed (`sent` events).
    fn checkpoint(
        &mut self,
        index: usize,
        peers: usize,
        epoch: u64,
        state: &IngestState,
        sent: u64,
    ) -> Result<bool> {
        let Some(dir) = &self.config.checkpoint_dir else {
            return Ok(false);
        };
        if state.processed() != sent {
            return Ok(false);
        }
        let Some(ingest) = state.snapshot() else {
            return Ok(false);
        };
        let started = Instant::now();
        let positions = self.source.positions();
        checkpoint::write(
            dir,
            &WorkerCheckpoint {
                format: 1,
                worker: index,
                workers: peers,
                topics: self.config.topics.clone(),
                positions: positions.clone(),
                watermarks: self.source.watermark_state(),
                ingest,
            },
        )?;
        tracing::debug!(worker = index, elapsed = ?started.elapsed(), "checkpoint written");
        self.last_checkpoint = Instant::now();
        self.uncommitted.push((epoch, positions));
        Ok(true)
    }

    /// Commits the offsets of checkpoints whose epoch the views have passed.
    fn commit_reflected(&mut self, probe: &ProbeHandle<u64>) {
        let mut newest = None;
        self.uncommitted.retain(|(epoch, positions)| {
            if probe.less_equal(epoch) {
                true
            } else {
                newest = Some(positions.clone());
                false
            }
        });
        if let Some(p) = newest {
            self.source.commit(&p);
        }
    }
}

fn sink<'s, R: Stored + ExchangeData>(
    rows: VecCollection<'s, u64, R>,
    store: &Arc<ViewStore>,
    probe: &ProbeHandle<u64>,
    gather: bool,
) {
    let store = store.clone();
    // In a cluster, every update goes to worker 0 so that process 0 holds the whole view.
    let rows = if gather {
        rows.inner
            .exchange(|_: &(R, u64, isize)| 0u64)
            .as_collection()
    } else {
        rows
    };
    rows.inspect_batch(move |_t, updates| store.push(updates.iter().cloned()))
        .probe_with(probe);
}

/// Hands one record to ingest, or a rejected one to the dead-letter outputs.
fn feed(
    record: SourceRecord,
    input: &mut InputHandleVec<u64, Event>,
    store: &ViewStore,
    kafka: Option<&KafkaSource>,
    sent: &mut u64,
) {
    match record {
        SourceRecord::Event(e) => {
            input.send(e);
            *sent += 1;
        }
        SourceRecord::Rejected(r) => {
            let letter = DeadLetter {
                stream: r.stream,
                reject: r.reject,
                origin: r.origin,
                raw: r.raw,
                order_time: r.order_time,
            };
            if let Some(k) = kafka {
                k.dead_letter(&letter);
            }
            store.dead_letter(letter);
        }
    }
}

/// Folds into the store everything before the probe's frontier (leader only).
fn advance_store(store: &ViewStore, probe: &ProbeHandle<u64>) {
    if let Some(f) = probe.with_frontier(|f| f.first().copied()) {
        store.advance(f);
    }
}

/// A worker reading Kafka with nothing to feed moves its epoch to the clock at most this
/// often, ms, and parks at most this long: how far it may hold back the views' frontier for
/// the other workers while its partitions are quiet. Each move costs a frontier change
/// through the whole dataflow (about 0.4 ms of CPU): at 5 ms an idle two-worker engine
/// used 18% of a core.
const KAFKA_IDLE_ADVANCE_MS: u64 = 10;

/// Wall-clock epochs: ms since the Unix epoch, read from one `SystemTime` at the start and
/// advanced by a monotonic `Instant`, so every worker of a process, and processes with synced
/// clocks, number epochs alike.
#[derive(Clone, Copy)]
struct EpochClock {
    base_ms: u64,
    started: Instant,
    epoch_ms: u64,
}

impl EpochClock {
    fn new(epoch_ms: u64) -> Self {
        EpochClock {
            base_ms: wardstream_schemas::time::now().max(0) as u64,
            started: Instant::now(),
            epoch_ms: epoch_ms.max(1),
        }
    }

    /// Ms since the Unix epoch at `now`.
    fn ms(&self, now: Instant) -> u64 {
        self.base_ms + now.saturating_duration_since(self.started).as_millis() as u64
    }

    /// The start of the tick `now` falls in.
    fn tick(&self, now: Instant) -> u64 {
        let ms = self.ms(now);
        ms - ms % self.epoch_ms
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
    let clock = EpochClock::new(config.epoch_ms);
    let gather = config.cluster.as_ref().is_some_and(|c| c.processes > 1);
    // Refuse checkpoints of another worker count before any worker starts.
    if let Some(k) = &config.kafka
        && let Some(dir) = &k.checkpoint_dir
    {
        let threads = config.workers.max(1);
        let (first, total) = match &config.cluster {
            Some(c) if c.processes > 1 => (c.process * threads, c.processes * threads),
            _ => (0, threads),
        };
        for i in first..first + threads {
            checkpoint::read(dir, i, total, &k.topics)?;
        }
    }
    let guards = timely::execute(
        timely_config(&config),
        move |worker| {
            // A worker that fails stops the others (they would wait for its progress).
            let result = (|| -> std::result::Result<(u64, bool), String> {
            let index = worker.index();
            let peers = worker.peers();
            let mut input = InputHandleVec::<u64, Event>::new();
            let probe = ProbeHandle::new();
            let local = Rc::new(RefCell::new(LocalStats::default()));
            let observed = local.clone();
            // Kafka: open the consumer on this worker's partitions, from its checkpoint.
            let mut restored = None;
            let mut kafka = match &config.kafka {
                None => None,
                Some(k) => {
                    let resume = match &k.checkpoint_dir {
                        Some(dir) => checkpoint::read(dir, index, peers, &k.topics)
                            .map_err(|e| e.to_string())?,
                        None => None,
                    };
                    let thread = std::thread::current();
                    let source = KafkaSource::open(
                        k.clone(),
                        index,
                        peers,
                        config.ingest,
                        resume.as_ref().map(|c| (&c.positions, &c.watermarks)),
                        move || thread.unpark(),
                    )
                    .map_err(|e| e.to_string())?;
                    restored = resume.map(|c| c.ingest);
                    Some(KafkaWorker {
                        source,
                        config: k.clone(),
                        last_checkpoint: Instant::now(),
                        uncommitted: Vec::new(),
                        buffer: Vec::new(),
                    })
                }
            };
            let checkpointing = config
                .kafka
                .as_ref()
                .is_some_and(|k| k.checkpoint_dir.is_some());
            let restore_events: Vec<Event> = restored
                .as_ref()
                .map(|s| s.applied().cloned().collect())
                .unwrap_or_default();
            let state = Rc::new(RefCell::new(match restored {
                Some(snapshot) => IngestState::restore(config.ingest, snapshot),
                None if checkpointing => IngestState::checkpointed(config.ingest),
                None => IngestState::new(config.ingest),
            }));
            let ingest_state = state.clone();
            let (mut capacity_in, mut restore_in) = worker.dataflow::<u64, _, _>(|scope| {
                let stream = scope.input_from(&mut input);
                let (capacity_in, capacity) = scope.new_collection::<Capacity, isize>();
                let (restore_in, restored) = scope.new_collection::<Event, isize>();
                let events = ingest(stream, ingest_state, move |e: &Event, outcome| {
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
                let views = build_views(events.concat(restored), capacity);
                let g = gather;
                sink(views.census, &store, &probe, g);
                sink(views.adt_hourly, &store, &probe, g);
                sink(views.news2, &store, &probe, g);
                sink(views.alerts, &store, &probe, g);
                sink(views.no_show, &store, &probe, g);
                sink(views.revenue, &store, &probe, g);
                sink(views.length_of_stay, &store, &probe, g);
                sink(views.ed_boarding, &store, &probe, g);
                (capacity_in, restore_in)
            });

            let mut epoch = match config.epoch_records {
                Some(_) => 1u64,
                None => clock.tick(Instant::now()),
            };
            // Backpressure's allowance in epoch units.
            let max_lag = match config.epoch_records {
                Some(_) => config.max_lag_epochs,
                None => config.max_lag_epochs * clock.epoch_ms,
            };
            input.advance_to(epoch);
            capacity_in.advance_to(epoch);
            restore_in.advance_to(epoch);
            if index == 0 {
                for c in &capacities {
                    capacity_in.insert(c.clone());
                }
            }
            capacity_in.flush();
            drop(capacity_in);
            if !restore_events.is_empty() {
                tracing::info!(
                    worker = index,
                    events = restore_events.len(),
                    "views restored from the checkpoint"
                );
            }
            for e in restore_events {
                restore_in.insert(e);
            }
            restore_in.flush();
            drop(restore_in);

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
            // Events sent into ingest (not rejected records): what its state must have
            // processed for a checkpoint to match the offsets read.
            let mut sent = 0u64;
            let mut completed = false;
            const CHUNK: usize = 1024;
            loop {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let now = Instant::now();
                let tick = match config.epoch_records {
                    Some(n) => 1 + fed_total / n.max(1),
                    None => clock.tick(now),
                };
                if tick > epoch {
                    epoch = tick;
                    input.advance_to(epoch);
                }
                let lagging = probe.less_than(&epoch.saturating_sub(max_lag))
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
                    feed(record, &mut input, &store, None, &mut sent);
                    fed += 1;
                }
                if let Some(k) = kafka.as_mut()
                    && !lagging
                    && (fed as usize) < chunk
                {
                    // Ingest evicts by the watermarks judged so far: never ahead of those the
                    // events polled now are judged by.
                    state.borrow_mut().set_watermarks(k.source.watermarks());
                    let mut buffer = std::mem::take(&mut k.buffer);
                    k.source
                        .poll(chunk - fed as usize, &mut buffer)
                        .map_err(|e| e.to_string())?;
                    for record in buffer.drain(..) {
                        *received.entry(record.stream()).or_insert(0) += 1;
                        feed(record, &mut input, &store, Some(&k.source), &mut sent);
                        fed += 1;
                    }
                    k.buffer = buffer;
                    store.produced(epoch, &k.source.take_created());
                }
                if let Some(live) = &config.live
                    && !lagging
                {
                    // Not numbered into the raw archive: its positions are those of the
                    // replayable source, which a restarted run feeds again from the start.
                    for e in live.take(index, CHUNK) {
                        *received.entry(e.stream()).or_insert(0) += 1;
                        input.send(e);
                        sent += 1;
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
                        .is_none_or(|l| l.is_closed() && l.pending(index) == 0)
                    && kafka.as_ref().is_none_or(|k| k.source.finished());
                if fed > 0 {
                    fed_total += fed;
                    store.fed(epoch, fed);
                }
                // A live Kafka source that has handed over all it has fetched closes the epoch
                // now, at the clock's ms, rather than at the next tick: what it fed reaches the
                // views without waiting up to `epoch_ms`, and a worker with nothing to feed
                // does not hold the others' epochs back for a tick.
                if config.epoch_records.is_none()
                    && let Some(k) = kafka.as_ref()
                    && k.source.drained()
                {
                    let now_ms = clock.ms(Instant::now());
                    let close = if fed > 0 {
                        (now_ms + 1).max(epoch + 1)
                    } else if now_ms >= epoch + KAFKA_IDLE_ADVANCE_MS {
                        now_ms + 1
                    } else {
                        epoch
                    };
                    if close > epoch {
                        epoch = close;
                        input.advance_to(epoch);
                    }
                }
                if fed > 0 {
                    input.flush();
                    worker.step();
                } else if !exhausted {
                    // Kafka wakes the worker when messages arrive; a short park keeps an idle
                    // worker's epoch near the clock for the others (see above).
                    let park = Duration::from_millis(match kafka {
                        Some(_) => config.epoch_ms.min(KAFKA_IDLE_ADVANCE_MS),
                        None => config.epoch_ms,
                    });
                    worker.step_or_park(Some(wait.unwrap_or(park).min(park)));
                }
                for (s, n) in std::mem::take(&mut received) {
                    store.received(s, n);
                }
                local
                    .borrow_mut()
                    .flush(&store, kafka.as_ref().map(|k| &k.source));
                if index == 0 {
                    advance_store(&store, &probe);
                }
                if let Some(k) = kafka.as_mut() {
                    if k.last_checkpoint.elapsed() >= k.config.checkpoint_interval {
                        k.checkpoint(index, peers, epoch, &state.borrow(), sent)
                            .map_err(|e| e.to_string())?;
                    }
                    k.commit_reflected(&probe);
                }
                if exhausted {
                    completed = true;
                    break;
                }
            }
            drop(input);
            while !probe.done() {
                worker.step_or_park(Some(Duration::from_millis(config.epoch_ms)));
                local
                    .borrow_mut()
                    .flush(&store, kafka.as_ref().map(|k| &k.source));
                if index == 0 {
                    advance_store(&store, &probe);
                }
            }
            local
                .borrow_mut()
                .flush(&store, kafka.as_ref().map(|k| &k.source));
            if index == 0 && probe.done() {
                store.advance(u64::MAX);
            }
            if let Some(k) = kafka.as_mut() {
                // Everything fed is in the views now: checkpoint and commit it.
                k.checkpoint(index, peers, epoch, &state.borrow(), sent)
                    .map_err(|e| e.to_string())?;
                k.commit_reflected(&probe);
                let failed = k.source.flush(Duration::from_secs(30));
                if failed > 0 {
                    return Err(format!(
                        "{failed} dead letters were not acknowledged by Kafka (they are in the dead-letter output)"
                    ));
                }
            }
            Ok((fed_total, completed))
            })();
            if result.is_err() {
                stop.store(true, Ordering::Relaxed);
            }
            result
        },
    )
    .map_err(Error::Dataflow)?;
    let mut records = 0;
    let mut completed = true;
    for r in guards.join() {
        let (n, c) = r.map_err(Error::Dataflow)?.map_err(Error::Dataflow)?;
        records += n;
        completed &= c;
    }
    Ok(RunSummary {
        records,
        elapsed: started.elapsed(),
        completed,
    })
}
