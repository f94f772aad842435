//! Privacy accounting: a Rényi-DP accountant of the sampled Gaussian mechanism, converted to
//! (ε, δ), and budgets that refuse a round before it would overspend.
//!
//! - RDP of the sampled Gaussian mechanism (Poisson sampling at rate `q`, noise multiplier
//!   `σ`): Mironov, Talwar, Zhang 2019, "Rényi Differential Privacy of the Sampled Gaussian
//!   Mechanism" (arXiv:1908.10530), §3.3: `ε(α) = log A_α / (α − 1)`, with `A_α` the binomial
//!   series for integer `α` and the two-sided series with `erfc` terms for fractional `α`.
//!   `q = 1` is the plain Gaussian mechanism, `α / (2σ²)` (Mironov 2017, "Rényi Differential
//!   Privacy", CSF, Prop. 7).
//! - Composition adds RDP order by order (Mironov 2017, Prop. 1).
//! - RDP → (ε, δ): Canonne, Kamath, Steinke 2020, "The Discrete Gaussian for Differential
//!   Privacy" (NeurIPS), Prop. 12 (also Balle et al. 2020, AISTATS, Thm. 21):
//!   `ε = ε(α) + log(1 − 1/α) − (log δ + log α) / (α − 1)`, minimised over the orders; ε = 0
//!   when `δ² ≥ 1 − exp(−ε(α))`. This is the conversion of Google's `dp_accounting` and
//!   Opacus; the orders are `dp_accounting`'s defaults, so the numbers match it.
//!
//! Shapes and units: `q ∈ [0, 1]` (records sampled per step ÷ records), `σ ≥ 0` (noise
//! standard deviation ÷ L2 sensitivity), `steps` mechanism invocations, `δ ∈ (0, 1)`; ε in
//! nats, as everywhere in the DP literature.

use serde::{Deserialize, Serialize};
use statrs::function::erf::erfc;
use statrs::function::gamma::ln_gamma;

/// Errors of privacy accounting.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrivacyError {
    /// A parameter outside its domain (`q ∉ [0, 1]`, `σ < 0`, `δ ∉ (0, 1)`, a non-finite ε).
    #[error("privacy parameter: {0}")]
    Parameter(String),
    /// Running the round would take the spend past the budget; nothing was charged.
    #[error(
        "privacy budget exceeded: ε would go from {spent_epsilon:.4} to {would_be_epsilon:.4}, \
         above the budget ε = {budget_epsilon} at δ = {delta:e}"
    )]
    BudgetExceeded {
        /// ε spent so far at `delta`.
        spent_epsilon: f64,
        /// ε after the refused round.
        would_be_epsilon: f64,
        /// The budget's ε.
        budget_epsilon: f64,
        /// The budget's δ.
        delta: f64,
    },
}

/// An (ε, δ) budget.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PrivacyBudget {
    /// Largest ε allowed (> 0).
    pub epsilon: f64,
    /// The δ at which ε is measured, `0 < δ < 1` (usually below 1 / records).
    pub delta: f64,
}

impl PrivacyBudget {
    /// A checked budget.
    ///
    /// # Errors
    /// [`PrivacyError::Parameter`] unless `ε > 0` is finite and `0 < δ < 1`.
    pub fn new(epsilon: f64, delta: f64) -> Result<Self, PrivacyError> {
        if !(epsilon.is_finite() && epsilon > 0.0) {
            return Err(PrivacyError::Parameter(format!(
                "budget ε must be finite and > 0, got {epsilon}"
            )));
        }
        check_delta(delta)?;
        Ok(PrivacyBudget { epsilon, delta })
    }
}

/// The RDP orders `α` tracked: `dp_accounting`'s defaults, 1.1, 1.2, …, 10.9, 11, 12, …, 63,
/// 128, 256, 512, 1024.
pub fn default_orders() -> Vec<f64> {
    let mut orders: Vec<f64> = (1..100).map(|x| 1.0 + f64::from(x) / 10.0).collect();
    orders.extend((11..64).map(f64::from));
    orders.extend([128.0, 256.0, 512.0, 1024.0]);
    orders
}

