//! Hospital staffing: a roster file (units, shifts, contracts, nurses, rules) plus a census
//! forecast becomes a [`Problem`] whose hard covers are the nurse-to-patient ratios.
//!
//! Demand per unit and hour, "at all times including break relief":
//! 1. patients `p = ⌈ĉ + z·√ĉ⌉` for the forecast census `ĉ` (`z = rules.census_z`, default 1:
//!    about the 84th percentile under a Poisson census), capped at the unit's beds;
//! 2. licensed nurses `n = ⌈p / ratio⌉` from the ratio table (default California Title 22
//!    §70217, [`title22`]);
//! 3. break relief `⌈n · b / L⌉` nurses, `b` the break minutes of a shift of `L` minutes
//!    (California: a 30-minute meal and a 10-minute rest per 4 hours worked; a 12-hour shift
//!    has 60 minutes), so that someone holds each patient while their nurse is on break;
//! 4. plus a charge nurse when the unit has one and it does not count in the ratio.
//!
//! Hours covered by the same set of `(day, shift)` slots are grouped, and each group becomes
//! hard covers: licensed nurses ≥ the peak requirement, RNs ≥ `rn_share` of it, and one
//! charge-qualified nurse. Agency RNs may top up the licensed and RN covers.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};

use crate::forecast::{CensusSnapshot, ForecastOptions, Millis, ScheduledAdmission, UnitForecast};
use crate::problem::{
    Agency, Contract, Cover, Employee, Pay, Problem, Request, ShiftType, Skills, Unit, Weights,
};
use crate::{Error, Result};

/// The default ratio table: most patients per licensed nurse by unit kind (Title 22 §70217).
pub fn title22() -> BTreeMap<String, f64> {
    toml::from_str(include_str!("title22.toml")).unwrap_or_default()
}

/// A roster file as written by a nurse manager (TOML). See `solver/rosters/` for examples.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RosterFile {
    /// Name shown in reports.
    pub name: String,
    /// Day 0 of the horizon.
    pub start: NaiveDate,
    /// Currency of all money amounts (ISO 4217), minor units in the file.
    #[serde(default = "default_currency")]
    pub currency: String,
    /// Overrides of the ratio table, unit kind → patients per licensed nurse.
    #[serde(default)]
    pub ratios: BTreeMap<String, f64>,
    /// Costs, penalties and demand rules.
    #[serde(default)]
    pub rules: Rules,
    /// Shift types.
    pub shifts: Vec<ShiftSpec>,
    /// Care units (names as in the `census` view).
    pub units: Vec<UnitSpec>,
    /// Named contracts.
    pub contracts: BTreeMap<String, ContractSpec>,
    /// Nurses, one by one or as teams.
    pub staff: Vec<StaffSpec>,
    /// Known future admissions (elective surgery, planned transfers).
    #[serde(default)]
    pub scheduled_admissions: Vec<ScheduledSpec>,
}

fn default_currency() -> String {
    "USD".into()
}

/// Costs, penalties and demand rules. Money in minor units (cents).
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Rules {
    /// `z` in `⌈ĉ + z·√ĉ⌉`: how far above the expected census to staff.
    pub census_z: f64,
    /// Agency price per hour; `None` means no agency.
    pub agency_hourly: Option<f64>,
    /// Most agency nurses per unit and shift.
    pub agency_max_per_shift: u32,
    /// Regular hours per week before overtime (FLSA: 40).
    pub regular_week_hours: f64,
    /// Overtime pay multiple (FLSA: 1.5).
    pub overtime_multiplier: f64,
    /// Penalty per night of the nurse with the most nights.
    pub fairness_nights: f64,
    /// Penalty per weekend of the nurse with the most weekends.
    pub fairness_weekends: f64,
    /// Penalty per change to a published roster when re-planning.
    pub change_penalty: f64,
    /// Default weight of a shift request.
    pub request_weight: f64,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            census_z: 1.0,
            agency_hourly: None,
            agency_max_per_shift: 2,
            regular_week_hours: 40.0,
            overtime_multiplier: 1.5,
            fairness_nights: 0.0,
            fairness_weekends: 0.0,
            change_penalty: 10_000.0,
            request_weight: 5_000.0,
        }
    }
}

