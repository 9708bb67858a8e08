//! [`IdempotencyStore`] on SQLite: a lease per reservation with a fencing
//! token (`lease`, bumped by each takeover) and a heartbeat (`heartbeat_ms`,
//! moved on by the holder while it works). Reserving is one `BEGIN
//! IMMEDIATE` transaction; renewing and releasing are one statement each,
//! conditional on the lease; completing a mint (its plan and its answer) is
//! one `BEGIN IMMEDIATE` transaction that first checks the lease, so a
//! holder that was taken over stores nothing.

use crate::store::{
    IdemKey, IdempotencyStore, Lease, PlanRecord, Reservation, SqliteStore, StoreError,
    StoreFuture, StoredAnswer,
};
use armoriq_common::time::now_ms;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

/// Inserts a minted plan (`ConstraintViolation`, read as `Conflict`, if its
/// id exists). Shared with [`crate::store::PlanStore::put_plan`].
pub(super) fn insert_plan(c: &Connection, p: &PlanRecord) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO plans (plan_id, plan_hash, merkle_root, plan_json, step_count, \
         intent_reference, user_email, agent_id, expires_at, status, created_ms) \
         VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
        params![
            p.plan_id,
            p.plan_hash,
            p.merkle_root,
            p.plan_json,
            i64::try_from(p.step_count).unwrap_or(i64::MAX),
            p.intent_reference,
            p.user_email,
            p.agent_id,
            p.expires_at,
            p.status.as_str(),
            now_ms()
        ],
    )
}

impl IdempotencyStore for SqliteStore {
    fn reserve_idempotency_key<'a>(
        &'a self,
        key: &'a IdemKey,
        now: i64,
        stale_after_ms: i64,
    ) -> StoreFuture<'a, Reservation> {
        let k = key.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let inserted = tx.execute(
                "INSERT INTO idempotency (key_id, route, idem, status, body, created_ms, state, \
                 lease, heartbeat_ms) VALUES (?1, ?2, ?3, 0, '', ?4, 'in_flight', 1, ?4) \
                 ON CONFLICT DO NOTHING",
                params![k.key_id, k.route, k.idem, now],
            )?;
            let lease: Option<i64> = if inserted == 1 {
                Some(1)
            } else {
                // Its holder has not renewed it for `stale_after_ms`: it is
                // presumed dead, and fenced out by the larger lease.
                tx.query_row(
                    "UPDATE idempotency SET lease = lease + 1, heartbeat_ms = ?4 \
                     WHERE key_id = ?1 AND route = ?2 AND idem = ?3 AND state = 'in_flight' \
                     AND heartbeat_ms < ?5 RETURNING lease",
                    params![
                        k.key_id,
                        k.route,
                        k.idem,
                        now,
                        now.saturating_sub(stale_after_ms)
                    ],
                    |r| r.get(0),
                )
                .optional()?
            };
            let r = if let Some(l) = lease {
                Reservation::Won(Lease(l))
            } else {
                let (state, status, body): (String, i64, String) = tx.query_row(
                    "SELECT state, status, body FROM idempotency \
                     WHERE key_id = ?1 AND route = ?2 AND idem = ?3",
                    params![k.key_id, k.route, k.idem],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )?;
                match state.as_str() {
                    "in_flight" => Reservation::InFlight,
                    "done" => Reservation::Replay(StoredAnswer {
                        status: u16::try_from(status).map_err(|_| {
                            StoreError::Corrupt(format!("stored HTTP status {status}"))
                        })?,
                        body,
                    }),
                    other => {
                        return Err(StoreError::Corrupt(format!(
                            "unknown idempotency state {other:?}"
                        )));
                    }
                }
            };
            tx.commit()?;
            Ok(r)
        })
    }

    fn renew_idempotency_key<'a>(
        &'a self,
        key: &'a IdemKey,
        lease: Lease,
        now: i64,
    ) -> StoreFuture<'a, bool> {
        let k = key.clone();
        self.run(move |c| {
            Ok(c.execute(
                "UPDATE idempotency SET heartbeat_ms = MAX(heartbeat_ms, ?5) \
                 WHERE key_id = ?1 AND route = ?2 AND idem = ?3 AND state = 'in_flight' \
                 AND lease = ?4",
                params![k.key_id, k.route, k.idem, lease.0, now],
            )? == 1)
        })
    }

    fn complete_mint<'a>(
        &'a self,
        key: &'a IdemKey,
        lease: Lease,
        plan: Option<&'a PlanRecord>,
        answer: &'a StoredAnswer,
    ) -> StoreFuture<'a, bool> {
        let (k, p, a) = (key.clone(), plan.cloned(), answer.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ours = tx.execute(
                "UPDATE idempotency SET state = 'done', status = ?5, body = ?6 \
                 WHERE key_id = ?1 AND route = ?2 AND idem = ?3 AND state = 'in_flight' \
                 AND lease = ?4",
                params![
                    k.key_id,
                    k.route,
                    k.idem,
                    lease.0,
                    i64::from(a.status),
                    a.body
                ],
            )? == 1;
            if !ours {
                // Fenced out (or already completed or released): no effect.
                return Ok(false);
            }
            if let Some(p) = &p {
                insert_plan(&tx, p)?;
            }
            tx.commit()?;
            Ok(true)
        })
    }

    fn release_idempotency_key<'a>(
        &'a self,
        key: &'a IdemKey,
        lease: Lease,
    ) -> StoreFuture<'a, ()> {
        let k = key.clone();
        self.run(move |c| {
            c.execute(
                "DELETE FROM idempotency WHERE key_id = ?1 AND route = ?2 AND idem = ?3 \
                 AND state = 'in_flight' AND lease = ?4",
                params![k.key_id, k.route, k.idem, lease.0],
            )?;
            Ok(())
        })
    }
}
