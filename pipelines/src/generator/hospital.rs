//! Care units, beds and patient flow: admissions, transfers, boarding, discharges, and the
//! bedside monitors' observation sets.
//!
//! Invariants: a unit never holds more patients than beds (a bed is taken from its free list
//! before a patient moves in, and returned when they leave); a patient waiting for a bed keeps
//! the one they are in; waiting patients are served first come, first served when a bed frees,
//! and a freed bed can start a chain of moves (handled with a work list, not recursion).

use super::agenda::Happening;
use super::arrivals::uniform;
use super::calibration::{LOS_CLAMP_HOURS, MAX_BOARDING_HOURS, WARD_SPREAD};
use super::physiology::{Observation, Physiology};
use super::{CareUnitSpec, Generator, ServiceLine};
use rand::RngExt;
use rand_distr::StandardNormal;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use wardstream_schemas::time::HOUR_MS;
use wardstream_schemas::{Adt, AdtKind, Event, Millis, SCHEMA_VERSION, VitalSign};

/// A care unit at run time.
#[derive(Debug)]
pub struct Unit {
    /// Name, as events carry it.
    pub name: String,
    /// Beds.
    pub beds: u32,
    free: BinaryHeap<Reverse<u32>>,
    bed_labels: Vec<String>,
    devices: Vec<String>,
    los_mu: f64,
    los_sigma: f64,
    /// Cumulative transfer probabilities; past the last: discharge.
    routes: Vec<(f64, usize)>,
    waiting: VecDeque<(u32, u64)>,
    line: ServiceLine,
}

impl Unit {
    fn has_free_bed(&self) -> bool {
        !self.free.is_empty()
    }

    /// Takes the lowest-numbered free bed.
    fn take_bed(&mut self) -> Option<u32> {
        self.free.pop().map(|Reverse(b)| b)
    }

    fn release_bed(&mut self, bed: u32) {
        self.free.push(Reverse(bed));
    }

    /// Patients in the unit now.
    pub fn occupied(&self) -> u32 {
        self.beds - self.free.len() as u32
    }

    /// The next unit for a uniform draw `u`, or `None` for discharge.
    fn route(&self, u: f64) -> Option<usize> {
        self.routes
            .iter()
            .find(|(cum, _)| u < *cum)
            .map(|(_, to)| *to)
    }

    /// A lognormal length of stay, clamped.
    fn draw_los<R: rand::Rng + ?Sized>(&self, rng: &mut R) -> Millis {
        let z: f64 = rng.sample(StandardNormal);
        let (lo, hi) = LOS_CLAMP_HOURS;
        let hours = (self.los_mu + self.los_sigma * z).exp();
        let hours = if hours.is_finite() {
            hours.clamp(lo, hi)
        } else {
            hi
        };
        (hours * HOUR_MS as f64) as Millis
    }
}

/// Builds the run-time units; repairs unusable figures.
pub fn build_units(specs: &[CareUnitSpec]) -> Vec<Unit> {
    let index = |name: &str| specs.iter().position(|s| s.name == name);
    specs
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let width = if s.beds >= 100 { 3 } else { 2 };
            let bed_labels: Vec<String> = (1..=s.beds).map(|b| format!("{}-{b:0width$}", s.name)).collect();
            let devices = bed_labels.iter().map(|l| format!("mon-{l}")).collect();
            let median = if s.los_hours_median.is_finite() && s.los_hours_median > 0.0 { s.los_hours_median } else { 1.0 };
            let sigma = if s.los_sigma.is_finite() && s.los_sigma >= 0.0 { s.los_sigma } else { 0.0 };
            let targets: Vec<(usize, f64)> = s
                .transfer_to
                .iter()
                .filter_map(|(name, p)| {
                    let to = index(name).filter(|&to| to != i);
                    if to.is_none() {
                        tracing::warn!(unit = %s.name, target = %name, "generator: transfer target ignored");
                    }
                    to.zip(Some(*p).filter(|p| p.is_finite() && *p > 0.0))
                })
                .collect();
            let total: f64 = targets.iter().map(|(_, p)| p).sum();
            let scale = if total > 1.0 { 1.0 / total } else { 1.0 };
            let mut cum = 0.0;
            let routes = targets
                .into_iter()
                .map(|(to, p)| {
                    cum += p * scale;
                    (cum, to)
                })
                .collect();
            Unit {
                name: s.name.clone(),
                beds: s.beds,
                free: (0..s.beds).map(Reverse).collect(),
                bed_labels,
                devices,
                los_mu: median.ln(),
                los_sigma: sigma,
                routes,
                waiting: VecDeque::new(),
                line: s.service_line,
            }
        })
        .collect()
}

