//! End-to-end throughput of the full view set: records fed through ingest into all seven
//! views, with 1 and 2 workers, on (a) the real data sets replayed as fast as possible and
//! (b) the built-in generator. Prints one row per run: events, elapsed, events/s per core,
//! p50/p99 event-to-view freshness (epoch fed → frontier passed), peak RSS of the process.
//!
//! Run: `cargo bench -p wardstream-benches --bench end_to_end` (release profile).

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use wardstream_benches::{data_dir, print_header, print_row};
use wardstream_pipelines::generator::{Generator, GeneratorConfig};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::{EngineConfig, SourceFactory, SourceRecord, ViewStore, records_source};

/// Generator events per run.
const GENERATED: usize = 2_000_000;
/// Worker counts measured.
const WORKERS: [usize; 2] = [1, 2];

fn run(workload: &str, factory: SourceFactory, workers: usize) -> anyhow::Result<()> {
    let store = Arc::new(ViewStore::new());
    let config = EngineConfig {
        workers,
        ..EngineConfig::default()
    };
    let summary = wardstream_pipelines::run(
        &config,
        factory,
        Vec::new(),
        store.clone(),
        Arc::new(AtomicBool::new(false)),
    )?;
    let fresh = store.freshness();
    print_row(
        workload,
        summary.records,
        workers,
        summary.elapsed,
        fresh.p50,
        fresh.p99,
    );
    Ok(())
}

fn main() -> anyhow::Result<()> {
    if std::env::args().any(|a| a == "--list") {
        return Ok(());
    }
    let opts = ReplayOptions {
        data_dir: data_dir(),
        anchor: 1_735_689_600_000,
        drg_base_rate_minor: 637_574,
        data_sets: vec![
            DataSet::MimicIvDemo,
            DataSet::Physionet2012,
            DataSet::EicuDemo,
            DataSet::Noshow,
        ],
    };
    let records = Arc::new(replay::load_data_sets(&opts)?.records);
    let generated: Arc<Vec<SourceRecord>> = Arc::new(
        Generator::new(GeneratorConfig::default())
            .take(GENERATED)
            .map(SourceRecord::Event)
            .collect(),
    );
    print_header();
    for workers in WORKERS {
        run(
            "real data, all views",
            records_source(records.clone()),
            workers,
        )?;
    }
    for workers in WORKERS {
        run(
            "generator, all views",
            records_source(generated.clone()),
            workers,
        )?;
    }
    Ok(())
}
