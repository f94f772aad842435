//! Calibration: estimates a [`Hospital`] from replayed ADT events.
//!
//! [`calibrate`] reads the admissions, transfers and discharges of one tenant (by default the
//! MIMIC-IV demo replay, tenant `mimic-iv-demo`) and writes down the hospital they imply:
//! care units with beds, length of stay (LOS) and routing, arrival streams, the emergency
//! department and the discharge-hour profile. Every estimate carries its sample size and
//! source ([`Estimate`]), and [`Calibration::report`] lists them one per line;
//! [`to_commented_toml`] writes the hospital file with that table and the
//! [`ASSUMPTIONS`] as `#` comments above it.
//!
//! ## From events to unit stays
//! Events are deduplicated by `(tenant_id, event_id)` (a re-sent id replaces the earlier
//! version, as everywhere in wardstream), grouped by `encounter_id` and sorted by
//! `(event_time, kind)` with admit < transfer < discharge. Each encounter is replayed into its
//! **unit stays** `(unit, start, end)`: an admit opens the first stay, a transfer closes the
//! current stay and opens the next, a discharge closes the last one. A transfer into the unit
//! the patient is already in (a bed move) continues the stay. An encounter whose events do not
//! form such a sequence (a transfer or discharge before the admit, a second admit, an event
//! after the discharge, a transfer from a unit the patient is not in, an admit or transfer
//! without a care unit) is skipped and counted in the report under `data.skipped`. An
//! encounter without a discharge is still in hospital when the data end: its last stay is
//! **open** (right-censored).
//!
//! ## The ED
//! Units of kind [`UnitKind::Ed`] (by [`unit_kind`]: `Emergency Department`, `Emergency
//! Department Observation`) are not care units of the model: the ED is the hospital's
//! [`EmergencyDepartment`]. The ED stays at the start of an encounter form one **ED visit**
//! (so `Emergency Department` → `Emergency Department Observation` is one visit), and such an
//! encounter arrives through the `ed` stream; every other encounter arrives through the
//! `direct` stream into its first unit. An ED stay later in an encounter (a return to the ED
//! from a ward) is skipped: the unit before it routes to the next inpatient unit after it (or
//! to discharge), and if that is the same unit, the two stays are one (the bed is taken as
//! held during the trip).
//!
//! [`EmergencyDepartment`]: crate::scenario::EmergencyDepartment
//!
//! ## Estimates
//! - **LOS** per unit: lognormal maximum-likelihood fit, `mu` = mean of ln(h), `sigma` =
//!   population standard deviation of ln(h), over the unit's completed stays. Stays of 0 h
//!   (ln undefined) and open stays are left out and counted. A unit with fewer than
//!   [`CalibrationOptions::min_stays`] stays is fitted on the stays of all units of its kind,
//!   then of all inpatient units. With [`CalibrationOptions::pool_icu_los`], ICU units also
//!   pool every other tenant's ICU unit stays (the eICU demo's 2,520 unit stays at 186
//!   hospitals, tenants `eicu-<hospitalid>`).
//! - **Routing** per unit: the empirical shares of the next inpatient unit over the unit's
//!   departures; the rest is discharge.
//! - **Beds** per unit: the peak concurrent census over the replayed timeline, at least 1 — a
//!   lower bound on the physical beds. `initial_census` is 0.
//! - **Arrivals**: encounter starts per UTC hour of day divided by the days spanned by the
//!   tenant's events (24 values, not 168: the MIMIC-IV replay re-anchors each patient by whole
//!   days, so its time of day is real and its weekday is not).
//! - **ED**: treatment = lognormal fit of ED visit durations; one admission probability (the
//!   share of completed ED visits that move on to an inpatient unit) for every acuity level;
//!   assumed ESI shares [`ASSUMED_ESI_SHARES`]; `admit_to` = first inpatient unit after the
//!   visit; bays = peak concurrent ED census; no LWBS patience and no diversion (the data
//!   have neither).
//! - **Discharge hour**: discharges from inpatient units per UTC hour of day.
//!
//! Calibration is deterministic: the same events, in any order, give the same hospital.
mod ed;
mod report;
mod stays;
mod units;

pub use report::to_commented_toml;

