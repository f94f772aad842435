//! The rostering problem every front end maps onto: the Curtois & Qu benchmark
//! ([`crate::benchmark`]) and hospital staffing ([`crate::staffing`]) build a [`Problem`]; the
//! MIP ([`crate::mip`]) solves it and the checker ([`crate::check`]) re-scores any [`Roster`]
//! against it independently.
//!
//! Time is in days from day 0 of the horizon and minutes; money in minor currency units (cents)
//! per hour; penalties in the objective's units (benchmark penalty points, or cents for staffing).

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Nurse competencies as a bit set. A cover names the skills that count toward it (any of);
/// a care unit names the skills a nurse needs to be assigned there (all of).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Skills(pub u8);

impl Skills {
    /// No skill: in a cover, "anyone counts"; on a unit, "anyone may work here".
    pub const NONE: Skills = Skills(0);
    /// Registered nurse.
    pub const RN: Skills = Skills(1);
    /// Licensed vocational (practical) nurse.
    pub const LVN: Skills = Skills(2);
    /// Competent to care for intensive-care patients.
    pub const ICU: Skills = Skills(4);
    /// Qualified to act as charge nurse.
    pub const CHARGE: Skills = Skills(8);
    /// Licensed nurses (RN or LVN): who counts toward a Title 22 ratio.
    pub const LICENSED: Skills = Skills(1 | 2);

    /// The union of two sets.
    pub const fn with(self, other: Skills) -> Skills {
        Skills(self.0 | other.0)
    }
    /// True when `self` holds every skill in `required`.
    pub const fn has_all(self, required: Skills) -> bool {
        self.0 & required.0 == required.0
    }
    /// True when `required` is empty or `self` holds at least one of its skills.
    pub const fn has_any(self, required: Skills) -> bool {
        required.0 == 0 || self.0 & required.0 != 0
    }
    /// Parses a skill name: `RN`, `LVN` (or `LPN`), `ICU`, `charge`.
    pub fn parse(name: &str) -> Option<Skills> {
        match name.to_ascii_lowercase().as_str() {
            "rn" => Some(Skills::RN),
            "lvn" | "lpn" => Some(Skills::LVN),
            "icu" => Some(Skills::ICU),
            "charge" => Some(Skills::CHARGE),
            _ => None,
        }
    }
    /// The names of the skills in the set, for messages.
    pub fn names(self) -> Vec<&'static str> {
        let mut out = Vec::new();
        for (bit, name) in [
            (Skills::RN, "RN"),
            (Skills::LVN, "LVN"),
            (Skills::ICU, "ICU"),
            (Skills::CHARGE, "charge"),
        ] {
            if self.has_all(bit) {
                out.push(name);
            }
        }
        out
    }
}

/// A shift type: when it starts, how long it lasts, which shift types may not follow it on
/// the next day (e.g. night → early, for rest between shifts).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ShiftType {
    /// Short id (`D`, `N`, `E`…).
    pub id: String,
    /// Start, minutes after midnight.
    pub start_minute: u32,
    /// Paid length in minutes.
    pub minutes: u32,
    /// Indexes of shift types that may not be worked on the day after this one.
    pub forbidden_next: Vec<usize>,
    /// Counts as a night for fairness.
    pub night: bool,
}

/// A care unit (or, for the benchmark, the single ward): who may be assigned there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Unit {
    /// Name, as in the `census` view (`MICU`, `Med/Surg 4`…).
    pub name: String,
    /// Skills a nurse must hold (all of) to be assigned here, e.g. ICU competency.
    pub requires: Skills,
}

/// Work rules of one nurse over the horizon. `u32::MAX` means "no limit".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Contract {
    /// Maximum shifts of each type (indexed like [`Problem::shifts`]).
    pub max_shifts: Vec<u32>,
    /// Maximum paid minutes over the horizon.
    pub max_minutes: u32,
    /// Minimum paid minutes over the horizon.
    pub min_minutes: u32,
    /// Maximum consecutive working days (assumes days off just outside the horizon).
    pub max_consecutive: u32,
    /// Minimum consecutive working days in a run that lies wholly inside the horizon.
    pub min_consecutive: u32,
    /// Minimum consecutive days off in a break that lies wholly inside the horizon.
    pub min_consecutive_off: u32,
    /// Maximum weekends worked (a weekend is worked with a shift on Saturday or Sunday).
    pub max_weekends: u32,
}

