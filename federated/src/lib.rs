//! # wardstream-federated
//!
//! Federated learning across hospitals (tenants): each site trains on its own records and
//! only model updates leave it. The crate holds the whole logic, with no server or network:
//! the API crate carries it over HTTP, the binary simulates it over the real no-show data.
//!
//! - [`noshow`]: the Kaggle no-show appointments as feature rows, one site per neighbourhood.
//! - [`model`]: logistic regression and a one-hidden-layer MLP on flat `f32` parameters.
//! - [`client`]: local mini-batch SGD with the FedProx term and record-level DP-SGD.
//! - [`aggregate`]: FedAvg's weighted mean; coordinate-wise median, trimmed mean, Multi-Krum.
//! - [`optimizer`]: server optimisers FedAvg (SGD), FedAdam, FedYogi.
//! - [`accountant`]: Rényi-DP accountant of the sampled Gaussian mechanism, budgets.
//! - [`secagg`]: secure aggregation with pairwise masks and dropout recovery.
//! - [`server`]: rounds with quorum and deadline, DP-FedAvg, per-tenant budgets, checkpoints.
//! - [`simulation`]: federated vs centralised vs local-only training on split data.
//! - [`metrics`]: ROC AUC and log-loss.
//!
//! Invariants: every update has exactly `model.num_params()` finite entries before it reaches
//! an aggregator; a round never waits past its deadline; a checkpoint is written (atomically)
//! after every round before the round counts as done.
//!
//! ```
//! use ndarray::array;
//! use wardstream_federated::aggregate::Aggregator;
//!
//! // Two sites' updates, weighted by their record counts (1 and 3).
//! let updates = array![[1.0f32, 2.0], [3.0, 6.0]];
//! let mean = Aggregator::Mean.aggregate(updates.view(), &[1.0, 3.0]).unwrap();
//! assert_eq!(mean.to_vec(), vec![2.5, 5.0]);
//! ```

pub mod accountant;
pub mod aggregate;
pub mod client;
pub mod metrics;
pub mod model;
pub mod noshow;
pub mod optimizer;
pub mod secagg;
pub mod server;
pub mod simulation;

/// Where training's and the server's randomness comes from (batch order, DP-SGD's Poisson
/// samples, every draw of DP noise, secure aggregation's keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Randomness {
    /// A CSPRNG (ChaCha20) seeded from the operating system: what a real site and server
    /// use, so that nobody can regenerate the noise and subtract it.
    Os,
    /// A generator seeded from a number: reproducible simulations and tests. Anyone who knows
    /// the seed can regenerate the noise, so a seeded run gives no privacy at all.
    Seeded(u64),
}

/// Errors of the federated crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written (the user's path or the disk).
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    /// Input data is not what it should be (the user's data).
    #[error("bad data: {0}")]
    Data(String),
    /// A setting is out of range (the user's configuration).
    #[error("bad configuration: {0}")]
    Config(String),
    /// Vectors or matrices of the wrong shape (a caller's bug or a bad update).
    #[error("shape mismatch: {0}")]
    Shape(String),
    /// A privacy parameter is wrong or a budget would be exceeded.
    #[error(transparent)]
    Privacy(#[from] accountant::PrivacyError),
    /// Secure aggregation failed (too few sites left, a bad message).
    #[error(transparent)]
    SecAgg(#[from] secagg::Error),
    /// A round ended at its deadline with fewer updates than its quorum. Retrying can help once
    /// more sites are online.
    #[error(
        "round {round}: {received} of the quorum of {quorum} updates by the deadline ({deadline_ms} ms)"
    )]
    QuorumNotReached {
        /// The round that failed.
        round: u64,
        /// Updates received.
        received: usize,
        /// Updates needed.
        quorum: usize,
        /// The deadline, in ms after the round opened.
        deadline_ms: u64,
    },
    /// An update was refused (wrong round, unknown or repeated site, not finite).
    #[error("update refused: {0}")]
    Refused(String),
}

/// Result of this crate.
pub type Result<T> = std::result::Result<T, Error>;
