//! All views, assembled from one ingested event collection.

use crate::boarding::{BoardingRow, ed_boarding_view};
use crate::census::{
    AdtHourlyRow, Capacity, CensusRow, adt_hourly_view, census_from_locations, encounter_locations,
};
use crate::length_of_stay::{LengthOfStayRow, length_of_stay_view};
use crate::news2::{AlertRow, News2Row, alerts_view, news2_view};
use crate::no_show::{NoShowRow, no_show_view};
use crate::revenue::{RevenueRow, revenue_view};
use differential_dataflow::VecCollection;
use wardstream_schemas::Event;

/// The view collections of one dataflow.
pub struct Views<'s> {
    /// `census`.
    pub census: VecCollection<'s, u64, CensusRow>,
    /// `adt_hourly`.
    pub adt_hourly: VecCollection<'s, u64, AdtHourlyRow>,
    /// `news2`.
    pub news2: VecCollection<'s, u64, News2Row>,
    /// `alerts`.
    pub alerts: VecCollection<'s, u64, AlertRow>,
    /// `no_show`.
    pub no_show: VecCollection<'s, u64, NoShowRow>,
    /// `revenue`.
    pub revenue: VecCollection<'s, u64, RevenueRow>,
    /// `length_of_stay`.
    pub length_of_stay: VecCollection<'s, u64, LengthOfStayRow>,
    /// `ed_boarding`.
    pub ed_boarding: VecCollection<'s, u64, BoardingRow>,
}

/// Builds every view from the ingested events and the care units' capacities.
pub fn build_views<'s>(
    events: VecCollection<'s, u64, Event>,
    capacity: VecCollection<'s, u64, Capacity>,
) -> Views<'s> {
    let adt = events
        .clone()
        .flat_map(|e| if let Event::Adt(a) = e { Some(a) } else { None });
    let vitals = events.clone().flat_map(|e| {
        if let Event::VitalSign(v) = e {
            Some(v)
        } else {
            None
        }
    });
    let appointments = events.clone().flat_map(|e| {
        if let Event::Appointment(a) = e {
            Some(a)
        } else {
            None
        }
    });
    let charges = events.flat_map(|e| {
        if let Event::Charge(c) = e {
            Some(c)
        } else {
            None
        }
    });
    let news2 = news2_view(vitals);
    let locations = encounter_locations(adt.clone());
    Views {
        census: census_from_locations(locations.clone(), capacity),
        adt_hourly: adt_hourly_view(adt.clone()),
        alerts: alerts_view(news2.clone(), locations),
        news2,
        no_show: no_show_view(appointments),
        revenue: revenue_view(charges),
        ed_boarding: ed_boarding_view(adt.clone()),
        length_of_stay: length_of_stay_view(adt),
    }
}
