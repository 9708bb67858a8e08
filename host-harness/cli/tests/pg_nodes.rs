//! Three `armoriq serve` processes on one PostgreSQL (the throwaway server
//! of `scripts/pg.sh`), a real MCP server behind them (the official `mcp`
//! Python SDK), driven by the unmodified official ArmorIQ Python SDK
//! (`scripts/py/multi_node.py`) and by raw HTTP under load:
//! * a token minted on one node is served by the others and verifies
//!   against another node's published key (one signing key for all);
//! * a held call approved with the CLI, then sent to all three nodes at
//!   once: exactly one goes through;
//! * a revoke on one node is refused by the others within 1 s;
//! * a policy loaded into the store is in force on every node within 2 s;
//! * one Idempotency-Key sent to two nodes at once: one plan, one answer;
//! * `armoriq logs --store` shows every node's rows, each naming its node;
//! * kill -9 one node under load: every acknowledged call has its audit
//!   row and the others keep serving;
//! * PostgreSQL restarted under load: 503 while it is down, then service
//!   resumes with no acknowledged row lost.
//!
//! The tests of this file share one PostgreSQL server and one of them
//! restarts it, so they run one at a time (`SERIAL`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::http::{http, json_of};
use common::{ARMORIQ, Proc, free_port, pg, script, wait_port};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MCP: &str = "weather-mcp";
const SECRET: &str = "test-secret: one for every node of this cluster";
static SERIAL: Mutex<()> = Mutex::new(());

struct Node {
    name: String,
    backend: u16,
    proxy: u16,
    proc: Option<Proc>,
}

struct Cluster {
    dir: PathBuf,
    store: String,
    key: String,
    nodes: Vec<Node>,
    _mcp: Proc,
    python: PathBuf,
}

fn cli(store: &str, args: &[&str]) -> std::process::Output {
    Command::new(ARMORIQ)
        .args(args)
        .args(["--store", store])
        .env("ARMORIQ_SECRET", SECRET)
        .output()
        .unwrap()
}

