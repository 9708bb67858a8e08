//! [`PgStore`]: PostgreSQL, shared by several gateways (issue 15).
//!
//! Async all the way (tokio-postgres over a deadpool pool): no blocking
//! pool, no thread per connection. The once-only rules hold across
//! processes because each is one conditional statement or one transaction
//! in the database (`INSERT … ON CONFLICT DO NOTHING` under a unique index,
//! `UPDATE … RETURNING` on a row chosen `FOR UPDATE SKIP LOCKED`, advisory
//! transaction locks where SQLite used `BEGIN IMMEDIATE`), never a lock in
//! this process. Changes other nodes cache are announced with `pg_notify`
//! inside the transaction that makes them (`notify.rs`); audit rows go
//! through one group-commit task per store (`audit.rs`).
//!
//! When PostgreSQL is down every method fails within the pool's timeouts
//! (~2 s) with `Unavailable` naming the server (never its password); the
//! pool drops broken connections, so the store recovers by itself once the
//! server is back. When it stops answering without closing its connections
//! (a stopped process, a hung host), every statement is bounded by the
//! query timeout at the connection's stream (`deadline.rs`): past it
//! the connection is given up and the call fails with `Unavailable`.

mod audit;
mod console;
mod deadline;
mod delegations;
mod error;
#[cfg(any(test, feature = "store-suite"))]
mod harness;
mod idempotency;
mod migrations;
mod notify;
mod shared;
mod tls;
mod trust;
mod usage;

#[cfg(any(test, feature = "store-suite"))]
pub use harness::PgHarness;

use crate::store::{
    Change, DEFAULT_QUERY_TIMEOUT, KeyInfo, KeyStore, PlanRecord, PlanStatus, PlanStore, Role,
    Store, StoreError, StoreFuture, StoreResult, key_hash,
};
use armoriq_common::time::now_ms;
use audit::Job;
use deadline::DeadlineConnect;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use error::PgResultExt;
use notify::Listener;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc};
use tokio_postgres::Row;
use tokio_postgres::types::FromSql;

/// Pooled connections per store (the listener and nothing else is apart).
const POOL: usize = 16;
/// How long a method waits for a connection (or to make one) before it
/// says `Unavailable`.
pub(super) const TIMEOUT: Duration = Duration::from_secs(2);

/// PostgreSQL, shared by several gateways.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    server: String,
    version: u32,
    node: String,
    audit_tx: mpsc::UnboundedSender<Job>,
    changes: broadcast::Sender<Change>,
    /// Stops the listening task when the last handle goes.
    _listener: Listener,
}

impl PgStore {
    /// Opens the database at `url` (`postgres://…`, with `sslmode` and
    /// `sslrootcert` as libpq reads them) and migrates it, as node
    /// `"{hostname}:{pid}"`.
    ///
    /// # Errors
    /// As [`PgStore::open_as`].
    pub async fn open(url: &str) -> StoreResult<Self> {
        Self::open_as(url, &crate::store::select::default_node()).await
    }

    /// Opens the database at `url` and migrates it; audit rows without a
    /// node are stamped `node`.
    ///
    /// # Errors
    /// `Unavailable` when the server cannot be reached, TLS fails or a
    /// migration fails; `Corrupt` when the database is newer than this code.
    pub async fn open_as(url: &str, node: &str) -> StoreResult<Self> {
        Self::open_with(url, node, DEFAULT_QUERY_TIMEOUT).await
    }

