//! Offered load and bed sizing from the traffic equations of the patient-flow network.
//!
//! With external arrivals `γ_u` to each unit (direct and elective streams, plus ED arrivals
//! times their admission probability) and routing probabilities `P(v → u)`, the flow into
//! each unit solves `λ = γ + Pᵀλ` (Jackson 1957's traffic equations). The offered load of a
//! unit is `λ_u · E[LOS_u]` patients: the mean census it would have with unlimited beds
//! (Little's law). Beds are sized as the larger of
//! - `⌈load / target occupancy⌉`, the mean occupancy the planner asks for (85% is the usual
//!   planning figure: Bagust, Place & Posnett 1999, BMJ 319:155), and
//! - the fewest beds whose Erlang loss probability `B(c, load)` is at most [`MAX_BLOCKING`]
//!   (de Bruin, Bekker, van Zanten & Koole 2010, "Dimensioning hospital wards using the
//!   Erlang loss model", Ann. Oper. Res. 178:23–43). Small units need this: an offered load
//!   of 1.6 patients at 85% would get 2 beds and turn away a patient a third of the time.
//!
//! Ignored by these formulas, and so only approximate in the simulator: blocking (a patient
//! waiting for the next unit holds the current bed), the discharge-hour shift of each
//! discharge (±12 h, near zero on average), and bed limits themselves.
use crate::calibrate::{Calibration, EstimateLine};
use crate::scenario::{ArrivalKind, Estimate, Hospital};
use crate::stats::erlang_b;

/// Largest Erlang loss probability a sized unit may have (1%).
pub const MAX_BLOCKING: f64 = 0.01;

/// Beds for an offered `load` (patients): the larger of `⌈load / target_occupancy⌉` and the
/// fewest beds with Erlang loss `B(c, load) ≤ MAX_BLOCKING`; at least 1.
pub fn beds_for(load: f64, target_occupancy: f64) -> u32 {
    let by_occupancy = (load / target_occupancy).ceil().max(1.0) as u32;
    let mut c = 1u32;
    while erlang_b(c, load) > MAX_BLOCKING && c < 100_000 {
        c += 1;
    }
    by_occupancy.max(c)
}
use crate::{Error, Result};

/// Flows (patients/h) into each unit and offered loads (patients) of `hospital`, in unit
/// order, plus the ED's offered load (arrivals/h × mean treatment time) when it has one.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferedLoad {
    /// λ_u, patients entering unit u per hour.
    pub flow: Vec<f64>,
    /// λ_u · E\[LOS_u\], patients.
    pub load: Vec<f64>,
    /// ED arrivals/h × mean time in a bay (patients), if there is an ED.
    pub ed_load: Option<f64>,
}

/// Solves the traffic equations of `hospital` by fixed-point iteration.
///
/// Errors: [`Error::Invalid`] if the routing has a closed loop that patients never leave
/// (the iteration does not converge).
pub fn offered_load(hospital: &Hospital) -> Result<OfferedLoad> {
    let n = hospital.units.len();
    let mut external = vec![0.0; n];
    let mut ed_rate = 0.0;
    for s in &hospital.arrivals {
        let rate = s.mean_rate();
        match s.kind {
            ArrivalKind::Ed => ed_rate += rate,
            _ => {
                for r in &s.to {
                    if let Some(u) = hospital.unit_index(&r.to) {
                        external[u] += rate * r.p;
                    }
                }
            }
        }
    }
    if let Some(ed) = &hospital.ed {
        let admit: f64 = ed
            .acuity
            .iter()
            .zip(&ed.admit_probability)
            .map(|(a, p)| a * p)
            .sum();
        for r in &ed.admit_to {
            if let Some(u) = hospital.unit_index(&r.to) {
                external[u] += ed_rate * admit * r.p;
            }
        }
    }
    // Routing as (from, to, p) with unit indices, resolved once.
    let routes: Vec<(usize, usize, f64)> = hospital
        .units
        .iter()
        .enumerate()
        .flat_map(|(v, unit)| {
            unit.routing
                .iter()
                .filter_map(move |r| Some((v, hospital.unit_index(&r.to)?, r.p)))
        })
        .collect();
    let mut flow = external.clone();
    let mut next = vec![0.0; n];
    let mut converged = false;
    for _ in 0..100_000 {
        next.copy_from_slice(&external);
        for &(v, u, p) in &routes {
            next[u] += flow[v] * p;
        }
        let change = next
            .iter()
            .zip(&flow)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f64::max);
        std::mem::swap(&mut flow, &mut next);
        if change <= 1e-12 * (1.0 + flow.iter().copied().fold(0.0, f64::max)) {
            converged = true;
            break;
        }
    }
    if !converged || flow.iter().any(|f| !f.is_finite()) {
        return Err(Error::Invalid(
            "the routing has a loop patients never leave: the traffic equations diverge".into(),
        ));
    }
    let load = flow
        .iter()
        .zip(&hospital.units)
        .map(|(f, u)| f * u.los.mean())
        .collect();
    let ed_load = hospital.ed.as_ref().map(|ed| ed_rate * ed.treatment.mean());
    Ok(OfferedLoad {
        flow,
        load,
        ed_load,
    })
}

