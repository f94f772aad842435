//! Federated training simulated in one process over split data, next to the two baselines a
//! federation must beat or match: centralised training on the pooled records (what no
//! hospital may do) and local-only training (what each does alone).
//!
//! Every round: each site takes a [`Ticket`](crate::server::Ticket) from a real
//! [`FederatedServer`], trains with [`crate::client::train`] (sites in parallel), optionally
//! poisons its update (the `poisoned` share of sites, chosen by seed), and the server
//! aggregates — through secure aggregation when it is on. After each round the global model is
//! scored on the held-out split (ROC AUC, log-loss).

use std::collections::BTreeMap;

use ndarray::Axis;
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::aggregate::Aggregator;
use crate::client::{self, LocalUpdate, TrainConfig};
use crate::metrics;
use crate::model::Model;
use crate::noshow::{Dataset, NoShowData};
use crate::optimizer::ServerOptimizer;
use crate::secagg;
use crate::server::{CentralDp, FederatedServer, ServerConfig};
use crate::{Error, Randomness, Result};

/// The federated algorithm: client objective and server optimiser.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Strategy {
    /// FedAvg: plain local SGD, server adds the mean update.
    FedAvg,
    /// FedProx with proximal weight `mu`.
    FedProx {
        /// `μ`.
        mu: f32,
    },
    /// FedAdam with server learning rate `lr`.
    FedAdam {
        /// Server η.
        lr: f32,
    },
    /// FedYogi with server learning rate `lr`.
    FedYogi {
        /// Server η.
        lr: f32,
    },
}

impl Strategy {
    /// Parses `fedavg`, `fedprox`, `fedadam`, `fedyogi` (defaults μ = 0.01, η = 0.05).
    ///
    /// # Errors
    /// [`Error::Config`] naming the accepted values.
    pub fn parse(name: &str) -> Result<Self> {
        match name.to_ascii_lowercase().as_str() {
            "fedavg" => Ok(Strategy::FedAvg),
            "fedprox" => Ok(Strategy::FedProx { mu: 0.01 }),
            "fedadam" => Ok(Strategy::FedAdam { lr: 0.05 }),
            "fedyogi" => Ok(Strategy::FedYogi { lr: 0.05 }),
            other => Err(Error::Config(format!(
                "unknown strategy {other:?}: use fedavg, fedprox, fedadam or fedyogi"
            ))),
        }
    }

    fn optimizer(self) -> ServerOptimizer {
        match self {
            Strategy::FedAvg | Strategy::FedProx { .. } => ServerOptimizer::FEDAVG,
            Strategy::FedAdam { lr } => ServerOptimizer::adam(lr),
            Strategy::FedYogi { lr } => ServerOptimizer::yogi(lr),
        }
    }

    fn mu(self) -> f32 {
        match self {
            Strategy::FedProx { mu } => mu,
            _ => 0.0,
        }
    }
}

/// What a poisoned site sends instead of its honest update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Attack {
    /// `−scale ×` the honest update (a model-replacement push the other way).
    SignFlip {
        /// Scale of the flipped update.
        scale: f32,
    },
}

/// A simulation's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationConfig {
    /// Model trained everywhere.
    pub model: Model,
    /// Federated algorithm.
    pub strategy: Strategy,
    /// Server aggregation rule.
    pub aggregator: Aggregator,
    /// Federated rounds.
    pub rounds: usize,
    /// Local training per round (FedProx's μ comes from the strategy).
    pub train: TrainConfig,
    /// Share of sites that are poisoned, `[0, 1)`.
    pub poisoned: f64,
    /// What poisoned sites send.
    pub attack: Attack,
    /// Aggregate through secure aggregation (mean aggregator only).
    pub secure_aggregation: bool,
    /// Share of sites that drop out of each round after sharing keys (secure aggregation).
    pub dropout: f64,
    /// Site-level DP-FedAvg, if any.
    pub central_dp: Option<CentralDp>,
    /// Seed of everything random.
    pub seed: u64,
    /// Also run the centralised and local-only baselines.
    pub baselines: bool,
}

