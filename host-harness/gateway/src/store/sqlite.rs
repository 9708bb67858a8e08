//! [`SqliteStore`]: SQLite (bundled), WAL, `synchronous=FULL`.
//!
//! Statements run on tokio's blocking pool over a few pooled connections, so
//! no async worker waits on SQLite and concurrent requests really are
//! concurrent in the database: the once-only rules hold because of how each
//! statement is written (one `UPDATE … RETURNING`, `INSERT … ON CONFLICT DO
//! NOTHING` under a unique index, `BEGIN IMMEDIATE`), not because of a lock
//! in this process. A second process on the same file (the CLI beside
//! `armoriq serve`, or a second gateway) is held to the same rules.

use super::writer::{self, Job};
use super::{
    ApprovedCall, AuditCursor, AuditPage, AuditRow, AuditStore, Delegation, DelegationStatus,
    DelegationStore, KeyInfo, KeyStore, NewDelegation, PlanRecord, PlanStatus, PlanStore, Role,
    Store, StoreError, StoreFuture, StoreResult, key_hash, migrations,
};
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
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
    changes: tokio::sync::broadcast::Sender<super::Change>,
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
        Self::open_as(path, &super::select::default_node())
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
            .spawn(move || writer::run(writer, rx))
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

    /// Where this store announces changes (see [`super::ChangeFeed`]).
    pub(super) fn changes(&self) -> tokio::sync::broadcast::Sender<super::Change> {
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

pub(super) fn delegation_from_row(r: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<Delegation> {
    let mut d = Delegation {
        id: r.get("id")?,
        status: typed(r, "status", DelegationStatus::read)?,
        tool: r.get("tool")?,
        mcp: r.get("mcp")?,
        plan_id: r.get("plan_id")?,
        requester_email: r.get("requester_email")?,
        arguments: r.get("arguments")?,
        amount: r.get("amount")?,
        reason: r.get("reason")?,
        approval: r.get("approval")?,
        created_ms: r.get("created_ms")?,
        expires_ms: r.get("expires_ms")?,
        decided_by: r.get("decided_by")?,
        executed_ms: r.get("executed_ms")?,
    };
    if d.status == DelegationStatus::Pending && now > d.expires_ms {
        d.status = DelegationStatus::Expired;
    }
    Ok(d)
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
    })
}

/// The pending-identity match, as the unique index `delegations_one_pending`
/// spells it (?1 tool, ?2 plan_id, ?3 requester_email, ?4 arguments).
const SAME_REQUEST: &str = "tool = ?1 AND COALESCE(plan_id, '') = COALESCE(?2, '') \
     AND COALESCE(requester_email, '') = COALESCE(?3, '') AND arguments = ?4";

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
            super::sqlite_idempotency::insert_plan(c, &p)?;
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
                let _ = changes.send(super::Change::Plan(id));
            }
            Ok(changed)
        })
    }
}