use crate::scenario::{ArrivalKind, ArrivalStream, Estimate, Hospital, Route, UnitKind};
use crate::{Error, Result};
use report::{rates_text, routes_text};
use stays::{Encounter, Flow, Latest, dedup, encounters};
use std::collections::BTreeMap;
use wardstream_schemas::time::{DAY_MS, HOUR_MS};
use wardstream_schemas::{Adt, Millis};

/// The tenant calibrated by default: the MIMIC-IV Clinical Database Demo v2.2 replay
/// (Johnson A. et al., PhysioNet 2023).
pub const DEFAULT_TENANT: &str = "mimic-iv-demo";

/// The calibrated hospital's `max_transfer_wait_hours` (assumed, not from the data): after a
/// day blocked in one unit waiting for the next, the patient is placed over capacity.
pub const DEFAULT_MAX_TRANSFER_WAIT_HOURS: f64 = 24.0;

/// Default [`CalibrationOptions::min_stays`].
pub const DEFAULT_MIN_STAYS: usize = 10;

/// ED triage acuity shares, ESI level 1 (most urgent) to 5, used because the ADT data carry no
/// triage acuity. An **assumed** typical mix for a US adult ED (most patients ESI 3, few ESI
/// 1), not an estimate from the data; edit it in the hospital file.
pub const ASSUMED_ESI_SHARES: [f64; 5] = [0.01, 0.15, 0.45, 0.30, 0.09];

/// The modelling assumptions behind every calibration, written above the hospital file by
/// [`to_commented_toml`].
pub const ASSUMPTIONS: &[&str] = &[
    "Times are UTC; hour-of-day profiles use the UTC hour of the event time.",
    "Arrival rates have 24 hour-of-day values, not 168: replayed data sets such as the MIMIC-IV \
     demo are re-anchored by whole days, so time of day is real and weekday is not.",
    "Arrival rate = encounter starts in that hour of day / days spanned by the tenant's events \
     (first to last event, at least 1). A sample of patients (MIMIC-IV demo: the full \
     histories of 100 patients over years) gives rates far below a whole hospital's; scale \
     them with [changes] arrival_multiplier.",
    "Beds = peak observed concurrent census: a lower bound on the physical beds; edit.",
    "initial_census = 0: the simulation starts empty; delete a warm-up.",
    "LOS: lognormal MLE, mu = mean ln(h), sigma = population sd of ln(h). Stays of 0 h and \
     stays still open when the data end are left out of LOS fits and routing (open stays \
     count in the census until the last event).",
    "A transfer into the same unit (a bed move) continues the stay.",
    "ED units (kind ed) are the [ed], not care units. The ED stays at the start of an \
     encounter are one ED visit; ed.treatment is fitted to whole ED visits (waiting, \
     treatment and boarding), an upper bound on treatment time.",
    "A return to the ED in mid-stay is skipped: the unit before it routes to the next \
     inpatient unit (or discharge); a return to the same unit continues its stay.",
    "ED acuity shares are assumed (no triage acuity in ADT); ed.admit_probability is the same \
     for every acuity level; no LWBS (patience none) and no diversion (the data have neither).",
    "Unit kinds come from unit names (calibrate::unit_kind); check them, they select the \
     nurse ratios.",
];

/// What to calibrate and how to pool small samples.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CalibrationOptions {
    /// Tenant whose flow (units, routing, arrivals, beds, ED) is calibrated. Default
    /// [`DEFAULT_TENANT`] (`mimic-iv-demo`).
    pub tenant: String,
    /// Pool ICU length-of-stay observations from every other tenant (eICU unit stays) into
    /// this tenant's ICU-kind units' LOS fits. Default true.
    pub pool_icu_los: bool,
    /// Units with fewer LOS observations than this get pooled with all units of the same
    /// kind (then all units) for their LOS fit. Default [`DEFAULT_MIN_STAYS`] (10).
    pub min_stays: usize,
}

impl Default for CalibrationOptions {
    fn default() -> Self {
        CalibrationOptions {
            tenant: DEFAULT_TENANT.to_owned(),
            pool_icu_los: true,
            min_stays: DEFAULT_MIN_STAYS,
        }
    }
}

/// A calibrated hospital and the estimates behind it.
#[derive(Clone, Debug, PartialEq)]
pub struct Calibration {
    /// The hospital, validated ([`Hospital::validate`]).
    pub hospital: Hospital,
    /// One line per estimate (and per data summary), in file order.
    pub report: Vec<EstimateLine>,
}

