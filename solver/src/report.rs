//! What an administrator reads: the roster, ratio compliance per unit-hour, the cost
//! breakdown, the gaps filled by agency staff and recommendations in words.
//!
//! Compliance is recomputed here from the roster and the hourly demand (not read from the
//! solver), so "100% of unit-hours" is checked, not assumed.

use serde::Serialize;

use crate::check::{Violation, contract_violations, evaluate};
use crate::mip::{Solution, Status};
use crate::problem::{Assignment, Problem, Roster, Skills};
use crate::staffing::StaffingPlan;

/// Ratio compliance of one unit over the horizon.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct UnitCoverage {
    /// Unit.
    pub unit: String,
    /// Unit-hours with a nurse requirement, inside the horizon's shifts.
    pub hours: usize,
    /// Of those, hours where licensed, RN and charge requirements are all met.
    pub compliant_hours: usize,
    /// `compliant_hours / hours`, percent (100 when `hours` is 0).
    pub compliance_percent: f64,
    /// Smallest surplus of licensed nurses over the requirement in any hour.
    pub min_surplus: i64,
}

/// Money, minor units.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Cost {
    /// Regular pay.
    pub regular: f64,
    /// Overtime premium.
    pub overtime_premium: f64,
    /// Agency staff.
    pub agency: f64,
    /// Sum of the three.
    pub total: f64,
}

/// A shift where the roster relies on agency staff.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gap {
    /// Unit.
    pub unit: String,
    /// Date.
    pub date: String,
    /// Shift id.
    pub shift: String,
    /// Agency nurses booked.
    pub agency_nurses: u32,
    /// Their cost, minor units.
    pub cost: f64,
}

/// The full staffing answer.
#[derive(Clone, Debug, Serialize)]
pub struct StaffingReport {
    /// Roster name.
    pub name: String,
    /// Currency of money amounts.
    pub currency: String,
    /// How the solve ended.
    pub status: Status,
    /// Objective (cost plus penalties), minor units.
    pub objective: Option<f64>,
    /// Best bound.
    pub bound: Option<f64>,
    /// Relative gap.
    pub gap: Option<f64>,
    /// Solve seconds.
    pub seconds: f64,
    /// The MIP formulation solved ([`crate::Formulation`]; `auto` resolves to one).
    pub formulation: crate::Formulation,
    /// `nurse → [shift@unit or "" per day]`.
    pub roster: Vec<(String, Vec<String>)>,
    /// The roster as assignments (to publish and re-plan from).
    pub assignments: Option<Roster>,
    /// Ratio compliance per unit.
    pub coverage: Vec<UnitCoverage>,
    /// Cost breakdown.
    pub cost: Cost,
    /// Agency gaps.
    pub gaps: Vec<Gap>,
    /// Recommendations in words.
    pub recommendations: Vec<String>,
    /// Assignments changed from the published roster, when re-planning.
    pub changes: Option<usize>,
    /// Hard violations the checker found in the roster (empty for a feasible solve).
    pub violations: Vec<Violation>,
    /// Why no roster exists, when the problem is infeasible.
    pub explanation: Vec<String>,
}

/// Formats minor units as money: `$1,234.56` for USD, `1,234.56 EUR` otherwise.
pub fn money(minor: f64, currency: &str) -> String {
    let cents = minor.round() as i64;
    let (whole, frac) = (cents.abs() / 100, cents.abs() % 100);
    let digits = whole.to_string();
    let mut grouped = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let sign = if cents < 0 { "-" } else { "" };
    if currency == "USD" {
        format!("{sign}${grouped}.{frac:02}")
    } else {
        format!("{sign}{grouped}.{frac:02} {currency}")
    }
}