fn cli_ok(store: &str, args: &[&str]) -> String {
    let out = cli(store, args);
    assert!(
        out.status.success(),
        "armoriq {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

impl Cluster {
    /// A fresh database with the test policy loaded, keys, a real MCP
    /// server, and `n` nodes started on it.
    fn start(n: usize) -> Option<Self> {
        let python = common::python()?;
        let admin_url = pg::admin_url()?;
        let store = pg::fresh_database(&admin_url);
        let dir = std::env::temp_dir().join(format!("armoriq-nodes-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mcp_port = free_port();
        let mcp = common::start_mcp(&python, MCP, mcp_port);
        std::fs::write(
            dir.join("armoriq.yaml"),
            format!(
                "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
                 environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n"
            ),
        )
        .unwrap();
        let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.json");
        cli_ok(&store, &["policy", "load", policy]);
        let key = cli_ok(&store, &["keys", "create"]).trim().to_owned();
        let mut c = Self {
            dir,
            store,
            key,
            nodes: Vec::new(),
            _mcp: mcp,
            python,
        };
        for i in 0..n {
            c.nodes.push(Node {
                name: format!("node-{i}"),
                backend: free_port(),
                proxy: free_port(),
                proc: None,
            });
        }
        // Started together: they must agree on one signing key.
        let children: Vec<_> = (0..n).map(|i| c.spawn(i)).collect();
        for (i, mut child) in children.into_iter().enumerate() {
            wait_port(c.nodes[i].backend, "armoriq serve", &mut child);
            wait_port(c.nodes[i].proxy, "armoriq serve", &mut child);
            c.nodes[i].proc = Some(Proc(child));
        }
        Some(c)
    }

    fn spawn(&self, i: usize) -> std::process::Child {
        let node = &self.nodes[i];
        Command::new(ARMORIQ)
            .arg("serve")
            .args(["--store", &self.store])
            .arg("--state-dir")
            .arg(self.dir.join(&node.name))
            .arg("--config")
            .arg(self.dir.join("armoriq.yaml"))
            .args(["--backend", &format!("127.0.0.1:{}", node.backend)])
            .args(["--proxy", &format!("127.0.0.1:{}", node.proxy)])
            .env("ARMORIQ_SECRET", SECRET)
            .env("ARMORIQ_NODE", &node.name)
            .env("ARMORIQ_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap()
    }

    fn kill9(&mut self, i: usize) {
        if let Some(mut p) = self.nodes[i].proc.take() {
            p.0.kill().unwrap(); // SIGKILL on Unix
            p.0.wait().unwrap();
        }
    }

    fn scenario(&self, name: &str, token_file: &Path) -> Value {
        let nodes: Vec<Value> = self
            .nodes
            .iter()
            .map(|n| {
                json!({"backend": format!("http://127.0.0.1:{}", n.backend),
                       "proxy": format!("http://127.0.0.1:{}", n.proxy)})
            })
            .collect();
        let out = Command::new(&self.python)
            .args(["-W", "ignore"])
            .arg(script("multi_node.py"))
            .arg(name)
            .env("ARMORIQ_API_KEY", &self.key)
            .env("ARMORIQ_NODES", Value::Array(nodes).to_string())
            .env("ARMORIQ_TOKEN_FILE", token_file)
            .env("OTEL_SDK_DISABLED", "true")
            .env("ARMORIQ_OBSERVABILITY", "off")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        let v: Value = serde_json::from_str(stdout.lines().last().unwrap_or_default())
            .unwrap_or_else(|_| {
                panic!(
                    "scenario {name}: no JSON\nstdout: {stdout}\nstderr: {}",
                    String::from_utf8_lossy(&out.stderr)
                )
            });
        assert!(
            v.get("scenario_error").is_none(),
            "scenario {name} failed: {v}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        v
    }

    fn post(&self, port: u16, path: &str, extra: &[(&str, &str)], body: &Value) -> (u16, Value) {
        let mut h = vec![
            ("Content-Type", "application/json"),
            ("X-API-Key", self.key.as_str()),
        ];
        h.extend_from_slice(extra);
        let (s, b) = http(port, "POST", path, &h, body.to_string().as_bytes()).unwrap();
        (s, json_of(&b))
    }

    /// Mints a one-step token for `params` on node `i`; the invoke body.
    fn mint_call(&self, i: usize, city: &str) -> Value {
        let params = json!({"city": city, "units": "metric"});
        let plan = json!({"steps": [{"mcp": MCP, "action": "get_weather", "params": params}]});
        let (s, minted) = self.post(
            self.nodes[i].backend,
            "/iap/sdk/token",
            &[],
            &json!({"plan": plan, "expires_in": 600, "user_email": "load@example.com"}),
        );
        assert_eq!(s, 200, "{minted}");
        json!({"mcp": MCP, "action": "get_weather", "params": params,
               "intent_token": {"jwt_token": minted["jwt_token"], "plan_id": minted["plan_id"]},
               "user_email": "load@example.com"})
    }

    /// Every audit row, read with `armoriq logs --store … --json`.
    fn logs(&self) -> Vec<Value> {
        cli_ok(&self.store, &["logs", "--json", "--tail", "1000000"])
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill9(i);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn exception(v: &Value) -> &str {
    v["exception"].as_str().unwrap_or("none")
}

#[test]
fn three_nodes_share_keys_plans_approvals_revocations_and_policy() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(c) = Cluster::start(3) else { return };
    let token_file = c.dir.join("token.json");

    // Mint on node 0, invoke on nodes 1 and 2, verify against node 2's key.
    let v = c.scenario("cross_node", &token_file);
    for r in v["invokes"].as_array().unwrap() {
        assert_eq!(exception(r), "none", "{v}");
        assert_eq!(r["status"], "success", "{v}");
    }
    assert_eq!(v["verify_token"], true, "{v}");
    assert_eq!(v["signature_ok"], true, "{v}");
    assert_eq!(v["token_key_is_node_key"], true, "{v}");
    assert_eq!(v["jwt_verified_with_node_key"], true, "{v}");
    let kids: BTreeSet<&str> = v["kids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 1, "every node publishes the same key: {v}");
    eprintln!("cross-node: minted on node-0, served by node-1 and node-2, one kid {kids:?}");

    // A held call, approved with the CLI, then sent to all three at once.
    let held = c.scenario("hold", &token_file);
    assert_eq!(exception(&held), "PolicyHoldException", "{held}");
    let deleg = held["delegation_context"]["delegation_id"]
        .as_str()
        .or_else(|| held["delegation_context"]["delegationId"].as_str())
        .unwrap_or_else(|| panic!("no delegation id: {held}"))
        .to_owned();
    cli_ok(&c.store, &["approve", &deleg, "--by", "boss@example.com"]);
    let race = c.scenario("approved_race", &token_file);
    let results = race["results"].as_array().unwrap();
    let through = results.iter().filter(|r| exception(r) == "none").count();
    assert_eq!(
        through, 1,
        "exactly one of three nodes lets the approved call through: {race}"
    );
    for r in results.iter().filter(|r| exception(r) != "none") {
        assert_eq!(
            exception(r),
            "PolicyHoldException",
            "the others are held again: {race}"
        );
    }
    eprintln!("approval: 3 nodes at once, {through} went through");

    // Revoke on node 0: nodes 1 and 2 refuse within 1 s, cached or not.
    let v = c.scenario("revoke_propagation", &token_file);
    for w in v["warm"].as_array().unwrap() {
        assert_eq!(exception(w), "none", "{v}");
    }
    let after = v["refused_after_s"].as_object().unwrap();
    assert_eq!(
        after.len(),
        2,
        "every other node refuses the revoked token: {v}"
    );
    for (node, secs) in after {
        let secs = secs.as_f64().unwrap();
        assert!(
            secs < 1.0,
            "node {node} refused only after {secs:.3} s: {v}"
        );
        assert_eq!(exception(&v["last"][node]), "InvalidTokenException", "{v}");
    }
    eprintln!("revoke: refused on the other nodes after {after:?} s");

    // A policy loaded on one node's store is in force everywhere within 2 s.
    let call = c.mint_call(0, "Oslo");
    for n in &c.nodes {
        let (s, v) = c.post(n.proxy, "/invoke", &[], &call);
        assert_eq!(s, 200, "{v}");
    }
    let block = c.dir.join("block-weather.json");
    std::fs::write(
        &block,
        json!({"agent": {"policyId": "pol-no-weather", "layer": "agent", "expiresAt": "never",
            "defaults": {"tools": "allow"},
            "statements": [{"id": "no-weather", "effect": "block",
                "match": {"tool": "get_weather", "order": 1}, "conditions": [],
                "expiresAt": "never",
                "provenance": {"ruleKey": "tools.get_weather", "variant": 0}}]}})
        .to_string(),
    )
    .unwrap();
    cli_ok(&c.store, &["policy", "load", block.to_str().unwrap()]);
    let t0 = Instant::now();
    let mut blocked_after = BTreeMap::new();
    while blocked_after.len() < c.nodes.len() && t0.elapsed() < Duration::from_secs(10) {
        for n in &c.nodes {
            if blocked_after.contains_key(&n.name) {
                continue;
            }
            let (s, _) = c.post(n.proxy, "/invoke", &[], &call);
            if s == 403 {
                blocked_after.insert(n.name.clone(), t0.elapsed().as_secs_f64());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        blocked_after.len(),
        3,
        "every node puts the new policy in force: {blocked_after:?}"
    );
    for (node, secs) in &blocked_after {
        assert!(
            *secs < 2.0,
            "{node} took {secs:.3} s to put the policy in force"
        );
    }
    eprintln!("policy: in force on every node after {blocked_after:?} s");
    let policy = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.json");
    cli_ok(&c.store, &["policy", "load", policy]);
    wait_for("the weather policy back on every node", 5, || {
        c.nodes
            .iter()
            .all(|n| c.post(n.proxy, "/invoke", &[], &call).0 == 200)
    });

    // One Idempotency-Key, two nodes at once: one plan, the same answer.
    let plan = json!({"steps": [{"mcp": MCP, "action": "get_weather",
                                  "params": {"city": "Lima", "units": "metric"}}]});
    let body = json!({"plan": plan, "expires_in": 600});
    let idem = format!("idem-{}", uuid::Uuid::new_v4());
    let gate = Arc::new(std::sync::Barrier::new(2));
    let answers: Vec<(u16, Value)> = std::thread::scope(|s| {
        let hs: Vec<_> = [0usize, 1]
            .iter()
            .map(|&i| {
                let (gate, body, idem, c) = (gate.clone(), &body, &idem, &c);
                s.spawn(move || {
                    gate.wait();
                    // The loser may be told the key is in flight (409); it
                    // retries until the winner's answer is there to replay.
                    for _ in 0..100 {
                        let r = c.post(
                            c.nodes[i].backend,
                            "/iap/sdk/token",
                            &[("Idempotency-Key", idem.as_str())],
                            body,
                        );
                        if r.0 != 409 {
                            return r;
                        }
                        std::thread::sleep(Duration::from_millis(50));
                    }
                    panic!("idempotency key stayed in flight");
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(answers[0].0, 200, "{answers:?}");
    assert_eq!(
        answers[0], answers[1],
        "two nodes, one key: the same answer"
    );
    let plans: BTreeSet<_> = c
        .logs()
        .into_iter()
        .filter(|r| r["route"] == "token" && r["outcome"] == "minted")
        .filter_map(|r| r["plan_id"].as_str().map(str::to_owned))
        .filter(|p| Some(p.as_str()) == answers[0].1["plan_id"].as_str())
        .collect();
    assert_eq!(plans.len(), 1, "one plan minted for the key");
    eprintln!("idempotency: two nodes at once, one plan {plans:?}");

    // Every node's rows are in one log, each naming its node (the CLI's
    // own rows, a key created or an approval given, name its process).
    let nodes: BTreeSet<String> = c
        .logs()
        .iter()
        .filter(|r| r["route"] != "cli")
        .filter_map(|r| r["node"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        nodes,
        ["node-0", "node-1", "node-2"]
            .map(String::from)
            .into_iter()
            .collect(),
        "armoriq logs shows rows from every node"
    );
}

/// Invokes `call` on `port` in a loop until `stop`; counts 200s in `acked`
/// and 503s in `unavailable`; any other answer is recorded in `other`.
fn load_worker(
    port: u16,
    key: String,
    call: Arc<String>,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
    unavailable: Arc<AtomicUsize>,
    other: Arc<Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let h = [
            ("Content-Type", "application/json"),
            ("X-API-Key", key.as_str()),
        ];
        while !stop.load(Ordering::Relaxed) {
            match http(port, "POST", "/invoke", &h, call.as_bytes()) {
                Ok((200, _)) => {
                    acked.fetch_add(1, Ordering::SeqCst);
                }
                Ok((503, _)) => {
                    unavailable.fetch_add(1, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                }
                Ok((s, b)) => other
                    .lock()
                    .unwrap()
                    .push(format!("{s}: {}", String::from_utf8_lossy(&b))),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    })
}

fn wait_for(what: &str, secs: u64, f: impl Fn() -> bool) {
    let t0 = Instant::now();
    while !f() {
        assert!(
            t0.elapsed() < Duration::from_secs(secs),
            "{what}: not within {secs} s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

struct Load {
    stop: Arc<AtomicBool>,
    acked: Vec<Arc<AtomicUsize>>,
    unavailable: Arc<AtomicUsize>,
    other: Arc<Mutex<Vec<String>>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    /// Two workers per node, each node's own token minted on that node.
    fn start(c: &Cluster) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let unavailable = Arc::new(AtomicUsize::new(0));
        let other = Arc::new(Mutex::new(Vec::new()));
        let mut acked = Vec::new();
        let mut workers = Vec::new();
        for (i, n) in c.nodes.iter().enumerate() {
            let call = Arc::new(c.mint_call(i, &format!("City{i}")).to_string());
            let a = Arc::new(AtomicUsize::new(0));
            for _ in 0..2 {
                workers.push(load_worker(
                    n.proxy,
                    c.key.clone(),
                    call.clone(),
                    stop.clone(),
                    a.clone(),
                    unavailable.clone(),
                    other.clone(),
                ));
            }
            acked.push(a);
        }
        Self {
            stop,
            acked,
            unavailable,
            other,
            workers,
        }
    }

    fn acked(&self, i: usize) -> usize {
        self.acked[i].load(Ordering::SeqCst)
    }

    fn total(&self) -> usize {
        (0..self.acked.len()).map(|i| self.acked(i)).sum()
    }

    fn stop(self) -> (usize, usize, Vec<String>) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers {
            w.join().unwrap();
        }
        let total = self.acked.iter().map(|a| a.load(Ordering::SeqCst)).sum();
        let other = self.other.lock().unwrap().clone();
        (total, self.unavailable.load(Ordering::SeqCst), other)
    }
}

fn allowed_rows(c: &Cluster) -> usize {
    c.logs()
        .iter()
        .filter(|r| r["route"] == "invoke" && r["outcome"] == "allowed")
        .count()
}

#[test]
fn kill_9_one_node_under_load_loses_no_acknowledged_row() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(mut c) = Cluster::start(3) else {
        return;
    };
    let load = Load::start(&c);
    wait_for("30 calls on every node", 60, || {
        (0..3).all(|i| load.acked(i) >= 30)
    });
    c.kill9(1);
    let (a0, a2) = (load.acked(0), load.acked(2));
    wait_for("the other nodes keep serving", 30, || {
        load.acked(0) >= a0 + 30 && load.acked(2) >= a2 + 30
    });
    let (acked, _, other) = load.stop();
    assert!(other.is_empty(), "unexpected answers: {other:?}");
    let rows = allowed_rows(&c);
    assert!(
        rows >= acked,
        "{acked} calls were acknowledged but only {rows} audit rows are in the store"
    );
    eprintln!("kill -9: {acked} acknowledged calls, {rows} allowed rows");
}

#[test]
fn postgres_restart_under_load_503s_then_recovers_with_no_lost_row() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(c) = Cluster::start(3) else { return };
    let load = Load::start(&c);
    wait_for("20 calls on every node", 60, || {
        (0..3).all(|i| load.acked(i) >= 20)
    });
    pg::ctl("stop");
    let down_at = load.total();
    wait_for("503s while PostgreSQL is down", 30, || {
        load.unavailable.load(Ordering::SeqCst) >= 10
    });
    std::thread::sleep(Duration::from_millis(500));
    pg::ctl("start");
    wait_for("service resumes on every node", 60, || {
        (0..3).all(|i| load.acked(i) >= 20) && load.total() >= down_at + 60
    });
    let (acked, unavailable, other) = load.stop();
    assert!(other.is_empty(), "unexpected answers: {other:?}");
    assert!(unavailable > 0);
    let rows = allowed_rows(&c);
    assert!(
        rows >= acked,
        "{acked} calls were acknowledged but only {rows} audit rows are in the store"
    );
    eprintln!("PostgreSQL restart: {acked} acknowledged, {unavailable} answered 503, {rows} rows");
}
