//! [`ConsoleStore`] on SQLite (migration 5's columns and table).

use super::{audit_from_row, typed};
use crate::store::console::{ApiKeyRecord, AuditFilter, ConsoleStore, NewApiKey, SessionRecord};
use crate::store::{AuditRow, Role, SqliteStore, StoreFuture, key_hash};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

fn key_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: r.get("id")?,
        role: typed(r, "role", Role::read)?,
        label: r.get("label")?,
        name: r.get("name")?,
        email: r.get("email")?,
        created_ms: r.get("created_ms")?,
        revoked_ms: r.get("revoked_ms")?,
    })
}

const KEY_COLUMNS: &str = "k.id, k.role, k.label, k.name, k.email, k.created_ms, k.revoked_ms";

impl ConsoleStore for SqliteStore {
    fn add_named_api_key<'a>(&'a self, k: &'a NewApiKey) -> StoreFuture<'a, i64> {
        let k = k.clone();
        self.run(move |c| {
            c.execute(
                "INSERT INTO api_keys (key_hash, role, label, created_ms, name, email) \
                 VALUES (?1,?2,?3,?4,?5,?6)",
                params![
                    key_hash(&k.key),
                    k.role.as_str(),
                    k.label,
                    armoriq_common::time::now_ms(),
                    k.name,
                    k.email
                ],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn list_api_keys(&self) -> StoreFuture<'_, Vec<ApiKeyRecord>> {
        self.run(|c| {
            let mut st = c.prepare(&format!(
                "SELECT {KEY_COLUMNS} FROM api_keys k ORDER BY k.id"
            ))?;
            Ok(st
                .query_map([], key_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?)
        })
    }

    fn get_api_key(&self, id: i64) -> StoreFuture<'_, Option<ApiKeyRecord>> {
        self.run(move |c| {
            Ok(c.query_row(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = ?1"),
                params![id],
                key_from_row,
            )
            .optional()?)
        })
    }

    fn revoke_api_key(&self, id: i64, now: i64) -> StoreFuture<'_, bool> {
        let changes = self.changes();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL",
                params![id, now],
            )?;
            tx.execute(
                "DELETE FROM console_sessions WHERE key_id = ?1",
                params![id],
            )?;
            tx.commit()?;
            if n == 1 {
                let _ = changes.send(crate::store::Change::ApiKeys);
            }
            Ok(n == 1)
        })
    }

    fn create_session<'a>(
        &'a self,
        id_hash: &'a str,
        key_id: i64,
        csrf: &'a str,
        now: i64,
        expires_ms: i64,
    ) -> StoreFuture<'a, ()> {
        let (h, t) = (id_hash.to_owned(), csrf.to_owned());
        self.run(move |c| {
            c.execute(
                "INSERT INTO console_sessions (id_hash, key_id, csrf, created_ms, expires_ms) \
                 VALUES (?1,?2,?3,?4,?5)",
                params![h, key_id, t, now, expires_ms],
            )?;
            Ok(())
        })
    }

    fn get_session<'a>(
        &'a self,
        id_hash: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<SessionRecord>> {
        let h = id_hash.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                &format!(
                    "SELECT {KEY_COLUMNS}, s.csrf, s.expires_ms FROM console_sessions s \
                     JOIN api_keys k ON k.id = s.key_id \
                     WHERE s.id_hash = ?1 AND s.expires_ms >= ?2 \
                     AND k.revoked_ms IS NULL AND k.role = 'admin'"
                ),
                params![h, now],
                |r| {
                    Ok(SessionRecord {
                        key: key_from_row(r)?,
                        csrf: r.get("csrf")?,
                        expires_ms: r.get("expires_ms")?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn delete_session<'a>(&'a self, id_hash: &'a str, now: i64) -> StoreFuture<'a, ()> {
        let h = id_hash.to_owned();
        self.run(move |c| {
            c.execute(
                "DELETE FROM console_sessions WHERE id_hash = ?1 OR expires_ms < ?2",
                params![h, now],
            )?;
            Ok(())
        })
    }

    fn decision_reason<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT decision_reason FROM delegations WHERE id = ?1",
                params![id],
                |r| r.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
        })
    }

    fn audit_search<'a>(
        &'a self,
        f: &'a AuditFilter,
        after_seq: Option<i64>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<AuditRow>> {
        let f = f.clone();
        self.run(move |c| {
            let mut st = c.prepare_cached(
                "SELECT * FROM audit WHERE seq > ?1 \
                 AND (?2 IS NULL OR outcome = ?2) AND (?3 IS NULL OR user_email = ?3) \
                 AND (?4 IS NULL OR agent_id = ?4) AND (?5 IS NULL OR tool = ?5) \
                 AND (?6 IS NULL OR plan_id = ?6) AND (?7 IS NULL OR at_ms >= ?7) \
                 AND (?8 IS NULL OR at_ms < ?8) ORDER BY seq DESC LIMIT ?9",
            )?;
            let rows = st
                .query_map(
                    params![
                        after_seq.unwrap_or(0),
                        f.outcome,
                        f.user,
                        f.agent,
                        f.tool,
                        f.plan,
                        f.from_ms,
                        f.to_ms,
                        limit
                    ],
                    audit_from_row,
                )?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}
