//! The Rust SDK client (`armoriq_client`):
//!
//! * end to end over loopback against `armoriq serve` with a real MCP server
//!   (the official `mcp` Python SDK): the worked example, every refusal, a
//!   session, hold → approve → success;
//! * wire compatibility: the requests the client sends, captured by a tiny
//!   HTTP server, against the official SDK's requests in
//!   `vectors/armoriq/http_transcript.json`;
//! * files: `credentials.json` and `armoriq.yaml` written by the official SDK
//!   are read by ours, and ours by the official SDK;
//! * local verification: a token for a substituted plan, or with a bad
//!   signature, is refused before any call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use armoriq_client::{
    ArmorIQClient, ArmorIqError, ClientOptions, InvokeOptions, PollSettings, SessionMode,
    SessionOptions, ToolCall, http::Backoff,
};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

mod common;
use common::{Proc, free_port, python, wait_port};

const BIN: &str = env!("CARGO_BIN_EXE_armoriq");
const MCP: &str = "weather-mcp";

fn vectors(name: &str) -> Value {
    let p = format!(
        "{}/../../../shared/vectors/armoriq/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .unwrap()
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("armoriq-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// `armoriq serve` with `policy.json` (holds payments over 1000), the deny
/// list `weather-mcp.delete_records`, and a real MCP server behind it.
struct Stack {
    dir: PathBuf,
    mcp_port: u16,
    backend: u16,
    proxy: u16,
    key: String,
    _mcp: Proc,
    _gw: Proc,
}

impl Stack {
    fn start(py: &Path) -> Self {
        let mcp_port = free_port();
        let mut mcp = Command::new(py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../scripts/py/mcp_test_server.py"
            ))
            .arg(MCP)
            .arg(mcp_port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_port(mcp_port, "MCP server", &mut mcp);
        let mcp = Proc(mcp);
        let dir = temp_dir("client-e2e");
        std::fs::write(
            dir.join("armoriq.yaml"),
            format!(
                "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
                 environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n\
                 policy:\n  allow: []\n  deny:\n  - {MCP}.delete_records\n"
            ),
        )
        .unwrap();
        std::fs::copy(
            concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/policy.json"),
            dir.join("policy.json"),
        )
        .unwrap();
        let out = Command::new(BIN)
            .args(["keys", "create", "--state-dir"])
            .arg(dir.join("state"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key = String::from_utf8(out.stdout).unwrap().trim().to_owned();
        let (backend, proxy) = (free_port(), free_port());
        let mut gw = Command::new(BIN)
            .arg("serve")
            .arg("--state-dir")
            .arg(dir.join("state"))
            .arg("--config")
            .arg(dir.join("armoriq.yaml"))
            .arg("--backend")
            .arg(format!("127.0.0.1:{backend}"))
            .arg("--proxy")
            .arg(format!("127.0.0.1:{proxy}"))
            .env("ARMORIQ_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        wait_port(backend, "armoriq serve", &mut gw);
        wait_port(proxy, "armoriq serve", &mut gw);
        Self {
            dir,
            mcp_port,
            backend,
            proxy,
            key,
            _mcp: mcp,
            _gw: Proc(gw),
        }
    }

    fn options(&self) -> ClientOptions {
        ArmorIQClient::builder()
            .api_key(&self.key)
            .backend_endpoint(format!("http://127.0.0.1:{}", self.backend))
            .proxy_endpoint(format!("http://127.0.0.1:{}", self.proxy))
            .user_id("default")
            .agent_id("weather-agent")
            .credentials_path(self.dir.join("no-credentials.json"))
    }

    fn client(&self) -> ArmorIQClient {
        self.options().build().unwrap()
    }
}

/// A token that was never minted (for calls that fail before the proxy).
fn dummy_token(cap: &armoriq_client::PlanCapture) -> armoriq_client::IntentToken {
    armoriq_client::IntentToken {
        token_id: "t".into(),
        plan_hash: "h".into(),
        plan_id: Some("p".into()),
        signature: String::new(),
        issued_at: 0.0,
        expires_at: 0.0,
        policy: json!({}),
        composite_identity: json!(""),
        client_info: Value::Null,
        policy_validation: Value::Null,
        step_proofs: json!([]),
        total_steps: 0,
        raw_token: armoriq_client::RawToken {
            plan: cap.plan.clone(),
            plan_id: Some("p".into()),
            token: json!({}),
            plan_hash: None,
            merkle_root: None,
            intent_reference: None,
            composite_identity: json!(""),
            step_proofs: json!([]),
        },
        jwt_token: Some("x.y.z".into()),
        policy_snapshot: Value::Null,
    }
}

/// A JWS with one character in the middle of its signature changed.
fn flip_sig(jwt: &str) -> String {
    let i = jwt.rfind('.').unwrap() + 20;
    let c = if &jwt[i..=i] == "A" { "B" } else { "A" };
    format!("{}{c}{}", &jwt[..i], &jwt[i + 1..])
}

fn weather_plan(city: &str) -> Value {
    json!({"goal": "Weather", "steps": [
        {"action": "get_weather", "mcp": MCP, "params": {"city": city, "units": "metric"}},
        {"action": "fail", "mcp": MCP, "params": {"message": "boom"}}
    ]})
}

fn text_of(r: &Value) -> String {
    r["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn end_to_end_against_armoriq_serve() {
    let Some(py) = python() else { return };
    let s = Stack::start(&py);
    let c = s.client();

    // 1. The worked example: capture, token, invoke get_weather.
    let plan = weather_plan("Paris");
    let cap = c
        .capture_plan("gpt-4", "weather in Paris", Some(&plan), None)
        .unwrap();
    let tok = c.get_intent_token(&cap, None, 300, None).unwrap();
    assert_eq!(tok.total_steps, 2);
    assert!(tok.jwt_token.is_some() && tok.plan_id.is_some());
    let params = json!({"city": "Paris", "units": "metric"});
    let r = c
        .invoke(MCP, "get_weather", &tok, Some(&params), None)
        .unwrap();
    assert_eq!(r.status, "success");
    assert_eq!(
        text_of(&r.result),
        "Weather in Paris: 21 degrees metric, clear"
    );

    // 2. A changed param is not the signed step: IntentMismatch (409).
    let e = c
        .invoke(
            MCP,
            "get_weather",
            &tok,
            Some(&json!({"city": "Berlin", "units": "metric"})),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::IntentMismatch { .. }), "{e:?}");

    // 3. A tool outside the plan: IntentMismatch.
    let e = c
        .invoke(
            MCP,
            "send_email",
            &tok,
            Some(&json!({"to": "a@b.c", "subject": "x"})),
            None,
        )
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::IntentMismatch { .. }), "{e:?}");

    // 4. A denied tool: PolicyBlocked at mint, with the gateway's reason.
    let bad =
        json!({"steps": [{"action": "delete_records", "mcp": MCP, "params": {"table": "users"}}]});
    let cap_bad = c.capture_plan("gpt-4", "drop", Some(&bad), None).unwrap();
    match c.get_intent_token(&cap_bad, None, 300, None).unwrap_err() {
        ArmorIqError::PolicyBlocked {
            message, metadata, ..
        } => {
            assert!(
                message.starts_with("Policy blocked intent token issuance: "),
                "{message}"
            );
            assert!(message.contains("delete_records"), "{message}");
            assert_eq!(metadata["denied_tools"], json!(["delete_records"]));
        }
        other => panic!("{other:?}"),
    }

    // 5. An expired token is refused locally, before any request.
    let short = c.get_intent_token(&cap, None, 1, None).unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    let e = c
        .invoke(MCP, "get_weather", &short, Some(&params), None)
        .unwrap_err();
    match &e {
        ArmorIqError::TokenExpired { token_id, .. } => assert_eq!(token_id, &short.token_id),
        other => panic!("{other:?}"),
    }

    // 6. A tool that fails: MCPInvocation with the status.
    let e = c
        .invoke(MCP, "fail", &tok, Some(&json!({"message": "boom"})), None)
        .unwrap_err();
    match &e {
        ArmorIqError::McpInvocation {
            status, message, ..
        } => {
            assert_eq!(*status, Some(502), "{message}");
            assert!(message.contains("Error executing tool fail"), "{message}");
        }
        other => panic!("{other:?}"),
    }

    // 7. Local verification on a real token: swap the plan, break the signature.
    let mut swapped = tok.clone();
    swapped.raw_token.plan = armoriq_client::Plan::from_value(&weather_plan("Berlin")).unwrap();
    let e = c
        .invoke(MCP, "get_weather", &swapped, Some(&params), None)
        .unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(m) if m.contains("plan substituted")),
        "{e:?}"
    );
    let mut forged = tok.clone();
    forged.jwt_token = Some(flip_sig(&forged.jwt_token.clone().unwrap()));
    let e = c
        .invoke(MCP, "get_weather", &forged, Some(&params), None)
        .unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(m) if m.contains("jwt_token")),
        "{e:?}"
    );

    // 8. Session, sdk mode: a planned tool is allowed, an unplanned one blocked.
    let scope = c.for_user("Alice@Example.com ");
    assert_eq!(scope.resolve().unwrap()["email"], "alice@example.com");
    let mut sess = scope.start_session(SessionOptions {
        mode: SessionMode::Sdk,
        ..SessionOptions::default()
    });
    let calls = vec![
        ToolCall::new(
            format!("{MCP}__get_weather"),
            json!({"city": "Paris", "units": "metric"}),
        )
        .unwrap(),
    ];
    let t1 = sess.start_plan(&calls, Some("weather")).unwrap();
    assert_eq!(sess.last_plan_start(), Some("minted"));
    let t2 = sess.start_plan(&calls, Some("weather")).unwrap();
    assert_eq!(sess.last_plan_start(), Some("unchanged"));
    assert_eq!(t1.plan_id, t2.plan_id);
    let ok = sess
        .check(
            &format!("{MCP}__get_weather"),
            &json!({"city": "Paris", "units": "metric"}),
            None,
        )
        .unwrap();
    assert!(ok.allowed && ok.action == "allow", "{ok:?}");
    let no = sess
        .check(&format!("{MCP}__send_email"), &json!({"to": "x"}), None)
        .unwrap();
    assert!(!no.allowed && no.action == "block", "{no:?}");
    assert_eq!(
        no.reason.as_deref(),
        Some("tool-not-in-plan: 'weather-mcp__send_email' was not declared in the captured plan")
    );
    sess.report(
        &format!("{MCP}__get_weather"),
        &json!({}),
        &json!({}),
        &Default::default(),
    );
    assert_eq!(sess.step_index(), 1);

    // 9. Hold → approve → success through invoke_with_policy.
    let c2 = s
        .options()
        .poll(PollSettings {
            first: Duration::from_millis(200),
            factor: 1.5,
            cap: Duration::from_millis(500),
            timeout: Duration::from_secs(60),
        })
        .build()
        .unwrap();
    let pay = json!({"amount": 5000, "recipient": "bob"});
    let pplan = json!({"steps": [{"action": "send_payment", "mcp": MCP, "params": pay}]});
    let pcap = c2
        .capture_plan("gpt-4", "pay bob", Some(&pplan), None)
        .unwrap();
    let ptok = c2
        .get_intent_token(&pcap, None, 300, Some("alice@example.com"))
        .unwrap();
    // Without waiting: PolicyHold.
    let e = c2
        .invoke(
            MCP,
            "send_payment",
            &ptok,
            Some(&pay),
            Some("alice@example.com"),
        )
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::PolicyHold { .. }), "{e:?}");
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let seen2 = seen.clone();
    let state = s.dir.join("state");
    let opts = InvokeOptions {
        wait_for_approval: true,
        user_email: Some("alice@example.com".into()),
        on_hold: Some(Arc::new(move |h| {
            seen2.lock().unwrap().push(h.delegation_id.clone());
            if let Some(id) = h.delegation_id.clone() {
                let state = state.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(Duration::from_millis(300));
                    let out = Command::new(BIN)
                        .args(["approve", &id, "--by", "boss@example.com", "--state-dir"])
                        .arg(&state)
                        .output()
                        .unwrap();
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                });
            }
        })),
        ..Default::default()
    };
    let r = c2
        .invoke_with_policy(MCP, "send_payment", &ptok, Some(&pay), &opts)
        .unwrap();
    assert_eq!(r.status, "success");
    assert_eq!(text_of(&r.result), "paid 5000.0 to bob");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[0].is_none() && seen[1].is_some(), "{seen:?}");

    // 9b. Session holds, sdk and proxy modes: hold with a delegation, approve,
    // the next check is allowed by the approved delegation.
    let approve = |id: &str| {
        let out = Command::new(BIN)
            .args(["approve", id, "--by", "boss@example.com", "--state-dir"])
            .arg(s.dir.join("state"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let pay_call = format!("{MCP}__send_payment");
    for mode in [SessionMode::Sdk, SessionMode::Proxy] {
        let mut sess = c2
            .for_user("alice@example.com")
            .start_session(SessionOptions {
                mode,
                ..SessionOptions::default()
            });
        let calls = vec![
            ToolCall::new(&pay_call, pay.clone()).unwrap(),
            ToolCall::new(format!("{MCP}__get_weather"), params.clone()).unwrap(),
        ];
        sess.start_plan(&calls, Some("pay and look")).unwrap();
        let ok = sess
            .check(&format!("{MCP}__get_weather"), &params, None)
            .unwrap();
        assert!(ok.allowed, "{mode:?}: {ok:?}");
        let held = sess.check(&pay_call, &pay, None).unwrap();
        assert_eq!(held.action, "hold", "{mode:?}: {held:?}");
        let id = held
            .delegation_id
            .clone()
            .unwrap_or_else(|| panic!("{mode:?}: {held:?}"));
        approve(&id);
        let after = sess.check(&pay_call, &pay, None).unwrap();
        assert!(
            after.allowed && after.action == "allow",
            "{mode:?}: {after:?}"
        );
        assert_eq!(
            after.delegation_id.as_deref(),
            Some(id.as_str()),
            "{mode:?}"
        );
        let unplanned = sess
            .check(
                &format!("{MCP}__send_email"),
                &json!({"to": "x", "subject": "y"}),
                None,
            )
            .unwrap();
        assert!(!unplanned.allowed, "{mode:?}: {unplanned:?}");
        assert!(
            unplanned
                .reason
                .as_deref()
                .unwrap_or("")
                .starts_with("tool-not-in-plan"),
            "{mode:?}: {unplanned:?}"
        );
    }
    // Local mode: the token and the plan are checked, then fail-closed.
    let mut local = c.start_session(SessionOptions {
        mode: SessionMode::Local,
        ..SessionOptions::default()
    });
    local
        .start_plan(
            &[ToolCall::new(format!("{MCP}__get_weather"), params.clone()).unwrap()],
            None,
        )
        .unwrap();
    let d = local
        .check(&format!("{MCP}__get_weather"), &params, None)
        .unwrap();
    assert!(
        !d.allowed
            && d.reason
                .as_deref()
                .unwrap_or("")
                .starts_with("policy-bundle-unavailable"),
        "{d:?}"
    );
    // With the v2 document given, local mode decides as the gateway does; a
    // hold becomes a block.
    let doc: Value =
        serde_json::from_str(&std::fs::read_to_string(s.dir.join("policy.json")).unwrap()).unwrap();
    let pay_small = json!({"amount": 500, "recipient": "bob"});
    let pay_huge = json!({"amount": 500_000, "recipient": "bob"});
    let mut local = c
        .for_user("alice@example.com")
        .start_session(SessionOptions {
            mode: SessionMode::Local,
            local_policy: Some(doc.clone()),
            ..SessionOptions::default()
        });
    local
        .start_plan(
            &[
                ToolCall::new(format!("{MCP}__get_weather"), params.clone()).unwrap(),
                ToolCall::new(&pay_call, pay_small.clone()).unwrap(),
            ],
            None,
        )
        .unwrap();
    let cases = [
        (format!("{MCP}__get_weather"), params.clone(), true, "allow:tools.default".to_owned()),
        (pay_call.clone(), pay_small.clone(), true, "allow:tools.send_payment#0".into()),
        (
            pay_call.clone(),
            pay.clone(),
            false,
            "hold:tools.send_payment#1 — switch ARMORIQ_MODE=proxy to enable approval workflows for this action."
                .into(),
        ),
        (pay_call.clone(), pay_huge, false, "block:tools.send_payment#2".into()),
    ];
    for (tool, args, allowed, reason) in cases {
        let d = local.check(&tool, &args, None).unwrap();
        assert_eq!(
            (d.allowed, d.reason.as_deref()),
            (allowed, Some(reason.as_str())),
            "{d:?}"
        );
        assert_eq!(d.policy_id.as_deref(), Some("pol-weather-agent"));
    }
    let d = local
        .check(&pay_call, &pay_small, Some("mallory@example.com"))
        .unwrap();
    assert!(!d.allowed && d.action == "block", "{d:?}");
    let d = local
        .check(&format!("{MCP}__send_email"), &json!({}), None)
        .unwrap();
    assert!(
        d.reason.as_deref().unwrap().starts_with("tool-not-in-plan"),
        "{d:?}"
    );

    // 9c. Revocation: the plan's token stops working at the proxy.
    let rcap = c
        .capture_plan("gpt-4", "weather", Some(&weather_plan("Rome")), None)
        .unwrap();
    let rtok = c.get_intent_token(&rcap, None, 300, None).unwrap();
    let rparams = json!({"city": "Rome", "units": "metric"});
    assert!(
        c.invoke(MCP, "get_weather", &rtok, Some(&rparams), None)
            .is_ok()
    );
    let v = c.revoke(&rtok, "user cancelled", true, None, None).unwrap();
    assert_eq!(v["success"], true, "{v}");
    let e = c
        .invoke(MCP, "get_weather", &rtok, Some(&rparams), None)
        .unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(m) if m.contains("revoked")),
        "{e:?}"
    );
    let mut gone = rtok.clone();
    gone.plan_id = Some("plan_nope".into());
    match c.revoke(&gone, "x", true, None, None).unwrap_err() {
        ArmorIqError::Delegation { status, .. } => assert_eq!(status, Some(404)),
        other => panic!("{other:?}"),
    }

    // 10. from_config: sandbox means the local defaults unless env overrides.
    let yaml = s.dir.join("client.yaml");
    std::fs::write(
        &yaml,
        format!(
            "version: v1\nidentity:\n  api_key: {}\n  user_id: default\n  agent_id: weather-agent\n\
             environment: sandbox\nproxy:\n  url: http://127.0.0.1:{}\n",
            s.key, s.proxy
        ),
    )
    .unwrap();
    let fc = ArmorIQClient::from_config(&yaml).unwrap();
    if std::env::var_os("ARMORIQ_BACKEND_URL").is_none()
        && std::env::var_os("BACKEND_ENDPOINT").is_none()
    {
        assert_eq!(fc.backend_endpoint(), "http://127.0.0.1:3000");
    }
    assert_eq!(
        fc.default_proxy_endpoint().unwrap(),
        format!("http://127.0.0.1:{}", s.proxy)
    );

    // 11. The examples, configured from the environment only.
    let examples = Path::new(BIN).parent().unwrap().join("examples");
    let home = temp_dir("client-examples");
    for (ex, want) in [
        (
            "weather",
            &[
                "get_weather → Weather in Paris: 21 degrees metric, clear",
                "refused as it should be: IntentMismatch",
            ][..],
        ),
        (
            "paris_trip",
            &[
                "check weather-mcp__get_weather → allow",
                "sent to alice@example.com: Paris trip",
                "check weather-mcp__send_payment → block (tool-not-in-plan",
            ][..],
        ),
    ] {
        let exe = examples.join(ex);
        if !exe.exists() {
            eprintln!("skipping example {ex}: not built (`cargo test -p armoriq-host` builds it)");
            continue;
        }
        let out = Command::new(&exe)
            .env("HOME", &home)
            .env("ARMORIQ_API_KEY", &s.key)
            .env(
                "ARMORIQ_BACKEND_URL",
                format!("http://127.0.0.1:{}", s.backend),
            )
            .env("PROXY_ENDPOINT", format!("http://127.0.0.1:{}", s.proxy))
            .env_remove("ARMORIQ_PROFILE")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{ex}: {text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for w in want {
            assert!(text.contains(w), "{ex}: {w:?} not in\n{text}");
        }
    }
    let _ = std::fs::remove_dir_all(&home);
}

// ---------------------------------------------------------------------------
// The CLI: init, validate, login, whoami, status, logout.

fn cli(s: &Stack, home: &Path, args: &[&str]) -> (i32, Value, String) {
    let out = Command::new(BIN)
        .args(args)
        .env("HOME", home)
        .env("ARMORIQ_API_KEY", &s.key)
        .env(
            "ARMORIQ_BACKEND_URL",
            format!("http://127.0.0.1:{}", s.backend),
        )
        .env("PROXY_ENDPOINT", format!("http://127.0.0.1:{}", s.proxy))
        .env_remove("ARMORIQ_PROFILE")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let v = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn cli_init_validate_login_whoami_status_logout() {
    let Some(py) = python() else { return };
    let s = Stack::start(&py);
    let home = temp_dir("client-cli");
    let yaml = home.join("armoriq.yaml");
    let y = yaml.to_str().unwrap();
    let mcp_url = format!("http://127.0.0.1:{}/mcp", s.mcp_port);
    let init = [
        "init",
        "--no-prompt",
        "--json",
        "--output",
        y,
        "--mcp",
        &mcp_url,
        "--mcp-id",
        MCP,
        "--agent-id",
        "weather-agent",
    ];
    let (code, v, err) = cli(&s, &home, &init);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["credentials_verified"], true, "{v}");
    assert_eq!(v["mcp_servers"][0]["reachable"], true, "{v}");
    assert_eq!(
        v["mcp_servers"][0]["tools"].as_array().unwrap().len(),
        6,
        "{v}"
    );
    let cfg = armoriq_common::yaml::ArmorIqYaml::load(&yaml).unwrap();
    assert_eq!(cfg.identity.api_key, "$ARMORIQ_API_KEY");
    assert!(cfg.policy.allow.contains(&format!("{MCP}.get_weather")));
    assert_eq!(cfg.proxy.url, format!("http://127.0.0.1:{}", s.proxy));
    // The official loader reads it.
    let out = Command::new(&py)
        .arg("-c")
        .arg(format!(
            "from armoriq_sdk.config import load_armoriq_config as l; c = l({y:?}); print(c.mcp_servers[0].id, len(c.policy.allow))"
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("{MCP} 6")
    );
    // No silent overwrite.
    let (code, _, err) = cli(&s, &home, &init);
    assert_eq!(code, 2);
    assert!(err.starts_with("error: Configuration: "), "{err}");
    assert!(err.contains("\nhint: "), "{err}");

    let (code, v, err) = cli(&s, &home, &["validate", "--config", y, "--json"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["valid"], true, "{v}");
    let text = std::fs::read_to_string(&yaml)
        .unwrap()
        .replace("deny: []", "deny:\n  - weather-mcp.nope");
    std::fs::write(&yaml, text).unwrap();
    let (code, v, err) = cli(&s, &home, &["validate", "--config", y, "--json"]);
    assert_eq!(code, 2, "{err}");
    assert_eq!(
        v["policy_errors"],
        json!(["deny ref not found: weather-mcp.nope"])
    );
    assert!(err.contains("Policy references invalid tools"), "{err}");

    // Interactive: prompts on a terminal (util-linux `script` gives it one).
    if Path::new("/usr/bin/script").exists() {
        let out_yaml = home.join("interactive.yaml");
        let answers = format!("$MY_KEY\nmy-bot\nbob\nsandbox\n{mcp_url}\n{MCP}\nWeather tools\n\n");
        let mut child = Command::new("/usr/bin/script")
            .arg("-qec")
            .arg(format!("{BIN} init --output {}", out_yaml.display()))
            .arg("/dev/null")
            .env("HOME", &home)
            .env(
                "ARMORIQ_BACKEND_URL",
                format!("http://127.0.0.1:{}", s.backend),
            )
            .env("PROXY_ENDPOINT", format!("http://127.0.0.1:{}", s.proxy))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answers.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{shown}");
        assert!(shown.contains("Agent ID [my-agent]: "), "{shown}");
        assert!(shown.contains("6 tools discovered"), "{shown}");
        let cfg = armoriq_common::yaml::ArmorIqYaml::load(&out_yaml).unwrap();
        assert_eq!(
            (
                cfg.identity.api_key.as_str(),
                cfg.identity.agent_id.as_str(),
                cfg.identity.user_id.as_str()
            ),
            ("$MY_KEY", "my-bot", "bob")
        );
        assert_eq!(
            cfg.mcp_servers[0].description.as_deref(),
            Some("Weather tools")
        );
        assert_eq!(cfg.policy.allow.len(), 6);
    }

    let backend = format!("http://127.0.0.1:{}", s.backend);
    let (code, v, err) = cli(
        &s,
        &home,
        &[
            "login",
            "--api-key",
            &s.key,
            "--backend",
            &backend,
            "--email",
            "a@b.c",
            "--json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(v["profile"], format!("default@127.0.0.1:{}", s.backend));
    // The official SDK picks the saved key up for that backend.
    let out = Command::new(&py)
        .arg("-c")
        .arg(format!(
            "from armoriq_sdk import ArmorIQClient\nfrom armoriq_sdk.observability import ObservabilityOptions\n\
             c = ArmorIQClient(backend_endpoint={backend:?}, proxy_endpoint={backend:?}, iap_endpoint={backend:?}, observability=ObservabilityOptions(enabled=False))\n\
             print(c.api_key == {:?}, c.bootstrap().get('agentId'))",
            s.key
        ))
        .env("HOME", &home)
        .env_remove("ARMORIQ_API_KEY")
        .env_remove("ARMORIQ_PROFILE")
        .env("OTEL_SDK_DISABLED", "true")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "True weather-agent",
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bogus = "ak_test_00000000000000000000000000000000";
    let (code, _, err) = cli(
        &s,
        &home,
        &["login", "--api-key", bogus, "--backend", &backend],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("API key authentication failed (401)."),
        "{err}"
    );
    let (code, v, _) = cli(&s, &home, &["whoami", "--json"]);
    assert_eq!(code, 0);
    assert_eq!(v["email"], "a@b.c");
    assert!(!v["apiKey"].as_str().unwrap().contains(&s.key[8..]), "{v}");
    let (code, v, _) = cli(&s, &home, &["status", "--json", "--config", y]);
    assert_eq!(code, 0);
    assert_eq!(v["config"]["backend"]["reachable"], true, "{v}");
    assert_eq!(v["config"]["proxy"]["reachable"], true, "{v}");
    assert_eq!(
        v["profile"]["profile"],
        format!("default@127.0.0.1:{}", s.backend)
    );
    let (code, _, err) = cli(&s, &home, &["logout"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = cli(&s, &home, &["whoami"]);
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: Configuration: Not logged in."),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

// ---------------------------------------------------------------------------
// Wire compatibility with the official SDK's requests.

#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    headers: HashMap<String, String>,
    body: String,
}

/// A tiny HTTP/1.1 server: records every request and answers from `route`.
struct Mock {
    port: u16,
    seen: Arc<Mutex<Vec<Seen>>>,
}

type Route = Arc<dyn Fn(&Seen) -> (u16, String, String) + Send + Sync>;

impl Mock {
    fn start(route: Route) -> Self {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
        let s2 = seen.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(conn) = conn else { continue };
                let (seen, route) = (s2.clone(), route.clone());
                std::thread::spawn(move || serve_one(conn, &seen, &route));
            }
        });
        Self { port, seen }
    }
    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    fn take(&self) -> Vec<Seen> {
        std::mem::take(&mut *self.seen.lock().unwrap())
    }
}

fn serve_one(conn: TcpStream, seen: &Mutex<Vec<Seen>>, route: &Route) {
    let mut r = BufReader::new(conn.try_clone().unwrap());
    let mut w = conn;
    {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            r.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap();
            headers.insert(k.trim().to_lowercase(), v.trim().to_owned());
        }
        let n: usize = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; n];
        r.read_exact(&mut body).unwrap();
        let req = Seen {
            method,
            path,
            headers,
            body: String::from_utf8(body).unwrap(),
        };
        let (status, ctype, text) = route(&req);
        seen.lock().unwrap().push(req);
        let resp = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
            text.len()
        );
        let _ = w.write_all(resp.as_bytes());
    }
}

fn transcript() -> HashMap<String, Value> {
    vectors("http_transcript.json")["transcript"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["step"].as_str().unwrap().to_owned(), s.clone()))
        .collect()
}

