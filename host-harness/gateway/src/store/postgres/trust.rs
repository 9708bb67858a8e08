//! [`TrustStore`] on PostgreSQL. Re-anchoring is a compare-and-swap on the
//! plan row (`UPDATE … WHERE plan_hash = $from`: a concurrent second one
//! waits on the row lock, then finds the new hash and changes nothing);
//! revocations announce themselves with `pg_notify` in their transaction.

use super::error::PgResultExt;
use super::notify;
use super::{col, steps};
use crate::store::trust::{TrustKind, TrustRecord, TrustStore};
use crate::store::{Change, PgStore, PlanRecord, StoreError, StoreFuture, StoreResult};
use tokio_postgres::Row;

fn record_from_row(r: &Row) -> StoreResult<TrustRecord> {
    let kind: String = col(r, "kind")?;
    Ok(TrustRecord {
        id: col(r, "id")?,
        kind: TrustKind::parse(&kind)
            .ok_or_else(|| StoreError::Corrupt(format!("trust kind {kind:?}")))?,
        plan_id: col(r, "plan_id")?,
        record_json: col(r, "record_json")?,
        signature: col(r, "signature")?,
        previous_plan_hash: col(r, "previous_plan_hash")?,
        plan_hash: col(r, "plan_hash")?,
        created_ms: col(r, "created_ms")?,
        expires_at: col(r, "expires_at")?,
        revoked_ms: col(r, "revoked_ms")?,
    })
}

const INSERT: &str = "INSERT INTO trust_records (id, kind, plan_id, record_json, signature, \
     previous_plan_hash, plan_hash, created_ms, expires_at, revoked_ms) \
     VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10)";

async fn insert(
    c: &tokio_postgres::Transaction<'_>,
    r: &TrustRecord,
) -> Result<u64, tokio_postgres::Error> {
    c.execute(
        INSERT,
        &[
            &r.id,
            &r.kind.as_str(),
            &r.plan_id,
            &r.record_json,
            &r.signature,
            &r.previous_plan_hash,
            &r.plan_hash,
            &r.created_ms,
            &r.expires_at,
            &r.revoked_ms,
        ],
    )
    .await
}

impl TrustStore for PgStore {
    fn put_trust_record<'a>(&'a self, r: &'a TrustRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            insert(&tx, r).await.store_err(self)?;
            tx.commit().await.store_err(self)?;
            Ok(())
        })
    }

    fn get_trust_record<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<TrustRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query_opt("SELECT * FROM trust_records WHERE id = $1", &[&id])
                .await
                .store_err(self)?
                .as_ref()
                .map(record_from_row)
                .transpose()
        })
    }

    fn plan_trust_records<'a>(&'a self, plan_id: &'a str) -> StoreFuture<'a, Vec<TrustRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query(
                "SELECT * FROM trust_records WHERE plan_id = $1 ORDER BY created_ms, ord",
                &[&plan_id],
            )
            .await
            .store_err(self)?
            .iter()
            .map(record_from_row)
            .collect()
        })
    }

    fn reanchor_plan<'a>(
        &'a self,
        from: &'a str,
        p: &'a PlanRecord,
        r: &'a TrustRecord,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let n = tx
                .execute(
                    "UPDATE plans SET plan_hash = $2, merkle_root = $3, plan_json = $4, \
                     step_count = $5 WHERE plan_id = $1 AND plan_hash = $6 AND status = 'active'",
                    &[
                        &p.plan_id,
                        &p.plan_hash,
                        &p.merkle_root,
                        &p.plan_json,
                        &steps(p),
                        &from,
                    ],
                )
                .await
                .store_err(self)?;
            if n != 1 {
                tx.rollback().await.store_err(self)?;
                return Ok(false);
            }
            insert(&tx, r).await.store_err(self)?;
            // Nodes caching the plan must read it again.
            notify::notify(&tx, &Change::Plan(p.plan_id.clone()))
                .await
                .store_err(self)?;
            tx.commit().await.store_err(self)?;
            Ok(true)
        })
    }

    fn revoke_trust_record<'a>(&'a self, id: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let revoked = tx
                .execute(
                    "UPDATE trust_records SET revoked_ms = $2 WHERE id = $1 \
                     AND kind IN ('delegate', 'delegate_subtree') AND revoked_ms IS NULL",
                    &[&id, &now_ms],
                )
                .await
                .store_err(self)?
                == 1;
            if revoked {
                notify::notify(&tx, &Change::Trust(id.to_owned()))
                    .await
                    .store_err(self)?;
            }
            tx.commit().await.store_err(self)?;
            Ok(revoked)
        })
    }

    fn revoke_plan_cascade<'a>(
        &'a self,
        plan_id: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<u64>> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            if tx
                .execute(
                    "UPDATE plans SET status = 'revoked' WHERE plan_id = $1",
                    &[&plan_id],
                )
                .await
                .store_err(self)?
                != 1
            {
                tx.rollback().await.store_err(self)?;
                return Ok(None);
            }
            let n = tx
                .execute(
                    "UPDATE trust_records SET revoked_ms = $2 WHERE plan_id = $1 \
                     AND kind IN ('delegate', 'delegate_subtree') AND revoked_ms IS NULL",
                    &[&plan_id, &now_ms],
                )
                .await
                .store_err(self)?;
            notify::notify(&tx, &Change::Plan(plan_id.to_owned()))
                .await
                .store_err(self)?;
            tx.commit().await.store_err(self)?;
            Ok(Some(n))
        })
    }
}
