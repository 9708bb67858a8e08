//! [`DelegationStore`] on PostgreSQL: held calls, their approval and their
//! single use, each rule one statement or one transaction.
//! * one pending delegation per held call: the partial unique index
//!   `delegations_one_pending` and `INSERT … ON CONFLICT DO NOTHING`, then
//!   a read in a new statement (READ COMMITTED: it sees the winner);
//! * one use per approval: one `UPDATE … RETURNING` on a row chosen `FOR
//!   UPDATE SKIP LOCKED` (a concurrent claim skips it and takes another
//!   approval, or none).

use super::postgres::{col, typed};
use super::{
    ApprovedCall, Delegation, DelegationStatus, DelegationStore, NewDelegation, PgStore,
    StoreFuture, StoreResult,
};
use tokio_postgres::Row;

/// The pending-identity match, as the unique index spells it ($1 tool,
/// $2 plan_id, $3 requester_email, $4 arguments).
const SAME_REQUEST: &str = "tool = $1 AND COALESCE(plan_id, '') = COALESCE($2::text, '') \
     AND COALESCE(requester_email, '') = COALESCE($3::text, '') AND arguments = $4";

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
        created_ms: col(r, "created_ms")?,
        expires_ms: col(r, "expires_ms")?,
        decided_by: col(r, "decided_by")?,
        executed_ms: col(r, "executed_ms")?,
    };
    if d.status == DelegationStatus::Pending && now > d.expires_ms {
        d.status = DelegationStatus::Expired;
    }
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
            .map_err(|e| self.err(e))?;
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
            let tx = c.transaction().await.map_err(|e| self.err(e))?;
            // A pending one past its expiry no longer holds the request's place.
            tx.execute(
                &format!(
                    "UPDATE delegations SET status = 'expired' \
                     WHERE status = 'pending' AND expires_ms < $5 AND {SAME_REQUEST}"
                ),
                &[&d.tool, &d.plan_id, &d.requester_email, &d.arguments, &now],
            )
            .await
            .map_err(|e| self.err(e))?;
            let id = format!("deleg_{}", uuid::Uuid::new_v4().simple());
            // The unique partial index makes this a no-op when one is
            // pending (waiting, if its writer has not committed yet).
            tx.execute(
                "INSERT INTO delegations (id, status, tool, mcp, plan_id, requester_email, \
                 arguments, amount, reason, approval, created_ms, expires_ms) \
                 VALUES ($1,'pending',$2,$3,$4,$5,$6,$7,$8,$9,$10,$11) ON CONFLICT DO NOTHING",
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
                ],
            )
            .await
            .map_err(|e| self.err(e))?;
            let r = tx
                .query_one(
                    &format!(
                        "SELECT * FROM delegations WHERE status = 'pending' AND {SAME_REQUEST}"
                    ),
                    &[&d.tool, &d.plan_id, &d.requester_email, &d.arguments],
                )
                .await
                .map_err(|e| self.err(e))?;
            let pending = delegation_from_row(&r, now)?;
            tx.commit().await.map_err(|e| self.err(e))?;
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
        id: &'a str,
        approve: bool,
        by: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        let to = if approve {
            DelegationStatus::Approved
        } else {
            DelegationStatus::Rejected
        };
        Box::pin(async move {
            let c = self.client().await?;
            let decided = c
                .query_opt(
                    "UPDATE delegations SET status = $2, decided_by = $3, decided_ms = $4 \
                     WHERE id = $1 AND status = 'pending' AND expires_ms >= $4 RETURNING *",
                    &[&id, &to.as_str(), &by, &now],
                )
                .await
                .map_err(|e| self.err(e))?;
            if decided.is_some() {
                return one(decided, now);
            }
            self.delegation_on(&c, id, now).await
        })
    }

    fn claim_approved<'a>(
        &'a self,
        call: &'a ApprovedCall,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        Box::pin(async move {
            let c = self.client().await?;
            let claimed = if let Some(id) = &call.delegation_id {
                c.query_opt(
                    "UPDATE delegations SET status = 'executed', executed_ms = $4 \
                     WHERE id = $1 AND status = 'approved' AND tool = $2 \
                     AND (plan_id IS NULL OR plan_id = $3) RETURNING *",
                    &[id, &call.tool, &call.plan_id, &now],
                )
                .await
            } else {
                c.query_opt(
                    "UPDATE delegations SET status = 'executed', executed_ms = $4 \
                     WHERE id = (SELECT id FROM delegations WHERE status = 'approved' \
                       AND tool = $1 AND plan_id = $2 \
                       AND ($3::text IS NULL OR requester_email = $3) \
                       ORDER BY decided_ms DESC LIMIT 1 FOR UPDATE SKIP LOCKED) \
                     AND status = 'approved' RETURNING *",
                    &[&call.tool, &call.plan_id, &call.requester_email, &now],
                )
                .await
            };
            one(claimed.map_err(|e| self.err(e))?, now)
        })
    }

    fn mark_executed<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.execute(
                "UPDATE delegations SET status = 'executed', executed_ms = $2 \
                 WHERE id = $1 AND status = 'approved'",
                &[&id, &now],
            )
            .await
            .map_err(|e| self.err(e))?
                == 1)
        })
    }

    fn find_approved<'a>(
        &'a self,
        tool: &'a str,
        plan_id: Option<&'a str>,
        email: Option<&'a str>,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_opt(
                    "SELECT * FROM delegations WHERE status = 'approved' AND tool = $1 \
                     AND ($2::text IS NULL OR plan_id = $2) \
                     AND ($3::text IS NULL OR requester_email = $3) \
                     ORDER BY decided_ms DESC LIMIT 1",
                    &[&tool, &plan_id, &email],
                )
                .await
                .map_err(|e| self.err(e))?;
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
                .map_err(|e| self.err(e))?
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
}
