//! Non-homogeneous Poisson arrivals whose rate is constant within each hour of the week.
//!
//! The next arrival after `t` is found by inversion: draw `E ~ Exp(1)` and walk forward hour by
//! hour, spending `rate(hour) × time in that hour` of `E`, until it is used up. Exact for a
//! piecewise-constant rate, and cheap: one exponential draw and a few steps per arrival.

use rand::RngExt;
use rand_distr::Exp1;
use wardstream_schemas::Millis;
use wardstream_schemas::time::{DAY_MS, HOUR_MS};

/// Hours in a week.
pub const HOURS_PER_WEEK: usize = 168;

/// Hour of the week of `t`, Monday 00:00 UTC = 0 (1970-01-01 was a Thursday).
pub fn hour_of_week(t: Millis) -> usize {
    let days = t.div_euclid(DAY_MS);
    let weekday = (days + 3).rem_euclid(7);
    let hour = t.rem_euclid(DAY_MS) / HOUR_MS;
    (weekday * 24 + hour) as usize
}

/// Weekday of `t`, Monday = 0.
pub fn weekday(t: Millis) -> usize {
    (t.div_euclid(DAY_MS) + 3).rem_euclid(7) as usize
}

/// A Poisson process with a rate per hour of the week (events per hour).
#[derive(Clone, Debug)]
pub struct WeeklyPoisson {
    per_hour: [f64; HOURS_PER_WEEK],
    weekly_total: f64,
}

impl WeeklyPoisson {
    /// `per_day` events per average day, shaped by hour-of-day weights and weekday factors
    /// (Monday first). Each shape is normalised to mean 1; negative or non-finite weights count
    /// as 0, and an all-zero shape is taken as flat.
    pub fn new(per_day: f64, hourly: &[f64; 24], weekday_factors: &[f64; 7]) -> Self {
        let hourly = normalise(hourly);
        let days = normalise(weekday_factors);
        let per_day = if per_day.is_finite() {
            per_day.max(0.0)
        } else {
            0.0
        };
        let mut per_hour = [0.0; HOURS_PER_WEEK];
        for (i, r) in per_hour.iter_mut().enumerate() {
            *r = per_day / 24.0 * hourly[i % 24] * days[i / 24];
        }
        Self::from_rates(per_hour)
    }

    /// From explicit rates, events per hour for each hour of the week.
    pub fn from_rates(per_hour: [f64; HOURS_PER_WEEK]) -> Self {
        let weekly_total = per_hour.iter().sum();
        WeeklyPoisson {
            per_hour,
            weekly_total,
        }
    }

    /// The next event strictly after `t` (`None` if the rate is zero everywhere).
    pub fn next_after<R: rand::Rng + ?Sized>(&self, t: Millis, rng: &mut R) -> Option<Millis> {
        if self.weekly_total <= 0.0 || !self.weekly_total.is_finite() {
            return None;
        }
        let mut budget: f64 = rng.sample(Exp1);
        let mut now = t;
        loop {
            let rate = self.per_hour[hour_of_week(now)];
            let hour_end = now.div_euclid(HOUR_MS) * HOUR_MS + HOUR_MS;
            let span_hours = (hour_end - now) as f64 / HOUR_MS as f64;
            let mass = rate * span_hours;
            if rate > 0.0 && budget < mass {
                let dt = (budget / rate * HOUR_MS as f64).ceil() as Millis;
                return Some((now + dt.max(1)).min(hour_end));
            }
            budget -= mass;
            now = hour_end;
        }
    }
}

/// Scales weights to mean 1 (negative and non-finite as 0; all zero as flat).
pub fn normalise<const N: usize>(w: &[f64; N]) -> [f64; N] {
    let clean = w.map(|x| if x.is_finite() && x > 0.0 { x } else { 0.0 });
    let sum: f64 = clean.iter().sum();
    if sum <= 0.0 {
        return [1.0; N];
    }
    clean.map(|x| x * N as f64 / sum)
}

/// A uniform draw in `[lo, hi)`.
pub fn uniform<R: rand::Rng + ?Sized>(rng: &mut R, lo: f64, hi: f64) -> f64 {
    lo + (hi - lo) * rng.random::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::Xoshiro256PlusPlus;
    use wardstream_schemas::time::parse_rfc3339;

    #[test]
    fn hour_of_week_starts_on_monday() {
        let monday = parse_rfc3339("2026-01-05T00:00:00Z").unwrap_or_default();
        assert_eq!(hour_of_week(monday), 0);
        assert_eq!(weekday(monday), 0);
        assert_eq!(hour_of_week(monday + 30 * HOUR_MS), 30);
        assert_eq!(hour_of_week(monday - HOUR_MS), 167);
    }

    #[test]
    fn follows_the_hourly_shape() {
        let mut hourly = [0.0; 24];
        hourly[10] = 3.0;
        hourly[20] = 1.0;
        let p = WeeklyPoisson::new(100.0, &hourly, &[1.0; 7]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let mut t = 0;
        let mut by_hour = [0u32; 24];
        for _ in 0..20_000 {
            t = p.next_after(t, &mut rng).unwrap_or(t + 1);
            by_hour[(t.rem_euclid(DAY_MS) / HOUR_MS) as usize] += 1;
        }
        assert_eq!(by_hour.iter().sum::<u32>(), by_hour[10] + by_hour[20]);
        let ratio = f64::from(by_hour[10]) / f64::from(by_hour[20]);
        assert!((2.7..3.3).contains(&ratio), "{ratio}");
        let days = t as f64 / DAY_MS as f64;
        assert!((20_000.0 / days - 100.0).abs() < 3.0, "{}", 20_000.0 / days);
    }

    #[test]
    fn zero_rate_never_fires() {
        let p = WeeklyPoisson::new(0.0, &[1.0; 24], &[1.0; 7]);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
        assert_eq!(p.next_after(0, &mut rng), None);
    }
}
