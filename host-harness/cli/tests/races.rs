//! Once-only rules under concurrency, over loopback HTTP against the real
//! `armoriq serve` and the real MCP test server:
//!
//! * one `armoriq approve` of a held payment, then 8 clients send the
//!   approved call at once: exactly one is forwarded to the MCP server;
//! * 8 concurrent mints with one `Idempotency-Key`: one plan, and every
//!   client ends with the same answer (a loser that arrives while the
//!   winner is minting gets 409 and retries).
//!
//! Everything is observed from outside (HTTP answers and `/admin/audit`),
//! so these tests ran unchanged against the store before its atomic
//! operations existed (find_approved then mark_executed; idem_get, mint,
//! INSERT OR IGNORE). There 4 and then 5 of 8 approved calls were forwarded
//! on one approval, and 8 concurrent mints with one key minted 8 plans.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

mod common;
use common::{Proc, create_key, free_port, spawn_serve};

const BIN: &str = env!("CARGO_BIN_EXE_armoriq");
const MCP: &str = "weather-mcp";
const RACERS: usize = 8;

/// One HTTP/1.1 request with `Connection: close`; returns status and body.
fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Value) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    let text = String::from_utf8_lossy(&out).into_owned();
    let status: u16 = text.split(' ').nth(1).unwrap().parse().unwrap();
    let head_end = text.find("\r\n\r\n").unwrap() + 4;
    let head = text[..head_end].to_lowercase();
    let mut body = text[head_end..].to_owned();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    let v = serde_json::from_str(&body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    (status, v)
}

fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    while let Some(eol) = b.find("\r\n") {
        let n = usize::from_str_radix(b[..eol].trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 4 + n..];
    }
    out
}

struct Gateway {
    dir: PathBuf,
    backend: u16,
    proxy: u16,
    key: String,
    admin: String,
    _proc: Proc,
}

impl Gateway {
    fn state(&self) -> PathBuf {
        self.dir.join("state")
    }

    /// `armoriq serve` on a fresh state directory, with the test policy
    /// (payments over 1000 are held for approval).
    fn start(mcp_port: u16) -> Self {
        let dir = std::env::temp_dir().join(format!("armoriq-races-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let yaml = format!(
            "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: pay-agent\n\
             environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n"
        );
        std::fs::write(dir.join("armoriq.yaml"), yaml).unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.json"),
            dir.join("policy.json"),
        )
        .unwrap();
        let (key, admin) = (
            create_key(&dir.join("state"), false),
            create_key(&dir.join("state"), true),
        );
        let (proc, backend, proxy) = spawn_serve(&dir.join("state"), &dir.join("armoriq.yaml"));
        Self {
            dir,
            backend,
            proxy,
            key,
            admin,
            _proc: proc,
        }
    }

    fn post(&self, port: u16, path: &str, extra: &[(&str, &str)], body: &Value) -> (u16, Value) {
        let mut h = vec![
            ("Content-Type", "application/json"),
            ("X-API-Key", self.key.as_str()),
        ];
        h.extend_from_slice(extra);
        http(port, "POST", path, &h, body.to_string().as_bytes())
    }

