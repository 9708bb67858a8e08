//! [`DelegationStore`] on PostgreSQL: held calls, their approval and their
//! single use, each rule one statement or one transaction.
//! * one pending delegation per held call: the partial unique index
//!   `delegations_one_pending` and `INSERT … ON CONFLICT DO NOTHING`, then
//!   a read in a new statement (READ COMMITTED: it sees the winner);
//! * a decision and its audit row: one transaction, the row written only by
//!   the decider whose conditional `UPDATE … RETURNING` changed the row;
//! * one use per approval, for exactly the call it was given for: one
//!   `UPDATE … RETURNING` whose `WHERE` names every bound field (without a
//!   named id, on a row chosen `FOR UPDATE SKIP LOCKED`).

use super::error::PgResultExt;
use super::{audit, col, typed};
use crate::store::{
    ApprovedCall, ApprovedQuery, AuditRow, Delegation, DelegationDecision, DelegationStatus,
    DelegationStore, NewDelegation, PgStore, StoreFuture, StoreResult,
};
use tokio_postgres::Row;

/// The pending-identity match, as the unique index spells it ($1 tool,
/// $2 plan_id, $3 requester_email, $4 arguments, $5 step).
const SAME_REQUEST: &str = "tool = $1 AND COALESCE(plan_id, '') = COALESCE($2::text, '') \
     AND COALESCE(requester_email, '') = COALESCE($3::text, '') AND arguments = $4 \
     AND COALESCE(step, -1) = COALESCE($5::bigint, -1)";

/// Every bound field of a claim ($1 tool, $2 plan_id, $3 requester_email,
/// $4 step, $5 leaf_hash, $6 args_hash, $7 now).
const BOUND_CALL: &str = "status = 'approved' AND expires_ms >= $7 AND tool = $1 \
     AND plan_id = $2 AND COALESCE(requester_email, '') = COALESCE($3::text, '') \
     AND step = $4 AND leaf_hash = $5 AND args_hash = $6";

/// A delegation as read at `now` (a pending one past expiry is expired).
pub(super) fn delegation_from_row(r: &Row, now: i64) -> StoreResult<Delegation> {
    let mut d = Delegation {
        id: col(r, "id")?,
        status: typed(r, "status", DelegationStatus::read)?,
        tool: col(r, "tool")?,
        mcp: col(r, "mcp")?,
        plan_id: col(r, "plan_id")?,
        requester_email: col(r, "requester_email")?,
        arguments: col(r, "arguments")?,
        amount: col(r, "amount")?,
        reason: col(r, "reason")?,
        approval: col(r, "approval")?,
        step: col(r, "step")?,
        leaf_hash: col(r, "leaf_hash")?,
        args_hash: col(r, "args_hash")?,
        created_ms: col(r, "created_ms")?,
        expires_ms: col(r, "expires_ms")?,
        decided_by: col(r, "decided_by")?,
        executed_ms: col(r, "executed_ms")?,
    };
    d.status = d.status.at(now, d.expires_ms);
    Ok(d)
}

fn one(rows: Option<Row>, now: i64) -> StoreResult<Option<Delegation>> {
    rows.map(|r| delegation_from_row(&r, now)).transpose()
}

impl PgStore {
    /// A delegation by id, on connection `c`.
    pub(super) async fn delegation_on(
        &self,
        c: &tokio_postgres::Client,
        id: &str,
        now: i64,
    ) -> StoreResult<Option<Delegation>> {
        let r = c
            .query_opt("SELECT * FROM delegations WHERE id = $1", &[&id])
            .await
            .store_err(self)?;
        one(r, now)
    }
}