/// A shift type in a roster file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShiftSpec {
    /// Short id (`D`, `N`).
    pub id: String,
    /// Start, `HH:MM` local to the views' clock (UTC).
    pub start: String,
    /// Paid hours.
    pub hours: f64,
    /// Counts as a night for fairness and `max_nights_per_week`.
    #[serde(default)]
    pub night: bool,
    /// Shift ids that may not be worked the day after this one.
    #[serde(default)]
    pub not_followed_by: Vec<String>,
}

/// A care unit in a roster file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnitSpec {
    /// Name as in the `census` view.
    pub name: String,
    /// Kind, a key of the ratio table (`icu`, `med_surg`, …).
    pub kind: String,
    /// Staffed beds (caps the forecast).
    pub beds: Option<u32>,
    /// Skills a nurse needs to work here; default `["ICU"]` for critical-care kinds.
    pub requires: Option<Vec<String>>,
    /// Share of the licensed requirement that must be RNs; default 1 for critical care,
    /// 0.5 otherwise.
    pub rn_share: Option<f64>,
    /// One charge-qualified nurse per shift.
    #[serde(default = "yes")]
    pub charge_nurse: bool,
    /// Whether the charge nurse counts toward the ratio.
    #[serde(default)]
    pub charge_in_ratio: bool,
    /// A fixed census to plan for instead of the forecast.
    pub census: Option<f64>,
}

fn yes() -> bool {
    true
}

fn critical(kind: &str) -> bool {
    matches!(kind, "icu" | "pacu" | "burn" | "labor_delivery")
}

/// A contract in a roster file, per week so that it scales to any horizon.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ContractSpec {
    /// `[min, max]` paid hours per week.
    pub hours_per_week: [f64; 2],
    /// Most consecutive working days.
    #[serde(default = "four")]
    pub max_consecutive: u32,
    /// Fewest consecutive working days in a run.
    #[serde(default = "one")]
    pub min_consecutive: u32,
    /// Fewest consecutive days off in a break.
    #[serde(default = "one")]
    pub min_days_off: u32,
    /// Most weekends worked per 4 weeks.
    #[serde(default = "two")]
    pub max_weekends_per_4_weeks: f64,
    /// Most night shifts per week.
    pub max_nights_per_week: Option<f64>,
}

fn one() -> u32 {
    1
}
fn two() -> f64 {
    2.0
}
fn four() -> u32 {
    4
}

/// A nurse (`id`) or a team of `count` alike nurses named `prefix-01`… in a roster file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct StaffSpec {
    /// One nurse's id.
    pub id: Option<String>,
    /// A team's id prefix.
    pub prefix: Option<String>,
    /// A team's size.
    pub count: Option<u32>,
    /// `RN`, `LVN`, `ICU`, `charge`.
    pub skills: Vec<String>,
    /// Units, home first.
    pub units: Vec<String>,
    /// Contract name.
    pub contract: String,
    /// Pay per hour, minor units.
    pub hourly: f64,
    /// Dates unavailable.
    #[serde(default)]
    pub days_off: Vec<NaiveDate>,
    /// Shifts the nurse asks to work.
    #[serde(default)]
    pub requests_on: Vec<RequestSpec>,
    /// Shifts the nurse asks not to work.
    #[serde(default)]
    pub requests_off: Vec<RequestSpec>,
}

/// A shift request in a roster file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RequestSpec {
    /// Date.
    pub date: NaiveDate,
    /// Shift id.
    pub shift: String,
    /// Penalty when not granted (default `rules.request_weight`).
    pub weight: Option<f64>,
}

