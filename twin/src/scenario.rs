//! The hospital model and scenarios, as data a user can read and edit (TOML).
//!
//! A **hospital file** describes one hospital: care units (beds, length of stay, routing),
//! arrival streams (hour-of-week rates), the emergency department, the discharge hour profile
//! and, optionally, staffing. `wardstream twin calibrate` writes one, each estimate carrying
//! its sample size and source.
//!
//! A **scenario file** is a hospital file, or a reference to one (`base = "hospital.toml"`,
//! relative to the scenario file), plus `[changes]`: add beds, scale arrivals (surge), replace
//! staffing, a discharge-before-noon policy. [`Scenario::load`] resolves both into the
//! [`Hospital`] that is simulated.
//!
//! Time is in hours throughout; the simulated clock starts on a Monday at 00:00, so hour `h`
//! is hour-of-week `h mod 168`.
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Hours in a week; hour-of-week profiles have this many entries.
pub const HOURS_PER_WEEK: usize = 168;

/// A probability distribution of a duration, in hours (`h`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "snake_case", deny_unknown_fields)]
pub enum Duration {
    /// Always `hours`.
    Fixed {
        /// The duration, h.
        hours: f64,
    },
    /// Exponential with the given mean, h.
    Exponential {
        /// Mean, h.
        mean_hours: f64,
    },
    /// Lognormal: `ln(hours) ~ Normal(mu, sigma)`; mean = exp(mu + sigma²/2) h.
    Lognormal {
        /// Mean of ln(hours).
        mu: f64,
        /// Standard deviation of ln(hours).
        sigma: f64,
    },
    /// Resample the observed durations (h) uniformly.
    Empirical {
        /// Observed durations, h (at least one, all ≥ 0).
        hours: Vec<f64>,
    },
}

impl Duration {
    /// The distribution's mean, h.
    pub fn mean(&self) -> f64 {
        match self {
            Duration::Fixed { hours } => *hours,
            Duration::Exponential { mean_hours } => *mean_hours,
            Duration::Lognormal { mu, sigma } => (mu + sigma * sigma / 2.0).exp(),
            Duration::Empirical { hours } => hours.iter().sum::<f64>() / hours.len() as f64,
        }
    }

    fn validate(&self, what: &str) -> Result<()> {
        let ok = match self {
            Duration::Fixed { hours } => hours.is_finite() && *hours >= 0.0,
            Duration::Exponential { mean_hours } => mean_hours.is_finite() && *mean_hours > 0.0,
            Duration::Lognormal { mu, sigma } => {
                mu.is_finite() && sigma.is_finite() && *sigma >= 0.0
            }
            Duration::Empirical { hours } => {
                !hours.is_empty() && hours.iter().all(|h| h.is_finite() && *h >= 0.0)
            }
        };
        if ok {
            Ok(())
        } else {
            Err(Error::Invalid(format!(
                "{what}: the duration's parameters are out of range"
            )))
        }
    }
}

/// Where a patient goes next: unit name and probability.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Destination care unit (a [`CareUnit::name`]).
    pub to: String,
    /// Probability (0–1). In a routing list the remainder to 1 means discharge.
    pub p: f64,
}

/// How an estimate was obtained: sample size and where from.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Estimate {
    /// Number of observations behind the estimate.
    pub n: u64,
    /// Data set and method, e.g. `MIMIC-IV demo transfers; lognormal MLE of ln(hours)`.
    pub source: String,
}

/// The kind of a care unit; it selects the nurse-to-patient ratio.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    /// Intensive care (ICU, MICU, SICU, CCU, …).
    Icu,
    /// Post-anaesthesia care unit.
    Pacu,
    /// Step-down / intermediate care.
    StepDown,
    /// Telemetry.
    Telemetry,
    /// Emergency department (as an inpatient-style unit).
    Ed,
    /// Paediatrics.
    Pediatrics,
    /// Medical-surgical ward.
    MedSurg,
    /// Psychiatry.
    Psychiatric,
    /// Obstetrics / labour and delivery.
    Obstetrics,
    /// Anything else.
    Other,
}

