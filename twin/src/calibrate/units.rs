//! The care units of the calibrated hospital: each inpatient unit's stays observed, its LOS
//! fitted (pooled with its kind, all units, or other tenants' ICU stays when it has too few),
//! its routing shares and its beds (see the parent module, "Estimates").
use super::report::{duration_text, kind_label, routes_text};
use super::stays::{IcuPool, Latest, icu_pool, peak_census};
use super::{CalibrationOptions, EstimateLine, Observations, line, lognormal_mle};
use crate::scenario::{CareUnit, Duration, Estimate, Route, UnitKind};
use crate::{Error, Result};
use std::collections::BTreeMap;
use wardstream_schemas::Millis;
use wardstream_schemas::time::HOUR_MS;

/// The care units (every unit of `obs` not of kind ED, in name order) and their report lines:
/// `data.pooled_icu_stays` (with `opts.pool_icu_los` and an ICU unit), then per unit its
/// kind, beds, LOS and routing.
///
/// Errors: [`Error::Calibration`] if there is no inpatient unit stay, or no completed one to
/// fit a length of stay on.
pub(super) fn care_units<'a>(
    obs: &Observations<'a>,
    latest: &Latest<'a>,
    opts: &CalibrationOptions,
    report: &mut Vec<EstimateLine>,
) -> Result<Vec<CareUnit>> {
    let tenant = obs.tenant;
    let units = observe(obs)?;
    let icu_pool = pooled_icu_stays(&units, latest, opts, report);
    let mut care_units = Vec::with_capacity(units.len());
    for (name, u) in &units {
        let (los, los_n, los_source) = fit_los(name, &units, icu_pool.as_ref(), opts)?;
        let departures = u.discharged + u.to.values().sum::<u64>();
        let routing: Vec<Route> =
            u.to.iter()
                .map(|(to, c)| Route {
                    to: (*to).to_owned(),
                    p: *c as f64 / departures as f64,
                })
                .collect();
        let beds = u32::try_from(peak_census(&u.intervals))
            .unwrap_or(u32::MAX)
            .max(1);
        let key = |what: &str| format!("units[{name:?}].{what}");
        line(
            report,
            key("kind"),
            kind_label(u.kind).into(),
            0,
            "from the unit name (calibrate::unit_kind); check it, it selects the nurse ratio"
                .into(),
        );
        line(
            report,
            key("beds"),
            beds.to_string(),
            u.stays,
            format!(
                "peak observed census over {} stays in {tenant} (a lower bound; edit)",
                u.stays
            ),
        );
        line(
            report,
            key("los"),
            duration_text(&los),
            los_n,
            format!(
                "{los_source}; {} stays of 0 h and {} open stays left out",
                u.zero, u.open
            ),
        );
        line(
            report,
            key("routing"),
            routes_text(&routing, "discharge"),
            departures,
            format!(
                "empirical shares of the next inpatient unit over {departures} departures from \
                 the unit in {tenant} (rest: discharge)"
            ),
        );
        care_units.push(CareUnit {
            name: (*name).to_owned(),
            kind: u.kind,
            beds,
            los,
            routing,
            initial_census: 0,
            estimate: Some(Estimate {
                n: u.stays,
                source: format!(
                    "{tenant} ADT, {} stays: beds = peak observed census (a lower bound; \
                     edit); los: {los_source}; routing: empirical shares over {departures} \
                     departures",
                    u.stays
                ),
            }),
        });
    }
    Ok(care_units)
}

/// The observations of every inpatient (non-ED) unit, by name: its stays (ED returns removed,
/// a return to the same unit merged), completed stay hours, next units and census intervals.
///
/// Errors: [`Error::Calibration`] if the tenant has no inpatient unit.
fn observe<'a>(obs: &Observations<'a>) -> Result<BTreeMap<&'a str, UnitObs<'a>>> {
    let tenant = obs.tenant;
    let mut units: BTreeMap<&str, UnitObs> = obs
        .kinds
        .iter()
        .filter(|(_, k)| **k != UnitKind::Ed)
        .map(|(u, k)| (*u, UnitObs::new(*k)))
        .collect();
    if units.is_empty() {
        return Err(Error::Calibration(format!(
            "no inpatient (non-ED) unit stays for tenant {tenant:?}"
        )));
    }
    for (enc, flow) in obs.encounters.iter().zip(&obs.flows) {
        for (k, s) in flow.inpatient.iter().enumerate() {
            let Some(u) = units.get_mut(s.unit) else {
                continue;
            };
            u.stays += 1;
            u.intervals.push((s.start, s.end));
            let Some(end) = s.end else {
                u.open += 1;
                continue;
            };
            let hours = (end - s.start) as f64 / HOUR_MS as f64;
            if hours > 0.0 {
                u.los.push(hours);
            } else {
                u.zero += 1;
            }
            match flow.inpatient.get(k + 1) {
                Some(next) => *u.to.entry(next.unit).or_insert(0) += 1,
                None if enc.discharged.is_some() => u.discharged += 1,
                None => {} // back in the ED when the data end: censored
            }
        }
    }
    Ok(units)
}