    /// As [`PgStore::open_as`], every statement bounded by `query_timeout`
    /// (`--pg-query-timeout`): a server that does not answer within it
    /// loses the connection and the call fails with `Unavailable`; the
    /// server's `statement_timeout` is set a little below it.
    ///
    /// # Errors
    /// As [`PgStore::open_as`].
    pub async fn open_with(url: &str, node: &str, query_timeout: Duration) -> StoreResult<Self> {
        let mut target = tls::target(url)?;
        target.config.connect_timeout(TIMEOUT);
        // A server that vanished without closing (a host gone, a cut
        // network) is noticed within ~30 s even where no request is
        // outstanding (an answer stalled half-way; see deadline.rs).
        target.config.keepalives(true);
        target.config.keepalives_idle(Duration::from_secs(15));
        target.config.keepalives_interval(Duration::from_secs(5));
        target.config.keepalives_retries(3);
        if target.config.get_application_name().is_none() {
            target.config.application_name("armoriq-gateway");
        }
        let server = target.redacted.clone();
        let manager = Manager::from_connect(
            deadline::with_statement_timeout(&target.config, query_timeout),
            DeadlineConnect {
                tls: target.tls.clone(),
                limit: query_timeout,
            },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(TIMEOUT))
            .create_timeout(Some(TIMEOUT))
            .recycle_timeout(Some(TIMEOUT))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("PostgreSQL at {server}: {e}")))?;
        // Migrations on a connection of their own, without the deadline:
        // one may legitimately take long (a column added to a large table),
        // and it waits for another node's under an advisory lock.
        let version = migrate(&target)
            .await
            .map_err(|e| with_server(&server, e))?;
        let changes = broadcast::channel(256).0;
        let listener = notify::listen(&target, query_timeout, changes.clone())
            .await
            .map_err(|e| with_server(&server, e))?;
        let (audit_tx, audit_rx) = mpsc::unbounded_channel();
        tokio::spawn(audit::run(pool.clone(), server.clone(), audit_rx));
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                server,
                version,
                node: node.to_owned(),
                audit_tx,
                changes,
                _listener: listener,
            }),
        })
    }

    /// One round trip to the server within the query timeout: the schema
    /// version the database holds now.
    pub(super) async fn ping(&self) -> StoreResult<u32> {
        let c = self.client().await?;
        let r = c
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .await
            .store_err(self)?;
        let v: i64 = r.try_get(0).store_err(self)?;
        u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("schema version {v}")))
    }

    /// The node name stamped on audit rows that carry none.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// A pooled connection, or `Unavailable` within [`TIMEOUT`].
    pub(super) async fn client(&self) -> StoreResult<Object> {
        self.inner
            .pool
            .get()
            .await
            .map_err(|e| error::pool_error(&self.inner.server, e))
    }

    /// Maps a statement's error, naming the server when it is an outage.
    pub(super) fn err(&self, e: impl Into<StoreError>) -> StoreError {
        with_server(&self.inner.server, e.into())
    }

    /// Where this node's subscribers hear changes.
    pub(super) fn changes(&self) -> &broadcast::Sender<Change> {
        &self.inner.changes
    }

    /// The audit writer's queue.
    pub(super) fn audit_queue(&self) -> &mpsc::UnboundedSender<Job> {
        &self.inner.audit_tx
    }
}

/// Connects (within the connect timeout) and migrates; see
/// [`PgStore::open_with`].
async fn migrate(target: &tls::Target) -> StoreResult<u32> {
    let (mut client, conn) = tokio::time::timeout(
        TIMEOUT,
        deadline::connect(&target.config, &target.tls, None),
    )
    .await
    .map_err(|_| StoreError::Unavailable("no connection within the timeout".into()))??;
    let driver = tokio::spawn(conn);
    let v = migrations::migrate(&mut client, now_ms()).await;
    drop(client);
    let _ = driver.await;
    v
}

/// Adds the server to an outage's message (conflicts and corrupt rows are
/// about the data, not where it lives).
pub(super) fn with_server(server: &str, e: StoreError) -> StoreError {
    match e {
        StoreError::Unavailable(m) if !m.starts_with("PostgreSQL at ") => {
            StoreError::Unavailable(format!("PostgreSQL at {server}: {m}"))
        }
        other => other,
    }
}

