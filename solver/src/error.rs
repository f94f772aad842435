//! The solver's errors.

/// What can go wrong reading a problem or solving it. Parse and validation errors are the
/// user's (a file to fix); [`Error::Solver`] is HiGHS reporting something other than a
/// solution, infeasibility or a limit, which is a bug to report.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A benchmark instance or roster file is malformed; the message names the line or key.
    #[error("{origin}: {message}")]
    Parse {
        /// The file (or `<inline>`).
        origin: String,
        /// What is wrong, with its line number where there is one.
        message: String,
    },
    /// The problem is inconsistent (an unknown shift id, a day outside the horizon, …).
    #[error("invalid problem: {0}")]
    Invalid(String),
    /// HiGHS failed while building or solving the model.
    #[error("HiGHS: {0}")]
    Solver(String),
}

impl Error {
    /// A parse error in `origin`.
    pub fn parse(origin: &str, message: impl Into<String>) -> Error {
        Error::Parse {
            origin: origin.to_owned(),
            message: message.into(),
        }
    }

    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// The solver's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
