//! Ingest: the first operator every event passes. It turns a stream of events into a
//! differential collection, applying the engine's at-least-once and correction rules.
//!
//! - **Dedup**: an `event_id` seen before with identical content is a duplicate and changes
//!   nothing (sources and, later, Kafka deliver at least once).
//! - **Corrections**: an `event_id` seen before with different content is a correction: the
//!   earlier version is retracted (`-1`) and the new one inserted (`+1`) at the same epoch, so
//!   every view drops the old contribution. (Voids of charges are a domain rule of the revenue
//!   view instead, see [`crate::revenue`].)
//! - **Lateness**: a worker keeps one watermark per tenant: the greatest event time it has
//!   seen of that tenant minus the allowed lateness. Tenants are separate hospitals with feeds
//!   and clocks of their own (a replayed archive, a simulation, the API's live bookings), so
//!   one tenant's clock never makes another's events late. An event older than its tenant's
//!   watermark is either applied anyway
//!   ([`LatePolicy::Apply`]) or dead-lettered with reason `late` ([`LatePolicy::DeadLetter`]);
//!   never silently dropped. Views are functions of event *content*, not arrival order, so an
//!   applied late event lands exactly where it would have on time.
//!
//! ## Incremental contract
//! Input: events at epoch `t` (timely stream), partitioned by [`owner`]`(event_id)` at the
//! source. Output: `(event, t, ±1)` updates. Cost per event: one hash-map probe. State: one entry per
//! `event_id` not yet behind the watermark; with [`LatePolicy::DeadLetter`] entries behind the
//! watermark are evicted (a later version of them would be late anyway), so state is bounded
//! by the event rate × allowed lateness. With [`LatePolicy::Apply`] every id is kept.

use differential_dataflow::{AsCollection, Hashable, VecCollection};
use serde::{Deserialize, Serialize};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use timely::dataflow::Stream;
use timely::dataflow::channels::pact::Pipeline;
use timely::dataflow::operators::generic::Operator;
use wardstream_schemas::{Event, Millis, RejectReason};

/// What to do with an event behind the watermark by more than the allowed lateness.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// Apply it (views stay exact; ingest state is not evicted).
    Apply,
    /// Dead-letter it with reason `late` (bounded state).
    #[default]
    DeadLetter,
}

/// Ingest settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestConfig {
    /// How far behind the greatest event time seen an event may be and still count as on
    /// time, in ms.
    pub allowed_lateness_ms: Millis,
    /// What happens to later ones.
    pub late_policy: LatePolicy,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            allowed_lateness_ms: 6 * 3_600_000,
            late_policy: LatePolicy::DeadLetter,
        }
    }
}

/// What ingest did with one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// A new `event_id`: inserted.
    Applied,
    /// A known `event_id` with new content: the old version retracted, the new one inserted.
    Corrected,
    /// A known `event_id` with the same content: nothing changes.
    Duplicate,
    /// Not applied; goes to the dead-letter output with this reason.
    DeadLettered(RejectReason),
}

impl Outcome {
    /// `applied`, `corrected`, `duplicate` or `dead_lettered`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Corrected => "corrected",
            Outcome::Duplicate => "duplicate",
            Outcome::DeadLettered(_) => "dead_lettered",
        }
    }
}

/// The ingest state of one worker: what [`ingest`] runs per event. Public so that it can be
/// tested and reused without a dataflow.
#[derive(Debug, Default)]
pub struct IngestState {
    config: IngestConfig,
    seen: HashMap<String, Event>,
    /// Greatest event time seen per tenant.
    max_event_time: HashMap<String, Millis>,
    since_eviction: usize,
    /// With checkpointing on: the applied events evicted from `seen` (behind the watermark),
    /// so that `seen` ∪ `settled` is the ingest output collection a checkpoint restores.
    settled: Option<HashMap<String, Event>>,
    /// Events passed to [`apply`](Self::apply) so far, whatever their outcome.
    processed: u64,
    /// Watermarks set by the source ([`set_watermarks`](Self::set_watermarks)): the source
    /// judges lateness itself (per partition) and these only drive eviction.
    external: Option<HashMap<String, Millis>>,
}

/// What a checkpoint keeps of one worker's [`IngestState`]: enough to rebuild both the views
/// (every event currently applied) and the dedup, correction and lateness decisions that
/// follow (the ids still held and each tenant's greatest event time).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct IngestSnapshot {
    /// Applied events still held for dedup and corrections (their current versions).
    pub held: Vec<Event>,
    /// Applied events behind their tenant's watermark (no longer held for dedup).
    pub settled: Vec<Event>,
    /// Greatest event time seen per tenant, ms since the epoch.
    pub max_event_time: Vec<(String, Millis)>,
}

