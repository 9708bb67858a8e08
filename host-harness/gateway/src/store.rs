//! Durable state behind a small trait: API keys, minted plans, idempotent
//! responses, delegations and the audit log. [`SqliteStore`] is the one
//! implementation today (WAL, `synchronous=FULL`); several gateways sharing
//! one PostgreSQL would implement the same trait.
//!
//! Audit rows go through a group-commit writer thread: each request hands its
//! row over and waits until the transaction holding it is on disk, so a row is
//! durable before the response goes out while concurrent requests share one
//! fsync.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::mpsc;

/// A store failure (I/O, corruption, a closed writer). Answered as 500.
#[derive(Debug)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "store: {}", self.0)
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;

/// What an API key may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// SDK calls.
    Agent,
    /// SDK calls plus the admin routes (approve / reject).
    Admin,
}

impl Role {
    fn as_str(self) -> &'static str {
        match self {
            Self::Agent => "agent",
            Self::Admin => "admin",
        }
    }
}

/// A verified API key.
#[derive(Clone, Debug)]
pub struct KeyInfo {
    /// Row id.
    pub id: i64,
    /// Role.
    pub role: Role,
}

/// A minted plan.
#[derive(Clone, Debug)]
pub struct PlanRecord {
    /// `plan_id`.
    pub plan_id: String,
    /// Lowercase hex.
    pub plan_hash: String,
    /// Lowercase hex.
    pub merkle_root: String,
    /// The plan JSON as received.
    pub plan_json: String,
    /// Number of steps.
    pub step_count: u64,
    /// `jti` of the token.
    pub intent_reference: String,
    /// Who asked.
    pub user_email: Option<String>,
    /// The agent.
    pub agent_id: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// `active`, `completed`, ...
    pub status: String,
}

/// One audit row.
#[derive(Clone, Debug, Default, Serialize)]
pub struct AuditRow {
    /// Row id (set by the store).
    pub id: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// What was decided: allowed, blocked, held, mismatched, expired, invalid,
    /// mcp_error, minted, denied, ...
    pub outcome: String,
    /// The route (`invoke`, `token`, `enforce`, `report`).
    pub route: String,
    /// User email, if known.
    pub user_email: Option<String>,
    /// Agent id, if known.
    pub agent_id: Option<String>,
    /// Plan id, if known.
    pub plan_id: Option<String>,
    /// Step index, if matched.
    pub step: Option<i64>,
    /// MCP server.
    pub mcp: Option<String>,
    /// Tool.
    pub tool: Option<String>,
    /// Why (error variant, policy rule, MCP error text).
    pub reason: Option<String>,
    /// Time spent deciding, microseconds.
    pub latency_us: i64,
}

/// A delegation request (a held call waiting for a human).
#[derive(Clone, Debug, Serialize)]
pub struct Delegation {
    /// `deleg_…`.
    pub id: String,
    /// pending / approved / rejected / expired / executed.
    pub status: String,
    /// The tool (action).
    pub tool: String,
    /// The MCP server (domain).
    pub mcp: Option<String>,
    /// Plan id.
    pub plan_id: Option<String>,
    /// Requester.
    pub requester_email: Option<String>,
    /// Arguments JSON.
    pub arguments: String,
    /// Amount, if any.
    pub amount: Option<f64>,
    /// Why it was held.
    pub reason: Option<String>,
    /// Approval requirements from the policy (JSON), if any.
    pub approval: Option<String>,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// Unix milliseconds.
    pub expires_ms: i64,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Unix milliseconds.
    pub executed_ms: Option<i64>,
}

/// A new delegation request.
#[derive(Clone, Debug, Default)]
pub struct NewDelegation {
    /// The tool.
    pub tool: String,
    /// The MCP server.
    pub mcp: Option<String>,
    /// Plan id.
    pub plan_id: Option<String>,
    /// Requester.
    pub requester_email: Option<String>,
    /// Arguments, canonical JSON.
    pub arguments: String,
    /// Amount.
    pub amount: Option<f64>,
    /// Reason.
    pub reason: Option<String>,
    /// Approval JSON.
    pub approval: Option<String>,
    /// Lifetime.
    pub ttl_ms: i64,
}

