//! End-to-end throughput of the full view set: records fed through ingest into all seven
//! views. Prints one row per run: events, workers, elapsed, events/s per core, p50/p99
//! event-to-view freshness (epoch fed → frontier passed) and the process's peak RSS.
//!
//! Workloads (pass one name after `--` to run only it; peak RSS is per process, so run the
//! memory workload alone):
//! - `real`: the four real data sets replayed as fast as possible, 1 and 2 workers.
//! - `generator`: [`GENERATED`] events of the default generated hospital, 1 and 2 workers.
//! - `decode`: PhysioNet + eICU vitals as NDJSON lines, decoded (`Event::decode`, with
//!   validation) and run through the views; elapsed covers decode + views (NEWS2 is the only
//!   view with vitals input).
//! - `patients100k`: the generator scaled to [`ACTIVE_PATIENTS`] beds, [`GENERATED`] events
//!   (vitals of ~85,000 occupied beds), 1 worker: the memory target.
//!
//! Run: `cargo bench -p wardstream-benches --bench end_to_end [-- WORKLOAD]`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;
use wardstream_benches::{data_dir, print_header, print_row, workloads};
use wardstream_pipelines::generator::{Generator, GeneratorConfig};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::{
    EngineConfig, RunSummary, SourceFactory, SourceRecord, ViewStore, records_source,
};
use wardstream_schemas::{Event, Stream};

/// Generator events per run.
const GENERATED: usize = 2_000_000;
/// Beds of the scaled hospital in `patients100k`.
const ACTIVE_PATIENTS: f64 = 100_000.0;
/// Worker counts measured.
const WORKERS: [usize; 2] = [1, 2];

fn run(factory: SourceFactory, workers: usize) -> anyhow::Result<(RunSummary, Arc<ViewStore>)> {
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
    Ok((summary, store))
}

fn report(workload: &str, factory: SourceFactory, workers: usize) -> anyhow::Result<()> {
    let (summary, store) = run(factory, workers)?;
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

fn real_records() -> anyhow::Result<Vec<SourceRecord>> {
    let opts = ReplayOptions {
        data_dir: data_dir(),
        data_sets: DataSet::ALL.to_vec(),
        ..ReplayOptions::default()
    };
    Ok(replay::load_data_sets(&opts)?.records)
}

fn main() -> anyhow::Result<()> {
    let Some(wanted) = workloads() else {
        return Ok(());
    };
    print_header();
    if wanted("real") {
        let records = Arc::new(real_records()?);
        for workers in WORKERS {
            report(
                "real data, all views",
                records_source(records.clone()),
                workers,
            )?;
        }
    }
    if wanted("generator") {
        let generated: Arc<Vec<SourceRecord>> = Arc::new(
            Generator::new(GeneratorConfig::default())
                .take(GENERATED)
                .map(SourceRecord::Event)
                .collect(),
        );
        for workers in WORKERS {
            report(
                "generator, all views",
                records_source(generated.clone()),
                workers,
            )?;
        }
    }
    if wanted("decode") {
        let lines: Vec<Vec<u8>> = real_records()?
            .into_iter()
            .filter_map(|r| match r {
                SourceRecord::Event(e) if e.stream() == Stream::Vitals => {
                    Some(e.to_json().into_bytes())
                }
                _ => None,
            })
            .collect();
        for workers in WORKERS {
            let started = Instant::now();
            let records: Vec<SourceRecord> = lines
                .iter()
                .map(|l| {
                    SourceRecord::Event(
                        Event::decode(l).unwrap_or_else(|e| panic!("our own line: {e}")),
                    )
                })
                .collect();
            let decoded = started.elapsed();
            let (summary, store) = run(records_source(Arc::new(records)), workers)?;
            let fresh = store.freshness();
            print_row(
                "decode + views, real vitals NDJSON",
                summary.records,
                workers,
                decoded + summary.elapsed,
                fresh.p50,
                fresh.p99,
            );
            eprintln!(
                "  decode alone: {:.0} events/s on one core",
                lines.len() as f64 / decoded.as_secs_f64()
            );
        }
    }
    if wanted("patients100k") {
        let mut cfg = GeneratorConfig::default();
        let beds: u32 = cfg.care_units.iter().map(|u| u.beds).sum();
        let scale = ACTIVE_PATIENTS / f64::from(beds);
        for unit in &mut cfg.care_units {
            unit.beds = (f64::from(unit.beds) * scale).round() as u32;
        }
        cfg.admissions_per_day *= scale;
        let started = Instant::now();
        let generator = Generator::new(cfg);
        eprintln!(
            "  warm-up of the scaled hospital: {:.1} s",
            started.elapsed().as_secs_f64()
        );
        let generated: Arc<Vec<SourceRecord>> =
            Arc::new(generator.take(GENERATED).map(SourceRecord::Event).collect());
        let (summary, store) = run(records_source(generated), 1)?;
        let fresh = store.freshness();
        print_row(
            "100k-bed hospital, all views",
            summary.records,
            1,
            summary.elapsed,
            fresh.p50,
            fresh.p99,
        );
        eprintln!(
            "  news2 rows (patients with vitals): {}",
            store.rows::<wardstream_operators::News2Row>().len()
        );
    }
    Ok(())
}
