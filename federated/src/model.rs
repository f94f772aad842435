//! Binary classifiers with flat parameter vectors: logistic regression and a one-hidden-layer
//! perceptron (ReLU), with mean log-loss, its gradient, and per-example gradients for DP-SGD.
//!
//! Parameters are one `Vec<f32>` so the server aggregates them without knowing the model:
//! logistic regression is `[w (d), b]`; the MLP with `h` hidden units is
//! `[W1 (h × d, row-major), b1 (h), w2 (h), b2]`.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};
use rand::{RngExt, SeedableRng};
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Which classifier, with its input width.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Model {
    /// Logistic regression on `inputs` features.
    Logistic {
        /// Input width `d`.
        inputs: usize,
    },
    /// One hidden ReLU layer of `hidden` units, then a logistic output.
    Mlp {
        /// Input width `d`.
        inputs: usize,
        /// Hidden units `h`.
        hidden: usize,
    },
}

impl Model {
    /// Number of parameters: `d + 1`, or `h·d + h + h + 1`.
    pub fn num_params(&self) -> usize {
        match *self {
            Model::Logistic { inputs } => inputs + 1,
            Model::Mlp { inputs, hidden } => hidden * inputs + 2 * hidden + 1,
        }
    }

    /// Input width `d`.
    pub fn inputs(&self) -> usize {
        match *self {
            Model::Logistic { inputs } | Model::Mlp { inputs, .. } => inputs,
        }
    }

    /// Initial parameters: zeros for logistic regression; He-uniform hidden weights for the
    /// MLP (seeded, so every site starts from the same global model).
    pub fn init(&self, seed: u64) -> Vec<f32> {
        let mut params = vec![0.0; self.num_params()];
        if let Model::Mlp { inputs, hidden } = *self {
            let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed);
            let bound = (6.0 / inputs.max(1) as f32).sqrt();
            for p in &mut params[..hidden * inputs] {
                *p = rng.random_range(-bound..bound);
            }
            let out = (6.0 / hidden.max(1) as f32).sqrt() * 0.5;
            for p in &mut params[hidden * inputs + hidden..hidden * inputs + 2 * hidden] {
                *p = rng.random_range(-out..out);
            }
        }
        params
    }

    /// Checks that `params` and `x` fit this model.
    ///
    /// # Errors
    /// [`Error::Shape`] when `params.len() != num_params()` or `x` is not `n × d`.
    pub fn check(&self, params: &[f32], x: ArrayView2<'_, f32>) -> Result<()> {
        if params.len() != self.num_params() {
            return Err(Error::Shape(format!(
                "{self:?} has {} parameters, got {}",
                self.num_params(),
                params.len()
            )));
        }
        if x.ncols() != self.inputs() {
            return Err(Error::Shape(format!(
                "{self:?} takes {} features, got {}",
                self.inputs(),
                x.ncols()
            )));
        }
        Ok(())
    }

    /// Probability of the positive class (no-show) for each row of `x` (`n × d`).
    ///
    /// # Errors
    /// As [`check`](Self::check).
    pub fn predict(&self, params: &[f32], x: ArrayView2<'_, f32>) -> Result<Array1<f32>> {
        self.check(params, x)?;
        Ok(self.logits(params, x).0.mapv(sigmoid))
    }

    /// Logits (`n`) and, for the MLP, the hidden activations (`n × h`).
    fn logits(&self, params: &[f32], x: ArrayView2<'_, f32>) -> (Array1<f32>, Option<Array2<f32>>) {
        match *self {
            Model::Logistic { inputs } => {
                let w = ArrayView1::from(&params[..inputs]);
                (x.dot(&w) + params[inputs], None)
            }
            Model::Mlp { inputs, hidden } => {
                let (w1, b1, w2, b2) = self.mlp_parts(params, inputs, hidden);
                let mut h = x.dot(&w1.t());
                h += &b1;
                h.mapv_inplace(|v| v.max(0.0));
                (h.dot(&w2) + b2, Some(h))
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn mlp_parts<'a>(
        &self,
        params: &'a [f32],
        inputs: usize,
        hidden: usize,
    ) -> (
        ArrayView2<'a, f32>,
        ArrayView1<'a, f32>,
        ArrayView1<'a, f32>,
        f32,
    ) {
        let (w1, rest) = params.split_at(hidden * inputs);
        let (b1, rest) = rest.split_at(hidden);
        let (w2, rest) = rest.split_at(hidden);
        let w1 = ArrayView2::from_shape((hidden, inputs), w1)
            .expect("parameter length checked by Model::check");
        (
            w1,
            ArrayView1::from(b1),
            ArrayView1::from(w2),
            rest.first().copied().unwrap_or(0.0),
        )
    }

    /// Mean log-loss over `(x, y)` and its gradient (length [`num_params`](Self::num_params)).
    ///
    /// # Errors
    /// As [`check`](Self::check), and when `y` has not one label per row.
    pub fn loss_and_gradient(
        &self,
        params: &[f32],
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
    ) -> Result<(f32, Vec<f32>)> {
        self.check_labelled(params, x, y)?;
        Ok(self.loss_and_gradient_unchecked(params, x, y))
    }

    fn check_labelled(
        &self,
        params: &[f32],
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
    ) -> Result<()> {
        self.check(params, x)?;
        if y.len() != x.nrows() {
            return Err(Error::Shape(format!(
                "{} rows but {} labels",
                x.nrows(),
                y.len()
            )));
        }
        Ok(())
    }

    fn loss_and_gradient_unchecked(
        &self,
        params: &[f32],
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
    ) -> (f32, Vec<f32>) {
        let n = x.nrows().max(1) as f32;
        let (z, h) = self.logits(params, x);
        let loss = z
            .iter()
            .zip(y)
            .map(|(&z, &y)| log_loss_from_logit(z, y))
            .sum::<f32>()
            / n;
        // d loss / d logit = (p - y) / n
        let dz: Array1<f32> = z
            .iter()
            .zip(y)
            .map(|(&z, &y)| (sigmoid(z) - y) / n)
            .collect();
        let mut grad = vec![0.0; self.num_params()];
        match *self {
            Model::Logistic { inputs } => {
                let gw = x.t().dot(&dz);
                for (g, v) in grad.iter_mut().zip(gw.iter()) {
                    *g = *v;
                }
                grad[inputs] = dz.sum();
            }
            Model::Mlp { inputs, hidden } => {
                let h = h.unwrap_or_else(|| Array2::zeros((x.nrows(), hidden)));
                let (_, _, w2, _) = self.mlp_parts(params, inputs, hidden);
                // dH = dz ⊗ w2 ⊙ 1[h > 0]
                let mut dh = dz
                    .view()
                    .insert_axis(Axis(1))
                    .dot(&w2.view().insert_axis(Axis(0)));
                dh.zip_mut_with(&h, |d, &a| {
                    if a <= 0.0 {
                        *d = 0.0
                    }
                });
                let gw1 = dh.t().dot(&x);
                let gb1 = dh.sum_axis(Axis(0));
                let gw2 = h.t().dot(&dz);
                let mut k = 0;
                for v in gw1.iter().chain(gb1.iter()).chain(gw2.iter()) {
                    grad[k] = *v;
                    k += 1;
                }
                grad[k] = dz.sum();
            }
        }
        (loss, grad)
    }

    /// Gradient of each example's log-loss: `n × num_params` (for per-example clipping in
    /// DP-SGD).
    ///
    /// # Errors
    /// As [`loss_and_gradient`](Self::loss_and_gradient).
    pub fn per_example_gradients(
        &self,
        params: &[f32],
        x: ArrayView2<'_, f32>,
        y: ArrayView1<'_, f32>,
    ) -> Result<Array2<f32>> {
        self.check_labelled(params, x, y)?;
        let mut out = Array2::zeros((x.nrows(), self.num_params()));
        match *self {
            Model::Logistic { inputs } => {
                let (z, _) = self.logits(params, x);
                for (i, mut row) in out.outer_iter_mut().enumerate() {
                    let d = sigmoid(z[i]) - y[i];
                    row.slice_mut(s![..inputs]).assign(&(&x.row(i) * d));
                    row[inputs] = d;
                }
            }
            Model::Mlp { .. } => {
                for (i, mut row) in out.outer_iter_mut().enumerate() {
                    let (_, g) = self.loss_and_gradient_unchecked(
                        params,
                        x.slice(s![i..i + 1, ..]),
                        y.slice(s![i..i + 1]),
                    );
                    row.assign(&ArrayView1::from(&g[..]));
                }
            }
        }
        Ok(out)
    }
}

/// The logistic function.
pub fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + (-z).exp())
    } else {
        let e = z.exp();
        e / (1.0 + e)
    }
}