/// The headers that matter (not the client library's own, not per-run values).
fn header_names(h: &Value) -> Vec<String> {
    let skip = [
        "user-agent",
        "accept-encoding",
        "connection",
        "content-length",
        "host",
    ];
    let mut v: Vec<String> = h
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.to_lowercase())
        .filter(|k| !skip.contains(&k.as_str()))
        .collect();
    v.sort();
    v
}

fn ours_header_names(h: &HashMap<String, String>) -> Vec<String> {
    let skip = [
        "user-agent",
        "accept-encoding",
        "connection",
        "content-length",
        "host",
    ];
    let mut v: Vec<String> = h
        .keys()
        .filter(|k| !skip.contains(&k.as_str()))
        .cloned()
        .collect();
    v.sort();
    v
}

fn keys_in_order(body: &str) -> Vec<String> {
    // Top-level member names in the order they were written.
    let v = armoriq_core::json::Value::parse(body.as_bytes(), 64).unwrap();
    v.members().map(|(k, _)| k.chars().collect()).collect()
}

/// Compares our request with the official one: method, path, header names,
/// fixed header values, top-level key order and the parsed body.
fn same_request(ours: &Seen, theirs: &Value, fixed: &[&str], body_bytes: bool) {
    let step = theirs["path"].as_str().unwrap();
    assert_eq!(ours.method, theirs["method"], "{step}");
    let want_path = theirs["path"]
        .as_str()
        .unwrap()
        .trim_start_matches("/proxy");
    assert_eq!(ours.path.split('?').next().unwrap(), want_path, "{step}");
    assert_eq!(
        ours_header_names(&ours.headers),
        header_names(&theirs["headers"]),
        "{step}"
    );
    let th: HashMap<String, String> = theirs["headers"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_lowercase(), v.as_str().unwrap().to_owned()))
        .collect();
    for h in fixed {
        let want = th[*h].replace("<api-key>", "ak_test_wire");
        assert_eq!(ours.headers.get(*h), Some(&want), "{step}: header {h}");
    }
    let tb = theirs["body"].as_str().unwrap_or_default();
    if tb.is_empty() {
        assert!(ours.body.is_empty(), "{step}");
        return;
    }
    if body_bytes {
        assert_eq!(ours.body, tb, "{step}");
    }
    assert_eq!(keys_in_order(&ours.body), keys_in_order(tb), "{step}");
    let a: Value = serde_json::from_str(&ours.body).unwrap();
    let b: Value = serde_json::from_str(tb).unwrap();
    assert_eq!(a, b, "{step}");
}