/// One care unit (ward, ICU, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CareUnit {
    /// Unit name, unique in the hospital (e.g. `Medical Intensive Care Unit (MICU)`).
    pub name: String,
    /// Kind, for the ratio table.
    pub kind: UnitKind,
    /// Physical beds.
    pub beds: u32,
    /// Length of stay in this unit (h), from bed assignment to leaving the unit.
    pub los: Duration,
    /// Next unit after this one; probabilities sum to ≤ 1, the rest are discharged.
    #[serde(default)]
    pub routing: Vec<Route>,
    /// Patients in the unit at time 0 (their remaining stay is drawn from `los`).
    #[serde(default)]
    pub initial_census: u32,
    /// How `beds`, `los` and `routing` were estimated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
}

/// The kind of an arrival stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ArrivalKind {
    /// Walk-in / ambulance arrivals to the emergency department (need `[ed]`).
    Ed,
    /// Scheduled (elective) admissions straight to a unit.
    Elective,
    /// Direct admissions (transfers in from outside) straight to a unit.
    Direct,
}

/// A non-homogeneous Poisson arrival stream.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArrivalStream {
    /// Stream name, unique (e.g. `ed`, `elective`).
    pub name: String,
    /// Where arrivals go first.
    pub kind: ArrivalKind,
    /// Arrival rate, patients/h: 1 value (constant), 24 (hour of day) or 168 (hour of week,
    /// Monday 00:00 first).
    pub per_hour: Vec<f64>,
    /// First unit for elective and direct arrivals (ignored for `ed`); probabilities sum to 1.
    #[serde(default)]
    pub to: Vec<Route>,
    /// How the rates and routing were estimated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
}

impl ArrivalStream {
    /// The rate (patients/h) at hour-of-week `how` (0–167).
    pub fn rate_at(&self, how: usize) -> f64 {
        match self.per_hour.len() {
            1 => self.per_hour[0],
            24 => self.per_hour[how % 24],
            _ => self.per_hour[how % HOURS_PER_WEEK],
        }
    }

    /// The largest hourly rate (patients/h), the thinning bound.
    pub fn max_rate(&self) -> f64 {
        self.per_hour.iter().copied().fold(0.0, f64::max)
    }

    /// Mean rate over a week, patients/h.
    pub fn mean_rate(&self) -> f64 {
        (0..HOURS_PER_WEEK).map(|h| self.rate_at(h)).sum::<f64>() / HOURS_PER_WEEK as f64
    }
}

/// The emergency department: treatment bays, triage, treatment, admission decision, LWBS and
/// diversion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmergencyDepartment {
    /// Treatment bays (spaces). A patient holds a bay from the start of treatment until they
    /// leave the ED, so admitted patients waiting for a ward bed (boarding) keep theirs.
    pub bays: u32,
    /// Triage acuity shares, ESI level 1 (most urgent) first; sums to 1. Bays go to the most
    /// urgent waiting patient first (FIFO within a level).
    pub acuity: Vec<f64>,
    /// Treatment time from bay assignment to the disposition decision, h.
    pub treatment: Duration,
    /// Probability of admission per acuity level (same length as `acuity`).
    pub admit_probability: Vec<f64>,
    /// First inpatient unit of admitted ED patients; probabilities sum to 1.
    pub admit_to: Vec<Route>,
    /// Time a waiting patient of acuity 3–5 waits before leaving without being seen (LWBS),
    /// h; none means nobody leaves. Acuity 1–2 never leave.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patience: Option<Duration>,
    /// Ambulance diversion: arrivals are turned away while this many patients wait for a bay;
    /// none means never.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversion_queue: Option<u32>,
    /// How the parameters were estimated (or that they were assumed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<Estimate>,
}

/// A nurse-to-patient ratio for a unit kind: one nurse per `patients_per_nurse` patients.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ratio {
    /// Unit kind.
    pub kind: UnitKind,
    /// Patients per licensed nurse, at all times.
    pub patients_per_nurse: u32,
}