/// A scheduled admission in a roster file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduledSpec {
    /// Unit.
    pub unit: String,
    /// Arrival (UTC), `YYYY-MM-DDTHH:MM:SS`.
    pub at: chrono::NaiveDateTime,
    /// Patients.
    pub patients: u32,
    /// Expected stay, hours.
    pub hours: f64,
}

/// Demand of one unit in one hour of the horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HourDemand {
    /// Forecast census (expected patients).
    pub census: f64,
    /// Patients planned for (`⌈ĉ + z·√ĉ⌉`, capped at beds).
    pub patients: u32,
    /// Licensed nurses the ratio needs.
    pub ratio_nurses: u32,
    /// Break-relief nurses.
    pub relief: u32,
    /// Licensed nurses required in all (ratio + relief + a charge nurse outside the ratio).
    pub licensed: u32,
    /// RNs required among them.
    pub rn: u32,
    /// Charge-qualified nurses required.
    pub charge: u32,
}

/// Demand of one unit over the horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitDemand {
    /// Unit.
    pub unit: String,
    /// Patients per licensed nurse.
    pub ratio: f64,
    /// One entry per hour from day 0, 00:00.
    pub hourly: Vec<HourDemand>,
}

/// A staffing problem with the demand it was built from.
#[derive(Clone, Debug, Serialize)]
pub struct StaffingPlan {
    /// The problem to solve.
    pub problem: Problem,
    /// Currency of money amounts.
    pub currency: String,
    /// Demand per unit and hour.
    pub demand: Vec<UnitDemand>,
    /// The census forecasts behind it.
    pub forecasts: Vec<UnitForecast>,
    /// The `(day, shift)` slots on duty in each hour from day 0, 00:00 ([`covering`]).
    pub hour_slots: Vec<Vec<(usize, usize)>>,
    /// Hours (from day 0, 00:00) no shift of the horizon covers, per unit: they belong to the
    /// previous roster (e.g. the night shift before day 0).
    pub uncovered_hours: usize,
}