/// The transcript's token expired after it was recorded; the mock serves it
/// with this `expires_at` instead.
const FUTURE: u64 = 4_102_444_800;

fn future(token: &Value) -> Value {
    let mut t = token.clone();
    t["expires_at"] = json!(FUTURE);
    t
}

/// A recorded request with the token's `expires_at` moved to [`FUTURE`].
fn future_body(req: &Value) -> Value {
    let mut r = req.clone();
    let text = r["body"].as_str().unwrap();
    let mut b: Value = serde_json::from_str(text).unwrap();
    let order = keys_in_order(text);
    for k in ["token", "csrg_token"] {
        if b.get(k).is_some() {
            b[k] = future(&b[k]);
        }
    }
    let mut out = String::from("{");
    for (i, k) in order.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&format!("{}:{}", json!(k), b[k]));
    }
    out.push('}');
    r["body"] = json!(out);
    r
}

#[test]
fn requests_match_the_official_sdk() {
    let t = transcript();
    let mint = &t["get_intent_token_ok"]["outcome"]["returned"];
    let raw = &mint["raw_token"];
    let mint_resp = json!({
        "success": true, "plan_id": raw["plan_id"], "intent_reference": raw["intent_reference"],
        "plan_hash": raw["plan_hash"], "merkle_root": raw["merkle_root"],
        "composite_identity": raw["composite_identity"], "step_proofs": raw["step_proofs"],
        "token": future(&raw["token"]), "jwt_token": mint["jwt_token"], "client_info": mint["client_info"],
        "policy_validation": mint["policy_validation"], "policy_snapshot": mint["policy_snapshot"],
    })
    .to_string();
    let route: Route = Arc::new(move |r: &Seen| {
        let body = match r.path.as_str() {
            "/iap/sdk/bootstrap" => {
                r#"{"agentId":"agent-1","mcps":[{"name":"Stripe"}]}"#.to_owned()
            }
            "/iap/sdk/resolve-user" => {
                r#"{"membershipId":"m1","policies":[],"approvers":[]}"#.into()
            }
            "/iap/sdk/token" => mint_resp.clone(),
            "/iap/sdk/enforce" => r#"{"allowed":true,"enforcementAction":"allow"}"#.into(),
            "/iap/audit" => "{}".into(),
            _ => r#"{"result":{"content":[{"type":"text","text":"ok"}]}}"#.into(),
        };
        (200, "application/json".to_owned(), body)
    });
    let m = Mock::start(route);
    let base = || {
        ArmorIQClient::builder()
            .api_key("ak_test_wire")
            .backend_endpoint(m.url())
            .proxy_endpoint(m.url())
            .agent_id("agent-1")
            .local_verification(false)
            .credentials_path("/nonexistent/credentials.json")
    };
    let fixed = ["authorization", "x-api-key", "content-type"];

    // bootstrap (cached: one request) and resolve-user (cached per email).
    let c = base().build().unwrap();
    c.bootstrap().unwrap();
    c.bootstrap().unwrap();
    c.resolve_user("alice@example.com").unwrap();
    c.resolve_user(" ALICE@example.com").unwrap();
    let seen = m.take();
    assert_eq!(seen.len(), 2);
    // The cache lives for the TTL only.
    let short = base()
        .user_context_ttl(Duration::from_millis(50))
        .build()
        .unwrap();
    short.resolve_user("bob@example.com").unwrap();
    short.resolve_user("bob@example.com").unwrap();
    std::thread::sleep(Duration::from_millis(80));
    short.resolve_user("bob@example.com").unwrap();
    short.invalidate_user("BOB@example.com");
    short.resolve_user("bob@example.com").unwrap();
    assert_eq!(m.take().len(), 3);
    same_request(&seen[0], &t["bootstrap"]["requests"][0], &fixed, true);
    same_request(&seen[1], &t["resolve_user"]["requests"][0], &fixed, true);

    // Token mint: byte-identical body (the plan's key order, the int lifetime).
    let theirs = &t["get_intent_token_ok"]["requests"][0];
    let body: Value = serde_json::from_str(theirs["body"].as_str().unwrap()).unwrap();
    let plan_text = {
        let b = theirs["body"].as_str().unwrap();
        let start = b.find("\"plan\":").unwrap() + 7;
        let end = b.find(",\"policy\":").unwrap();
        b[start..end].to_owned()
    };
    let cap = c
        .capture_plan_json("llm", "prompt", &plan_text, Some(json!({"m": 1})))
        .unwrap();
    let tok = c
        .get_intent_token(&cap, Some(&body["policy"]), 120, Some("alice@example.com"))
        .unwrap();
    let seen = m.take();
    same_request(&seen[0], theirs, &fixed, true);
    let idem = &seen[0].headers["idempotency-key"];
    assert!(
        idem.len() == 32 && idem.bytes().all(|b| b.is_ascii_hexdigit()),
        "{idem}"
    );

    // invoke, with an MCP credential (X-Armoriq-MCP-Auth) and a user email.
    let c2 = base()
        .mcp_credential(
            "Stripe",
            json!({"authType": "bearer", "token": "sk_test_abc"}),
        )
        .build()
        .unwrap();
    let theirs = &t["invoke_ok_with_mcp_credential_env"]["requests"][0];
    let tb: Value = serde_json::from_str(theirs["body"].as_str().unwrap()).unwrap();
    let r = c2
        .invoke(
            "Stripe",
            "create_refund",
            &tok,
            Some(&tb["params"]),
            Some("alice@example.com"),
        )
        .unwrap();
    assert_eq!(r.status, "success");
    let seen = m.take();
    same_request(
        &seen[0],
        &future_body(theirs),
        &[
            "authorization",
            "x-api-key",
            "content-type",
            "accept",
            "cache-control",
            "x-armoriq-mcp-auth",
        ],
        false,
    );
    assert!(seen[0].headers["x-request-id"].starts_with("sdk-"));

    // invoke without an email, from a client with a user id (the 409 step's request).
    let c3 = base().user_id("user-1").build().unwrap();
    let _ = c3.invoke("Stripe", "create_refund", &tok, None, None);
    same_request(
        &m.take()[0],
        &future_body(&t["invoke_409"]["requests"][0]),
        &fixed,
        false,
    );

    // revoke: Bearer only (no X-API-Key), the CSRG token object, cascade.
    c.revoke(&tok, "user cancelled", true, None, None).unwrap();
    let seen = m.take();
    let theirs = future_body(&t["revoke"]["requests"][0]);
    let (a, b): (Value, Value) = (
        serde_json::from_str(&seen[0].body).unwrap(),
        serde_json::from_str(theirs["body"].as_str().unwrap()).unwrap(),
    );
    assert_eq!(seen[0].path, "/iap/trust/revoke");
    assert_eq!(a, b);
    assert_eq!(
        keys_in_order(&seen[0].body),
        keys_in_order(theirs["body"].as_str().unwrap())
    );
    assert_eq!(
        ours_header_names(&seen[0].headers),
        header_names(&theirs["headers"])
    );

    // Session, sdk mode: start_plan's mint, check's enforce, report's audit.
    let c4 = base().user_id("user-1").build().unwrap();
    let mut sess = c4.start_session(SessionOptions {
        validity_seconds: 900,
        ..Default::default()
    });
    let calls = vec![ToolCall::new("Stripe__create_refund", json!({"amount": 5})).unwrap()];
    sess.start_plan(&calls, Some("refund")).unwrap();
    sess.start_plan(&calls, Some("refund")).unwrap();
    let seen = m.take();
    assert_eq!(seen.len(), 1, "an unchanged plan is not minted again");
    same_request(
        &seen[0],
        &t["session_sdk_start_plan"]["requests"][0],
        &fixed,
        true,
    );
    let d = sess
        .check(
            "Stripe__create_refund",
            &json!({"amount": 5}),
            Some("alice@example.com"),
        )
        .unwrap();
    assert!(d.allowed);
    let seen = m.take();
    let theirs = &t["session_sdk_check_allow"]["requests"][0];
    let mut ours_body: Value = serde_json::from_str(&seen[0].body).unwrap();
    let mut their_body: Value = serde_json::from_str(theirs["body"].as_str().unwrap()).unwrap();
    assert!(uuid::Uuid::parse_str(ours_body["session_id"].as_str().unwrap()).is_ok());
    ours_body["session_id"] = json!("x");
    their_body["session_id"] = json!("x");
    assert_eq!(ours_body, their_body);
    assert_eq!(
        keys_in_order(&seen[0].body),
        keys_in_order(theirs["body"].as_str().unwrap())
    );
    assert_eq!(seen[0].path, "/iap/sdk/enforce");
    sess.report(
        "Stripe__create_refund",
        &json!({}),
        &json!({}),
        &Default::default(),
    );
    let seen = m.take();
    let theirs = &t["session_report"]["requests"][0];
    let mut a: Value = serde_json::from_str(&seen[0].body).unwrap();
    let mut b: Value = serde_json::from_str(theirs["body"].as_str().unwrap()).unwrap();
    let at = a["executed_at"].as_str().unwrap().to_owned();
    assert_eq!(at.len(), b["executed_at"].as_str().unwrap().len(), "{at}");
    a["executed_at"] = json!("x");
    b["executed_at"] = json!("x");
    assert_eq!(a, b);
    assert_eq!(
        keys_in_order(&seen[0].body),
        keys_in_order(theirs["body"].as_str().unwrap())
    );
}

