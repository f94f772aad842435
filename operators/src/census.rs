//! Bed census and ADT flow: the `census` and `adt_hourly` views.
//!
//! ## Incremental contract
//! Input: `Adt` updates and [`Capacity`] updates. `census` reduces per `(tenant, encounter)` to
//! the encounter's latest movement by `(event_time, kind, event_id)` (kind order admit <
//! transfer < discharge breaks ties at one instant; a decision to admit moves nobody and is
//! left out); an encounter whose latest movement is not a discharge is in that event's care
//! unit ([`encounter_locations`], which the `alerts` view shares). It then counts per `(tenant, care unit)` and outer-joins the
//! bed counts (a reduce over both sides, so units with beds and no patients show 0, and units
//! with patients and no configured beds show no occupancy). A change costs O(events of that
//! encounter) + O(1). `adt_hourly` counts events per `(tenant, care unit, hour)`: O(1) per change.
//! State: every applied ADT event is kept in the arrangements (ADT volume is small: a few
//! events per stay).

use differential_dataflow::VecCollection;
use serde::{Deserialize, Serialize};
use wardstream_schemas::time::hour_start;
use wardstream_schemas::{Adt, AdtKind, Millis};

/// The care unit name used when an event does not say which unit a patient left.
pub const UNKNOWN_UNIT: &str = "(unknown)";

/// Staffed beds of a care unit (reference data: from configuration or the generator).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Capacity {
    /// Tenant.
    pub tenant_id: String,
    /// Care unit.
    pub care_unit: String,
    /// Staffed beds.
    pub beds: u32,
}

/// Current census of one care unit.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct CensusRow {
    /// Tenant.
    pub tenant_id: String,
    /// Care unit.
    pub care_unit: String,
    /// Patients currently in the unit.
    pub patients: i64,
    /// Staffed beds, when configured; occupancy = patients / beds.
    pub beds: Option<u32>,
}

/// ADT movements of one care unit in one hour (UTC).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AdtHourlyRow {
    /// Tenant.
    pub tenant_id: String,
    /// Care unit.
    pub care_unit: String,
    /// Start of the hour.
    pub hour: Millis,
    /// Admissions into the unit.
    pub admissions: i64,
    /// Transfers into the unit.
    pub transfers_in: i64,
    /// Transfers out of the unit.
    pub transfers_out: i64,
    /// Discharges from the unit.
    pub discharges: i64,
}

/// The ordering key of an encounter's events: time, then kind, then id.
pub type AdtOrder = (Millis, AdtKind, String);

/// `(tenant, encounter)`.
pub type EncounterKey = (String, String);

/// One event of an encounter: its ordering key and the care unit after it (`None` after a
/// discharge).
pub type Step = (AdtOrder, Option<String>);

/// An encounter's movements (admit, transfer, discharge; a decision to admit moves nobody
/// and is left out) as `((tenant, encounter), step)`.
pub fn by_encounter<'s>(
    adt: VecCollection<'s, u64, Adt>,
) -> VecCollection<'s, u64, (EncounterKey, Step)> {
    encounter_steps(adt.filter(|a| a.kind != AdtKind::DecisionToAdmit))
}

/// Every ADT event of an encounter, decisions to admit included, as `((tenant, encounter),
/// step)`.
pub fn encounter_steps<'s>(
    adt: VecCollection<'s, u64, Adt>,
) -> VecCollection<'s, u64, (EncounterKey, Step)> {
    adt.map(|a| {
        let unit = if a.kind == AdtKind::Discharge {
            None
        } else {
            a.care_unit
        };
        (
            (a.tenant_id, a.encounter_id),
            ((a.event_time, a.kind, a.event_id), unit),
        )
    })
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Side {
    Patients(i64),
    Beds(u32),
}

/// Where each encounter is now: `((tenant, encounter), unit)` after its latest movement, the
/// unit `None` once discharged. Encounters without ADT events are absent.
pub fn encounter_locations<'s>(
    adt: VecCollection<'s, u64, Adt>,
) -> VecCollection<'s, u64, (EncounterKey, Option<String>)> {
    by_encounter(adt).reduce_named("Latest location", |_enc, input, output| {
        if let Some(((_, unit), _)) = input.last() {
            output.push((unit.clone(), 1isize));
        }
    })
}

