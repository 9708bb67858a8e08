//! Versioned schema: an ordered list of SQL migrations, embedded, applied
//! in one transaction at open and recorded in `schema_version`.
//!
//! Migration 1 is the schema the gateway had before versioning. A database
//! that code created has those tables and no `schema_version`: it is adopted
//! as version 1 (migration 1 only creates what is missing), then the later
//! migrations run on it like on any other.

use super::{StoreError, StoreResult};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// One schema step.
#[derive(Debug)]
pub struct Migration {
    /// Its version (1, 2, …, in order, no gaps).
    pub version: u32,
    /// What it does.
    pub name: &'static str,
    /// The SQL (several statements).
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema (as created before versioning)",
        sql: "
CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
  label TEXT NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS plans (
  plan_id TEXT PRIMARY KEY, plan_hash TEXT NOT NULL, merkle_root TEXT NOT NULL,
  plan_json TEXT NOT NULL, step_count INTEGER NOT NULL, intent_reference TEXT NOT NULL,
  user_email TEXT, agent_id TEXT, expires_at INTEGER NOT NULL, status TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key_id INTEGER NOT NULL, route TEXT NOT NULL, idem TEXT NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY (key_id, route, idem));
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, route TEXT NOT NULL,
  outcome TEXT NOT NULL, user_email TEXT, agent_id TEXT, plan_id TEXT, step INTEGER,
  mcp TEXT, tool TEXT, reason TEXT, latency_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS delegations (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, tool TEXT NOT NULL, mcp TEXT, plan_id TEXT,
  requester_email TEXT, arguments TEXT NOT NULL, amount REAL, reason TEXT, approval TEXT,
  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, decided_by TEXT,
  decided_ms INTEGER, executed_ms INTEGER);
",
    },
    Migration {
        version: 2,
        name: "audit: an explicit seq, assigned by the writer, that pages follow",
        sql: "
ALTER TABLE audit ADD COLUMN seq INTEGER;
UPDATE audit SET seq = id;
CREATE UNIQUE INDEX audit_seq ON audit (seq);
",
    },
    Migration {
        version: 3,
        name: "idempotency: in-flight reservations",
        sql: "
ALTER TABLE idempotency ADD COLUMN state TEXT NOT NULL DEFAULT 'done';
",
    },
    Migration {
        version: 4,
        name: "delegations: one pending delegation per held call; claim index",
        sql: "
UPDATE delegations SET status = 'expired'
 WHERE status = 'pending' AND rowid NOT IN (
   SELECT MAX(rowid) FROM delegations WHERE status = 'pending'
    GROUP BY tool, COALESCE(plan_id, ''), COALESCE(requester_email, ''), arguments);
CREATE UNIQUE INDEX delegations_one_pending ON delegations
  (tool, COALESCE(plan_id, ''), COALESCE(requester_email, ''), arguments)
  WHERE status = 'pending';
CREATE INDEX delegations_by_tool_status ON delegations (tool, status);
",
    },
    Migration {
        version: 5,
        name: "audit: the verifier device's verdict, latency and signed receipt (serve --device)",
        sql: "
ALTER TABLE audit ADD COLUMN device_verdict TEXT;
ALTER TABLE audit ADD COLUMN device_latency_us INTEGER;
ALTER TABLE audit ADD COLUMN receipt TEXT;
",
    },
    Migration {
        version: 6,
        name: "console: admin names and emails, sessions, decision reasons, audit by plan",
        sql: "
ALTER TABLE api_keys ADD COLUMN name TEXT;
ALTER TABLE api_keys ADD COLUMN email TEXT;
ALTER TABLE delegations ADD COLUMN decision_reason TEXT;
CREATE TABLE console_sessions (
  id_hash TEXT PRIMARY KEY, key_id INTEGER NOT NULL, csrf TEXT NOT NULL,
  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_ms);
CREATE INDEX audit_by_plan ON audit (plan_id, seq);
",
    },
    Migration {
        version: 7,
        name: "trust records (delegate, delegate_subtree, reanchor); token usage",
        sql: "
CREATE TABLE trust_records (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, plan_id TEXT NOT NULL,
  record_json TEXT NOT NULL, signature TEXT NOT NULL, previous_plan_hash TEXT,
  plan_hash TEXT NOT NULL, created_ms INTEGER NOT NULL, expires_at INTEGER,
  revoked_ms INTEGER);
CREATE INDEX trust_records_by_plan ON trust_records (plan_id);
CREATE TABLE token_usage (
  org INTEGER NOT NULL, product TEXT NOT NULL, session_id TEXT NOT NULL, model TEXT NOT NULL,
  usage_date TEXT NOT NULL, usage_hour INTEGER NOT NULL, device TEXT NOT NULL,
  device_name TEXT, repo TEXT, armored INTEGER,
  input_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
  cache_read_tokens INTEGER NOT NULL, cache_write_tokens INTEGER NOT NULL,
  revision INTEGER NOT NULL, updated_ms INTEGER NOT NULL,
  PRIMARY KEY (org, product, session_id, model, usage_date, usage_hour, device));
CREATE TABLE usage_streams (org INTEGER PRIMARY KEY, generation TEXT NOT NULL);
CREATE TABLE usage_runs (
  run_id TEXT PRIMARY KEY, org INTEGER NOT NULL, report TEXT NOT NULL,
  updated_ms INTEGER NOT NULL);
",
    },
    Migration {
        version: 8,
        name: "sealed signing keys; policy documents",
        sql: "
CREATE TABLE signing_keys (
  generation INTEGER PRIMARY KEY, kid TEXT NOT NULL UNIQUE, public_raw BLOB NOT NULL,
  sealed BLOB NOT NULL, created_ms INTEGER NOT NULL);
CREATE TABLE policy_documents (
  version INTEGER PRIMARY KEY, json TEXT NOT NULL, loaded_by TEXT NOT NULL,
  loaded_ms INTEGER NOT NULL);
",
    },
    Migration {
        version: 9,
        name: "audit: the node (gateway) that wrote each row",
        sql: "
ALTER TABLE audit ADD COLUMN node TEXT;
",
    },
    Migration {
        version: 10,
        name: "delegations bound to the held call (step, leaf hash, arguments' hash); audit actor",
        sql: "
ALTER TABLE delegations ADD COLUMN step INTEGER;
ALTER TABLE delegations ADD COLUMN leaf_hash TEXT;
ALTER TABLE delegations ADD COLUMN args_hash TEXT;
DROP INDEX delegations_one_pending;
CREATE UNIQUE INDEX delegations_one_pending ON delegations
  (tool, COALESCE(plan_id, ''), COALESCE(requester_email, ''), COALESCE(step, -1), arguments)
  WHERE status = 'pending';
ALTER TABLE audit ADD COLUMN actor TEXT;
",
    },
    Migration {
        version: 11,
        name: "idempotency: reservations are leases (fencing token, heartbeat)",
        sql: "
ALTER TABLE idempotency ADD COLUMN lease INTEGER NOT NULL DEFAULT 0;
ALTER TABLE idempotency ADD COLUMN heartbeat_ms INTEGER NOT NULL DEFAULT 0;
UPDATE idempotency SET heartbeat_ms = created_ms;
",
    },
];

/// The newest version this code knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Brings the database to [`latest`] in one `BEGIN IMMEDIATE` transaction
/// (concurrent openers wait for each other); returns the version in force.
///
/// # Errors
/// `Corrupt` when the database is newer than this code; `Unavailable` when
/// a migration fails (nothing of it stays).
pub fn migrate(conn: &mut Connection, now_ms: i64) -> StoreResult<u32> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_one_to_n_in_order() {
        for (i, m) in MIGRATIONS.iter().enumerate() {
            assert_eq!(usize::try_from(m.version).ok(), Some(i + 1), "{}", m.name);
        }
    }
}
