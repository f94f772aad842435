//! Unit stays: each encounter's ADT events replayed into the stays `(unit, start, end)` the
//! calibration estimates from (see the parent module, "From events to unit stays").
//!
//! [`dedup`] keeps the latest version of each event id; [`encounters`] groups one tenant's
//! events by encounter and [`rebuild`]s each into [`Stay`]s, skipping (and counting by reason)
//! the malformed ones; [`Flow`] is an encounter as the model sees it (its leading ED visit and
//! its inpatient stays); [`icu_pool`] gathers the other tenants' ICU stays for pooled LOS fits;
//! [`peak_census`] is the most stays open at once.
use super::unit_kind;
use crate::scenario::UnitKind;
use std::collections::{BTreeMap, BTreeSet};
use wardstream_schemas::time::HOUR_MS;
use wardstream_schemas::{Adt, AdtKind, Millis};

/// One stay of an encounter in a unit, times in ms; `end` none while still in the unit.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Stay<'a> {
    pub(super) unit: &'a str,
    pub(super) start: Millis,
    pub(super) end: Option<Millis>,
}

/// An encounter's unit stays in order, and its discharge time if it has one.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Encounter<'a> {
    pub(super) stays: Vec<Stay<'a>>,
    pub(super) discharged: Option<Millis>,
    pub(super) bed_moves: u64,
}

/// The latest version of each event, by `(tenant_id, event_id)` ([`dedup`]).
pub(super) type Latest<'a> = BTreeMap<(&'a str, &'a str), &'a Adt>;

/// The latest version of each `(tenant_id, event_id)`, and how many versions were replaced.
pub(super) fn dedup(events: &[Adt]) -> (Latest<'_>, u64) {
    let mut latest = BTreeMap::new();
    let mut replaced = 0;
    for e in events {
        if latest
            .insert((e.tenant_id.as_str(), e.event_id.as_str()), e)
            .is_some()
        {
            replaced += 1;
        }
    }
    (latest, replaced)
}

/// Rebuilds the encounters of `events` (one tenant), in encounter-id order, and counts the
/// skipped ones by reason.
pub(super) fn encounters<'a>(
    events: impl Iterator<Item = &'a Adt>,
) -> (Vec<Encounter<'a>>, BTreeMap<&'static str, u64>) {
    let mut by_encounter: BTreeMap<&str, Vec<&Adt>> = BTreeMap::new();
    // A decision to admit moves nobody: unit stays are made of movements only.
    for e in events.filter(|e| e.kind != AdtKind::DecisionToAdmit) {
        by_encounter
            .entry(e.encounter_id.as_str())
            .or_default()
            .push(e);
    }
    let mut out = Vec::with_capacity(by_encounter.len());
    let mut skipped = BTreeMap::new();
    for (_, mut evs) in by_encounter {
        match rebuild(&mut evs) {
            Ok(enc) => out.push(enc),
            Err(reason) => *skipped.entry(reason).or_insert(0) += 1,
        }
    }
    (out, skipped)
}

/// A care unit name, trimmed; none if absent or blank.
fn unit_name(u: &Option<String>) -> Option<&str> {
    u.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Replays one encounter's events into unit stays; `Err` names why the sequence is malformed.
fn rebuild<'a>(evs: &mut [&'a Adt]) -> std::result::Result<Encounter<'a>, &'static str> {
    evs.sort_by(|a, b| {
        (a.event_time, a.kind, &a.event_id).cmp(&(b.event_time, b.kind, &b.event_id))
    });
    let mut enc = Encounter::default();
    for i in 0..evs.len() {
        if enc.discharged.is_some() {
            return Err("event after the discharge");
        }
        // Two transfers at the same time may be chained in either id order: take the one that
        // leaves the current unit first.
        if let (AdtKind::Transfer, Some(cur)) = (evs[i].kind, enc.stays.last())
            && unit_name(&evs[i].from_care_unit).is_some_and(|f| f != cur.unit)
            && let Some(j) = (i + 1..evs.len()).find(|&j| {
                evs[j].event_time == evs[i].event_time
                    && evs[j].kind == AdtKind::Transfer
                    && unit_name(&evs[j].from_care_unit) == Some(cur.unit)
            })
        {
            evs.swap(i, j);
        }
        let e: &'a Adt = evs[i];
        let t = e.event_time;
        match e.kind {
            AdtKind::Admit => {
                if !enc.stays.is_empty() {
                    return Err("admit after the first event");
                }
                let unit = unit_name(&e.care_unit).ok_or("admit without care unit")?;
                enc.stays.push(Stay {
                    unit,
                    start: t,
                    end: None,
                });
            }
            AdtKind::Transfer => {
                let cur = enc.stays.last_mut().ok_or("transfer before the admit")?;
                if unit_name(&e.from_care_unit).is_some_and(|f| f != cur.unit) {
                    return Err("transfer from a unit the patient is not in");
                }
                let unit = unit_name(&e.care_unit).ok_or("transfer without care unit")?;
                if unit == cur.unit {
                    enc.bed_moves += 1;
                    continue;
                }
                cur.end = Some(t);
                enc.stays.push(Stay {
                    unit,
                    start: t,
                    end: None,
                });
            }
            AdtKind::Discharge => {
                let cur = enc.stays.last_mut().ok_or("discharge before the admit")?;
                if unit_name(&e.from_care_unit).is_some_and(|f| f != cur.unit) {
                    return Err("discharge from a unit the patient is not in");
                }
                cur.end = Some(t);
                enc.discharged = Some(t);
            }
            AdtKind::DecisionToAdmit => {}
        }
    }
    Ok(enc)
}