/// The `census` view: patients per care unit now, with beds where configured.
pub fn census_view<'s>(
    adt: VecCollection<'s, u64, Adt>,
    capacity: VecCollection<'s, u64, Capacity>,
) -> VecCollection<'s, u64, CensusRow> {
    census_from_locations(encounter_locations(adt), capacity)
}

/// The `census` view from [`encounter_locations`] (shared with the `alerts` view).
pub fn census_from_locations<'s>(
    locations: VecCollection<'s, u64, (EncounterKey, Option<String>)>,
    capacity: VecCollection<'s, u64, Capacity>,
) -> VecCollection<'s, u64, CensusRow> {
    let located = locations.flat_map(|((tenant, _enc), unit)| unit.map(|u| (tenant, u)));
    let patients = located
        .count()
        .map(|(key, n)| (key, Side::Patients(n as i64)));
    let beds = capacity.map(|c| ((c.tenant_id, c.care_unit), Side::Beds(c.beds)));
    patients
        .concat(beds)
        .reduce_named(
            "Census",
            |(tenant, unit): &(String, String), input, output| {
                let mut row = CensusRow {
                    tenant_id: tenant.clone(),
                    care_unit: unit.clone(),
                    patients: 0,
                    beds: None,
                };
                for (side, mult) in input {
                    match side {
                        Side::Patients(n) => row.patients += n * (*mult as i64),
                        Side::Beds(b) => {
                            row.beds = Some(row.beds.unwrap_or(0) + b * (*mult).max(0) as u32)
                        }
                    }
                }
                output.push((row, 1isize));
            },
        )
        .map(|(_, row)| row)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
enum Movement {
    Admission,
    TransferIn,
    TransferOut,
    Discharge,
}

/// The `adt_hourly` view: admissions, transfers in/out and discharges per care unit and hour
/// (decisions to admit are not movements and do not count).
pub fn adt_hourly_view<'s>(
    adt: VecCollection<'s, u64, Adt>,
) -> VecCollection<'s, u64, AdtHourlyRow> {
    adt.flat_map(|a| {
        let hour = hour_start(a.event_time);
        let from = || {
            a.from_care_unit
                .clone()
                .unwrap_or_else(|| UNKNOWN_UNIT.to_owned())
        };
        let to = || {
            a.care_unit
                .clone()
                .unwrap_or_else(|| UNKNOWN_UNIT.to_owned())
        };
        let tenant = a.tenant_id.clone();
        let mut out = Vec::with_capacity(2);
        match a.kind {
            AdtKind::Admit => out.push(((tenant, to(), hour), Movement::Admission)),
            AdtKind::Transfer => {
                out.push(((tenant.clone(), to(), hour), Movement::TransferIn));
                out.push(((tenant, from(), hour), Movement::TransferOut));
            }
            AdtKind::Discharge => out.push(((tenant, from(), hour), Movement::Discharge)),
            // Nobody moves: boarding is the `ed_boarding` view's.
            AdtKind::DecisionToAdmit => {}
        }
        out
    })
    .reduce_named(
        "ADT per hour",
        |(tenant, unit, hour): &(String, String, Millis), input, output| {
            let mut row = AdtHourlyRow {
                tenant_id: tenant.clone(),
                care_unit: unit.clone(),
                hour: *hour,
                admissions: 0,
                transfers_in: 0,
                transfers_out: 0,
                discharges: 0,
            };
            for (movement, n) in input {
                let n = *n as i64;
                match movement {
                    Movement::Admission => row.admissions += n,
                    Movement::TransferIn => row.transfers_in += n,
                    Movement::TransferOut => row.transfers_out += n,
                    Movement::Discharge => row.discharges += n,
                }
            }
            output.push((row, 1isize));
        },
    )
    .map(|(_, row)| row)
}