/// The default ratio table: California Code of Regulations Title 22 §70217 minimum
/// licensed-nurse-to-patient ratios (ICU 1:2, PACU 1:2, step-down 1:3, telemetry 1:4, ED 1:4,
/// pediatrics 1:4, med-surg 1:5, psychiatric 1:6; labour and delivery 1:2 in active labour).
pub fn title22_ratios() -> Vec<Ratio> {
    use UnitKind::*;
    [
        (Icu, 2),
        (Pacu, 2),
        (StepDown, 3),
        (Telemetry, 4),
        (Ed, 4),
        (Pediatrics, 4),
        (MedSurg, 5),
        (Psychiatric, 6),
        (Obstetrics, 2),
        (Other, 5),
    ]
    .into_iter()
    .map(|(kind, patients_per_nurse)| Ratio {
        kind,
        patients_per_nurse,
    })
    .collect()
}

/// A shift: start hour of day and length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shift {
    /// Shift name (`day`, `night`, …).
    pub name: String,
    /// Start, hour of day (0–23).
    pub start_hour: u32,
    /// Length, h.
    pub hours: u32,
}

/// Nurses on duty in one unit, per shift (same every day), e.g. a solver roster's head count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitStaff {
    /// Care unit name.
    pub unit: String,
    /// Nurses on duty in each shift of [`Staffing::shifts`], in that order.
    pub nurses: Vec<u32>,
}

/// Staffing: who is on duty, and the ratio table that turns nurses into open beds.
///
/// While a unit has `n` nurses on duty and ratio 1:r, at most `n·r` of its beds are open to
/// new patients (when `limit_beds`); patients already in bed stay when a shift change lowers
/// that, and each such unit-hour with more patients than `n·r` is a **ratio breach**.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Staffing {
    /// Ratio table (default: Title 22).
    #[serde(default = "title22_ratios")]
    pub ratios: Vec<Ratio>,
    /// Shifts covering the day (each hour by exactly one shift).
    pub shifts: Vec<Shift>,
    /// Nurses per unit per shift; units not listed are not limited.
    pub units: Vec<UnitStaff>,
    /// Whether staffing closes beds (default true).
    #[serde(default = "yes")]
    pub limit_beds: bool,
}

fn yes() -> bool {
    true
}

/// One hospital: everything the simulator needs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Hospital {
    /// Display name.
    pub name: String,
    /// Share of discharges by hour of day (24 weights, need not sum to 1). A patient whose
    /// stay ends is discharged at the nearest hour (within ±12 h) drawn from this profile;
    /// empty means at once.
    #[serde(default)]
    pub discharge_hour: Vec<f64>,
    /// A patient waiting this long (h) for a bed in the next unit is placed there over its
    /// bed count (hallway / off-service bed), counted as an overflow; none means they wait
    /// as long as it takes (routing loops between full units can then gridlock).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_transfer_wait_hours: Option<f64>,
    /// Emergency department, needed by `ed` arrival streams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ed: Option<EmergencyDepartment>,
    /// Staffing; none means beds are never closed for lack of nurses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staffing: Option<Staffing>,
    /// Arrival streams.
    pub arrivals: Vec<ArrivalStream>,
    /// Care units.
    pub units: Vec<CareUnit>,
}

/// What a scenario changes in its base hospital.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Changes {
    /// Beds added (or removed, negative) per unit name.
    #[serde(default)]
    pub add_beds: BTreeMap<String, i64>,
    /// Bays added to (or removed from) the ED.
    #[serde(default)]
    pub add_ed_bays: i64,
    /// Multiplies every arrival rate (1.3 = a 30% surge).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_multiplier: Option<f64>,
    /// Multiplies the rates of named streams (after `arrival_multiplier`).
    #[serde(default)]
    pub stream_multiplier: BTreeMap<String, f64>,
    /// Replaces the staffing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staffing: Option<Staffing>,
    /// Discharge-before-noon policy: this share (0–1) of discharges that would happen at or
    /// after 12:00 happen before noon instead (hour drawn from the profile's morning hours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discharge_before_noon: Option<f64>,
}

/// Run settings a scenario may carry (command-line flags override them).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunSettings {
    /// Warm-up to delete, h; none means automatic (MSER-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup_hours: Option<f64>,
}

