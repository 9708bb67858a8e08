//! The store suite's harness for [`PgStore`], and the PostgreSQL-only
//! tests: a fresh database (`armoriq_t_<uuid>`) per location on the server
//! `ARMORIQ_TEST_PG_URL` names (`bash scripts/pg.sh cargo test …` starts a
//! throwaway one). Without that variable each PostgreSQL test says
//! `SKIPPED` and passes, except under `CI=true`, where it fails: CI must
//! run them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use super::tls;
use crate::store::migrations::{PG_MIGRATIONS, pg_latest};
use crate::store::suite::Harness;
use crate::store::{PgStore, Store, StoreFuture, key_hash};
use std::future::Future;
use std::sync::Arc;

/// The variable naming the test server.
pub const PG_URL_VAR: &str = "ARMORIQ_TEST_PG_URL";

/// Runs the suite on databases of one PostgreSQL server.
#[derive(Debug, Clone)]
pub struct PgHarness {
    admin_url: String,
}

impl PgHarness {
    /// The harness for `ARMORIQ_TEST_PG_URL`, or `None` (after printing
    /// `SKIPPED: …`) when it is unset.
    ///
    /// # Panics
    /// When it is unset and `CI=true`.
    pub fn from_env() -> Option<Self> {
        match std::env::var(PG_URL_VAR) {
            Ok(u) if !u.trim().is_empty() => Some(Self {
                admin_url: u.trim().to_owned(),
            }),
            _ => {
                let msg = format!("{PG_URL_VAR} is not set (run under bash scripts/pg.sh)");
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true but {msg}");
                }
                eprintln!("SKIPPED: {msg}");
                None
            }
        }
    }

    /// The server's URL with database `db` (query parameters kept).
    pub fn url_for(&self, db: &str) -> String {
        let (base, query) = match self.admin_url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (self.admin_url.as_str(), None),
        };
        let authority_end = base.find("://").map_or(0, |i| i + 3);
        let root = match base[authority_end..].find('/') {
            Some(i) => &base[..authority_end + i],
            None => base,
        };
        match query {
            Some(q) => format!("{root}/{db}?{q}"),
            None => format!("{root}/{db}"),
        }
    }

    /// The database name in a URL [`Harness::fresh`] gave.
    pub fn db_of(url: &str) -> String {
        let base = url.split_once('?').map_or(url, |(b, _)| b);
        base.rsplit('/').next().unwrap_or_default().to_owned()
    }
}

/// Runs `f` to completion on a runtime of its own (the harness's sync
/// methods are called from inside the tests' runtime).
pub fn block_on<T: Send + 'static>(f: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    })
    .join()
    .unwrap()
}

/// A plain connection to `url` (its driver task spawned), for test set-up.
pub async fn connect(url: &str) -> tokio_postgres::Client {
    let t = tls::target(url).unwrap();
    let (client, conn) = t.config.connect(t.tls).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

impl Harness for PgHarness {
    fn fresh(&self) -> String {
        let db = format!("armoriq_t_{}", uuid::Uuid::new_v4().simple());
        let (admin, name) = (self.admin_url.clone(), db.clone());
        block_on(async move {
            connect(&admin)
                .await
                .batch_execute(&format!("CREATE DATABASE {name}"))
                .await
                .unwrap();
        });
        self.url_for(&db)
    }

    fn open<'a>(&'a self, loc: &'a str) -> StoreFuture<'a, Arc<dyn Store>> {
        Box::pin(async move { Ok(Arc::new(PgStore::open(loc).await?) as Arc<dyn Store>) })
    }

    /// PostgreSQL's oldest schema is its migration 1 (there was no
    /// unversioned PostgreSQL store): the database as migration 1 left it,
    /// with the suite's legacy rows, including the duplicate pending
    /// request that migration 2 resolves.
    fn create_legacy(&self, loc: &str) {
        let url = loc.to_owned();
        block_on(async move {
            let c = connect(&url).await;
            c.batch_execute(PG_MIGRATIONS[0].sql).await.unwrap();
            c.batch_execute(
                "CREATE TABLE schema_version (
                   version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_ms BIGINT NOT NULL);
                 INSERT INTO schema_version VALUES (1, 'legacy', 1);",
            )
            .await
            .unwrap();
            c.execute(
                "INSERT INTO api_keys (key_hash, role, label, created_ms) \
                 VALUES ($1, 'agent', 'old', 1)",
                &[&key_hash("ak_legacy")],
            )
            .await
            .unwrap();
            c.batch_execute(
                r#"
INSERT INTO plans VALUES ('plan_legacy', 'ab', 'cd', '{"steps":[]}', 0, 'intent_x', NULL, NULL, 1900000000, 'active', 1);
INSERT INTO audit (seq, at_ms, route, outcome, latency_us) VALUES (1, 1, 'token', 'legacy1', 5), (2, 2, 'invoke', 'legacy2', 6);
UPDATE audit_seq SET seq = 2;
INSERT INTO idempotency VALUES (1, 'token', 'legacy', 200, '{"legacy":true}', 1, 'done');
INSERT INTO delegations (id, status, tool, plan_id, requester_email, arguments, created_ms, expires_ms)
  VALUES ('deleg_old', 'pending', 'pay', 'plan_legacy', 'a@x', '{}', 1, 9000000000000),
         ('deleg_new', 'pending', 'pay', 'plan_legacy', 'a@x', '{}', 2, 9000000000000);
"#,
            )
            .await
            .unwrap();
        });
    }

    fn announces_across_handles(&self) -> bool {
        true
    }

    fn latest_version(&self) -> u32 {
        pg_latest()
    }
}

/// The harness, or return from the test (skipped) when there is no server.
#[cfg(test)]
macro_rules! pg_or_skip {
    () => {
        match $crate::store::PgHarness::from_env() {
            Some(h) => h,
            None => return,
        }
    };
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