/// Cumulative admission shares, normalised (empty if no unit takes admissions).
pub fn admission_cdf(specs: &[CareUnitSpec]) -> Vec<f64> {
    let shares: Vec<f64> = specs
        .iter()
        .map(|s| {
            if s.admission_share.is_finite() {
                s.admission_share.max(0.0)
            } else {
                0.0
            }
        })
        .collect();
    let total: f64 = shares.iter().sum();
    if total <= 0.0 {
        return Vec::new();
    }
    let mut cum = 0.0;
    shares
        .iter()
        .map(|s| {
            cum += s / total;
            cum
        })
        .collect()
}

/// A patient in a bed.
#[derive(Debug)]
pub struct Patient {
    encounter: u64,
    patient_id: String,
    encounter_id: String,
    unit: usize,
    bed: u32,
    waiting_for: Option<usize>,
    wait: u32,
    /// Service lines visited, as bits.
    lines: u16,
    physiology: Physiology,
}

impl Generator {
    fn patient(&self, slot: u32, encounter: u64) -> Option<&Patient> {
        self.patients
            .get(slot as usize)?
            .as_ref()
            .filter(|p| p.encounter == encounter)
    }

    /// A hospital arrival: admit to the first unit, or divert if it is full.
    pub(super) fn on_arrival(&mut self) {
        if let Some(t) = self.arrivals.next_after(self.now, &mut self.rng) {
            self.agenda.schedule(t, Happening::Arrival);
        }
        let draw: f64 = self.rng.random();
        let Some(unit) = self.admission_cdf.iter().position(|&c| draw < c) else {
            return;
        };
        let counted = !self.silent;
        self.stats.arrivals += u64::from(counted);
        let Some(bed) = self.units[unit].take_bed() else {
            self.stats.diverted += u64::from(counted);
            return;
        };
        self.stats.admitted += u64::from(counted);
        let patient_id = self.ids.patient();
        let (encounter, encounter_id) = self.ids.encounter();
        let physiology = Physiology::new(&mut self.rng, self.now, self.cfg.deterioration_rate);
        let patient = Patient {
            encounter,
            patient_id,
            encounter_id,
            unit,
            bed,
            waiting_for: None,
            wait: 0,
            lines: self.units[unit].line.bit(),
            physiology,
        };
        let slot = match self.free_patient_slots.pop() {
            Some(slot) => {
                self.patients[slot as usize] = Some(patient);
                slot
            }
            None => {
                self.patients.push(Some(patient));
                (self.patients.len() - 1) as u32
            }
        };
        self.emit_adt(slot, AdtKind::Admit, None);
        self.schedule_leave(slot, encounter, unit);
        self.schedule_first_vitals(slot, encounter);
    }

    /// The stay in the current unit is over: transfer, board, or discharge.
    pub(super) fn on_leave_unit(&mut self, slot: u32, encounter: u64) {
        let Some(unit) = self.patient(slot, encounter).map(|p| p.unit) else {
            return;
        };
        let draw: f64 = self.rng.random();
        let route = self.units[unit].route(draw);
        if route.is_some() && self.units[unit].line == ServiceLine::Emergency {
            // The ED work-up is over and the patient goes to a ward: the decision to admit.
            // Without a free bed there, boarding in the ED starts now.
            self.emit_adt(slot, AdtKind::DecisionToAdmit, None);
        }
        match route {
            None => self.discharge(slot),
            Some(to) if self.units[to].has_free_bed() => {
                let from = self.move_patient(slot, to);
                self.fill_freed_beds(from);
            }
            Some(to) => self.board(slot, encounter, to),
        }
    }

