//! [`DelegationStore`] on SQLite: held calls, their approval and their
//! single use, each rule one statement or one `BEGIN IMMEDIATE` transaction.
//! * one pending delegation per held call: the partial unique index
//!   `delegations_one_pending` (tool, plan, requester, step, arguments) and
//!   `INSERT … ON CONFLICT DO NOTHING`;
//! * a decision and its audit row: one transaction, the row written only by
//!   the decider whose conditional `UPDATE … RETURNING` changed the row;
//! * one use per approval, for exactly the call it was given for: one
//!   `UPDATE … RETURNING` whose `WHERE` names every bound field.

use super::audit;
use super::typed;
use crate::store::{
    ApprovedCall, ApprovedQuery, AuditRow, Delegation, DelegationDecision, DelegationStatus,
    DelegationStore, NewDelegation, SqliteStore, StoreFuture,
};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

/// A delegation as read at `now` (a pending one past its expiry, and an
/// approved one past its use-by time, read as expired).
pub(super) fn delegation_from_row(r: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<Delegation> {
    let mut d = Delegation {
        id: r.get("id")?,
        status: typed(r, "status", DelegationStatus::read)?,
        tool: r.get("tool")?,
        mcp: r.get("mcp")?,
        plan_id: r.get("plan_id")?,
        requester_email: r.get("requester_email")?,
        arguments: r.get("arguments")?,
        amount: r.get("amount")?,
        reason: r.get("reason")?,
        approval: r.get("approval")?,
        step: r.get("step")?,
        leaf_hash: r.get("leaf_hash")?,
        args_hash: r.get("args_hash")?,
        created_ms: r.get("created_ms")?,
        expires_ms: r.get("expires_ms")?,
        decided_by: r.get("decided_by")?,
        executed_ms: r.get("executed_ms")?,
    };
    d.status = d.status.at(now, d.expires_ms);
    Ok(d)
}

/// The pending-identity match, as the unique index `delegations_one_pending`
/// spells it (?1 tool, ?2 plan_id, ?3 requester_email, ?4 arguments,
/// ?5 step).
const SAME_REQUEST: &str = "tool = ?1 AND COALESCE(plan_id, '') = COALESCE(?2, '') \
     AND COALESCE(requester_email, '') = COALESCE(?3, '') AND arguments = ?4 \
     AND COALESCE(step, -1) = COALESCE(?5, -1)";

/// Every bound field of a claim (?1 tool, ?2 plan_id, ?3 requester_email,
/// ?4 step, ?5 leaf_hash, ?6 args_hash, ?7 now).
const BOUND_CALL: &str = "status = 'approved' AND expires_ms >= ?7 AND tool = ?1 \
     AND plan_id = ?2 AND COALESCE(requester_email, '') = COALESCE(?3, '') \
     AND step = ?4 AND leaf_hash = ?5 AND args_hash = ?6";

impl DelegationStore for SqliteStore {
    fn get_or_create_pending<'a>(
        &'a self,
        d: &'a NewDelegation,
        now: i64,
    ) -> StoreFuture<'a, Delegation> {
        let d = d.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let same = params![d.tool, d.plan_id, d.requester_email, d.arguments, d.step];
            // A pending one past its expiry no longer holds the request's place.
            tx.execute(
                &format!(
                    "UPDATE delegations SET status = 'expired' \
                     WHERE status = 'pending' AND expires_ms < ?6 AND {SAME_REQUEST}"
                ),
                params![
                    d.tool,
                    d.plan_id,
                    d.requester_email,
                    d.arguments,
                    d.step,
                    now
                ],
            )?;
            let id = format!("deleg_{}", uuid::Uuid::new_v4().simple());
            // The unique partial index makes this a no-op when one is pending.
            tx.execute(
                "INSERT INTO delegations (id, status, tool, mcp, plan_id, requester_email, \
                 arguments, amount, reason, approval, created_ms, expires_ms, step, leaf_hash, \
                 args_hash) \
                 VALUES (?1,'pending',?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14) \
                 ON CONFLICT DO NOTHING",
                params![
                    id,
                    d.tool,
                    d.mcp,
                    d.plan_id,
                    d.requester_email,
                    d.arguments,
                    d.amount,
                    d.reason,
                    d.approval,
                    now,
                    now.saturating_add(d.ttl_ms),
                    d.step,
                    d.leaf_hash,
                    d.args_hash
                ],
            )?;
            let pending = tx.query_row(
                &format!("SELECT * FROM delegations WHERE status = 'pending' AND {SAME_REQUEST}"),
                same,
                |r| delegation_from_row(r, now),
            )?;
            tx.commit()?;
            Ok(pending)
        })
    }

    fn get_delegation<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<Delegation>> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT * FROM delegations WHERE id = ?1",
                params![id],
                |r| delegation_from_row(r, now),
            )
            .optional()?)
        })
    }

    fn decide_delegation<'a>(
        &'a self,
        d: &'a DelegationDecision,
        audit: AuditRow,
    ) -> StoreFuture<'a, Option<(Delegation, bool)>> {
        let d = d.clone();
        let node = self.node().to_owned();
        let to = if d.approve {
            DelegationStatus::Approved
        } else {
            DelegationStatus::Rejected
        };
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let decided = tx
                .query_row(
                    "UPDATE delegations SET status = ?2, decided_by = ?3, decided_ms = ?4, \
                     decision_reason = ?5, \
                     expires_ms = CASE WHEN ?2 = 'approved' THEN ?4 + (expires_ms - created_ms) \
                       ELSE ?4 END \
                     WHERE id = ?1 AND status = 'pending' AND expires_ms >= ?4 RETURNING *",
                    params![d.id, to.as_str(), d.by, d.now_ms, d.reason],
                    |r| delegation_from_row(r, d.now_ms),
                )
                .optional()?;
            let out = match decided {
                Some(del) => {
                    let row = audit.for_delegation(&del, &node);
                    audit::insert(&tx, [&row])?;
                    Some((del, true))
                }
                None => tx
                    .query_row(
                        "SELECT * FROM delegations WHERE id = ?1",
                        params![d.id],
                        |r| delegation_from_row(r, d.now_ms),
                    )
                    .optional()?
                    .map(|del| (del, false)),
            };
            tx.commit()?;
            Ok(out)
        })
    }

    fn claim_approved<'a>(
        &'a self,
        call: &'a ApprovedCall,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        let call = call.clone();
        self.run(move |c| {
            let bound = params![
                call.tool,
                call.plan_id,
                call.requester_email,
                call.step,
                call.leaf_hash,
                call.args_hash,
                now,
                call.delegation_id
            ];
            let sql = if call.delegation_id.is_some() {
                format!(
                    "UPDATE delegations SET status = 'executed', executed_ms = ?7 \
                     WHERE id = ?8 AND {BOUND_CALL} RETURNING *"
                )
            } else {
                format!(
                    "UPDATE delegations SET status = 'executed', executed_ms = ?7 \
                     WHERE id = (SELECT id FROM delegations WHERE ?8 IS NULL AND {BOUND_CALL} \
                       ORDER BY decided_ms DESC LIMIT 1) \
                     AND status = 'approved' RETURNING *"
                )
            };
            Ok(c.query_row(&sql, bound, |r| delegation_from_row(r, now))
                .optional()?)
        })
    }

    fn mark_executed<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, bool> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(c.execute(
                "UPDATE delegations SET status = 'executed', executed_ms = ?2 \
                 WHERE id = ?1 AND status = 'approved' AND expires_ms >= ?2",
                params![id, now],
            )? == 1)
        })
    }

    fn find_approved<'a>(
        &'a self,
        q: &'a ApprovedQuery,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        let q = q.clone();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT * FROM delegations WHERE status = 'approved' AND expires_ms >= ?5 \
                 AND tool = ?1 AND (?2 IS NULL OR plan_id = ?2) \
                 AND (?3 IS NULL OR requester_email = ?3) AND (?4 IS NULL OR amount = ?4) \
                 ORDER BY decided_ms DESC LIMIT 1",
                params![q.tool, q.plan_id, q.email, q.amount, now],
                |r| delegation_from_row(r, now),
            )
            .optional()?)
        })
    }

    fn list_delegations(
        &self,
        status: Option<DelegationStatus>,
        now: i64,
    ) -> StoreFuture<'_, Vec<Delegation>> {
        self.run(move |c| {
            let mut st =
                c.prepare("SELECT * FROM delegations ORDER BY created_ms DESC LIMIT 500")?;
            let all = st
                .query_map([], |r| delegation_from_row(r, now))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // Filtered after reading: a row past its expiry reads as expired.
            Ok(all
                .into_iter()
                .filter(|d| status.is_none_or(|s| d.status == s))
                .collect())
        })
    }

    fn count_pending_delegations(&self, now: i64) -> StoreFuture<'_, u64> {
        self.run(move |c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM delegations WHERE status = 'pending' AND expires_ms >= ?1",
                params![now],
                |r| r.get(0),
            )?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }
}
