//! Applies the SQLite migrations ([`MIGRATIONS`]) at open, in one
//! `BEGIN IMMEDIATE` transaction, recording each in `schema_version`. A
//! database created before versioning (its tables, no `schema_version`) is
//! adopted as version 1 first.

use crate::store::migrations::{MIGRATIONS, latest};
use crate::store::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Brings the database to [`latest`] in one `BEGIN IMMEDIATE` transaction
/// (concurrent openers wait for each other); returns the version in force.
///
/// # Errors
/// `Corrupt` when the database is newer than this code; `Unavailable` when
/// a migration fails (nothing of it stays).
pub(super) fn migrate(conn: &mut Connection, now_ms: i64) -> StoreResult<u32> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let versioned: bool = tx
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (
           version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ms INTEGER NOT NULL)",
    )?;
    let mut current: u32 = tx.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?;
    if !versioned {
        let legacy: bool = tx
            .query_row(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'api_keys'",
                [],
                |_| Ok(true),
            )
            .optional()?
            .unwrap_or(false);
        if legacy {
            // Created before versioning: its tables are migration 1's.
            tracing::info!("adopting an unversioned database as schema version 1");
            tx.execute_batch(MIGRATIONS.first().map_or("", |m| m.sql))?;
            tx.execute(
                "INSERT INTO schema_version (version, name, applied_ms) VALUES (1, ?1, ?2)",
                params!["adopted: created before versioning", now_ms],
            )?;
            current = 1;
        }
    }
    if current > latest() {
        return Err(StoreError::Corrupt(format!(
            "database schema version {current} is newer than this gateway's ({})",
            latest()
        )));
    }
    let from = current;
    for m in MIGRATIONS.iter().filter(|m| m.version > from) {
        tx.execute_batch(m.sql).map_err(|e| {
            StoreError::Unavailable(format!("migration {} ({}): {e}", m.version, m.name))
        })?;
        tx.execute(
            "INSERT INTO schema_version (version, name, applied_ms) VALUES (?1, ?2, ?3)",
            params![m.version, m.name, now_ms],
        )?;
        current = m.version;
    }
    tx.commit()?;
    Ok(current)
}
