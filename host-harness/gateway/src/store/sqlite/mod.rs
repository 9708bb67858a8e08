//! [`SqliteStore`]: SQLite (bundled), WAL, `synchronous=FULL`.
//!
//! Statements run on tokio's blocking pool over a few pooled connections, so
//! no async worker waits on SQLite and concurrent requests really are
//! concurrent in the database: the once-only rules hold because of how each
//! statement is written (one `UPDATE … RETURNING`, `INSERT … ON CONFLICT DO
//! NOTHING` under a unique index, `BEGIN IMMEDIATE`), not because of a lock
//! in this process. A second process on the same file (the CLI beside
//! `armoriq serve`, or a second gateway) is held to the same rules.

mod audit;
mod console;
mod delegations;
mod error;
#[cfg(any(test, feature = "store-suite"))]
mod harness;
mod idempotency;
mod migrations;
mod shared;
mod trust;
mod usage;

#[cfg(any(test, feature = "store-suite"))]
pub use harness::SqliteHarness;

use crate::store::audit_queue::Job;
use crate::store::{
    AuditCursor, AuditPage, AuditRow, AuditStore, KeyInfo, KeyStore, PlanRecord, PlanStatus,
    PlanStore, Role, Store, StoreError, StoreFuture, StoreResult, key_hash,
};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, mpsc};

/// Pooled connections (besides the audit writer's).
const POOL: usize = 4;

/// SQLite, WAL, `synchronous=FULL`.
#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Mutex<Vec<Connection>>,
    ready: Condvar,
    audit_tx: Mutex<mpsc::Sender<Job>>,
    path: PathBuf,
    version: u32,
    node: String,
    changes: tokio::sync::broadcast::Sender<crate::store::Change>,
}

fn connect(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // Switching a new file to WAL takes a lock the busy handler does not
    // wait for: several processes opening one new file at once retry here.
    let mut tries = 0;
    while let Err(e) = conn.pragma_update(None, "journal_mode", "WAL") {
        let busy = e.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy);
        if !busy || tries >= 200 {
            return Err(e.into());
        }
        tries += 1;
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

use armoriq_common::time::now_ms;

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("connection pool lock poisoned".into())
}

/// Creates an empty file readable by its owner only.
///
/// # Errors
/// The file exists or cannot be created.
pub fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o.open(path)
}

impl SqliteStore {
    /// Opens (creating if needed, file mode 0600) `path` and migrates it to
    /// the newest schema, as node `"{hostname}:{pid}"`. Blocking: call it at
    /// start, or off the runtime.
    ///
    /// # Errors
    /// `Unavailable` when the file cannot be opened or a migration fails;
    /// `Corrupt` when it is not a database or is newer than this code.
    pub fn open(path: &Path) -> StoreResult<Self> {
        Self::open_as(path, &crate::store::select::default_node())
    }

    /// As [`SqliteStore::open`]; audit rows without a node are stamped `node`.
    ///
    /// # Errors
    /// As [`SqliteStore::open`].
    pub fn open_as(path: &Path, node: &str) -> StoreResult<Self> {
        if !path.exists() {
            match create_private_file(path) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => {
                    return Err(StoreError::Unavailable(format!("{}: {e}", path.display())));
                }
            }
        }
        let mut first = connect(path)?;
        let version = migrations::migrate(&mut first, now_ms())?;
        let mut pool = vec![first];
        for _ in 1..POOL {
            pool.push(connect(path)?);
        }
        let writer = connect(path)?;
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("armoriq-audit".into())
            .spawn(move || audit::run(writer, rx))
            .map_err(|e| StoreError::Unavailable(format!("audit writer: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pool: Mutex::new(pool),
                ready: Condvar::new(),
                audit_tx: Mutex::new(tx),
                path: path.to_path_buf(),
                version,
                node: node.to_owned(),
                changes: tokio::sync::broadcast::channel(256).0,
            }),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The node name stamped on audit rows that carry none.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Where this store announces changes (see [`crate::store::ChangeFeed`]).
    pub(super) fn changes(&self) -> tokio::sync::broadcast::Sender<crate::store::Change> {
        self.inner.changes.clone()
    }

    /// Runs `f` on a pooled connection on tokio's blocking pool.
    pub(super) fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreFuture<'static, T> {
        let inner = self.inner.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || inner.with(f))
                .await
                .map_err(|e| StoreError::Unavailable(format!("store task: {e}")))?
        })
    }
}

impl Inner {
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> StoreResult<T>) -> StoreResult<T> {
        let mut conn = {
            let mut free = self.pool.lock().map_err(poisoned)?;
            loop {
                if let Some(c) = free.pop() {
                    break c;
                }
                free = self.ready.wait(free).map_err(poisoned)?;
            }
        };
        let result = f(&mut conn);
        if let Ok(mut free) = self.pool.lock() {
            free.push(conn);
            self.ready.notify_one();
        }
        result
    }
}