/// Ratio compliance of `roster` per unit-hour against the plan's hourly demand.
pub fn coverage(plan: &StaffingPlan, roster: &Roster) -> Vec<UnitCoverage> {
    let p = &plan.problem;
    plan.demand
        .iter()
        .enumerate()
        .map(|(u, demand)| {
            let (mut hours, mut ok, mut min_surplus) = (0, 0, i64::MAX);
            for (slots, need) in plan.hour_slots.iter().zip(&demand.hourly) {
                if slots.is_empty() || need.licensed == 0 {
                    continue;
                }
                hours += 1;
                let on = |skills: Skills| -> u32 {
                    let own = roster
                        .assignments
                        .iter()
                        .filter(|a| {
                            a.unit == u
                                && slots.contains(&(a.day, a.shift))
                                && p.employees[a.employee].skills.has_any(skills)
                        })
                        .count() as u32;
                    let agency = p
                        .agency
                        .as_ref()
                        .filter(|ag| ag.skills.has_any(skills))
                        .map_or(0, |_| {
                            roster
                                .agency
                                .iter()
                                .filter(|b| b.unit == u && slots.contains(&(b.day, b.shift)))
                                .map(|b| b.nurses)
                                .sum()
                        });
                    own + agency
                };
                let licensed = on(Skills::LICENSED);
                if licensed >= need.licensed
                    && on(Skills::RN) >= need.rn
                    && on(Skills::CHARGE) >= need.charge
                {
                    ok += 1;
                }
                min_surplus = min_surplus.min(i64::from(licensed) - i64::from(need.licensed));
            }
            UnitCoverage {
                unit: demand.unit.clone(),
                hours,
                compliant_hours: ok,
                compliance_percent: if hours == 0 {
                    100.0
                } else {
                    100.0 * ok as f64 / hours as f64
                },
                min_surplus: if min_surplus == i64::MAX {
                    0
                } else {
                    min_surplus
                },
            }
        })
        .collect()
}

/// Builds the report for `solution` of `plan`; `explanation` is filled by the caller when
/// the problem is infeasible ([`crate::explain`]).
pub fn report(
    plan: &StaffingPlan,
    solution: &Solution,
    explanation: Vec<String>,
) -> StaffingReport {
    let p = &plan.problem;
    let mut out = StaffingReport {
        name: p.name.clone(),
        currency: plan.currency.clone(),
        status: solution.status,
        objective: solution.objective,
        bound: solution.bound,
        gap: solution.gap,
        seconds: solution.seconds,
        formulation: solution.formulation,
        roster: Vec::new(),
        assignments: solution.roster.clone(),
        coverage: Vec::new(),
        cost: Cost::default(),
        gaps: Vec::new(),
        recommendations: Vec::new(),
        changes: None,
        violations: Vec::new(),
        explanation,
    };
    let Some(roster) = &solution.roster else {
        out.recommendations.push(match solution.status {
            Status::Infeasible => {
                "No roster meets every ratio and contract: see the explanation.".into()
            }
            _ => "The time limit ended before any roster was found; allow more time.".into(),
        });
        return out;
    };
    let eval = evaluate(p, roster);
    out.violations = eval.violations.clone();
    out.cost = Cost {
        regular: eval.breakdown.regular_pay,
        overtime_premium: eval.breakdown.overtime_premium,
        agency: eval.breakdown.agency,
        total: eval.breakdown.regular_pay + eval.breakdown.overtime_premium + eval.breakdown.agency,
    };
    if p.published.is_some() {
        out.changes = Some((eval.breakdown.changes / p.weights.change.max(1e-9)).round() as usize);
    }
    for (ei, e) in p.employees.iter().enumerate() {
        let mut cells = vec![String::new(); p.days];
        for a in roster.assignments.iter().filter(|a| a.employee == ei) {
            cells[a.day] = format!("{}@{}", p.shifts[a.shift].id, p.units[a.unit].name);
        }
        out.roster.push((e.id.clone(), cells));
    }
    out.coverage = coverage(plan, roster);
    let cur = &plan.currency;
    let ratio_of = |u: usize| plan.demand[u].ratio;
    for b in &roster.agency {
        let minutes = f64::from(p.shifts[b.shift].minutes);
        let cost = p
            .agency
            .as_ref()
            .map_or(0.0, |ag| ag.hourly * minutes / 60.0 * f64::from(b.nurses));
        let gap = Gap {
            unit: p.units[b.unit].name.clone(),
            date: p.day_label(b.day),
            shift: p.shifts[b.shift].id.clone(),
            agency_nurses: b.nurses,
            cost,
        };
        let alternatives = alternatives(p, roster, &eval, (b.day, b.shift, b.unit), cur);
        let mut line = format!(
            "{} {} {}: short {} RN at ratio 1:{} — book agency (est. {})",
            gap.unit,
            gap.shift,
            gap.date,
            b.nurses,
            ratio_of(b.unit),
            money(cost, cur)
        );
        if alternatives.is_empty() {
            line.push_str("; no own nurse can take it within their contract");
        } else {
            line.push_str(", or ");
            line.push_str(&alternatives.join(", or "));
        }
        out.recommendations.push(line);
        out.gaps.push(gap);
    }
    // Overtime per nurse and week.
    for (ei, e) in p.employees.iter().enumerate() {
        if e.pay.hourly <= 0.0 || e.pay.regular_week_minutes == u32::MAX {
            continue;
        }
        for week in 0..p.days.div_ceil(7) {
            let minutes: u32 = roster
                .assignments
                .iter()
                .filter(|a| a.employee == ei && a.day / 7 == week)
                .map(|a| p.shifts[a.shift].minutes)
                .sum();
            let extra = minutes.saturating_sub(e.pay.regular_week_minutes);
            if extra > 0 {
                let premium =
                    f64::from(extra) / 60.0 * e.pay.hourly * (e.pay.overtime_multiplier - 1.0);
                out.recommendations.push(format!(
                    "{}: {:.0} h overtime in the week from {} (premium est. {})",
                    e.id,
                    f64::from(extra) / 60.0,
                    p.day_label(week * 7),
                    money(premium, cur)
                ));
            }
        }
    }
    let unit_hours: usize = out.coverage.iter().map(|c| c.hours).sum();
    let compliant: usize = out.coverage.iter().map(|c| c.compliant_hours).sum();
    out.recommendations.insert(
        0,
        format!(
            "{compliant} of {unit_hours} unit-hours meet their ratios; {} agency shift(s); labour cost {} (regular {}, overtime premium {}, agency {}).",
            roster.agency.iter().map(|b| b.nurses).sum::<u32>(),
            money(out.cost.total, cur),
            money(out.cost.regular, cur),
            money(out.cost.overtime_premium, cur),
            money(out.cost.agency, cur),
        ),
    );
    out
}