/// Accumulated RDP, order by order. Starts at zero spend; [`compose`](Self::compose) adds
/// mechanisms; [`epsilon`](Self::epsilon) converts to (ε, δ).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RdpAccountant {
    orders: Vec<f64>,
    /// RDP per order; `None` is +∞ (a mechanism without noise), kept JSON-safe.
    rdp: Vec<Option<f64>>,
}

impl Default for RdpAccountant {
    fn default() -> Self {
        let orders = default_orders();
        let rdp = vec![Some(0.0); orders.len()];
        RdpAccountant { orders, rdp }
    }
}

impl RdpAccountant {
    /// An accountant over other orders (each > 1), e.g. to reproduce a published figure
    /// computed on its own grid.
    ///
    /// # Errors
    /// [`PrivacyError::Parameter`] for no orders or an order ≤ 1 or not finite.
    pub fn with_orders(orders: Vec<f64>) -> Result<Self, PrivacyError> {
        if orders.is_empty() || orders.iter().any(|a| !(a.is_finite() && *a > 1.0)) {
            return Err(PrivacyError::Parameter(
                "RDP orders must be finite and > 1".into(),
            ));
        }
        let rdp = vec![Some(0.0); orders.len()];
        Ok(RdpAccountant { orders, rdp })
    }

    /// `(α, RDP at α)` for every order; `+∞` where a mechanism had no noise.
    pub fn rdp_by_order(&self) -> Vec<(f64, f64)> {
        self.orders
            .iter()
            .zip(&self.rdp)
            .map(|(&a, r)| (a, r.unwrap_or(f64::INFINITY)))
            .collect()
    }

    /// Charge `steps` runs of the sampled Gaussian mechanism with rate `q` and multiplier `σ`.
    ///
    /// # Errors
    /// [`PrivacyError::Parameter`] for `q ∉ [0, 1]` or `σ` negative or not finite; nothing is
    /// charged then.
    pub fn compose(&mut self, q: f64, sigma: f64, steps: u64) -> Result<(), PrivacyError> {
        let added = self.rdp_of(q, sigma, steps)?;
        for (acc, add) in self.rdp.iter_mut().zip(added) {
            *acc = match (*acc, add) {
                (Some(a), Some(b)) if (a + b).is_finite() => Some(a + b),
                _ => None,
            };
        }
        Ok(())
    }

    fn rdp_of(&self, q: f64, sigma: f64, steps: u64) -> Result<Vec<Option<f64>>, PrivacyError> {
        check_mechanism(q, sigma)?;
        Ok(self
            .orders
            .iter()
            .map(|&alpha| {
                let r = rdp_sampled_gaussian(q, sigma, alpha) * steps as f64;
                (r.is_finite() || steps == 0).then_some(if steps == 0 { 0.0 } else { r })
            })
            .collect())
    }

    /// ε spent at `δ`: the minimum over the orders of the conversion (module docs).
    ///
    /// # Errors
    /// [`PrivacyError::Parameter`] for `δ ∉ (0, 1)`.
    pub fn epsilon(&self, delta: f64) -> Result<f64, PrivacyError> {
        Ok(self.epsilon_and_order(delta)?.0)
    }

    /// ε spent at `δ` and the order `α` that gives it (`+∞` and the first order when every
    /// order is unbounded).
    ///
    /// # Errors
    /// [`PrivacyError::Parameter`] for `δ ∉ (0, 1)`.
    pub fn epsilon_and_order(&self, delta: f64) -> Result<(f64, f64), PrivacyError> {
        check_delta(delta)?;
        Ok(epsilon_from_rdp(&self.orders, &self.rdp, delta))
    }