/// One estimate, as a row of a human-readable table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EstimateLine {
    /// What is estimated, as a path into the hospital file, e.g. `units["MICU"].los`, or
    /// `data.*` for a summary of the input.
    pub parameter: String,
    /// The value, formatted for reading (units included).
    pub value: String,
    /// Observations behind it (0 for assumptions and rules).
    pub n: u64,
    /// Data and method, or that it was assumed.
    pub source: String,
}

/// The kind of a care unit, from its name (case-insensitive). First match wins:
///
/// 1. [`Icu`](UnitKind::Icu) if "intensive care", "critical care", "coronary care", or a word ending
///    in `ICU` or `CCU` (`MICU`, `SICU`, `CTICU`, `Med-Surg ICU`, `CCU-CTICU`, `NICU`, `PICU`);
/// 2. [`Ed`](UnitKind::Ed) if "emergency", or the word `ED`;
/// 3. [`Pacu`](UnitKind::Pacu) if the word `PACU`, "post-anesthesia"/"post anaesthesia", "recovery
///    room";
/// 4. [`StepDown`](UnitKind::StepDown) if "stepdown", "step-down", "step down", "intermediate",
///    "progressive care", the words `IMC`, `IMCU`, `PCU`;
/// 5. [`Telemetry`](UnitKind::Telemetry) if "telemetry", the word `TELE`;
/// 6. [`Pediatrics`](UnitKind::Pediatrics) if "pediatric"/"paediatric", and also "neonatal", "nursery",
///    "newborn": newborn care is paediatric care, there is no neonatal kind, and neonatal
///    intensive care already matched rule 1;
/// 7. [`Psychiatric`](UnitKind::Psychiatric) if "psych";
/// 8. [`Obstetrics`](UnitKind::Obstetrics) if "obstetric", and the words `labor`, `labour`, `delivery`,
///    `postpartum`, `antepartum`, `maternity`;
/// 9. [`MedSurg`](UnitKind::MedSurg) if "med/surg", "med-surg", "medsurg", "medicine", "surgery",
///    "medical", "surgical";
/// 10. otherwise [`UnitKind::Other`] (e.g. MIMIC's `Neurology`, `Transplant`, `Vascular`,
///     `Hematology/Oncology`, `Discharge Lounge`, `Observation`).
///
/// Quoted strings match anywhere in the name; "words" are maximal alphanumeric runs.
pub fn unit_kind(name: &str) -> UnitKind {
    let lower = name.to_lowercase();
    let words: Vec<String> = name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_uppercase)
        .collect();
    let has = |needles: &[&str]| needles.iter().any(|n| lower.contains(n));
    let word = |wanted: &[&str]| words.iter().any(|w| wanted.contains(&w.as_str()));
    if has(&["intensive care", "critical care", "coronary care"])
        || words
            .iter()
            .any(|w| w.ends_with("ICU") || w.ends_with("CCU"))
    {
        UnitKind::Icu
    } else if has(&["emergency"]) || word(&["ED"]) {
        UnitKind::Ed
    } else if word(&["PACU"])
        || has(&[
            "post-anesthesia",
            "post anesthesia",
            "postanesthesia",
            "post-anaesthesia",
            "post anaesthesia",
            "postanaesthesia",
            "recovery room",
        ])
    {
        UnitKind::Pacu
    } else if has(&[
        "stepdown",
        "step-down",
        "step down",
        "intermediate",
        "progressive care",
    ]) || word(&["IMC", "IMCU", "PCU"])
    {
        UnitKind::StepDown
    } else if has(&["telemetry"]) || word(&["TELE"]) {
        UnitKind::Telemetry
    } else if has(&["pediatric", "paediatric", "neonatal", "nursery", "newborn"]) {
        UnitKind::Pediatrics
    } else if has(&["psych"]) {
        UnitKind::Psychiatric
    } else if has(&["obstetric"])
        || word(&[
            "LABOR",
            "LABOUR",
            "DELIVERY",
            "POSTPARTUM",
            "ANTEPARTUM",
            "MATERNITY",
        ])
    {
        UnitKind::Obstetrics
    } else if has(&[
        "med/surg", "med-surg", "medsurg", "medicine", "surgery", "medical", "surgical",
    ]) {
        UnitKind::MedSurg
    } else {
        UnitKind::Other
    }
}

