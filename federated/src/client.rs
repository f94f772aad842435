//! Local training at a site: mini-batch SGD from the global model, with the FedProx proximal
//! term and, optionally, record-level DP-SGD.
//!
//! - FedProx: Li et al. 2020, "Federated Optimization in Heterogeneous Networks" (MLSys): the
//!   local objective adds `μ/2·‖w − w_global‖²`, so the gradient gains `μ·(w − w_global)`.
//! - DP-SGD: Abadi et al. 2016, "Deep Learning with Differential Privacy" (CCS): each step
//!   draws a Poisson sample (every record with probability `q = batch_size / n`), clips each
//!   record's gradient to L2 norm `C`, adds `N(0, σ²C²)` to each coordinate of the sum and
//!   divides by the expected batch size `q·n`. The step count, `q` and `σ` are returned so the
//!   site's RDP accountant can charge them ([`crate::accountant`]).

use ndarray::{ArrayView1, ArrayView2, Axis};
use rand::seq::SliceRandom;
use rand::{Rng, RngExt, SeedableRng};
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::model::Model;
use crate::{Error, Randomness, Result};

/// Record-level differential privacy for local training (DP-SGD).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpSgd {
    /// L2 bound `C` of each record's gradient.
    pub clip_norm: f32,
    /// Noise multiplier `σ`: the noise's standard deviation is `σ·C`.
    pub noise_multiplier: f32,
}

/// How a site trains in one round.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the site's data.
    pub epochs: usize,
    /// Mini-batch size (the expected batch size under DP-SGD's Poisson sampling).
    pub batch_size: usize,
    /// SGD step size.
    pub learning_rate: f32,
    /// FedProx `μ` (0 = plain FedAvg local training).
    pub proximal_mu: f32,
    /// Record-level DP-SGD, if any.
    pub dp: Option<DpSgd>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            epochs: 1,
            batch_size: 32,
            learning_rate: 0.5,
            proximal_mu: 0.0,
            dp: None,
        }
    }
}

/// The privacy cost of one DP-SGD run, to charge to the site's accountant.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DpSpend {
    /// Poisson sampling rate `q`.
    pub sample_rate: f64,
    /// Noise multiplier `σ`.
    pub noise_multiplier: f64,
    /// Number of noisy steps.
    pub steps: u64,
}

/// What a site sends back: the change of the parameters and how many records produced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocalUpdate {
    /// `w_local − w_global`, length `model.num_params()`.
    pub delta: Vec<f32>,
    /// Training records at the site (the FedAvg weight).
    pub num_examples: u64,
    /// Mean training log-loss over the last epoch's batches; `None` under DP-SGD (the loss of
    /// the site's records is not privatised, so it is not sent).
    #[serde(default)]
    pub train_loss: Option<f32>,
    /// DP-SGD's spend, when it was on.
    pub dp_spend: Option<DpSpend>,
}

/// Train `model` from `global` on the site's `(x, y)` and return the update. `randomness`
/// draws the batch order, DP-SGD's Poisson samples and its noise: a real site passes
/// [`Randomness::Os`]; a seeded run is reproducible and therefore not private.
///
/// # Errors
/// [`Error::Shape`] when `global`, `x` or `y` don't fit the model; [`Error::Config`] for a zero
/// batch size, a non-positive learning rate or clip norm, or a negative `μ` or `σ`;
/// [`Error::Data`] when the site has no records.
pub fn train(
    model: &Model,
    global: &[f32],
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    config: &TrainConfig,
    randomness: Randomness,
) -> Result<LocalUpdate> {
    match randomness {
        Randomness::Os => train_with(
            model,
            global,
            x,
            y,
            config,
            &mut rand::make_rng::<chacha20::ChaCha20Rng>(),
        ),
        Randomness::Seeded(seed) => train_with(
            model,
            global,
            x,
            y,
            config,
            &mut rand::rngs::Xoshiro256PlusPlus::seed_from_u64(seed),
        ),
    }
}

