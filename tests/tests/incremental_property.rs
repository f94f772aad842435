//! Property: however the input is cut into batches, spread over workers, reordered within the
//! allowed lateness, duplicated and corrected, every view ends equal to the batch SQL
//! recomputation over the applied events.

use proptest::prelude::*;
use std::sync::OnceLock;
use wardstream_operators::{IngestConfig, LatePolicy};
use wardstream_pipelines::replay::{self, DataSet, ReplayOptions};
use wardstream_pipelines::{EngineConfig, SourceRecord, ViewStore, records_source};
use wardstream_schemas::time::{HOUR_MS, parse_rfc3339};
use wardstream_schemas::{ChargeStatus, Event, Milli};
use wardstream_tests::{applied_events, compare_all, data_dir};

const LATENESS_MS: i64 = 6 * HOUR_MS;

/// All MIMIC events plus a thinned sample of the other data sets, in event-time order.
fn sample() -> &'static Vec<Event> {
    static SAMPLE: OnceLock<Vec<Event>> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let opts = ReplayOptions {
            data_dir: data_dir(),
            anchor: parse_rfc3339("2025-01-01T00:00:00Z").unwrap_or_default(),
            drg_base_rate_minor: 637_574,
            data_sets: vec![
                DataSet::MimicIvDemo,
                DataSet::Physionet2012,
                DataSet::EicuDemo,
                DataSet::Noshow,
            ],
        };
        let replay = replay::load_data_sets(&opts).unwrap_or_else(|e| panic!("real data: {e}"));
        replay
            .records
            .into_iter()
            .enumerate()
            .filter_map(|(i, r)| match r {
                SourceRecord::Event(e) if e.tenant_id() == "mimic-iv-demo" || i % 150 == 0 => {
                    Some(e)
                }
                _ => None,
            })
            .collect()
    })
}

/// A deterministic pseudo-random stream from a seed (SplitMix64).
struct Mix(u64);
impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// Reorders within the lateness bound, and adds duplicates, corrections and voids.
fn perturb(events: &[Event], seed: u64, corrections: bool) -> Vec<Event> {
    let mut rng = Mix(seed);
    let mut out: Vec<(i64, Event)> = Vec::with_capacity(events.len() + events.len() / 10);
    for e in events {
        let jitter = (rng.next() % LATENESS_MS as u64) as i64;
        let arrival = e.event_time() + jitter;
        out.push((arrival, e.clone()));
        match rng.next() % 20 {
            0 => out.push((arrival, e.clone())),
            1 if corrections => {
                if let Event::VitalSign(v) = e
                    && let Some(value) = v.value
                {
                    let mut c = v.clone();
                    c.value = Some(Milli(value.0 - value.0 % 1000));
                    out.push((arrival + 1, Event::VitalSign(c)));
                }
            }
            2 => {
                if let Event::Charge(c) = e {
                    let mut void = c.clone();
                    void.event_id = format!("{}-void", c.event_id);
                    void.status = ChargeStatus::Voided;
                    void.event_time += HOUR_MS;
                    out.push((arrival + HOUR_MS, Event::Charge(void)));
                }
            }
            _ => {}
        }
    }
    out.sort_by_key(|(arrival, _)| *arrival);
    out.into_iter().map(|(_, e)| e).collect()
}

fn run(events: Vec<Event>, workers: usize, batch: u64) -> std::sync::Arc<ViewStore> {
    let store = std::sync::Arc::new(ViewStore::new());
    let config = EngineConfig {
        workers,
        ingest: IngestConfig {
            allowed_lateness_ms: LATENESS_MS,
            late_policy: LatePolicy::DeadLetter,
        },
        epoch_records: Some(batch),
        max_lag_epochs: 1_000_000,
        ..EngineConfig::default()
    };
    let records: Vec<SourceRecord> = events.into_iter().map(SourceRecord::Event).collect();
    let summary = wardstream_pipelines::run(
        &config,
        records_source(std::sync::Arc::new(records)),
        Vec::new(),
        store.clone(),
        std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false)),
    )
    .unwrap_or_else(|e| panic!("engine: {e}"));
    assert!(summary.completed);
    store
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn views_equal_batch_under_any_batching(seed in any::<u64>(), batch in 1u64..4_000, two_workers in any::<bool>()) {
        let workers = if two_workers { 2 } else { 1 };
        // Corrections depend on arrival order of two versions of one id; with one worker that
        // order is the feed order the batch side uses.
        let events = perturb(sample(), seed, workers == 1);
        let store = run(events.clone(), workers, batch);
        prop_assert_eq!(store.stats().total_dead_lettered(), 0, "nothing arrived beyond the lateness bound");
        let applied = applied_events(&events.into_iter().map(SourceRecord::Event).collect::<Vec<_>>());
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap_or_else(|e| panic!("{e}"));
        let (problems, _) = runtime.block_on(compare_all(&store, &applied)).unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(problems.is_empty(), "seed {} batch {} workers {}:\n{}", seed, batch, workers, problems.join("\n"));
    }
}

#[test]
fn late_events_beyond_the_bound_are_dead_lettered_not_dropped() {
    let mut events: Vec<Event> = sample().iter().take(2_000).cloned().collect();
    // Watermarks are per tenant: the late event is late by its own tenant's clock.
    let tenant = events
        .first()
        .map(|e| e.tenant_id().to_owned())
        .unwrap_or_else(|| panic!("sample is empty"));
    let newest = events
        .iter()
        .filter(|e| e.tenant_id() == tenant)
        .map(Event::event_time)
        .max()
        .unwrap_or_else(|| panic!("sample is empty"));
    let mut json: serde_json::Value =
        serde_json::from_str(&events[0].to_json()).unwrap_or_default();
    json["event_id"] = "late-one".into();
    json["event_time"] = wardstream_schemas::time::format_rfc3339(newest - LATENESS_MS - 1).into();
    let late: Event = serde_json::from_value(json).unwrap_or_else(|e| panic!("{e}"));
    events.push(late);
    let store = run(events.clone(), 1, 100);
    let letters = store.dead_letters();
    assert_eq!(letters.len(), 1);
    assert_eq!(
        letters[0].reject.reason,
        wardstream_schemas::RejectReason::Late
    );
    assert!(String::from_utf8_lossy(&letters[0].raw).contains("late-one"));
}