/// Estimates a hospital from `events`: the flow of tenant `opts.tenant`, and (with
/// `opts.pool_icu_los`) the ICU lengths of stay of every other tenant. See the module docs
/// for each estimate; events may come in any order.
///
/// Errors: [`Error::Calibration`] if the tenant has no events, no inpatient (non-ED) unit
/// stay, no completed inpatient stay to fit a length of stay on, or ED arrivals but no
/// completed ED visit; or (a bug) if the result fails [`Hospital::validate`].
pub fn calibrate(events: &[Adt], opts: &CalibrationOptions) -> Result<Calibration> {
    let tenant = opts.tenant.as_str();
    let mut report = Vec::new();

    // 1. Encounters -> unit stays.
    let (latest, duplicates) = dedup(events);
    let obs = Observations::new(&latest, duplicates, tenant)?;
    data_lines(&obs, &mut report);

    // 2.–5. Units: kind, LOS, routing, beds.
    let care_units = units::care_units(&obs, &latest, opts, &mut report)?;

    // 6. Arrivals.
    let arrivals = arrivals(&obs, &mut report);

    // 7. The ED.
    let ed = ed::emergency_department(&obs, &mut report)?;

    // 8. Discharge hour.
    let discharge_hour = discharge_hour(&obs, &mut report);

    // 9. Transfer wait (assumed).
    line(
        &mut report,
        "max_transfer_wait_hours".into(),
        format!("{DEFAULT_MAX_TRANSFER_WAIT_HOURS} h"),
        0,
        "ASSUMED: a patient blocked this long waiting for the next unit's bed is placed there \
         over capacity (hallway / off-service bed, counted as an overflow); without it, \
         routing loops between full units can gridlock"
            .into(),
    );

    let hospital = Hospital {
        max_transfer_wait_hours: Some(DEFAULT_MAX_TRANSFER_WAIT_HOURS),
        name: format!("calibrated from {tenant}"),
        discharge_hour,
        ed,
        staffing: None,
        arrivals,
        units: care_units,
    };
    hospital.validate().map_err(|e| {
        Error::Calibration(format!(
            "the calibrated hospital does not validate (a bug in calibration): {e}"
        ))
    })?;
    Ok(Calibration { hospital, report })
}

/// One tenant's ADT events rebuilt into encounters: what every estimate reads.
struct Observations<'a> {
    /// The calibrated tenant.
    tenant: &'a str,
    /// The tenant's events (latest versions).
    events: usize,
    /// Re-sent event ids replaced by their latest version, over all tenants.
    duplicates: u64,
    /// Days from the tenant's first to last event, at least 1.
    span_days: f64,
    /// Encounters rebuilt into unit stays, in encounter-id order.
    encounters: Vec<Encounter<'a>>,
    /// Encounters skipped as malformed, by reason.
    skipped: BTreeMap<&'static str, u64>,
    /// The model's view of each encounter, in the order of `encounters`.
    flows: Vec<Flow<'a>>,
    /// Every unit the tenant's encounters stay in, with its kind ([`unit_kind`]).
    kinds: BTreeMap<&'a str, UnitKind>,
}

impl<'a> Observations<'a> {
    /// Rebuilds the encounters of `tenant` from `latest` (every tenant's events, deduplicated
    /// with `duplicates` replaced). Errors if the tenant has no events.
    fn new(latest: &Latest<'a>, duplicates: u64, tenant: &'a str) -> Result<Self> {
        let mine: Vec<&Adt> = latest
            .iter()
            .filter(|((t, _), _)| *t == tenant)
            .map(|(_, e)| *e)
            .collect();
        let (Some(first_t), Some(last_t)) = (
            mine.iter().map(|e| e.event_time).min(),
            mine.iter().map(|e| e.event_time).max(),
        ) else {
            return Err(Error::Calibration(format!(
                "no ADT events for tenant {tenant:?}"
            )));
        };
        let span_days = ((last_t - first_t) as f64 / DAY_MS as f64).max(1.0);
        let (encounters, skipped) = encounters(mine.iter().copied());
        let mut kinds: BTreeMap<&str, UnitKind> = BTreeMap::new();
        for enc in &encounters {
            for s in &enc.stays {
                kinds.entry(s.unit).or_insert_with(|| unit_kind(s.unit));
            }
        }
        let is_ed = |unit: &str| kinds.get(unit) == Some(&UnitKind::Ed);
        let flows: Vec<Flow> = encounters.iter().map(|e| Flow::new(e, &is_ed)).collect();
        Ok(Observations {
            tenant,
            events: mine.len(),
            duplicates,
            span_days,
            encounters,
            skipped,
            flows,
            kinds,
        })
    }