/// A column, or `Corrupt` when it is not what this code wrote.
pub(super) fn col<'r, T: FromSql<'r>>(r: &'r Row, name: &str) -> StoreResult<T> {
    r.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// A text column read as a typed status (an unknown value is `Corrupt`).
pub(super) fn typed<T>(r: &Row, name: &str, parse: fn(&str) -> StoreResult<T>) -> StoreResult<T> {
    let s: String = col(r, name)?;
    parse(&s)
}

fn plan_from_row(r: &Row) -> StoreResult<PlanRecord> {
    let steps: i64 = col(r, "step_count")?;
    Ok(PlanRecord {
        plan_id: col(r, "plan_id")?,
        plan_hash: col(r, "plan_hash")?,
        merkle_root: col(r, "merkle_root")?,
        plan_json: col(r, "plan_json")?,
        step_count: u64::try_from(steps)
            .map_err(|_| StoreError::Corrupt(format!("step_count {steps}")))?,
        intent_reference: col(r, "intent_reference")?,
        user_email: col(r, "user_email")?,
        agent_id: col(r, "agent_id")?,
        expires_at: col(r, "expires_at")?,
        status: typed(r, "status", PlanStatus::read)?,
    })
}

/// `step_count` as stored (saturating, as SQLite's).
pub(super) fn steps(p: &PlanRecord) -> i64 {
    i64::try_from(p.step_count).unwrap_or(i64::MAX)
}

impl KeyStore for PgStore {
    fn add_api_key<'a>(&'a self, key: &'a str, role: Role, label: &'a str) -> StoreFuture<'a, i64> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_one(
                    "INSERT INTO api_keys (key_hash, role, label, created_ms) \
                     VALUES ($1,$2,$3,$4) RETURNING id",
                    &[&key_hash(key), &role.as_str(), &label, &now_ms()],
                )
                .await
                .store_err(self)?;
            col(&r, "id")
        })
    }

    fn check_api_key<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<KeyInfo>> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_opt(
                    "SELECT id, role FROM api_keys WHERE key_hash = $1 AND revoked_ms IS NULL",
                    &[&key_hash(key)],
                )
                .await
                .store_err(self)?;
            r.map(|r| {
                Ok(KeyInfo {
                    id: col(&r, "id")?,
                    role: typed(&r, "role", Role::read)?,
                })
            })
            .transpose()
        })
    }

    fn count_api_keys(&self) -> StoreFuture<'_, i64> {
        Box::pin(async move {
            let c = self.client().await?;
            let r = c
                .query_one(
                    "SELECT COUNT(*) FROM api_keys WHERE revoked_ms IS NULL",
                    &[],
                )
                .await
                .store_err(self)?;
            r.try_get(0).store_err(self)
        })
    }
}

impl PlanStore for PgStore {
    fn put_plan<'a>(&'a self, p: &'a PlanRecord) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let c = self.client().await?;
            idempotency::insert_plan(&**c, p).await.store_err(self)?;
            Ok(())
        })
    }

    fn get_plan<'a>(&'a self, plan_id: &'a str) -> StoreFuture<'a, Option<PlanRecord>> {
        Box::pin(async move {
            let c = self.client().await?;
            c.query_opt("SELECT * FROM plans WHERE plan_id = $1", &[&plan_id])
                .await
                .store_err(self)?
                .as_ref()
                .map(plan_from_row)
                .transpose()
        })
    }

    fn set_plan_status<'a>(
        &'a self,
        plan_id: &'a str,
        status: PlanStatus,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let mut c = self.client().await?;
            let tx = c.transaction().await.store_err(self)?;
            let changed = tx
                .execute(
                    "UPDATE plans SET status = $2 WHERE plan_id = $1",
                    &[&plan_id, &status.as_str()],
                )
                .await
                .store_err(self)?
                == 1;
            if changed {
                notify::notify(&tx, &Change::Plan(plan_id.to_owned()))
                    .await
                    .store_err(self)?;
            }
            tx.commit().await.store_err(self)?;
            Ok(changed)
        })
    }
}

impl Store for PgStore {
    fn schema_version(&self) -> StoreFuture<'_, u32> {
        let v = self.inner.version;
        Box::pin(async move { Ok(v) })
    }

    fn node(&self) -> &str {
        Self::node(self)
    }

    fn ping(&self) -> StoreFuture<'_, u32> {
        Box::pin(PgStore::ping(self))
    }
}