    /// ε at `δ` if `steps` runs of the mechanism `(q, σ)` were charged now (nothing is
    /// charged).
    ///
    /// # Errors
    /// As [`compose`](Self::compose) and [`epsilon`](Self::epsilon).
    pub fn epsilon_after(
        &self,
        q: f64,
        sigma: f64,
        steps: u64,
        delta: f64,
    ) -> Result<f64, PrivacyError> {
        let mut next = self.clone();
        next.compose(q, sigma, steps)?;
        next.epsilon(delta)
    }

    /// Charge `steps` runs of `(q, σ)` only if ε at the budget's δ stays within it.
    ///
    /// # Errors
    /// [`PrivacyError::BudgetExceeded`] (nothing charged) or a parameter error.
    pub fn charge_within(
        &mut self,
        q: f64,
        sigma: f64,
        steps: u64,
        budget: PrivacyBudget,
    ) -> Result<f64, PrivacyError> {
        let after = self.epsilon_after(q, sigma, steps, budget.delta)?;
        if after > budget.epsilon {
            return Err(PrivacyError::BudgetExceeded {
                spent_epsilon: self.epsilon(budget.delta)?,
                would_be_epsilon: after,
                budget_epsilon: budget.epsilon,
                delta: budget.delta,
            });
        }
        self.compose(q, sigma, steps)?;
        Ok(after)
    }
}

fn check_mechanism(q: f64, sigma: f64) -> Result<(), PrivacyError> {
    if !(0.0..=1.0).contains(&q) {
        return Err(PrivacyError::Parameter(format!(
            "sampling rate q must be in [0, 1], got {q}"
        )));
    }
    if !(sigma.is_finite() && sigma >= 0.0) {
        return Err(PrivacyError::Parameter(format!(
            "noise multiplier σ must be finite and ≥ 0, got {sigma}"
        )));
    }
    Ok(())
}

fn check_delta(delta: f64) -> Result<(), PrivacyError> {
    if !(delta > 0.0 && delta < 1.0) {
        return Err(PrivacyError::Parameter(format!(
            "δ must be in (0, 1), got {delta}"
        )));
    }
    Ok(())
}

/// The conversion of the module docs over `(orders, rdp)`; `None` RDP is +∞.
fn epsilon_from_rdp(orders: &[f64], rdp: &[Option<f64>], delta: f64) -> (f64, f64) {
    let mut best = (f64::INFINITY, orders.first().copied().unwrap_or(f64::NAN));
    for (&alpha, r) in orders.iter().zip(rdp) {
        let Some(r) = *r else { continue };
        let eps = if delta * delta + (-r).exp_m1() >= 0.0 {
            // δ ≥ √(1 − e^{−KL}) bounds the divergence outright.
            0.0
        } else if alpha > 1.01 {
            r + (-1.0 / alpha).ln_1p() - (delta * alpha).ln() / (alpha - 1.0)
        } else {
            f64::INFINITY
        };
        if eps < best.0 {
            best = (eps, alpha);
        }
    }
    (best.0.max(0.0), best.1)
}

/// RDP at order `α > 1` of one run of the sampled Gaussian mechanism `(q, σ)`; `+∞` when
/// `σ = 0` (and `q > 0`).
pub fn rdp_sampled_gaussian(q: f64, sigma: f64, alpha: f64) -> f64 {
    if q == 0.0 {
        return 0.0;
    }
    if sigma == 0.0 || alpha.is_infinite() {
        return f64::INFINITY;
    }
    if q == 1.0 {
        return alpha / (2.0 * sigma * sigma);
    }
    let log_a = if alpha.fract() == 0.0 {
        log_a_integer(q, sigma, alpha as u64)
    } else {
        log_a_fractional(q, sigma, alpha)
    };
    log_a / (alpha - 1.0)
}

