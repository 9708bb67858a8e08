//! [`ConsoleStore`] on PostgreSQL: the SQLite SQL (`../sqlite/console.rs`)
//! ported; revoking a key also announces it (`pg_notify` in the same
//! transaction) so every node drops its cached key checks.

use super::audit::audit_from_row;
use super::error::PgResultExt;
use super::notify;
use super::{col, typed};
use crate::store::console::{ApiKeyRecord, AuditFilter, ConsoleStore, NewApiKey, SessionRecord};
use crate::store::{AuditRow, Change, PgStore, Role, StoreFuture, StoreResult, key_hash};
use tokio_postgres::Row;

fn key_from_row(r: &Row) -> StoreResult<ApiKeyRecord> {
    Ok(ApiKeyRecord {
        id: col(r, "id")?,
        role: typed(r, "role", Role::read)?,
        label: col(r, "label")?,
        name: col(r, "name")?,
        email: col(r, "email")?,
        created_ms: col(r, "created_ms")?,
        revoked_ms: col(r, "revoked_ms")?,
    })
}

const KEY_COLUMNS: &str = "k.id, k.role, k.label, k.name, k.email, k.created_ms, k.revoked_ms";

impl ConsoleStore for PgStore {
    fn add_named_api_key<'a>(&'a self, k: &'a NewApiKey) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_one(
                    "INSERT INTO api_keys (key_hash, role, label, created_ms, name, email) \
                     VALUES ($1,$2,$3,$4,$5,$6) RETURNING id",
                    &[
                        &key_hash(&k.key),
                        &k.role.as_str(),
                        &k.label,
                        &armoriq_common::time::now_ms(),
                        &k.name,
                        &k.email,
                    ],
                )
                .await
                .store_err(self)?;
            col(&r, "id")
        })
    }

    fn list_api_keys(&self) -> StoreFuture<'_, Vec<ApiKeyRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys k ORDER BY k.id"),
                &[],
            )
            .await
            .store_err(self)?
            .iter()
            .map(key_from_row)
            .collect()
        })
    }

    fn get_api_key(&self, id: i64) -> StoreFuture<'_, Option<ApiKeyRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query_opt(
                &format!("SELECT {KEY_COLUMNS} FROM api_keys k WHERE k.id = $1"),
                &[&id],
            )
            .await
            .store_err(self)?
            .as_ref()
            .map(key_from_row)
            .transpose()
        })
    }

    fn revoke_api_key(&self, id: i64, now: i64) -> StoreFuture<'_, bool> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let n = tx
                .execute(
                    "UPDATE api_keys SET revoked_ms = $2 WHERE id = $1 AND revoked_ms IS NULL",
                    &[&id, &now],
                )
                .await
                .store_err(self)?;
            tx.execute("DELETE FROM console_sessions WHERE key_id = $1", &[&id])
                .await
                .store_err(self)?;
            if n == 1 {
                notify::notify(&tx, &Change::ApiKeys)
                    .await
                    .store_err(self)?;
            }
            tx.commit().await.store_err(self)?;
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
        Box::pin(async move {
            let c = self.client().await?;
            c.execute(
                "INSERT INTO console_sessions (id_hash, key_id, csrf, created_ms, expires_ms) \
                 VALUES ($1,$2,$3,$4,$5)",
                &[&id_hash, &key_id, &csrf, &now, &expires_ms],
            )
            .await
            .store_err(self)?;
            Ok(())
        })
    }

    fn get_session<'a>(
        &'a self,
        id_hash: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<SessionRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_opt(
                    &format!(
                        "SELECT {KEY_COLUMNS}, s.csrf, s.expires_ms FROM console_sessions s \
                         JOIN api_keys k ON k.id = s.key_id \
                         WHERE s.id_hash = $1 AND s.expires_ms >= $2 \
                         AND k.revoked_ms IS NULL AND k.role = 'admin'"
                    ),
                    &[&id_hash, &now],
                )
                .await
                .store_err(self)?;
            r.map(|r| {
                Ok(SessionRecord {
                    key: key_from_row(&r)?,
                    csrf: col(&r, "csrf")?,
                    expires_ms: col(&r, "expires_ms")?,
                })
            })
            .transpose()
        })
    }

    fn delete_session<'a>(&'a self, id_hash: &'a str, now: i64) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.client().await?;
            c.execute(
                "DELETE FROM console_sessions WHERE id_hash = $1 OR expires_ms < $2",
                &[&id_hash, &now],
            )
            .await
            .store_err(self)?;
            Ok(())
        })
    }

    fn decision_reason<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_opt(
                    "SELECT decision_reason FROM delegations WHERE id = $1",
                    &[&id],
                )
                .await
                .store_err(self)?;
            Ok(r.map(|r| col::<Option<String>>(&r, "decision_reason"))
                .transpose()?
                .flatten())
        })
    }

    fn audit_search<'a>(
        &'a self,
        f: &'a AuditFilter,
        after_seq: Option<i64>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<AuditRow>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query(
                "SELECT * FROM audit WHERE seq > $1 \
                 AND ($2::text IS NULL OR outcome = $2) AND ($3::text IS NULL OR user_email = $3) \
                 AND ($4::text IS NULL OR agent_id = $4) AND ($5::text IS NULL OR tool = $5) \
                 AND ($6::text IS NULL OR plan_id = $6) AND ($7::bigint IS NULL OR at_ms >= $7) \
                 AND ($8::bigint IS NULL OR at_ms < $8) ORDER BY seq DESC LIMIT $9",
                &[
                    &after_seq.unwrap_or(0),
                    &f.outcome,
                    &f.user,
                    &f.agent,
                    &f.tool,
                    &f.plan,
                    &f.from_ms,
                    &f.to_ms,
                    &i64::from(limit),
                ],
            )
            .await
            .store_err(self)?
            .iter()
            .map(audit_from_row)
            .collect()
        })
    }
}