impl Default for SimulationConfig {
    fn default() -> Self {
        SimulationConfig {
            model: Model::Logistic {
                inputs: crate::noshow::FEATURES.len(),
            },
            strategy: Strategy::FedAvg,
            aggregator: Aggregator::Mean,
            rounds: 50,
            train: TrainConfig::default(),
            poisoned: 0.0,
            attack: Attack::SignFlip { scale: 10.0 },
            secure_aggregation: false,
            dropout: 0.0,
            central_dp: None,
            seed: 7,
            baselines: true,
        }
    }
}

/// Held-out scores of one model (or one set of local models).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// ROC AUC on the held-out split (`NaN` if one class is missing).
    pub auc: f64,
    /// Mean log-loss on the held-out split.
    pub log_loss: f64,
}

/// One federated round's outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundMetrics {
    /// Round number (from 1).
    pub round: u64,
    /// Held-out scores of the global model after the round.
    pub evaluation: Evaluation,
    /// Sites aggregated.
    pub participants: usize,
    /// Federation ε after the round (DP-FedAvg).
    pub epsilon: Option<f64>,
    /// Wall time of the round, ms.
    pub elapsed_ms: u64,
}

/// A whole simulation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SimulationReport {
    /// Every round, in order.
    pub rounds: Vec<RoundMetrics>,
    /// Pooled training, as many epochs as the federation's rounds × local epochs, with a
    /// decaying step (trained to convergence).
    pub centralized: Option<Evaluation>,
    /// Each site's own model scored on its own held-out records, pooled.
    pub local_only: Option<Evaluation>,
    /// Sites with training records.
    pub sites: usize,
    /// Sites that were poisoned.
    pub poisoned_sites: usize,
    /// Training / held-out records.
    pub records: (usize, usize),
}

impl SimulationReport {
    /// The last round's scores.
    pub fn last(&self) -> Option<Evaluation> {
        self.rounds.last().map(|r| r.evaluation)
    }
}

/// Score `params` on `test`.
///
/// # Errors
/// Shape errors when the model doesn't fit the data.
pub fn evaluate(model: &Model, params: &[f32], test: &Dataset) -> Result<Evaluation> {
    let p = model.predict(params, test.features.view())?;
    let p = p.to_vec();
    let y = test.labels.to_vec();
    Ok(Evaluation {
        auc: metrics::roc_auc(&p, &y).unwrap_or(f64::NAN),
        log_loss: metrics::log_loss(&p, &y),
    })
}