fn train_with<R: Rng>(
    model: &Model,
    global: &[f32],
    x: ArrayView2<'_, f32>,
    y: ArrayView1<'_, f32>,
    config: &TrainConfig,
    rng: &mut R,
) -> Result<LocalUpdate> {
    model.check(global, x)?;
    if y.len() != x.nrows() {
        return Err(Error::Shape(format!(
            "{} rows but {} labels",
            x.nrows(),
            y.len()
        )));
    }
    if config.batch_size == 0 || config.learning_rate.is_nan() || config.learning_rate <= 0.0 {
        return Err(Error::Config(
            "batch size and learning rate must be positive".into(),
        ));
    }
    if config.proximal_mu.is_nan() || config.proximal_mu < 0.0 {
        return Err(Error::Config("FedProx μ must be ≥ 0".into()));
    }
    let n = x.nrows();
    if n == 0 {
        return Err(Error::Data("the site has no training records".into()));
    }
    let mut w = global.to_vec();
    let lr = config.learning_rate;
    let mu = config.proximal_mu;
    let mut last_loss = None;

    let proximal = |w: &[f32], g: &mut [f32]| {
        if mu > 0.0 {
            for ((g, w), w0) in g.iter_mut().zip(w).zip(global) {
                *g += mu * (w - w0);
            }
        }
    };

    let dp_spend = if let Some(dp) = config.dp {
        if dp.clip_norm.is_nan()
            || dp.clip_norm <= 0.0
            || dp.noise_multiplier.is_nan()
            || dp.noise_multiplier < 0.0
        {
            return Err(Error::Config(
                "DP-SGD needs a clip norm > 0 and σ ≥ 0".into(),
            ));
        }
        let q = (config.batch_size as f64 / n as f64).min(1.0);
        let steps = (config.epochs * n.div_ceil(config.batch_size)) as u64;
        let expected = (q * n as f64) as f32;
        let noise = Normal::new(0.0f32, dp.noise_multiplier * dp.clip_norm)
            .map_err(|e| Error::Config(format!("DP-SGD noise: {e}")))?;
        let mut sample = Vec::with_capacity(config.batch_size * 2);
        for _ in 0..steps {
            sample.clear();
            sample.extend((0..n).filter(|_| rng.random::<f64>() < q));
            let mut g = vec![0.0f32; w.len()];
            if !sample.is_empty() {
                let xs = x.select(Axis(0), &sample);
                let ys = y.select(Axis(0), &sample);
                let per = model.per_example_gradients(&w, xs.view(), ys.view())?;
                for row in per.outer_iter() {
                    let norm = row.dot(&row).sqrt();
                    let scale = if norm > dp.clip_norm {
                        dp.clip_norm / norm
                    } else {
                        1.0
                    };
                    for (g, v) in g.iter_mut().zip(row) {
                        *g += v * scale;
                    }
                }
            }
            for g in g.iter_mut() {
                *g = (*g + noise.sample(rng)) / expected;
            }
            proximal(&w, &mut g);
            for (w, g) in w.iter_mut().zip(&g) {
                *w -= lr * g;
            }
        }
        Some(DpSpend {
            sample_rate: q,
            noise_multiplier: dp.noise_multiplier as f64,
            steps,
        })
    } else {
        let mut order: Vec<usize> = (0..n).collect();
        for _ in 0..config.epochs {
            order.shuffle(rng);
            let (mut loss_sum, mut batches) = (0.0f32, 0usize);
            for batch in order.chunks(config.batch_size) {
                let xs = x.select(Axis(0), batch);
                let ys = y.select(Axis(0), batch);
                let (loss, mut g) = model.loss_and_gradient(&w, xs.view(), ys.view())?;
                proximal(&w, &mut g);
                for (w, g) in w.iter_mut().zip(&g) {
                    *w -= lr * g;
                }
                loss_sum += loss;
                batches += 1;
            }
            last_loss = Some(loss_sum / batches.max(1) as f32);
        }
        None
    };
    let delta = w.iter().zip(global).map(|(a, b)| a - b).collect();
    Ok(LocalUpdate {
        delta,
        num_examples: n as u64,
        train_loss: last_loss,
        dp_spend,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    fn separable(n: usize) -> (Array2<f32>, Array1<f32>) {
        let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(1);
        let x = Array2::from_shape_fn((n, 2), |_| rng.random_range(-1.0f32..1.0));
        let y = x
            .rows()
            .into_iter()
            .map(|r| if r[0] + 0.5 * r[1] > 0.0 { 1.0 } else { 0.0 })
            .collect();
        (x, y)
    }

    #[test]
    fn sgd_lowers_the_loss_and_the_proximal_term_keeps_the_update_small() {
        let (x, y) = separable(400);
        let model = Model::Logistic { inputs: 2 };
        let global = model.init(0);
        let before = model
            .loss_and_gradient(&global, x.view(), y.view())
            .expect("fits")
            .0;
        let config = TrainConfig {
            epochs: 5,
            ..Default::default()
        };
        let plain = train(
            &model,
            &global,
            x.view(),
            y.view(),
            &config,
            Randomness::Seeded(9),
        )
        .expect("trains");
        let after: Vec<f32> = global
            .iter()
            .zip(&plain.delta)
            .map(|(a, b)| a + b)
            .collect();
        let loss = model
            .loss_and_gradient(&after, x.view(), y.view())
            .expect("fits")
            .0;
        assert!(loss < before * 0.6, "loss {before} → {loss}");
        assert_eq!(plain.num_examples, 400);

        let prox = TrainConfig {
            proximal_mu: 1.0,
            ..config
        };
        let held = train(
            &model,
            &global,
            x.view(),
            y.view(),
            &prox,
            Randomness::Seeded(9),
        )
        .expect("trains");
        let norm = |d: &[f32]| d.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!(norm(&held.delta) < norm(&plain.delta) * 0.9);
    }

    #[test]
    fn dp_sgd_reports_its_spend_and_still_learns_with_little_noise() {
        let (x, y) = separable(1000);
        let model = Model::Logistic { inputs: 2 };
        let global = model.init(0);
        let config = TrainConfig {
            epochs: 3,
            batch_size: 50,
            dp: Some(DpSgd {
                clip_norm: 1.0,
                noise_multiplier: 0.5,
            }),
            ..Default::default()
        };
        let update = train(
            &model,
            &global,
            x.view(),
            y.view(),
            &config,
            Randomness::Seeded(3),
        )
        .expect("trains");
        assert_eq!(
            update.train_loss, None,
            "the loss of private records is not sent"
        );
        let again = train(
            &model,
            &global,
            x.view(),
            y.view(),
            &config,
            Randomness::Seeded(3),
        )
        .expect("trains");
        assert_eq!(again.delta, update.delta, "a seeded run is reproducible");
        let [a, b] = [0, 1].map(|_| {
            train(&model, &global, x.view(), y.view(), &config, Randomness::Os).expect("trains")
        });
        assert_ne!(
            a.delta, b.delta,
            "OS randomness draws fresh noise every run"
        );
        let spend = update.dp_spend.expect("dp on");
        assert_eq!(spend.steps, 60);
        assert!((spend.sample_rate - 0.05).abs() < 1e-12);
        let after: Vec<f32> = global
            .iter()
            .zip(&update.delta)
            .map(|(a, b)| a + b)
            .collect();
        let p = model.predict(&after, x.view()).expect("fits");
        let auc = crate::metrics::roc_auc(
            p.as_slice().expect("contiguous"),
            y.as_slice().expect("contiguous"),
        );
        assert!(auc.expect("both classes") > 0.9);
    }

    #[test]
    fn bad_configs_are_errors() {
        let (x, y) = separable(10);
        let model = Model::Logistic { inputs: 2 };
        let bad = TrainConfig {
            batch_size: 0,
            ..Default::default()
        };
        assert!(
            train(
                &model,
                &[0.0; 3],
                x.view(),
                y.view(),
                &bad,
                Randomness::Seeded(0)
            )
            .is_err()
        );
        assert!(
            train(
                &model,
                &[0.0; 4],
                x.view(),
                y.view(),
                &TrainConfig::default(),
                Randomness::Seeded(0)
            )
            .is_err()
        );
    }
}
