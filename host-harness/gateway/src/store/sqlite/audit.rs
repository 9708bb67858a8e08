//! The audit group-commit writer: one thread, one connection. Each request
//! hands its row over and waits until the transaction holding it is on disk,
//! so a row is durable before the response goes out while concurrent
//! requests share one fsync. The writer assigns each row's `seq` inside that
//! transaction (`BEGIN IMMEDIATE`, so two gateways on one file never hand
//! out the same one): pages follow `seq`, never rowid order.

use crate::store::audit_queue::{Job, acknowledge};
use crate::store::{AuditRow, StoreError};
use rusqlite::{Connection, TransactionBehavior, params};
use std::sync::mpsc;

/// Most rows in one transaction.
const BATCH: usize = 512;

/// Takes every row waiting, writes them in one transaction, acknowledges each.
pub(super) fn run(mut conn: Connection, rx: mpsc::Receiver<Job>) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(more) => batch.push(more),
                Err(_) => break,
            }
        }
        let written = write(&mut conn, &batch).map_err(StoreError::from);
        acknowledge(batch, written);
    }
}

fn write(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<Vec<i64>> {
    if batch.iter().all(|(r, _)| r.is_none()) {
        return Ok(Vec::new());
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let ids = insert(&tx, batch.iter().filter_map(|(r, _)| r.as_ref()))?;
    tx.commit()?;
    Ok(ids)
}

/// Appends `rows` inside `tx` (which must be `BEGIN IMMEDIATE`, so `seq` is
/// taken under the write lock), each with the next `seq`; returns their row
/// ids. The writer's batches and the audited operations
/// ([`crate::store::DelegationStore::decide_delegation`]) both write through here.
pub(super) fn insert<'r>(
    tx: &rusqlite::Transaction<'_>,
    rows: impl IntoIterator<Item = &'r AuditRow>,
) -> rusqlite::Result<Vec<i64>> {
    let mut seq: i64 = tx.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit", [], |r| r.get(0))?;
    let mut ids = Vec::new();
    let mut st = tx.prepare_cached(
        "INSERT INTO audit (seq, at_ms, route, outcome, user_email, agent_id, plan_id, step, \
         mcp, tool, reason, latency_us, device_verdict, device_latency_us, receipt, node, actor) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)",
    )?;
    for r in rows {
        seq = seq.saturating_add(1);
        st.execute(params![
            seq,
            r.at_ms,
            r.route,
            r.outcome,
            r.user_email,
            r.agent_id,
            r.plan_id,
            r.step,
            r.mcp,
            r.tool,
            r.reason,
            r.latency_us,
            r.device_verdict,
            r.device_latency_us,
            r.receipt,
            r.node,
            r.actor
        ])?;
        ids.push(tx.last_insert_rowid());
    }
    Ok(ids)
}
