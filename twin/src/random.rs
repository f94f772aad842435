//! Random streams: one seeded generator per entity class, so that two scenarios run with the
//! same seed draw the same arrivals, acuities and lengths of stay for the same patients
//! (common random numbers, Law 2015 §11.2).
//!
//! Generators are `Xoshiro256PlusPlus` (portable: the same numbers on every platform and rand
//! release), seeded from `(base seed, replication, stream)` through SplitMix64, so a
//! replication's numbers do not depend on which thread runs it.
use crate::scenario::Duration;
use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use rand_distr::{Distribution, Exp1, StandardNormal};

/// A random stream.
pub type Stream = Xoshiro256PlusPlus;

/// SplitMix64's output function (Steele, Lea & Flood 2014), used to derive seeds.
#[inline]
pub fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The stream numbered `stream` of replication `replication` under `seed`.
pub fn stream(seed: u64, replication: u64, stream: u64) -> Stream {
    let s = splitmix64(splitmix64(splitmix64(seed) ^ replication) ^ stream.wrapping_mul(0x632b));
    Stream::seed_from_u64(s)
}

/// Uniform on [0, 1).
#[inline]
pub fn uniform(rng: &mut Stream) -> f64 {
    rng.random::<f64>()
}

/// Exponential with mean `mean` (ziggurat, rand_distr `Exp1`).
#[inline]
pub fn exponential(rng: &mut Stream, mean: f64) -> f64 {
    let e: f64 = Exp1.sample(rng);
    e * mean
}

/// A draw from `d`, h.
#[inline]
pub fn duration(rng: &mut Stream, d: &Duration) -> f64 {
    match d {
        Duration::Fixed { hours } => *hours,
        Duration::Exponential { mean_hours } => exponential(rng, *mean_hours),
        Duration::Lognormal { mu, sigma } => {
            let z: f64 = StandardNormal.sample(rng);
            (mu + sigma * z).exp()
        }
        Duration::Empirical { hours } => {
            let i = rng.random_range(0..hours.len());
            hours[i]
        }
    }
}

/// Index into `weights` drawn with probability proportional to the weight, given
/// `u` uniform on [0, 1) and the weights' `total`. Falls back to the last positive weight on
/// rounding.
#[inline]
pub fn pick_weighted(weights: &[f64], total: f64, u: f64) -> usize {
    let mut x = u * total;
    let mut last = 0;
    for (i, w) in weights.iter().enumerate() {
        if *w > 0.0 {
            if x < *w {
                return i;
            }
            x -= w;
            last = i;
        }
    }
    last
}

/// Picks a route by probability; `None` is the remainder (discharge).
#[inline]
pub fn pick_route(routes: &[(u16, f64)], u: f64) -> Option<u16> {
    let mut x = u;
    for (to, p) in routes {
        if x < *p {
            return Some(*to);
        }
        x -= p;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a: Vec<f64> = (0..5)
            .map(|_| 0.0)
            .scan(stream(1, 2, 3), |r, _| Some(uniform(r)))
            .collect();
        let b: Vec<f64> = (0..5)
            .map(|_| 0.0)
            .scan(stream(1, 2, 3), |r, _| Some(uniform(r)))
            .collect();
        let c: Vec<f64> = (0..5)
            .map(|_| 0.0)
            .scan(stream(1, 2, 4), |r, _| Some(uniform(r)))
            .collect();
        let d: Vec<f64> = (0..5)
            .map(|_| 0.0)
            .scan(stream(1, 3, 3), |r, _| Some(uniform(r)))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn sample_means_match_the_distributions() {
        let mut r = stream(9, 0, 0);
        let n = 200_000;
        let lognormal = Duration::Lognormal {
            mu: 1.0,
            sigma: 0.5,
        };
        let m: f64 = (0..n).map(|_| duration(&mut r, &lognormal)).sum::<f64>() / n as f64;
        assert!(
            (m - lognormal.mean()).abs() / lognormal.mean() < 0.01,
            "{m}"
        );
        let m: f64 = (0..n).map(|_| exponential(&mut r, 3.0)).sum::<f64>() / n as f64;
        assert!((m - 3.0).abs() < 0.03, "{m}");
    }

    #[test]
    fn weighted_and_route_picks() {
        assert_eq!(pick_weighted(&[0.0, 1.0, 3.0], 4.0, 0.0), 1);
        assert_eq!(pick_weighted(&[0.0, 1.0, 3.0], 4.0, 0.26), 2);
        assert_eq!(pick_weighted(&[0.0, 1.0, 3.0], 4.0, 0.999_999_9), 2);
        let routes = [(4u16, 0.25), (7, 0.5)];
        assert_eq!(pick_route(&routes, 0.1), Some(4));
        assert_eq!(pick_route(&routes, 0.6), Some(7));
        assert_eq!(pick_route(&routes, 0.8), None);
    }
}