#[test]
fn error_mapping_and_retries_match_the_official_sdk() {
    // One Idempotency-Key across retries; 5xx retried, 4xx not; invoke never retried.
    let count = Arc::new(Mutex::new(0u32));
    let c2 = count.clone();
    let route: Route = Arc::new(move |r: &Seen| {
        let mut n = c2.lock().unwrap();
        *n += 1;
        match r.path.as_str() {
            "/iap/sdk/token" if *n < 3 => (503, "text/plain".into(), "busy".into()),
            "/iap/sdk/token" => (
                400,
                "application/json".into(),
                r#"{"message":"bad plan","policy_validation":{"denied_tools":[]}}"#.into(),
            ),
            _ => (
                502,
                "application/json".into(),
                r#"{"message":"down"}"#.into(),
            ),
        }
    });
    let m = Mock::start(route);
    let c = ArmorIQClient::builder()
        .api_key("ak_live_x")
        .backend_endpoint(m.url())
        .proxy_endpoint(m.url())
        .backoff(Backoff {
            base: Duration::from_millis(10),
            cap: Duration::from_millis(40),
        })
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap();
    let cap = c
        .capture_plan("l", "p", Some(&json!({"steps": []})), None)
        .unwrap();
    match c.get_intent_token(&cap, None, 60.0, None).unwrap_err() {
        ArmorIqError::InvalidToken(m) => assert_eq!(m, "Token issuance failed: bad plan"),
        other => panic!("{other:?}"),
    }
    let seen = m.take();
    assert_eq!(seen.len(), 3);
    let k = &seen[0].headers["idempotency-key"];
    assert!(seen.iter().all(|s| &s.headers["idempotency-key"] == k));
    assert!(
        seen[0].body.contains("\"expires_in\":60.0"),
        "{}",
        seen[0].body
    );

    // Transport errors are retried too, then reported.
    let closed = free_port();
    let c3 = ArmorIQClient::builder()
        .api_key("ak_live_x")
        .backend_endpoint(format!("http://127.0.0.1:{closed}"))
        .proxy_endpoint(format!("http://127.0.0.1:{closed}"))
        .backoff(Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_millis(150),
        })
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap();
    let t0 = Instant::now();
    let e = c3.get_intent_token(&cap, None, 60, None).unwrap_err();
    // 4 attempts: sleeps of 100, 150, 150 ms between them.
    assert!(
        t0.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t0.elapsed()
    );
    assert!(
        e.message().starts_with("Failed to get intent token: "),
        "{e}"
    );
    let t0 = Instant::now();
    let tok = armoriq_client::IntentToken {
        expires_at: 4e9,
        ..dummy_token(&cap)
    };
    let e = ArmorIQClient::builder()
        .api_key("ak_live_x")
        .backend_endpoint(format!("http://127.0.0.1:{closed}"))
        .proxy_endpoint(format!("http://127.0.0.1:{closed}"))
        .local_verification(false)
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap()
        .invoke("m", "a", &tok, None, None)
        .unwrap_err();
    assert!(
        t0.elapsed() < Duration::from_millis(400),
        "invoke is never retried"
    );
    assert!(
        e.message()
            .starts_with("Could not reach the ArmorIQ proxy at "),
        "{e}"
    );

    // Bad key prefix, missing key: Configuration with the official text.
    let e = ArmorIQClient::builder()
        .api_key("sk_nope")
        .backend_endpoint(m.url())
        .build()
        .unwrap_err();
    assert!(
        e.message().starts_with(
            "Invalid API key format. API keys must start with 'ak_live_', 'ak_claw_', or 'ak_test_'."
        ),
        "{e}"
    );
    assert_eq!(e.kind(), "Configuration");
}