/// Run the simulation; `on_round` sees each round as it ends (for progress output).
///
/// # Errors
/// [`Error::Data`] when no site has training records; configuration, training, privacy and
/// secure-aggregation errors.
pub fn run(
    data: &NoShowData,
    config: &SimulationConfig,
    on_round: &mut dyn FnMut(&RoundMetrics),
) -> Result<SimulationReport> {
    if !(0.0..1.0).contains(&config.poisoned) || !(0.0..1.0).contains(&config.dropout) {
        return Err(Error::Config(
            "poisoned and dropout shares must be in [0, 1)".into(),
        ));
    }
    let model = config.model;
    let train_config = TrainConfig {
        proximal_mu: config.strategy.mu(),
        ..config.train
    };
    // Sites with training records, and their rows.
    let mut rows: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (i, &s) in data.train.sites.iter().enumerate() {
        rows.entry(s).or_default().push(i);
    }
    if rows.is_empty() {
        return Err(Error::Data("no site has training records".into()));
    }
    let sites: Vec<(String, Dataset)> = rows
        .iter()
        .map(|(&s, r)| (site_name(data, s), data.train.select(r)))
        .collect();
    let mut rng = rand::rngs::Xoshiro256PlusPlus::seed_from_u64(config.seed);
    let mut order: Vec<usize> = (0..sites.len()).collect();
    order.shuffle(&mut rng);
    let poisoned_count = (config.poisoned * sites.len() as f64).floor() as usize;
    let poisoned: Vec<bool> = {
        let mut p = vec![false; sites.len()];
        for &k in &order[..poisoned_count] {
            p[k] = true;
        }
        p
    };

    let server_config = ServerConfig {
        model,
        aggregator: config.aggregator,
        optimizer: config.strategy.optimizer(),
        train: train_config,
        quorum: 1,
        round_deadline_ms: u64::MAX / 4,
        central_dp: config.central_dp,
        tenant_budget: None,
        seed: config.seed,
        secure_aggregation: None,
        max_site_weight: None,
    };
    // A simulation is reproducible: its DP noise is seeded, so it shows utility, not privacy.
    let mut server = FederatedServer::open(server_config, None)?
        .with_randomness(Randomness::Seeded(config.seed));
    for (name, site) in &sites {
        server.register(name, site.len() as u64)?;
    }
    let total_records: u64 = sites.iter().map(|(_, s)| s.len() as u64).sum();
    let clock = || 0i64;

    let mut report_rounds = Vec::with_capacity(config.rounds);
    for r in 0..config.rounds {
        let started = std::time::Instant::now();
        let tickets: Vec<_> = sites
            .iter()
            .map(|(name, _)| server.ticket(name, clock()))
            .collect::<Result<_>>()?;
        let round = tickets.first().map_or(0, |t| t.round);
        let global = server.params().to_vec();
        let updates: Vec<LocalUpdate> = sites
            .par_iter()
            .enumerate()
            .map(|(k, (_, site))| {
                let seed = config.seed ^ ((r as u64) << 32) ^ k as u64;
                let mut update = client::train(
                    &model,
                    &global,
                    site.features.view(),
                    site.labels.view(),
                    &train_config,
                    Randomness::Seeded(seed),
                )?;
                if poisoned[k] {
                    let Attack::SignFlip { scale } = config.attack;
                    update.delta.iter_mut().for_each(|v| *v *= -scale);
                }
                Ok(update)
            })
            .collect::<Result<_>>()?;
        let record = if config.secure_aggregation {
            let dropped: Vec<usize> = {
                let mut idx: Vec<usize> = (0..sites.len()).collect();
                idx.shuffle(&mut rng);
                idx.truncate((config.dropout * sites.len() as f64).floor() as usize);
                idx.sort_unstable();
                idx
            };
            let inputs: Vec<Vec<f32>> = updates
                .iter()
                .map(|u| {
                    let w = u.num_examples as f32 / total_records as f32;
                    u.delta.iter().map(|v| v * w).collect()
                })
                .collect();
            let sum = secure_sum(&inputs, &dropped, config.seed ^ round)?;
            let survivors: Vec<String> = (0..sites.len())
                .filter(|k| dropped.binary_search(k).is_err())
                .map(|k| sites[k].0.clone())
                .collect();
            let weight: f64 = (0..sites.len())
                .filter(|k| dropped.binary_search(k).is_err())
                .map(|k| updates[k].num_examples as f64 / total_records as f64)
                .sum();
            server.finish_with_sum(round, &survivors, &sum, weight, clock())?
        } else {
            let mut last = None;
            for ((name, _), update) in sites.iter().zip(updates) {
                if let Some(record) = server.submit(name, round, update, clock())? {
                    last = Some(record);
                }
            }
            last.ok_or_else(|| Error::Data("the round did not close with every update in".into()))?
        };
        let metrics = RoundMetrics {
            round: record.round,
            evaluation: evaluate(&model, server.params(), &data.test)?,
            participants: record.participants.len(),
            epsilon: record.epsilon,
            elapsed_ms: started.elapsed().as_millis() as u64,
        };
        on_round(&metrics);
        report_rounds.push(metrics);
    }

    let (centralized, local_only) = if config.baselines {
        let epochs = (config.train.epochs * config.rounds).max(1);
        let pooled = TrainConfig {
            proximal_mu: 0.0,
            ..config.train
        };
        let init = model.init(config.seed);
        let params =
            train_to_convergence(&model, &init, &data.train, &pooled, epochs, config.seed)?;
        let centralized = evaluate(&model, &params, &data.test)?;
        let local = local_only(data, &sites, &model, &pooled, epochs, config.seed)?;
        (Some(centralized), Some(local))
    } else {
        (None, None)
    };
    Ok(SimulationReport {
        rounds: report_rounds,
        centralized,
        local_only,
        sites: sites.len(),
        poisoned_sites: poisoned_count,
        records: (data.train.len(), data.test.len()),
    })
}