impl IngestSnapshot {
    /// Every event the ingest output collection holds (`+1` each): what restores the views.
    pub fn applied(&self) -> impl Iterator<Item = &Event> {
        self.held.iter().chain(self.settled.iter())
    }
}

impl IngestState {
    /// Empty state.
    pub fn new(config: IngestConfig) -> Self {
        IngestState {
            config,
            ..Default::default()
        }
    }

    /// Empty state that keeps every applied event (also those evicted from dedup), so that
    /// [`snapshot`](Self::snapshot) can restore the views. Costs one event per applied id.
    pub fn checkpointed(config: IngestConfig) -> Self {
        IngestState {
            config,
            settled: Some(HashMap::new()),
            ..Default::default()
        }
    }

    /// Events passed to [`apply`](Self::apply) since this state was made or restored.
    pub fn processed(&self) -> u64 {
        self.processed
    }

    /// The state as a checkpoint keeps it. `None` unless made by
    /// [`checkpointed`](Self::checkpointed) (evicted events would be missing).
    pub fn snapshot(&self) -> Option<IngestSnapshot> {
        let settled = self.settled.as_ref()?;
        let mut snapshot = IngestSnapshot {
            held: self.seen.values().cloned().collect(),
            settled: settled.values().cloned().collect(),
            max_event_time: self
                .max_event_time
                .iter()
                .map(|(t, m)| (t.clone(), *m))
                .collect(),
        };
        // Sorted, so that the same state always writes the same checkpoint.
        snapshot.held.sort_by(|a, b| a.event_id().cmp(b.event_id()));
        snapshot
            .settled
            .sort_by(|a, b| a.event_id().cmp(b.event_id()));
        snapshot.max_event_time.sort();
        Some(snapshot)
    }

    /// A checkpointed state restored from `snapshot`: later events are deduplicated,
    /// corrected and judged late exactly as by the state that wrote it. The views must be
    /// restored separately from [`IngestSnapshot::applied`].
    pub fn restore(config: IngestConfig, snapshot: IngestSnapshot) -> Self {
        let mut state = IngestState::checkpointed(config);
        state.max_event_time = snapshot.max_event_time.into_iter().collect();
        state.seen = snapshot
            .held
            .into_iter()
            .map(|e| (e.event_id().to_owned(), e))
            .collect();
        state.settled = Some(
            snapshot
                .settled
                .into_iter()
                .map(|e| (e.event_id().to_owned(), e))
                .collect(),
        );
        state
    }

    /// The watermark of `tenant_id`: the greatest event time seen of that tenant minus the
    /// allowed lateness (`None` before its first event).
    pub fn watermark(&self, tenant_id: &str) -> Option<Millis> {
        if let Some(external) = &self.external {
            return external.get(tenant_id).copied();
        }
        self.max_event_time
            .get(tenant_id)
            .map(|t| t.saturating_sub(self.config.allowed_lateness_ms))
    }

    /// Applies one event, pushing the updates it causes (`(event, ±1)`), and says what happened.
    pub fn apply(&mut self, event: Event, updates: &mut impl FnMut(Event, isize)) -> Outcome {
        self.processed += 1;
        let time = event.event_time();
        if self.external.is_none()
            && self.config.late_policy == LatePolicy::DeadLetter
            && self.watermark(event.tenant_id()).is_some_and(|w| time < w)
        {
            return Outcome::DeadLettered(RejectReason::Late);
        }
        match self.max_event_time.get_mut(event.tenant_id()) {
            Some(m) => *m = (*m).max(time),
            None => {
                self.max_event_time
                    .insert(event.tenant_id().to_owned(), time);
            }
        }
        let outcome = match self.seen.get_mut(event.event_id()) {
            Some(previous) if *previous == event => Outcome::Duplicate,
            Some(previous) => {
                let old = std::mem::replace(previous, event.clone());
                updates(old, -1);
                updates(event, 1);
                Outcome::Corrected
            }
            None => {
                self.seen.insert(event.event_id().to_owned(), event.clone());
                updates(event, 1);
                Outcome::Applied
            }
        };
        self.since_eviction += 1;
        if self.config.late_policy == LatePolicy::DeadLetter && self.since_eviction >= 65_536 {
            self.evict();
        }
        outcome
    }