    /// Waited too long for a bed: discharged elsewhere.
    pub(super) fn on_boarding_timeout(&mut self, slot: u32, encounter: u64, wait: u32) {
        let still = self
            .patient(slot, encounter)
            .is_some_and(|p| p.waiting_for.is_some() && p.wait == wait);
        if !still {
            return;
        }
        let to = self.patient(slot, encounter).and_then(|p| p.waiting_for);
        if let Some(to) = to {
            self.units[to].waiting.retain(|&w| w != (slot, encounter));
        }
        self.stats.boarding_timeouts += u64::from(!self.silent);
        self.discharge(slot);
    }

    /// An observation set from the patient's monitor.
    pub(super) fn on_vitals(&mut self, slot: u32, encounter: u64) {
        let now = self.now;
        let Some(p) = self
            .patients
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
            .filter(|p| p.encounter == encounter)
        else {
            return;
        };
        let spread = if self.units[p.unit].line.is_intensive() {
            1.0
        } else {
            WARD_SPREAD
        };
        let obs = p
            .physiology
            .observe(&mut self.rng, now, self.noise_ar, spread);
        let (patient_id, encounter_id) = (p.patient_id.clone(), p.encounter_id.clone());
        let device = self.units[p.unit].devices[p.bed as usize].clone();
        self.agenda.schedule(
            now + self.vitals_every,
            Happening::Vitals { slot, encounter },
        );
        self.emit_observation(&patient_id, &encounter_id, &device, &obs);
    }

    fn board(&mut self, slot: u32, encounter: u64, to: usize) {
        let Some(p) = self
            .patients
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
        else {
            return;
        };
        p.waiting_for = Some(to);
        p.wait += 1;
        let wait = p.wait;
        self.units[to].waiting.push_back((slot, encounter));
        self.stats.boarded += u64::from(!self.silent);
        let timeout = self.now + (MAX_BOARDING_HOURS * HOUR_MS as f64) as Millis;
        self.agenda.schedule(
            timeout,
            Happening::BoardingTimeout {
                slot,
                encounter,
                wait,
            },
        );
    }

    /// Moves a patient into a free bed of `to`; returns the unit they left.
    fn move_patient(&mut self, slot: u32, to: usize) -> usize {
        let now = self.now;
        let Some(bed) = self.units[to].take_bed() else {
            return to;
        };
        let Some(p) = self
            .patients
            .get_mut(slot as usize)
            .and_then(Option::as_mut)
        else {
            self.units[to].release_bed(bed);
            return to;
        };
        let (from, from_bed) = (p.unit, p.bed);
        p.unit = to;
        p.bed = bed;
        p.waiting_for = None;
        p.lines |= self.units[to].line.bit();
        p.physiology.moved(now);
        let encounter = p.encounter;
        self.units[from].release_bed(from_bed);
        self.emit_adt(slot, AdtKind::Transfer, Some((from, from_bed)));
        self.schedule_leave(slot, encounter, to);
        from
    }

    /// Serves the waiting lists of units where beds were freed, following chains of moves.
    fn fill_freed_beds(&mut self, unit: usize) {
        let mut work = vec![unit];
        while let Some(u) = work.pop() {
            while self.units[u].has_free_bed() {
                let Some((slot, encounter)) = self.units[u].waiting.pop_front() else {
                    break;
                };
                let waiting_here = self
                    .patient(slot, encounter)
                    .is_some_and(|p| p.waiting_for == Some(u));
                if waiting_here {
                    let from = self.move_patient(slot, u);
                    work.push(from);
                }
            }
        }
    }

