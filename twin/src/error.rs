//! The twin's errors.
use std::path::Path;

/// What can go wrong loading, calibrating or running a scenario. All are the user's (a file or
/// parameter to fix) except [`Error::Io`], which may be the machine's.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A TOML file did not parse into the expected shape.
    #[error("{path}: {message}")]
    Toml {
        /// The file.
        path: String,
        /// What the parser said (line, column, expected key).
        message: String,
    },
    /// A scenario, hospital or run parameter is out of range or inconsistent.
    #[error("invalid scenario: {0}")]
    Invalid(String),
    /// Calibration had too little data for an estimate it needs.
    #[error("calibration: {0}")]
    Calibration(String),
    /// Writing results (Arrow, Parquet, CSV) failed.
    #[error("export: {0}")]
    Export(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }

    /// A TOML error on `path`.
    pub fn toml(path: &Path, e: impl std::fmt::Display) -> Error {
        Error::Toml {
            path: path.display().to_string(),
            message: e.to_string().trim().to_owned(),
        }
    }
}

/// The twin's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