    /// Drops ids whose events are behind their tenant's watermark (only under
    /// [`LatePolicy::DeadLetter`]).
    pub fn evict(&mut self) {
        self.since_eviction = 0;
        if self.config.late_policy == LatePolicy::DeadLetter {
            let lateness = self.config.allowed_lateness_ms;
            let max = &self.max_event_time;
            let external = &self.external;
            let settled = &mut self.settled;
            self.seen.retain(|id, e| {
                let watermark = match external {
                    Some(w) => w.get(e.tenant_id()).copied(),
                    None => max.get(e.tenant_id()).map(|m| m.saturating_sub(lateness)),
                };
                let keep = watermark.is_none_or(|w| e.event_time() >= w);
                if !keep && let Some(settled) = settled.as_mut() {
                    settled.insert(id.clone(), e.clone());
                }
                keep
            });
        }
    }

    /// Hands lateness to the source: from now on [`apply`](Self::apply) judges no event
    /// late (the source dead-letters late events before they reach ingest, e.g. by the
    /// minimum over Kafka partitions), and eviction uses these per-tenant watermarks. They
    /// must never exceed the watermarks the source judged the events still to come by.
    pub fn set_watermarks(&mut self, watermarks: impl IntoIterator<Item = (String, Millis)>) {
        let external = self.external.get_or_insert_with(HashMap::new);
        for (tenant, w) in watermarks {
            let slot = external.entry(tenant).or_insert(w);
            *slot = (*slot).max(w);
        }
    }

    /// Number of event ids held.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no ids are held.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }
}

/// Which of `peers` workers owns an event: sources must feed every version of an `event_id`
/// to the worker `owner(event_id, peers)` so that its ingest state sees them all.
pub fn owner(event_id: &str, peers: usize) -> usize {
    (event_id.hashed() % peers.max(1) as u64) as usize
}

