//! End to end over loopback HTTP: `armoriq serve` with a real MCP server (the
//! official `mcp` Python SDK, streamable HTTP) behind it, driven by the
//! unmodified official ArmorIQ Python SDK 0.8.17 (`scripts/py/sdk_scenarios.py`)
//! and by raw HTTP for bad input, faults and a SIGKILL under load.
//!
//! Every scenario also checks the audit log: the exact rows it added.
//!
//! Every test runs twice: on the embedded default (SQLite in the state
//! directory) and on PostgreSQL (`--store postgres://…`, a fresh database
//! on the throwaway server of `scripts/pg.sh`; SKIPPED outside it, never
//! under `CI=true`).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use armoriq_gateway::store::{AuditCursor, DelegationStatus};
use serde_json::json;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[macro_use]
mod common;
use common::free_port;
use common::gateway::{Backend, Gateway, MCP, exception, python, run};
use common::http::{http, json_of};

on_both_backends!(
    official_python_sdk_against_the_gateway
    bad_input_gets_json_4xx_and_the_gateway_stays_up
    mcp_server_hanging_or_stopped_raises_mcp_invocation
    sigkill_under_load_loses_no_acknowledged_audit_row
);

fn official_python_sdk_against_the_gateway(backend: Backend) {
    if common::python().is_none() {
        return;
    }
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python(), MCP, mcp_port);
    let Some(g) = Gateway::new(backend, mcp_port, true, &[]) else {
        return;
    };

    // The worked example: capture, mint, verify_token, invoke → the tool's result.
    let (v, audit) = run(&g, "worked_example");
    assert_eq!(v["verify_token"], json!(true), "{v}");
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(v["text"], "Weather in Boston: 21 degrees metric, clear");
    assert_eq!(audit, ["minted", "allowed"]);
    // plan_hash and merkle_root are the core's, for the plan the SDK sent.
    let plan_text = serde_json::to_vec(&v["plan"]).unwrap();
    let (_, hashes) =
        armoriq_common::proofs::plan_hashes(&plan_text, armoriq_core::Profile::ArmorIq).unwrap();
    assert_eq!(v["plan_hash"], hashes.plan_hash.as_str());
    assert_eq!(v["merkle_root"], hashes.merkle_root.as_str());
    assert_eq!(v["step_proofs"], 2);
    let rows = g.audit_after(AuditCursor::START);
    let allowed = rows.iter().find(|r| r.outcome == "allowed").unwrap();
    assert_eq!(allowed.user_email.as_deref(), Some("alice@example.com"));
    assert_eq!(allowed.agent_id.as_deref(), Some("weather-agent"));
    assert_eq!(allowed.tool.as_deref(), Some("get_weather"));
    assert_eq!(allowed.mcp.as_deref(), Some(MCP));
    assert_eq!(allowed.step, Some(0));
    assert_eq!(allowed.plan_id.as_deref(), v["plan_id"].as_str());
    assert!(allowed.latency_us > 0 && allowed.at_ms > 0);

    // Each refusal raises the SDK's own exception, and is one audit row.
    let cases: &[(&str, &str, &[&str])] = &[
        (
            "changed_param",
            "IntentMismatchException",
            &["minted", "mismatched"],
        ),
        (
            "outside_plan",
            "IntentMismatchException",
            &["minted", "mismatched"],
        ),
        ("expired_local", "TokenExpiredException", &["minted"]),
        (
            "expired_gateway",
            "InvalidTokenException",
            &["minted", "expired"],
        ),
        ("denied_at_mint", "PolicyBlockedException", &["denied"]),
        (
            "blocked_at_invoke",
            "PolicyBlockedException",
            &["minted", "blocked"],
        ),
        (
            "blocked_at_mint_for_member",
            "PolicyBlockedException",
            &["denied"],
        ),
        ("payment_held", "PolicyHoldException", &["minted", "held"]),
        (
            "payment_huge_blocked",
            "PolicyBlockedException",
            &["denied"],
        ),
        (
            "tool_error",
            "MCPInvocationException",
            &["minted", "mcp_error"],
        ),
    ];
    for (name, exc, rows) in cases {
        let (v, audit) = run(&g, name);
        assert_eq!(exception(&v), *exc, "{name}: {v}");
        assert_eq!(audit, *rows, "{name}: audit rows");
    }
    let (v, _) = run(&g, "expired_gateway");
    assert!(
        v["message"].as_str().unwrap().contains("TokenExpired"),
        "{v}"
    );
    let (v, _) = run(&g, "denied_at_mint");
    assert!(
        v["reason"].as_str().unwrap().contains("delete_records"),
        "{v}"
    );
    let (v, _) = run(&g, "tool_error");
    assert_eq!(v["status_code"], 502, "{v}");
    let (v, _) = run(&g, "payment_held");
    let ctx = &v["delegation_context"];
    assert!(
        ctx["delegationId"].as_str().unwrap().starts_with("deleg_"),
        "{v}"
    );
    assert_eq!(ctx["approval"]["approvers"][0], "boss@example.com");

    // The policy's allow variant for a small payment; the member rule only for that member.
    let (v, audit) = run(&g, "payment_small");
    assert_eq!(exception(&v), "none", "{v}");
    assert_eq!(v["text"], "paid 500.0 to bob");
    assert_eq!(audit, ["minted", "allowed"]);

    // Hold → `armoriq approve` → invoke_with_policy(wait_for_approval=True) succeeds.
    let (v, audit) = run(&g, "payment_held_then_approved");
    assert_eq!(exception(&v), "none", "{v}");
    assert_eq!(v["text"], "paid 5000.0 to bob", "{v}");
    assert_eq!(v["seen"][2]["approve_exit"], 0, "{v}");
    // The approval is a row of its own, between the hold and the call it let through.
    assert_eq!(audit, ["minted", "held", "approved", "allowed_delegated"]);
    // The hold the proxy created and the SDK's own request are one delegation, now executed.
    let id = v["seen"][1]["hold"].as_str().unwrap().to_owned();
    let d = g.with_store(move |s| Box::pin(async move { s.get_delegation(&id, 0).await }));
    let d = d.unwrap();
    assert_eq!(d.status, DelegationStatus::Executed);
    assert_eq!(d.decided_by.as_deref(), Some("boss@example.com"));

    // A session in `sdk` mode allows a planned tool and blocks another.
    let (v, audit) = run(&g, "sdk_session");
    assert_eq!(v["allowed"]["allowed"], true, "{v}");
    assert_eq!(v["blocked"]["allowed"], false, "{v}");
    assert!(
        v["blocked"]["reason"]
            .as_str()
            .unwrap()
            .starts_with("tool-not-in-plan"),
        "{v}"
    );
    assert_eq!(audit, ["minted", "enforce_allow"]);
}

