//! Outpatient clinics: bookings, lead times, cancellations, reschedules and no-shows.
//!
//! Bookings arrive Monday–Friday by the Kaggle booking-hour profile, at `appointments_per_day`
//! per weekday. Each is for a 15-minute slot a lead time later, the lead drawn in business days
//! from the Kaggle distribution (so appointments fall on weekdays and the calendar-day lead
//! distribution is close to Kaggle's: 35 % same day, median 4 days). A few are cancelled or
//! moved before the day; the rest end `completed` or `no_show` at the slot, the no-show risk
//! scaled by the Kaggle ratio for the lead-time bucket so the overall share is `no_show_rate`.

use super::Generator;
use super::agenda::Happening;
use super::arrivals::{HOURS_PER_WEEK, WeeklyPoisson, normalise, uniform, weekday};
use super::calibration::{
    AGE_QUANTILES, BOOKING_HOUR_WEIGHTS, CANCEL_SHARE, CLINIC_FIRST_SLOT_MINUTES, CLINIC_SLOTS,
    LEAD_BUSINESS_DAYS_CDF, NEW_OUTPATIENT_SHARE, NO_SHOW_RELATIVE_RISK, RESCHEDULE_SHARE,
};
use rand::RngExt;
use wardstream_schemas::time::{DAY_MS, MINUTE_MS, day_start};
use wardstream_schemas::{Appointment, AppointmentStatus, Event, Millis, SCHEMA_VERSION};

/// Recent outpatients kept for re-booking.
const RECENT_PATIENTS: usize = 4096;
const SLOT_MS: Millis = 15 * MINUTE_MS;

/// The clinics' books.
#[derive(Debug)]
pub struct Clinic {
    bookings: WeeklyPoisson,
    appointments: Vec<Option<Booking>>,
    free: Vec<u32>,
    recent: Vec<(String, i32)>,
    recent_next: usize,
}

#[derive(Debug)]
struct Booking {
    appointment_id: String,
    patient_id: String,
    clinic: usize,
    scheduled_start: Millis,
    booked_at: Millis,
    age: i32,
    lead_business_days: u32,
    next: Step,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Cancel,
    Reschedule,
    Outcome,
}

impl Clinic {
    /// Books `per_weekday` appointments per weekday across `clinics` clinics (none if 0).
    pub fn new(per_weekday: f64, clinics: usize) -> Self {
        let per_weekday = if per_weekday.is_finite() && clinics > 0 {
            per_weekday.max(0.0)
        } else {
            0.0
        };
        let hourly = normalise(&BOOKING_HOUR_WEIGHTS);
        let mut rates = [0.0; HOURS_PER_WEEK];
        for (i, r) in rates.iter_mut().enumerate().take(5 * 24) {
            *r = per_weekday / 24.0 * hourly[i % 24];
        }
        Clinic {
            bookings: WeeklyPoisson::from_rates(rates),
            appointments: Vec::new(),
            free: Vec::new(),
            recent: Vec::new(),
            recent_next: 0,
        }
    }

    /// The next booking after `t`.
    pub fn next_booking<R: rand::Rng + ?Sized>(&self, t: Millis, rng: &mut R) -> Option<Millis> {
        self.bookings.next_after(t, rng)
    }

    fn remember(&mut self, patient: (String, i32)) {
        if self.recent.len() < RECENT_PATIENTS {
            self.recent.push(patient);
        } else {
            self.recent[self.recent_next] = patient;
            self.recent_next = (self.recent_next + 1) % RECENT_PATIENTS;
        }
    }
}

/// Midnight of the `n`th weekday after the day of `day` (`n = 0`: that day).
fn add_business_days(day: Millis, n: u32) -> Millis {
    let mut d = day_start(day);
    let mut left = n;
    while left > 0 {
        d += DAY_MS;
        if weekday(d) < 5 {
            left -= 1;
        }
    }
    d
}

/// A lead time in business days from the Kaggle distribution.
fn draw_lead<R: rand::Rng + ?Sized>(rng: &mut R) -> u32 {
    let u: f64 = rng.random();
    let i = LEAD_BUSINESS_DAYS_CDF
        .iter()
        .position(|&(_, c)| u < c)
        .unwrap_or(LEAD_BUSINESS_DAYS_CDF.len() - 1);
    if i == 0 {
        return LEAD_BUSINESS_DAYS_CDF[0].0;
    }
    let (lo, hi) = (
        LEAD_BUSINESS_DAYS_CDF[i - 1].0 + 1,
        LEAD_BUSINESS_DAYS_CDF[i].0,
    );
    rng.random_range(lo..=hi)
}