    fn discharge(&mut self, slot: u32) {
        let Some(p) = self.patients.get_mut(slot as usize).and_then(Option::take) else {
            return;
        };
        self.free_patient_slots.push(slot);
        self.units[p.unit].release_bed(p.bed);
        let (unit, bed) = (p.unit, p.bed);
        let (tenant_id, event_time) = (self.cfg.tenant_id.clone(), self.now);
        let from_unit = self.units[unit].name.clone();
        let from_bed = self.units[unit].bed_labels[bed as usize].clone();
        let (patient_id, encounter_id) = (p.patient_id.clone(), p.encounter_id.clone());
        self.emit(|event_id| {
            Event::Adt(Adt {
                event_id,
                tenant_id,
                event_time,
                schema_version: SCHEMA_VERSION,
                kind: AdtKind::Discharge,
                patient_id,
                encounter_id,
                care_unit: None,
                bed: None,
                from_care_unit: Some(from_unit),
                from_bed: Some(from_bed),
            })
        });
        self.post_charge(&p.patient_id, &p.encounter_id, p.lines, unit);
        self.fill_freed_beds(unit);
    }

    /// Emits an admit, decision to admit or transfer of the patient in `slot` into (or in)
    /// their current bed.
    fn emit_adt(&mut self, slot: u32, kind: AdtKind, from: Option<(usize, u32)>) {
        let Some(p) = self.patients.get(slot as usize).and_then(Option::as_ref) else {
            return;
        };
        let (tenant_id, event_time) = (self.cfg.tenant_id.clone(), self.now);
        let (patient_id, encounter_id) = (p.patient_id.clone(), p.encounter_id.clone());
        let unit = &self.units[p.unit];
        let (care_unit, bed) = (unit.name.clone(), unit.bed_labels[p.bed as usize].clone());
        let from = from.map(|(u, b)| {
            (
                self.units[u].name.clone(),
                self.units[u].bed_labels[b as usize].clone(),
            )
        });
        let (from_care_unit, from_bed) = from.unzip();
        self.emit(|event_id| {
            Event::Adt(Adt {
                event_id,
                tenant_id,
                event_time,
                schema_version: SCHEMA_VERSION,
                kind,
                patient_id,
                encounter_id,
                care_unit: Some(care_unit),
                bed: Some(bed),
                from_care_unit,
                from_bed,
            })
        });
    }

    fn schedule_leave(&mut self, slot: u32, encounter: u64, unit: usize) {
        let los = self.units[unit].draw_los(&mut self.rng);
        self.agenda.schedule(
            self.now + los.max(1),
            Happening::LeaveUnit { slot, encounter },
        );
    }

    fn schedule_first_vitals(&mut self, slot: u32, encounter: u64) {
        if self.silent || self.vitals_every <= 0 {
            return;
        }
        let offset = (uniform(&mut self.rng, 0.0, 1.0) * self.vitals_every as f64) as Millis;
        self.agenda
            .schedule(self.now + offset, Happening::Vitals { slot, encounter });
    }

    /// At the end of the warm-up: an admit for everyone in a bed, and their monitors start.
    pub(super) fn announce_census(&mut self) {
        for slot in 0..self.patients.len() as u32 {
            let Some(encounter) = self.patients[slot as usize].as_ref().map(|p| p.encounter) else {
                continue;
            };
            self.emit_adt(slot, AdtKind::Admit, None);
            let boarding_in_ed = self.patients[slot as usize].as_ref().is_some_and(|p| {
                p.waiting_for.is_some() && self.units[p.unit].line == ServiceLine::Emergency
            });
            if boarding_in_ed {
                // Decided during the warm-up: announced now, so boarding counts from here.
                self.emit_adt(slot, AdtKind::DecisionToAdmit, None);
            }
            self.schedule_first_vitals(slot, encounter);
        }
        // Boarders keep their place in the queues and their timeouts.
    }