/// Reads a text column as a typed status (an unknown value is `Corrupt`).
pub(super) fn typed<T>(
    r: &rusqlite::Row<'_>,
    col: &str,
    parse: fn(&str) -> StoreResult<T>,
) -> rusqlite::Result<T> {
    let s: String = r.get(col)?;
    parse(&s).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

fn plan_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PlanRecord> {
    Ok(PlanRecord {
        plan_id: r.get("plan_id")?,
        plan_hash: r.get("plan_hash")?,
        merkle_root: r.get("merkle_root")?,
        plan_json: r.get("plan_json")?,
        step_count: r.get("step_count")?,
        intent_reference: r.get("intent_reference")?,
        user_email: r.get("user_email")?,
        agent_id: r.get("agent_id")?,
        expires_at: r.get("expires_at")?,
        status: typed(r, "status", PlanStatus::read)?,
    })
}

pub(super) fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get("id")?,
        seq: r.get("seq")?,
        at_ms: r.get("at_ms")?,
        route: r.get("route")?,
        outcome: r.get("outcome")?,
        user_email: r.get("user_email")?,
        agent_id: r.get("agent_id")?,
        plan_id: r.get("plan_id")?,
        step: r.get("step")?,
        mcp: r.get("mcp")?,
        tool: r.get("tool")?,
        reason: r.get("reason")?,
        latency_us: r.get("latency_us")?,
        device_verdict: r.get("device_verdict")?,
        device_latency_us: r.get("device_latency_us")?,
        receipt: r.get("receipt")?,
        node: r.get("node")?,
        actor: r.get("actor")?,
    })
}

impl KeyStore for SqliteStore {
    fn add_api_key<'a>(&'a self, key: &'a str, role: Role, label: &'a str) -> StoreFuture<'a, i64> {
        let (hash, label) = (key_hash(key), label.to_owned());
        self.run(move |c| {
            c.execute(
                "INSERT INTO api_keys (key_hash, role, label, created_ms) VALUES (?1,?2,?3,?4)",
                params![hash, role.as_str(), label, now_ms()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn check_api_key<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<KeyInfo>> {
        let hash = key_hash(key);
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT id, role FROM api_keys WHERE key_hash = ?1 AND revoked_ms IS NULL",
                params![hash],
                |r| {
                    Ok(KeyInfo {
                        id: r.get("id")?,
                        role: typed(r, "role", Role::read)?,
                    })
                },
            )
            .optional()?)
        })
    }

    fn count_api_keys(&self) -> StoreFuture<'_, i64> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT COUNT(*) FROM api_keys WHERE revoked_ms IS NULL",
                [],
                |r| r.get(0),
            )?)
        })
    }
}

impl PlanStore for SqliteStore {
    fn put_plan<'a>(&'a self, p: &'a PlanRecord) -> StoreFuture<'a, ()> {
        let p = p.clone();
        self.run(move |c| {
            idempotency::insert_plan(c, &p)?;
            Ok(())
        })
    }

    fn get_plan<'a>(&'a self, plan_id: &'a str) -> StoreFuture<'a, Option<PlanRecord>> {
        let id = plan_id.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT * FROM plans WHERE plan_id = ?1",
                params![id],
                plan_from_row,
            )
            .optional()?)
        })
    }

    fn set_plan_status<'a>(
        &'a self,
        plan_id: &'a str,
        status: PlanStatus,
    ) -> StoreFuture<'a, bool> {
        let id = plan_id.to_owned();
        let changes = self.changes();
        self.run(move |c| {
            let changed = c.execute(
                "UPDATE plans SET status = ?2 WHERE plan_id = ?1",
                params![id, status.as_str()],
            )? == 1;
            if changed {
                let _ = changes.send(crate::store::Change::Plan(id));
            }
            Ok(changed)
        })
    }
}

impl AuditStore for SqliteStore {
    fn audit(&self, mut row: AuditRow) -> StoreFuture<'_, i64> {
        let inner = self.inner.clone();
        if row.node.is_none() {
            row.node = Some(inner.node.clone());
        }
        Box::pin(async move {
            let (ack, done) = tokio::sync::oneshot::channel();
            inner
                .audit_tx
                .lock()
                .map_err(|_| StoreError::Unavailable("audit lock poisoned".into()))?
                .send((Some(row), ack))
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?;
            done.await
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?
        })
    }

    fn flush_audit(&self) -> StoreFuture<'_, ()> {
        let inner = self.inner.clone();
        Box::pin(async move {
            let (ack, done) = tokio::sync::oneshot::channel();
            inner
                .audit_tx
                .lock()
                .map_err(|_| StoreError::Unavailable("audit lock poisoned".into()))?
                .send((None, ack))
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?;
            done.await
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?
                .map(|_| ())
        })
    }

    fn audit_update<'a>(
        &'a self,
        id: i64,
        outcome: &'a str,
        reason: Option<&'a str>,
        latency_us: i64,
    ) -> StoreFuture<'a, ()> {
        let (o, r) = (outcome.to_owned(), reason.map(str::to_owned));
        self.run(move |c| {
            c.execute(
                "UPDATE audit SET outcome = ?2, reason = ?3, latency_us = ?4 WHERE id = ?1",
                params![id, o, r, latency_us],
            )?;
            Ok(())
        })
    }

    fn audit_page(&self, after: AuditCursor, limit: u32) -> StoreFuture<'_, AuditPage> {
        self.run(move |c| {
            let mut st =
                c.prepare_cached("SELECT * FROM audit WHERE seq > ?1 ORDER BY seq LIMIT ?2")?;
            let rows = st
                .query_map(params![after.after_seq(), limit], audit_from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let next = rows.last().map_or(after, |r| AuditCursor::past_seq(r.seq));
            Ok(AuditPage { rows, next })
        })
    }
}

impl Store for SqliteStore {
    fn schema_version(&self) -> StoreFuture<'_, u32> {
        let v = self.inner.version;
        Box::pin(async move { Ok(v) })
    }

    fn node(&self) -> &str {
        Self::node(self)
    }

    fn ping(&self) -> StoreFuture<'_, u32> {
        self.run(|c| {
            Ok(c.query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )?)
        })
    }
}
