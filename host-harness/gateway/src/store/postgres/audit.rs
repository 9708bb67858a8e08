//! The audit log on PostgreSQL: group commit, and `seq` in commit order
//! across every node.
//!
//! One task per store takes every row waiting (up to [`BATCH`]), writes
//! them in one transaction (one `INSERT … SELECT FROM UNNEST`), and acks
//! each row only after the commit; if the batch fails every row in it gets
//! the error, and the task goes on with the next batch (it survives a
//! PostgreSQL outage: the pool makes new connections when the server is
//! back).
//!
//! `seq`: `armoriq logs --follow` pages by `seq`, so a row must never
//! become visible with a `seq` below one a reader has already passed. The
//! batch takes its `seq` range from the single `audit_seq` row (`UPDATE
//! audit_seq SET seq = seq + n RETURNING seq`) inside its transaction: that
//! row's lock is held until COMMIT, so the next batch (on any node) gets
//! its range only after this one committed — ranges are handed out in
//! commit order, and a reader never sees a later `seq` before an earlier
//! one. (A sequence or identity would not do: they are handed out at
//! insert, not at commit.)

use super::error::PgResultExt;
use super::error::pool_error;
use super::{col, with_server};
use crate::store::StoreResult;
use crate::store::{
    AuditCursor, AuditPage, AuditRow, AuditStore, PgStore, StoreError, StoreFuture,
};
use deadpool_postgres::Pool;
use std::collections::HashMap;
use tokio::sync::{mpsc, oneshot};
use tokio_postgres::Row;

pub(super) use crate::store::audit_queue::{Job, acknowledge};

/// Most rows in one transaction.
const BATCH: usize = 512;

/// Takes every row waiting, writes them in one transaction, acks each.
pub(super) async fn run(pool: Pool, server: String, mut rx: mpsc::UnboundedReceiver<Job>) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let written = write(&pool, &server, &batch)
            .await
            .map_err(|e| with_server(&server, e));
        acknowledge(batch, written);
    }
}

async fn write(pool: &Pool, server: &str, batch: &[Job]) -> StoreResult<Vec<i64>> {
    let rows: Vec<&AuditRow> = batch.iter().filter_map(|(r, _)| r.as_ref()).collect();
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut c = pool.get().await.map_err(|e| pool_error(server, e))?;
    let tx = c.transaction().await?;
    let ids = insert(&tx, &rows).await?;
    tx.commit().await?;
    Ok(ids)
}

/// Appends `rows` inside `tx`, taking their `seq` range from the counter
/// row (locked until `tx` commits); returns their row ids in order. The
/// writer's batches and the audited operations
/// ([`crate::store::DelegationStore::decide_delegation`]) both write through here.
pub(super) async fn insert(
    tx: &tokio_postgres::Transaction<'_>,
    rows: &[&AuditRow],
) -> StoreResult<Vec<i64>> {
    let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let last: i64 = tx
        .query_one("UPDATE audit_seq SET seq = seq + $1 RETURNING seq", &[&n])
        .await?
        .try_get(0)?;
    let first = last - n + 1;
    let seqs: Vec<i64> = (first..=last).collect();
    let at: Vec<i64> = rows.iter().map(|r| r.at_ms).collect();
    let route: Vec<&str> = rows.iter().map(|r| r.route.as_str()).collect();
    let outcome: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
    let text = |f: fn(&AuditRow) -> &Option<String>| -> Vec<Option<&str>> {
        rows.iter().map(|r| f(r).as_deref()).collect()
    };
    let (user, agent, plan) = (
        text(|r| &r.user_email),
        text(|r| &r.agent_id),
        text(|r| &r.plan_id),
    );
    let (mcp, tool, reason) = (text(|r| &r.mcp), text(|r| &r.tool), text(|r| &r.reason));
    let (verdict, receipt, node) = (
        text(|r| &r.device_verdict),
        text(|r| &r.receipt),
        text(|r| &r.node),
    );
    let actor = text(|r| &r.actor);
    let step: Vec<Option<i64>> = rows.iter().map(|r| r.step).collect();
    let latency: Vec<i64> = rows.iter().map(|r| r.latency_us).collect();
    let dev_latency: Vec<Option<i64>> = rows.iter().map(|r| r.device_latency_us).collect();
    let written = tx
        .query(
            "INSERT INTO audit (seq, at_ms, route, outcome, user_email, agent_id, plan_id, step, \
             mcp, tool, reason, latency_us, device_verdict, device_latency_us, receipt, node, actor) \
             SELECT * FROM UNNEST($1::bigint[], $2::bigint[], $3::text[], $4::text[], \
             $5::text[], $6::text[], $7::text[], $8::bigint[], $9::text[], $10::text[], \
             $11::text[], $12::bigint[], $13::text[], $14::bigint[], $15::text[], $16::text[], \
             $17::text[]) \
             RETURNING id, seq",
            &[
                &seqs,
                &at,
                &route,
                &outcome,
                &user,
                &agent,
                &plan,
                &step,
                &mcp,
                &tool,
                &reason,
                &latency,
                &verdict,
                &dev_latency,
                &receipt,
                &node,
                &actor,
            ],
        )
        .await?;
    let mut by_seq = HashMap::with_capacity(written.len());
    for r in &written {
        by_seq.insert(col::<i64>(r, "seq")?, col::<i64>(r, "id")?);
    }
    seqs.iter()
        .map(|s| {
            by_seq
                .get(s)
                .copied()
                .ok_or_else(|| StoreError::Corrupt(format!("audit row seq {s} not written")))
        })
        .collect()
}

