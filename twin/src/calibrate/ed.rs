//! The emergency department of the calibrated hospital: ED visits (the ED stays an encounter
//! starts with) fitted for treatment time, admission probability and first inpatient unit, the
//! ED units' peak census for bays, and the assumed acuity mix (see the parent module, "The
//! ED").
use super::report::{duration_text, routes_text};
use super::stays::peak_census;
use super::{ASSUMED_ESI_SHARES, EstimateLine, Observations, line, lognormal_mle, shares};
use crate::scenario::{Duration, EmergencyDepartment, Estimate};
use crate::{Error, Result};
use std::collections::BTreeMap;
use wardstream_schemas::Millis;
use wardstream_schemas::time::HOUR_MS;

/// The ED and its `ed.*` report lines; none if no encounter starts in an ED unit.
///
/// Errors: [`Error::Calibration`] if there are ED arrivals but no completed ED visit longer
/// than 0 h.
pub(super) fn emergency_department(
    obs: &Observations,
    report: &mut Vec<EstimateLine>,
) -> Result<Option<EmergencyDepartment>> {
    let tenant = obs.tenant;
    // ED arrivals: the encounters whose first stay is in an ED unit.
    let n_ed = obs.flows.iter().filter(|f| f.ed_visit.is_some()).count() as u64;
    if n_ed == 0 {
        return Ok(None);
    }
    let mut ed_intervals: Vec<(Millis, Option<Millis>)> = Vec::new();
    for enc in &obs.encounters {
        for s in enc.stays.iter().filter(|s| obs.is_ed(s.unit)) {
            ed_intervals.push((s.start, s.end));
        }
    }
    let ed_units = obs.ed_units();
    let mut visit_hours = Vec::new();
    let (mut zero, mut censored, mut admitted, mut home) = (0u64, 0u64, 0u64, 0u64);
    let mut admit_to: BTreeMap<&str, u64> = BTreeMap::new();
    for (enc, flow) in obs.encounters.iter().zip(&obs.flows) {
        let Some(visit) = &flow.ed_visit else {
            continue;
        };
        let Some(end) = visit.end else {
            censored += 1;
            continue;
        };
        let hours = (end - visit.start) as f64 / HOUR_MS as f64;
        if hours > 0.0 {
            visit_hours.push(hours);
        } else {
            zero += 1;
        }
        match flow.inpatient.first() {
            Some(s) => {
                admitted += 1;
                *admit_to.entry(s.unit).or_insert(0) += 1;
            }
            None if enc.discharged.is_some() => home += 1,
            None => censored += 1, // left the ED for an open ED stay: cannot happen
        }
    }
    if visit_hours.is_empty() {
        return Err(Error::Calibration(format!(
            "tenant {tenant:?} has {n_ed} ED arrivals but no completed ED visit longer \
             than 0 h to fit the ED treatment time on"
        )));
    }
    let (mu, sigma) = lognormal_mle(&visit_hours);
    let treatment = Duration::Lognormal { mu, sigma };
    let decided = admitted + home;
    let p_admit = if decided == 0 {
        0.0
    } else {
        admitted as f64 / decided as f64
    };
    let admit_to = shares(&admit_to);
    let bays = u32::try_from(peak_census(&ed_intervals))
        .unwrap_or(u32::MAX)
        .max(1);
    let treatment_source = format!(
        "lognormal MLE of ln(h) over {} completed ED visits (arrival in the \
         ED to leaving it: includes waiting and boarding, an upper bound on treatment \
         time); {zero} visits of 0 h and {censored} open visits left out",
        visit_hours.len()
    );
    line(
        report,
        "ed.treatment".into(),
        duration_text(&treatment),
        visit_hours.len() as u64,
        format!("{tenant} ADT: {treatment_source}"),
    );
    line(
        report,
        "ed.admit_probability".into(),
        format!("{p_admit:.4} at every acuity level"),
        decided,
        format!(
            "{tenant} ADT: {admitted} of {decided} completed ED visits moved on to an \
             inpatient unit; the same value for every acuity level (assumed: no triage \
             acuity in the data)"
        ),
    );
    line(
        report,
        "ed.acuity".into(),
        format!("{ASSUMED_ESI_SHARES:?}"),
        0,
        "ASSUMED, not from the data: typical ESI 1–5 mix; ADT has no triage acuity; edit".into(),
    );
    line(
        report,
        "ed.admit_to".into(),
        routes_text(&admit_to, ""),
        admitted,
        format!("{tenant} ADT: first inpatient unit after {admitted} admitting ED visits"),
    );
    line(
        report,
        "ed.bays".into(),
        bays.to_string(),
        ed_intervals.len() as u64,
        format!(
            "{tenant} ADT: peak observed concurrent census of the ED units ({}) over {} \
             ED stays (a lower bound; edit)",
            ed_units.join(", "),
            ed_intervals.len()
        ),
    );
    line(
        report,
        "ed.patience".into(),
        "none (nobody leaves without being seen)".into(),
        0,
        "ASSUMED: the ADT data record no LWBS; set a duration to model it".into(),
    );
    line(
        report,
        "ed.diversion_queue".into(),
        "none (never diverts)".into(),
        0,
        "ASSUMED: the ADT data record no ambulance diversion".into(),
    );
    Ok(Some(EmergencyDepartment {
        bays,
        acuity: ASSUMED_ESI_SHARES.to_vec(),
        treatment,
        admit_probability: vec![p_admit; ASSUMED_ESI_SHARES.len()],
        admit_to,
        patience: None,
        diversion_queue: None,
        estimate: Some(Estimate {
            n: n_ed,
            source: format!(
                "from {tenant} ADT ({n_ed} ED arrivals): treatment = {treatment_source}; \
                 admit_probability ({admitted}/{decided}, one value for all levels), \
                 admit_to, bays (peak census, a lower bound). ASSUMED: acuity shares \
                 (ESI 1–5 {ASSUMED_ESI_SHARES:?}), no LWBS, no diversion"
            ),
        }),
    }))
}