/// The other tenants' ICU stays, with the `data.pooled_icu_stays` line, if
/// `opts.pool_icu_los` and some unit is an ICU.
fn pooled_icu_stays<'a>(
    units: &BTreeMap<&str, UnitObs>,
    latest: &Latest<'a>,
    opts: &CalibrationOptions,
    report: &mut Vec<EstimateLine>,
) -> Option<IcuPool<'a>> {
    let tenant = opts.tenant.as_str();
    if opts.pool_icu_los && units.values().any(|u| u.kind == UnitKind::Icu) {
        let pool = icu_pool(latest, tenant);
        line(
            report,
            "data.pooled_icu_stays".into(),
            format!(
                "{} ICU unit stays from {} other tenants",
                pool.hours.len(),
                pool.tenants.len()
            ),
            pool.hours.len() as u64,
            format!(
                "completed stays > 0 h in ICU-kind units of every tenant but {tenant} \
                 (pool_icu_los; {} encounters skipped as malformed)",
                pool.skipped
            ),
        );
        Some(pool)
    } else {
        None
    }
}

/// Observations of one inpatient unit.
#[derive(Clone, Debug)]
struct UnitObs<'a> {
    kind: UnitKind,
    stays: u64,
    /// Completed stays > 0 h, hours.
    los: Vec<f64>,
    zero: u64,
    open: u64,
    to: BTreeMap<&'a str, u64>,
    discharged: u64,
    intervals: Vec<(Millis, Option<Millis>)>,
}

impl UnitObs<'_> {
    fn new(kind: UnitKind) -> Self {
        UnitObs {
            kind,
            stays: 0,
            los: Vec::new(),
            zero: 0,
            open: 0,
            to: BTreeMap::new(),
            discharged: 0,
            intervals: Vec::new(),
        }
    }
}

/// Lognormal LOS of unit `name`, with the number of observations and the source text; pools
/// as described in [`CalibrationOptions::min_stays`].
fn fit_los(
    name: &str,
    units: &BTreeMap<&str, UnitObs>,
    icu_pool: Option<&IcuPool>,
    opts: &CalibrationOptions,
) -> Result<(Duration, u64, String)> {
    let tenant = opts.tenant.as_str();
    let Some(u) = units.get(name) else {
        return Err(Error::Calibration(format!("no unit {name:?}")));
    };
    let extra: &[f64] = match icu_pool {
        Some(p) if u.kind == UnitKind::Icu => &p.hours,
        _ => &[],
    };
    let gather = |pick: &dyn Fn(&UnitObs) -> bool| -> (Vec<f64>, usize) {
        let chosen: Vec<&UnitObs> = units.values().filter(|v| pick(v)).collect();
        let mut hours: Vec<f64> = chosen.iter().flat_map(|v| v.los.iter().copied()).collect();
        hours.extend_from_slice(extra);
        (hours, chosen.len())
    };
    let own = u.los.len();
    let (mut sample, _) = gather(&|v| std::ptr::eq(v, u));
    let mut scope = format!("the {own} completed stays in this unit ({tenant})");
    let mut why = String::new();
    if sample.len() < opts.min_stays {
        why = format!(
            "; pooled because this unit has only {own} (< min_stays {})",
            opts.min_stays
        );
        let (same, k) = gather(&|v| v.kind == u.kind);
        sample = same;
        scope = format!(
            "the {} completed stays in all {k} {} units of {tenant}",
            sample.len() - extra.len(),
            kind_label(u.kind)
        );
        if sample.len() < opts.min_stays {
            let (all, k) = gather(&|_| true);
            sample = all;
            scope = format!(
                "the {} completed stays in all {k} inpatient units of {tenant}",
                sample.len() - extra.len()
            );
            why.push_str(" and its kind has too few");
        }
    }
    if sample.is_empty() {
        return Err(Error::Calibration(format!(
            "tenant {tenant:?} has no completed inpatient stay longer than 0 h to fit a length \
             of stay on (unit {name:?})"
        )));
    }
    let pooled_icu = match icu_pool {
        Some(p) if !extra.is_empty() => format!(
            " + {} ICU unit stays from {} other tenants (pool_icu_los)",
            p.hours.len(),
            p.tenants.len()
        ),
        _ => String::new(),
    };
    let (mu, sigma) = lognormal_mle(&sample);
    Ok((
        Duration::Lognormal { mu, sigma },
        sample.len() as u64,
        format!("lognormal MLE of ln(h) over {scope}{pooled_icu}{why}"),
    ))
}
