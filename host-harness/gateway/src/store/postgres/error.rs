//! PostgreSQL errors as [`StoreError`]s: the gateway's answer (409, 503,
//! 500) depends on the kind, so a unique violation must read as a conflict
//! (as SQLite's constraint errors do), a row that cannot be read back as
//! corrupt, and everything else (no server, a dropped connection, a failed
//! statement) as unavailable. Messages name the server without its password.

use super::PgStore;
use crate::store::{StoreError, StoreResult};
use tokio_postgres::error::SqlState;

/// The SQLSTATE of `e`, if the server sent one.
pub(super) fn sql_state(e: &tokio_postgres::Error) -> Option<&SqlState> {
    e.code()
}

/// The full text of `e` (tokio-postgres's `Display` leaves out the server's
/// message for database errors).
fn text(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{}: {}", db.code().code(), db.message()),
        None => match std::error::Error::source(e) {
            Some(src) => format!("{e}: {src}"),
            None => e.to_string(),
        },
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        let msg = text(&e);
        match sql_state(&e) {
            Some(
                &SqlState::UNIQUE_VIOLATION
                | &SqlState::FOREIGN_KEY_VIOLATION
                | &SqlState::CHECK_VIOLATION
                | &SqlState::NOT_NULL_VIOLATION
                | &SqlState::EXCLUSION_VIOLATION,
            ) => Self::Conflict(msg),
            Some(&SqlState::DATA_CORRUPTED | &SqlState::INDEX_CORRUPTED) => Self::Corrupt(msg),
            Some(_) => Self::Unavailable(msg),
            // A column of an unexpected type, or a NULL where the code wants
            // a value: the row is not what this code wrote.
            None if msg.contains("error deserializing column")
                || msg.contains("invalid column")
                || msg.contains("cannot convert") =>
            {
                Self::Corrupt(msg)
            }
            None => Self::Unavailable(msg),
        }
    }
}

/// A pool error (no connection within the timeout, the server refused or
/// is down) as `Unavailable`, naming `server` (already redacted).
pub(super) fn pool_error(server: &str, e: deadpool_postgres::PoolError) -> StoreError {
    use deadpool_postgres::PoolError;
    let why = match e {
        PoolError::Backend(e) => text(&e),
        PoolError::Timeout(kind) => format!("no connection within the timeout ({kind:?})"),
        PoolError::Closed => "the connection pool is closed".into(),
        PoolError::NoRuntimeSpecified => "no runtime for the pool's timeouts".into(),
        PoolError::PostCreateHook(e) => e.to_string(),
    };
    StoreError::Unavailable(format!("PostgreSQL at {server}: {why}"))
}

/// The one mapping a [`PgStore`] method applies to a statement's error:
/// `.store_err(self)` is `.store_err(self)` (the kind as above,
/// an outage naming the server).
pub(super) trait PgResultExt<T> {
    /// This result with its error mapped by `store`.
    fn store_err(self, store: &PgStore) -> StoreResult<T>;
}

impl<T, E: Into<StoreError>> PgResultExt<T> for Result<T, E> {
    fn store_err(self, store: &PgStore) -> StoreResult<T> {
        self.map_err(|e| store.err(e))
    }
}
