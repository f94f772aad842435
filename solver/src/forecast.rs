//! Census forecast per care unit and hour, from one consistent snapshot of the `census` and
//! `adt_hourly` views.
//!
//! The past census of a unit is rebuilt backwards from its current census and its hourly net
//! movements (admissions + transfers in − transfers out − discharges). The forecast for an
//! hour `t` ahead is the unit's hour-of-week mean plus today's deviation from it, decaying
//! with a half-life (default 24 h), plus scheduled admissions while they stay:
//!
//! `ĉ(t) = P(how(t)) + (c_now − P(how_now)) · 2^(−t / half_life) + Σ scheduled(t)`,
//!
//! clamped to `[0, beds]`. With less than a week of history the profile is the overall mean
//! (a flat profile), so the forecast is current census decaying toward it. Hours are UTC, as
//! the views are.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC), as in the views.
pub type Millis = i64;
const HOUR_MS: i64 = 3_600_000;

/// Current census of one unit (a `census` view row).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UnitCensus {
    /// Care unit.
    pub unit: String,
    /// Patients in the unit now.
    pub patients: i64,
    /// Staffed beds, when configured.
    pub beds: Option<u32>,
}

/// Net movement of one unit in one hour (an `adt_hourly` view row, netted).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Movement {
    /// Care unit.
    pub unit: String,
    /// Start of the hour, UTC milliseconds.
    pub hour: Millis,
    /// Admissions + transfers in − transfers out − discharges.
    pub net: i64,
}

/// The two views at one frontier: what the forecast reads.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CensusSnapshot {
    /// "Now": the greatest event time the views have seen.
    pub at: Millis,
    /// Current census per unit.
    pub units: Vec<UnitCensus>,
    /// Hourly net movements per unit.
    pub movements: Vec<Movement>,
}

/// Patients expected to arrive on a unit at a time and stay a while (elective surgery,
/// planned transfers).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScheduledAdmission {
    /// Care unit.
    pub unit: String,
    /// Arrival, UTC milliseconds.
    pub at: Millis,
    /// Number of patients.
    pub patients: u32,
    /// Expected stay in hours.
    pub hours: f64,
}

/// Forecast settings.
#[derive(Clone, Debug)]
pub struct ForecastOptions {
    /// Half-life of today's deviation from the hour-of-week profile, hours.
    pub half_life_hours: f64,
    /// Hours of history used for the profile (default 8 weeks).
    pub history_hours: usize,
}

impl Default for ForecastOptions {
    fn default() -> Self {
        ForecastOptions {
            half_life_hours: 24.0,
            history_hours: 8 * 168,
        }
    }
}

/// The census forecast of one unit, one value per hour from the forecast's start.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitForecast {
    /// Care unit.
    pub unit: String,
    /// Census now.
    pub current: i64,
    /// Hours of history the profile used.
    pub history_hours: usize,
    /// Expected patients per hour.
    pub hourly: Vec<f64>,
}

/// Forecasts `hours` hours of census for `unit`, starting at `start` (UTC milliseconds,
/// usually the start of the roster's day 0), from `snapshot`.
///
/// A unit absent from the snapshot has a census of 0 and no history; `beds` caps the forecast.
pub fn forecast_unit(
    snapshot: &CensusSnapshot,
    unit: &str,
    beds: Option<u32>,
    start: Millis,
    hours: usize,
    scheduled: &[ScheduledAdmission],
    options: &ForecastOptions,
) -> UnitForecast {
    let current = snapshot
        .units
        .iter()
        .filter(|u| u.unit == unit)
        .map(|u| u.patients)
        .sum::<i64>()
        .max(0);
    let now_hour = snapshot.at.div_euclid(HOUR_MS);
    // Net movement per absolute hour, for this unit, within the history window.
    let first_hour = now_hour - options.history_hours as i64 + 1;
    let mut net: BTreeMap<i64, i64> = BTreeMap::new();
    for m in snapshot.movements.iter().filter(|m| m.unit == unit) {
        let h = m.hour.div_euclid(HOUR_MS);
        if h >= first_hour && h <= now_hour {
            *net.entry(h).or_default() += m.net;
        }
    }
    // Census at the end of each past hour, walking back from now.
    let history_hours = match net.keys().next() {
        Some(&h) => (now_hour - h + 1) as usize,
        None => 0,
    };
    let mut sums = [0.0f64; 168];
    let mut counts = [0u32; 168];
    let mut census = current;
    for h in (now_hour - history_hours as i64 + 1..=now_hour).rev() {
        let how = hour_of_week(h);
        sums[how] += census.max(0) as f64;
        counts[how] += 1;
        census -= net.get(&h).copied().unwrap_or(0);
    }
    let overall = if history_hours > 0 {
        sums.iter().sum::<f64>() / f64::from(counts.iter().sum::<u32>())
    } else {
        current as f64
    };
    let weekly = history_hours >= 168;
    let profile = |h: i64| -> f64 {
        let how = hour_of_week(h);
        if weekly && counts[how] > 0 {
            sums[how] / f64::from(counts[how])
        } else {
            overall
        }
    };
    let deviation = current as f64 - profile(now_hour);
    let start_hour = start.div_euclid(HOUR_MS);
    let decay = 0.5f64.powf(1.0 / options.half_life_hours.max(1e-6));
    let hourly = (0..hours as i64)
        .map(|k| {
            let h = start_hour + k;
            let ahead = (h - now_hour).max(0) as f64;
            let mut value = profile(h) + deviation * decay.powf(ahead);
            for s in scheduled.iter().filter(|s| s.unit == unit) {
                let from = s.at.div_euclid(HOUR_MS);
                let to = from + s.hours.ceil() as i64;
                if h >= from && h < to {
                    value += f64::from(s.patients);
                }
            }
            let value = value.max(0.0);
            beds.map_or(value, |b| value.min(f64::from(b)))
        })
        .collect();
    UnitForecast {
        unit: unit.to_owned(),
        current,
        history_hours,
        hourly,
    }
}