    /// Six events at the patient's monitor: five quantities, then ACVPU and oxygen.
    fn emit_observation(
        &mut self,
        patient_id: &str,
        encounter_id: &str,
        device: &str,
        obs: &Observation,
    ) {
        let event_time = self.now;
        for (v, value) in super::calibration::VITALS.iter().zip(obs.values) {
            let tenant_id = self.cfg.tenant_id.clone();
            self.emit(|event_id| {
                Event::VitalSign(VitalSign {
                    event_id,
                    tenant_id,
                    event_time,
                    schema_version: SCHEMA_VERSION,
                    patient_id: patient_id.to_string(),
                    encounter_id: encounter_id.to_string(),
                    device_id: Some(device.to_string()),
                    code: Some(v.code.loinc().to_string()),
                    value: Some(value),
                    unit: Some(v.code.ucum().to_string()),
                    consciousness: None,
                    supplemental_oxygen: None,
                    spo2_scale: None,
                })
            });
        }
        let tenant_id = self.cfg.tenant_id.clone();
        self.emit(|event_id| {
            Event::VitalSign(VitalSign {
                event_id,
                tenant_id,
                event_time,
                schema_version: SCHEMA_VERSION,
                patient_id: patient_id.to_string(),
                encounter_id: encounter_id.to_string(),
                device_id: Some(device.to_string()),
                code: None,
                value: None,
                unit: None,
                consciousness: Some(obs.consciousness),
                supplemental_oxygen: Some(obs.supplemental_oxygen),
                spo2_scale: None,
            })
        });
    }

    /// Patients in each unit now, in unit order.
    pub(super) fn occupancy(&self) -> Vec<u32> {
        self.units.iter().map(Unit::occupied).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generator::GeneratorConfig;

    #[test]
    fn routing_is_normalised_and_ignores_bad_targets() {
        let spec = |name: &str, to: Vec<(&str, f64)>| CareUnitSpec {
            name: name.into(),
            beds: 2,
            los_hours_median: 10.0,
            los_sigma: 0.5,
            admission_share: 1.0,
            transfer_to: to.into_iter().map(|(n, p)| (n.to_string(), p)).collect(),
            service_line: ServiceLine::Medical,
        };
        let units = build_units(&[
            spec(
                "A",
                vec![("B", 1.5), ("C", 0.5), ("A", 0.3), ("B", f64::NAN)],
            ),
            spec("B", vec![("A", 0.25)]),
        ]);
        assert_eq!(units[0].routes, vec![(1.0, 1)]);
        assert_eq!(units[0].route(0.99), Some(1));
        assert_eq!(units[1].route(0.2), Some(0));
        assert_eq!(units[1].route(0.3), None);
        assert_eq!(units[0].bed_labels, vec!["A-01", "A-02"]);
        assert_eq!(units[0].devices[1], "mon-A-02");
    }

    #[test]
    fn lengths_of_stay_have_the_configured_median() {
        let units = build_units(&GeneratorConfig::default().care_units);
        let mut rng = <rand::rngs::Xoshiro256PlusPlus as rand::SeedableRng>::seed_from_u64(1);
        let micu = &units[1];
        let mut hours: Vec<f64> = (0..20_001)
            .map(|_| micu.draw_los(&mut rng) as f64 / HOUR_MS as f64)
            .collect();
        hours.sort_by(f64::total_cmp);
        let median = hours[hours.len() / 2];
        assert!((median / 68.2 - 1.0).abs() < 0.05, "{median}");
    }

    #[test]
    fn occupancy_never_exceeds_beds_while_running() {
        let mut g = Generator::new(GeneratorConfig {
            vitals_interval_minutes: 0,
            ..GeneratorConfig::default()
        });
        let beds: Vec<u32> = g.units.iter().map(|u| u.beds).collect();
        for _ in 0..20_000 {
            if g.next().is_none() {
                break;
            }
            assert!(g.occupancy().iter().zip(&beds).all(|(o, b)| o <= b));
        }
        let in_beds = g.patients.iter().flatten().count() as u32;
        assert_eq!(in_beds, g.occupancy().iter().sum::<u32>());
        assert!(g.patient(u32::MAX, 0).is_none());
    }
}