fn site_name(data: &NoShowData, site: u32) -> String {
    data.site_names
        .get(site as usize)
        .cloned()
        .unwrap_or_else(|| format!("site-{site}"))
}

/// Each site trains alone; each held-out record is scored by its own site's model (the
/// initial model where the site had no training records).
/// A baseline trained as well as SGD can: `epochs` passes with the step decaying as
/// `η / (1 + e)` (Robbins–Monro), so the model settles instead of ending on a noisy iterate
/// of a constant step — which would flatter the federation.
fn train_to_convergence(
    model: &Model,
    init: &[f32],
    data: &Dataset,
    config: &TrainConfig,
    epochs: usize,
    seed: u64,
) -> Result<Vec<f32>> {
    let mut params = init.to_vec();
    for e in 0..epochs {
        let step = TrainConfig {
            epochs: 1,
            learning_rate: config.learning_rate / (1.0 + e as f32),
            ..*config
        };
        let u = client::train(
            model,
            &params,
            data.features.view(),
            data.labels.view(),
            &step,
            Randomness::Seeded(seed ^ e as u64),
        )?;
        for (p, d) in params.iter_mut().zip(&u.delta) {
            *p += d;
        }
    }
    Ok(params)
}

fn local_only(
    data: &NoShowData,
    sites: &[(String, Dataset)],
    model: &Model,
    config: &TrainConfig,
    epochs: usize,
    seed: u64,
) -> Result<Evaluation> {
    let init = model.init(seed);
    let by_name: BTreeMap<&str, usize> = sites
        .iter()
        .enumerate()
        .map(|(k, (n, _))| (n.as_str(), k))
        .collect();
    let params: Vec<Vec<f32>> = sites
        .par_iter()
        .map(|(_, site)| train_to_convergence(model, &init, site, config, epochs, seed))
        .collect::<Result<_>>()?;
    let mut scores = vec![0.0f32; data.test.len()];
    for (i, (row, score)) in data
        .test
        .features
        .axis_iter(Axis(0))
        .zip(scores.iter_mut())
        .enumerate()
    {
        let name = site_name(data, data.test.sites[i]);
        let w = by_name.get(name.as_str()).map_or(&init, |&k| &params[k]);
        let x = row.insert_axis(Axis(0));
        *score = model.predict(w, x)?[0];
    }
    let y = data.test.labels.to_vec();
    Ok(Evaluation {
        auc: metrics::roc_auc(&scores, &y).unwrap_or(f64::NAN),
        log_loss: metrics::log_loss(&scores, &y),
    })
}

/// The sum over the sites not in `dropped` of `inputs`, through secure aggregation: the
/// fixed-point scale leaves room for every site at the clip (see [`secagg`]).
fn secure_sum(inputs: &[Vec<f32>], dropped: &[usize], seed: u64) -> Result<Vec<f32>> {
    let dim = inputs.first().map_or(0, Vec::len);
    let config = secagg::SecAggConfig::for_clients(inputs.len(), dim, SECAGG_SCALE, SECAGG_CLIP)?;
    Ok(secagg::aggregate_in_process(
        inputs, dropped, &config, seed,
    )?)
}

/// Fixed-point scale of secure aggregation: 2²⁰ steps per unit (resolution ≈ 1e-6).
pub const SECAGG_SCALE: f32 = 1_048_576.0;
/// Clip of each coordinate before quantisation (a site's weighted update entry).
pub const SECAGG_CLIP: f32 = 8.0;
