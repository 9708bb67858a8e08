//! [`TrustStore`] on SQLite: plain SQL, one statement or one `BEGIN
//! IMMEDIATE` transaction per method.

use crate::store::trust::{TrustKind, TrustRecord, TrustStore};
use crate::store::{PlanRecord, SqliteStore, StoreError, StoreFuture};
use rusqlite::{OptionalExtension, TransactionBehavior, params};

fn record_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TrustRecord> {
    let kind: String = r.get("kind")?;
    Ok(TrustRecord {
        id: r.get("id")?,
        kind: TrustKind::parse(&kind).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                Box::new(StoreError::Corrupt(format!("trust kind {kind:?}"))),
            )
        })?,
        plan_id: r.get("plan_id")?,
        record_json: r.get("record_json")?,
        signature: r.get("signature")?,
        previous_plan_hash: r.get("previous_plan_hash")?,
        plan_hash: r.get("plan_hash")?,
        created_ms: r.get("created_ms")?,
        expires_at: r.get("expires_at")?,
        revoked_ms: r.get("revoked_ms")?,
    })
}

const INSERT: &str = "INSERT INTO trust_records (id, kind, plan_id, record_json, signature, \
     previous_plan_hash, plan_hash, created_ms, expires_at, revoked_ms) \
     VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)";

fn insert(c: &rusqlite::Connection, r: &TrustRecord) -> rusqlite::Result<usize> {
    c.execute(
        INSERT,
        params![
            r.id,
            r.kind.as_str(),
            r.plan_id,
            r.record_json,
            r.signature,
            r.previous_plan_hash,
            r.plan_hash,
            r.created_ms,
            r.expires_at,
            r.revoked_ms
        ],
    )
}

impl TrustStore for SqliteStore {
    fn put_trust_record<'a>(&'a self, r: &'a TrustRecord) -> StoreFuture<'a, ()> {
        let r = r.clone();
        self.run(move |c| {
            insert(c, &r)?;
            Ok(())
        })
    }

    fn get_trust_record<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<TrustRecord>> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT * FROM trust_records WHERE id = ?1",
                params![id],
                record_from_row,
            )
            .optional()?)
        })
    }

    fn plan_trust_records<'a>(&'a self, plan_id: &'a str) -> StoreFuture<'a, Vec<TrustRecord>> {
        let id = plan_id.to_owned();
        self.run(move |c| {
            let mut st = c.prepare(
                "SELECT * FROM trust_records WHERE plan_id = ?1 ORDER BY created_ms, rowid",
            )?;
            let rows = st
                .query_map(params![id], record_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
    }

    fn reanchor_plan<'a>(
        &'a self,
        from_hash: &'a str,
        new: &'a PlanRecord,
        record: &'a TrustRecord,
    ) -> StoreFuture<'a, bool> {
        let (from, p, r) = (from_hash.to_owned(), new.clone(), record.clone());
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE plans SET plan_hash = ?2, merkle_root = ?3, plan_json = ?4, step_count = ?5 \
                 WHERE plan_id = ?1 AND plan_hash = ?6 AND status = 'active'",
                params![
                    p.plan_id,
                    p.plan_hash,
                    p.merkle_root,
                    p.plan_json,
                    i64::try_from(p.step_count).unwrap_or(i64::MAX),
                    from
                ],
            )?;
            if n != 1 {
                return Ok(false);
            }
            insert(&tx, &r)?;
            tx.commit()?;
            Ok(true)
        })
    }

    fn revoke_trust_record<'a>(&'a self, id: &'a str, now_ms: i64) -> StoreFuture<'a, bool> {
        let id = id.to_owned();
        let changes = self.changes();
        self.run(move |c| {
            let revoked = c.execute(
                "UPDATE trust_records SET revoked_ms = ?2 WHERE id = ?1 \
                 AND kind IN ('delegate', 'delegate_subtree') AND revoked_ms IS NULL",
                params![id, now_ms],
            )? == 1;
            if revoked {
                let _ = changes.send(crate::store::Change::Trust(id));
            }
            Ok(revoked)
        })
    }

    fn revoke_plan_cascade<'a>(
        &'a self,
        plan_id: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<u64>> {
        let id = plan_id.to_owned();
        let changes = self.changes();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if tx.execute(
                "UPDATE plans SET status = 'revoked' WHERE plan_id = ?1",
                params![id],
            )? != 1
            {
                return Ok(None);
            }
            let n = tx.execute(
                "UPDATE trust_records SET revoked_ms = ?2 WHERE plan_id = ?1 \
                 AND kind IN ('delegate', 'delegate_subtree') AND revoked_ms IS NULL",
                params![id, now_ms],
            )?;
            tx.commit()?;
            let _ = changes.send(crate::store::Change::Plan(id));
            Ok(Some(n as u64))
        })
    }
}
