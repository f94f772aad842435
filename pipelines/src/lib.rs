//! # wardstream-pipelines
//!
//! Sources, the engine that runs the views, and serving.
//!
//! - [`source`]: [`SourceRecord`], what every source yields (events or rejected raw records).
//! - [`replay`]: the real public data sets in `../shared/data`, and recorded NDJSON streams.
//! - [`generator`]: the built-in synthetic hospital (the embedded default of `wardstream run`).
//! - [`engine`]: timely workers running ingest and every view over a source.
//! - [`store`]: [`ViewStore`], the views at one frontier plus ingest counters and dead letters.
//! - [`view_arrow`]: the Arrow form of each view.
//! - [`sql`]: DataFusion SQL over a [`Snapshot`](store::Snapshot).
//! - [`clickhouse_sink`]: the ClickHouse mirror of every view, the raw-event archive and the
//!   dead letters, exactly once.
//! - [`kafka`]: Kafka topics in (a consumer per worker), dead letters out, `produce`, and the
//!   checkpoint that makes a restarted run resume exactly.
//! - [`error`]: the crate's [`Error`] type.
//!
//! Invariants: no record is lost (every record received is applied, a duplicate, or a dead
//! letter with its raw bytes); a snapshot holds every view at one frontier.

pub mod clickhouse_sink;
pub mod engine;
pub mod error;
pub mod generator;
pub mod kafka;
pub mod live;
pub mod replay;
pub mod source;
pub mod sql;
pub mod store;
pub mod view_arrow;

pub use engine::{Cluster, EngineConfig, RunSummary, SourceFactory, records_source, run};
pub use error::{Error, Result};
pub use live::LiveInput;
pub use source::{Rejected, SourceRecord};
pub use store::{ChangeSet, DeadLetter, IngestStats, Snapshot, ViewDelta, ViewStore};
