//! The store suite's harness for [`SqliteStore`]: a fresh file per location
//! under the system temp directory.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::store::suite::Harness;
use crate::store::{MIGRATIONS, SqliteStore, Store, StoreError, StoreFuture, key_hash};
use std::path::PathBuf;
use std::sync::Arc;

/// Runs the suite on SQLite files.
#[derive(Debug, Default, Clone, Copy)]
pub struct SqliteHarness;

impl Harness for SqliteHarness {
    fn fresh(&self) -> String {
        let dir = std::env::temp_dir().join(format!("armoriq-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("armoriq.db").to_string_lossy().into_owned()
    }

    fn open<'a>(&'a self, loc: &'a str) -> StoreFuture<'a, Arc<dyn Store>> {
        let path = PathBuf::from(loc);
        Box::pin(async move {
            let s = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(|e| StoreError::Unavailable(e.to_string()))??;
            Ok(Arc::new(s) as Arc<dyn Store>)
        })
    }

    fn create_legacy(&self, loc: &str) {
        let c = rusqlite::Connection::open(loc).unwrap();
        // The schema exactly as the code before versioning created it.
        c.execute_batch(MIGRATIONS[0].sql).unwrap();
        c.execute(
            "INSERT INTO api_keys (key_hash, role, label, created_ms) VALUES (?1, 'agent', 'old', 1)",
            [key_hash("ak_legacy")],
        )
        .unwrap();
        c.execute_batch(
            r#"
INSERT INTO plans VALUES ('plan_legacy', 'ab', 'cd', '{"steps":[]}', 0, 'intent_x', NULL, NULL, 1900000000, 'active', 1);
INSERT INTO audit (at_ms, route, outcome, latency_us) VALUES (1, 'token', 'legacy1', 5), (2, 'invoke', 'legacy2', 6);
INSERT INTO idempotency VALUES (1, 'token', 'legacy', 200, '{"legacy":true}', 1);
INSERT INTO delegations (id, status, tool, plan_id, requester_email, arguments, created_ms, expires_ms)
  VALUES ('deleg_old', 'pending', 'pay', 'plan_legacy', 'a@x', '{}', 1, 9000000000000),
         ('deleg_new', 'pending', 'pay', 'plan_legacy', 'a@x', '{}', 2, 9000000000000);
"#,
        )
        .unwrap();
    }
}

#[cfg(test)]
mod sqlite {
    use super::*;
    use crate::store::migrations::latest;

    crate::store_suite!(super::SqliteHarness);
    crate::console_suite!(super::SqliteHarness);
    crate::shared_suite!(super::SqliteHarness);

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_database_newer_than_this_code_is_refused() {
        let h = SqliteHarness;
        let loc = h.fresh();
        drop(h.open(&loc).await.unwrap());
        let c = rusqlite::Connection::open(&loc).unwrap();
        c.execute(
            "INSERT INTO schema_version (version, name, applied_ms) VALUES (?1, 'future', 0)",
            [latest() + 1],
        )
        .unwrap();
        drop(c);
        assert!(matches!(h.open(&loc).await, Err(StoreError::Corrupt(_))));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn audit_rows_carry_the_node_that_wrote_them() {
        use crate::store::{AuditCursor, AuditRow, AuditStore};
        let loc = PathBuf::from(SqliteHarness.fresh());
        let s = SqliteStore::open_as(&loc, "node-a").unwrap();
        let row = |o: &str, node: Option<&str>| AuditRow {
            route: "invoke".into(),
            outcome: o.into(),
            node: node.map(str::to_owned),
            ..Default::default()
        };
        s.audit(row("a", None)).await.unwrap();
        s.audit(row("b", Some("explicit"))).await.unwrap();
        let page = s.audit_page(AuditCursor::START, 10).await.unwrap();
        let nodes: Vec<_> = page.rows.iter().map(|r| r.node.clone()).collect();
        assert_eq!(nodes, [Some("node-a".into()), Some("explicit".into())]);
        assert_eq!(
            SqliteStore::open(&loc).unwrap().node(),
            crate::store::default_node()
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_opens_migrate_once() {
        let h = SqliteHarness;
        let loc = h.fresh();
        let opens: Vec<_> = (0..4)
            .map(|_| {
                let loc = loc.clone();
                tokio::spawn(async move { SqliteHarness.open(&loc).await.map(|_| ()) })
            })
            .collect();
        for o in opens {
            o.await.unwrap().unwrap();
        }
        let c = rusqlite::Connection::open(&loc).unwrap();
        let rows: u32 = c
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, latest());
    }
}
