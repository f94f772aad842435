//! The transactional store: a SQLite file by default (embedded, nothing to run), PostgreSQL
//! when the URL says `postgres://…`. One set of migrations (`api/migrations`) serves both; the
//! SQL keeps to what both accept (`TEXT`, `BIGINT`, `$n` parameters, times as `BIGINT`
//! milliseconds since 1970-01-01 UTC).

use sqlx::AnyPool;
use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use std::time::Duration;

/// The pool every handler uses.
pub type Db = AnyPool;

/// The schema's migrations, embedded in the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Why the store could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// The URL names no database we can reach or create.
    #[error("cannot open the database at {url}: {source}")]
    Connect {
        /// The URL, password masked.
        url: String,
        /// What the driver said.
        source: sqlx::Error,
    },
    /// A migration failed (or the database holds migrations this build does not know).
    #[error("migrating the database failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// Masks the password of a URL like `postgres://user:secret@host/db`.
pub fn mask(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => match url[s + 3..at].find(':') {
            Some(c) => format!("{}:***{}", &url[..s + 3 + c], &url[at..]),
            None => url.to_owned(),
        },
        _ => url.to_owned(),
    }
}

/// Opens (creating a SQLite file if needed) and migrates the database at `url`:
/// `sqlite://path/to/file.db` or `postgres://user:password@host:port/db`.
///
/// SQLite connections use WAL, a 5 s busy timeout and foreign keys.
///
/// Errors: [`OpenError`] when the database cannot be reached or migrated.
pub async fn open(url: &str) -> Result<Db, OpenError> {
    sqlx::any::install_default_drivers();
    let sqlite = url.starts_with("sqlite:");
    let url_owned = if sqlite && !url.contains('?') {
        format!("{url}?mode=rwc")
    } else {
        url.to_owned()
    };
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if sqlite {
                    use sqlx::Executor;
                    conn.execute(
                        "PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000; PRAGMA foreign_keys = ON;",
                    )
                    .await?;
                }
                Ok(())
            })
        })
        .connect(&url_owned)
        .await
        .map_err(|source| OpenError::Connect {
            url: mask(url),
            source,
        })?;
    MIGRATOR.run(&pool).await?;
    Ok(pool)
}

/// Milliseconds since 1970-01-01 UTC.
pub fn now_ms() -> i64 {
    wardstream_schemas::time::now()
}

/// Whether `e` is a unique-constraint violation (a duplicate slug or email).
pub fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask("postgres://ward:secret@127.0.0.1:5432/ws"),
            "postgres://ward:***@127.0.0.1:5432/ws"
        );
        assert_eq!(mask("sqlite://data/ws.db"), "sqlite://data/ws.db");
        assert_eq!(mask("postgres://ward@host/db"), "postgres://ward@host/db");
    }
}