/// Rescales a calibrated hospital to `encounters_per_day` arrivals (all streams together,
/// keeping their shares and hour profiles), then sizes every unit's beds and the ED's bays
/// for `target_occupancy` (0–1) of the offered load, and records each change in the
/// estimates and the report.
///
/// Errors: [`Error::Invalid`] for a non-positive volume, an occupancy outside (0, 1], a
/// hospital with no arrivals, or diverging traffic equations.
pub fn resize(c: &mut Calibration, encounters_per_day: f64, target_occupancy: f64) -> Result<()> {
    if !(encounters_per_day.is_finite() && encounters_per_day > 0.0) {
        return Err(Error::Invalid("encounters per day must be > 0".into()));
    }
    if !(target_occupancy > 0.0 && target_occupancy <= 1.0) {
        return Err(Error::Invalid("target occupancy must be in (0, 1]".into()));
    }
    let h = &mut c.hospital;
    let observed: f64 = h.arrivals.iter().map(|s| s.mean_rate()).sum::<f64>() * 24.0;
    if observed <= 0.0 {
        return Err(Error::Invalid(
            "the hospital has no arrivals to scale".into(),
        ));
    }
    let factor = encounters_per_day / observed;
    for s in &mut h.arrivals {
        s.per_hour.iter_mut().for_each(|r| *r *= factor);
        let n = s.estimate.as_ref().map_or(0, |e| e.n);
        let source = s
            .estimate
            .as_ref()
            .map_or(String::new(), |e| e.source.clone());
        s.estimate = Some(Estimate {
            n,
            source: format!(
                "{source}; scaled ×{factor:.4} to {encounters_per_day} encounters/day in all \
                 (from {observed:.4}/day observed)"
            ),
        });
        c.report.push(EstimateLine {
            parameter: format!("arrivals[{:?}].per_hour", s.name),
            value: format!("mean {:.3}/h after scaling ×{factor:.4}", s.mean_rate()),
            n,
            source: format!("scaled to {encounters_per_day} encounters/day in all"),
        });
    }
    let load = offered_load(h)?;
    for (u, unit) in h.units.iter_mut().enumerate() {
        let beds = beds_for(load.load[u], target_occupancy);
        unit.beds = beds;
        let n = unit.estimate.as_ref().map_or(0, |e| e.n);
        let why = format!(
            "sized for ≤ {:.0}% mean occupancy and ≤ 1% Erlang loss: offered load {:.2} \
             patients = flow {:.3}/h × mean LOS {:.1} h (traffic equations; Bagust et al. 1999; \
             de Bruin et al. 2010)",
            target_occupancy * 100.0,
            load.load[u],
            load.flow[u],
            unit.los.mean()
        );
        c.report.push(EstimateLine {
            parameter: format!("units[{:?}].beds", unit.name),
            value: beds.to_string(),
            n,
            source: why.clone(),
        });
        if let Some(e) = &mut unit.estimate {
            e.source = format!("{}; beds {why}", e.source);
        }
    }
    if let (Some(ed), Some(ed_load)) = (&mut h.ed, load.ed_load) {
        ed.bays = beds_for(ed_load, target_occupancy);
        c.report.push(EstimateLine {
            parameter: "ed.bays".into(),
            value: ed.bays.to_string(),
            n: 0,
            source: format!(
                "sized for ≤ {:.0}% mean occupancy and ≤ 1% Erlang loss of an offered load of \
                 {ed_load:.2} patients (ED arrivals/h × mean ED time)",
                target_occupancy * 100.0
            ),
        });
    }
    h.validate()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{ArrivalStream, CareUnit, Duration, Route, UnitKind};

    fn unit(name: &str, mean: f64, routing: Vec<Route>) -> CareUnit {
        CareUnit {
            name: name.into(),
            kind: UnitKind::Other,
            beds: 1,
            los: Duration::Exponential { mean_hours: mean },
            routing,
            initial_census: 0,
            estimate: None,
        }
    }

    #[test]
    fn traffic_equations_with_a_feedback_loop() {
        // 2/h into A; A → B with 0.5; B → A with 0.2. λ_A = 2 + 0.2 λ_B, λ_B = 0.5 λ_A
        // → λ_A = 2 / 0.9, λ_B = 1 / 0.9.
        let h = Hospital {
            max_transfer_wait_hours: None,
            name: "t".into(),
            discharge_hour: vec![],
            ed: None,
            staffing: None,
            arrivals: vec![ArrivalStream {
                name: "direct".into(),
                kind: ArrivalKind::Direct,
                per_hour: vec![2.0],
                to: vec![Route {
                    to: "A".into(),
                    p: 1.0,
                }],
                estimate: None,
            }],
            units: vec![
                unit(
                    "A",
                    10.0,
                    vec![Route {
                        to: "B".into(),
                        p: 0.5,
                    }],
                ),
                unit(
                    "B",
                    4.0,
                    vec![Route {
                        to: "A".into(),
                        p: 0.2,
                    }],
                ),
            ],
        };
        let l = offered_load(&h).expect("converges");
        assert!((l.flow[0] - 2.0 / 0.9).abs() < 1e-9);
        assert!((l.flow[1] - 1.0 / 0.9).abs() < 1e-9);
        assert!((l.load[0] - 20.0 / 0.9).abs() < 1e-9);
        let mut closed = h.clone();
        closed.units[1].routing[0].p = 1.0;
        closed.units[0].routing[0].p = 1.0;
        assert!(offered_load(&closed).is_err());
    }

    #[test]
    fn beds_by_occupancy_or_erlang_loss() {
        // Large load: the occupancy target decides (100 / 0.85 → 118; B(118, 100) < 1%).
        assert_eq!(beds_for(100.0, 0.85), 118);
        // Small load: Erlang loss decides (B(5, 1.6) = 2.0% > 1%, B(6, 1.6) = 0.5%).
        assert!(erlang_b(5, 1.6) > MAX_BLOCKING && erlang_b(6, 1.6) <= MAX_BLOCKING);
        assert_eq!(beds_for(1.6, 0.85), 6);
        assert_eq!(beds_for(0.0, 0.85), 1);
    }
}
