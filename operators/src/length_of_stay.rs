//! Length of stay per care unit: the `length_of_stay` view (the digital twin reads it).
//!
//! A *unit stay* runs from an event that places an encounter in a care unit (admit or
//! transfer) to the encounter's next event. Only completed unit stays count. Quantiles use
//! the nearest-rank method: the p-quantile of n sorted stays is the stay at rank ⌈p·n⌉.
//!
//! ## Incremental contract
//! Input: `Adt` updates. Stage 1 reduces per `(tenant, encounter)` (events ordered by
//! `(event_time, kind, event_id)`) to its completed unit stays: O(events of the encounter) per
//! change. Stage 2 reduces per `(tenant, care unit)` over stay lengths: O(distinct lengths in
//! the unit) per change. State: all applied ADT events and one record per unit stay.

use crate::census::by_encounter;
use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use wardstream_schemas::time::MINUTE_MS;

/// The length-of-stay distribution of one care unit, in whole minutes.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LengthOfStayRow {
    /// Tenant.
    pub tenant_id: String,
    /// Care unit.
    pub care_unit: String,
    /// Completed unit stays.
    pub stays: i64,
    /// Sum of their lengths (mean = total / stays).
    pub total_minutes: i64,
    /// Shortest.
    pub min_minutes: i64,
    /// Median (nearest rank).
    pub p50_minutes: i64,
    /// 90th percentile (nearest rank).
    pub p90_minutes: i64,
    /// Longest.
    pub max_minutes: i64,
}

/// The value at 1-based nearest rank `rank` of a sorted multiset given as `(value, count)`.
pub fn at_rank<'a>(sorted: impl Iterator<Item = (&'a i64, isize)>, rank: i64) -> i64 {
    let mut seen = 0i64;
    let mut last = 0;
    for (v, c) in sorted {
        seen += c as i64;
        last = *v;
        if seen >= rank {
            return *v;
        }
    }
    last
}

/// The `length_of_stay` view.
pub fn length_of_stay_view<'s>(
    adt: VecCollection<'s, u64, wardstream_schemas::Adt>,
) -> VecCollection<'s, u64, LengthOfStayRow> {
    by_encounter(adt)
        .reduce_named("Unit stays", |_enc, input, output| {
            // Sorted by (time, kind, id): consecutive events bound each unit stay.
            for pair in input.windows(2) {
                let (((start, _, _), unit), _) = &pair[0];
                let (((end, _, _), _), _) = &pair[1];
                if let Some(unit) = unit {
                    let minutes = (end - start).div_euclid(MINUTE_MS);
                    output.push(((unit.clone(), *start, minutes), 1isize));
                }
            }
        })
        .map(|((tenant, _enc), (unit, _start, minutes))| ((tenant, unit), minutes))
        .reduce_named(
            "LOS distribution",
            |(tenant, unit): &(String, String), input, output| {
                let stays: i64 = input.iter().map(|(_, c)| *c as i64).sum();
                let total: i64 = input.iter().map(|(m, c)| **m * *c as i64).sum();
                let rank = |num: i64, den: i64| (num * stays + den - 1) / den;
                let row = LengthOfStayRow {
                    tenant_id: tenant.clone(),
                    care_unit: unit.clone(),
                    stays,
                    total_minutes: total,
                    min_minutes: input.first().map(|(m, _)| **m).unwrap_or(0),
                    p50_minutes: at_rank(input.iter().map(|(m, c)| (*m, *c)), rank(1, 2)),
                    p90_minutes: at_rank(input.iter().map(|(m, c)| (*m, *c)), rank(9, 10)),
                    max_minutes: input.last().map(|(m, _)| **m).unwrap_or(0),
                };
                output.push((row, 1isize));
            },
        )
        .map(|(_, row)| row)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let values = [(1i64, 1isize), (5, 2), (9, 1)]; // 1,5,5,9
        let it = || values.iter().map(|(v, c)| (v, *c));
        assert_eq!(at_rank(it(), 1), 1);
        assert_eq!(at_rank(it(), 2), 5);
        assert_eq!(at_rank(it(), 3), 5);
        assert_eq!(at_rank(it(), 4), 9);
    }
}