impl Contract {
    /// No limits at all, for `shifts` shift types.
    pub fn unlimited(shifts: usize) -> Contract {
        Contract {
            max_shifts: vec![u32::MAX; shifts],
            max_minutes: u32::MAX,
            min_minutes: 0,
            max_consecutive: u32::MAX,
            min_consecutive: 1,
            min_consecutive_off: 1,
            max_weekends: u32::MAX,
        }
    }
}

/// A wish to work (on request) or not to work (off request) a shift on a day, with the
/// penalty paid when it is not granted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Day index.
    pub day: usize,
    /// Shift type index.
    pub shift: usize,
    /// Penalty when not granted.
    pub weight: f64,
}

/// Pay of one nurse; zero for the benchmark.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Pay {
    /// Regular pay, minor units per hour.
    pub hourly: f64,
    /// Paid minutes per 7-day week before overtime applies (FLSA: 2,400); `u32::MAX` for none.
    pub regular_week_minutes: u32,
    /// Overtime pay as a multiple of `hourly` (1.5 under the FLSA).
    pub overtime_multiplier: f64,
}

/// One nurse (the benchmark's "employee").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Employee {
    /// Id as in the source file or HR system.
    pub id: String,
    /// Competencies.
    pub skills: Skills,
    /// Units the nurse may work on (home unit first, then float units).
    pub units: Vec<usize>,
    /// Work rules.
    pub contract: Contract,
    /// Days the nurse is not available (hard).
    pub days_off: Vec<usize>,
    /// Shift-on requests (soft).
    pub on_requests: Vec<Request>,
    /// Shift-off requests (soft).
    pub off_requests: Vec<Request>,
    /// Pay.
    pub pay: Pay,
}

/// A cover requirement: at least `min` nurses holding one of `skills` on `unit` across the
/// `(day, shift)` slots listed (one slot for a shift-based cover; all shifts spanning a
/// period for an hourly demand). `hard` covers may be met by agency staff but never fall
/// short in a feasible roster; soft covers pay `under_weight` per missing nurse.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Cover {
    /// `(day, shift type)` slots whose assignments count.
    pub slots: Vec<(usize, usize)>,
    /// Unit index.
    pub unit: usize,
    /// Skills that count (any of; empty = anyone).
    pub skills: Skills,
    /// Required number of nurses.
    pub min: u32,
    /// Penalty per nurse short (soft covers).
    pub under_weight: f64,
    /// Preferred number of nurses; each one above it pays `over_weight`.
    pub preferred_max: u32,
    /// Penalty per nurse above `preferred_max`.
    pub over_weight: f64,
    /// A legal minimum (a nurse-to-patient ratio): never short in a feasible roster.
    pub hard: bool,
    /// What the cover is, for messages (`ICU RN, 2026-11-24 07:00–19:00`).
    pub label: String,
}

/// Agency staff: fills hard covers at a price, up to a limit per unit and shift.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Agency {
    /// Price, minor units per hour.
    pub hourly: f64,
    /// At most this many agency nurses per unit, day and shift.
    pub max_per_shift: u32,
    /// Skills an agency nurse brings (counts toward covers needing any of them).
    pub skills: Skills,
}

/// Soft objective terms beyond requests and covers.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    /// Per night shift of the nurse with the most nights (spreads nights evenly).
    pub fairness_nights: f64,
    /// Per weekend of the nurse with the most weekends worked.
    pub fairness_weekends: f64,
    /// Per assignment added to or removed from the published roster (re-planning).
    pub change: f64,
}

/// One assignment: nurse `employee` works `shift` on `day` on `unit`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Assignment {
    /// Employee index.
    pub employee: usize,
    /// Day index.
    pub day: usize,
    /// Shift type index.
    pub shift: usize,
    /// Unit index.
    pub unit: usize,
}

/// Agency nurses booked for one unit, day and shift.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgencyBooking {
    /// Day index.
    pub day: usize,
    /// Shift type index.
    pub shift: usize,
    /// Unit index.
    pub unit: usize,
    /// Number of agency nurses.
    pub nurses: u32,
}

/// A roster: the assignments and agency bookings, sorted.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Roster {
    /// Assignments, sorted by (employee, day).
    pub assignments: Vec<Assignment>,
    /// Agency bookings.
    pub agency: Vec<AgencyBooking>,
}