/// An encounter as the model sees it: the ED visit it starts with (if any) and its inpatient
/// stays, with ED returns removed and a return to the same unit merged.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Flow<'a> {
    /// Start and end of the leading run of ED stays.
    pub(super) ed_visit: Option<Stay<'a>>,
    pub(super) inpatient: Vec<Stay<'a>>,
    pub(super) ed_returns: u64,
    pub(super) rejoined: u64,
}

impl<'a> Flow<'a> {
    pub(super) fn new(enc: &Encounter<'a>, is_ed: &impl Fn(&str) -> bool) -> Flow<'a> {
        let mut flow = Flow::default();
        let lead = enc.stays.iter().take_while(|s| is_ed(s.unit)).count();
        if let (Some(first), Some(last)) = (enc.stays.first(), enc.stays[..lead].last()) {
            flow.ed_visit = Some(Stay {
                unit: first.unit,
                start: first.start,
                end: last.end,
            });
        }
        let mut after_ed = false;
        for s in &enc.stays[lead..] {
            if is_ed(s.unit) {
                flow.ed_returns += 1;
                after_ed = true;
                continue;
            }
            match flow.inpatient.last_mut() {
                Some(prev) if after_ed && prev.unit == s.unit => {
                    prev.end = s.end;
                    flow.rejoined += 1;
                }
                _ => flow.inpatient.push(*s),
            }
            after_ed = false;
        }
        flow
    }
}

/// ICU stays of the other tenants.
#[derive(Clone, Debug, Default)]
pub(super) struct IcuPool<'a> {
    pub(super) hours: Vec<f64>,
    pub(super) tenants: BTreeSet<&'a str>,
    pub(super) skipped: u64,
}

/// Completed ICU-kind stays > 0 h of every tenant except `tenant`.
pub(super) fn icu_pool<'a>(latest: &Latest<'a>, tenant: &str) -> IcuPool<'a> {
    let mut by_tenant: BTreeMap<&str, Vec<&Adt>> = BTreeMap::new();
    for (&(t, _), &e) in latest {
        if t != tenant {
            by_tenant.entry(t).or_default().push(e);
        }
    }
    let mut pool = IcuPool::default();
    for (t, evs) in by_tenant {
        let (encs, skipped) = encounters(evs.into_iter());
        pool.skipped += skipped.values().sum::<u64>();
        for s in encs.iter().flat_map(|e| &e.stays) {
            if let Some(end) = s.end
                && end > s.start
                && unit_kind(s.unit) == UnitKind::Icu
            {
                pool.hours.push((end - s.start) as f64 / HOUR_MS as f64);
                pool.tenants.insert(t);
            }
        }
    }
    pool
}

/// Peak number of overlapping intervals `[start, end)`; open intervals never end. At equal
/// times leaving comes before arriving, so a patient moving between two units of a group is
/// not counted twice.
pub(super) fn peak_census(intervals: &[(Millis, Option<Millis>)]) -> usize {
    let mut changes: Vec<(Millis, i64)> = Vec::with_capacity(intervals.len() * 2);
    for &(start, end) in intervals {
        changes.push((start, 1));
        if let Some(end) = end {
            changes.push((end, -1));
        }
    }
    changes.sort_unstable();
    let (mut now, mut peak) = (0i64, 0i64);
    for (_, d) in changes {
        now += d;
        peak = peak.max(now);
    }
    usize::try_from(peak).unwrap_or(0)
}
