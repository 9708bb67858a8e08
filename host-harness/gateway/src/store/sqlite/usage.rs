//! [`UsageStore`] on SQLite: plain SQL, upserts on the row key.

use crate::store::usage::{SnapshotStatus, UsageRow, UsageStore};
use crate::store::{SqliteStore, StoreError, StoreFuture};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

const UPSERT: &str = "INSERT INTO token_usage (org, product, session_id, model, usage_date, \
     usage_hour, device, device_name, repo, armored, input_tokens, output_tokens, \
     cache_read_tokens, cache_write_tokens, revision, updated_ms) \
     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16) \
     ON CONFLICT (org, product, session_id, model, usage_date, usage_hour, device) DO UPDATE SET \
     device_name = excluded.device_name, repo = excluded.repo, armored = excluded.armored, \
     input_tokens = excluded.input_tokens, output_tokens = excluded.output_tokens, \
     cache_read_tokens = excluded.cache_read_tokens, \
     cache_write_tokens = excluded.cache_write_tokens, revision = excluded.revision, \
     updated_ms = excluded.updated_ms";

fn upsert(c: &rusqlite::Connection, r: &UsageRow) -> rusqlite::Result<usize> {
    c.execute(
        UPSERT,
        params![
            r.org,
            r.product,
            r.session_id,
            r.model,
            r.usage_date,
            r.usage_hour,
            r.device,
            r.device_name,
            r.repo,
            r.armored,
            r.input_tokens,
            r.output_tokens,
            r.cache_read_tokens,
            r.cache_write_tokens,
            r.revision,
            r.updated_ms
        ],
    )
}

fn row_from(r: &rusqlite::Row<'_>) -> rusqlite::Result<UsageRow> {
    Ok(UsageRow {
        org: r.get("org")?,
        product: r.get("product")?,
        session_id: r.get("session_id")?,
        model: r.get("model")?,
        usage_date: r.get("usage_date")?,
        usage_hour: r.get("usage_hour")?,
        device: r.get("device")?,
        device_name: r.get("device_name")?,
        repo: r.get("repo")?,
        armored: r.get("armored")?,
        input_tokens: r.get("input_tokens")?,
        output_tokens: r.get("output_tokens")?,
        cache_read_tokens: r.get("cache_read_tokens")?,
        cache_write_tokens: r.get("cache_write_tokens")?,
        revision: r.get("revision")?,
        updated_ms: r.get("updated_ms")?,
    })
}

impl UsageStore for SqliteStore {
    fn put_usage<'a>(&'a self, rows: &'a [UsageRow]) -> StoreFuture<'a, u64> {
        let rows = rows.to_vec();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for r in &rows {
                upsert(&tx, r)?;
            }
            tx.commit()?;
            Ok(rows.len() as u64)
        })
    }

    fn apply_usage_snapshot<'a>(&'a self, rows: &'a [UsageRow]) -> StoreFuture<'a, SnapshotStatus> {
        let rows = rows.to_vec();
        self.run(move |c| {
            let first = rows
                .first()
                .ok_or_else(|| StoreError::Corrupt("an empty snapshot".into()))?
                .clone();
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let stored: Option<i64> = tx
                .query_row(
                    "SELECT MAX(revision) FROM token_usage WHERE org = ?1 AND product = ?2 \
                     AND session_id = ?3 AND usage_date = ?4 AND usage_hour = ?5 AND device = ?6",
                    params![
                        first.org,
                        first.product,
                        first.session_id,
                        first.usage_date,
                        first.usage_hour,
                        first.device
                    ],
                    |r| r.get(0),
                )
                .optional()?
                .flatten();
            let status = match stored {
                Some(s) if s == first.revision => SnapshotStatus::Present,
                Some(s) if s > first.revision => SnapshotStatus::Superseded,
                _ => {
                    // The snapshot is the session-hour: models it no longer
                    // lists are gone.
                    tx.execute(
                        "DELETE FROM token_usage WHERE org = ?1 AND product = ?2 \
                         AND session_id = ?3 AND usage_date = ?4 AND usage_hour = ?5 AND device = ?6",
                        params![
                            first.org,
                            first.product,
                            first.session_id,
                            first.usage_date,
                            first.usage_hour,
                            first.device
                        ],
                    )?;
                    for r in &rows {
                        upsert(&tx, r)?;
                    }
                    SnapshotStatus::Applied
                }
            };
            tx.commit()?;
            Ok(status)
        })
    }

    fn list_usage(&self, limit: u32) -> StoreFuture<'_, Vec<UsageRow>> {
        self.run(move |c| {
            let mut st = c.prepare(
                "SELECT * FROM token_usage ORDER BY usage_date DESC, usage_hour DESC, \
                 product, session_id, model, device LIMIT ?1",
            )?;
            let rows = st
                .query_map(params![limit], row_from)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn open_usage_stream<'a>(&'a self, org: i64, fresh: &'a str) -> StoreFuture<'a, String> {
        let fresh = fresh.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "INSERT INTO usage_streams (org, generation) VALUES (?1, ?2) \
                 ON CONFLICT (org) DO UPDATE SET generation = usage_streams.generation \
                 RETURNING generation",
                params![org, fresh],
                |r| r.get(0),
            )?)
        })
    }

    fn reset_usage_stream<'a>(
        &'a self,
        org: i64,
        current: &'a str,
        fresh: &'a str,
    ) -> StoreFuture<'a, String> {
        let (current, fresh) = (current.to_owned(), fresh.to_owned());
        self.run(move |c| {
            Ok(c.query_row(
                "INSERT INTO usage_streams (org, generation) VALUES (?1, ?3) \
                 ON CONFLICT (org) DO UPDATE SET generation = CASE \
                 WHEN usage_streams.generation = ?2 THEN excluded.generation \
                 ELSE usage_streams.generation END \
                 RETURNING generation",
                params![org, current, fresh],
                |r| r.get(0),
            )?)
        })
    }

    fn put_usage_run<'a>(
        &'a self,
        org: i64,
        run_id: &'a str,
        report: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool> {
        let (run_id, report) = (run_id.to_owned(), report.to_owned());
        self.run(move |c| {
            Ok(c.execute(
                "INSERT INTO usage_runs (run_id, org, report, updated_ms) VALUES (?1,?2,?3,?4) \
                 ON CONFLICT (run_id) DO UPDATE SET report = excluded.report, \
                 updated_ms = excluded.updated_ms \
                 WHERE usage_runs.org = excluded.org AND usage_runs.report <> excluded.report",
                params![run_id, org, report, now_ms],
            )? == 1)
        })
    }
}
