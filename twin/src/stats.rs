//! Output analysis for simulation replications.
//!
//! The twin answers questions such as "how long will patients wait for a bed if we open ten
//! more?" by running independent replications of a terminating or steady-state simulation. This
//! module turns the raw output of those runs into estimates with stated precision:
//!
//! - [`Welford`]: one-pass, numerically stable running mean and sample variance.
//! - [`mean_ci`] and [`ConfidenceInterval`]: Student-t confidence interval across independent
//!   replications (the replication/deletion approach).
//! - [`quantile`]: sample quantiles (Hyndman & Fan type 7, R's default).
//! - [`TimeAverage`]: time-weighted average of a piecewise-constant level, such as beds in use
//!   or patients waiting; O(1) time and no allocation per change.
//! - [`mser5`]: MSER-5 warm-up (initial transient) truncation point.
//! - [`erlang_b`], [`erlang_c`], [`mmc_mean_wait`], [`mmc_mean_queue_length`]: closed-form
//!   M/M/c results, used to validate the engine against theory.
//!
//! Nothing here panics on input or returns an error: degenerate input (no data, a single
//! replication, an unstable queue) gives `NaN` or `f64::INFINITY` as each item documents, so a
//! scenario report can carry the value and say why.
//!
//! ```
//! use wardstream_twin::stats::{TimeAverage, mean_ci};
//!
//! // Beds in use: 2 for 3 h, then 5 for 1 h.
//! let mut beds = TimeAverage::new(0.0, 2.0);
//! beds.set(3.0, 5.0);
//! assert_eq!(beds.mean(4.0), 2.75);
//!
//! // Mean occupancy from five replications, with a 95 % confidence interval.
//! let ci = mean_ci(&[2.75, 2.9, 2.6, 3.1, 2.8], 0.95);
//! assert!(ci.contains(2.8));
//! ```

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, StudentsT};

/// Running count, mean and sample variance in one pass (Welford 1962, "Note on a method for
/// calculating corrected sums of squares and products", Technometrics 4(3); the update form of
/// Knuth, TAOCP vol. 2, §4.2.2).
///
/// Stable where the textbook `Σx² − n·x̄²` cancels catastrophically (e.g. times near 10⁹ s).
/// Values are taken as given: a `NaN` pushed makes the mean and variance `NaN`; callers that
/// want to skip missing values filter first (as [`mean_ci`] does). Units are those of the
/// values pushed (variance in their square).
#[derive(Debug, Default, Clone, Copy)]
pub struct Welford {
    n: u64,
    mean: f64,
    /// Sum of squared deviations from the current mean.
    m2: f64,
}

impl Welford {
    /// Adds one observation. O(1).
    pub fn push(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (x - self.mean);
    }

    /// Number of observations pushed.
    pub fn count(&self) -> u64 {
        self.n
    }

    /// Arithmetic mean; `NaN` when empty.
    pub fn mean(&self) -> f64 {
        if self.n == 0 { f64::NAN } else { self.mean }
    }

    /// Sample variance with the `n − 1` (Bessel) divisor; `NaN` when fewer than two
    /// observations.
    pub fn variance(&self) -> f64 {
        if self.n < 2 {
            f64::NAN
        } else {
            self.m2 / (self.n - 1) as f64
        }
    }

    /// Sample standard deviation, `sqrt(variance())`; `NaN` when fewer than two observations.
    pub fn std_dev(&self) -> f64 {
        self.variance().sqrt()
    }

    /// Sum of squared deviations from the mean (`(n − 1) · variance`); 0 when empty.
    fn sum_sq_dev(&self) -> f64 {
        self.m2
    }
}