// ---------------------------------------------------------------------------
// Local verification at mint: a substituted plan or a forged signature.

#[test]
fn mint_rejects_a_substituted_plan_and_a_bad_signature() {
    use armoriq_common::keys::SigningKey;
    let (key, _) = SigningKey::generate(armoriq_core::Alg::EdDsa).unwrap();
    let public_hex = hex::encode(key.public().raw);
    let sent =
        json!({"steps": [{"action": "get_weather", "mcp": MCP, "params": {"city": "Paris"}}]});
    let other =
        json!({"steps": [{"action": "delete_records", "mcp": MCP, "params": {"table": "users"}}]});
    let sign_for = |plan: &Value, break_sig: bool| -> String {
        let (_, h) = armoriq_common::proofs::plan_hashes(
            plan.to_string().as_bytes(),
            armoriq_core::Profile::ArmorIq,
        )
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"iss": "armoriq-gateway", "aud": "armoriq-proxy", "sub": "u", "iat": now,
            "exp": now + 300, "jti": "i1", "plan_id": "p1", "plan_hash": h.plan_hash, "merkle_root": h.merkle_root,
            "step_count": 1});
        let canon = armoriq_common::canonical::canonical_bytes(
            claims.to_string().as_bytes(),
            armoriq_core::Profile::ArmorIq,
        )
        .unwrap();
        let mut jwt = key.sign_jwt(&canon, None).unwrap();
        if break_sig {
            jwt = flip_sig(&jwt);
        }
        json!({"success": true, "plan_id": "p1", "intent_reference": "i1", "plan_hash": h.plan_hash,
               "merkle_root": h.merkle_root, "jwt_token": jwt, "token": {}})
        .to_string()
    };
    let substituted = sign_for(&other, false);
    let forged = sign_for(&sent, true);
    let honest = sign_for(&sent, false);
    let which = Arc::new(Mutex::new(0u8));
    let w2 = which.clone();
    let pk = public_hex.clone();
    let route: Route = Arc::new(move |r: &Seen| {
        if r.path == "/iap/public-key" {
            return (
                200,
                "application/json".into(),
                json!({"public_key": pk}).to_string(),
            );
        }
        let body = match *w2.lock().unwrap() {
            0 => substituted.clone(),
            1 => forged.clone(),
            _ => honest.clone(),
        };
        (200, "application/json".into(), body)
    });
    let m = Mock::start(route);
    let c = ArmorIQClient::builder()
        .api_key("ak_test_v")
        .backend_endpoint(m.url())
        .proxy_endpoint(m.url())
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap();
    let cap = c.capture_plan("l", "p", Some(&sent), None).unwrap();
    let e = c.get_intent_token(&cap, None, 300, None).unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(msg) if msg.contains("plan substituted")),
        "{e:?}"
    );
    *which.lock().unwrap() = 1;
    let e = c.get_intent_token(&cap, None, 300, None).unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(msg) if msg.contains("jwt_token")),
        "{e:?}"
    );
    *which.lock().unwrap() = 2;
    let tok = c.get_intent_token(&cap, None, 300, None).unwrap();
    assert_eq!(tok.plan_id.as_deref(), Some("p1"));
    // Neither refused token reached /invoke.
    assert!(m.take().iter().all(|s| s.path != "/invoke"));
}

