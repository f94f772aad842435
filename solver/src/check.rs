//! An independent checker: re-scores any [`Roster`] against its [`Problem`] and lists every
//! hard-constraint violation. It shares no code with the MIP ([`crate::mip`]), so agreement
//! between the solver's objective and [`Evaluation::total`] is evidence that the model says
//! what the rules say.
//!
//! Boundary rules follow the Curtois & Qu benchmark: the horizon is preceded and followed by
//! days off for maximum consecutive shifts and shift rotation, and runs (of work or of days off)
//! that touch the horizon's edge are exempt from the minimum-length rules.

use std::collections::HashSet;

use serde::Serialize;

use crate::problem::{Assignment, Problem, Roster};

/// One broken hard constraint.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Violation {
    /// An assignment names an employee, day, shift or unit that does not exist.
    UnknownIndex {
        /// The assignment.
        assignment: Assignment,
    },
    /// The nurse may not work on that unit (skills or unit list) or that day (day off).
    NotEligible {
        /// The assignment.
        assignment: Assignment,
    },
    /// More than one shift on one day.
    TwoShiftsOneDay {
        /// Employee index.
        employee: usize,
        /// Day index.
        day: usize,
    },
    /// Shift `next` on `day + 1` may not follow shift `shift` on `day`.
    ForbiddenSuccession {
        /// Employee index.
        employee: usize,
        /// Day of the first shift.
        day: usize,
        /// First shift type.
        shift: usize,
        /// Following shift type.
        next: usize,
    },
    /// More shifts of one type than the contract allows.
    MaxShifts {
        /// Employee index.
        employee: usize,
        /// Shift type.
        shift: usize,
        /// Shifts worked.
        worked: u32,
        /// Limit.
        limit: u32,
    },
    /// Paid minutes outside `[min, max]`.
    TotalMinutes {
        /// Employee index.
        employee: usize,
        /// Minutes worked.
        worked: u32,
        /// Contract minimum.
        min: u32,
        /// Contract maximum.
        max: u32,
    },
    /// A run of working days longer than allowed.
    MaxConsecutive {
        /// Employee index.
        employee: usize,
        /// First day of the run.
        start: usize,
        /// Run length.
        length: u32,
    },
    /// A run of working days (inside the horizon) shorter than required.
    MinConsecutive {
        /// Employee index.
        employee: usize,
        /// First day of the run.
        start: usize,
        /// Run length.
        length: u32,
    },
    /// A break of days off (inside the horizon) shorter than required.
    MinConsecutiveOff {
        /// Employee index.
        employee: usize,
        /// First day of the break.
        start: usize,
        /// Break length.
        length: u32,
    },
    /// More weekends worked than allowed.
    MaxWeekends {
        /// Employee index.
        employee: usize,
        /// Weekends worked.
        worked: u32,
        /// Limit.
        limit: u32,
    },
    /// A hard cover (a legal ratio) is short.
    CoverShort {
        /// Cover index.
        cover: usize,
        /// Nurses counted (including agency).
        staffed: u32,
        /// Required.
        required: u32,
    },
    /// An agency booking beyond the limit, or with no agency configured.
    Agency {
        /// Day index.
        day: usize,
        /// Shift index.
        shift: usize,
        /// Unit index.
        unit: usize,
    },
}

/// The soft part of the score, term by term.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Breakdown {
    /// Shift-on requests not granted.
    pub on_requests: f64,
    /// Shift-off requests not granted.
    pub off_requests: f64,
    /// Nurses short on soft covers × weight.
    pub cover_under: f64,
    /// Nurses above the preferred level × weight.
    pub cover_over: f64,
    /// Regular pay, minor units.
    pub regular_pay: f64,
    /// Overtime premium, minor units.
    pub overtime_premium: f64,
    /// Agency cost, minor units.
    pub agency: f64,
    /// Fairness terms (most nights, most weekends).
    pub fairness: f64,
    /// Changes to the published roster × weight.
    pub changes: f64,
}

impl Breakdown {
    /// The objective: the sum of every term.
    pub fn total(&self) -> f64 {
        self.on_requests
            + self.off_requests
            + self.cover_under
            + self.cover_over
            + self.regular_pay
            + self.overtime_premium
            + self.agency
            + self.fairness
            + self.changes
    }
}