fn bad_input_gets_json_4xx_and_the_gateway_stays_up(backend: Backend) {
    if common::python().is_none() {
        return;
    }
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python(), MCP, mcp_port);
    let Some(g) = Gateway::new(backend, mcp_port, false, &["--body-limit", "4096"]) else {
        return;
    };
    let key = g.key.as_str();
    let b = g.backend;
    // No key, a wrong key.
    let (s, v) = g.post(b, "/iap/sdk/token", None, b"{}");
    assert_eq!((s, v["error"].as_str()), (401, Some("Unauthorized")));
    let (s, _) = g.post(b, "/iap/sdk/token", Some("ak_test_nope"), b"{}");
    assert_eq!(s, 401);
    // Malformed JSON, wrong types, an invalid plan: 400 naming the problem.
    let (s, v) = g.post(b, "/iap/sdk/token", Some(key), b"{\"plan\": ");
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("invalid JSON body"),
        "{v}"
    );
    let (s, v) = g.post(
        b,
        "/iap/sdk/token",
        Some(key),
        br#"{"plan": {"steps": []}, "expires_in": "soon"}"#,
    );
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("expires_in"), "{v}");
    let (s, v) = g.post(
        b,
        "/iap/sdk/token",
        Some(key),
        br#"{"plan": {"steps": [{"mcp": "x"}]}}"#,
    );
    assert_eq!(s, 400, "{v}");
    assert!(
        v["message"].as_str().unwrap().contains("invalid plan"),
        "{v}"
    );
    let (s, v) = g.post(
        b,
        "/iap/sdk/token",
        Some(key),
        br#"{"plan": {"steps": [{"mcp": "x", "action": "y"}]}, "expires_in": -5}"#,
    );
    assert_eq!(s, 400, "{v}");
    let (s, v) = g.post(g.proxy, "/invoke", Some(key), br#"{"mcp": 5}"#);
    assert_eq!(s, 400, "{v}");
    let (s, v) = g.post(
        g.proxy,
        "/invoke",
        Some(key),
        br#"{"mcp": "m", "action": "a", "params": [1]}"#,
    );
    assert_eq!(s, 400, "{v}");
    assert!(v["message"].as_str().unwrap().contains("params"), "{v}");
    // A forged token.
    let (s, v) = g.post(
        g.proxy,
        "/invoke",
        Some(key),
        br#"{"mcp":"m","action":"a","params":{},"intent_token":{"jwt_token":"eyJhbGciOiJFZERTQSJ9.e30.AAAA","plan_id":"p"}}"#,
    );
    assert_eq!((s, v["error"].as_str()), (401, Some("InvalidToken")), "{v}");
    // Too large.
    let big = format!("{{\"plan\": \"{}\"}}", "x".repeat(10_000));
    let (s, v) = g.post(b, "/iap/sdk/token", Some(key), big.as_bytes());
    assert_eq!(s, 413, "{v}");
    // Unknown route and method.
    let (s, body) = http(b, "GET", "/nope", &[], b"").unwrap();
    assert_eq!(s, 404);
    assert_eq!(json_of(&body)["error"], "NotFound");
    let (s, body) = http(b, "GET", "/invoke", &[], b"").unwrap();
    assert_eq!(s, 405);
    json_of(&body);
    // An unknown MCP server named by a signed plan.
    let (s, minted) = g.post(
        b,
        "/iap/sdk/token",
        Some(key),
        br#"{"plan": {"steps": [{"mcp": "ghost", "action": "boo", "params": {}}]}, "expires_in": 60}"#,
    );
    assert_eq!(s, 200, "{minted}");
    let call = json!({"mcp": "ghost", "action": "boo", "params": {},
        "intent_token": {"jwt_token": minted["jwt_token"], "plan_id": minted["plan_id"]}});
    let (s, v) = g.post(g.proxy, "/invoke", Some(key), call.to_string().as_bytes());
    assert_eq!(s, 404, "{v}");
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .contains("unknown MCP server"),
        "{v}"
    );
    // Admin routes need an admin key.
    let (s, _) = g.post(b, "/admin/delegations/x/approve", Some(key), b"");
    assert_eq!(s, 403);
    let (s, v) = g.post(b, "/admin/delegations/x/approve", Some(&g.admin), b"");
    assert_eq!(s, 404, "{v}");
    // Idempotency-Key: the same request and key give the same mint.
    let body = br#"{"plan": {"steps": [{"mcp": "weather-mcp", "action": "get_weather"}]}, "expires_in": 60}"#;
    let h = [
        ("Content-Type", "application/json"),
        ("X-API-Key", key),
        ("Idempotency-Key", "k1"),
    ];
    let (s1, a) = http(b, "POST", "/iap/sdk/token", &h, body).unwrap();
    let (s2, c) = http(b, "POST", "/iap/sdk/token", &h, body).unwrap();
    assert_eq!((s1, s2), (200, 200));
    assert_eq!(json_of(&a)["plan_id"], json_of(&c)["plan_id"]);
    // The state directory is private: 0700, every file in it 0600 (on
    // PostgreSQL the key and the log are in the database, not here).
    #[cfg(unix)]
    if backend == Backend::Sqlite {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&g.state()), 0o700);
        let files: Vec<_> = std::fs::read_dir(g.state())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(
            files.iter().any(|p| p.ends_with("iap-ed25519.pem")),
            "{files:?}"
        );
        assert!(
            files.iter().any(|p| p.ends_with("armoriq.db-wal")),
            "{files:?}"
        );
        for f in files {
            assert_eq!(mode(&f), 0o600, "{}", f.display());
        }
    }
    // Still up.
    let (s, v) = http(b, "GET", "/health", &[], b"").unwrap();
    assert_eq!(s, 200, "{}", String::from_utf8_lossy(&v));
}

