//! [`IdempotencyStore`] on PostgreSQL: a lease per reservation with a
//! fencing token (`lease`, bumped by each takeover) and a heartbeat
//! (`heartbeat_ms`, moved on by the holder while it works).
//!
//! Every write is conditional on the row as it is when the row lock is
//! held: a takeover (`… AND heartbeat_ms < $stale`), a renewal and a release
//! (`… AND lease = $lease`) and a completion (`… AND state = 'in_flight'
//! AND lease = $lease`, then the plan's insert, in one transaction) that
//! race wait on one another's row lock and then re-read the row (READ
//! COMMITTED), so of a takeover and a completion exactly one takes effect,
//! and a holder that was taken over stores no plan and no answer.

use super::error::PgResultExt;
use super::{col, steps};
use crate::store::{
    IdemKey, IdempotencyStore, Lease, PgStore, PlanRecord, Reservation, StoreError, StoreFuture,
    StoredAnswer,
};
use armoriq_common::time::now_ms;

/// Inserts a minted plan (`Conflict` if its id exists). Shared with
/// [`crate::store::PlanStore::put_plan`].
pub(super) const INSERT_PLAN: &str = "INSERT INTO plans (plan_id, plan_hash, merkle_root, \
     plan_json, step_count, intent_reference, user_email, agent_id, expires_at, status, \
     created_ms) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11)";

/// Runs [`INSERT_PLAN`] for `p` on `c` (a connection or a transaction).
pub(super) async fn insert_plan(
    c: &impl tokio_postgres::GenericClient,
    p: &PlanRecord,
) -> Result<u64, tokio_postgres::Error> {
    let now = now_ms();
    c.execute(
        INSERT_PLAN,
        &[
            &p.plan_id,
            &p.plan_hash,
            &p.merkle_root,
            &p.plan_json,
            &steps(p),
            &p.intent_reference,
            &p.user_email,
            &p.agent_id,
            &p.expires_at,
            &p.status.as_str(),
            &now,
        ],
    )
    .await
}

impl IdempotencyStore for PgStore {
    fn reserve_idempotency_key<'a>(
        &'a self,
        k: &'a IdemKey,
        now: i64,
        stale_after_ms: i64,
    ) -> StoreFuture<'a, Reservation> {
        Box::pin(async move {
            let mut c = self.client().await?;
            // The row can vanish between our insert and our read (its holder
            // released it): then the key is free again; try once more.
            for _ in 0..8 {
                let tx = c.transaction().await.store_err(self)?;
                let inserted = tx
                    .execute(
                        "INSERT INTO idempotency (key_id, route, idem, status, body, created_ms, \
                         state, lease, heartbeat_ms) \
                         VALUES ($1, $2, $3, 0, '', $4, 'in_flight', 1, $4) ON CONFLICT DO NOTHING",
                        &[&k.key_id, &k.route, &k.idem, &now],
                    )
                    .await
                    .store_err(self)?;
                // A concurrent taker-over, renewer or completer waits on the
                // row lock, then sees the fresh heartbeat (or the new lease,
                // or `done`) and does nothing.
                let lease: Option<i64> = if inserted == 1 {
                    Some(1)
                } else {
                    match tx
                        .query_opt(
                            "UPDATE idempotency SET lease = lease + 1, heartbeat_ms = $4 \
                             WHERE key_id = $1 AND route = $2 AND idem = $3 \
                             AND state = 'in_flight' AND heartbeat_ms < $5 RETURNING lease",
                            &[
                                &k.key_id,
                                &k.route,
                                &k.idem,
                                &now,
                                &now.saturating_sub(stale_after_ms),
                            ],
                        )
                        .await
                        .store_err(self)?
                    {
                        Some(row) => Some(col(&row, "lease")?),
                        None => None,
                    }
                };
                let r = if let Some(l) = lease {
                    Reservation::Won(Lease(l))
                } else {
                    let Some(row) = tx
                        .query_opt(
                            "SELECT state, status, body FROM idempotency \
                             WHERE key_id = $1 AND route = $2 AND idem = $3",
                            &[&k.key_id, &k.route, &k.idem],
                        )
                        .await
                        .store_err(self)?
                    else {
                        tx.rollback().await.store_err(self)?;
                        continue;
                    };
                    let state: String = col(&row, "state")?;
                    let status: i64 = col(&row, "status")?;
                    match state.as_str() {
                        "in_flight" => Reservation::InFlight,
                        "done" => Reservation::Replay(StoredAnswer {
                            status: u16::try_from(status).map_err(|_| {
                                StoreError::Corrupt(format!("stored HTTP status {status}"))
                            })?,
                            body: col(&row, "body")?,
                        }),
                        other => {
                            return Err(StoreError::Corrupt(format!(
                                "unknown idempotency state {other:?}"
                            )));
                        }
                    }
                };
                tx.commit().await.store_err(self)?;
                return Ok(r);
            }
            Err(StoreError::Unavailable(
                "idempotency key kept changing under this request".into(),
            ))
        })
    }

    fn renew_idempotency_key<'a>(
        &'a self,
        k: &'a IdemKey,
        lease: Lease,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let c = self.client().await?;
            Ok(c.execute(
                "UPDATE idempotency SET heartbeat_ms = GREATEST(heartbeat_ms, $5) \
                 WHERE key_id = $1 AND route = $2 AND idem = $3 AND state = 'in_flight' \
                 AND lease = $4",
                &[&k.key_id, &k.route, &k.idem, &lease.0, &now],
            )
            .await
            .store_err(self)?
                == 1)
        })
    }

    fn complete_mint<'a>(
        &'a self,
        k: &'a IdemKey,
        lease: Lease,
        plan: Option<&'a PlanRecord>,
        a: &'a StoredAnswer,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let ours = tx
                .execute(
                    "UPDATE idempotency SET state = 'done', status = $5, body = $6 \
                     WHERE key_id = $1 AND route = $2 AND idem = $3 AND state = 'in_flight' \
                     AND lease = $4",
                    &[
                        &k.key_id,
                        &k.route,
                        &k.idem,
                        &lease.0,
                        &i64::from(a.status),
                        &a.body,
                    ],
                )
                .await
                .store_err(self)?
                == 1;
            if !ours {
                // Fenced out (or already completed or released): no effect.
                tx.rollback().await.store_err(self)?;
                return Ok(false);
            }
            if let Some(p) = plan {
                insert_plan(&*tx, p).await.store_err(self)?;
            }
            tx.commit().await.store_err(self)?;
            Ok(true)
        })
    }

    fn release_idempotency_key<'a>(&'a self, k: &'a IdemKey, lease: Lease) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.client().await?;
            c.execute(
                "DELETE FROM idempotency WHERE key_id = $1 AND route = $2 AND idem = $3 \
                 AND state = 'in_flight' AND lease = $4",
                &[&k.key_id, &k.route, &k.idem, &lease.0],
            )
            .await
            .store_err(self)?;
            Ok(())
        })
    }
}
