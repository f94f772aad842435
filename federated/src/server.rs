//! The federation's server: the global model, its rounds (quorum and deadline), site-level
//! DP-FedAvg, per-tenant privacy budgets for DP-SGD, and a checkpoint after every round.
//!
//! A round opens when a site asks for work ([`FederatedServer::ticket`]) and closes when every
//! registered site that may train has sent its update, or at the deadline. At the deadline a
//! round with at least `quorum` updates is aggregated; one with fewer fails with
//! [`Error::QuorumNotReached`] and the next ticket opens a fresh attempt at the same round
//! number. Time comes in as `now_ms` (ms since the Unix epoch), so callers choose the clock:
//! the API passes the wall clock, [`FederatedServer::collect`] waits on a channel with the
//! deadline as its timeout and so never hangs.
//!
//! DP-FedAvg (site-level): McMahan et al. 2018, "Learning Differentially Private Recurrent
//! Language Models" (ICLR): each update is clipped to L2 norm `S`, the clipped updates are
//! averaged with equal weights over the `m` participants and `N(0, (z·S/m)²)` is added to each
//! coordinate. Every site takes part in every round (sampling rate 1, no amplification), so
//! each round composes one Gaussian mechanism of multiplier `z` into the federation's
//! accountant, and a round that would exceed its budget is refused before anyone trains.
//!
//! Record-level DP-SGD (client side): the server knows each site's record count, so it
//! computes the spend of the round's training plan ([`crate::client::DpSpend`]) and refuses a
//! ticket to a tenant whose budget it would exceed; the site's own accountant should do the
//! same, since a hospital need not trust the server.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use chacha20::ChaCha20Rng;
use ndarray::Array2;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::accountant::{PrivacyBudget, PrivacyError, RdpAccountant};
use crate::aggregate::Aggregator;
use crate::client::{DpSpend, LocalUpdate, TrainConfig};
use crate::model::Model;
use crate::optimizer::{OptimizerState, ServerOptimizer};
use crate::{Error, Randomness, Result};

mod secure;
pub use secure::{SecurePhase, SecureTicket};

/// Site-level differential privacy of the aggregate (DP-FedAvg; McMahan et al. 2018,
/// "Learning Differentially Private Recurrent Language Models", ICLR).
///
/// Each update is clipped to L2 norm `S`; the sum of the clipped updates gets `N(0, (z·S)²)`
/// per coordinate and is divided by `W`, the number of sites registered when the round
/// opened — a fixed, public denominator (the fixed-denominator estimator of McMahan et al.
/// and TensorFlow Federated), so one site more or less changes the released value by at most
/// `S/W`. The accountant charges one Gaussian mechanism of noise multiplier `z` per round
/// (sampling rate 1, add/remove-one-site adjacency). Needs the mean aggregator: robust rules
/// have other sensitivities.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CentralDp {
    /// L2 bound `S` on each site's update.
    pub clip_norm: f32,
    /// Noise multiplier `z`: the sum of clipped updates gets `N(0, (z·S)²)` per coordinate.
    pub noise_multiplier: f32,
    /// The federation's budget.
    pub budget: PrivacyBudget,
}

/// How the federation runs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// The model every site trains.
    pub model: Model,
    /// How updates are combined.
    pub aggregator: Aggregator,
    /// How the combined update moves the model.
    pub optimizer: ServerOptimizer,
    /// Local training plan sent with the model.
    pub train: TrainConfig,
    /// Fewest updates a round needs.
    pub quorum: usize,
    /// Time a round stays open, ms.
    pub round_deadline_ms: u64,
    /// Site-level DP on the aggregate, if any.
    pub central_dp: Option<CentralDp>,
    /// Each tenant's budget for record-level DP-SGD (used when `train.dp` is set).
    pub tenant_budget: Option<PrivacyBudget>,
    /// Seed of the model's initialisation (public: it only fixes the starting point). The
    /// server's DP noise comes from the OS ([`FederatedServer::with_randomness`]).
    pub seed: u64,
    /// Aggregate through secure aggregation ([`crate::secagg`]): the server learns only the
    /// sum. Needs the mean aggregator and no server-side DP noise.
    pub secure_aggregation: Option<SecureAggregation>,
    /// Most records a site's update may weigh in the mean. Record counts are the sites' own
    /// claims: without a cap, a site that claims millions steers FedAvg alone.
    pub max_site_weight: Option<u64>,
}