fn mcp_server_hanging_or_stopped_raises_mcp_invocation(backend: Backend) {
    if common::python().is_none() {
        return;
    }
    let mcp_port = free_port();
    let mut mcp = Some(common::start_mcp(&python(), MCP, mcp_port));
    let Some(g) = Gateway::new(backend, mcp_port, false, &["--mcp-timeout-ms", "1500"]) else {
        return;
    };
    // Hanging past the timeout.
    let t0 = Instant::now();
    let (v, audit) = run(&g, "slow_tool");
    assert_eq!(exception(&v), "MCPInvocationException", "{v}");
    assert_eq!(v["status_code"], 504, "{v}");
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert_eq!(audit, ["minted", "mcp_error"]);
    // Still serving after the hang.
    let (v, _) = run(&g, "worked_example");
    assert_eq!(v["status"], "success", "{v}");
    // Stopped.
    drop(mcp.take());
    let (v, audit) = run(&g, "mcp_down");
    assert_eq!(exception(&v), "MCPInvocationException", "{v}");
    assert_eq!(v["status_code"], 502, "{v}");
    assert_eq!(audit, ["minted", "mcp_error"]);
    let (s, _) = http(g.backend, "GET", "/health", &[], b"").unwrap();
    assert_eq!(s, 200);
    // Back again: the next call reconnects.
    let _mcp = common::start_mcp(&python(), MCP, mcp_port);
    let (v, audit) = run(&g, "worked_example");
    assert_eq!(v["status"], "success", "{v}");
    assert_eq!(audit, ["minted", "allowed"]);
}

