//! A patient's vital signs: a baseline, drifting noise, and perhaps a deterioration.
//!
//! Each measured parameter (see [`calibration::VITALS`]) is
//! `mean + spread × (baseline − mean + AR(1) noise) + progress × deterioration shift`, clamped
//! and rounded as a monitor would report it (whole numbers; temperature to 0.1). The baseline
//! is drawn once per patient from the between-stay spread; the noise keeps the within-stay
//! spread as its stationary SD and is correlated from one reading to the next; `spread` is 1 in
//! intensive care and [`calibration::WARD_SPREAD`] elsewhere. A deteriorating patient's
//! progress ramps from 0 to 1 after an onset time, stays at 1 for a while, and recovers to 0
//! (or drops to 0 at once when the patient is moved to another unit: the escalation treated
//! them). Consciousness is Alert unless a deteriorating patient becomes newly confused late in
//! the ramp; supplemental oxygen is on when the baseline SpO2 (after `spread`) is below the
//! target range, or half-way into a deterioration.

use super::arrivals::uniform;
use super::calibration::{
    self, DETERIORATION_CONFUSION, DETERIORATION_ONSET_HOURS, DETERIORATION_PLATEAU_HOURS,
    DETERIORATION_RAMP_HOURS, DETERIORATION_RECOVERY_HOURS, OXYGEN_BELOW_SPO2, VITALS,
};
use rand::RngExt;
use rand_distr::StandardNormal;
use wardstream_schemas::time::HOUR_MS;
use wardstream_schemas::{Acvpu, Milli, Millis};

/// Number of measured parameters per observation set.
pub const PARAMETERS: usize = VITALS.len();

/// One patient's physiology.
#[derive(Clone, Debug)]
pub struct Physiology {
    baseline: [f64; PARAMETERS],
    noise: [f64; PARAMETERS],
    deterioration: Option<Deterioration>,
}

#[derive(Clone, Copy, Debug)]
struct Deterioration {
    onset: Millis,
    ramp_ms: f64,
    plateau_ms: f64,
    recovery_ms: f64,
    confusion: bool,
}

/// One observation set: the five measured values (rounded, in the codes' units) plus ACVPU and
/// whether the patient is on supplemental oxygen.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Observation {
    /// RR, SpO2, HR, SBP, temperature, in [`VITALS`] order.
    pub values: [Milli; PARAMETERS],
    /// Level of consciousness.
    pub consciousness: Acvpu,
    /// On supplemental oxygen.
    pub supplemental_oxygen: bool,
}

impl Physiology {
    /// A new patient admitted at `admitted`; deteriorates with probability `deterioration_rate`.
    pub fn new<R: rand::Rng + ?Sized>(
        rng: &mut R,
        admitted: Millis,
        deterioration_rate: f64,
    ) -> Self {
        let mut baseline = [0.0; PARAMETERS];
        let mut noise = [0.0; PARAMETERS];
        for (i, v) in VITALS.iter().enumerate() {
            let z: f64 = rng.sample(StandardNormal);
            baseline[i] = v.mean + v.between_sd * z;
            let z: f64 = rng.sample(StandardNormal);
            noise[i] = v.within_sd * z;
        }
        let deterioration = (rng.random::<f64>() < deterioration_rate).then(|| {
            let mut hours = |(lo, hi): (f64, f64)| uniform(rng, lo, hi) * HOUR_MS as f64;
            let onset = admitted + hours(DETERIORATION_ONSET_HOURS) as Millis;
            let (ramp_ms, plateau_ms) = (
                hours(DETERIORATION_RAMP_HOURS),
                hours(DETERIORATION_PLATEAU_HOURS),
            );
            let recovery_ms = hours(DETERIORATION_RECOVERY_HOURS);
            let confusion = rng.random::<f64>() < DETERIORATION_CONFUSION;
            Deterioration {
                onset,
                ramp_ms,
                plateau_ms,
                recovery_ms,
                confusion,
            }
        });
        Physiology {
            baseline,
            noise,
            deterioration,
        }
    }

    /// Whether the patient deteriorates during this stay (at some point).
    #[cfg(test)]
    pub fn deteriorates(&self) -> bool {
        self.deterioration.is_some()
    }