/// Secure aggregation's fixed point: each site sends `weight × update`, every entry clamped to
/// `[−clip, clip]` and rounded to `1/scale`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SecureAggregation {
    /// Fixed-point steps per unit (2²⁰ resolves about 1e-6).
    pub scale: f32,
    /// Clamp of each weighted entry.
    pub clip: f32,
}

impl Default for SecureAggregation {
    fn default() -> Self {
        SecureAggregation {
            scale: 1_048_576.0,
            clip: 8.0,
        }
    }
}

impl Default for ServerConfig {
    /// FedAvg of a logistic regression on the no-show features ([`crate::noshow::FEATURES`]),
    /// one local epoch of batch-32 SGD at step 0.5, quorum 2, 10-minute rounds, no DP.
    fn default() -> Self {
        ServerConfig {
            model: Model::Logistic {
                inputs: crate::noshow::FEATURES.len(),
            },
            aggregator: Aggregator::Mean,
            optimizer: ServerOptimizer::FEDAVG,
            train: TrainConfig::default(),
            quorum: 2,
            round_deadline_ms: 600_000,
            central_dp: None,
            tenant_budget: None,
            seed: 7,
            secure_aggregation: None,
            max_site_weight: None,
        }
    }
}

/// A site's standing with the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SiteState {
    /// Training records the site declared.
    pub num_examples: u64,
    /// Record-level privacy spent by the site's DP-SGD rounds.
    pub accountant: RdpAccountant,
    /// Rounds the site's update was aggregated in.
    pub rounds_joined: u64,
}

/// How a round ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRecord {
    /// Round number (from 1).
    pub round: u64,
    /// Sites whose update was aggregated (empty for a failed round).
    pub participants: Vec<String>,
    /// `None` for a completed round, else why it failed.
    pub failure: Option<String>,
    /// ms between opening and closing.
    pub elapsed_ms: u64,
    /// Federation ε after the round (DP-FedAvg only).
    pub epsilon: Option<f64>,
}

/// Everything a restarted server needs (written after every round).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServerState {
    /// The configuration the federation started with.
    pub config: ServerConfig,
    /// Global model parameters.
    pub params: Vec<f32>,
    /// Rounds completed.
    pub round: u64,
    /// Server optimiser's moments.
    pub optimizer: OptimizerState,
    /// Registered sites by tenant id.
    pub sites: BTreeMap<String, SiteState>,
    /// Site-level privacy spent by DP-FedAvg.
    pub central: RdpAccountant,
    /// Every round's outcome, oldest first.
    pub history: Vec<RoundRecord>,
}

/// What a site gets when it asks for work.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Ticket {
    /// The round the update must name.
    pub round: u64,
    /// Global parameters to start from.
    pub params: Vec<f32>,
    /// The model.
    pub model: Model,
    /// Local training plan.
    pub train: TrainConfig,
    /// Clip the update to this L2 norm before sending (DP-FedAvg or secure aggregation).
    pub clip_norm: Option<f32>,
    /// When the round closes, ms since the Unix epoch.
    pub deadline_ms: i64,
    /// This site's place in the round's secure aggregation, when it is on.
    pub secure: Option<SecureTicket>,
}