/// The ingest operator: applies [`IngestState`] on each worker to the events its source fed
/// (partitioned by [`owner`], or by Kafka partition, so no exchange is needed), and reports
/// every outcome to `observe` (which sees the event and what happened; it is where dead
/// letters and counters are recorded).
///
/// `state` is shared with the worker's loop, which reads it between steps to checkpoint:
/// when [`IngestState::processed`] equals the events it fed, the state matches exactly the
/// source positions it has read up to.
pub fn ingest<'s, F>(
    events: Stream<'s, u64, Vec<Event>>,
    state: Rc<RefCell<IngestState>>,
    mut observe: F,
) -> VecCollection<'s, u64, Event>
where
    F: FnMut(&Event, Outcome) + 'static,
{
    events
        .unary(Pipeline, "Ingest", move |_cap, _info| {
            move |input, output| {
                let mut state = state.borrow_mut();
                input.for_each_time(|cap, data| {
                    let time = *cap.time();
                    let mut session = output.session(&cap);
                    for batch in data {
                        for event in batch.drain(..) {
                            let seen = event.clone();
                            let outcome =
                                state.apply(event, &mut |e, diff| session.give((e, time, diff)));
                            observe(&seen, outcome);
                        }
                    }
                });
            }
        })
        .as_collection()
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardstream_schemas::{Adt, AdtKind};

    fn adt(id: &str, time: Millis, unit: &str) -> Event {
        Event::Adt(Adt {
            event_id: id.into(),
            tenant_id: "t".into(),
            event_time: time,
            schema_version: 1,
            kind: AdtKind::Admit,
            patient_id: "p".into(),
            encounter_id: "e".into(),
            care_unit: Some(unit.into()),
            bed: None,
            from_care_unit: None,
            from_bed: None,
        })
    }

    #[test]
    fn dedup_correction_and_lateness() {
        let mut state = IngestState::new(IngestConfig {
            allowed_lateness_ms: 100,
            late_policy: LatePolicy::DeadLetter,
        });
        let mut out = Vec::new();
        let mut push = |e: Event, d: isize| out.push((e.event_id().to_owned(), d));
        assert_eq!(
            state.apply(adt("a", 1_000, "ICU"), &mut push),
            Outcome::Applied
        );
        assert_eq!(
            state.apply(adt("a", 1_000, "ICU"), &mut push),
            Outcome::Duplicate
        );
        assert_eq!(
            state.apply(adt("a", 1_000, "CCU"), &mut push),
            Outcome::Corrected
        );
        assert_eq!(
            state.apply(adt("b", 950, "ICU"), &mut push),
            Outcome::Applied
        );
        assert_eq!(
            state.apply(adt("c", 899, "ICU"), &mut push),
            Outcome::DeadLettered(RejectReason::Late)
        );
        assert_eq!(state.watermark("t"), Some(900));
        assert_eq!(state.watermark("other"), None);
        assert_eq!(
            out,
            vec![
                ("a".into(), 1),
                ("a".into(), -1),
                ("a".into(), 1),
                ("b".into(), 1)
            ]
        );
        state.apply(adt("d", 2_000, "ICU"), &mut |_, _| {});
        state.evict();
        assert_eq!(
            state.len(),
            1,
            "a and b are behind the watermark 1900 and evicted"
        );
    }

    #[test]
    fn one_tenants_clock_does_not_make_anothers_events_late() {
        let mut state = IngestState::new(IngestConfig {
            allowed_lateness_ms: 100,
            late_policy: LatePolicy::DeadLetter,
        });
        let of = |tenant: &str, id: &str, time: Millis| {
            let Event::Adt(mut a) = adt(id, time, "ICU") else {
                unreachable!("adt builds an ADT event")
            };
            a.tenant_id = tenant.into();
            Event::Adt(a)
        };
        // A live feed far ahead (wall clock) and a simulation behind it.
        assert_eq!(
            state.apply(of("live", "l1", 1_000_000), &mut |_, _| {}),
            Outcome::Applied
        );
        assert_eq!(
            state.apply(of("sim", "s1", 1_000), &mut |_, _| {}),
            Outcome::Applied
        );
        assert_eq!(
            state.apply(of("sim", "s2", 950), &mut |_, _| {}),
            Outcome::Applied
        );
        assert_eq!(
            state.apply(of("sim", "s3", 899), &mut |_, _| {}),
            Outcome::DeadLettered(RejectReason::Late),
            "late by its own tenant's clock"
        );
        state.evict();
        assert_eq!(
            state.len(),
            3,
            "s1, s2 and l1 are at or past their own watermarks"
        );
    }

    #[test]
    fn a_restored_state_decides_exactly_as_the_one_that_wrote_it() {
        let config = IngestConfig {
            allowed_lateness_ms: 100,
            late_policy: LatePolicy::DeadLetter,
        };
        let mut original = IngestState::checkpointed(config);
        for (id, t) in [("a", 1_000), ("b", 1_050), ("c", 1_300)] {
            original.apply(adt(id, t, "ICU"), &mut |_, _| {});
        }
        original.evict(); // a and b are behind 1,200: settled, no longer held
        let snapshot = original.snapshot().unwrap_or_default();
        assert_eq!(snapshot.held.len(), 1);
        assert_eq!(snapshot.settled.len(), 2);
        assert_eq!(
            snapshot.applied().count(),
            3,
            "the views are restored from every applied event"
        );
        let mut restored = IngestState::restore(config, snapshot.clone());
        assert_eq!(restored.snapshot(), Some(snapshot));
        assert_eq!(restored.processed(), 0);
        let next = [
            adt("c", 1_300, "ICU"), // duplicate
            adt("c", 1_300, "CCU"), // correction
            adt("d", 1_150, "ICU"), // late
            adt("e", 1_250, "ICU"), // on time
        ];
        for e in next {
            let mut a = Vec::new();
            let mut b = Vec::new();
            let oa = original.apply(e.clone(), &mut |e, d| a.push((e, d)));
            let ob = restored.apply(e, &mut |e, d| b.push((e, d)));
            assert_eq!((oa, a), (ob, b));
        }
        assert_eq!(restored.processed(), 4);
        assert_eq!(
            IngestState::new(config).snapshot(),
            None,
            "only checkpointed states can be snapshot"
        );
    }

    #[test]
    fn external_watermarks_leave_lateness_to_the_source_and_drive_eviction() {
        let mut state = IngestState::checkpointed(IngestConfig {
            allowed_lateness_ms: 100,
            late_policy: LatePolicy::DeadLetter,
        });
        state.set_watermarks([("t".to_owned(), 500)]);
        state.apply(adt("a", 10_000, "ICU"), &mut |_, _| {});
        assert_eq!(
            state.apply(adt("b", 600, "ICU"), &mut |_, _| {}),
            Outcome::Applied,
            "the source judged it on time"
        );
        state.set_watermarks([("t".to_owned(), 400)]);
        assert_eq!(state.watermark("t"), Some(500), "watermarks never go back");
        state.evict();
        assert_eq!(state.len(), 2, "both at or past the source's watermark 500");
        state.set_watermarks([("t".to_owned(), 700)]);
        state.evict();
        assert_eq!(state.len(), 1, "b (600) settled");
    }

    #[test]
    fn apply_policy_keeps_late_events() {
        let mut state = IngestState::new(IngestConfig {
            allowed_lateness_ms: 0,
            late_policy: LatePolicy::Apply,
        });
        state.apply(adt("a", 1_000, "ICU"), &mut |_, _| {});
        assert_eq!(
            state.apply(adt("b", 10, "ICU"), &mut |_, _| {}),
            Outcome::Applied
        );
    }
}
