//! The Curtois & Qu nurse-rostering benchmark (instances 1–24): a parser mapping an instance
//! onto [`Problem`], and the best-known values beside it.
//!
//! Source: T. Curtois and R. Qu, "Computational results on new staff scheduling benchmark
//! instances", ASAP group, University of Nottingham, 2014; format and constraint semantics at
//! <https://www.schedulingbenchmarks.org/nrp/instances1_24.html>. The mapping:
//! - one unit (`ward`) that every employee may work on, no skills;
//! - `SECTION_SHIFTS` → [`crate::ShiftType`] (start times are not given: 0);
//! - `SECTION_STAFF` → [`crate::Contract`];
//! - `SECTION_COVER` → soft [`Cover`]s with `min = preferred_max = requirement`;
//! - day 0 is a Monday; a weekend is worked with a shift on Saturday or Sunday.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;

use crate::problem::{
    Contract, Cover, Employee, Pay, Problem, Request, ShiftType, Skills, Unit, Weights,
};
use crate::{Error, Result};

/// Reads and parses an instance file.
///
/// # Errors
/// [`Error::Io`] when unreadable; [`Error::Parse`] with the line number on malformed content.
pub fn load(path: &Path) -> Result<Problem> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let name = path.file_stem().map_or_else(
        || "instance".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    parse(&name, &text, &path.display().to_string())
}

/// Parses instance text. `name` becomes [`Problem::name`]; `origin` prefixes error messages.
///
/// # Errors
/// [`Error::Parse`] naming the line and what was expected.
pub fn parse(name: &str, text: &str, origin: &str) -> Result<Problem> {
    let mut section = String::new();
    let mut rows: HashMap<String, Vec<(usize, Vec<String>)>> = HashMap::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        if let Some(s) = line.strip_prefix("SECTION_") {
            section = s.to_owned();
            continue;
        }
        if section.is_empty() {
            return Err(Error::parse(
                origin,
                format!("line {}: data before any SECTION_", i + 1),
            ));
        }
        let fields = line.split(',').map(|f| f.trim().to_owned()).collect();
        rows.entry(section.clone())
            .or_default()
            .push((i + 1, fields));
    }
    let section = |s: &str| rows.get(s).map(Vec::as_slice).unwrap_or(&[]);
    let err = |line: usize, m: String| Error::parse(origin, format!("line {line}: {m}"));
    // Instance15 writes two requirements as "-0": a signed zero is still zero.
    let num = |line: usize, v: &str, what: &str| -> Result<u32> {
        (if v == "-0" { "0" } else { v })
            .parse::<u32>()
            .map_err(|_| err(line, format!("{what}: expected a whole number, got {v:?}")))
    };
    let weight = |line: usize, v: &str| -> Result<f64> {
        v.parse::<f64>()
            .ok()
            .filter(|w| w.is_finite() && *w >= 0.0)
            .ok_or_else(|| {
                err(
                    line,
                    format!("weight: expected a non-negative number, got {v:?}"),
                )
            })
    };

    let days = match section("HORIZON") {
        [(line, f)] => num(*line, &f[0], "horizon")? as usize,
        _ => return Err(Error::parse(origin, "SECTION_HORIZON must hold one number")),
    };

    // Shifts: ID, length, forbidden successors (| separated).
    let shift_rows = section("SHIFTS");
    let shift_index: HashMap<&str, usize> = shift_rows
        .iter()
        .enumerate()
        .map(|(i, (_, f))| (f[0].as_str(), i))
        .collect();
    let find_shift = |line: usize, id: &str| -> Result<usize> {
        shift_index
            .get(id)
            .copied()
            .ok_or_else(|| err(line, format!("unknown shift {id:?}")))
    };
    let mut shifts = Vec::with_capacity(shift_rows.len());
    for (line, f) in shift_rows {
        if f.len() < 2 {
            return Err(err(*line, "shift: expected ID, length[, forbidden]".into()));
        }
        let mut forbidden_next = Vec::new();
        for id in f.get(2).map_or("", String::as_str).split('|') {
            if !id.trim().is_empty() {
                forbidden_next.push(find_shift(*line, id.trim())?);
            }
        }
        shifts.push(ShiftType {
            id: f[0].clone(),
            start_minute: 0,
            minutes: num(*line, &f[1], "shift length")?,
            forbidden_next,
            night: false,
        });
    }

    // Staff: ID, MaxShifts (S=n|…), Max/MinTotalMinutes, Max/MinConsecutiveShifts,
    // MinConsecutiveDaysOff, MaxWeekends.
    let mut employees = Vec::new();
    for (line, f) in section("STAFF") {
        if f.len() != 8 {
            return Err(err(
                *line,
                format!("staff: expected 8 fields, got {}", f.len()),
            ));
        }
        let mut max_shifts = vec![u32::MAX; shifts.len()];
        for part in f[1].split('|').filter(|p| !p.trim().is_empty()) {
            let (id, n) = part
                .split_once('=')
                .ok_or_else(|| err(*line, format!("MaxShifts: expected SHIFT=n, got {part:?}")))?;
            max_shifts[find_shift(*line, id.trim())?] = num(*line, n.trim(), "MaxShifts")?;
        }
        employees.push(Employee {
            id: f[0].clone(),
            skills: Skills::NONE,
            units: vec![0],
            contract: Contract {
                max_shifts,
                max_minutes: num(*line, &f[2], "MaxTotalMinutes")?,
                min_minutes: num(*line, &f[3], "MinTotalMinutes")?,
                max_consecutive: num(*line, &f[4], "MaxConsecutiveShifts")?,
                min_consecutive: num(*line, &f[5], "MinConsecutiveShifts")?,
                min_consecutive_off: num(*line, &f[6], "MinConsecutiveDaysOff")?,
                max_weekends: num(*line, &f[7], "MaxWeekends")?,
            },
            days_off: Vec::new(),
            on_requests: Vec::new(),
            off_requests: Vec::new(),
            pay: Pay::default(),
        });
    }
    let staff_index: HashMap<String, usize> = employees
        .iter()
        .enumerate()
        .map(|(i, e)| (e.id.clone(), i))
        .collect();
    let find_staff = |line: usize, id: &str| -> Result<usize> {
        staff_index
            .get(id)
            .copied()
            .ok_or_else(|| err(line, format!("unknown employee {id:?}")))
    };
    let day = |line: usize, v: &str| -> Result<usize> {
        let d = num(line, v, "day")? as usize;
        if d >= days {
            return Err(err(
                line,
                format!("day {d} is outside the {days}-day horizon"),
            ));
        }
        Ok(d)
    };

    for (line, f) in section("DAYS_OFF") {
        let e = find_staff(*line, &f[0])?;
        for v in f[1..].iter().filter(|v| !v.is_empty()) {
            let d = day(*line, v)?;
            employees[e].days_off.push(d);
        }
    }
    for (sect, on) in [("SHIFT_ON_REQUESTS", true), ("SHIFT_OFF_REQUESTS", false)] {
        for (line, f) in section(sect) {
            if f.len() != 4 {
                return Err(err(
                    *line,
                    "request: expected employee, day, shift, weight".into(),
                ));
            }
            let e = find_staff(*line, &f[0])?;
            let request = Request {
                day: day(*line, &f[1])?,
                shift: find_shift(*line, &f[2])?,
                weight: weight(*line, &f[3])?,
            };
            let list = if on {
                &mut employees[e].on_requests
            } else {
                &mut employees[e].off_requests
            };
            list.push(request);
        }
    }
    let mut covers = Vec::new();
    for (line, f) in section("COVER") {
        if f.len() != 5 {
            return Err(err(
                *line,
                "cover: expected day, shift, requirement, under, over".into(),
            ));
        }
        let (d, s) = (day(*line, &f[0])?, find_shift(*line, &f[1])?);
        let min = num(*line, &f[2], "requirement")?;
        covers.push(Cover {
            slots: vec![(d, s)],
            unit: 0,
            skills: Skills::NONE,
            min,
            under_weight: weight(*line, &f[3])?,
            preferred_max: min,
            over_weight: weight(*line, &f[4])?,
            hard: false,
            label: format!("day {d} shift {}", f[1]),
        });
    }
    let problem = Problem {
        name: name.to_owned(),
        days,
        first_weekday: 0,
        start_date: None,
        shifts,
        units: vec![Unit {
            name: "ward".into(),
            requires: Skills::NONE,
        }],
        employees,
        covers,
        agency: None,
        weights: Weights::default(),
        published: None,
    };
    problem.validate()?;
    Ok(problem)
}