// ---------------------------------------------------------------------------
// Files shared with the official SDK.

fn run_py(py: &Path, home: &Path, code: &str) -> String {
    let out = Command::new(py)
        .arg("-c")
        .arg(code)
        .env("HOME", home)
        .env_remove("ARMORIQ_PROFILE")
        .env_remove("ARMORIQ_PRODUCT")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        code
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn credentials_and_config_files_interoperate_with_the_official_sdk() {
    use armoriq_client::credentials::{Credentials, LoginProfile};
    let Some(py) = python() else { return };
    let home = temp_dir("client-home");
    let path = home.join(".armoriq").join("credentials.json");

    // The official SDK saves two profiles and removes one; ours reads them.
    run_py(
        &py,
        &home,
        "from armoriq_sdk.credentials import LoginProfile, save_login_profile, remove_profile\n\
         save_login_profile(LoginProfile(backend='https://api.armoriq.ai', product='ArmorClaude', apiKey='ak_live_py', email='p@x.io', userId='u-1', orgId='o-1'))\n\
         n = save_login_profile(LoginProfile(backend='http://127.0.0.1:3000/', product='', apiKey='ak_test_gone', email='g@x.io', userId='u-2', orgId='o-2'))\n\
         remove_profile(n)\n",
    );
    let creds = Credentials::at(&path);
    let p = creds
        .load_profile("https://api.armoriq.ai", "armorclaude")
        .unwrap();
    assert_eq!(p.login.api_key, "ak_live_py");
    assert!(creds.load_profile("http://127.0.0.1:3000", "").is_none());

    // Ours saves one (same file, same lock); the official SDK reads both.
    let name = creds
        .save_login_profile(&LoginProfile {
            backend: "http://127.0.0.1:3000".into(),
            product: String::new(),
            api_key: "ak_test_rs".into(),
            email: "r@x.io".into(),
            user_id: "u-3".into(),
            org_id: "o-3".into(),
        })
        .unwrap();
    assert_eq!(name, "default@127.0.0.1:3000");
    let got = run_py(
        &py,
        &home,
        "import json\nfrom armoriq_sdk.credentials import load_profile, active_profile\n\
         a = load_profile('http://127.0.0.1:3000'); b = load_profile('https://api.armoriq.ai', 'armorclaude')\n\
         print(json.dumps([a.apiKey if a else None, b.apiKey if b else None, active_profile().apiKey]))\n",
    );
    assert_eq!(got.trim(), r#"["ak_test_rs", "ak_live_py", "ak_test_rs"]"#);
    // Our bytes are what json.dumps(indent=2, ensure_ascii=False) gives for that document.
    let ours = std::fs::read_to_string(&path).unwrap();
    let theirs = run_py(
        &py,
        &home,
        "import json,pathlib,sys\np = pathlib.Path.home()/'.armoriq'/'credentials.json'\n\
         sys.stdout.write(json.dumps(json.loads(p.read_text()), indent=2, ensure_ascii=False) + '\\n')\n",
    );
    assert_eq!(ours, theirs);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!home.join(".armoriq/credentials.json.lock").exists());
    }
    // A client with no key anywhere else uses the saved profile for its backend.
    let c = ArmorIQClient::builder()
        .backend_endpoint("http://127.0.0.1:3000")
        .credentials_path(&path)
        .build();
    if std::env::var_os("ARMORIQ_API_KEY").is_none()
        && std::env::var_os("ARMORIQ_PROFILE").is_none()
    {
        assert_eq!(c.unwrap().api_key(), "ak_test_rs");
    }
    // Ours removes it; the official SDK no longer sees it.
    assert!(creds.remove_profile(&name).unwrap());
    let got = run_py(
        &py,
        &home,
        "from armoriq_sdk.credentials import load_profile\nprint(load_profile('http://127.0.0.1:3000'))\n",
    );
    assert_eq!(got.trim(), "None");

    // Both writers at once: the lock protocol loses no update.
    let home2 = temp_dir("client-home-race");
    let path2 = home2.join(".armoriq").join("credentials.json");
    let py2 = py.clone();
    let h2 = home2.clone();
    let writer = std::thread::spawn(move || {
        run_py(
            &py2,
            &h2,
            "from armoriq_sdk.credentials import LoginProfile, save_login_profile\n\
             for i in range(15):\n    save_login_profile(LoginProfile(backend=f'http://py{i}.test', product='', apiKey=f'ak_test_py{i}', email='', userId='u', orgId=''))\n",
        )
    });
    let ours2 = Credentials::at(&path2);
    for i in 0..15 {
        ours2
            .save_login_profile(&LoginProfile {
                backend: format!("http://rs{i}.test"),
                product: String::new(),
                api_key: format!("ak_test_rs{i}"),
                email: String::new(),
                user_id: "u".into(),
                org_id: String::new(),
            })
            .unwrap();
    }
    writer.join().unwrap();
    assert_eq!(ours2.read().1.len(), 30);
    let n = run_py(
        &py,
        &home2,
        "from armoriq_sdk.credentials import _read\nprint(len(_read()[1]))\n",
    );
    assert_eq!(n.trim(), "30");
    let _ = std::fs::remove_dir_all(&home2);

    // armoriq.yaml: theirs → ours, ours → theirs (byte-identical re-save).
    let theirs_yaml = home.join("theirs.yaml");
    run_py(
        &py,
        &home,
        &format!(
            "from armoriq_sdk.config import *\n\
             c = ArmorIQConfig(identity=IdentityConfig(api_key='ak_test_yaml', user_id='u', agent_id='my-agent'),\n\
               proxy=ProxyConfig(url='http://127.0.0.1:3001'),\n\
               mcp_servers=[MCPServerConfig(id='weather-mcp', url='http://127.0.0.1:9/mcp', description='Weather: tools', auth=MCPAuthConfig(type='bearer', token='$TOK'))],\n\
               policy=PolicyConfig(allow=['weather-mcp.get_weather', 'weather-mcp.*'], deny=['true']))\n\
             save_armoriq_config(c, {:?})\n",
            theirs_yaml.display().to_string()
        ),
    );
    let text = std::fs::read_to_string(&theirs_yaml).unwrap();
    let cfg = armoriq_common::yaml::ArmorIqYaml::parse(&text).unwrap();
    assert_eq!(armoriq_client::config::to_yaml(&cfg), text);
    let c = ArmorIQClient::from_config(&theirs_yaml).unwrap();
    assert_eq!(c.api_key(), "ak_test_yaml");
    assert_eq!(c.default_proxy_endpoint().unwrap(), "http://127.0.0.1:3001");
    let ours_yaml = home.join("ours.yaml");
    std::fs::write(&ours_yaml, armoriq_client::config::to_yaml(&cfg)).unwrap();
    let back = run_py(
        &py,
        &home,
        &format!(
            "import io,yaml\nfrom armoriq_sdk.config import load_armoriq_config\n\
             c = load_armoriq_config({:?})\nprint(c.identity.agent_id, c.mcp_servers[0].auth.token, c.policy.deny[0], c.mcp_servers[0].description)\n",
            ours_yaml.display().to_string()
        ),
    );
    assert_eq!(back.trim(), "my-agent $TOK true Weather: tools");
    let _ = std::fs::remove_dir_all(&home);
}

