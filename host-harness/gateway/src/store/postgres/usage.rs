//! [`UsageStore`] on PostgreSQL: upserts on the row key (`ON CONFLICT …
//! DO UPDATE` is atomic under concurrency); a snapshot of one session-hour
//! takes a transaction-scoped advisory lock on that session-hour (where
//! SQLite took `BEGIN IMMEDIATE`), so concurrent snapshots of it apply one
//! after another and the newest revision ends up stored.

use super::col;
use super::error::PgResultExt;
use crate::store::usage::{SnapshotStatus, UsageRow, UsageStore};
use crate::store::{PgStore, StoreError, StoreFuture, StoreResult};
use tokio_postgres::Row;

/// The advisory lock class of session-hour snapshots.
const SNAPSHOT_LOCK: i32 = 0x4152_4d52;

const UPSERT: &str = "INSERT INTO token_usage (org, product, session_id, model, usage_date, \
     usage_hour, device, device_name, repo, armored, input_tokens, output_tokens, \
     cache_read_tokens, cache_write_tokens, revision, updated_ms) \
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16) \
     ON CONFLICT (org, product, session_id, model, usage_date, usage_hour, device) DO UPDATE SET \
     device_name = excluded.device_name, repo = excluded.repo, armored = excluded.armored, \
     input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, \
     cache_read_tokens = excluded.cache_read_tokens, \
     cache_write_tokens = excluded.cache_write_tokens, revision = excluded.revision, \
     updated_ms = excluded.updated_ms";

async fn upsert(
    tx: &tokio_postgres::Transaction<'_>,
    r: &UsageRow,
) -> Result<u64, tokio_postgres::Error> {
    tx.execute(
        UPSERT,
        &[
            &r.org,
            &r.product,
            &r.session_id,
            &r.model,
            &r.usage_date,
            &i32::from(r.usage_hour),
            &r.device,
            &r.device_name,
            &r.repo,
            &r.armored,
            &r.input_tokens,
            &r.output_tokens,
            &r.cache_read_tokens,
            &r.cache_write_tokens,
            &r.revision,
            &r.updated_ms,
        ],
    )
    .await
}

fn row_from(r: &Row) -> StoreResult<UsageRow> {
    let hour: i32 = col(r, "usage_hour")?;
    Ok(UsageRow {
        org: col(r, "org")?,
        product: col(r, "product")?,
        session_id: col(r, "session_id")?,
        model: col(r, "model")?,
        usage_date: col(r, "usage_date")?,
        usage_hour: u8::try_from(hour)
            .map_err(|_| StoreError::Corrupt(format!("usage_hour {hour}")))?,
        device: col(r, "device")?,
        device_name: col(r, "device_name")?,
        repo: col(r, "repo")?,
        armored: col(r, "armored")?,
        input_tokens: col(r, "input_tokens")?,
        output_tokens: col(r, "output_tokens")?,
        cache_read_tokens: col(r, "cache_read_tokens")?,
        cache_write_tokens: col(r, "cache_write_tokens")?,
        revision: col(r, "revision")?,
        updated_ms: col(r, "updated_ms")?,
    })
}

/// The row key, for a deadlock-free order of upserts (two transactions
/// locking the same rows in the same order never wait on each other in a
/// cycle).
fn key(r: &UsageRow) -> (i64, &str, &str, &str, &str, u8, &str) {
    (
        r.org,
        &r.product,
        &r.session_id,
        &r.model,
        &r.usage_date,
        r.usage_hour,
        &r.device,
    )
}

impl UsageStore for PgStore {
    fn put_usage<'a>(&'a self, rows: &'a [UsageRow]) -> StoreFuture<'a, u64> {
        Box::pin(async move {
            let mut sorted: Vec<&UsageRow> = rows.iter().collect();
            sorted.sort_by(|a, b| key(a).cmp(&key(b)));
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            for r in sorted {
                upsert(&tx, r).await.store_err(self)?;
            }
            tx.commit().await.store_err(self)?;
            Ok(rows.len() as u64)
        })
    }