/// A two-sided confidence interval for a mean, `mean ± half_width`.
///
/// Units are those of the samples. `n` counts the finite samples used; `level` is the nominal
/// coverage as given (e.g. `0.95`). With no samples every bound is `NaN`; with one sample the
/// half width is `f64::INFINITY` (the variance cannot be estimated).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ConfidenceInterval {
    /// Sample mean of the finite samples.
    pub mean: f64,
    /// Half width `t_{1−α/2, n−1} · s / √n`.
    pub half_width: f64,
    /// `mean − half_width`.
    pub lower: f64,
    /// `mean + half_width`.
    pub upper: f64,
    /// Number of finite samples used.
    pub n: usize,
    /// Nominal coverage, `1 − α`.
    pub level: f64,
}

impl ConfidenceInterval {
    /// Whether `x` lies in the closed interval `[lower, upper]`; `false` for `NaN` `x` or bounds.
    pub fn contains(&self, x: f64) -> bool {
        self.lower <= x && x <= self.upper
    }
}

/// Student-t confidence interval for the mean of independent, identically distributed samples,
/// one per replication: `x̄ ± t_{1−α/2, n−1} · s / √n` with `level = 1 − α`.
///
/// Source: Law, *Simulation Modeling and Analysis*, 5th ed. (2015), §9.4.1 and §9.5.2 — the
/// replication/deletion approach: one steady-state estimate per independent replication (each
/// with its warm-up deleted, see [`mser5`]), then a t interval across replications.
///
/// - Non-finite samples (`NaN`, `±∞`) are skipped; `n` counts the finite ones.
/// - `n = 0`: `mean`, `half_width`, `lower`, `upper` are `NaN`.
/// - `n = 1`: `half_width = f64::INFINITY`, bounds `∓∞`.
/// - `level` outside the open interval `(0, 1)` (or `NaN`): `half_width` and bounds are `NaN`.
///
/// The t quantile comes from `statrs::distribution::StudentsT` with `n − 1` degrees of freedom.
pub fn mean_ci(samples: &[f64], level: f64) -> ConfidenceInterval {
    let mut acc = Welford::default();
    let mut n = 0usize;
    for &x in samples.iter().filter(|x| x.is_finite()) {
        acc.push(x);
        n += 1;
    }
    let mean = acc.mean();
    let level_ok = level > 0.0 && level < 1.0;
    let half_width = match n {
        _ if !level_ok => f64::NAN,
        0 => f64::NAN,
        1 => f64::INFINITY,
        _ => {
            let df = (n - 1) as f64;
            match StudentsT::new(0.0, 1.0, df) {
                Ok(t) => {
                    let t_crit = t.inverse_cdf(0.5 * (1.0 + level));
                    t_crit * acc.std_dev() / (n as f64).sqrt()
                }
                Err(_) => f64::NAN,
            }
        }
    };
    ConfidenceInterval {
        mean,
        half_width,
        lower: mean - half_width,
        upper: mean + half_width,
        n,
        level,
    }
}

/// Sample quantile with linear interpolation between order statistics: Hyndman & Fan (1996),
/// "Sample quantiles in statistical packages", The American Statistician 50(4), definition 7 —
/// the default of R's `quantile()` and of NumPy's `percentile()`.
///
/// With the sorted values `x₀ ≤ … ≤ x_{n−1}` and `h = (n − 1)·q`, returns
/// `x_⌊h⌋ + (h − ⌊h⌋)·(x_{⌊h⌋+1} − x_⌊h⌋)`. `q` is clamped to `[0, 1]`, so `q = 0` gives the
/// minimum and `q = 1` the maximum. Returns `NaN` for empty `values` or `NaN` `q`.
///
/// Sorts `values` in place with `f64::total_cmp` (O(n log n)); a `NaN` in the input sorts
/// above `+∞` (or below `−∞` if negative), so filter missing values first. Units are those of
/// the values.
pub fn quantile(values: &mut [f64], q: f64) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    values.sort_unstable_by(f64::total_cmp);
    let q = q.clamp(0.0, 1.0);
    let last = values.len() - 1;
    let h = last as f64 * q;
    let lo = (h.floor() as usize).min(last);
    let hi = (lo + 1).min(last);
    let frac = h - lo as f64;
    let (a, b) = (values[lo], values[hi]);
    // As R does: interpolate only between distinct neighbours, so that equal or infinite
    // neighbours give the value itself rather than `∞ − ∞ = NaN`.
    if frac <= 0.0 || a == b {
        a
    } else {
        (1.0 - frac) * a + frac * b
    }
}