impl DelegationStore for SqliteStore {
    fn get_or_create_pending<'a>(
        &'a self,
        d: &'a NewDelegation,
        now: i64,
    ) -> StoreFuture<'a, Delegation> {
        let d = d.clone();
        self.run(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let same = params![d.tool, d.plan_id, d.requester_email, d.arguments, now];
            // A pending one past its expiry no longer holds the request's place.
            tx.execute(
                &format!(
                    "UPDATE delegations SET status = 'expired' \
                     WHERE status = 'pending' AND expires_ms < ?5 AND {SAME_REQUEST}"
                ),
                same,
            )?;
            let id = format!("deleg_{}", uuid::Uuid::new_v4().simple());
            // The unique partial index makes this a no-op when one is pending.
            tx.execute(
                "INSERT INTO delegations (id, status, tool, mcp, plan_id, requester_email, \
                 arguments, amount, reason, approval, created_ms, expires_ms) \
                 VALUES (?1,'pending',?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) ON CONFLICT DO NOTHING",
                params![
                    id,
                    d.tool,
                    d.mcp,
                    d.plan_id,
                    d.requester_email,
                    d.arguments,
                    d.amount,
                    d.reason,
                    d.approval,
                    now,
                    now.saturating_add(d.ttl_ms)
                ],
            )?;
            let pending = tx.query_row(
                &format!("SELECT * FROM delegations WHERE status = 'pending' AND {SAME_REQUEST}"),
                params![d.tool, d.plan_id, d.requester_email, d.arguments],
                |r| delegation_from_row(r, now),
            )?;
            tx.commit()?;
            Ok(pending)
        })
    }

    fn get_delegation<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, Option<Delegation>> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT * FROM delegations WHERE id = ?1",
                params![id],
                |r| delegation_from_row(r, now),
            )
            .optional()?)
        })
    }

    fn decide_delegation<'a>(
        &'a self,
        id: &'a str,
        approve: bool,
        by: &'a str,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        let (id, by) = (id.to_owned(), by.to_owned());
        let to = if approve {
            DelegationStatus::Approved
        } else {
            DelegationStatus::Rejected
        };
        self.run(move |c| {
            let decided = c
                .query_row(
                    "UPDATE delegations SET status = ?2, decided_by = ?3, decided_ms = ?4 \
                     WHERE id = ?1 AND status = 'pending' AND expires_ms >= ?4 RETURNING *",
                    params![id, to.as_str(), by, now],
                    |r| delegation_from_row(r, now),
                )
                .optional()?;
            if decided.is_some() {
                return Ok(decided);
            }
            Ok(c.query_row(
                "SELECT * FROM delegations WHERE id = ?1",
                params![id],
                |r| delegation_from_row(r, now),
            )
            .optional()?)
        })
    }

    fn claim_approved<'a>(
        &'a self,
        call: &'a ApprovedCall,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        let call = call.clone();
        self.run(move |c| {
            let claimed = if let Some(id) = &call.delegation_id {
                c.query_row(
                    "UPDATE delegations SET status = 'executed', executed_ms = ?4 \
                     WHERE id = ?1 AND status = 'approved' AND tool = ?2 \
                     AND (plan_id IS NULL OR plan_id = ?3) RETURNING *",
                    params![id, call.tool, call.plan_id, now],
                    |r| delegation_from_row(r, now),
                )
            } else {
                c.query_row(
                    "UPDATE delegations SET status = 'executed', executed_ms = ?4 \
                     WHERE id = (SELECT id FROM delegations WHERE status = 'approved' \
                       AND tool = ?1 AND plan_id = ?2 \
                       AND (?3 IS NULL OR requester_email = ?3) \
                       ORDER BY decided_ms DESC LIMIT 1) \
                     AND status = 'approved' RETURNING *",
                    params![call.tool, call.plan_id, call.requester_email, now],
                    |r| delegation_from_row(r, now),
                )
            };
            Ok(claimed.optional()?)
        })
    }

    fn mark_executed<'a>(&'a self, id: &'a str, now: i64) -> StoreFuture<'a, bool> {
        let id = id.to_owned();
        self.run(move |c| {
            Ok(c.execute(
                "UPDATE delegations SET status = 'executed', executed_ms = ?2 \
                 WHERE id = ?1 AND status = 'approved'",
                params![id, now],
            )? == 1)
        })
    }

    fn find_approved<'a>(
        &'a self,
        tool: &'a str,
        plan_id: Option<&'a str>,
        email: Option<&'a str>,
        now: i64,
    ) -> StoreFuture<'a, Option<Delegation>> {
        let (t, p, e) = (
            tool.to_owned(),
            plan_id.map(str::to_owned),
            email.map(str::to_owned),
        );
        self.run(move |c| {
            Ok(c.query_row(
                "SELECT * FROM delegations WHERE status = 'approved' AND tool = ?1 \
                 AND (?2 IS NULL OR plan_id = ?2) AND (?3 IS NULL OR requester_email = ?3) \
                 ORDER BY decided_ms DESC LIMIT 1",
                params![t, p, e],
                |r| delegation_from_row(r, now),
            )
            .optional()?)
        })
    }

    fn list_delegations(
        &self,
        status: Option<DelegationStatus>,
        now: i64,
    ) -> StoreFuture<'_, Vec<Delegation>> {
        self.run(move |c| {
            let mut st =
                c.prepare("SELECT * FROM delegations ORDER BY created_ms DESC LIMIT 500")?;
            let all = st
                .query_map([], |r| delegation_from_row(r, now))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            // Filtered after reading: a pending row past expiry reads as expired.
            Ok(all
                .into_iter()
                .filter(|d| status.is_none_or(|s| d.status == s))
                .collect())
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
                .send((row, ack))
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?;
            done.await
                .map_err(|_| StoreError::Unavailable("audit writer stopped".into()))?
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
}