/// One row of `best_known.csv`: the best-known solution and bound of an instance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BestKnown {
    /// Instance name (file stem).
    pub instance: String,
    /// Best-known objective (upper bound).
    pub upper: f64,
    /// Best-known lower bound.
    pub lower: f64,
    /// The `proven_optimal` column: `yes`, `no`, `disputed`, `yes (newer table)`.
    pub proven_optimal: String,
}

impl BestKnown {
    /// True when the file marks the value as proven optimal.
    pub fn is_proven(&self) -> bool {
        self.proven_optimal.starts_with("yes")
    }
}

/// Looks up `instance` in the `best_known.csv` beside `instance_path`; `Ok(None)` when there
/// is no such file or row.
///
/// # Errors
/// [`Error::Parse`] when the CSV lacks the columns `instance`, `best_known_ub`,
/// `best_known_lb`, `proven_optimal` or a value is not a number.
pub fn best_known(instance_path: &Path) -> Result<Option<BestKnown>> {
    let Some(dir) = instance_path.parent() else {
        return Ok(None);
    };
    let csv_path = dir.join("best_known.csv");
    let Ok(text) = std::fs::read_to_string(&csv_path) else {
        return Ok(None);
    };
    let origin = csv_path.display().to_string();
    let stem = instance_path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
    let col = |name: &str| {
        header
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| Error::parse(&origin, format!("no column {name:?}")))
    };
    let (ci, cu, cl, cp) = (
        col("instance")?,
        col("best_known_ub")?,
        col("best_known_lb")?,
        col("proven_optimal")?,
    );
    for (n, line) in lines.enumerate() {
        let f: Vec<&str> = line.split(',').collect();
        if f.get(ci).map(|s| s.trim()) != Some(stem.as_str()) {
            continue;
        }
        let value = |c: usize| -> Result<f64> {
            f.get(c)
                .and_then(|v| v.trim().parse().ok())
                .ok_or_else(|| Error::parse(&origin, format!("line {}: not a number", n + 2)))
        };
        return Ok(Some(BestKnown {
            instance: stem,
            upper: value(cu)?,
            lower: value(cl)?,
            proven_optimal: f.get(cp).unwrap_or(&"").trim().to_owned(),
        }));
    }
    Ok(None)
}