/// A scenario file: a base hospital (inline, or by path in `base`) plus `[changes]` and
/// `[run]`. Parsed by [`ScenarioFile::parse`]: the keys `base`, `changes` and `run` are the
/// scenario's; any other top-level key belongs to the inline hospital.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScenarioFile {
    /// Path of the base hospital file, relative to this file.
    pub base: Option<PathBuf>,
    /// Inline hospital (when there is no `base`).
    pub hospital: Option<Hospital>,
    /// Changes applied to the base.
    pub changes: Changes,
    /// Run settings.
    pub run: RunSettings,
}

impl ScenarioFile {
    /// Parses scenario TOML text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<ScenarioFile> {
        let mut table: toml::Table = toml::from_str(text).map_err(|e| Error::toml(path, e))?;
        let base = match table.remove("base") {
            Some(toml::Value::String(s)) => Some(PathBuf::from(s)),
            Some(_) => {
                return Err(Error::Invalid(format!(
                    "{}: `base` must be a file path (a string)",
                    path.display()
                )));
            }
            None => None,
        };
        let changes = match table.remove("changes") {
            Some(v) => v.try_into().map_err(|e| Error::toml(path, e))?,
            None => Changes::default(),
        };
        let run = match table.remove("run") {
            Some(v) => v.try_into().map_err(|e| Error::toml(path, e))?,
            None => RunSettings::default(),
        };
        let hospital = if table.is_empty() {
            None
        } else {
            Some(
                toml::Value::Table(table)
                    .try_into()
                    .map_err(|e| Error::toml(path, e))?,
            )
        };
        Ok(ScenarioFile {
            base,
            hospital,
            changes,
            run,
        })
    }
}

/// A resolved scenario: the hospital to simulate, after changes.
#[derive(Clone, Debug, PartialEq)]
pub struct Scenario {
    /// Name (the file stem).
    pub name: String,
    /// The hospital after `changes`.
    pub hospital: Hospital,
    /// Discharge-before-noon share (0 when off).
    pub discharge_before_noon: f64,
    /// Run settings.
    pub run: RunSettings,
}

impl Scenario {
    /// Reads a scenario (or plain hospital) TOML file, resolving `base` relative to it.
    ///
    /// Errors: [`Error::Io`] if a file cannot be read, [`Error::Toml`] if it does not parse,
    /// [`Error::Invalid`] if the result fails [`Hospital::validate`] or a change names an
    /// unknown unit or stream.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "scenario".to_owned());
        let dir = path.parent().unwrap_or(Path::new("."));
        Scenario::from_toml(name, &text, path, Some(dir))
    }

    /// Builds a scenario from TOML text; `origin` names it in errors. `base = "…"` is read
    /// relative to `base_dir`; with `None` (text from outside, e.g. over HTTP) a `base` is
    /// refused rather than read from this machine's files.
    ///
    /// Errors: as [`Scenario::load`].
    pub fn from_toml(
        name: String,
        text: &str,
        origin: &Path,
        base_dir: Option<&Path>,
    ) -> Result<Scenario> {
        let file = ScenarioFile::parse(text, origin)?;
        let hospital = match (&file.base, file.hospital, base_dir) {
            (Some(base), None, Some(dir)) => Hospital::load(&dir.join(base))?,
            (Some(_), None, None) => {
                return Err(Error::Invalid(format!(
                    "{}: `base` is not allowed here: send the whole hospital in the scenario",
                    origin.display()
                )));
            }
            (None, Some(h), _) => h,
            (Some(_), Some(_), _) => {
                return Err(Error::Invalid(format!(
                    "{}: give either `base` or an inline hospital, not both",
                    origin.display()
                )));
            }
            (None, None, _) => {
                return Err(Error::Invalid(format!(
                    "{}: no `base` and no hospital (`units`, `arrivals`)",
                    origin.display()
                )));
            }
        };
        Scenario::new(name, hospital, &file.changes, file.run)
    }

    /// Applies `changes` to `hospital` and validates the result.
    pub fn new(
        name: String,
        mut hospital: Hospital,
        changes: &Changes,
        run: RunSettings,
    ) -> Result<Scenario> {
        for (unit, delta) in &changes.add_beds {
            let u = hospital
                .units
                .iter_mut()
                .find(|u| &u.name == unit)
                .ok_or_else(|| Error::Invalid(format!("add_beds: no care unit {unit:?}")))?;
            u.beds = clamp_u32(i64::from(u.beds) + delta);
        }
        if changes.add_ed_bays != 0 {
            let ed = hospital
                .ed
                .as_mut()
                .ok_or_else(|| Error::Invalid("add_ed_bays: the hospital has no ED".into()))?;
            ed.bays = clamp_u32(i64::from(ed.bays) + changes.add_ed_bays);
        }
        if let Some(m) = changes.arrival_multiplier {
            check_multiplier("arrival_multiplier", m)?;
            for s in &mut hospital.arrivals {
                s.per_hour.iter_mut().for_each(|r| *r *= m);
            }
        }
        for (stream, m) in &changes.stream_multiplier {
            check_multiplier("stream_multiplier", *m)?;
            let s = hospital
                .arrivals
                .iter_mut()
                .find(|s| &s.name == stream)
                .ok_or_else(|| {
                    Error::Invalid(format!("stream_multiplier: no arrival stream {stream:?}"))
                })?;
            s.per_hour.iter_mut().for_each(|r| *r *= m);
        }
        if let Some(staffing) = &changes.staffing {
            hospital.staffing = Some(staffing.clone());
        }
        let dbn = changes.discharge_before_noon.unwrap_or(0.0);
        if !(0.0..=1.0).contains(&dbn) {
            return Err(Error::Invalid(
                "discharge_before_noon must be between 0 and 1".into(),
            ));
        }
        hospital.validate()?;
        Ok(Scenario {
            name,
            hospital,
            discharge_before_noon: dbn,
            run,
        })
    }

    /// A scenario with no changes.
    pub fn from_hospital(name: impl Into<String>, hospital: Hospital) -> Result<Scenario> {
        Scenario::new(
            name.into(),
            hospital,
            &Changes::default(),
            RunSettings::default(),
        )
    }
}

