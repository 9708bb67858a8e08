//! A gateway under test: `armoriq serve` on loopback with its state (SQLite
//! in a temp directory, or a fresh PostgreSQL database), driven by the
//! unmodified official Python SDK (`scripts/py/sdk_scenarios.py`), the CLI
//! and raw HTTP. Shared by `gateway_e2e.rs` and `approvals_e2e.rs`.

use super::http::{http, json_of};
use super::{Proc, free_port, pg, script, wait_port};
use armoriq_gateway::store::{
    AuditCursor, AuditRow, Store, StoreFuture, StoreLocation, open_store,
};
use serde_json::Value;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// Where a test's gateway keeps its state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// SQLite in the state directory (the embedded default).
    Sqlite,
    /// A fresh database on the test PostgreSQL server.
    Postgres,
}

/// The secret that seals the signing key in a PostgreSQL store.
pub const SECRET: &str = "e2e: the operator's secret";

pub fn python() -> PathBuf {
    super::python().expect("checked at the start of each test")
}

pub const BIN: &str = env!("CARGO_BIN_EXE_armoriq");
pub const MCP: &str = "weather-mcp";

pub struct Gateway {
    pub dir: PathBuf,
    /// `--store` (PostgreSQL), or `None`: SQLite in the state directory.
    pub store: Option<String>,
    pub backend: u16,
    pub proxy: u16,
    pub key: String,
    pub admin: String,
    pub proc: Option<Proc>,
    pub extra: Vec<String>,
    /// More environment for `armoriq serve`.
    pub env: Vec<(String, String)>,
}

impl Gateway {
    pub fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// A fresh state directory (and, on PostgreSQL, a fresh database),
    /// `armoriq.yaml` naming the MCP server, and keys; `None` when the
    /// backend is not available here (the test is SKIPPED).
    pub fn new(backend: Backend, mcp_port: u16, policy: bool, extra: &[&str]) -> Option<Self> {
        Self::with_env(backend, mcp_port, policy, extra, &[])
    }

    /// [`Gateway::new`], `armoriq serve` running with more environment.
    pub fn with_env(
        backend: Backend,
        mcp_port: u16,
        policy: bool,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Option<Self> {
        let store = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(pg::fresh_database(&pg::admin_url()?)),
        };
        let dir = std::env::temp_dir().join(format!("armoriq-e2e-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = format!(
            "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
             environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n\
             policy:\n  allow: []\n  deny:\n  - {MCP}.delete_records\n"
        );
        std::fs::write(dir.join("armoriq.yaml"), yaml).unwrap();
        let mut g = Self {
            dir,
            store,
            backend: free_port(),
            proxy: free_port(),
            key: String::new(),
            admin: String::new(),
            proc: None,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            env: env
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        };
        let policy_file = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.json");
        if policy {
            if g.store.is_some() {
                // Shared by every node: loaded into the store.
                g.cli(&["policy", "load", policy_file]);
            } else {
                std::fs::copy(policy_file, g.dir.join("policy.json")).unwrap();
            }
        }
        g.key = g.cli(&["keys", "create"]);
        assert!(
            g.key.starts_with("ak_test_") && g.key.len() == 40,
            "{}",
            g.key
        );
        g.admin = g.cli(&["keys", "create", "--admin"]);
        g.start();
        Some(g)
    }

    /// `armoriq ARGS` on this gateway's state; its trimmed stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let mut c = Command::new(BIN);
        c.args(args).arg("--state-dir").arg(self.state());
        self.store_args(&mut c);
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "armoriq {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }

    /// `--store` and the secret, on PostgreSQL.
    pub fn store_args(&self, c: &mut Command) {
        if let Some(url) = &self.store {
            c.args(["--store", url]).env("ARMORIQ_SECRET", SECRET);
        }
    }

    /// Runs one store call on the store, opened beside the running gateway
    /// (as `armoriq logs` does), in one runtime with the call.
    pub fn with_store<T>(&self, f: impl for<'a> FnOnce(&'a dyn Store) -> StoreFuture<'a, T>) -> T {
        let loc = StoreLocation::parse(self.store.as_deref(), &self.state()).unwrap();
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                let store = open_store(&loc).await.unwrap();
                f(store.as_ref()).await.unwrap()
            })
    }

    pub fn start(&mut self) {
        let mut cmd = Command::new(BIN);
        cmd.arg("serve")
            .arg("--state-dir")
            .arg(self.state())
            .arg("--config")
            .arg(self.dir.join("armoriq.yaml"))
            .arg("--backend")
            .arg(format!("127.0.0.1:{}", self.backend))
            .arg("--proxy")
            .arg(format!("127.0.0.1:{}", self.proxy))
            .args(&self.extra)
            .env("ARMORIQ_LOG", "warn")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        self.store_args(&mut cmd);
        let mut child = cmd.spawn().unwrap();
        wait_port(self.backend, "armoriq serve", &mut child);
        wait_port(self.proxy, "armoriq serve", &mut child);
        self.proc = Some(Proc(child));
    }

    pub fn sigkill(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.0.kill().unwrap(); // SIGKILL on Unix
            p.0.wait().unwrap();
        }
    }

    pub fn scenario(&self, name: &str) -> Value {
        self.scenario_env(name, &[])
    }

    /// [`Gateway::scenario`] with more environment.
    pub fn scenario_env(&self, name: &str, env: &[(&str, &str)]) -> Value {
        let out = Command::new(python())
            .envs(env.iter().copied())
            .arg("-W")
            .arg("ignore")
            .arg(script("sdk_scenarios.py"))
            .arg(name)
            .env("ARMORIQ_API_KEY", &self.key)
            .env(
                "ARMORIQ_BACKEND_URL",
                format!("http://127.0.0.1:{}", self.backend),
            )
            .env("PROXY_ENDPOINT", format!("http://127.0.0.1:{}", self.proxy))
            .env("ARMORIQ_BIN", BIN)
            .env("ARMORIQ_STATE_DIR", self.state())
            .envs(
                self.store
                    .iter()
                    .flat_map(|u| [("ARMORIQ_STORE", u.as_str()), ("ARMORIQ_SECRET", SECRET)]),
            )
            .env("OTEL_SDK_DISABLED", "true")
            .env("ARMORIQ_OBSERVABILITY", "off")
            .output()
            .unwrap();
        super::scenario_result(&out, &format!("scenario {name}"))
    }

    /// Audit rows after `after`, read through the store (a second connection
    /// beside the running gateway, as `armoriq logs` does).
    pub fn audit_after(&self, after: AuditCursor) -> Vec<AuditRow> {
        self.with_store(|s| s.audit_page(after, 10_000)).rows
    }

    pub fn last_audit(&self) -> AuditCursor {
        self.with_store(|s| s.audit_page(AuditCursor::START, 10_000))
            .next
    }

    pub fn post(&self, port: u16, path: &str, key: Option<&str>, body: &[u8]) -> (u16, Value) {
        let mut h = vec![("Content-Type", "application/json")];
        if let Some(k) = key {
            h.push(("X-API-Key", k));
        }
        let (s, b) = http(port, "POST", path, &h, body).unwrap();
        (s, json_of(&b))
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.sigkill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs a scenario and returns it with the outcomes of the audit rows it added.
pub fn run(g: &Gateway, name: &str) -> (Value, Vec<String>) {
    let before = g.last_audit();
    let v = g.scenario(name);
    let rows = g.audit_after(before);
    let outcomes = rows.iter().map(|r| r.outcome.clone()).collect();
    (v, outcomes)
}

pub fn exception(v: &Value) -> &str {
    v["exception"].as_str().unwrap_or("none")
}