    /// Whether `unit` is an ED unit ([`UnitKind::Ed`]).
    fn is_ed(&self, unit: &str) -> bool {
        self.kinds.get(unit) == Some(&UnitKind::Ed)
    }

    /// The ED units, in name order.
    fn ed_units(&self) -> Vec<&'a str> {
        self.kinds
            .iter()
            .filter(|(_, k)| **k == UnitKind::Ed)
            .map(|(u, _)| *u)
            .collect()
    }
}

/// Appends one line to the report.
fn line(report: &mut Vec<EstimateLine>, parameter: String, value: String, n: u64, source: String) {
    report.push(EstimateLine {
        parameter,
        value,
        n,
        source,
    });
}

/// The `data.*` lines: events, encounters used and skipped, bed moves, open encounters, ED
/// returns.
fn data_lines(obs: &Observations, report: &mut Vec<EstimateLine>) {
    let (tenant, duplicates) = (obs.tenant, obs.duplicates);
    let (encounters, skipped, flows) = (&obs.encounters, &obs.skipped, &obs.flows);
    let skipped_total: u64 = skipped.values().sum();
    let skipped_text = if skipped.is_empty() {
        String::new()
    } else {
        let reasons: Vec<String> = skipped.iter().map(|(r, c)| format!("{c} {r}")).collect();
        format!("; skipped as malformed: {}", reasons.join(", "))
    };
    line(
        report,
        "data.events".into(),
        format!("{} ADT events, {:.2} days", obs.events, obs.span_days),
        obs.events as u64,
        format!(
            "tenant {tenant}, first to last event (at least 1 day); {duplicates} re-sent event \
             ids replaced by their latest version (all tenants)"
        ),
    );
    line(
        report,
        "data.encounters".into(),
        format!("{} used, {} skipped", encounters.len(), skipped_total),
        encounters.len() as u64 + skipped_total,
        format!("encounters of {tenant} rebuilt into unit stays{skipped_text}"),
    );
    let bed_moves: u64 = encounters.iter().map(|e| e.bed_moves).sum();
    let open = encounters.iter().filter(|e| e.discharged.is_none()).count() as u64;
    let ed_returns: u64 = flows.iter().map(|f| f.ed_returns).sum();
    let ed_rejoins: u64 = flows.iter().map(|f| f.rejoined).sum();
    line(
        report,
        "data.bed_moves".into(),
        bed_moves.to_string(),
        bed_moves,
        "transfers into the unit the patient was already in; the stay continues".into(),
    );
    line(
        report,
        "data.open_encounters".into(),
        open.to_string(),
        open,
        "encounters without a discharge: their last stay is censored (not in LOS or routing; \
         in the census until the last event)"
            .into(),
    );
    line(
        report,
        "data.ed_returns".into(),
        format!("{ed_returns} ({ed_rejoins} back into the same unit)"),
        ed_returns,
        "ED stays after an inpatient stay: skipped in routing; a return to the same unit \
         continues its stay"
            .into(),
    );
}