    /// How far the deterioration has gone at `t`, 0 to 1.
    pub fn progress(&self, t: Millis) -> f64 {
        let Some(d) = self.deterioration else {
            return 0.0;
        };
        let since = (t - d.onset) as f64;
        if since <= 0.0 {
            0.0
        } else if since < d.ramp_ms {
            since / d.ramp_ms
        } else if since < d.ramp_ms + d.plateau_ms {
            1.0
        } else {
            (1.0 - (since - d.ramp_ms - d.plateau_ms) / d.recovery_ms).max(0.0)
        }
    }

    /// Moved to another unit at `t`: a deterioration already under way is over.
    pub fn moved(&mut self, t: Millis) {
        if self.progress(t) > 0.0 {
            self.deterioration = None;
        }
    }

    /// The next observation set at `t`; `ar` is the noise correlation since the last one and
    /// `spread` scales the deviations from the population mean.
    pub fn observe<R: rand::Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        t: Millis,
        ar: f64,
        spread: f64,
    ) -> Observation {
        let progress = self.progress(t);
        let innovation = (1.0 - ar * ar).max(0.0).sqrt();
        let mut values = [Milli(0); PARAMETERS];
        for (i, v) in VITALS.iter().enumerate() {
            let z: f64 = rng.sample(StandardNormal);
            self.noise[i] = ar * self.noise[i] + innovation * v.within_sd * z;
            let x = v.mean
                + spread * (self.baseline[i] - v.mean + self.noise[i])
                + progress * v.deterioration_shift;
            values[i] = report(x, v);
        }
        let confused = self.deterioration.is_some_and(|d| d.confusion) && progress >= 0.75;
        let spo2 = &VITALS[1];
        let baseline_spo2 = spo2.mean + spread * (self.baseline[1] - spo2.mean);
        Observation {
            values,
            consciousness: if confused { Acvpu::C } else { Acvpu::A },
            supplemental_oxygen: baseline_spo2 < OXYGEN_BELOW_SPO2 || progress >= 0.5,
        }
    }
}

/// Clamps to the parameter's range and rounds as a monitor reports it, in thousandths.
fn report(x: f64, v: &calibration::VitalCalibration) -> Milli {
    let (lo, hi) = v.clamp;
    let x = if x.is_finite() {
        x.clamp(lo, hi)
    } else {
        v.mean
    };
    match v.decimals {
        0 => Milli(x.round() as i64 * 1000),
        _ => Milli((x * 10.0).round() as i64 * 100),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;

    #[test]
    fn values_are_clamped_rounded_and_plausible() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(3);
        for n in 0..2_000 {
            let mut p = Physiology::new(&mut rng, 0, 0.5);
            let o = p.observe(
                &mut rng,
                (n % 100) * HOUR_MS,
                0.7,
                if n % 2 == 0 { 1.0 } else { 0.5 },
            );
            for (v, x) in VITALS.iter().zip(o.values) {
                let (lo, hi) = v.code.plausible();
                assert!(lo <= x && x <= hi, "{:?} {x:?}", v.code);
                let step = if v.decimals == 0 { 1000 } else { 100 };
                assert_eq!(x.0 % step, 0, "{:?} {x:?}", v.code);
            }
        }
    }

    #[test]
    fn deterioration_ramps_recovers_or_ends_on_a_move() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(11);
        let mut p = loop {
            let p = Physiology::new(&mut rng, 0, 1.0);
            if p.deteriorates() {
                break p;
            }
        };
        let d = p.deterioration.unwrap_or_else(|| panic!("deteriorates"));
        assert_eq!(p.progress(0), 0.0);
        assert!(p.progress(d.onset + (d.ramp_ms / 2.0) as Millis) > 0.4);
        let worst = d.onset + (d.ramp_ms + d.plateau_ms / 2.0) as Millis;
        assert_eq!(p.progress(worst), 1.0);
        let over = d.onset + (d.ramp_ms + d.plateau_ms + d.recovery_ms) as Millis + 1;
        assert_eq!(p.progress(over), 0.0);
        let sick: Vec<Observation> = (0..50)
            .map(|_| p.observe(&mut rng, worst, 0.0, 0.5))
            .collect();
        assert!(sick.iter().all(|o| o.supplemental_oxygen));
        let rr = |o: &Observation| o.values[0].round_whole();
        assert!(
            sick.iter().map(rr).sum::<i64>() / 50 >= 25,
            "RR of the deteriorated"
        );
        p.moved(worst);
        assert_eq!(p.progress(worst + HOUR_MS), 0.0);
    }
}