    /// Every audit row, oldest first, over the admin route.
    fn audit(&self) -> Vec<Value> {
        let (s, v) = http(
            self.backend,
            "GET",
            "/admin/audit?limit=5000",
            &[("X-API-Key", self.admin.as_str())],
            b"",
        );
        assert_eq!(s, 200, "{v}");
        v["data"].as_array().unwrap().clone()
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `f(i)` on `RACERS` threads released together by a barrier.
fn race<T: Send + 'static>(f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let gate = Arc::new(Barrier::new(RACERS));
    let threads: Vec<_> = (0..RACERS)
        .map(|i| {
            let (f, gate) = (f.clone(), gate.clone());
            std::thread::spawn(move || {
                gate.wait();
                f(i)
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).collect()
}

#[test]
fn one_approval_lets_exactly_one_of_eight_concurrent_calls_through() {
    let Some(python) = common::python() else {
        return;
    };
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python, MCP, mcp_port);
    let g = Arc::new(Gateway::start(mcp_port));
    let params = json!({"amount": 5000, "recipient": "bob"});
    let (s, minted) = g.post(
        g.backend,
        "/iap/sdk/token",
        &[],
        &json!({"plan": {"steps": [{"mcp": MCP, "action": "send_payment", "params": params}]},
                "expires_in": 600, "user_email": "alice@example.com"}),
    );
    assert_eq!(s, 200, "{minted}");
    let call = json!({"mcp": MCP, "action": "send_payment", "params": params,
        "intent_token": {"jwt_token": minted["jwt_token"], "plan_id": minted["plan_id"]},
        "user_email": "alice@example.com"});
    // Held; one approval.
    let (s, held) = g.post(g.proxy, "/invoke", &[], &call);
    assert_eq!(
        (s, held["enforcementAction"].as_str()),
        (403, Some("hold")),
        "{held}"
    );
    let id = held["delegation_context"]["delegationId"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = Command::new(BIN)
        .args(["approve", &id, "--by", "boss@example.com", "--state-dir"])
        .arg(g.state())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let before = g.audit().len();
    let g2 = g.clone();
    let answers = race(move |_| g2.post(g2.proxy, "/invoke", &[], &call));
    let paid: Vec<_> = answers.iter().filter(|(s, _)| *s == 200).collect();
    let held_again = answers
        .iter()
        .filter(|(s, v)| *s == 403 && v["enforcementAction"] == "hold")
        .count();
    let rows = g.audit();
    let forwarded = rows[before..]
        .iter()
        .filter(|r| r["outcome"] == "allowed_delegated")
        .count();
    eprintln!(
        "races: {} of {RACERS} concurrent approved calls answered 200, {forwarded} forwarded per the audit",
        paid.len()
    );
    assert_eq!(
        (paid.len(), forwarded, held_again),
        (1, 1, RACERS - 1),
        "one approval must pay once: {answers:?}"
    );
    assert_eq!(
        paid[0].1["result"]["content"][0]["text"],
        "paid 5000.0 to bob"
    );
}

#[test]
fn eight_concurrent_mints_with_one_idempotency_key_mint_one_plan() {
    let Some(python) = common::python() else {
        return;
    };
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python, MCP, mcp_port);
    let g = Arc::new(Gateway::start(mcp_port));
    let body = json!({"plan": {"steps": [{"mcp": MCP, "action": "get_weather",
        "params": {"city": "Oslo", "units": "metric"}}]}, "expires_in": 600});
    let g2 = g.clone();
    let answers = race(move |_| {
        let t0 = Instant::now();
        let mut conflicts = 0;
        loop {
            let (s, v) = g2.post(
                g2.backend,
                "/iap/sdk/token",
                &[("Idempotency-Key", "race-1")],
                &body,
            );
            if s != 409 {
                return (s, v, conflicts);
            }
            // The winner is still minting: try again, as a client would.
            conflicts += 1;
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "still 409 after 20 s: {v}"
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    });
    let plan_ids: std::collections::BTreeSet<_> = answers
        .iter()
        .map(|(_, v, _)| v["plan_id"].to_string())
        .collect();
    let minted = g
        .audit()
        .iter()
        .filter(|r| r["outcome"] == "minted")
        .count();
    let conflicts: usize = answers.iter().map(|(_, _, c)| c).sum();
    eprintln!(
        "races: {} distinct plan_id among {RACERS} concurrent mints with one key, {minted} minted per the audit, {conflicts} answers 409",
        plan_ids.len()
    );
    assert!(answers.iter().all(|(s, _, _)| *s == 200), "{answers:?}");
    assert_eq!((plan_ids.len(), minted), (1, 1), "{plan_ids:?}");
    assert!(
        answers.iter().all(|(_, v, _)| *v == answers[0].1),
        "answers differ"
    );
}