/// The arrival streams, `ed` (encounters whose first unit is an ED unit) then `direct` (the
/// others, into their first unit), each only if it has arrivals: starts per UTC hour of day
/// / days spanned.
fn arrivals(obs: &Observations, report: &mut Vec<EstimateLine>) -> Vec<ArrivalStream> {
    let (tenant, span_days) = (obs.tenant, obs.span_days);
    let mut ed_starts = [0u64; 24];
    let mut direct_starts = [0u64; 24];
    let mut direct_to: BTreeMap<&str, u64> = BTreeMap::new();
    for (enc, flow) in obs.encounters.iter().zip(&obs.flows) {
        let Some(first) = enc.stays.first() else {
            continue;
        };
        if flow.ed_visit.is_some() {
            ed_starts[hour_of_day(first.start)] += 1;
        } else {
            direct_starts[hour_of_day(first.start)] += 1;
            *direct_to.entry(first.unit).or_insert(0) += 1;
        }
    }
    let ed_units = obs.ed_units();
    let rates =
        |starts: &[u64; 24]| -> Vec<f64> { starts.iter().map(|c| *c as f64 / span_days).collect() };
    let rate_source = |who: &str, n: u64| {
        format!(
            "{tenant} ADT: {n} encounter starts ({who}) per UTC hour of day / {span_days:.2} \
             days spanned by the tenant's events; 24 hour-of-day values because replayed \
             weekdays (MIMIC-IV demo) are not real"
        )
    };
    let mut arrivals = Vec::new();
    let n_ed: u64 = ed_starts.iter().sum();
    if n_ed > 0 {
        let who = format!("first unit an ED unit: {}", ed_units.join(", "));
        let per_hour = rates(&ed_starts);
        line(
            report,
            "arrivals[\"ed\"].per_hour".into(),
            rates_text(&per_hour),
            n_ed,
            rate_source(&who, n_ed),
        );
        arrivals.push(ArrivalStream {
            name: "ed".into(),
            kind: ArrivalKind::Ed,
            per_hour,
            to: Vec::new(),
            estimate: Some(Estimate {
                n: n_ed,
                source: rate_source(&who, n_ed),
            }),
        });
    }
    let n_direct: u64 = direct_starts.iter().sum();
    if n_direct > 0 {
        let who = "first unit an inpatient unit";
        let per_hour = rates(&direct_starts);
        let to = shares(&direct_to);
        line(
            report,
            "arrivals[\"direct\"].per_hour".into(),
            rates_text(&per_hour),
            n_direct,
            rate_source(who, n_direct),
        );
        line(
            report,
            "arrivals[\"direct\"].to".into(),
            routes_text(&to, ""),
            n_direct,
            format!(
                "{tenant} ADT: empirical shares of the first unit of {n_direct} direct admissions"
            ),
        );
        arrivals.push(ArrivalStream {
            name: "direct".into(),
            kind: ArrivalKind::Direct,
            per_hour,
            to,
            estimate: Some(Estimate {
                n: n_direct,
                source: format!(
                    "{}; first unit: empirical shares",
                    rate_source(who, n_direct)
                ),
            }),
        });
    }
    arrivals
}

/// The discharge-hour weights: discharges from inpatient units (not from the ED) per UTC hour
/// of day; empty if there are none.
fn discharge_hour(obs: &Observations, report: &mut Vec<EstimateLine>) -> Vec<f64> {
    let tenant = obs.tenant;
    let mut discharge_counts = [0u64; 24];
    for enc in &obs.encounters {
        if let (Some(t), Some(last)) = (enc.discharged, enc.stays.last())
            && !obs.is_ed(last.unit)
        {
            discharge_counts[hour_of_day(t)] += 1;
        }
    }
    let n_discharges: u64 = discharge_counts.iter().sum();
    let discharge_hour: Vec<f64> = if n_discharges == 0 {
        Vec::new()
    } else {
        discharge_counts.iter().map(|c| *c as f64).collect()
    };
    line(
        report,
        "discharge_hour".into(),
        if discharge_hour.is_empty() {
            "none (discharge at once)".into()
        } else {
            format!("{discharge_counts:?}")
        },
        n_discharges,
        format!("{tenant} ADT: discharges from inpatient units per UTC hour of day (weights)"),
    );
    discharge_hour
}

/// Maximum-likelihood lognormal fit: mean and population standard deviation of ln(hours).
/// `hours` must be non-empty and positive.
fn lognormal_mle(hours: &[f64]) -> (f64, f64) {
    let n = hours.len() as f64;
    let mu = hours.iter().map(|h| h.ln()).sum::<f64>() / n;
    let var = hours.iter().map(|h| (h.ln() - mu).powi(2)).sum::<f64>() / n;
    (mu, var.sqrt())
}

/// UTC hour of day (0–23) of `t`.
fn hour_of_day(t: Millis) -> usize {
    usize::try_from(t.rem_euclid(DAY_MS) / HOUR_MS).unwrap_or(0)
}

/// Counts as routes with probabilities `count / total` (summing to 1 up to rounding), in
/// name order.
fn shares(counts: &BTreeMap<&str, u64>) -> Vec<Route> {
    let total: u64 = counts.values().sum();
    counts
        .iter()
        .map(|(to, c)| Route {
            to: (*to).to_owned(),
            p: *c as f64 / total as f64,
        })
        .collect()
}

#[cfg(test)]
mod tests;