impl DelegationStore for PgStore {
    fn get_or_create_pending<'a>(
        &'a self,
        d: &'a NewDelegation,
        now: i64,
    ) -> StoreFuture<'a, Delegation> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            // A pending one past its expiry no longer holds the request's place.
            tx.execute(
                &format!(
                    "UPDATE delegations SET status = 'expired' \
                     WHERE status = 'pending' AND expires_ms < $6 AND {SAME_REQUEST}"
                ),
                &[
                    &d.tool,
                    &d.plan_id,
                    &d.requester_email,
                    &d.arguments,
                    &d.step,
                    &now,
                ],
            )
            .await
            .store_err(self)?;
            let id = format!("deleg_{}", uuid::Uuid::new_v4().simple());
            // The unique partial index makes this a no-op when one is
            // pending (waiting, if its writer has not committed yet).
            tx.execute(
                "INSERT INTO delegations (id, status, tool, mcp, plan_id, requester_email, \
                 arguments, amount, reason, approval, created_ms, expires_ms, step, leaf_hash, \
                 args_hash) \
                 VALUES ($1,'pending',$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14) \
                 ON CONFLICT DO NOTHING",
                &[
                    &id,
                    &d.tool,
                    &d.mcp,
                    &d.plan_id,
                    &d.requester_email,
                    &d.arguments,
                    &d.amount,
                    &d.reason,
                    &d.approval,
                    &now,
                    &now.saturating_add(d.ttl_ms),
                    &d.step,
                    &d.leaf_hash,
                    &d.args_hash,
                ],
            )
            .await
            .store_err(self)?;
            let r = tx
                .query_one(
                    &format!(
                        "SELECT * FROM delegations WHERE status = 'pending' AND {SAME_REQUEST}"
                    ),
                    &[
                        &d.tool,
                        &d.plan_id,
                        &d.requester_email,
                        &d.arguments,
                        &d.step,
                    ],
                )
                .await
                .store_err(self)?;
            let pending = delegation_from_row(&r, now)?;
            tx.commit().await.store_err(self)?;
            Ok(pending)
        })
    }

    fn get_delegation<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<Delegation>> {
        Box::pin(async move {
            let c = self.client().await?;
            self.delegation_on(&c, id, now).await
        })
    }

    fn decide_delegation<'a>(
        &'a self,
        d: &'a DelegationDecision,
        audit: AuditRow,
    ) -> StoreFuture<'a, Option<(Delegation, bool)>> {
        let to = if d.approve {
            DelegationStatus::Approved
        } else {
            DelegationStatus::Rejected
        };
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let decided = tx
                .query_opt(
                    "UPDATE delegations SET status = $2, decided_by = $3, decided_ms = $4, \
                     decision_reason = $5, \
                     expires_ms = CASE WHEN $2 = 'approved' THEN $4 + (expires_ms - created_ms) \
                       ELSE $4 END \
                     WHERE id = $1 AND status = 'pending' AND expires_ms >= $4 RETURNING *",
                    &[&d.id, &to.as_str(), &d.by, &d.now_ms, &d.reason],
                )
                .await
                .store_err(self)?;
            let out = match decided {
                Some(r) => {
                    let del = delegation_from_row(&r, d.now_ms)?;
                    let row = audit.for_delegation(&del, self.node());
                    audit::insert(&tx, &[&row]).await.store_err(self)?;
                    Some((del, true))
                }
                None => {
                    let r = tx
                        .query_opt("SELECT * FROM delegations WHERE id = $1", &[&d.id])
                        .await
                        .store_err(self)?;
                    one(r, d.now_ms)?.map(|del| (del, false))
                }
            };
            tx.commit().await.store_err(self)?;
            Ok(out)
        })
    }

    fn claim_approved<'a>(
        &'a self,
        call: &'a ApprovedCall,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        Box::pin(async move {
            let c = self.client().await?;
            let bound: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
                &call.tool,
                &call.plan_id,
                &call.requester_email,
                &call.step,
                &call.leaf_hash,
                &call.args_hash,
                &now,
                &call.delegation_id,
            ];
            let sql = if call.delegation_id.is_some() {
                format!(
                    "UPDATE delegations SET status = 'executed', executed_ms = $7 \
                     WHERE id = $8 AND {BOUND_CALL} RETURNING *"
                )
            } else {
                format!(
                    "UPDATE delegations SET status = 'executed', executed_ms = $7 \
                     WHERE id = (SELECT id FROM delegations WHERE $8::text IS NULL \
                       AND {BOUND_CALL} ORDER BY decided_ms DESC LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     AND status = 'approved' RETURNING *"
                )
            };
            let claimed = c.query_opt(&sql, &bound).await;
            one(claimed.store_err(self)?, now)
        })
    }

    fn mark_executed<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.execute(
                "UPDATE delegations SET status = 'executed', executed_ms = $2 \
                 WHERE id = $1 AND status = 'approved' AND expires_ms >= $2",
                &[&id, &now],
            )
            .await
            .store_err(self)?
                == 1)
        })
    }

    fn find_approved<'a>(
        &'a self,
        q: &'a ApprovedQuery,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_opt(
                    "SELECT * FROM delegations WHERE status = 'approved' AND expires_ms >= $5 \
                     AND tool = $1 AND ($2::text IS NULL OR plan_id = $2) \
                     AND ($3::text IS NULL OR requester_email = $3) \
                     AND ($4::float8 IS NULL OR amount = $4) \
                     ORDER BY decided_ms DESC LIMIT 1",
                    &[&q.tool, &q.plan_id, &q.email, &q.amount, &now],
                )
                .await
                .store_err(self)?;
            one(r, now)
        })
    }

    fn list_delegations(
        &self,
        status: Option<DelegationStatus>,
        now: i64,
    ) -> StoreFuture<'_, Vec<Delegation>> {
        Box::pin(async move {
            let c = self.client().await?;
            let all = c
                .query(
                    "SELECT * FROM delegations ORDER BY created_ms DESC LIMIT 500",
                    &[],
                )
                .await
                .store_err(self)?
                .iter()
                .map(|r| delegation_from_row(r, now))
                .collect::<StoreResult<Vec<_>>>()?;
            // Filtered after reading: a pending row past expiry reads as expired.
            Ok(all
                .into_iter()
                .filter(|d| status.is_none_or(|s| d.status == s))
                .collect())
        })
    }

    fn count_pending_delegations(&self, now: i64) -> StoreFuture<'_, u64> {
        Box::pin(async move {
            let c = self.client().await?;
            let n: i64 = c
                .query_one(
                    "SELECT count(*) FROM delegations WHERE status = 'pending' AND expires_ms >= $1",
                    &[&now],
                )
                .await
                .store_err(self)?
                .get(0);
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }
}