/// One audit row as read.
pub(super) fn audit_from_row(r: &Row) -> StoreResult<AuditRow> {
    Ok(AuditRow {
        id: col(r, "id")?,
        seq: col(r, "seq")?,
        at_ms: col(r, "at_ms")?,
        route: col(r, "route")?,
        outcome: col(r, "outcome")?,
        user_email: col(r, "user_email")?,
        agent_id: col(r, "agent_id")?,
        plan_id: col(r, "plan_id")?,
        step: col(r, "step")?,
        mcp: col(r, "mcp")?,
        tool: col(r, "tool")?,
        reason: col(r, "reason")?,
        latency_us: col(r, "latency_us")?,
        device_verdict: col(r, "device_verdict")?,
        device_latency_us: col(r, "device_latency_us")?,
        receipt: col(r, "receipt")?,
        node: col(r, "node")?,
        actor: col(r, "actor")?,
    })
}

impl AuditStore for PgStore {
    fn audit(&self, mut row: AuditRow) -> StoreFuture<'_, i64> {
        Box::pin(async move {
            if row.node.is_none() {
                row.node = Some(self.node().to_owned());
            }
            let (ack, done) = oneshot::channel();
            self.audit_queue()
                .send((Some(row), ack))
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?;
            done.await
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?
        })
    }

    fn flush_audit(&self) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            let (ack, done) = oneshot::channel();
            self.audit_queue()
                .send((None, ack))
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?;
            done.await
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?
                .map(|_| ())
        })
    }

    fn audit_update<'a>(
        &'a self,
        id: i64,
        outcome: &'a str,
        reason: Option<&'a str>,
        latency_us: i64,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.client().await?;
            c.execute(
                "UPDATE audit SET outcome = $2, reason = $3, latency_us = $4 WHERE id = $1",
                &[&id, &outcome, &reason, &latency_us],
            )
            .await
            .store_err(self)?;
            Ok(())
        })
    }

    fn audit_page(&self, after: AuditCursor, limit: u32) -> StoreFuture<'_, AuditPage> {
        Box::pin(async move {
            let c = self.client().await?;
            let rows = c
                .query(
                    "SELECT * FROM audit WHERE seq > $1 ORDER BY seq LIMIT $2",
                    &[&after.after_seq(), &i64::from(limit)],
                )
                .await
                .store_err(self)?
                .iter()
                .map(audit_from_row)
                .collect::<StoreResult<Vec<_>>>()?;
            let next = rows.last().map_or(after, |r| AuditCursor::past_seq(r.seq));
            Ok(AuditPage { rows, next })
        })
    }
}