/// An age from the Kaggle quantiles (linear between them).
fn draw_age<R: rand::Rng + ?Sized>(rng: &mut R) -> i32 {
    let x = uniform(rng, 0.0, (AGE_QUANTILES.len() - 1) as f64);
    let i = (x.floor() as usize).min(AGE_QUANTILES.len() - 2);
    let f = x - i as f64;
    (AGE_QUANTILES[i] + f * (AGE_QUANTILES[i + 1] - AGE_QUANTILES[i])).round() as i32
}

/// No-show probability for a lead time.
fn no_show_probability(rate: f64, lead_business_days: u32) -> f64 {
    let rr = NO_SHOW_RELATIVE_RISK
        .iter()
        .find(|(upper, _)| lead_business_days <= *upper)
        .map_or(1.0, |(_, rr)| *rr);
    let p = rate * rr;
    if p.is_finite() {
        p.clamp(0.0, 1.0)
    } else {
        0.0
    }
}

impl Generator {
    /// A booking: pick clinic, patient, lead time and slot; decide its fate; emit `booked`.
    pub(super) fn on_booking(&mut self) {
        let now = self.now;
        if let Some(t) = self.clinic.next_booking(now, &mut self.rng) {
            self.agenda.schedule(t, Happening::Booking);
        }
        let clinics = self.cfg.clinics.len();
        if clinics == 0 {
            return;
        }
        self.stats.bookings += u64::from(!self.silent);
        let clinic = self.rng.random_range(0..clinics);
        let reuse =
            !self.clinic.recent.is_empty() && self.rng.random::<f64>() >= NEW_OUTPATIENT_SHARE;
        let (patient_id, age) = if reuse {
            let i = self.rng.random_range(0..self.clinic.recent.len());
            self.clinic.recent[i].clone()
        } else {
            let patient = (self.ids.patient(), draw_age(&mut self.rng));
            self.clinic.remember(patient.clone());
            patient
        };
        let mut lead = draw_lead(&mut self.rng);
        let mut first_slot = 0;
        if lead == 0 {
            // Same day: only slots at least 15 minutes from now.
            let opening = day_start(now) + CLINIC_FIRST_SLOT_MINUTES * MINUTE_MS;
            first_slot = (now + SLOT_MS - opening).max(0).div_euclid(SLOT_MS) + 1;
            if now < opening {
                first_slot = 0;
            }
            if first_slot >= CLINIC_SLOTS {
                lead = 1;
                first_slot = 0;
            }
        }
        let slot_index = self.rng.random_range(first_slot..CLINIC_SLOTS);
        let scheduled_start = add_business_days(now, lead)
            + (CLINIC_FIRST_SLOT_MINUTES * MINUTE_MS)
            + slot_index * SLOT_MS;
        let draw: f64 = self.rng.random();
        let (next, at) = if draw < CANCEL_SHARE {
            (Step::Cancel, self.between(now, scheduled_start))
        } else if draw < CANCEL_SHARE + RESCHEDULE_SHARE {
            (Step::Reschedule, self.between(now, scheduled_start))
        } else {
            (Step::Outcome, scheduled_start)
        };
        let booking = Booking {
            appointment_id: self.ids.appointment(),
            patient_id,
            clinic,
            scheduled_start,
            booked_at: now,
            age,
            lead_business_days: lead,
            next,
        };
        let slot = match self.clinic.free.pop() {
            Some(s) => {
                self.clinic.appointments[s as usize] = Some(booking);
                s
            }
            None => {
                self.clinic.appointments.push(Some(booking));
                (self.clinic.appointments.len() - 1) as u32
            }
        };
        self.agenda.schedule(at, Happening::Appointment { slot });
        self.emit_appointment(slot, AppointmentStatus::Booked);
    }

    /// A time strictly between `a` and `b` (or `b` if they are too close).
    fn between(&mut self, a: Millis, b: Millis) -> Millis {
        if b - a < 2 {
            return b;
        }
        self.rng.random_range(a + 1..b)
    }

