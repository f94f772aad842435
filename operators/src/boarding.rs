//! Boarding: the `ed_boarding` view, one row per admitted encounter that waited where the
//! decision to admit found it.
//!
//! Definition (ACEP, "Definition of boarded patient", 2011/2018): a boarded patient has been
//! admitted to the facility but remains in the emergency department. Here boarding starts at
//! an encounter's first `decision_to_admit` event ([`AdtKind::DecisionToAdmit`]; HL7 v2 A06)
//! in the unit that event names, and ends at the encounter's first later movement out of that
//! unit: a transfer to another unit (the inpatient bed) or a discharge (e.g. left, died, or
//! admitted elsewhere). A transfer within the unit (another bed) does not end it. The same
//! interval is CMS's ED-2 measure ("admit decision time to ED departure time for admitted
//! patients") when the unit is the ED; MIMIC-IV's `admittime` within an ED stay is the usual
//! source of that decision time.
//!
//! Events are ordered per encounter by `(event_time, kind, event_id)`, kinds in the order admit,
//! decision to admit, transfer, discharge. A decision at the same time as the transfer out is
//! a boarding of 0 minutes.
//!
//! ## Incremental contract
//! Input: `Adt` updates. One reduce per `(tenant, encounter)` over the encounter's events
//! (O(events of the encounter) per change); the output is at most one row per encounter.
//! State: the applied ADT events of encounters.

use crate::census::{Step, encounter_steps};
use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use wardstream_schemas::time::MINUTE_MS;
use wardstream_schemas::{Adt, AdtKind, Millis};

/// One boarding episode: an admitted patient waiting in `care_unit` (usually the ED) for an
/// inpatient bed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BoardingRow {
    /// Tenant.
    pub tenant_id: String,
    /// The encounter admitted.
    pub encounter_id: String,
    /// Where the patient waits: the unit the decision to admit names.
    pub care_unit: String,
    /// The decision to admit (event time, UTC ms).
    pub decided_at: Millis,
    /// When the patient left `care_unit` (`None`: still boarding).
    pub departed_at: Option<Millis>,
    /// Where the patient went (`None`: still boarding, or discharged from `care_unit`).
    pub to_care_unit: Option<String>,
}

impl BoardingRow {
    /// Whole minutes from the decision to the departure (`None` while boarding).
    pub fn boarding_minutes(&self) -> Option<i64> {
        self.departed_at
            .map(|d| (d - self.decided_at).div_euclid(MINUTE_MS))
    }
}

/// Leaving the boarding unit: when, and to which unit (`None`: discharged).
pub type Departure = (Millis, Option<String>);

/// The boarding episode of one encounter's events, sorted: from the first decision to admit to
/// the first later movement out of its unit, as `(decided_at, unit, departure)`.
pub fn episode<'a>(
    events: impl IntoIterator<Item = &'a Step>,
) -> Option<(Millis, String, Option<Departure>)> {
    let mut events = events.into_iter();
    let (decided_at, unit) = events.by_ref().find_map(|((t, kind, _), unit)| {
        (*kind == AdtKind::DecisionToAdmit)
            .then(|| unit.clone().map(|u| (*t, u)))
            .flatten()
    })?;
    let departure = events.find_map(|((t, kind, _), to)| match kind {
        AdtKind::Discharge => Some((*t, None)),
        AdtKind::Transfer if to.as_deref() != Some(unit.as_str()) => Some((*t, to.clone())),
        _ => None,
    });
    Some((decided_at, unit, departure))
}

/// The `ed_boarding` view.
pub fn ed_boarding_view<'s>(
    adt: VecCollection<'s, u64, Adt>,
) -> VecCollection<'s, u64, BoardingRow> {
    encounter_steps(adt)
        .reduce_named("Boarding", |(tenant, encounter), input, output| {
            let steps = input.iter().map(|(step, _)| *step);
            if let Some((decided_at, care_unit, departure)) = episode(steps) {
                let (departed_at, to_care_unit) = departure.unzip();
                output.push((
                    BoardingRow {
                        tenant_id: tenant.clone(),
                        encounter_id: encounter.clone(),
                        care_unit,
                        decided_at,
                        departed_at,
                        to_care_unit: to_care_unit.flatten(),
                    },
                    1isize,
                ));
            }
        })
        .map(|(_, row)| row)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(t: Millis, kind: AdtKind, unit: Option<&str>) -> Step {
        ((t, kind, format!("e{t}")), unit.map(str::to_owned))
    }

    #[test]
    fn boarding_runs_from_the_decision_to_the_first_move_out_of_its_unit() {
        let ed = Some("ED");
        let events = [
            step(0, AdtKind::Admit, ed),
            step(10, AdtKind::DecisionToAdmit, ed),
            step(20, AdtKind::Transfer, ed), // another ED bed
            step(30, AdtKind::Transfer, Some("MED")),
            step(40, AdtKind::Transfer, Some("ICU")),
        ];
        assert_eq!(
            episode(&events),
            Some((10, "ED".into(), Some((30, Some("MED".into())))))
        );
        // Still boarding; then discharged from the ED (no destination).
        assert_eq!(episode(&events[..3]), Some((10, "ED".into(), None)));
        let left = [
            events[0].clone(),
            events[1].clone(),
            step(50, AdtKind::Discharge, None),
        ];
        assert_eq!(episode(&left), Some((10, "ED".into(), Some((50, None)))));
        // No decision, no episode; a second decision does not start another.
        assert_eq!(episode(&[events[0].clone(), events[3].clone()]), None);
        let twice = [
            events[0].clone(),
            events[1].clone(),
            step(15, AdtKind::DecisionToAdmit, ed),
            events[3].clone(),
        ];
        assert_eq!(episode(&twice).map(|e| e.0), Some(10));
    }

    #[test]
    fn minutes_round_down() {
        let row = BoardingRow {
            tenant_id: "t".into(),
            encounter_id: "e".into(),
            care_unit: "ED".into(),
            decided_at: 0,
            departed_at: Some(90 * MINUTE_MS - 1),
            to_care_unit: None,
        };
        assert_eq!(row.boarding_minutes(), Some(89));
    }
}
