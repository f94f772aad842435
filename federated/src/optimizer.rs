//! Server optimisers: how the aggregated update moves the global model.
//!
//! Reddi et al. 2021, "Adaptive Federated Optimization" (ICLR), Algorithm 2: with `Δ` the
//! aggregated update, FedAvg/FedProx apply `x ← x + η·Δ` (η = 1 is plain FedAvg); FedAdam and
//! FedYogi keep moments `m ← β₁m + (1−β₁)Δ` and
//! - Adam: `v ← β₂v + (1−β₂)Δ²`,
//! - Yogi: `v ← v − (1−β₂)Δ²·sign(v − Δ²)`,
//!
//! then `x ← x + η·m / (√v + τ)`, with `v` started at `τ²` as in the paper.

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// The server's update rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ServerOptimizer {
    /// `x ← x + η·Δ` (FedAvg with η = 1; FedProx changes only the clients).
    Sgd {
        /// Server learning rate η.
        learning_rate: f32,
    },
    /// FedAdam.
    Adam {
        /// Server learning rate η.
        learning_rate: f32,
        /// First-moment decay β₁.
        beta1: f32,
        /// Second-moment decay β₂.
        beta2: f32,
        /// Adaptivity τ.
        tau: f32,
    },
    /// FedYogi.
    Yogi {
        /// Server learning rate η.
        learning_rate: f32,
        /// First-moment decay β₁.
        beta1: f32,
        /// Second-moment decay β₂.
        beta2: f32,
        /// Adaptivity τ.
        tau: f32,
    },
}

impl ServerOptimizer {
    /// FedAvg: η = 1.
    pub const FEDAVG: ServerOptimizer = ServerOptimizer::Sgd { learning_rate: 1.0 };

    /// FedAdam with the paper's β₁ = 0.9, β₂ = 0.99, τ = 10⁻³ and the given η.
    pub fn adam(learning_rate: f32) -> Self {
        ServerOptimizer::Adam {
            learning_rate,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-3,
        }
    }

    /// FedYogi with the paper's β₁ = 0.9, β₂ = 0.99, τ = 10⁻³ and the given η.
    pub fn yogi(learning_rate: f32) -> Self {
        ServerOptimizer::Yogi {
            learning_rate,
            beta1: 0.9,
            beta2: 0.99,
            tau: 1e-3,
        }
    }
}

/// The optimiser's moments, kept (and checkpointed) with the model.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OptimizerState {
    /// First moment `m` (empty until the first adaptive step).
    pub m: Vec<f32>,
    /// Second moment `v` (empty until the first adaptive step).
    pub v: Vec<f32>,
}

impl ServerOptimizer {
    /// Apply the aggregated update `delta` to `params`, updating `state`.
    ///
    /// # Errors
    /// [`Error::Shape`] when `delta` or the moments don't have `params.len()` entries.
    pub fn step(
        &self,
        params: &mut [f32],
        delta: &[f32],
        state: &mut OptimizerState,
    ) -> Result<()> {
        if delta.len() != params.len() {
            return Err(Error::Shape(format!(
                "update has {} entries, model {}",
                delta.len(),
                params.len()
            )));
        }
        match *self {
            ServerOptimizer::Sgd { learning_rate } => {
                for (x, d) in params.iter_mut().zip(delta) {
                    *x += learning_rate * d;
                }
            }
            ServerOptimizer::Adam {
                learning_rate,
                beta1,
                beta2,
                tau,
            }
            | ServerOptimizer::Yogi {
                learning_rate,
                beta1,
                beta2,
                tau,
            } => {
                let yogi = matches!(self, ServerOptimizer::Yogi { .. });
                if state.m.is_empty() {
                    state.m = vec![0.0; params.len()];
                    state.v = vec![tau * tau; params.len()];
                }
                if state.m.len() != params.len() || state.v.len() != params.len() {
                    return Err(Error::Shape("optimiser moments don't fit the model".into()));
                }
                for (((x, d), m), v) in params
                    .iter_mut()
                    .zip(delta)
                    .zip(&mut state.m)
                    .zip(&mut state.v)
                {
                    *m = beta1 * *m + (1.0 - beta1) * d;
                    let d2 = d * d;
                    *v = if yogi {
                        *v - (1.0 - beta2) * d2 * (*v - d2).signum()
                    } else {
                        beta2 * *v + (1.0 - beta2) * d2
                    };
                    *x += learning_rate * *m / (v.sqrt() + tau);
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fedavg_adds_the_update_and_adam_follows_the_paper() {
        let mut x = vec![1.0f32, -1.0];
        let mut state = OptimizerState::default();
        ServerOptimizer::FEDAVG
            .step(&mut x, &[0.5, 0.25], &mut state)
            .expect("fits");
        assert_eq!(x, vec![1.5, -0.75]);

        // One Adam step by hand: m = 0.1Δ, v = 0.99τ² + 0.01Δ², x += η m / (√v + τ).
        let mut x = vec![0.0f32];
        let mut state = OptimizerState::default();
        let opt = ServerOptimizer::adam(0.1);
        opt.step(&mut x, &[2.0], &mut state).expect("fits");
        let v = 0.99f32 * 1e-6 + 0.01 * 4.0;
        let expected = 0.1 * 0.2 / (v.sqrt() + 1e-3);
        assert!((x[0] - expected).abs() < 1e-6, "{} vs {expected}", x[0]);

        // Yogi grows v additively towards Δ² (sign(v − Δ²) = −1 here).
        let mut y = vec![0.0f32];
        let mut ys = OptimizerState::default();
        ServerOptimizer::yogi(0.1)
            .step(&mut y, &[2.0], &mut ys)
            .expect("fits");
        assert!((ys.v[0] - (1e-6 + 0.01 * 4.0)).abs() < 1e-7);
        assert!(
            ServerOptimizer::FEDAVG
                .step(&mut y, &[1.0, 2.0], &mut ys)
                .is_err()
        );
    }
}