/// `log A_α` for integer `α`: `Σ_{i=0}^{α} C(α, i) (1−q)^{α−i} q^i exp((i² − i) / 2σ²)`.
fn log_a_integer(q: f64, sigma: f64, alpha: u64) -> f64 {
    let a = alpha as f64;
    let ln_gamma_a1 = ln_gamma(a + 1.0);
    let (ln_q, ln_1q) = (q.ln(), (-q).ln_1p());
    let mut log_a = f64::NEG_INFINITY;
    for i in 0..=alpha {
        let i = i as f64;
        let ln_binom = ln_gamma_a1 - ln_gamma(i + 1.0) - ln_gamma(a - i + 1.0);
        let term = ln_binom + i * ln_q + (a - i) * ln_1q + (i * i - i) / (2.0 * sigma * sigma);
        log_a = log_add(log_a, term);
    }
    log_a
}

/// `log A_α` for fractional `α`: the two series of Mironov et al. 2019 §3.3, split at
/// `z₀ = σ² log(1/q − 1) + ½`, summed until both terms fall below `e⁻³⁰`.
fn log_a_fractional(q: f64, sigma: f64, alpha: f64) -> f64 {
    let (mut log_a0, mut log_a1) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
    let z0 = sigma * sigma * (1.0 / q - 1.0).ln() + 0.5;
    let (ln_q, ln_1q) = (q.ln(), (-q).ln_1p());
    let sqrt2_sigma = std::f64::consts::SQRT_2 * sigma;
    // C(α, i) by its recurrence: log of its magnitude and its sign.
    let (mut ln_coef, mut positive) = (0.0f64, true);
    let mut i = 0u64;
    loop {
        let fi = i as f64;
        if i > 0 {
            let factor = (alpha - fi + 1.0) / fi;
            if factor == 0.0 {
                break;
            }
            ln_coef += factor.abs().ln();
            if factor < 0.0 {
                positive = !positive;
            }
        }
        let j = alpha - fi;
        let log_t0 = ln_coef + fi * ln_q + j * ln_1q;
        let log_t1 = ln_coef + j * ln_q + fi * ln_1q;
        let log_e0 = 0.5f64.ln() + log_erfc((fi - z0) / sqrt2_sigma);
        let log_e1 = 0.5f64.ln() + log_erfc((z0 - j) / sqrt2_sigma);
        let log_s0 = log_t0 + (fi * fi - fi) / (2.0 * sigma * sigma) + log_e0;
        let log_s1 = log_t1 + (j * j - j) / (2.0 * sigma * sigma) + log_e1;
        if positive {
            log_a0 = log_add(log_a0, log_s0);
            log_a1 = log_add(log_a1, log_s1);
        } else {
            log_a0 = log_sub(log_a0, log_s0);
            log_a1 = log_sub(log_a1, log_s1);
        }
        i += 1;
        if log_s0.max(log_s1) < -30.0 || i > 100_000 {
            break;
        }
    }
    log_add(log_a0, log_a1)
}

/// `log(e^a + e^b)`.
fn log_add(a: f64, b: f64) -> f64 {
    let (hi, lo) = if a >= b { (a, b) } else { (b, a) };
    if lo == f64::NEG_INFINITY {
        return hi;
    }
    hi + (lo - hi).exp().ln_1p()
}

/// `log(e^a − e^b)` for `a ≥ b` (−∞ when equal, `a` when `b` is −∞).
fn log_sub(a: f64, b: f64) -> f64 {
    if b == f64::NEG_INFINITY {
        return a;
    }
    if a <= b {
        return f64::NEG_INFINITY;
    }
    (a - b).exp_m1().ln() + b
}