/// The state of the current round, for status endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundStatus {
    /// Rounds completed.
    pub completed_rounds: u64,
    /// The open round, if any.
    pub open_round: Option<u64>,
    /// Sites that sent an update to the open round.
    pub received: Vec<String>,
    /// Updates needed.
    pub quorum: usize,
    /// Deadline of the open round, ms since the Unix epoch.
    pub deadline_ms: Option<i64>,
    /// Registered sites.
    pub sites: usize,
    /// The last finished round.
    pub last: Option<RoundRecord>,
    /// Stage of the open round's secure aggregation, when it is on.
    pub secure_phase: Option<SecurePhase>,
}

#[derive(Debug)]
struct OpenRound {
    round: u64,
    opened_ms: i64,
    deadline_ms: i64,
    /// Sites registered when the round opened (DP-FedAvg's fixed denominator).
    invited: usize,
    updates: BTreeMap<String, LocalUpdate>,
    secure: Option<secure::SecureRound>,
}

/// The federation's server. Not thread-safe by itself: wrap it in a mutex to share.
#[derive(Debug)]
pub struct FederatedServer {
    state: ServerState,
    checkpoint: Option<PathBuf>,
    open: Option<OpenRound>,
    noise: NoiseRng,
}

/// The generator of DP-FedAvg's noise (not checkpointed: a restarted server draws afresh).
struct NoiseRng(ChaCha20Rng);

impl std::fmt::Debug for NoiseRng {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NoiseRng")
    }
}

impl NoiseRng {
    fn new(randomness: Randomness) -> Self {
        NoiseRng(match randomness {
            Randomness::Os => rand::make_rng(),
            Randomness::Seeded(seed) => ChaCha20Rng::seed_from_u64(seed),
        })
    }
}

