//! Applies the PostgreSQL migrations ([`PG_MIGRATIONS`]) at open, in one
//! transaction, recording each in `schema_version` (numbered apart from
//! SQLite's, see [`PG_MIGRATIONS`]).
//!
//! Several gateways may start at once on one database: the migrating
//! transaction first takes `pg_advisory_xact_lock`, so one migrates and the
//! others then find the work done. A database newer than this code is
//! refused (`Corrupt`), never written to.

use crate::store::migrations::{PG_MIGRATIONS, pg_latest};
use crate::store::{StoreError, StoreResult};
use tokio_postgres::Client;

/// The advisory lock key (class, object) migrations take.
const LOCK: (i32, i32) = (0x4152_4d51, 1);

/// Brings the database to [`pg_latest`] in one transaction under the
/// advisory lock; returns the version in force.
///
/// # Errors
/// `Corrupt` when the database is newer than this code; `Unavailable` when
/// the server fails or a migration does (nothing of it stays).
pub(super) async fn migrate(client: &mut Client, now_ms: i64) -> StoreResult<u32> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1, $2)", &[&LOCK.0, &LOCK.1])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (
           version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL)",
    )
    .await?;
    let current: i64 = tx
        .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
        .await?
        .try_get(0)?;
    let current = u32::try_from(current)
        .map_err(|_| StoreError::Corrupt(format!("schema version {current}")))?;
    if current > pg_latest() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this gateway's ({})",
            pg_latest()
        )));
    }
    let mut version = current;
    for m in PG_MIGRATIONS.iter().filter(|m| m.version > current) {
        tx.batch_execute(m.sql).await.map_err(|e| {
            StoreError::Unavailable(format!(
                "migration {} ({}): {}",
                m.version,
                m.name,
                StoreError::from(e).detail()
            ))
        })?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_ms) VALUES ($1, $2, $3)",
            &[&i64::from(m.version), &m.name, &now_ms],
        )
        .await?;
        version = m.version;
    }
    tx.commit().await?;
    if version != current {
        tracing::info!(from = current, to = version, "PostgreSQL store migrated");
    }
    Ok(version)
}
