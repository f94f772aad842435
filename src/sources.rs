//! Choosing the source of a run: the generator, or a replay of files.

use crate::config::Config;
use anyhow::Context;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use wardstream_operators::Capacity;
use wardstream_pipelines::generator::Generator;
use wardstream_pipelines::replay::{self, DataSet, Replay, ReplayOptions};
use wardstream_pipelines::{SourceFactory, SourceRecord, records_source};
use wardstream_schemas::time::parse_rfc3339;

/// A ready source: what to feed, bed capacities, and where pacing starts.
pub struct PreparedSource {
    /// Per-worker record iterators.
    pub factory: SourceFactory,
    /// Staffed beds per care unit, where known.
    pub capacities: Vec<Capacity>,
    /// The event time of the first record (the pacing origin).
    pub pace_origin: i64,
    /// Whether it ends by itself.
    pub finite: bool,
    /// What it is, for the log.
    pub label: String,
}

/// Replay options from the configuration.
pub fn replay_options(config: &Config) -> anyhow::Result<ReplayOptions> {
    Ok(ReplayOptions {
        data_dir: config.data_dir.clone(),
        anchor: parse_rfc3339(&config.replay.anchor)
            .with_context(|| format!("replay.anchor {:?} is not RFC 3339", config.replay.anchor))?,
        drg_base_rate_minor: config.replay.drg_base_rate_minor,
        data_sets: vec![
            DataSet::MimicIvDemo,
            DataSet::Physionet2012,
            DataSet::EicuDemo,
            DataSet::Noshow,
        ],
    })
}

/// Loads a replay of `path`: the real data sets if it is a data folder, else NDJSON files.
pub fn load_replay(path: &Path, config: &Config) -> anyhow::Result<Replay> {
    let opts = replay_options(config)?;
    replay::load_path(path, &opts).with_context(|| format!("loading {}", path.display()))
}

/// A source over a loaded replay.
pub fn from_replay(replay: Replay, label: String) -> PreparedSource {
    let pace_origin = replay
        .records
        .first()
        .map(SourceRecord::order_time)
        .unwrap_or(0);
    PreparedSource {
        factory: records_source(Arc::new(replay.records)),
        capacities: Vec::new(),
        pace_origin,
        finite: true,
        label,
    }
}

/// No records (the engine's input comes from elsewhere: Kafka, the API's outbox).
pub fn nothing(label: String) -> PreparedSource {
    PreparedSource {
        factory: Arc::new(|_, _| Box::new(std::iter::empty())),
        capacities: Vec::new(),
        pace_origin: 0,
        finite: false,
        label,
    }
}

/// The built-in generator (worker 0 generates; ingest spreads the events), optionally
/// limited to `max_events`.
pub fn generator(config: &Config, max_events: Option<u64>) -> PreparedSource {
    let cfg = config.generator.clone();
    let capacities = Generator::new(cfg.clone())
        .capacities()
        .into_iter()
        .map(|(tenant_id, care_unit, beds)| Capacity {
            tenant_id,
            care_unit,
            beds,
        })
        .collect();
    let pace_origin = cfg.start;
    let label = format!("generator (seed {}, tenant {})", cfg.seed, cfg.tenant_id);
    let factory: SourceFactory = Arc::new(move |index, _peers| {
        if index != 0 {
            return Box::new(std::iter::empty());
        }
        let events = Generator::new(cfg.clone()).map(SourceRecord::Event);
        match max_events {
            Some(n) => Box::new(events.take(n as usize)),
            None => Box::new(events),
        }
    });
    PreparedSource {
        factory,
        capacities,
        pace_origin,
        finite: max_events.is_some(),
        label,
    }
}

/// Wraps a source so every valid event it yields is also written to `path` as NDJSON (a
/// recording that `--replay <path>` re-runs).
pub fn recorded(source: PreparedSource, path: &Path) -> anyhow::Result<PreparedSource> {
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let writer = Arc::new(Mutex::new(BufWriter::new(file)));
    let inner = source.factory.clone();
    let factory: SourceFactory = Arc::new(move |index, peers| {
        let writer = writer.clone();
        Box::new(Recorder {
            inner: inner(index, peers),
            writer,
        })
    });
    Ok(PreparedSource { factory, ..source })
}

struct Recorder {
    inner: Box<dyn Iterator<Item = SourceRecord>>,
    writer: Arc<Mutex<BufWriter<File>>>,
}

impl Iterator for Recorder {
    type Item = SourceRecord;
    fn next(&mut self) -> Option<SourceRecord> {
        let next = self.inner.next();
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        match &next {
            Some(SourceRecord::Event(e)) => {
                if let Err(err) = writeln!(w, "{}", e.to_json()) {
                    tracing::error!(error = %err, "recording failed");
                }
            }
            None => {
                let _ = w.flush();
            }
            _ => {}
        }
        next
    }
}