fn sigkill_under_load_loses_no_acknowledged_audit_row(backend: Backend) {
    if common::python().is_none() {
        return;
    }
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python(), MCP, mcp_port);
    let Some(mut g) = Gateway::new(backend, mcp_port, false, &[]) else {
        return;
    };
    let plan = json!({"steps": [{"mcp": MCP, "action": "get_weather",
                                  "params": {"city": "Oslo", "units": "metric"}}]});
    let (s, minted) = g.post(
        g.backend,
        "/iap/sdk/token",
        Some(&g.key),
        json!({"plan": plan, "expires_in": 600, "user_email": "load@example.com"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(s, 200, "{minted}");
    let call = Arc::new(
        json!({"mcp": MCP, "action": "get_weather", "params": {"city": "Oslo", "units": "metric"},
               "intent_token": {"jwt_token": minted["jwt_token"], "plan_id": minted["plan_id"]},
               "user_email": "load@example.com"})
        .to_string(),
    );
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let (port, key) = (g.proxy, g.key.clone());
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (call, acked, stop, key) = (call.clone(), acked.clone(), stop.clone(), key.clone());
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
                        Ok((s, b)) => panic!("unexpected {s}: {}", String::from_utf8_lossy(&b)),
                        Err(_) => return, // the gateway is gone
                    }
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    while acked.load(Ordering::SeqCst) < 40 && t0.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(20));
    }
    g.sigkill();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let acknowledged = acked.load(Ordering::SeqCst);
    assert!(acknowledged >= 40, "only {acknowledged} calls acknowledged");
    // Restart on the same state and read the log back over the admin route.
    g.start();
    let (s, body) = http(
        g.backend,
        "GET",
        "/admin/audit?limit=5000",
        &[("X-API-Key", g.admin.as_str())],
        b"",
    )
    .unwrap();
    assert_eq!(s, 200);
    let rows = json_of(&body)["data"].as_array().unwrap().clone();
    let allowed = rows
        .iter()
        .filter(|r| r["route"] == "invoke" && r["outcome"] == "allowed")
        .count();
    assert!(
        allowed >= acknowledged,
        "{acknowledged} calls were acknowledged but only {allowed} audit rows survived"
    );
    // The restarted gateway serves the same token (plans are durable).
    let (s, v) = g.post(g.proxy, "/invoke", Some(&g.key), call.as_bytes());
    assert_eq!(s, 200, "{v}");
}