/// `log erfc(x)`, without underflow for large `x` (asymptotic series past 25, where `erfc`
/// itself is below 1e-273; relative error of the series there < 1e-9).
fn log_erfc(x: f64) -> f64 {
    if x < 25.0 {
        return erfc(x).ln();
    }
    let x2 = x * x;
    let series = 1.0 - 1.0 / (2.0 * x2) + 3.0 / (4.0 * x2 * x2) - 15.0 / (8.0 * x2 * x2 * x2);
    -x2 - (x * std::f64::consts::PI.sqrt()).ln() + series.ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_gaussian_has_closed_form_rdp() {
        for alpha in [1.5, 2.0, 32.0] {
            assert_eq!(rdp_sampled_gaussian(1.0, 2.0, alpha), alpha / 8.0);
        }
        assert_eq!(rdp_sampled_gaussian(0.0, 0.0, 2.0), 0.0);
        assert!(rdp_sampled_gaussian(0.5, 0.0, 2.0).is_infinite());
    }

    #[test]
    fn integer_and_fractional_series_agree_near_integers() {
        // The fractional series at α = k ± 1e-7 approaches the binomial sum at k.
        for (q, sigma) in [(0.01, 1.1), (0.1, 2.0), (0.3, 0.8)] {
            for k in [2.0f64, 5.0, 17.0] {
                let exact = rdp_sampled_gaussian(q, sigma, k);
                let near = rdp_sampled_gaussian(q, sigma, k + 1e-7);
                assert!(
                    (exact - near).abs() <= 1e-5 * exact.abs().max(1e-12),
                    "q {q} σ {sigma} α {k}: {exact} vs {near}"
                );
            }
        }
    }

    #[test]
    fn log_erfc_is_continuous_at_the_switch() {
        let below = erfc(24.999_999).ln();
        let above = log_erfc(25.0);
        assert!((below - above).abs() < 1e-4, "{below} vs {above}");
    }

    #[test]
    fn budgets_refuse_before_charging() {
        let budget = PrivacyBudget::new(1.0, 1e-5).expect("valid");
        let mut acc = RdpAccountant::default();
        let first = acc.charge_within(1.0, 5.0, 1, budget).expect("small spend");
        assert!(first > 0.0 && first < 1.0);
        let mut charged = 1;
        loop {
            match acc.charge_within(1.0, 5.0, 1, budget) {
                Ok(_) => charged += 1,
                Err(PrivacyError::BudgetExceeded {
                    spent_epsilon,
                    would_be_epsilon,
                    ..
                }) => {
                    assert!(spent_epsilon <= 1.0 && would_be_epsilon > 1.0);
                    break;
                }
                Err(e) => panic!("{e}"),
            }
            assert!(charged < 1000);
        }
        let spent = acc.epsilon(1e-5).expect("δ valid");
        assert!(spent <= 1.0);
        assert!(PrivacyBudget::new(0.0, 1e-5).is_err());
        assert!(acc.epsilon(0.0).is_err());
        assert!(acc.compose(1.5, 1.0, 1).is_err());
    }

    #[test]
    fn checkpointed_accountants_survive_json_with_infinite_spend() {
        let mut acc = RdpAccountant::default();
        acc.compose(0.01, 1.1, 100).expect("valid");
        let json = serde_json::to_string(&acc).expect("serialises");
        let back: RdpAccountant = serde_json::from_str(&json).expect("parses");
        // serde_json's fast float parser may be one ulp off: equal to 1e-15, not bit for bit.
        for ((a, r), (b, s)) in back.rdp_by_order().into_iter().zip(acc.rdp_by_order()) {
            assert_eq!(a, b);
            assert!((r - s).abs() <= 1e-15 * s.abs(), "α {a}: {r} vs {s}");
        }
        acc.compose(0.5, 0.0, 1)
            .expect("σ = 0 is allowed, and infinite");
        assert!(acc.epsilon(1e-5).expect("valid").is_infinite());
        let back: RdpAccountant =
            serde_json::from_str(&serde_json::to_string(&acc).expect("ok")).expect("ok");
        assert!(back.epsilon(1e-5).expect("valid").is_infinite());
    }
}