impl RosterFile {
    /// Reads a roster file.
    ///
    /// # Errors
    /// [`Error::Io`] or [`Error::Parse`] with TOML's line and column.
    pub fn load(path: &Path) -> Result<RosterFile> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        RosterFile::parse(&text, &path.display().to_string())
    }

    /// Parses roster-file text.
    ///
    /// # Errors
    /// [`Error::Parse`] with TOML's message (line, column, expected key).
    pub fn parse(text: &str, origin: &str) -> Result<RosterFile> {
        toml::from_str(text).map_err(|e| Error::parse(origin, e.to_string()))
    }

    /// Builds the staffing problem for `days` days from a census snapshot (or each unit's
    /// fixed `census`).
    ///
    /// # Errors
    /// [`Error::Invalid`] naming an unknown shift, unit, contract, skill or ratio kind.
    pub fn plan(
        &self,
        days: usize,
        snapshot: &CensusSnapshot,
        options: &ForecastOptions,
    ) -> Result<StaffingPlan> {
        let bad = |m: String| Error::Invalid(m);
        if days == 0 {
            return Err(bad("the horizon has no days".into()));
        }
        let mut ratios = title22();
        ratios.extend(self.ratios.clone());
        let skills = |names: &[String], whose: &str| -> Result<Skills> {
            names.iter().try_fold(Skills::NONE, |acc, n| {
                Skills::parse(n).map(|s| acc.with(s)).ok_or_else(|| {
                    bad(format!(
                        "{whose}: unknown skill {n:?} (RN, LVN, ICU, charge)"
                    ))
                })
            })
        };
        // Shifts.
        let shift_index = |id: &str| self.shifts.iter().position(|s| s.id == id);
        let mut shifts = Vec::new();
        for s in &self.shifts {
            let start = NaiveTime::parse_from_str(&s.start, "%H:%M")
                .map_err(|_| bad(format!("shift {}: start {:?} is not HH:MM", s.id, s.start)))?;
            let mut forbidden_next = Vec::new();
            for n in &s.not_followed_by {
                forbidden_next.push(
                    shift_index(n)
                        .ok_or_else(|| bad(format!("shift {}: unknown shift {n:?}", s.id)))?,
                );
            }
            if !(s.hours > 0.0 && s.hours <= 24.0) {
                return Err(bad(format!("shift {}: hours must be in (0, 24]", s.id)));
            }
            shifts.push(ShiftType {
                id: s.id.clone(),
                start_minute: (chrono::Timelike::num_seconds_from_midnight(&start) / 60),
                minutes: (s.hours * 60.0).round() as u32,
                forbidden_next,
                night: s.night,
            });
        }
        // Units.
        let mut units = Vec::new();
        for u in &self.units {
            let requires = match &u.requires {
                Some(r) => skills(r, &u.name)?,
                None if critical(&u.kind) => Skills::ICU,
                None => Skills::NONE,
            };
            if !ratios.contains_key(&u.kind) {
                return Err(bad(format!(
                    "unit {}: no ratio for kind {:?} (known: {})",
                    u.name,
                    u.kind,
                    ratios.keys().cloned().collect::<Vec<_>>().join(", ")
                )));
            }
            units.push(Unit {
                name: u.name.clone(),
                requires,
            });
        }
        let unit_index = |name: &str| self.units.iter().position(|u| u.name == name);
        let day_of = |date: NaiveDate| -> Option<usize> {
            let d = (date - self.start).num_days();
            (0..days as i64).contains(&d).then_some(d as usize)
        };
        // Staff.
        let scale = days as f64 / 7.0;
        let mut employees = Vec::new();
        for spec in &self.staff {
            let contract = self
                .contracts
                .get(&spec.contract)
                .ok_or_else(|| bad(format!("staff: unknown contract {:?}", spec.contract)))?;
            let ids: Vec<String> = match (&spec.id, &spec.prefix, spec.count) {
                (Some(id), None, None) => vec![id.clone()],
                (None, Some(p), Some(n)) => (1..=n).map(|i| format!("{p}-{i:02}")).collect(),
                _ => return Err(bad("staff: give either id, or prefix and count".into())),
            };
            // A team of 0 is allowed (a vacancy); messages name the team by its prefix.
            let who = spec
                .id
                .clone()
                .or_else(|| spec.prefix.clone())
                .unwrap_or_default();
            let skill_set = skills(&spec.skills, &who)?;
            let mut unit_list = Vec::new();
            for n in &spec.units {
                unit_list
                    .push(unit_index(n).ok_or_else(|| bad(format!("{who}: unknown unit {n:?}")))?);
            }
            let mut max_shifts = vec![u32::MAX; shifts.len()];
            if let Some(nights) = contract.max_nights_per_week {
                for (i, s) in shifts.iter().enumerate() {
                    if s.night {
                        max_shifts[i] = (nights * scale).floor() as u32;
                    }
                }
            }
            let request = |r: &RequestSpec| -> Result<Option<Request>> {
                let shift = shift_index(&r.shift).ok_or_else(|| {
                    bad(format!("{who}: request for unknown shift {:?}", r.shift))
                })?;
                Ok(day_of(r.date).map(|day| Request {
                    day,
                    shift,
                    weight: r.weight.unwrap_or(self.rules.request_weight),
                }))
            };
            let requests = |list: &[RequestSpec]| -> Result<Vec<Request>> {
                let mut out = Vec::with_capacity(list.len());
                for r in list {
                    out.extend(request(r)?);
                }
                Ok(out)
            };
            let on = requests(&spec.requests_on)?;
            let off = requests(&spec.requests_off)?;
            for id in ids {
                employees.push(Employee {
                    id,
                    skills: skill_set,
                    units: unit_list.clone(),
                    contract: Contract {
                        max_shifts: max_shifts.clone(),
                        max_minutes: (contract.hours_per_week[1] * 60.0 * scale).floor() as u32,
                        min_minutes: (contract.hours_per_week[0] * 60.0 * scale).floor() as u32,
                        max_consecutive: contract.max_consecutive,
                        min_consecutive: contract.min_consecutive,
                        min_consecutive_off: contract.min_days_off,
                        max_weekends: (contract.max_weekends_per_4_weeks * days as f64 / 28.0)
                            .ceil() as u32,
                    },
                    days_off: spec.days_off.iter().filter_map(|&d| day_of(d)).collect(),
                    on_requests: on.clone(),
                    off_requests: off.clone(),
                    pay: Pay {
                        hourly: spec.hourly,
                        regular_week_minutes: (self.rules.regular_week_hours * 60.0).round() as u32,
                        overtime_multiplier: self.rules.overtime_multiplier,
                    },
                });
            }
        }

        // Forecast and demand.
        let start_ms: Millis = self
            .start
            .and_time(NaiveTime::MIN)
            .and_utc()
            .timestamp_millis();
        let scheduled: Vec<ScheduledAdmission> = self
            .scheduled_admissions
            .iter()
            .map(|s| ScheduledAdmission {
                unit: s.unit.clone(),
                at: s.at.and_utc().timestamp_millis(),
                patients: s.patients,
                hours: s.hours,
            })
            .collect();
        let hours = days * 24;
        let hour_slots: Vec<Vec<(usize, usize)>> =
            (0..hours).map(|h| covering(&shifts, days, h)).collect();
        let mut forecasts = Vec::new();
        let mut demand = Vec::new();
        let mut covers = Vec::new();
        let mut uncovered = 0;
        for (ui, u) in self.units.iter().enumerate() {
            let forecast = match u.census {
                Some(c) => UnitForecast {
                    unit: u.name.clone(),
                    current: c.round() as i64,
                    history_hours: 0,
                    hourly: vec![c; hours],
                },
                None => crate::forecast::forecast_unit(
                    snapshot, &u.name, u.beds, start_ms, hours, &scheduled, options,
                ),
            };
            let ratio = ratios[&u.kind];
            let rn_share = u
                .rn_share
                .unwrap_or(if critical(&u.kind) { 1.0 } else { 0.5 });
            let mut hourly = Vec::with_capacity(hours);
            for (slots, &census) in hour_slots.iter().zip(&forecast.hourly) {
                let shift_minutes = slots
                    .iter()
                    .map(|&(_, s)| shifts[s].minutes)
                    .max()
                    .unwrap_or(720);
                let high = census + self.rules.census_z * census.max(0.0).sqrt();
                let mut patients = (high - 1e-9).ceil().max(0.0) as u32;
                if let Some(b) = u.beds {
                    patients = patients.min(b);
                }
                let ratio_nurses = (f64::from(patients) / ratio - 1e-9).ceil().max(0.0) as u32;
                let relief = (f64::from(ratio_nurses) * f64::from(break_minutes(shift_minutes))
                    / f64::from(shift_minutes)
                    - 1e-9)
                    .ceil()
                    .max(0.0) as u32;
                let staffed = ratio_nurses > 0;
                let charge = u32::from(u.charge_nurse && staffed);
                let licensed = ratio_nurses + relief + if u.charge_in_ratio { 0 } else { charge };
                let rn = (f64::from(ratio_nurses + relief) * rn_share - 1e-9)
                    .ceil()
                    .max(0.0) as u32;
                hourly.push(HourDemand {
                    census,
                    patients,
                    ratio_nurses,
                    relief,
                    licensed,
                    rn,
                    charge,
                });
            }
            // Group hours by the slots that cover them; each group's peak becomes covers.
            let mut h = 0;
            while h < hours {
                let slots = &hour_slots[h];
                let from = h;
                while h < hours && hour_slots[h] == *slots {
                    h += 1;
                }
                if slots.is_empty() {
                    uncovered += h - from;
                    continue;
                }
                let peak =
                    |f: fn(&HourDemand) -> u32| hourly[from..h].iter().map(f).max().unwrap_or(0);
                let when = format!(
                    "{} {:02}:00–{:02}:00",
                    self.start + chrono::Days::new((from / 24) as u64),
                    from % 24,
                    if h % 24 == 0 { 24 } else { h % 24 }
                );
                for (what, skills, min) in [
                    ("licensed nurses", Skills::LICENSED, peak(|d| d.licensed)),
                    ("RNs", Skills::RN, peak(|d| d.rn)),
                    ("charge nurse", Skills::CHARGE, peak(|d| d.charge)),
                ] {
                    if min == 0 {
                        continue;
                    }
                    covers.push(Cover {
                        slots: slots.to_vec(),
                        unit: ui,
                        skills,
                        min,
                        under_weight: 0.0,
                        preferred_max: u32::MAX,
                        over_weight: 0.0,
                        hard: true,
                        label: format!("{} {what}, {when}", u.name),
                    });
                }
            }
            demand.push(UnitDemand {
                unit: u.name.clone(),
                ratio,
                hourly,
            });
            forecasts.push(forecast);
        }
        let problem = Problem {
            name: self.name.clone(),
            days,
            first_weekday: chrono::Datelike::weekday(&self.start).num_days_from_monday() as u8,
            start_date: Some(self.start),
            shifts,
            units,
            employees,
            covers,
            agency: self.rules.agency_hourly.map(|hourly| Agency {
                hourly,
                max_per_shift: self.rules.agency_max_per_shift,
                skills: Skills::RN,
            }),
            weights: Weights {
                fairness_nights: self.rules.fairness_nights,
                fairness_weekends: self.rules.fairness_weekends,
                change: self.rules.change_penalty,
            },
            published: None,
        };
        problem.validate()?;
        Ok(StaffingPlan {
            problem,
            currency: self.currency.clone(),
            demand,
            forecasts,
            hour_slots,
            uncovered_hours: uncovered,
        })
    }
}