fn clamp_u32(v: i64) -> u32 {
    u32::try_from(v.max(0)).unwrap_or(u32::MAX)
}

fn check_multiplier(what: &str, m: f64) -> Result<()> {
    if m.is_finite() && m >= 0.0 {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "{what} must be a finite number ≥ 0"
        )))
    }
}

impl Hospital {
    /// Reads a hospital TOML file (a scenario file without `base` and `changes` also works).
    pub fn load(path: &Path) -> Result<Hospital> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let file = ScenarioFile::parse(&text, path)?;
        file.hospital.ok_or_else(|| {
            Error::Invalid(format!(
                "{}: not a hospital file (no `units`/`arrivals`)",
                path.display()
            ))
        })
    }

    /// TOML text of this hospital.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Invalid(format!("cannot write TOML: {e}")))
    }

    /// Index of the unit called `name`.
    pub fn unit_index(&self, name: &str) -> Option<usize> {
        self.units.iter().position(|u| u.name == name)
    }

    /// Checks names, probabilities and parameters; the simulator relies on this.
    ///
    /// Errors: [`Error::Invalid`] naming the first problem found.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if self.units.is_empty() {
            return bad("a hospital needs at least one care unit".into());
        }
        if self.units.len() > usize::from(u16::MAX) {
            return bad("too many care units".into());
        }
        for (i, u) in self.units.iter().enumerate() {
            if self.units[..i].iter().any(|v| v.name == u.name) {
                return bad(format!("care unit {:?} is listed twice", u.name));
            }
            u.los.validate(&format!("unit {:?} los", u.name))?;
            self.check_routes(&format!("unit {:?} routing", u.name), &u.routing, false)?;
        }
        for (i, s) in self.arrivals.iter().enumerate() {
            if self.arrivals[..i].iter().any(|t| t.name == s.name) {
                return bad(format!("arrival stream {:?} is listed twice", s.name));
            }
            if !matches!(s.per_hour.len(), 1 | 24 | HOURS_PER_WEEK) {
                return bad(format!(
                    "arrival stream {:?}: per_hour needs 1, 24 or 168 values, not {}",
                    s.name,
                    s.per_hour.len()
                ));
            }
            if s.per_hour.iter().any(|r| !r.is_finite() || *r < 0.0) {
                return bad(format!("arrival stream {:?}: rates must be ≥ 0", s.name));
            }
            match s.kind {
                ArrivalKind::Ed if self.ed.is_none() => {
                    return bad(format!(
                        "arrival stream {:?} goes to the ED but there is no [ed]",
                        s.name
                    ));
                }
                ArrivalKind::Ed => {}
                _ => self.check_routes(&format!("arrival stream {:?}", s.name), &s.to, true)?,
            }
        }
        if let Some(ed) = &self.ed {
            if ed.acuity.is_empty() || ed.acuity.len() > 5 {
                return bad("ed.acuity needs 1 to 5 shares (ESI 1–5)".into());
            }
            if ed.admit_probability.len() != ed.acuity.len() {
                return bad("ed.admit_probability needs one value per acuity level".into());
            }
            check_shares("ed.acuity", &ed.acuity)?;
            if ed
                .admit_probability
                .iter()
                .any(|p| !(0.0..=1.0).contains(p))
            {
                return bad("ed.admit_probability values must be in 0–1".into());
            }
            ed.treatment.validate("ed.treatment")?;
            if let Some(p) = &ed.patience {
                p.validate("ed.patience")?;
            }
            let admits = ed.admit_probability.iter().any(|p| *p > 0.0);
            self.check_routes("ed.admit_to", &ed.admit_to, admits)?;
        }
        if self
            .max_transfer_wait_hours
            .is_some_and(|h| !(h.is_finite() && h >= 0.0))
        {
            return bad("max_transfer_wait_hours must be ≥ 0".into());
        }
        if self.discharge_hour.len() > 1 && self.discharge_hour.len() != 24 {
            return bad("discharge_hour needs 24 weights (or none)".into());
        }
        if self
            .discharge_hour
            .iter()
            .any(|w| !w.is_finite() || *w < 0.0)
            || (!self.discharge_hour.is_empty() && self.discharge_hour.iter().sum::<f64>() <= 0.0)
        {
            return bad("discharge_hour weights must be ≥ 0 and not all 0".into());
        }
        if let Some(st) = &self.staffing {
            let mut covered = [0u8; 24];
            for s in &st.shifts {
                if s.start_hour > 23 || s.hours == 0 || s.hours > 24 {
                    return bad(format!("shift {:?}: start_hour 0–23, hours 1–24", s.name));
                }
                for h in 0..s.hours {
                    covered[((s.start_hour + h) % 24) as usize] += 1;
                }
            }
            if covered.iter().any(|c| *c != 1) {
                return bad("staffing.shifts must cover each hour of the day exactly once".into());
            }
            for us in &st.units {
                if self.unit_index(&us.unit).is_none() {
                    return bad(format!("staffing: no care unit {:?}", us.unit));
                }
                if us.nurses.len() != st.shifts.len() {
                    return bad(format!(
                        "staffing for {:?}: one nurse count per shift ({})",
                        us.unit,
                        st.shifts.len()
                    ));
                }
            }
            for u in &self.units {
                if st.units.iter().any(|s| s.unit == u.name)
                    && !st
                        .ratios
                        .iter()
                        .any(|r| r.kind == u.kind && r.patients_per_nurse > 0)
                {
                    return bad(format!("staffing: no ratio for unit kind of {:?}", u.name));
                }
            }
        }
        Ok(())
    }

    fn check_routes(&self, what: &str, routes: &[Route], must_sum_to_one: bool) -> Result<()> {
        let mut total = 0.0;
        for r in routes {
            if self.unit_index(&r.to).is_none() {
                return Err(Error::Invalid(format!("{what}: no care unit {:?}", r.to)));
            }
            if !(0.0..=1.0).contains(&r.p) {
                return Err(Error::Invalid(format!(
                    "{what}: probabilities must be in 0–1"
                )));
            }
            total += r.p;
        }
        if total > 1.0 + 1e-6 {
            return Err(Error::Invalid(format!(
                "{what}: probabilities sum to {total:.4} > 1"
            )));
        }
        if must_sum_to_one && (total - 1.0).abs() > 1e-6 {
            return Err(Error::Invalid(format!(
                "{what}: probabilities must sum to 1 (they sum to {total:.4})"
            )));
        }
        Ok(())
    }
}