impl FederatedServer {
    /// A new federation, or the one checkpointed at `checkpoint` if that file exists.
    ///
    /// # Errors
    /// [`Error::Config`] for a zero quorum or a checkpoint of another model;
    /// [`Error::Io`]/[`Error::Data`] when the checkpoint can't be read or parsed.
    pub fn open(config: ServerConfig, checkpoint: Option<&Path>) -> Result<Self> {
        if config.quorum == 0 {
            return Err(Error::Config("a round's quorum must be at least 1".into()));
        }
        if config.secure_aggregation.is_some()
            && (config.aggregator != Aggregator::Mean || config.central_dp.is_some())
        {
            return Err(Error::Config(
                "secure aggregation releases only a sum: use the mean aggregator without server-side DP".into(),
            ));
        }
        if config.central_dp.is_some() && config.aggregator != Aggregator::Mean {
            return Err(Error::Config(
                "DP-FedAvg's noise is calibrated to the mean of clipped updates: use the mean aggregator".into(),
            ));
        }
        if let Aggregator::MultiKrum { byzantine, select } = config.aggregator
            && (config.quorum <= 2 * byzantine + 2
                || select == 0
                || select + byzantine > config.quorum)
        {
            return Err(Error::Config(format!(
                "Multi-Krum with f = {byzantine} needs a quorum above 2f + 2 = {} and 1 ≤ select ≤ quorum − f (quorum {}, select {select})",
                2 * byzantine + 2,
                config.quorum
            )));
        }
        if let Some(path) = checkpoint
            && path.exists()
        {
            let bytes =
                std::fs::read(path).map_err(|e| Error::Io(path.display().to_string(), e))?;
            let state: ServerState = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Data(format!("checkpoint {}: {e}", path.display())))?;
            if state.config.model != config.model {
                return Err(Error::Config(format!(
                    "checkpoint {} holds {:?}, not {:?}",
                    path.display(),
                    state.config.model,
                    config.model
                )));
            }
            return Ok(FederatedServer {
                state,
                checkpoint: Some(path.to_path_buf()),
                open: None,
                noise: NoiseRng::new(Randomness::Os),
            });
        }
        let params = config.model.init(config.seed);
        let state = ServerState {
            config,
            params,
            round: 0,
            optimizer: OptimizerState::default(),
            sites: BTreeMap::new(),
            central: RdpAccountant::default(),
            history: Vec::new(),
        };
        let server = FederatedServer {
            state,
            checkpoint: checkpoint.map(Path::to_path_buf),
            open: None,
            noise: NoiseRng::new(Randomness::Os),
        };
        server.save()?;
        Ok(server)
    }

    /// Draw DP-FedAvg's noise from `randomness` instead of the OS: [`Randomness::Seeded`] makes
    /// a simulation reproducible, and its noise provides no privacy.
    #[must_use]
    pub fn with_randomness(mut self, randomness: Randomness) -> Self {
        self.noise = NoiseRng::new(randomness);
        self
    }

    /// The weight of `site`'s update in the mean: its registered record count, capped at
    /// [`ServerConfig::max_site_weight`].
    fn weight(&self, site: &SiteState) -> u64 {
        self.state
            .config
            .max_site_weight
            .map_or(site.num_examples, |cap| site.num_examples.min(cap))
    }

    /// The whole state (model, round, moments, privacy spent).
    pub fn state(&self) -> &ServerState {
        &self.state
    }

    /// The global parameters.
    pub fn params(&self) -> &[f32] {
        &self.state.params
    }

    /// Register a site (tenant) with its record count; registering again updates the count.
    ///
    /// # Errors
    /// [`Error::Refused`] for an empty site id or zero records, or a 256th site when secure
    /// aggregation is on (its Shamir field numbers at most 255 sites).
    pub fn register(&mut self, site: &str, num_examples: u64) -> Result<()> {
        if site.is_empty() || num_examples == 0 {
            return Err(Error::Refused(
                "a site needs an id and at least one record".into(),
            ));
        }
        if self.state.config.secure_aggregation.is_some()
            && !self.state.sites.contains_key(site)
            && self.state.sites.len() >= 255
        {
            return Err(Error::Refused(
                "secure aggregation takes at most 255 sites, and 255 are registered".into(),
            ));
        }
        let entry = self
            .state
            .sites
            .entry(site.to_string())
            .or_insert_with(|| SiteState {
                num_examples,
                accountant: RdpAccountant::default(),
                rounds_joined: 0,
            });
        entry.num_examples = num_examples;
        self.save()
    }

    /// The DP-SGD spend of this round's training plan at `site`, if DP-SGD is on.
    fn planned_spend(&self, site: &SiteState) -> Option<DpSpend> {
        let dp = self.state.config.train.dp?;
        let n = site.num_examples.max(1) as usize;
        let b = self.state.config.train.batch_size.max(1);
        Some(DpSpend {
            sample_rate: (b as f64 / n as f64).min(1.0),
            noise_multiplier: dp.noise_multiplier as f64,
            steps: (self.state.config.train.epochs * n.div_ceil(b)) as u64,
        })
    }

    /// Work for `site`: the open round (opened now if none is), the global model and the
    /// training plan.
    ///
    /// # Errors
    /// [`Error::Refused`] for an unregistered site or one that already sent this round's
    /// update; [`Error::Privacy`] (`BudgetExceeded`) when the round would exceed the site's
    /// DP-SGD budget or the federation's DP-FedAvg budget.
    pub fn ticket(&mut self, site: &str, now_ms: i64) -> Result<Ticket> {
        let standing = self
            .state
            .sites
            .get(site)
            .ok_or_else(|| Error::Refused(format!("site {site:?} is not registered")))?;
        if let (Some(spend), Some(budget)) = (
            self.planned_spend(standing),
            self.state.config.tenant_budget,
        ) {
            let after = standing.accountant.epsilon_after(
                spend.sample_rate,
                spend.noise_multiplier,
                spend.steps,
                budget.delta,
            )?;
            if after > budget.epsilon {
                return Err(PrivacyError::BudgetExceeded {
                    spent_epsilon: standing.accountant.epsilon(budget.delta)?,
                    would_be_epsilon: after,
                    budget_epsilon: budget.epsilon,
                    delta: budget.delta,
                }
                .into());
            }
        }
        if let Some(dp) = self.state.config.central_dp {
            let after = self.state.central.epsilon_after(
                1.0,
                dp.noise_multiplier as f64,
                1,
                dp.budget.delta,
            )?;
            if after > dp.budget.epsilon {
                return Err(PrivacyError::BudgetExceeded {
                    spent_epsilon: self.state.central.epsilon(dp.budget.delta)?,
                    would_be_epsilon: after,
                    budget_epsilon: dp.budget.epsilon,
                    delta: dp.budget.delta,
                }
                .into());
            }
        }
        self.open_round(now_ms)?;
        let Some(open) = self.open.as_ref() else {
            return Err(Error::Refused("no round could be opened".into()));
        };
        if open.updates.contains_key(site) {
            return Err(Error::Refused(format!(
                "site {site:?} already sent round {}",
                open.round
            )));
        }
        let secure = match &open.secure {
            Some(s) => Some(s.ticket(site, open.round)?),
            None => None,
        };
        Ok(Ticket {
            round: open.round,
            params: self.state.params.clone(),
            model: self.state.config.model,
            train: self.state.config.train,
            clip_norm: self.state.config.central_dp.map(|dp| dp.clip_norm),
            deadline_ms: open.deadline_ms,
            secure,
        })
    }

    fn open_round(&mut self, now_ms: i64) -> Result<()> {
        if self.open.is_some() {
            return Ok(());
        }
        let deadline_ms = now_ms.saturating_add(self.state.config.round_deadline_ms as i64);
        let secure = match self.state.config.secure_aggregation {
            Some(fixed) => {
                let weights: Vec<(String, u64)> = self
                    .state
                    .sites
                    .iter()
                    .map(|(name, site)| (name.clone(), self.weight(site)))
                    .collect();
                Some(secure::SecureRound::new(
                    &weights,
                    self.state.config.quorum,
                    self.state.params.len(),
                    fixed,
                    now_ms,
                    deadline_ms,
                )?)
            }
            None => None,
        };
        self.open = Some(OpenRound {
            round: self.state.round + 1,
            opened_ms: now_ms,
            deadline_ms,
            invited: self.state.sites.len(),
            updates: BTreeMap::new(),
            secure,
        });
        Ok(())
    }

    /// Accept `site`'s update to `round`. Returns the finished round when this update was the
    /// last one expected. Under DP-SGD the site's accountant is charged the round's plan (the
    /// server's figure, never the client's claim) as soon as the update is accepted: the
    /// server has seen it, whatever becomes of the round.
    ///
    /// # Errors
    /// [`Error::Refused`] when no round is open, the round number is not the open one, the
    /// deadline has passed, the site is unknown or already sent, the update has the wrong
    /// length, a non-finite entry, or no records; errors of [`poll`](Self::poll) when the
    /// round closes.
    pub fn submit(
        &mut self,
        site: &str,
        round: u64,
        update: LocalUpdate,
        now_ms: i64,
    ) -> Result<Option<RoundRecord>> {
        let p = self.state.params.len();
        if !self.state.sites.contains_key(site) {
            return Err(Error::Refused(format!("site {site:?} is not registered")));
        }
        let Some(open) = self.open.as_mut() else {
            return Err(Error::Refused(
                "no round is open: ask for a ticket first".into(),
            ));
        };
        if open.secure.is_some() {
            return Err(Error::Refused(
                "this federation aggregates securely: send masked input, not a plain update".into(),
            ));
        }
        if round != open.round {
            return Err(Error::Refused(format!(
                "round {round} is not the open round {}",
                open.round
            )));
        }
        if now_ms > open.deadline_ms {
            return Err(Error::Refused(format!(
                "round {round} closed at its deadline"
            )));
        }
        if open.updates.contains_key(site) {
            return Err(Error::Refused(format!(
                "site {site:?} already sent round {round}"
            )));
        }
        if update.delta.len() != p {
            return Err(Error::Refused(format!(
                "update has {} entries, the model {p}",
                update.delta.len()
            )));
        }
        if update.delta.iter().any(|v| !v.is_finite()) {
            return Err(Error::Refused("update has a non-finite entry".into()));
        }
        if update.num_examples == 0 {
            return Err(Error::Refused("update from zero records".into()));
        }
        let mut update = update;
        update.dp_spend = self.charge_dp_sgd(site)?;
        let Some(open) = self.open.as_mut() else {
            return Err(Error::Refused("no round is open".into()));
        };
        open.updates.insert(site.to_string(), update);
        self.poll(now_ms)
    }

    /// Charges `site`'s accountant this round's DP-SGD plan (if DP-SGD is on) and checkpoints.
    fn charge_dp_sgd(&mut self, site: &str) -> Result<Option<DpSpend>> {
        let spend = self
            .state
            .sites
            .get(site)
            .and_then(|s| self.planned_spend(s));
        if let (Some(spend), Some(state)) = (spend, self.state.sites.get_mut(site)) {
            state
                .accountant
                .compose(spend.sample_rate, spend.noise_multiplier, spend.steps)?;
            self.save()?;
        }
        Ok(spend)
    }

    /// Close the open round if every site has sent, or if its deadline has passed.
    ///
    /// # Errors
    /// [`Error::QuorumNotReached`] when the deadline passed with fewer than `quorum` updates
    /// (the attempt is recorded and dropped); aggregation, privacy and checkpoint errors.
    pub fn poll(&mut self, now_ms: i64) -> Result<Option<RoundRecord>> {
        let Some(open) = self.open.as_ref() else {
            return Ok(None);
        };
        if open.secure.is_some() {
            return self.poll_secure(now_ms);
        }
        let everyone = open.updates.len() >= self.state.sites.len();
        let past = now_ms >= open.deadline_ms;
        if !everyone && !past {
            return Ok(None);
        }
        let Some(open) = self.open.take() else {
            return Ok(None);
        };
        let elapsed_ms = (now_ms - open.opened_ms).max(0) as u64;
        let quorum = self.state.config.quorum;
        if open.updates.len() < quorum {
            let error = Error::QuorumNotReached {
                round: open.round,
                received: open.updates.len(),
                quorum,
                deadline_ms: self.state.config.round_deadline_ms,
            };
            self.state.history.push(RoundRecord {
                round: open.round,
                participants: Vec::new(),
                failure: Some(error.to_string()),
                elapsed_ms,
                epsilon: None,
            });
            self.save()?;
            return Err(error);
        }
        let round = open.round;
        match self.aggregate(round, open.invited, open.updates, elapsed_ms) {
            Ok(record) => Ok(Some(record)),
            Err(error) => {
                // The model is unchanged; the round is recorded as failed and runs again.
                self.state.history.push(RoundRecord {
                    round,
                    participants: Vec::new(),
                    failure: Some(format!("aggregation failed: {error}")),
                    elapsed_ms,
                    epsilon: None,
                });
                self.save()?;
                Err(error)
            }
        }
    }

    /// Combines the round's updates and moves the model. Everything fallible happens on
    /// copies first: an error leaves the model, the moments and the privacy spent unchanged.
    fn aggregate(
        &mut self,
        round: u64,
        invited: usize,
        updates: BTreeMap<String, LocalUpdate>,
        elapsed_ms: u64,
    ) -> Result<RoundRecord> {
        let p = self.state.params.len();
        let n = updates.len();
        let mut matrix = Array2::<f32>::zeros((n, p));
        let mut weights = Vec::with_capacity(n);
        for (mut row, (site, update)) in matrix.outer_iter_mut().zip(&updates) {
            row.assign(&ndarray::ArrayView1::from(&update.delta[..]));
            let weight = self.state.sites.get(site).map_or(0, |s| self.weight(s));
            weights.push(weight as f64);
        }
        let mut epsilon = None;
        let mut central = self.state.central.clone();
        let delta = if let Some(dp) = self.state.config.central_dp {
            // Clip, sum, add N(0, (zS)²), divide by the fixed denominator W.
            for mut row in matrix.outer_iter_mut() {
                let norm = row.dot(&row).sqrt();
                if norm > dp.clip_norm {
                    row *= dp.clip_norm / norm;
                }
            }
            let denominator = invited.max(n) as f32;
            let mean = Aggregator::Mean.aggregate(matrix.view(), &vec![1.0; n])?;
            let noise = Normal::new(0.0f32, dp.noise_multiplier * dp.clip_norm)
                .map_err(|e| Error::Config(format!("DP noise: {e}")))?;
            let rng = &mut self.noise.0;
            let released: Vec<f32> = mean
                .iter()
                .map(|&m| (m * n as f32 + noise.sample(rng)) / denominator)
                .collect();
            central.compose(1.0, dp.noise_multiplier as f64, 1)?;
            epsilon = Some(central.epsilon(dp.budget.delta)?);
            released
        } else {
            self.state
                .config
                .aggregator
                .aggregate(matrix.view(), &weights)?
                .to_vec()
        };
        let mut params = self.state.params.clone();
        let mut moments = self.state.optimizer.clone();
        self.state
            .config
            .optimizer
            .step(&mut params, &delta, &mut moments)?;
        self.state.params = params;
        self.state.optimizer = moments;
        self.state.central = central;
        for site in updates.keys() {
            if let Some(state) = self.state.sites.get_mut(site) {
                state.rounds_joined += 1;
            }
        }
        self.state.round = round;
        let record = RoundRecord {
            round,
            participants: updates.keys().cloned().collect(),
            failure: None,
            elapsed_ms,
            epsilon,
        };
        self.state.history.push(record.clone());
        self.save()?;
        Ok(record)
    }

    /// Finish the open round from a sum computed by secure aggregation: `weighted_sum` is
    /// `Σ n_k·Δ_k` over `participants` and `total_examples` is `Σ n_k`; the server never saw
    /// one `Δ_k`. Only the mean aggregator without DP-FedAvg noise on the server composes with
    /// this (robust rules need the individual updates).
    ///
    /// # Errors
    /// [`Error::Config`] for another aggregator; [`Error::Refused`] when `round` is not open or
    /// fewer than `quorum` participants; shape errors.
    pub fn finish_with_sum(
        &mut self,
        round: u64,
        participants: &[String],
        weighted_sum: &[f32],
        total_examples: f64,
        now_ms: i64,
    ) -> Result<RoundRecord> {
        if self.state.config.aggregator != Aggregator::Mean
            || self.state.config.central_dp.is_some()
        {
            return Err(Error::Config(
                "secure aggregation releases only a sum: use the mean aggregator without server-side DP".into(),
            ));
        }
        let open = self
            .open
            .take()
            .ok_or_else(|| Error::Refused("no round is open".into()))?;
        if open.round != round
            || participants.len() < self.state.config.quorum
            || total_examples <= 0.0
        {
            let got = participants.len();
            let quorum = self.state.config.quorum;
            self.open = Some(open);
            return Err(Error::Refused(format!(
                "round {round}: not the open round, or {got} participants below the quorum of {quorum}"
            )));
        }
        let delta: Vec<f32> = weighted_sum
            .iter()
            .map(|v| (*v as f64 / total_examples) as f32)
            .collect();
        let elapsed_ms = (now_ms - open.opened_ms).max(0) as u64;
        self.complete_with_delta(round, participants, &delta, elapsed_ms)
    }

    /// Applies an aggregated update as round `round`'s outcome and checkpoints.
    fn complete_with_delta(
        &mut self,
        round: u64,
        participants: &[String],
        delta: &[f32],
        elapsed_ms: u64,
    ) -> Result<RoundRecord> {
        if delta.len() != self.state.params.len() {
            return Err(Error::Shape(format!(
                "aggregate has {} entries, the model {}",
                delta.len(),
                self.state.params.len()
            )));
        }
        let optimizer = self.state.config.optimizer;
        optimizer.step(&mut self.state.params, delta, &mut self.state.optimizer)?;
        for site in participants {
            if let Some(state) = self.state.sites.get_mut(site) {
                state.rounds_joined += 1;
            }
        }
        self.state.round = round;
        let record = RoundRecord {
            round,
            participants: participants.to_vec(),
            failure: None,
            elapsed_ms,
            epsilon: None,
        };
        self.state.history.push(record.clone());
        self.save()?;
        Ok(record)
    }

    /// Wait for updates on `inbox` — `(site, round, update)` — until the open round closes,
    /// never past its deadline (the channel's timeout is the time left). Updates that are
    /// refused are skipped, with their error in the returned list.
    ///
    /// # Errors
    /// As [`poll`](Self::poll): the round fails by its deadline when the quorum isn't met.
    pub fn collect(
        &mut self,
        inbox: &Receiver<(String, u64, LocalUpdate)>,
        clock: &dyn Fn() -> i64,
    ) -> Result<(RoundRecord, Vec<Error>)> {
        let mut refused = Vec::new();
        loop {
            if let Some(record) = self.poll(clock())? {
                return Ok((record, refused));
            }
            let Some(open) = self.open.as_ref() else {
                return Err(Error::Refused(
                    "no round is open: ask for a ticket first".into(),
                ));
            };
            let left = (open.deadline_ms - clock()).max(0) as u64;
            match inbox.recv_timeout(Duration::from_millis(left)) {
                Ok((site, round, update)) => match self.submit(&site, round, update, clock()) {
                    Ok(Some(record)) => return Ok((record, refused)),
                    Ok(None) => {}
                    Err(e @ Error::Refused(_)) => refused.push(e),
                    Err(e) => return Err(e),
                },
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Nobody can send any more: the round ends at its deadline.
                    let left = (self.open.as_ref().map_or(0, |o| o.deadline_ms) - clock()).max(0);
                    std::thread::sleep(Duration::from_millis(left as u64));
                }
            }
        }
    }

    /// Where the federation stands.
    pub fn status(&self) -> RoundStatus {
        RoundStatus {
            completed_rounds: self.state.round,
            open_round: self.open.as_ref().map(|o| o.round),
            received: self
                .open
                .as_ref()
                .map(|o| o.updates.keys().cloned().collect())
                .unwrap_or_default(),
            quorum: self.state.config.quorum,
            deadline_ms: self.open.as_ref().map(|o| o.deadline_ms),
            sites: self.state.sites.len(),
            last: self.state.history.last().cloned(),
            secure_phase: self
                .open
                .as_ref()
                .and_then(|o| o.secure.as_ref())
                .map(|s| s.phase),
        }
    }

    /// Sites that have not sent the open round's update.
    pub fn waiting_for(&self) -> BTreeSet<String> {
        let received: BTreeSet<&String> = self.open.iter().flat_map(|o| o.updates.keys()).collect();
        self.state
            .sites
            .keys()
            .filter(|s| !received.contains(s))
            .cloned()
            .collect()
    }

    /// Write the state to the checkpoint file atomically (temporary file, fsync, rename).
    fn save(&self) -> Result<()> {
        let Some(path) = &self.checkpoint else {
            return Ok(());
        };
        let io = |e| Error::Io(path.display().to_string(), e);
        let bytes =
            serde_json::to_vec(&self.state).map_err(|e| Error::Data(format!("checkpoint: {e}")))?;
        let tmp = path.with_extension("tmp");
        {
            use std::io::Write;
            let mut file = std::fs::File::create(&tmp).map_err(io)?;
            file.write_all(&bytes).map_err(io)?;
            file.sync_all().map_err(io)?;
        }
        std::fs::rename(&tmp, path).map_err(io)?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io)?;
        }
        Ok(())
    }
}
