//! [`SigningKeyStore`], [`PolicyStore`] and [`ChangeFeed`] on SQLite. One
//! gateway owns a SQLite file, so the change feed reaches this process only.

use crate::store::changes::{Change, ChangeFeed};
use crate::store::policy_docs::{PolicyDocument, PolicyStore};
use crate::store::signing::{SealedSigningKey, SigningKeyStore};
use crate::store::{SqliteStore, StoreFuture};
use rusqlite::{OptionalExtension, TransactionBehavior, params};
use tokio::sync::broadcast;

impl SigningKeyStore for SqliteStore {
    fn add_signing_key<'a>(&'a self, key: &'a SealedSigningKey) -> StoreFuture<'a, bool> {
        let k = key.clone();
        let changes = self.changes();
        self.run(move |c| {
            let added = c.execute(
                "INSERT INTO signing_keys (generation, kid, public_raw, sealed, created_ms) \
                 VALUES (?1,?2,?3,?4,?5) ON CONFLICT DO NOTHING",
                params![k.generation, k.kid, k.public_raw, k.sealed, k.created_ms],
            )? == 1;
            if added {
                let _ = changes.send(Change::SigningKeys);
            }
            Ok(added)
        })
    }

    fn signing_keys(&self) -> StoreFuture<'_, Vec<SealedSigningKey>> {
        self.run(|c| {
            let mut st = c.prepare_cached(
                "SELECT generation, kid, public_raw, sealed, created_ms FROM signing_keys \
                 ORDER BY generation",
            )?;
            let rows = st
                .query_map([], |r| {
                    Ok(SealedSigningKey {
                        generation: r.get(0)?,
                        kid: r.get(1)?,
                        public_raw: r.get(2)?,
                        sealed: r.get(3)?,
                        created_ms: r.get(4)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }
}

impl PolicyStore for SqliteStore {
    fn put_policy<'a>(
        &'a self,
        json: &'a str,
        loaded_by: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, i64> {
        let (json, by) = (json.to_owned(), loaded_by.to_owned());
        let changes = self.changes();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let version: i64 = tx.query_row(
                "INSERT INTO policy_documents (version, json, loaded_by, loaded_ms) \
                 SELECT COALESCE(MAX(version), 0) + 1, ?1, ?2, ?3 FROM policy_documents \
                 RETURNING version",
                params![json, by, now_ms],
                |r| r.get(0),
            )?;
            tx.commit()?;
            let _ = changes.send(Change::Policy);
            Ok(version)
        })
    }

    fn current_policy(&self) -> StoreFuture<'_, Option<PolicyDocument>> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT version, json, loaded_by, loaded_ms FROM policy_documents \
                 ORDER BY version DESC LIMIT 1",
                [],
                |r| {
                    Ok(PolicyDocument {
                        version: r.get(0)?,
                        json: r.get(1)?,
                        loaded_by: r.get(2)?,
                        loaded_ms: r.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }
}

impl ChangeFeed for SqliteStore {
    fn subscribe(&self) -> broadcast::Receiver<Change> {
        self.changes().subscribe()
    }
}
