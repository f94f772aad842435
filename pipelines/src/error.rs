//! Errors of the pipelines crate.

use std::path::PathBuf;

/// What can go wrong running a source or the engine (per-record problems are dead letters,
/// not errors).
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened or read (the user's: wrong path or permissions; retry won't help).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A data set is missing a file or column we need (the user's: wrong `--data-dir`).
    #[error("data set at {path} is not usable: {detail}")]
    DataSet {
        /// The folder or file.
        path: PathBuf,
        /// What is missing.
        detail: String,
    },
    /// A SQL query failed to plan or run (the user's query, or ours if it is a view's SQL).
    #[error("query failed: {0}")]
    Query(String),
    /// ClickHouse could not be reached or refused a statement. `transient` errors (connection
    /// refused or reset, timeouts, a server restarting) are the outside system's and a retry
    /// can help; the others (a rejected statement, a table in an incompatible shape) are the
    /// user's or ours, and retrying will not help.
    #[error("ClickHouse: {detail}")]
    ClickHouse {
        /// What failed.
        detail: String,
        /// Whether a retry can help.
        transient: bool,
    },
    /// Kafka could not be reached, or refused a request (the outside system's; librdkafka
    /// retries broker outages itself, so this is what did not recover).
    #[error("Kafka: {0}")]
    Kafka(String),
    /// A checkpoint does not fit this run (other worker count or topics): the user's.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// The dataflow failed (ours).
    #[error("dataflow failed: {0}")]
    Dataflow(String),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