    fn apply_usage_snapshot<'a>(&'a self, rows: &'a [UsageRow]) -> StoreFuture<'a, SnapshotStatus> {
        Box::pin(async move {
            let first = rows
                .first()
                .ok_or_else(|| StoreError::Corrupt("an empty snapshot".into()))?;
            let hour = i32::from(first.usage_hour);
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let name = format!(
                "{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}\u{1f}{}",
                first.org,
                first.product,
                first.session_id,
                first.usage_date,
                first.usage_hour,
                first.device
            );
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, hashtext($2))",
                &[&SNAPSHOT_LOCK, &name],
            )
            .await
            .store_err(self)?;
            let session = [
                &first.org as &(dyn tokio_postgres::types::ToSql + Sync),
                &first.product,
                &first.session_id,
                &first.usage_date,
                &hour,
                &first.device,
            ];
            let stored: Option<i64> = tx
                .query_one(
                    "SELECT MAX(revision) FROM token_usage WHERE org = $1 AND product = $2 \
                     AND session_id = $3 AND usage_date = $4 AND usage_hour = $5 AND device = $6",
                    &session,
                )
                .await
                .store_err(self)?
                .try_get(0)
                .store_err(self)?;
            let status = match stored {
                Some(s) if s == first.revision => SnapshotStatus::Present,
                Some(s) if s > first.revision => SnapshotStatus::Superseded,
                _ => {
                    // The snapshot is the session-hour: models it no longer
                    // lists are gone.
                    tx.execute(
                        "DELETE FROM token_usage WHERE org = $1 AND product = $2 \
                         AND session_id = $3 AND usage_date = $4 AND usage_hour = $5 \
                         AND device = $6",
                        &session,
                    )
                    .await
                    .store_err(self)?;
                    for r in rows {
                        upsert(&tx, r).await.store_err(self)?;
                    }
                    SnapshotStatus::Applied
                }
            };
            tx.commit().await.store_err(self)?;
            Ok(status)
        })
    }

    fn list_usage(&self, limit: u32) -> StoreFuture<'_, Vec<UsageRow>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query(
                "SELECT * FROM token_usage ORDER BY usage_date DESC, usage_hour DESC, \
                 product, session_id, model, device LIMIT $1",
                &[&i64::from(limit)],
            )
            .await
            .store_err(self)?
            .iter()
            .map(row_from)
            .collect()
        })
    }

    fn open_usage_stream<'a>(&'a self, org: i64, fresh: &'a str) -> StoreFuture<'a, String> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_one(
                    "INSERT INTO usage_streams (org, generation) VALUES ($1, $2) \
                     ON CONFLICT (org) DO UPDATE SET generation = usage_streams.generation \
                     RETURNING generation",
                    &[&org, &fresh],
                )
                .await
                .store_err(self)?;
            col(&r, "generation")
        })
    }

    fn reset_usage_stream<'a>(
        &'a self,
        org: i64,
        current: &'a str,
        fresh: &'a str,
    ) -> StoreFuture<'a, String> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_one(
                    "INSERT INTO usage_streams (org, generation) VALUES ($1, $3) \
                     ON CONFLICT (org) DO UPDATE SET generation = CASE \
                     WHEN usage_streams.generation = $2 THEN excluded.generation \
                     ELSE usage_streams.generation END \
                     RETURNING generation",
                    &[&org, &current, &fresh],
                )
                .await
                .store_err(self)?;
            col(&r, "generation")
        })
    }

    fn put_usage_run<'a>(
        &'a self,
        org: i64,
        run_id: &'a str,
        report: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.execute(
                "INSERT INTO usage_runs (run_id, org, report, updated_ms) VALUES ($1,$2,$3,$4) \
                 ON CONFLICT (run_id) DO UPDATE SET report = excluded.report, \
                 updated_ms = excluded.updated_ms \
                 WHERE usage_runs.org = excluded.org AND usage_runs.report <> excluded.report",
                &[&run_id, &org, &report, &now_ms],
            )
            .await
            .store_err(self)?
                == 1)
        })
    }
}