/// The `(day, shift)` slots of the horizon whose shift is on duty during hour `h` (from day 0,
/// 00:00).
pub fn covering(shifts: &[ShiftType], days: usize, h: usize) -> Vec<(usize, usize)> {
    let minute = h as i64 * 60;
    let mut out = Vec::new();
    for d in 0..days {
        for (s, shift) in shifts.iter().enumerate() {
            let start = d as i64 * 1440 + i64::from(shift.start_minute);
            let end = start + i64::from(shift.minutes);
            if start <= minute && minute < end {
                out.push((d, s));
            }
        }
    }
    out
}

/// Break minutes in a shift of `minutes` under California rules: a 30-minute meal period
/// beyond 5 hours (the second meal of a 12-hour shift waived, as health-care workers may) and
/// a 10-minute rest per 4 hours or major fraction (Labor Code §512, IWC Order 5 §11–12).
pub fn break_minutes(minutes: u32) -> u32 {
    let meal = if minutes > 300 { 30 } else { 0 };
    let rests = (minutes + 120) / 240;
    meal + 10 * rests
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn california_breaks() {
        assert_eq!(break_minutes(720), 60); // 30 + 3 × 10
        assert_eq!(break_minutes(480), 50); // 30 + 2 × 10
        assert_eq!(break_minutes(240), 10);
    }

    #[test]
    fn title22_is_data() {
        let t = title22();
        assert_eq!(t["icu"], 2.0);
        assert_eq!(t["step_down"], 3.0);
        assert_eq!(t["telemetry"], 4.0);
        assert_eq!(t["med_surg"], 5.0);
        assert_eq!(t["psychiatric"], 6.0);
    }
}