/// Own nurses who could take an agency shift without breaking a hard rule: someone off that
/// day (called in; their extra cost) or someone on the same shift elsewhere whose unit keeps
/// its ratios without them (floated). At most three.
fn alternatives(
    p: &Problem,
    roster: &Roster,
    base: &crate::check::Evaluation,
    (day, shift, unit): (usize, usize, usize),
    cur: &str,
) -> Vec<String> {
    let mut out = Vec::new();
    for (ei, e) in p.employees.iter().enumerate() {
        if out.len() >= 3 {
            break;
        }
        if !p.eligible(ei, day, unit) || !e.skills.has_any(Skills::RN) {
            continue;
        }
        let mine: Vec<&Assignment> = roster
            .assignments
            .iter()
            .filter(|a| a.employee == ei)
            .collect();
        let today = mine.iter().find(|a| a.day == day);
        match today {
            // Called in: the extra day must keep the nurse's contract.
            None => {
                let mut work = vec![None; p.days];
                for a in &mine {
                    work[a.day] = Some(a.shift);
                }
                work[day] = Some(shift);
                if !contract_violations(p, ei, &work).is_empty() {
                    continue;
                }
            }
            // Floated from another unit on the same shift.
            Some(a) if a.shift == shift && a.unit != unit => {}
            Some(_) => continue,
        }
        let mut candidate = roster.clone();
        candidate
            .assignments
            .retain(|x| !(x.employee == ei && x.day == day));
        candidate.assignments.push(Assignment {
            employee: ei,
            day,
            shift,
            unit,
        });
        reduce_agency(&mut candidate, day, shift, unit);
        candidate.assignments.sort();
        let eval = evaluate(p, &candidate);
        if !eval.feasible() {
            continue;
        }
        let delta = eval.total - base.total;
        out.push(match today {
            None => format!("call in {} (cost change {})", e.id, money(delta, cur)),
            Some(a) => format!(
                "float {} from {} (cost change {})",
                e.id,
                p.units[a.unit].name,
                money(delta, cur)
            ),
        });
    }
    out
}

fn reduce_agency(roster: &mut Roster, day: usize, shift: usize, unit: usize) {
    for b in &mut roster.agency {
        if (b.day, b.shift, b.unit) == (day, shift, unit) {
            b.nurses = b.nurses.saturating_sub(1);
        }
    }
    roster.agency.retain(|b| b.nurses > 0);
}

#[cfg(test)]
mod tests {
    use super::money;

    #[test]
    fn money_groups_thousands() {
        assert_eq!(money(123_456_789.0, "USD"), "$1,234,567.89");
        assert_eq!(money(5.0, "USD"), "$0.05");
        assert_eq!(money(-100_000.0, "EUR"), "-1,000.00 EUR");
    }
}
