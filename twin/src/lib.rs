//! # wardstream-twin
//!
//! The digital twin: a discrete-event simulator of patient flow, calibrated from replayed ADT
//! data (the input of the `census` and `length_of_stay` views), with scenarios, independent
//! replications and confidence intervals.
//!
//! Modules:
//! - [`calendar`]: the event calendar (a binary heap of `(time, sequence, event)`), the
//!   simulated clock, and the [`calendar::Model`] trait processes are written against.
//! - [`resource`]: servers with a priority queue (beds, bays, M/M/c servers).
//! - [`random`]: seeded, portable random streams, one per entity class, for common random
//!   numbers.
//! - [`scenario`]: the hospital model and scenarios as editable TOML.
//! - [`hospital`]: the hospital process model (arrivals, ED, units, routing, boarding,
//!   staffing).
//! - [`mmc`]: an M/M/c queue on the same engine, for validation against Erlang C.
//! - [`calibrate`]: estimates a hospital file from ADT events.
//! - [`sizing`]: traffic equations, offered load, and beds sized for a target occupancy.
//! - [`replication`]: runs replications in parallel (rayon), deletes the warm-up (MSER-5),
//!   and reports KPIs with 95% confidence intervals; paired comparisons.
//! - [`export`]: results as Arrow IPC, Parquet or CSV.
//! - [`stats`]: Welford, Student-t intervals, quantiles, time averages, MSER-5, Erlang B/C.
//!
//! Invariants: time is in hours (f64); a replication's result depends only on the scenario,
//! the base seed and the replication index — never on thread count or scheduling; the hot
//! loop does no allocation once its buffers have grown and no dynamic dispatch.
//!
//! ```
//! use wardstream_twin::{mmc::MmcConfig, stats::mmc_mean_wait};
//! let cfg = MmcConfig { arrival_rate: 9.0, service_rate: 1.0, servers: 10, customers: 20_000, warmup_customers: 2_000 };
//! let run = wardstream_twin::mmc::simulate(&cfg, 7, 0);
//! let exact = mmc_mean_wait(9.0, 1.0, 10); // 0.6687
//! assert!((run.mean_wait - exact).abs() < 0.4);
//! ```
pub mod calendar;
pub mod calibrate;
mod error;
pub mod export;
pub mod hospital;
pub mod mmc;
pub mod random;
pub mod replication;
pub mod resource;
pub mod scenario;
pub mod sizing;
pub mod stats;

pub use error::{Error, Result};
