//! Charges at discharge, and their later voids and adjustments.
//!
//! An inpatient stay is billed one MS-DRG, from the family of the most specific service line it
//! visited ([`ServiceLine::PRECEDENCE`]); its amount is the FY 2023 relative weight times
//! [`DRG_BASE_RATE_CENTS`]. A visit that ended in the ED is billed an ED E/M code
//! (CPT 99283–99285) at its 2023 national fee. A share of charges is voided (1–14 days later)
//! or adjusted (3–30 days later; usually down by 5–25 %, sometimes up by 2–10 %).

use super::agenda::Happening;
use super::arrivals::uniform;
use super::calibration::{
    ADJUST_SHARE, DRG_BASE_RATE_CENTS, ED_DIAGNOSES, ED_VISIT_CODES, VOID_SHARE, drgs,
};
use super::{Generator, ServiceLine};
use rand::RngExt;
use wardstream_schemas::time::DAY_MS;
use wardstream_schemas::{Charge, ChargeStatus, CodeSystem, Event, Millis, SCHEMA_VERSION};

/// A void or adjustment waiting to happen: the posted charge it acts on and what to do.
#[derive(Debug)]
pub struct FollowUp {
    posted: Charge,
    status: ChargeStatus,
    amount_minor: i64,
}

/// The service line a stay is billed under (`Emergency` for an ED-only visit).
fn billed_line(lines: u16) -> ServiceLine {
    ServiceLine::PRECEDENCE
        .into_iter()
        .find(|l| lines & l.bit() != 0)
        .unwrap_or(ServiceLine::Emergency)
}

impl Generator {
    /// Posts the charge of a finished stay (if charges are on and the warm-up is over).
    pub(super) fn post_charge(
        &mut self,
        patient_id: &str,
        encounter_id: &str,
        lines: u16,
        last_unit: usize,
    ) {
        if !self.cfg.charges || self.silent {
            return;
        }
        let (code_system, code, diagnoses, amount_minor) = match billed_line(lines) {
            ServiceLine::Emergency => {
                let u: f64 = self.rng.random();
                let mut cum = 0.0;
                let (code, amount, _) = ED_VISIT_CODES
                    .iter()
                    .copied()
                    .find(|(_, _, share)| {
                        cum += share;
                        u < cum
                    })
                    .unwrap_or(ED_VISIT_CODES[ED_VISIT_CODES.len() - 1]);
                let dx = ED_DIAGNOSES[self.rng.random_range(0..ED_DIAGNOSES.len())];
                (CodeSystem::Hcpcs, code, vec![dx.to_string()], amount)
            }
            line => {
                let table = drgs(line);
                let row = table[self.rng.random_range(0..table.len())];
                let amount = (row.weight * DRG_BASE_RATE_CENTS).round() as i64;
                (
                    CodeSystem::MsDrg,
                    row.code,
                    row.diagnoses.iter().map(|d| d.to_string()).collect(),
                    amount,
                )
            }
        };
        let charge = Charge {
            event_id: String::new(),
            tenant_id: self.cfg.tenant_id.clone(),
            event_time: self.now,
            schema_version: SCHEMA_VERSION,
            charge_id: self.ids.charge(),
            encounter_id: encounter_id.to_string(),
            patient_id: Some(patient_id.to_string()),
            care_unit: Some(self.units[last_unit].name.clone()),
            code_system,
            code: code.to_string(),
            diagnoses,
            amount_minor,
            currency: "USD".to_string(),
            status: ChargeStatus::Posted,
        };
        let draw: f64 = self.rng.random();
        let follow_up = if draw < VOID_SHARE {
            let at = self.now + (uniform(&mut self.rng, 1.0, 14.0) * DAY_MS as f64) as Millis;
            Some((at, ChargeStatus::Voided, amount_minor))
        } else if draw < VOID_SHARE + ADJUST_SHARE {
            let at = self.now + (uniform(&mut self.rng, 3.0, 30.0) * DAY_MS as f64) as Millis;
            let down = self.rng.random::<f64>() < 0.8;
            let factor = if down {
                -uniform(&mut self.rng, 0.05, 0.25)
            } else {
                uniform(&mut self.rng, 0.02, 0.10)
            };
            Some((
                at,
                ChargeStatus::Adjusted,
                (amount_minor as f64 * factor).round() as i64,
            ))
        } else {
            None
        };
        if let Some((at, status, amount_minor)) = follow_up {
            let f = FollowUp {
                posted: charge.clone(),
                status,
                amount_minor,
            };
            let slot = match self.free_follow_up_slots.pop() {
                Some(s) => {
                    self.follow_ups[s as usize] = Some(f);
                    s
                }
                None => {
                    self.follow_ups.push(Some(f));
                    (self.follow_ups.len() - 1) as u32
                }
            };
            self.agenda.schedule(at, Happening::ChargeFollowUp { slot });
        }
        self.emit(|event_id| Event::Charge(Charge { event_id, ..charge }));
    }

    /// Voids or adjusts an earlier charge.
    pub(super) fn on_charge_follow_up(&mut self, slot: u32) {
        let Some(f) = self
            .follow_ups
            .get_mut(slot as usize)
            .and_then(Option::take)
        else {
            return;
        };
        self.free_follow_up_slots.push(slot);
        let event_time = self.now;
        self.emit(|event_id| {
            Event::Charge(Charge {
                event_id,
                event_time,
                status: f.status,
                amount_minor: f.amount_minor,
                ..f.posted
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_specific_line_is_billed() {
        let bits = |ls: &[ServiceLine]| ls.iter().fold(0u16, |b, l| b | l.bit());
        assert_eq!(
            billed_line(bits(&[ServiceLine::Emergency])),
            ServiceLine::Emergency
        );
        assert_eq!(
            billed_line(bits(&[ServiceLine::Emergency, ServiceLine::Medical])),
            ServiceLine::Medical
        );
        assert_eq!(
            billed_line(bits(&[
                ServiceLine::Medical,
                ServiceLine::MedicalIcu,
                ServiceLine::Surgical
            ])),
            ServiceLine::MedicalIcu
        );
        assert_eq!(
            billed_line(bits(&[ServiceLine::Psychiatric, ServiceLine::Emergency])),
            ServiceLine::Psychiatric
        );
    }

    #[test]
    fn drg_tables_hold_valid_codes() {
        for line in ServiceLine::PRECEDENCE {
            for row in drgs(line) {
                assert!(
                    wardstream_schemas::codes::is_ms_drg(row.code),
                    "{}",
                    row.code
                );
                assert!(row.weight > 0.0);
                assert!(
                    row.diagnoses
                        .iter()
                        .all(|d| wardstream_schemas::codes::is_icd10(d)),
                    "{:?}",
                    row.diagnoses
                );
            }
        }
        for (code, amount, _) in ED_VISIT_CODES {
            assert!(wardstream_schemas::codes::is_cpt_or_hcpcs(code) && amount > 0);
        }
        assert!(
            ED_DIAGNOSES
                .iter()
                .all(|d| wardstream_schemas::codes::is_icd10(d))
        );
        assert!((ED_VISIT_CODES.iter().map(|c| c.2).sum::<f64>() - 1.0).abs() < 1e-9);
    }
}