/// Hour of the week, 0 = Monday 00:00 UTC (the Unix epoch was a Thursday).
fn hour_of_week(hour: i64) -> usize {
    (hour + 3 * 24).rem_euclid(168) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot(current: i64, movements: Vec<(i64, i64)>, at: i64) -> CensusSnapshot {
        CensusSnapshot {
            at: at * HOUR_MS,
            units: vec![UnitCensus {
                unit: "ICU".into(),
                patients: current,
                beds: Some(12),
            }],
            movements: movements
                .into_iter()
                .map(|(h, net)| Movement {
                    unit: "ICU".into(),
                    hour: h * HOUR_MS,
                    net,
                })
                .collect(),
        }
    }

    #[test]
    fn hour_of_week_starts_on_monday() {
        // 1970-01-05 00:00 UTC was a Monday: 4 days after the epoch.
        assert_eq!(hour_of_week(4 * 24), 0);
        assert_eq!(hour_of_week(0), 72);
    }

    #[test]
    fn without_history_the_current_census_persists() {
        let s = snapshot(7, vec![], 1000);
        let f = forecast_unit(
            &s,
            "ICU",
            Some(12),
            1001 * HOUR_MS,
            48,
            &[],
            &Default::default(),
        );
        assert!(
            f.hourly.iter().all(|&c| (c - 7.0).abs() < 1e-9),
            "{:?}",
            f.hourly
        );
    }

    #[test]
    fn a_deviation_decays_toward_the_profile_with_its_half_life() {
        // Two weeks of flat census 4, then 4 admissions in the last hour: now 8.
        let now = 2000;
        let mut moves: Vec<(i64, i64)> = vec![(now - 335, 4)];
        moves.push((now, 4));
        let s = snapshot(8, moves, now);
        let f = forecast_unit(
            &s,
            "ICU",
            None,
            (now + 1) * HOUR_MS,
            49,
            &[],
            &Default::default(),
        );
        // Two samples per hour of week, all 4 but now's (4 and 8): the profile says 6 now,
        // so the deviation is 2; 24 h ahead half of it remains, 48 h ahead a quarter.
        assert!((f.hourly[23] - 5.0).abs() < 1e-9, "{}", f.hourly[23]);
        assert!((f.hourly[47] - 4.5).abs() < 1e-9, "{}", f.hourly[47]);
        assert_eq!(f.history_hours, 336);
    }

    #[test]
    fn scheduled_admissions_add_while_they_stay_and_beds_cap() {
        let s = snapshot(10, vec![], 100);
        let sched = [ScheduledAdmission {
            unit: "ICU".into(),
            at: 105 * HOUR_MS,
            patients: 3,
            hours: 2.0,
        }];
        let f = forecast_unit(
            &s,
            "ICU",
            Some(12),
            100 * HOUR_MS,
            10,
            &sched,
            &Default::default(),
        );
        assert_eq!(f.hourly[4], 10.0);
        assert_eq!(f.hourly[5], 12.0); // 13 capped at 12 beds
        assert_eq!(f.hourly[6], 12.0);
        assert_eq!(f.hourly[7], 10.0);
    }
}