/// The gateway's durable state.
pub trait Store: Send + Sync + 'static {
    /// Adds an API key (only its SHA-256 is kept).
    fn add_api_key(&self, key: &str, role: Role, label: &str) -> StoreResult<i64>;
    /// Looks a presented key up.
    fn check_api_key(&self, key: &str) -> StoreResult<Option<KeyInfo>>;
    /// Number of usable keys.
    fn count_api_keys(&self) -> StoreResult<i64>;
    /// Stores a minted plan.
    fn put_plan(&self, plan: &PlanRecord) -> StoreResult<()>;
    /// A plan by id.
    fn get_plan(&self, plan_id: &str) -> StoreResult<Option<PlanRecord>>;
    /// Sets a plan's status; false if there is no such plan.
    fn set_plan_status(&self, plan_id: &str, status: &str) -> StoreResult<bool>;
    /// A stored response for (key, route, idempotency key).
    fn idem_get(&self, key_id: i64, route: &str, idem: &str) -> StoreResult<Option<(u16, String)>>;
    /// Stores a response for replay.
    fn idem_put(
        &self,
        key_id: i64,
        route: &str,
        idem: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()>;
    /// Appends an audit row; returns once it is durable.
    fn audit(&self, row: AuditRow) -> StoreResult<i64>;
    /// Records what became of an allowed call (its forwarding failed); returns
    /// once durable.
    fn audit_update(
        &self,
        id: i64,
        outcome: &str,
        reason: Option<&str>,
        latency_us: i64,
    ) -> StoreResult<()>;
    /// Audit rows with id > `after`, oldest first, at most `limit`.
    fn audit_since(&self, after: i64, limit: i64) -> StoreResult<Vec<AuditRow>>;
    /// Creates a delegation, or returns the pending one for the same request.
    fn create_delegation(&self, d: &NewDelegation, now_ms: i64) -> StoreResult<Delegation>;
    /// A delegation by id (pending ones past their expiry read as expired).
    fn get_delegation(&self, id: &str, now_ms: i64) -> StoreResult<Option<Delegation>>;
    /// Approves or rejects a pending delegation; returns it as it now is.
    fn decide_delegation(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        now_ms: i64,
    ) -> StoreResult<Option<Delegation>>;
    /// Marks an approved delegation executed.
    fn mark_executed(&self, id: &str, now_ms: i64) -> StoreResult<bool>;
    /// An approved, not yet executed delegation for this tool (and plan, if given).
    fn find_approved(
        &self,
        tool: &str,
        plan_id: Option<&str>,
        email: Option<&str>,
        now_ms: i64,
    ) -> StoreResult<Option<Delegation>>;
    /// Delegations, newest first.
    fn list_delegations(&self, status: Option<&str>, now_ms: i64) -> StoreResult<Vec<Delegation>>;
}