    /// The appointment's next step: cancel, move, or outcome.
    pub(super) fn on_appointment(&mut self, slot: u32) {
        let Some(step) = self
            .clinic
            .appointments
            .get(slot as usize)
            .and_then(Option::as_ref)
            .map(|b| b.next)
        else {
            return;
        };
        match step {
            Step::Cancel => {
                self.emit_appointment(slot, AppointmentStatus::Cancelled);
                self.close_appointment(slot);
            }
            Step::Reschedule => {
                let days = self.rng.random_range(1..=10u32);
                let Some(b) = self
                    .clinic
                    .appointments
                    .get_mut(slot as usize)
                    .and_then(Option::as_mut)
                else {
                    return;
                };
                let time_of_day = b.scheduled_start - day_start(b.scheduled_start);
                b.scheduled_start = add_business_days(b.scheduled_start, days) + time_of_day;
                b.lead_business_days += days;
                b.next = Step::Outcome;
                let at = b.scheduled_start;
                self.agenda.schedule(at, Happening::Appointment { slot });
                self.emit_appointment(slot, AppointmentStatus::Rescheduled);
            }
            Step::Outcome => {
                let lead = self.clinic.appointments[slot as usize]
                    .as_ref()
                    .map_or(0, |b| b.lead_business_days);
                let p = no_show_probability(self.cfg.no_show_rate, lead);
                let missed = self.rng.random::<f64>() < p;
                let status = if missed {
                    AppointmentStatus::NoShow
                } else {
                    AppointmentStatus::Completed
                };
                self.emit_appointment(slot, status);
                self.close_appointment(slot);
            }
        }
    }

    fn close_appointment(&mut self, slot: u32) {
        if let Some(b) = self.clinic.appointments.get_mut(slot as usize) {
            *b = None;
            self.clinic.free.push(slot);
        }
    }

    /// At the end of the warm-up: a `booked` event for every appointment on the books (with
    /// its real `booked_at`; event time = now).
    pub(super) fn announce_bookings(&mut self) {
        for slot in 0..self.clinic.appointments.len() as u32 {
            if self.clinic.appointments[slot as usize].is_some() {
                self.emit_appointment(slot, AppointmentStatus::Booked);
            }
        }
    }

    fn emit_appointment(&mut self, slot: u32, status: AppointmentStatus) {
        let Some(b) = self
            .clinic
            .appointments
            .get(slot as usize)
            .and_then(Option::as_ref)
        else {
            return;
        };
        let (tenant_id, event_time) = (self.cfg.tenant_id.clone(), self.now);
        let appointment = Appointment {
            event_id: String::new(),
            tenant_id,
            event_time,
            schema_version: SCHEMA_VERSION,
            status,
            appointment_id: b.appointment_id.clone(),
            patient_id: b.patient_id.clone(),
            provider_id: None,
            clinic: self.cfg.clinics.get(b.clinic).cloned().unwrap_or_default(),
            scheduled_start: b.scheduled_start,
            booked_at: b.booked_at,
            patient_age: Some(b.age),
        };
        self.emit(|event_id| {
            Event::Appointment(Appointment {
                event_id,
                ..appointment
            })
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;
    use wardstream_schemas::time::parse_rfc3339;

    #[test]
    fn business_days_skip_weekends() {
        let friday = parse_rfc3339("2026-01-09T10:00:00Z").unwrap_or_default();
        assert_eq!(weekday(friday), 4);
        assert_eq!(add_business_days(friday, 0), day_start(friday));
        assert_eq!(add_business_days(friday, 1), day_start(friday) + 3 * DAY_MS);
        assert_eq!(
            add_business_days(friday, 6),
            day_start(friday) + 10 * DAY_MS
        );
    }

    #[test]
    fn lead_times_and_ages_follow_kaggle() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let n = 100_000;
        let leads: Vec<u32> = (0..n).map(|_| draw_lead(&mut rng)).collect();
        let same_day = leads.iter().filter(|&&l| l == 0).count() as f64 / n as f64;
        assert!((same_day - 0.3489).abs() < 0.01, "{same_day}");
        let within_20 = leads.iter().filter(|&&l| l <= 20).count() as f64 / n as f64;
        assert!((within_20 - 0.8899).abs() < 0.01, "{within_20}");
        assert!(leads.iter().all(|&l| l <= 129));
        let ages: Vec<i32> = (0..n).map(|_| draw_age(&mut rng)).collect();
        assert!(ages.iter().all(|a| (0..=115).contains(a)));
        let mut sorted = ages.clone();
        sorted.sort_unstable();
        assert!((35..=39).contains(&sorted[n / 2]), "{}", sorted[n / 2]);
    }

    #[test]
    fn no_show_risk_averages_to_the_rate_over_kaggle_leads() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(4);
        let n = 200_000;
        let mean = (0..n)
            .map(|_| no_show_probability(0.2019, draw_lead(&mut rng)))
            .sum::<f64>()
            / f64::from(n);
        assert!((mean - 0.2019).abs() < 0.005, "{mean}");
        assert_eq!(no_show_probability(f64::NAN, 3), 0.0);
        assert_eq!(no_show_probability(0.9, 50), 1.0);
    }
}
