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
use std::collections::HashMap;
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
}

impl IngestState {
    /// Empty state.
    pub fn new(config: IngestConfig) -> Self {
        IngestState {
            config,
            ..Default::default()
        }
    }

    /// The watermark of `tenant_id`: the greatest event time seen of that tenant minus the
    /// allowed lateness (`None` before its first event).
    pub fn watermark(&self, tenant_id: &str) -> Option<Millis> {
        self.max_event_time
            .get(tenant_id)
            .map(|t| t.saturating_sub(self.config.allowed_lateness_ms))
    }

    /// Applies one event, pushing the updates it causes (`(event, ±1)`), and says what happened.
    pub fn apply(&mut self, event: Event, updates: &mut impl FnMut(Event, isize)) -> Outcome {
        let time = event.event_time();
        if self.config.late_policy == LatePolicy::DeadLetter
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
            self.seen.retain(|_, e| {
                max.get(e.tenant_id())
                    .is_none_or(|m| e.event_time() >= m.saturating_sub(lateness))
            });
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
/// (partitioned by [`owner`], so no exchange is needed), and reports every outcome to
/// `observe` (which sees the event and what happened; it is where dead letters and counters
/// are recorded).
pub fn ingest<'s, F>(
    events: Stream<'s, u64, Vec<Event>>,
    config: IngestConfig,
    mut observe: F,
) -> VecCollection<'s, u64, Event>
where
    F: FnMut(&Event, Outcome) + 'static,
{
    events
        .unary(Pipeline, "Ingest", move |_cap, _info| {
            let mut state = IngestState::new(config);
            move |input, output| {
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