/// A checked roster.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evaluation {
    /// Hard-constraint violations; empty means the roster is feasible.
    pub violations: Vec<Violation>,
    /// Soft terms.
    pub breakdown: Breakdown,
    /// The objective value ([`Breakdown::total`]).
    pub total: f64,
}

impl Evaluation {
    /// True when no hard constraint is broken.
    pub fn feasible(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Nurses counted toward cover `c` of `problem` by `roster`, agency included.
pub fn staffed(problem: &Problem, roster: &Roster, c: usize) -> u32 {
    let cover = &problem.covers[c];
    let slots: HashSet<(usize, usize)> = cover.slots.iter().copied().collect();
    let own = roster
        .assignments
        .iter()
        .filter(|a| {
            a.unit == cover.unit
                && slots.contains(&(a.day, a.shift))
                && problem
                    .employees
                    .get(a.employee)
                    .is_some_and(|e| e.skills.has_any(cover.skills))
        })
        .count() as u32;
    let agency_counts = problem
        .agency
        .as_ref()
        .is_some_and(|ag| ag.skills.has_any(cover.skills));
    let agency: u32 = if agency_counts {
        roster
            .agency
            .iter()
            .filter(|b| b.unit == cover.unit && slots.contains(&(b.day, b.shift)))
            .map(|b| b.nurses)
            .sum()
    } else {
        0
    };
    own + agency
}

/// Scores `roster` against `problem` and lists every hard-constraint violation.
pub fn evaluate(problem: &Problem, roster: &Roster) -> Evaluation {
    let mut v = Vec::new();
    let mut b = Breakdown::default();
    let (days, n_shifts) = (problem.days, problem.shifts.len());
    // work[e][d] = shift worked, if any.
    let mut work: Vec<Vec<Option<usize>>> = vec![vec![None; days]; problem.employees.len()];
    for a in &roster.assignments {
        if a.employee >= problem.employees.len()
            || a.day >= days
            || a.shift >= n_shifts
            || a.unit >= problem.units.len()
        {
            v.push(Violation::UnknownIndex { assignment: *a });
            continue;
        }
        if !problem.eligible(a.employee, a.day, a.unit) {
            v.push(Violation::NotEligible { assignment: *a });
        }
        let slot = &mut work[a.employee][a.day];
        if slot.is_some() {
            v.push(Violation::TwoShiftsOneDay {
                employee: a.employee,
                day: a.day,
            });
        }
        *slot = Some(a.shift);
        let e = &problem.employees[a.employee];
        b.regular_pay += e.pay.hourly * f64::from(problem.shifts[a.shift].minutes) / 60.0;
    }

    for (ei, e) in problem.employees.iter().enumerate() {
        let w = &work[ei];
        v.extend(contract_violations(problem, ei, w));
        for r in &e.on_requests {
            if w[r.day] != Some(r.shift) {
                b.on_requests += r.weight;
            }
        }
        for r in &e.off_requests {
            if w[r.day] == Some(r.shift) {
                b.off_requests += r.weight;
            }
        }
        // Overtime per 7-day week from day 0.
        if e.pay.hourly > 0.0 && e.pay.regular_week_minutes != u32::MAX {
            for week in w.chunks(7) {
                let worked: u32 = week
                    .iter()
                    .flatten()
                    .map(|&s| problem.shifts[s].minutes)
                    .sum();
                let extra = worked.saturating_sub(e.pay.regular_week_minutes);
                b.overtime_premium +=
                    f64::from(extra) * e.pay.hourly * (e.pay.overtime_multiplier - 1.0) / 60.0;
            }
        }
    }

    for (ci, cover) in problem.covers.iter().enumerate() {
        let n = staffed(problem, roster, ci);
        if cover.hard && n < cover.min {
            v.push(Violation::CoverShort {
                cover: ci,
                staffed: n,
                required: cover.min,
            });
        }
        if !cover.hard {
            b.cover_under += f64::from(cover.min.saturating_sub(n)) * cover.under_weight;
        }
        b.cover_over += f64::from(n.saturating_sub(cover.preferred_max)) * cover.over_weight;
    }

    for booking in &roster.agency {
        match &problem.agency {
            Some(ag) if booking.nurses <= ag.max_per_shift && booking.shift < n_shifts => {
                b.agency += f64::from(booking.nurses)
                    * f64::from(problem.shifts[booking.shift].minutes)
                    * ag.hourly
                    / 60.0;
            }
            _ => v.push(Violation::Agency {
                day: booking.day,
                shift: booking.shift,
                unit: booking.unit,
            }),
        }
    }

    let weights = &problem.weights;
    if weights.fairness_nights > 0.0 || weights.fairness_weekends > 0.0 {
        let most_nights = work
            .iter()
            .map(|w| {
                w.iter()
                    .flatten()
                    .filter(|&&s| problem.shifts[s].night)
                    .count()
            })
            .max()
            .unwrap_or(0);
        let most_weekends = work
            .iter()
            .map(|w| {
                (0..days)
                    .filter(|&d| w[d].is_some())
                    .filter_map(|d| problem.weekend_of(d))
                    .collect::<HashSet<_>>()
                    .len()
            })
            .max()
            .unwrap_or(0);
        b.fairness = weights.fairness_nights * most_nights as f64
            + weights.fairness_weekends * most_weekends as f64;
    }
    if let Some(published) = &problem.published
        && weights.change > 0.0
    {
        let before: HashSet<&Assignment> = published.assignments.iter().collect();
        let after: HashSet<&Assignment> = roster.assignments.iter().collect();
        b.changes = weights.change * before.symmetric_difference(&after).count() as f64;
    }
    let total = b.total();
    Evaluation {
        violations: v,
        breakdown: b,
        total,
    }
}

/// The hard work rules of employee `employee` broken by `work` (the shift worked on each day,
/// if any): rotation, shifts per type, total minutes, run lengths and weekends. Eligibility,
/// double shifts and covers are checked by [`evaluate`].
pub fn contract_violations(
    problem: &Problem,
    employee: usize,
    work: &[Option<usize>],
) -> Vec<Violation> {
    let mut v = Vec::new();
    let (ei, w) = (employee, work);
    let days = problem.days.min(work.len());
    let n_shifts = problem.shifts.len();
    let c = &problem.employees[employee].contract;
    for d in 0..days.saturating_sub(1) {
        if let (Some(s), Some(t)) = (w[d], w[d + 1])
            && problem.shifts[s].forbidden_next.contains(&t)
        {
            v.push(Violation::ForbiddenSuccession {
                employee: ei,
                day: d,
                shift: s,
                next: t,
            });
        }
    }
    let mut minutes = 0u32;
    for s in 0..n_shifts {
        let worked = w.iter().filter(|x| **x == Some(s)).count() as u32;
        minutes += worked * problem.shifts[s].minutes;
        if worked > c.max_shifts[s] {
            v.push(Violation::MaxShifts {
                employee: ei,
                shift: s,
                worked,
                limit: c.max_shifts[s],
            });
        }
    }
    if minutes > c.max_minutes || minutes < c.min_minutes {
        v.push(Violation::TotalMinutes {
            employee: ei,
            worked: minutes,
            min: c.min_minutes,
            max: c.max_minutes,
        });
    }
    // Runs of equal working state.
    let mut d = 0;
    while d < days {
        let working = w[d].is_some();
        let start = d;
        while d < days && w[d].is_some() == working {
            d += 1;
        }
        let length = (d - start) as u32;
        let inside = start > 0 && d < days;
        if working && length > c.max_consecutive {
            v.push(Violation::MaxConsecutive {
                employee: ei,
                start,
                length,
            });
        }
        if working && inside && length < c.min_consecutive {
            v.push(Violation::MinConsecutive {
                employee: ei,
                start,
                length,
            });
        }
        if !working && inside && length < c.min_consecutive_off {
            v.push(Violation::MinConsecutiveOff {
                employee: ei,
                start,
                length,
            });
        }
    }
    let weekends: HashSet<usize> = (0..days)
        .filter(|&d| w[d].is_some())
        .filter_map(|d| problem.weekend_of(d))
        .collect();
    if weekends.len() as u32 > c.max_weekends {
        v.push(Violation::MaxWeekends {
            employee: ei,
            worked: weekends.len() as u32,
            limit: c.max_weekends,
        });
    }
    v
}