/// Time-weighted average of a piecewise-constant level, e.g. beds in use, patients waiting,
/// staff on shift.
///
/// Keeps the area `∫ level dt` since the last reset, the current level and the time of the last
/// change: O(1) per change, no allocation. Time units are the caller's (e.g. `h`); the area is
/// in level × time units (e.g. bed-hours) and the mean in level units.
///
/// Times must be non-decreasing. Nothing panics on bad input: a time earlier than the last
/// change (or `NaN`) adds no area and does not move the clock back, though a level change is
/// still applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeAverage {
    /// Start of the current window.
    start: f64,
    /// Time of the last change (or of the start).
    last: f64,
    /// Level in force since `last`.
    level: f64,
    /// `∫ level dt` from `start` to `last`.
    area: f64,
}

impl TimeAverage {
    /// Starts a window at time `start` with level `level`.
    pub fn new(start: f64, level: f64) -> Self {
        Self {
            start,
            last: start,
            level,
            area: 0.0,
        }
    }

    /// Accumulates `level × (now − last)`, then sets the level to `level`.
    pub fn set(&mut self, now: f64, level: f64) {
        self.advance(now);
        self.level = level;
    }

    /// Accumulates `level × (now − last)`, then changes the level by `delta` (e.g. `+1.0` on
    /// admission, `-1.0` on discharge).
    pub fn add(&mut self, now: f64, delta: f64) {
        self.advance(now);
        self.level += delta;
    }

    /// The current level.
    pub fn level(&self) -> f64 {
        self.level
    }

    /// `∫ level dt` from the start of the window to `now`, without changing state.
    pub fn area(&self, now: f64) -> f64 {
        self.area + self.pending(now)
    }

    /// Time-weighted mean `area(now) / (now − start)`; `NaN` when the span is zero, negative
    /// or `NaN`.
    pub fn mean(&self, now: f64) -> f64 {
        let span = now - self.start;
        if span > 0.0 {
            self.area(now) / span
        } else {
            f64::NAN
        }
    }

    /// Starts a new window at `now` (e.g. at the end of the warm-up period), keeping the level
    /// and discarding the area so far. A `now` earlier than the last change starts the window
    /// at the last change instead.
    pub fn reset(&mut self, now: f64) {
        let now = self.last.max(now);
        self.start = now;
        self.last = now;
        self.area = 0.0;
    }

    /// Area of the current level from `last` to `now`; zero for `now ≤ last` or `NaN`.
    fn pending(&self, now: f64) -> f64 {
        let dt = now - self.last;
        if dt > 0.0 { self.level * dt } else { 0.0 }
    }

    fn advance(&mut self, now: f64) {
        self.area += self.pending(now);
        self.last = self.last.max(now);
    }
}

/// Batch size of MSER-5.
const MSER_BATCH: usize = 5;

