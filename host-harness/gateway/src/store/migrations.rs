//! The versioned schemas: each backend's ordered list of migrations, the
//! SQL in `migrations/{sqlite,postgres}/NNNN_name.sql` embedded at build
//! time. Each backend applies its own list at open in one transaction and
//! records it in `schema_version` (`sqlite/migrations.rs`,
//! `postgres/migrations.rs`); the versions recorded never change.

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

/// Every SQLite migration, oldest first.
///
/// Migration 1 is the schema the gateway had before versioning. A database
/// that code created has those tables and no `schema_version`: it is adopted
/// as version 1 (migration 1 only creates what is missing), then the later
/// migrations run on it like on any other.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial schema (as created before versioning)",
        sql: include_str!("../../migrations/sqlite/0001_initial_schema.sql"),
    },
    Migration {
        version: 2,
        name: "audit: an explicit seq, assigned by the writer, that pages follow",
        sql: include_str!("../../migrations/sqlite/0002_audit_seq.sql"),
    },
    Migration {
        version: 3,
        name: "idempotency: in-flight reservations",
        sql: include_str!("../../migrations/sqlite/0003_idempotency_state.sql"),
    },
    Migration {
        version: 4,
        name: "delegations: one pending delegation per held call; claim index",
        sql: include_str!("../../migrations/sqlite/0004_delegations_one_pending.sql"),
    },
    Migration {
        version: 5,
        name: "audit: the verifier device's verdict, latency and signed receipt (serve --device)",
        sql: include_str!("../../migrations/sqlite/0005_audit_device.sql"),
    },
    Migration {
        version: 6,
        name: "console: admin names and emails, sessions, decision reasons, audit by plan",
        sql: include_str!("../../migrations/sqlite/0006_console.sql"),
    },
    Migration {
        version: 7,
        name: "trust records (delegate, delegate_subtree, reanchor); token usage",
        sql: include_str!("../../migrations/sqlite/0007_trust_usage.sql"),
    },
    Migration {
        version: 8,
        name: "sealed signing keys; policy documents",
        sql: include_str!("../../migrations/sqlite/0008_signing_keys_policy.sql"),
    },
    Migration {
        version: 9,
        name: "audit: the node (gateway) that wrote each row",
        sql: include_str!("../../migrations/sqlite/0009_audit_node.sql"),
    },
    Migration {
        version: 10,
        name: "delegations bound to the held call (step, leaf hash, arguments' hash); audit actor",
        sql: include_str!("../../migrations/sqlite/0010_delegations_bound.sql"),
    },
    Migration {
        version: 11,
        name: "idempotency: reservations are leases (fencing token, heartbeat)",
        sql: include_str!("../../migrations/sqlite/0011_idempotency_leases.sql"),
    },
];

/// The newest SQLite version this code knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// Every PostgreSQL migration, oldest first.
///
/// Numbering: PostgreSQL support began when SQLite was at version 8, so PG
/// migration 1 is the whole schema of that time in PostgreSQL's types
/// (`BIGINT` ids from identity columns, `BYTEA`, `BOOLEAN`), plus the
/// `audit_seq` counter row; later steps are numbered 2, 3, … as they come,
/// with no relation to SQLite's numbers (a PG database never becomes a
/// SQLite one). Steps that exist on both backends say so in their name.
/// * 1: the schema of SQLite 1–8, without the one-pending index;
/// * 2: one pending delegation per held call (SQLite 4's rule, with
///   `md5(arguments)` in the index: a btree entry is limited to ~2.7 kB);
/// * 3: `audit.node`, the gateway that wrote the row (SQLite 9);
/// * 4: delegations bound to the held call, and `audit.actor` (SQLite 10);
/// * 5: idempotency reservations as leases: `lease` (the fencing token) and
///   `heartbeat_ms` (SQLite 11).
pub const PG_MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "schema as SQLite's version 8, in PostgreSQL types; the audit seq counter",
        sql: include_str!("../../migrations/postgres/0001_schema.sql"),
    },
    Migration {
        version: 2,
        name: "delegations: one pending delegation per held call (as SQLite 4)",
        sql: include_str!("../../migrations/postgres/0002_delegations_one_pending.sql"),
    },
    Migration {
        version: 3,
        name: "audit: the node (gateway) that wrote each row (as SQLite 9)",
        sql: include_str!("../../migrations/postgres/0003_audit_node.sql"),
    },
    Migration {
        version: 4,
        name: "delegations bound to the held call; audit actor (as SQLite 10)",
        sql: include_str!("../../migrations/postgres/0004_delegations_bound.sql"),
    },
    Migration {
        version: 5,
        name: "idempotency: reservations are leases (fencing token, heartbeat) (as SQLite 11)",
        sql: include_str!("../../migrations/postgres/0005_idempotency_leases.sql"),
    },
];

/// The newest PostgreSQL version this code knows.
pub fn pg_latest() -> u32 {
    PG_MIGRATIONS.last().map_or(0, |m| m.version)
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

    #[test]
    fn pg_versions_are_one_to_n_in_order() {
        for (i, m) in PG_MIGRATIONS.iter().enumerate() {
            assert_eq!(usize::try_from(m.version).ok(), Some(i + 1), "{}", m.name);
        }
    }
}
