//! [`SigningKeyStore`], [`PolicyStore`] and [`ChangeFeed`] on PostgreSQL:
//! what several gateways on one database share.
//! * the first signing key is created once however many nodes start
//!   together: `INSERT … ON CONFLICT DO NOTHING` on the generation (and
//!   kid), announced in the same transaction when it was added;
//! * policy versions are unique under concurrency: the insert computing
//!   `MAX(version) + 1` runs under a transaction-scoped advisory lock, so
//!   concurrent loads (on any node) number one after another.

use super::col;
use super::error::PgResultExt;
use super::notify;
use crate::store::changes::{Change, ChangeFeed};
use crate::store::policy_docs::{PolicyDocument, PolicyStore};
use crate::store::signing::{SealedSigningKey, SigningKeyStore};
use crate::store::{PgStore, StoreFuture};
use tokio::sync::broadcast;

/// The advisory lock key (class, object) policy loads take.
const POLICY_LOCK: (i32, i32) = (0x4152_4d51, 2);

impl SigningKeyStore for PgStore {
    fn add_signing_key<'a>(&'a self, k: &'a SealedSigningKey) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let added = tx
                .execute(
                    "INSERT INTO signing_keys (generation, kid, public_raw, sealed, created_ms) \
                     VALUES ($1,$2,$3,$4,$5) ON CONFLICT DO NOTHING",
                    &[
                        &k.generation,
                        &k.kid,
                        &k.public_raw,
                        &k.sealed,
                        &k.created_ms,
                    ],
                )
                .await
                .store_err(self)?
                == 1;
            if added {
                notify::notify(&tx, &Change::SigningKeys)
                    .await
                    .store_err(self)?;
            }
            tx.commit().await.store_err(self)?;
            Ok(added)
        })
    }

    fn signing_keys(&self) -> StoreFuture<'_, Vec<SealedSigningKey>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query(
                "SELECT generation, kid, public_raw, sealed, created_ms FROM signing_keys \
                 ORDER BY generation",
                &[],
            )
            .await
            .store_err(self)?
            .iter()
            .map(|r| {
                Ok(SealedSigningKey {
                    generation: col(r, "generation")?,
                    kid: col(r, "kid")?,
                    public_raw: col(r, "public_raw")?,
                    sealed: col(r, "sealed")?,
                    created_ms: col(r, "created_ms")?,
                })
            })
            .collect()
        })
    }
}

impl PolicyStore for PgStore {
    fn put_policy<'a>(
        &'a self,
        json: &'a str,
        loaded_by: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            tx.execute(
                "SELECT pg_advisory_xact_lock($1, $2)",
                &[&POLICY_LOCK.0, &POLICY_LOCK.1],
            )
            .await
            .store_err(self)?;
            let r = tx
                .query_one(
                    "INSERT INTO policy_documents (version, json, loaded_by, loaded_ms) \
                     SELECT COALESCE(MAX(version), 0) + 1, $1, $2, $3 FROM policy_documents \
                     RETURNING version",
                    &[&json, &loaded_by, &now_ms],
                )
                .await
                .store_err(self)?;
            let version: i64 = col(&r, "version")?;
            notify::notify(&tx, &Change::Policy).await.store_err(self)?;
            tx.commit().await.store_err(self)?;
            Ok(version)
        })
    }

    fn current_policy(&self) -> StoreFuture<'_, Option<PolicyDocument>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query_opt(
                "SELECT version, json, loaded_by, loaded_ms FROM policy_documents \
                 ORDER BY version DESC LIMIT 1",
                &[],
            )
            .await
            .store_err(self)?
            .map(|r| {
                Ok(PolicyDocument {
                    version: col(&r, "version")?,
                    json: col(&r, "json")?,
                    loaded_by: col(&r, "loaded_by")?,
                    loaded_ms: col(&r, "loaded_ms")?,
                })
            })
            .transpose()
        })
    }
}

impl ChangeFeed for PgStore {
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes().subscribe()
    }
}
