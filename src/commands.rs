//! The subcommands.

pub mod audit;
pub mod federate;
pub mod optimize;
pub mod produce;
pub mod replay;
pub mod run;
pub mod serve;
pub mod sql;
pub mod twin;

use crate::config::Config;
use crate::progress::Progress;
use crate::sources::PreparedSource;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use wardstream_pipelines::{EngineConfig, RunSummary, ViewStore};

/// The engine settings for a source.
pub fn engine_config(
    config: &Config,
    source: &PreparedSource,
    speed: Option<f64>,
    workers: Option<usize>,
) -> EngineConfig {
    EngineConfig {
        workers: workers.unwrap_or(config.engine.workers),
        epoch_ms: config.engine.epoch_ms,
        ingest: config.engine.ingest(),
        speed,
        pace_origin: source.pace_origin,
        max_lag_epochs: config.engine.max_lag_epochs,
        epoch_records: None,
        archive: None,
        live: None,
        kafka: None,
        cluster: None,
    }
}

/// Runs the engine on its own thread, updating `progress` until it finishes.
pub fn run_engine(
    engine: EngineConfig,
    source: PreparedSource,
    store: Arc<ViewStore>,
    stop: Arc<AtomicBool>,
    progress: &mut Progress,
) -> anyhow::Result<RunSummary> {
    let s = store.clone();
    let handle = std::thread::Builder::new()
        .name("engine".into())
        .spawn(move || {
            wardstream_pipelines::run(&engine, source.factory, source.capacities, s, stop)
        })?;
    while !handle.is_finished() {
        progress.update(&store);
        std::thread::sleep(Duration::from_millis(200));
    }
    progress.update(&store);
    let summary = handle
        .join()
        .map_err(|_| anyhow::anyhow!("the engine thread panicked"))??;
    Ok(summary)
}

/// Runs `source` to its end on a fresh store (with a progress line unless `quiet`) and
/// returns the store: the views of a replay or a bounded generator run.
pub fn run_to_end(
    config: &Config,
    source: PreparedSource,
    workers: Option<usize>,
    quiet: bool,
) -> anyhow::Result<Arc<ViewStore>> {
    let engine = engine_config(config, &source, None, workers);
    let store = Arc::new(ViewStore::new());
    let mut progress = Progress::new(quiet, engine.ingest.allowed_lateness_ms);
    run_engine(
        engine,
        source,
        store.clone(),
        Arc::new(AtomicBool::new(false)),
        &mut progress,
    )?;
    progress.finish();
    Ok(store)
}