fn check_shares(what: &str, shares: &[f64]) -> Result<()> {
    let total: f64 = shares.iter().sum();
    if shares.iter().any(|p| !(0.0..=1.0).contains(p)) || (total - 1.0).abs() > 1e-6 {
        return Err(Error::Invalid(format!(
            "{what}: shares must be in 0–1 and sum to 1"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn community() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/community-hospital.toml")
    }

    #[test]
    fn shipped_scenarios_load_and_apply_their_changes() {
        let base = Scenario::load(&community()).expect("base loads");
        let dir = community()
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        let icu = |s: &Scenario| s.hospital.units[s.hospital.unit_index("ICU").unwrap_or(0)].beds;
        let plus4 = Scenario::load(&dir.join("icu-plus-4.toml")).expect("loads");
        assert_eq!(icu(&plus4), icu(&base) + 4);
        let surge = Scenario::load(&dir.join("surge-30.toml")).expect("loads");
        let ed = |s: &Scenario| s.hospital.arrivals[0].mean_rate();
        assert!((ed(&surge) - 1.3 * ed(&base)).abs() < 1e-12);
        assert_eq!(
            surge.hospital.arrivals[1], base.hospital.arrivals[1],
            "elective unchanged"
        );
        let noon = Scenario::load(&dir.join("discharge-before-noon.toml")).expect("loads");
        assert_eq!(noon.discharge_before_noon, 0.4);
        assert_eq!(base.discharge_before_noon, 0.0);
        let night = Scenario::load(&dir.join("night-staffing-cut.toml")).expect("loads");
        let nurses = |s: &Scenario| {
            s.hospital
                .staffing
                .as_ref()
                .map(|st| st.units[3].nurses.clone())
                .unwrap_or_default()
        };
        assert_eq!(nurses(&night), vec![29, 24]);
        assert_eq!(night.name, "night-staffing-cut");
    }

    #[test]
    fn a_hospital_round_trips_through_toml() {
        let base = Scenario::load(&community()).expect("loads");
        let text = base.hospital.to_toml().expect("writes");
        let again = ScenarioFile::parse(&text, Path::new("x.toml")).expect("parses");
        assert_eq!(again.hospital.as_ref(), Some(&base.hospital));
    }

    #[test]
    fn bad_scenarios_are_rejected_with_the_reason() {
        let base = Scenario::load(&community()).expect("loads").hospital;
        let err = |h: Hospital| match Scenario::from_hospital("x", h) {
            Err(Error::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        };
        let mut h = base.clone();
        h.units[0].routing.push(Route {
            to: "Nowhere".into(),
            p: 0.1,
        });
        assert!(err(h).contains("no care unit \"Nowhere\""));
        let mut h = base.clone();
        h.units[0].routing.push(Route {
            to: "Telemetry".into(),
            p: 0.5,
        });
        assert!(err(h).contains("sum to"));
        let mut h = base.clone();
        h.arrivals[0].per_hour = vec![1.0; 7];
        assert!(err(h).contains("1, 24 or 168"));
        let mut h = base.clone();
        h.ed = None;
        assert!(err(h).contains("no [ed]"));
        let mut h = base.clone();
        if let Some(st) = &mut h.staffing {
            st.shifts[1].hours = 11;
        }
        assert!(err(h).contains("exactly once"));
        let mut h = base.clone();
        h.units[1].los = Duration::Exponential { mean_hours: -1.0 };
        assert!(err(h).contains("out of range"));
        let changes = Changes {
            stream_multiplier: [("walk-in".to_owned(), 2.0)].into(),
            ..Changes::default()
        };
        let e = Scenario::new("x".into(), base.clone(), &changes, RunSettings::default());
        assert!(matches!(e, Err(Error::Invalid(m)) if m.contains("walk-in")));
        let e = ScenarioFile::parse("units = 3\nbogus = 1", Path::new("bad.toml"));
        assert!(matches!(e, Err(Error::Toml { .. })), "{e:?}");
    }
}
