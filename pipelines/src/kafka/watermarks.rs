//! Per-partition event time: each tenant's watermark over the partitions a worker owns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use wardstream_schemas::Millis;

/// Event-time progress of a worker's partitions, as a checkpoint keeps it.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WatermarkState {
    /// Greatest event time read per tenant, topic and partition, ms since the epoch.
    pub maxima: Vec<(String, String, i32, Millis)>,
    /// Each tenant's watermark so far (watermarks never go back).
    pub watermarks: Vec<(String, Millis)>,
}

/// Per-partition event time. A tenant's watermark is the minimum, over the partitions owned
/// that are not idle, of each partition's progress minus the allowed lateness; a partition's
/// progress for a tenant is the greatest event time of that tenant read from it, or, if the
/// tenant has not appeared there yet, the greatest event time read from it at all (its
/// future events of the tenant come after that when the partition is in event-time order).
/// A partition not read from yet holds every watermark back until it is idle. With every
/// partition idle, the greatest time of the tenant read anywhere counts. Watermarks never
/// go back.
#[derive(Debug, Default)]
pub(super) struct Watermarks {
    maxima: HashMap<String, BTreeMap<(String, i32), Millis>>,
    overall: BTreeMap<(String, i32), Millis>,
    pub(super) current: HashMap<String, Millis>,
}

impl Watermarks {
    pub(super) fn of<'a>(
        &mut self,
        tenant: &str,
        lateness: Millis,
        owned: impl Iterator<Item = &'a (String, i32)>,
        idle: &BTreeSet<(String, i32)>,
    ) -> Option<Millis> {
        let parts = self.maxima.get(tenant);
        let mut edge: Option<Millis> = None;
        let mut any_active = false;
        for k in owned.filter(|k| !idle.contains(*k)) {
            any_active = true;
            let progress = parts
                .and_then(|p| p.get(k))
                .or_else(|| self.overall.get(k))
                .copied();
            match progress {
                // Not read from yet: holds the watermark where it is.
                None => return self.current.get(tenant).copied(),
                Some(m) => edge = Some(edge.map_or(m, |e| e.min(m))),
            }
        }
        if !any_active {
            edge = parts.and_then(|p| p.values().copied().max());
        }
        let Some(edge) = edge else {
            return self.current.get(tenant).copied();
        };
        let w = edge.saturating_sub(lateness);
        let slot = self.current.entry(tenant.to_owned()).or_insert(w);
        *slot = (*slot).max(w);
        Some(*slot)
    }

    pub(super) fn saw(&mut self, tenant: &str, partition: &(String, i32), time: Millis) {
        let parts = self.maxima.entry(tenant.to_owned()).or_default();
        for m in [parts, &mut self.overall] {
            match m.get_mut(partition) {
                Some(m) => *m = (*m).max(time),
                None => {
                    m.insert(partition.clone(), time);
                }
            }
        }
    }

    pub(super) fn snapshot(&self) -> WatermarkState {
        let mut s = WatermarkState::default();
        for (tenant, parts) in &self.maxima {
            for ((topic, p), m) in parts {
                s.maxima.push((tenant.clone(), topic.clone(), *p, *m));
            }
        }
        s.watermarks = self.current.iter().map(|(t, w)| (t.clone(), *w)).collect();
        s.maxima.sort();
        s.watermarks.sort();
        s
    }

    pub(super) fn restore(s: &WatermarkState) -> Self {
        let mut w = Watermarks::default();
        for (tenant, topic, p, m) in &s.maxima {
            w.saw(tenant, &(topic.clone(), *p), *m);
        }
        // `overall` is the maximum over tenants, which the per-tenant maxima rebuild.
        w.current = s.watermarks.iter().cloned().collect();
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(p: i32) -> (String, i32) {
        ("t".to_owned(), p)
    }

    #[test]
    fn watermark_is_the_minimum_over_active_partitions_and_never_goes_back() {
        let mut w = Watermarks::default();
        let owned = [part(0), part(1), part(2)];
        let none = BTreeSet::new();
        assert_eq!(w.of("h", 10, owned.iter(), &none), None, "nothing read yet");
        w.saw("h", &part(0), 1_000);
        w.saw("h", &part(1), 400);
        assert_eq!(
            w.of("h", 10, owned.iter(), &none),
            None,
            "partition 2, not read from yet, holds it back"
        );
        w.saw("other", &part(2), 700);
        assert_eq!(
            w.of("h", 10, owned.iter(), &none),
            Some(390),
            "the slowest partition counts; partition 2 by its overall progress (700)"
        );
        w.saw("other", &part(1), 9_000);
        assert_eq!(
            w.of("h", 10, owned.iter(), &none),
            Some(390),
            "another tenant's clock on a partition h has used does not move h"
        );
        let idle: BTreeSet<_> = [part(1)].into_iter().collect();
        assert_eq!(
            w.of("h", 10, owned.iter(), &idle),
            Some(690),
            "an idle partition does not stall it"
        );
        assert_eq!(
            w.of("h", 10, owned.iter(), &none),
            Some(690),
            "partition 1 active again: the watermark does not go back"
        );
        let all: BTreeSet<_> = owned.iter().cloned().collect();
        assert_eq!(
            w.of("h", 10, owned.iter(), &all),
            Some(990),
            "all idle: the tenant's greatest time"
        );
        let restored = Watermarks::restore(&w.snapshot());
        assert_eq!(restored.snapshot(), w.snapshot());
        assert_eq!(restored.overall, w.overall);
    }
}