/// The mock answers of `generators/capture_http.py` for the invoke steps,
/// and what the official SDK made of them.
#[test]
fn invoke_answers_map_to_the_same_results_and_errors() {
    use armoriq_client::http::Resp;
    use armoriq_client::map_invoke_response;
    let t = transcript();
    let resp = |status: u16, ctype: &str, body: &str| Resp {
        status,
        content_type: ctype.to_owned(),
        text: body.to_owned(),
    };
    let url = "http://127.0.0.1:37245/proxy/invoke";
    let map = |r: &Resp| map_invoke_response(r, url, "Stripe", "create_refund", "ph", 0.0);
    let want = |step: &str| t[step]["outcome"].clone();

    let r = map(&resp(
        200,
        "application/json",
        r#"{"result":{"isError":true,"content":[]}}"#,
    ))
    .unwrap();
    let w = want("invoke_tool_error_payload")["returned"].clone();
    assert_eq!(
        (r.status.as_str(), &r.result),
        (w["status"].as_str().unwrap(), &w["result"])
    );
    assert_eq!(r.metadata, w["metadata"]);

    let sse = "event: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"sse\"}]}}\n\n";
    let r = map(&resp(200, "text/event-stream", sse)).unwrap();
    assert_eq!(r.result, want("invoke_sse")["returned"]["result"]);
    let e = map(&resp(200, "text/event-stream", "event: x\n\n")).unwrap_err();
    assert_eq!(e.message(), "No data in SSE response");

    let e = map(&resp(
        200,
        "application/json",
        r#"{"error":{"code":-32602,"message":"bad params","data":"amount"}}"#,
    ))
    .unwrap_err();
    let w = want("invoke_jsonrpc_error");
    assert_eq!(e.sdk_exception(), w["raised"]);
    assert_eq!(e.message(), w["message"]);

    for (step, status) in [("invoke_401", 401), ("invoke_403", 403)] {
        let e = map(&resp(
            status,
            "application/json",
            r#"{"message":"token revoked"}"#,
        ))
        .unwrap_err();
        assert_eq!(e.sdk_exception(), want(step)["raised"], "{step}");
        assert_eq!(e.message(), want(step)["message"], "{step}");
    }
    let e = map(&resp(
        409,
        "application/json",
        r#"{"message":"action not in plan"}"#,
    ))
    .unwrap_err();
    assert_eq!(e.sdk_exception(), want("invoke_409")["raised"]);
    assert_eq!(e.message(), want("invoke_409")["message"]);
    let e = map(&resp(502, "application/json", r#"{"message":"upstream"}"#)).unwrap_err();
    assert_eq!(e.sdk_exception(), want("invoke_502_not_retried")["raised"]);
    assert_eq!(e.message(), want("invoke_502_not_retried")["message"]);
    assert_eq!(e.status(), Some(502));

    // enforcementAction wins over the status, in both directions.
    let e = map(&resp(
        403,
        "application/json",
        r#"{"enforcementAction":"block","message":"blocked","reason":"amount_over_limit","matchedPolicy":{"name":"Payments"},"obligations":[{"type":"x"}]}"#,
    ))
    .unwrap_err();
    let w = want("invoke_enforcement_block");
    match &e {
        ArmorIqError::PolicyBlocked {
            message,
            reason,
            enforcement_action,
            matched_policy,
            metadata,
        } => {
            assert_eq!(message, &w["message"]);
            assert_eq!(reason.as_deref(), w["attrs"]["reason"].as_str());
            assert_eq!(enforcement_action.as_deref(), Some("block"));
            assert_eq!(
                matched_policy.as_deref(),
                w["attrs"]["matched_policy"].as_str()
            );
            assert_eq!(**metadata, w["attrs"]["metadata"]);
        }
        other => panic!("{other:?}"),
    }
    let e = map(&resp(
        202,
        "application/json",
        r#"{"enforcementAction":"hold","message":"needs approval","reason":"approval_required","matched_policy":"Payments","delegation_context":{"planId":"p","merkleRoot":"m","domain":"Stripe"}}"#,
    ))
    .unwrap_err();
    let w = want("invoke_enforcement_hold");
    match &e {
        ArmorIqError::PolicyHold {
            message,
            reason,
            delegation_context,
            matched_policy,
            ..
        } => {
            assert_eq!(message, &w["message"]);
            assert_eq!(reason.as_deref(), w["attrs"]["reason"].as_str());
            assert_eq!(**delegation_context, w["attrs"]["delegation_context"]);
            assert_eq!(
                matched_policy.as_deref(),
                w["attrs"]["matched_policy"].as_str()
            );
        }
        other => panic!("{other:?}"),
    }
}

/// `invoke_with_policy(wait_for_approval)` and a session hold send the
/// official SDK's request sequence and bodies.
#[test]
fn hold_flows_send_the_official_requests() {
    let t = transcript();
    let mint = &t["get_intent_token_ok"]["outcome"]["returned"];
    let raw = &mint["raw_token"];
    let mint_resp = json!({
        "success": true, "plan_id": raw["plan_id"], "intent_reference": raw["intent_reference"],
        "plan_hash": raw["plan_hash"], "merkle_root": raw["merkle_root"], "token": future(&raw["token"]),
        "jwt_token": mint["jwt_token"], "policy_validation": mint["policy_validation"],
        "policy_snapshot": mint["policy_snapshot"],
    })
    .to_string();
    let invokes = Arc::new(Mutex::new(0u32));
    let inv = invokes.clone();
    let route: Route = Arc::new(move |r: &Seen| {
        let j = |s: &str| (200, "application/json".to_owned(), s.to_owned());
        match r.path.split('?').next().unwrap() {
            "/iap/sdk/token" => j(&mint_resp),
            "/mcp/tool-metadata/Stripe" => j(
                r#"{"data":{"mcpId":"mcp-1","name":"Stripe","toolMetadata":{"create_refund":{"isFinancial":true,"transactionType":"refund","amountFields":["amount_cents"],"amountUnit":"cents","recipientField":"customer"}},"roleMapping":{"admin":"owner"}}}"#,
            ),
            "/invoke" => {
                let mut n = inv.lock().unwrap();
                *n += 1;
                if *n == 1 {
                    (202, "application/json".into(), r#"{"enforcementAction":"hold","message":"needs approval","reason":"over_limit","delegation_context":{"planId":"plan-9","intentReference":"ir-9","merkleRoot":"mr-9","domain":"stripe.com","targetUrl":"https://x"}}"#.into())
                } else {
                    j(r#"{"result":{"ok":true}}"#)
                }
            }
            "/delegation/my-role" => j(r#"{"role":"agent_user","limit":100}"#),
            "/delegation/request" => j(r#"{"delegationId":"del-1","status":"pending"}"#),
            "/delegation/del-1/status" => j(r#"{"status":"approved"}"#),
            "/delegation/mark-executed" => j(r#"{"ok":true}"#),
            "/iap/sdk/enforce" => {
                j(r#"{"allowed":false,"enforcementAction":"hold","reason":"approval_required"}"#)
            }
            "/delegation/check-approved" => j(r#"{"approved":false}"#),
            _ => (404, "application/json".into(), "{}".into()),
        }
    });
    let m = Mock::start(route);
    let c = ArmorIQClient::builder()
        .api_key("ak_test_wire")
        .backend_endpoint(m.url())
        .proxy_endpoint(m.url())
        .agent_id("agent-1")
        .local_verification(false)
        .poll(PollSettings {
            first: Duration::from_millis(20),
            factor: 1.5,
            cap: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        })
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap();
    let plan = json!({"goal": "Refund", "steps": [{"action": "create_refund", "mcp": "Stripe", "params": {}}]});
    let cap = c.capture_plan("l", "p", Some(&plan), None).unwrap();
    let tok = c.get_intent_token(&cap, None, 60.0, None).unwrap();
    m.take();
    let opts = InvokeOptions {
        wait_for_approval: true,
        user_email: Some("alice@example.com".into()),
        ..Default::default()
    };
    let r = c
        .invoke_with_policy(
            "Stripe",
            "create_refund",
            &tok,
            Some(&json!({"amount_cents": 12345, "customer": "cus_1"})),
            &opts,
        )
        .unwrap();
    assert_eq!(r.result, json!({"ok": true}));
    let ours = m.take();
    let theirs = t["invoke_with_policy_wait_for_approval"]["requests"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(
        ours.iter()
            .map(|s| (s.method.clone(), s.path.clone()))
            .collect::<Vec<_>>(),
        theirs
            .iter()
            .map(|s| (
                s["method"].as_str().unwrap().to_owned(),
                s["path"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("/proxy")
                    .to_owned()
            ))
            .collect::<Vec<_>>()
    );
    for (o, th) in ours.iter().zip(&theirs) {
        let tb = th["body"].as_str().unwrap();
        if tb.is_empty() {
            continue;
        }
        let (a, b): (Value, Value) = (
            serde_json::from_str(&o.body).unwrap(),
            serde_json::from_str(tb).unwrap(),
        );
        if o.path == "/invoke" {
            for k in ["params", "arguments", "user_email"] {
                assert_eq!(a[k], b[k], "{k}");
            }
        } else {
            assert_eq!(a, b, "{}", o.path);
            assert_eq!(keys_in_order(&o.body), keys_in_order(tb), "{}", o.path);
        }
        for h in ["x-user-email", "x-api-key"] {
            let want = th["headers"]
                .as_object()
                .unwrap()
                .iter()
                .find(|(k, _)| k.to_lowercase() == h)
                .map(|(_, v)| v.as_str().unwrap().replace("<api-key>", "ak_test_wire"));
            assert_eq!(o.headers.get(h), want.as_ref(), "{} {h}", o.path);
        }
    }
    let mark = ours
        .iter()
        .find(|s| s.path == "/delegation/mark-executed")
        .unwrap();
    assert_eq!(mark.headers["idempotency-key"], "mark-exec:del-1");
    let req = ours
        .iter()
        .find(|s| s.path == "/delegation/request")
        .unwrap();
    assert!(req.headers["idempotency-key"].starts_with("deleg-"));

    // A session hold: enforce → check-approved → delegation request.
    let c2 = ArmorIQClient::builder()
        .api_key("ak_test_wire")
        .backend_endpoint(m.url())
        .proxy_endpoint(m.url())
        .agent_id("agent-1")
        .local_verification(false)
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap();
    let mut sess = c2
        .for_user("alice@example.com")
        .start_session(SessionOptions::default());
    let calls = vec![ToolCall::new("Stripe__create_refund", json!({"amount": 5})).unwrap()];
    sess.start_plan(&calls, Some("refund")).unwrap();
    m.take();
    let d = sess
        .check(
            "Stripe__create_refund",
            &json!({"amount": 5}),
            Some("alice@example.com"),
        )
        .unwrap();
    let w = &t["session_sdk_check_hold"];
    assert_eq!(d.action, "hold");
    assert_eq!(d.delegation_id.as_deref(), Some("del-1"));
    let ours = m.take();
    let theirs = w["requests"].as_array().unwrap();
    assert_eq!(ours.len(), theirs.len());
    let q = &ours[1].path;
    assert_eq!(
        q,
        &format!(
            "/delegation/check-approved?tool=create_refund&amount=5.0&planId={}",
            theirs[1]["query"]["planId"].as_str().unwrap()
        )
    );
    assert_eq!(ours[2].body, theirs[2]["body"].as_str().unwrap());
}

/// Mint, bootstrap and resolve-user refusals: the recorded mock answers give
/// the official SDK's exception and message.
#[test]
fn mint_and_setup_refusals_match_the_official_sdk() {
    let t = transcript();
    let next: Arc<Mutex<(u16, String)>> = Arc::new(Mutex::new((200, "{}".into())));
    let n2 = next.clone();
    let route: Route = Arc::new(move |_r: &Seen| {
        let (st, body) = n2.lock().unwrap().clone();
        (st, "application/json".into(), body)
    });
    let m = Mock::start(route);
    let c = ArmorIQClient::builder()
        .api_key("ak_test_wire")
        .backend_endpoint(m.url())
        .proxy_endpoint(m.url())
        .max_retries(0)
        .local_verification(false)
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap();
    let cap = c
        .capture_plan(
            "l",
            "p",
            Some(&json!({"steps": [{"action": "create_refund", "mcp": "Stripe"}]})),
            None,
        )
        .unwrap();
    let cases = [
        (
            "get_intent_token_403",
            403,
            r#"{"message": "Forbidden by policy", "policy_validation": {"denied_tools": ["create_refund"], "denied_reasons": ["amount > limit"], "default_enforcement_action": "block"}}"#,
        ),
        (
            "get_intent_token_400_denied_tools",
            400,
            r#"{"message": "x", "policy_validation": {"denied_tools": ["t"], "denied_reasons": []}}"#,
        ),
        (
            "get_intent_token_400",
            400,
            r#"{"message": "plan invalid"}"#,
        ),
        (
            "get_intent_token_success_false",
            200,
            r#"{"success": false, "message": "nope"}"#,
        ),
    ];
    for (step, status, body) in cases {
        *next.lock().unwrap() = (status, body.into());
        let e = c.get_intent_token(&cap, None, 60.0, None).unwrap_err();
        let w = &t[step]["outcome"];
        assert_eq!(e.sdk_exception(), w["raised"], "{step}");
        assert_eq!(e.message(), w["message"], "{step}");
        if let ArmorIqError::PolicyBlocked {
            enforcement_action,
            reason,
            metadata,
            ..
        } = &e
        {
            assert_eq!(
                enforcement_action.as_deref(),
                w["attrs"]["enforcement_action"].as_str()
            );
            assert_eq!(reason.as_deref(), w["attrs"]["reason"].as_str());
            assert_eq!(**metadata, w["attrs"]["metadata"], "{step}");
        }
    }
    *next.lock().unwrap() = (200, "not json".into());
    let e = c.get_intent_token(&cap, None, 60.0, None).unwrap_err();
    assert_eq!(e.sdk_exception(), "InvalidTokenException");
    assert!(
        e.message().starts_with("Failed to get intent token: "),
        "{e}"
    );

    *next.lock().unwrap() = (404, r#"{"message": "no such member"}"#.into());
    let e = c.resolve_user("bob@example.com").unwrap_err();
    assert_eq!(e.message(), t["resolve_user_404"]["outcome"]["message"]);
    *next.lock().unwrap() = (401, r#"{"message": "bad key"}"#.into());
    let e = c.bootstrap().unwrap_err();
    assert_eq!(e.message(), t["bootstrap_401"]["outcome"]["message"]);
    assert_eq!(e.sdk_exception(), "ConfigurationException");
    // A refusal is not cached: the next success is fetched.
    *next.lock().unwrap() = (200, r#"{"agentId":"a"}"#.into());
    assert_eq!(c.bootstrap().unwrap()["agentId"], "a");
}