/// MSER-5 warm-up truncation point: the number of leading observations to delete from one
/// replication's output series before estimating steady-state means.
///
/// Sources: White (1997), "An effective truncation heuristic for bias reduction in simulation
/// output", Simulation 69(6); White, Cobb & Spratt (2000), "A comparison of five steady-state
/// truncation heuristics for simulation", Proc. Winter Simulation Conference.
///
/// The series is cut into `k = ⌊n / 5⌋` non-overlapping batches of 5 (a trailing partial batch
/// is dropped) with means `Z₀ … Z_{k−1}`. For each candidate `d` it computes
/// `MSER(d) = Σ_{j≥d} (Z_j − Z̄(d))² / (k − d)²`, where `Z̄(d)` is the mean of the batches kept,
/// and returns `5·d*` for the `d*` that minimises it (the first, i.e. smallest, on ties).
/// As White recommends, only the first half of the batches is searched, `d ≤ k/2`; also at
/// least two batches are always kept (this only matters for `k = 2`, where keeping one batch
/// would give `MSER = 0` and always truncate).
///
/// Returns 0 for series shorter than 10 observations. O(n) time, no allocation. A non-finite
/// value makes the `MSER(d)` of every `d` up to its batch `NaN`; such `d` are never chosen.
pub fn mser5(series: &[f64]) -> usize {
    let k = series.len() / MSER_BATCH;
    if k < 2 {
        return 0;
    }
    let d_max = (k / 2).min(k - 2);
    // Walk the batches from the back, so that each candidate's tail statistics come from one
    // stable running accumulator; `<=` keeps the smallest d on ties.
    let mut tail = Welford::default();
    let mut best = (0usize, f64::INFINITY);
    for d in (0..k).rev() {
        let batch = &series[d * MSER_BATCH..(d + 1) * MSER_BATCH];
        tail.push(batch.iter().sum::<f64>() / MSER_BATCH as f64);
        if d <= d_max {
            let kept = (k - d) as f64;
            let mser = tail.sum_sq_dev() / (kept * kept);
            if mser <= best.1 {
                best = (d, mser);
            }
        }
    }
    best.0 * MSER_BATCH
}

/// Erlang B (Erlang's loss formula): the probability that an arrival finds all `servers` busy
/// in an M/M/c/c loss system with offered load `offered_load = λ/μ` (erlangs, dimensionless).
///
/// Sources: Erlang (1917), "Solution of some problems in the theory of probabilities of
/// significance in automatic telephone exchanges"; Kleinrock, *Queueing Systems* vol. 1 (1975)
/// §3.7. Computed by the stable recursion `B(0) = 1`, `B(k) = a·B(k−1) / (k + a·B(k−1))`
/// (e.g. Jagerman 1974, "Some properties of the Erlang loss function", Bell Syst. Tech. J.
/// 53(3)), which never forms `aᶜ/c!` and so does not overflow for thousands of servers.
///
/// Returns a probability in `[0, 1]`; `1.0` for `offered_load = +∞`; `NaN` for negative or
/// `NaN` load. O(servers).
pub fn erlang_b(servers: u32, offered_load: f64) -> f64 {
    let a = offered_load;
    if a.is_nan() || a < 0.0 {
        return f64::NAN;
    }
    if a.is_infinite() {
        return 1.0;
    }
    let mut b = 1.0;
    for k in 1..=servers {
        let ab = a * b;
        b = ab / (f64::from(k) + ab);
    }
    b
}

/// Erlang C: the probability that an arrival has to wait in an M/M/c queue with `servers = c`
/// and offered load `offered_load = a = λ/μ` (erlangs), computed from Erlang B as
/// `C = B / (1 − ρ + ρ·B)` with utilisation `ρ = a/c`.
///
/// Sources: Erlang (1917); Kleinrock, *Queueing Systems* vol. 1 (1975) §3.5.
///
/// Returns `1.0` when `ρ ≥ 1` (the queue is unstable and every arrival waits, including
/// `servers = 0` with positive load); `NaN` for negative or `NaN` load.
pub fn erlang_c(servers: u32, offered_load: f64) -> f64 {
    let a = offered_load;
    if a.is_nan() || a < 0.0 {
        return f64::NAN;
    }
    if servers == 0 {
        return if a > 0.0 { 1.0 } else { 0.0 };
    }
    let rho = a / f64::from(servers);
    if rho >= 1.0 {
        return 1.0;
    }
    let b = erlang_b(servers, a);
    b / (1.0 - rho + rho * b)
}