/// SHA-256 hex of an API key.
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// SQLite, WAL, `synchronous=FULL`.
pub struct SqliteStore {
    conn: Mutex<Connection>,
    audit_tx: Mutex<mpsc::Sender<(AuditRow, mpsc::SyncSender<StoreResult<i64>>)>>,
    path: PathBuf,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS api_keys (
  id INTEGER PRIMARY KEY, key_hash TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
  label TEXT NOT NULL, created_ms INTEGER NOT NULL, revoked_ms INTEGER);
CREATE TABLE IF NOT EXISTS plans (
  plan_id TEXT PRIMARY KEY, plan_hash TEXT NOT NULL, merkle_root TEXT NOT NULL,
  plan_json TEXT NOT NULL, step_count INTEGER NOT NULL, intent_reference TEXT NOT NULL,
  user_email TEXT, agent_id TEXT, expires_at INTEGER NOT NULL, status TEXT NOT NULL,
  created_ms INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key_id INTEGER NOT NULL, route TEXT NOT NULL, idem TEXT NOT NULL, status INTEGER NOT NULL,
  body TEXT NOT NULL, created_ms INTEGER NOT NULL, PRIMARY KEY (key_id, route, idem));
CREATE TABLE IF NOT EXISTS audit (
  id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, route TEXT NOT NULL,
  outcome TEXT NOT NULL, user_email TEXT, agent_id TEXT, plan_id TEXT, step INTEGER,
  mcp TEXT, tool TEXT, reason TEXT, latency_us INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS delegations (
  id TEXT PRIMARY KEY, status TEXT NOT NULL, tool TEXT NOT NULL, mcp TEXT, plan_id TEXT,
  requester_email TEXT, arguments TEXT NOT NULL, amount REAL, reason TEXT, approval TEXT,
  created_ms INTEGER NOT NULL, expires_ms INTEGER NOT NULL, decided_by TEXT,
  decided_ms INTEGER, executed_ms INTEGER);
";

fn open(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

fn now_ms() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl SqliteStore {
    /// Opens (creating if needed) `path`, file mode 0600.
    ///
    /// # Errors
    /// The database cannot be opened or migrated.
    pub fn open(path: &Path) -> StoreResult<Self> {
        if !path.exists() {
            create_private_file(path)
                .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        }
        let conn = open(path)?;
        conn.execute_batch(SCHEMA)?;
        let writer = open(path)?;
        let (tx, rx) = mpsc::channel::<(AuditRow, mpsc::SyncSender<StoreResult<i64>>)>();
        std::thread::Builder::new()
            .name("armoriq-audit".into())
            .spawn(move || audit_writer(writer, rx))
            .map_err(|e| StoreError(e.to_string()))?;
        Ok(Self {
            conn: Mutex::new(conn),
            audit_tx: Mutex::new(tx),
            path: path.to_path_buf(),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn with<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = self
            .conn
            .lock()
            .map_err(|_| StoreError("connection lock poisoned".into()))?;
        Ok(f(&conn)?)
    }
}

/// Creates an empty file readable by its owner only.
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

/// Takes every row waiting, writes them in one transaction, acknowledges each.
fn audit_writer(
    mut conn: Connection,
    rx: mpsc::Receiver<(AuditRow, mpsc::SyncSender<StoreResult<i64>>)>,
) {
    while let Ok(first) = rx.recv() {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
            if batch.len() >= 512 {
                break;
            }
        }
        let result = (|| -> rusqlite::Result<Vec<i64>> {
            let tx = conn.transaction()?;
            let mut ids = Vec::with_capacity(batch.len());
            {
                let mut st = tx.prepare_cached(
                    "INSERT INTO audit (at_ms, route, outcome, user_email, agent_id, plan_id, step, \
                     mcp, tool, reason, latency_us) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
                )?;
                for (r, _) in &batch {
                    st.execute(params![
                        r.at_ms,
                        r.route,
                        r.outcome,
                        r.user_email,
                        r.agent_id,
                        r.plan_id,
                        r.step,
                        r.mcp,
                        r.tool,
                        r.reason,
                        r.latency_us
                    ])?;
                    ids.push(tx.last_insert_rowid());
                }
            }
            tx.commit()?;
            Ok(ids)
        })();
        match result {
            Ok(ids) => {
                for ((_, ack), id) in batch.into_iter().zip(ids) {
                    let _ = ack.send(Ok(id));
                }
            }
            Err(e) => {
                for (_, ack) in batch {
                    let _ = ack.send(Err(StoreError(e.to_string())));
                }
            }
        }
    }
}

fn delegation_from_row(r: &rusqlite::Row<'_>, now: i64) -> rusqlite::Result<Delegation> {
    let mut d = Delegation {
        id: r.get("id")?,
        status: r.get("status")?,
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
    if d.status == "pending" && now > d.expires_ms {
        d.status = "expired".into();
    }
    Ok(d)
}

fn plan_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PlanRecord> {
    Ok(PlanRecord {
        plan_id: r.get("plan_id")?,
        plan_hash: r.get("plan_hash")?,
        merkle_root: r.get("merkle_root")?,
        plan_json: r.get("plan_json")?,
        step_count: u64::try_from(r.get::<_, i64>("step_count")?).unwrap_or(0),
        intent_reference: r.get("intent_reference")?,
        user_email: r.get("user_email")?,
        agent_id: r.get("agent_id")?,
        expires_at: r.get("expires_at")?,
        status: r.get("status")?,
    })
}

fn audit_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
    Ok(AuditRow {
        id: r.get("id")?,
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
    })
}

impl Store for SqliteStore {
    fn add_api_key(&self, key: &str, role: Role, label: &str) -> StoreResult<i64> {
        self.with(|c| {
            c.execute(
                "INSERT INTO api_keys (key_hash, role, label, created_ms) VALUES (?1,?2,?3,?4)",
                params![key_hash(key), role.as_str(), label, now_ms()],
            )?;
            Ok(c.last_insert_rowid())
        })
    }

    fn check_api_key(&self, key: &str) -> StoreResult<Option<KeyInfo>> {
        self.with(|c| {
            c.query_row(
                "SELECT id, role FROM api_keys WHERE key_hash = ?1 AND revoked_ms IS NULL",
                params![key_hash(key)],
                |r| {
                    let role: String = r.get(1)?;
                    Ok(KeyInfo {
                        id: r.get(0)?,
                        role: if role == "admin" {
                            Role::Admin
                        } else {
                            Role::Agent
                        },
                    })
                },
            )
            .optional()
        })
    }

    fn count_api_keys(&self) -> StoreResult<i64> {
        self.with(|c| {
            c.query_row(
                "SELECT COUNT(*) FROM api_keys WHERE revoked_ms IS NULL",
                [],
                |r| r.get(0),
            )
        })
    }

    fn put_plan(&self, p: &PlanRecord) -> StoreResult<()> {
        self.with(|c| {
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
                    p.status,
                    now_ms()
                ],
            )?;
            Ok(())
        })
    }

    fn get_plan(&self, plan_id: &str) -> StoreResult<Option<PlanRecord>> {
        self.with(|c| {
            c.query_row(
                "SELECT * FROM plans WHERE plan_id = ?1",
                params![plan_id],
                plan_from_row,
            )
            .optional()
        })
    }

    fn set_plan_status(&self, plan_id: &str, status: &str) -> StoreResult<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE plans SET status = ?2 WHERE plan_id = ?1",
                params![plan_id, status],
            )? == 1)
        })
    }

    fn idem_get(&self, key_id: i64, route: &str, idem: &str) -> StoreResult<Option<(u16, String)>> {
        self.with(|c| {
            c.query_row(
                "SELECT status, body FROM idempotency WHERE key_id=?1 AND route=?2 AND idem=?3",
                params![key_id, route, idem],
                |r| Ok((u16::try_from(r.get::<_, i64>(0)?).unwrap_or(500), r.get(1)?)),
            )
            .optional()
        })
    }

    fn idem_put(
        &self,
        key_id: i64,
        route: &str,
        idem: &str,
        status: u16,
        body: &str,
    ) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "INSERT OR IGNORE INTO idempotency (key_id, route, idem, status, body, created_ms) \
                 VALUES (?1,?2,?3,?4,?5,?6)",
                params![key_id, route, idem, i64::from(status), body, now_ms()],
            )?;
            Ok(())
        })
    }

    fn audit(&self, row: AuditRow) -> StoreResult<i64> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.audit_tx
            .lock()
            .map_err(|_| StoreError("audit lock poisoned".into()))?
            .send((row, ack_tx))
            .map_err(|_| StoreError("audit writer stopped".into()))?;
        ack_rx
            .recv()
            .map_err(|_| StoreError("audit writer stopped".into()))?
    }

    fn audit_update(
        &self,
        id: i64,
        outcome: &str,
        reason: Option<&str>,
        latency_us: i64,
    ) -> StoreResult<()> {
        self.with(|c| {
            c.execute(
                "UPDATE audit SET outcome = ?2, reason = ?3, latency_us = ?4 WHERE id = ?1",
                params![id, outcome, reason, latency_us],
            )?;
            Ok(())
        })
    }

    fn audit_since(&self, after: i64, limit: i64) -> StoreResult<Vec<AuditRow>> {
        self.with(|c| {
            let mut st =
                c.prepare_cached("SELECT * FROM audit WHERE id > ?1 ORDER BY id LIMIT ?2")?;
            let rows = st.query_map(params![after, limit], audit_from_row)?;
            rows.collect()
        })
    }

    fn create_delegation(&self, d: &NewDelegation, now: i64) -> StoreResult<Delegation> {
        self.with(|c| {
            let existing = c
                .query_row(
                    "SELECT * FROM delegations WHERE status = 'pending' AND expires_ms >= ?1 \
                     AND tool = ?2 AND plan_id IS ?3 AND requester_email IS ?4 AND arguments = ?5 \
                     ORDER BY created_ms DESC LIMIT 1",
                    params![now, d.tool, d.plan_id, d.requester_email, d.arguments],
                    |r| delegation_from_row(r, now),
                )
                .optional()?;
            if let Some(e) = existing {
                return Ok(e);
            }
            let id = format!("deleg_{}", uuid::Uuid::new_v4().simple());
            c.execute(
                "INSERT INTO delegations (id, status, tool, mcp, plan_id, requester_email, \
                 arguments, amount, reason, approval, created_ms, expires_ms) \
                 VALUES (?1,'pending',?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
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
            c.query_row(
                "SELECT * FROM delegations WHERE id = ?1",
                params![id],
                |r| delegation_from_row(r, now),
            )
        })
    }

    fn get_delegation(&self, id: &str, now: i64) -> StoreResult<Option<Delegation>> {
        self.with(|c| {
            c.query_row(
                "SELECT * FROM delegations WHERE id = ?1",
                params![id],
                |r| delegation_from_row(r, now),
            )
            .optional()
        })
    }

    fn decide_delegation(
        &self,
        id: &str,
        approve: bool,
        by: &str,
        now: i64,
    ) -> StoreResult<Option<Delegation>> {
        self.with(|c| {
            c.execute(
                "UPDATE delegations SET status = ?2, decided_by = ?3, decided_ms = ?4 \
                 WHERE id = ?1 AND status = 'pending' AND expires_ms >= ?4",
                params![id, if approve { "approved" } else { "rejected" }, by, now],
            )?;
            c.query_row(
                "SELECT * FROM delegations WHERE id = ?1",
                params![id],
                |r| delegation_from_row(r, now),
            )
            .optional()
        })
    }

    fn mark_executed(&self, id: &str, now: i64) -> StoreResult<bool> {
        self.with(|c| {
            Ok(c.execute(
                "UPDATE delegations SET status = 'executed', executed_ms = ?2 \
                 WHERE id = ?1 AND status = 'approved'",
                params![id, now],
            )? == 1)
        })
    }

    fn find_approved(
        &self,
        tool: &str,
        plan_id: Option<&str>,
        email: Option<&str>,
        now: i64,
    ) -> StoreResult<Option<Delegation>> {
        self.with(|c| {
            c.query_row(
                "SELECT * FROM delegations WHERE status = 'approved' AND tool = ?1 \
                 AND (?2 IS NULL OR plan_id = ?2) AND (?3 IS NULL OR requester_email = ?3) \
                 ORDER BY decided_ms DESC LIMIT 1",
                params![tool, plan_id, email],
                |r| delegation_from_row(r, now),
            )
            .optional()
        })
    }

    fn list_delegations(&self, status: Option<&str>, now: i64) -> StoreResult<Vec<Delegation>> {
        self.with(|c| {
            let mut st =
                c.prepare("SELECT * FROM delegations ORDER BY created_ms DESC LIMIT 500")?;
            let rows = st.query_map([], |r| delegation_from_row(r, now))?;
            let all: rusqlite::Result<Vec<_>> = rows.collect();
            Ok(all?
                .into_iter()
                .filter(|d| status.is_none_or(|s| d.status == s))
                .collect())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (SqliteStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!("armoriq-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let s = SqliteStore::open(&dir.join("armoriq.db")).unwrap();
        (s, dir)
    }

    #[test]
    fn keys_are_stored_hashed_and_checked() {
        let (s, dir) = store();
        s.add_api_key("ak_test_abc", Role::Agent, "t").unwrap();
        assert!(s.check_api_key("ak_test_abc").unwrap().is_some());
        assert!(s.check_api_key("ak_test_abd").unwrap().is_none());
        let raw = std::fs::read(dir.join("armoriq.db")).unwrap();
        assert!(!raw.windows(11).any(|w| w == b"ak_test_abc"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join("armoriq.db"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn audit_rows_are_ordered_and_durable_across_reopen() {
        let (s, dir) = store();
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let row = AuditRow {
                    outcome: format!("o{i}"),
                    route: "invoke".into(),
                    ..Default::default()
                };
                let s = &s;
                std::thread::scope(|_| s.audit(row).unwrap())
            })
            .collect();
        assert_eq!(threads.len(), 8);
        drop(s);
        let s = SqliteStore::open(&dir.join("armoriq.db")).unwrap();
        assert_eq!(s.audit_since(0, 100).unwrap().len(), 8);
    }

    #[test]
    fn delegation_lifecycle() {
        let (s, _) = store();
        let nd = NewDelegation {
            tool: "pay".into(),
            plan_id: Some("p1".into()),
            requester_email: Some("a@x".into()),
            arguments: "{}".into(),
            ttl_ms: 60_000,
            ..Default::default()
        };
        let d = s.create_delegation(&nd, 1000).unwrap();
        assert_eq!(d.status, "pending");
        // The same pending request is not duplicated.
        assert_eq!(s.create_delegation(&nd, 1001).unwrap().id, d.id);
        assert!(
            s.find_approved("pay", Some("p1"), None, 1002)
                .unwrap()
                .is_none()
        );
        let d2 = s
            .decide_delegation(&d.id, true, "admin", 1003)
            .unwrap()
            .unwrap();
        assert_eq!(d2.status, "approved");
        // Deciding twice does not flip it.
        let d3 = s
            .decide_delegation(&d.id, false, "admin", 1004)
            .unwrap()
            .unwrap();
        assert_eq!(d3.status, "approved");
        assert!(
            s.find_approved("pay", Some("p1"), None, 1005)
                .unwrap()
                .is_some()
        );
        assert!(s.mark_executed(&d.id, 1006).unwrap());
        assert!(!s.mark_executed(&d.id, 1007).unwrap());
        // Expiry.
        let e = s
            .create_delegation(
                &NewDelegation {
                    tool: "other".into(),
                    ttl_ms: 10,
                    ..nd
                },
                0,
            )
            .unwrap();
        assert_eq!(
            s.get_delegation(&e.id, 100).unwrap().unwrap().status,
            "expired"
        );
        assert_eq!(
            s.decide_delegation(&e.id, true, "x", 100)
                .unwrap()
                .unwrap()
                .status,
            "expired"
        );
    }
}