/// Log-loss of one example from its logit, stable for large |z|: `softplus(z) − y·z`.
pub fn log_loss_from_logit(z: f32, y: f32) -> f32 {
    z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn numeric_gradient(
        model: &Model,
        params: &[f32],
        x: ArrayView2<f32>,
        y: ArrayView1<f32>,
    ) -> Vec<f64> {
        // Central differences in f64 on the f32 loss, step 1e-2 on a smooth region.
        (0..params.len())
            .map(|k| {
                let mut p = params.to_vec();
                let h = 1e-2f32;
                p[k] += h;
                let up = model.loss_and_gradient(&p, x, y).expect("fits").0 as f64;
                p[k] -= 2.0 * h;
                let down = model.loss_and_gradient(&p, x, y).expect("fits").0 as f64;
                (up - down) / (2.0 * h as f64)
            })
            .collect()
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = array![
            [0.5f32, -1.0, 0.25],
            [1.5, 0.5, -0.75],
            [-0.5, 0.2, 1.0],
            [0.1, 0.9, -0.3]
        ];
        let y = array![1.0f32, 0.0, 1.0, 0.0];
        for model in [
            Model::Logistic { inputs: 3 },
            Model::Mlp {
                inputs: 3,
                hidden: 4,
            },
        ] {
            let mut params = model.init(3);
            for (k, p) in params.iter_mut().enumerate() {
                *p += 0.05 * (k as f32 % 5.0 - 2.0);
            }
            let (_, g) = model
                .loss_and_gradient(&params, x.view(), y.view())
                .expect("fits");
            let numeric = numeric_gradient(&model, &params, x.view(), y.view());
            for (k, (a, b)) in g.iter().zip(&numeric).enumerate() {
                assert!(
                    (*a as f64 - b).abs() < 2e-3,
                    "{model:?} param {k}: {a} vs {b}"
                );
            }
            // Per-example gradients average to the batch gradient.
            let per = model
                .per_example_gradients(&params, x.view(), y.view())
                .expect("fits");
            let mean = per.mean_axis(Axis(0)).expect("rows");
            for (a, b) in mean.iter().zip(&g) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }

    #[test]
    fn log_loss_is_stable_for_large_logits() {
        assert!((log_loss_from_logit(100.0, 1.0)).abs() < 1e-6);
        assert!((log_loss_from_logit(-100.0, 1.0) - 100.0).abs() < 1e-3);
        assert!((log_loss_from_logit(0.0, 0.0) - std::f32::consts::LN_2).abs() < 1e-6);
    }
}
