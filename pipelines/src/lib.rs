//! # wardstream-pipelines
//!
//! Sources, the engine that runs the views, and serving.
//!
//! - [`source`]: [`SourceRecord`], what every source yields (events or rejected raw records).
//! - [`replay`]: the real public data sets in `../shared/data` as event streams.
//! - [`generator`]: the built-in synthetic hospital (the embedded default of `wardstream run`).
//! - [`error`]: [`Error`].

pub mod error;
pub mod generator;
pub mod replay;
pub mod source;

pub use error::{Error, Result};
pub use source::{Rejected, SourceRecord};