/// A complete rostering problem.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// Name (instance file stem or roster name).
    pub name: String,
    /// Horizon length in days.
    pub days: usize,
    /// Weekday of day 0, 0 = Monday (the benchmark always starts on a Monday).
    pub first_weekday: u8,
    /// Calendar date of day 0, when known (`YYYY-MM-DD`), for messages.
    pub start_date: Option<chrono::NaiveDate>,
    /// Shift types.
    pub shifts: Vec<ShiftType>,
    /// Care units.
    pub units: Vec<Unit>,
    /// Nurses.
    pub employees: Vec<Employee>,
    /// Cover requirements.
    pub covers: Vec<Cover>,
    /// Agency staff, if any may be booked.
    pub agency: Option<Agency>,
    /// Fairness and change weights.
    pub weights: Weights,
    /// The published roster when re-planning: changes to it pay [`Weights::change`].
    pub published: Option<Roster>,
}

impl Problem {
    /// True when `day` is a Saturday or Sunday.
    pub fn is_weekend(&self, day: usize) -> bool {
        (day + self.first_weekday as usize) % 7 >= 5
    }

    /// Weekend number of `day` (weekends counted from the start of the horizon), or `None`
    /// on a weekday.
    pub fn weekend_of(&self, day: usize) -> Option<usize> {
        self.is_weekend(day)
            .then(|| (day + self.first_weekday as usize) / 7)
    }

    /// Number of distinct weekend indexes [`Problem::weekend_of`] can return.
    pub fn weekend_count(&self) -> usize {
        (0..self.days)
            .filter_map(|d| self.weekend_of(d))
            .max()
            .map_or(0, |w| w + 1)
    }

    /// Index of the `(day, shift, unit)` slot in per-slot vectors of length
    /// [`Problem::slot_count`].
    pub fn slot(&self, day: usize, shift: usize, unit: usize) -> usize {
        (day * self.shifts.len() + shift) * self.units.len() + unit
    }

    /// Number of `(day, shift, unit)` slots.
    pub fn slot_count(&self) -> usize {
        self.days * self.shifts.len() * self.units.len()
    }

    /// Whether `employee` may be assigned on `day` to `unit` at all (skill and unit
    /// eligibility, day off).
    pub fn eligible(&self, employee: usize, day: usize, unit: usize) -> bool {
        let e = &self.employees[employee];
        e.units.contains(&unit)
            && e.skills.has_all(self.units[unit].requires)
            && !e.days_off.contains(&day)
    }

    /// A human label for a day: its date when known, else `day N`.
    pub fn day_label(&self, day: usize) -> String {
        match self.start_date {
            Some(d) => (d + chrono::Days::new(day as u64)).to_string(),
            None => format!("day {day}"),
        }
    }

    /// Checks indexes and ranges; every front end calls this before solving.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the first inconsistency.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.days == 0 {
            return bad("the horizon has no days".into());
        }
        if self.shifts.is_empty() || self.units.is_empty() {
            return bad("a problem needs at least one shift type and one unit".into());
        }
        for s in &self.shifts {
            if s.minutes == 0 || s.forbidden_next.iter().any(|&t| t >= self.shifts.len()) {
                return bad(format!("shift {}: zero length or unknown successor", s.id));
            }
        }
        for e in &self.employees {
            if e.contract.max_shifts.len() != self.shifts.len() {
                return bad(format!("employee {}: max_shifts per shift type", e.id));
            }
            if e.units.iter().any(|&u| u >= self.units.len()) {
                return bad(format!("employee {}: unknown unit", e.id));
            }
            if e.days_off.iter().any(|&d| d >= self.days) {
                return bad(format!("employee {}: day off outside the horizon", e.id));
            }
            for r in e.on_requests.iter().chain(&e.off_requests) {
                if r.day >= self.days || r.shift >= self.shifts.len() {
                    return bad(format!("employee {}: request outside the horizon", e.id));
                }
            }
            let paid_overtime = e.pay.hourly > 0.0 && e.pay.regular_week_minutes != u32::MAX;
            if paid_overtime
                && (e.pay.overtime_multiplier < 1.0 || !e.pay.overtime_multiplier.is_finite())
            {
                return bad(format!(
                    "employee {}: overtime multiplier {} below 1",
                    e.id, e.pay.overtime_multiplier
                ));
            }
        }
        for c in &self.covers {
            if c.unit >= self.units.len()
                || c.slots
                    .iter()
                    .any(|&(d, s)| d >= self.days || s >= self.shifts.len())
            {
                return bad(format!("cover {}: unknown day, shift or unit", c.label));
            }
            let distinct: std::collections::HashSet<_> = c.slots.iter().collect();
            if distinct.len() != c.slots.len() {
                return bad(format!("cover {}: a day and shift listed twice", c.label));
            }
        }
        Ok(())
    }
}