/// Mean time in queue `W_q` (before service starts) of an M/M/c queue:
/// `W_q = C(c, λ/μ) / (c·μ − λ)`.
///
/// Rates are per unit time in consistent units (e.g. both `/h`); the result is in the
/// reciprocal unit (e.g. `h`). Source: Kleinrock, *Queueing Systems* vol. 1 (1975) §3.5.
///
/// Returns `f64::INFINITY` when unstable (`λ ≥ c·μ`), `NaN` when a rate is negative, `NaN`
/// or infinite, or `service_rate = 0`.
pub fn mmc_mean_wait(arrival_rate: f64, service_rate: f64, servers: u32) -> f64 {
    let (lambda, mu) = (arrival_rate, service_rate);
    if !(lambda.is_finite() && mu.is_finite() && lambda >= 0.0 && mu > 0.0) {
        return f64::NAN;
    }
    let capacity = f64::from(servers) * mu;
    if lambda >= capacity {
        return f64::INFINITY;
    }
    erlang_c(servers, lambda / mu) / (capacity - lambda)
}

/// Mean number waiting in queue `L_q` of an M/M/c queue, by Little's law `L_q = λ·W_q`
/// (Little 1961, Operations Research 9(3)); dimensionless (patients).
///
/// Arguments and degenerate cases as [`mmc_mean_wait`]: `f64::INFINITY` when unstable, `NaN`
/// for invalid rates.
pub fn mmc_mean_queue_length(arrival_rate: f64, service_rate: f64, servers: u32) -> f64 {
    let wq = mmc_mean_wait(arrival_rate, service_rate, servers);
    if wq.is_finite() {
        arrival_rate * wq
    } else {
        wq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::Xoshiro256PlusPlus;
    use rand::{RngExt, SeedableRng};

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    fn uniform_noise(seed: u64, n: usize, amplitude: f64) -> Vec<f64> {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        (0..n)
            .map(|_| amplitude * (2.0 * rng.random::<f64>() - 1.0))
            .collect()
    }

    #[test]
    fn welford_matches_two_pass() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        let xs: Vec<f64> = (0..500).map(|_| 10.0 * rng.random::<f64>() - 3.0).collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);

        let mut w = Welford::default();
        xs.iter().for_each(|&x| w.push(x));
        assert_eq!(w.count(), 500);
        assert!(close(w.mean(), mean, 1e-12 * mean.abs().max(1.0)));
        assert!(close(w.variance(), var, 1e-12 * var));
        assert!(close(w.std_dev(), var.sqrt(), 1e-12 * var.sqrt()));

        // Shifting by 1e9 leaves the variance alone; the naive Σx² − n·x̄² form loses it.
        let mut shifted = Welford::default();
        xs.iter().for_each(|&x| shifted.push(x + 1e9));
        assert!(close(shifted.variance(), var, 1e-6 * var));
    }

    #[test]
    fn welford_degenerate_counts() {
        let mut w = Welford::default();
        assert!(w.mean().is_nan());
        assert!(w.variance().is_nan());
        w.push(4.0);
        assert_eq!(w.mean(), 4.0);
        assert!(w.variance().is_nan());
        w.push(6.0);
        assert_eq!(w.mean(), 5.0);
        assert_eq!(w.variance(), 2.0);
    }

    #[test]
    fn mean_ci_matches_t_table() {
        let ci = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        // t_{0.975, 4} = 2.776445; s² = 2.5.
        let expected = 2.776445 * 2.5f64.sqrt() / 5f64.sqrt();
        assert_eq!(ci.n, 5);
        assert_eq!(ci.mean, 3.0);
        assert_eq!(ci.level, 0.95);
        assert!(close(ci.half_width, expected, 1e-6), "{ci:?}");
        assert!(close(ci.lower, 3.0 - expected, 1e-6));
        assert!(close(ci.upper, 3.0 + expected, 1e-6));
        assert!(ci.contains(4.9) && !ci.contains(5.0) && !ci.contains(1.0));

        // t_{0.95, 4} = 2.131847 for a 90 % interval.
        let ci90 = mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.90);
        assert!(close(ci90.half_width, 2.131847 * 0.5f64.sqrt(), 1e-6));
    }

    #[test]
    fn mean_ci_skips_non_finite_and_handles_small_n() {
        let with_gaps = mean_ci(&[1.0, f64::NAN, 2.0, 3.0, f64::INFINITY, 4.0, 5.0], 0.95);
        assert_eq!(with_gaps, mean_ci(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95));

        let one = mean_ci(&[7.0, f64::NAN], 0.95);
        assert_eq!(one.n, 1);
        assert_eq!(one.mean, 7.0);
        assert_eq!(one.half_width, f64::INFINITY);
        assert!(one.contains(1e300));

        let none = mean_ci(&[], 0.95);
        assert_eq!(none.n, 0);
        assert!(none.mean.is_nan() && none.half_width.is_nan() && !none.contains(0.0));

        let bad_level = mean_ci(&[1.0, 2.0, 3.0], 1.0);
        assert_eq!(bad_level.mean, 2.0);
        assert!(bad_level.half_width.is_nan());
    }

    #[test]
    fn quantile_matches_r_type_7() {
        // R: quantile(c(1,2,3,4,10), c(0, .25, .5, .9, 1)) = 1, 2, 3, 7.6, 10
        let mut xs = [10.0, 3.0, 1.0, 4.0, 2.0];
        assert_eq!(quantile(&mut xs, 0.5), 3.0);
        assert!(close(quantile(&mut xs, 0.9), 7.6, 1e-12));
        assert_eq!(quantile(&mut xs, 0.25), 2.0);
        assert_eq!(quantile(&mut xs, 0.0), 1.0);
        assert_eq!(quantile(&mut xs, 1.0), 10.0);
        assert_eq!(xs, [1.0, 2.0, 3.0, 4.0, 10.0]);
        // Clamped.
        assert_eq!(quantile(&mut xs, -0.5), 1.0);
        assert_eq!(quantile(&mut xs, 1.5), 10.0);
        // R: quantile(1:10, 0.33) = 3.97
        let mut ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!(close(quantile(&mut ten, 0.33), 3.97, 1e-12));
        // Degenerate input.
        assert!(quantile(&mut [], 0.5).is_nan());
        assert!(quantile(&mut [1.0, 2.0], f64::NAN).is_nan());
        assert_eq!(quantile(&mut [4.0], 0.3), 4.0);
        assert_eq!(quantile(&mut [1.0, f64::INFINITY], 1.0), f64::INFINITY);
        assert_eq!(
            quantile(&mut [f64::INFINITY, f64::INFINITY], 0.5),
            f64::INFINITY
        );
    }

    #[test]
    fn time_average_weights_by_duration() {
        let mut beds = TimeAverage::new(0.0, 2.0);
        beds.set(3.0, 5.0);
        assert_eq!(beds.level(), 5.0);
        assert_eq!(beds.area(4.0), 11.0);
        assert_eq!(beds.area(4.0), 11.0, "area must not mutate");
        assert_eq!(beds.mean(4.0), 2.75);
        assert!(beds.mean(0.0).is_nan());

        // New window at t = 4 keeps level 5; +1 at t = 5, so 5 for 1 h then 6 for 1 h.
        beds.reset(4.0);
        assert!(beds.mean(4.0).is_nan());
        beds.add(5.0, 1.0);
        assert_eq!(beds.level(), 6.0);
        assert_eq!(beds.area(6.0), 11.0);
        assert_eq!(beds.mean(6.0), 5.5);
    }

    #[test]
    fn time_average_ignores_backwards_time() {
        let mut q = TimeAverage::new(10.0, 1.0);
        q.set(12.0, 3.0);
        q.set(11.0, 4.0); // late: no area, clock stays at 12
        assert_eq!(q.level(), 4.0);
        assert_eq!(q.area(12.0), 2.0);
        assert_eq!(q.area(13.0), 6.0);
        q.add(f64::NAN, 1.0); // bad time: no area, clock stays at 12, level still changes
        assert_eq!(q.level(), 5.0);
        assert_eq!(q.area(12.0), 2.0);
        assert_eq!(q.area(13.0), 7.0);
    }

    #[test]
    fn mser5_finds_initial_transient() {
        // 100 observations falling linearly from 50 to 0, then 900 of noise around 0.
        let noise = uniform_noise(42, 1000, 1.0);
        let series: Vec<f64> = (0..1000)
            .map(|i| {
                let trend = if i < 100 {
                    50.0 * (1.0 - i as f64 / 99.0)
                } else {
                    0.0
                };
                trend + noise[i]
            })
            .collect();
        let d = mser5(&series);
        assert!((50..=200).contains(&d), "truncation {d}");
        assert_eq!(d % 5, 0);
    }

    #[test]
    fn mser5_keeps_stationary_series() {
        for seed in 1..=10 {
            let series = uniform_noise(seed, 1000, 1.0);
            let d = mser5(&series);
            assert!(d <= 100, "seed {seed}: truncation {d}");
        }
    }

    #[test]
    fn mser5_degenerate_input() {
        assert_eq!(mser5(&[]), 0);
        assert_eq!(mser5(&[1.0; 9]), 0);
        // Constant: every MSER(d) is 0, the first minimum is d = 0.
        assert_eq!(mser5(&[3.0; 500]), 0);
        // Never truncates more than half the batches, even for a series that only rises.
        let rising: Vec<f64> = (0..100).map(f64::from).collect();
        assert!(mser5(&rising) <= 50);
        // A step after the first batch: drop exactly that batch.
        let mut step = vec![100.0; 5];
        step.extend([1.0, 2.0, 3.0, 4.0, 5.0].repeat(20));
        assert_eq!(mser5(&step), 5);
    }

    #[test]
    fn erlang_b_small_cases() {
        assert_eq!(erlang_b(1, 1.0), 0.5);
        // B(2, 1) = (1/2) / (1 + 1 + 1/2) = 0.2
        assert!(close(erlang_b(2, 1.0), 0.2, 1e-15));
        assert_eq!(erlang_b(0, 3.0), 1.0);
        assert_eq!(erlang_b(5, 0.0), 0.0);
        assert!(erlang_b(3, -1.0).is_nan());
        // Large systems stay finite (a^c / c! would overflow).
        let b = erlang_b(2000, 1900.0);
        assert!(b > 0.0 && b < 1.0, "{b}");
    }

    #[test]
    fn erlang_c_reduces_to_rho_for_one_server() {
        for rho in [0.1, 0.5, 0.9] {
            assert!(close(erlang_c(1, rho), rho, 1e-15));
        }
        assert_eq!(erlang_c(4, 4.0), 1.0);
        assert_eq!(erlang_c(4, 9.0), 1.0);
        assert_eq!(erlang_c(0, 1.0), 1.0);
    }

    #[test]
    fn mmc_wait_matches_published_values() {
        // λ = 9, μ = 1, c = 10: C = 0.6687, W_q = C / (10 − 9).
        assert!(close(mmc_mean_wait(9.0, 1.0, 10), 0.6687, 5e-4));
        // One admission per hour, mean LOS 96 h, 100 beds.
        let wq = mmc_mean_wait(1.0, 1.0 / 96.0, 100);
        assert!(close(wq, 14.09, 0.01), "{wq}");
        assert!(close(
            mmc_mean_queue_length(1.0, 1.0 / 96.0, 100),
            wq,
            1e-12
        ));
        // M/M/1: W_q = ρ / (μ − λ).
        assert!(close(mmc_mean_wait(0.5, 1.0, 1), 1.0, 1e-12));
        assert!(close(
            mmc_mean_queue_length(0.5, 2.0, 1),
            0.5 * 0.25 / 1.5,
            1e-12
        ));
        // Unstable and degenerate.
        assert_eq!(mmc_mean_wait(10.0, 1.0, 10), f64::INFINITY);
        assert_eq!(mmc_mean_queue_length(11.0, 1.0, 10), f64::INFINITY);
        assert_eq!(mmc_mean_wait(0.0, 1.0, 3), 0.0);
        assert!(mmc_mean_wait(1.0, 0.0, 3).is_nan());
        assert!(mmc_mean_wait(f64::NAN, 1.0, 3).is_nan());
    }
}
