//! End to end over loopback against `armoriq serve` with a real MCP server
//! (the official `mcp` Python SDK), through the async client: the worked
//! example, every refusal, a session, hold → approve → success; and once
//! through the blocking facade.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use armoriq_client::{
    ArmorIQClient, ArmorIqError, InvokeOptions, PollSettings, SessionMode, SessionOptions, ToolCall,
};
use client_support::*;
use common::python;
use serde_json::{Value, json};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[tokio::test]
async fn end_to_end_against_armoriq_serve() {
    let Some(py) = python() else { return };
    let s = Stack::start(&py);
    let c = s.client();

    // 1. The worked example: capture, token, invoke get_weather.
    let plan = weather_plan("Paris");
    let cap = c
        .capture_plan("gpt-4", "weather in Paris", Some(&plan), None)
        .unwrap();
    let tok = c.get_intent_token(&cap, None, 300, None).await.unwrap();
    assert_eq!(tok.total_steps, 2);
    assert!(tok.jwt_token.is_some() && tok.plan_id.is_some());
    let params = json!({"city": "Paris", "units": "metric"});
    let r = c
        .invoke(MCP, "get_weather", &tok, Some(&params), None)
        .await
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
        .await
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
        .await
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::IntentMismatch { .. }), "{e:?}");

    // 4. A denied tool: PolicyBlocked at mint, with the gateway's reason.
    let bad =
        json!({"steps": [{"action": "delete_records", "mcp": MCP, "params": {"table": "users"}}]});
    let cap_bad = c.capture_plan("gpt-4", "drop", Some(&bad), None).unwrap();
    match c
        .get_intent_token(&cap_bad, None, 300, None)
        .await
        .unwrap_err()
    {
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
    let short = c.get_intent_token(&cap, None, 1, None).await.unwrap();
    std::thread::sleep(Duration::from_millis(2100));
    let e = c
        .invoke(MCP, "get_weather", &short, Some(&params), None)
        .await
        .unwrap_err();
    match &e {
        ArmorIqError::TokenExpired { token_id, .. } => assert_eq!(token_id, &short.token_id),
        other => panic!("{other:?}"),
    }

    // 6. A tool that fails: MCPInvocation with the status.
    let e = c
        .invoke(MCP, "fail", &tok, Some(&json!({"message": "boom"})), None)
        .await
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
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(m) if m.contains("plan substituted")),
        "{e:?}"
    );
    let mut forged = tok.clone();
    forged.jwt_token = Some(flip_sig(&forged.jwt_token.clone().unwrap()));
    let e = c
        .invoke(MCP, "get_weather", &forged, Some(&params), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(m) if m.contains("jwt_token")),
        "{e:?}"
    );

    // 8. Session, sdk mode: a planned tool is allowed, an unplanned one blocked.
    let scope = c.for_user("Alice@Example.com ");
    assert_eq!(scope.resolve().await.unwrap()["email"], "alice@example.com");
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
    let t1 = sess.start_plan(&calls, Some("weather")).await.unwrap();
    assert_eq!(sess.last_plan_start(), Some("minted"));
    let t2 = sess.start_plan(&calls, Some("weather")).await.unwrap();
    assert_eq!(sess.last_plan_start(), Some("unchanged"));
    assert_eq!(t1.plan_id, t2.plan_id);
    let ok = sess
        .check(
            &format!("{MCP}__get_weather"),
            &json!({"city": "Paris", "units": "metric"}),
            None,
        )
        .await
        .unwrap();
    assert!(ok.allowed && ok.action == "allow", "{ok:?}");
    let no = sess
        .check(&format!("{MCP}__send_email"), &json!({"to": "x"}), None)
        .await
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
    )
    .await;
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
        .await
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
        .await
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
        .await
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
        sess.start_plan(&calls, Some("pay and look")).await.unwrap();
        let ok = sess
            .check(&format!("{MCP}__get_weather"), &params, None)
            .await
            .unwrap();
        assert!(ok.allowed, "{mode:?}: {ok:?}");
        let held = sess.check(&pay_call, &pay, None).await.unwrap();
        assert_eq!(held.action, "hold", "{mode:?}: {held:?}");
        let id = held
            .delegation_id
            .clone()
            .unwrap_or_else(|| panic!("{mode:?}: {held:?}"));
        approve(&id);
        let after = sess.check(&pay_call, &pay, None).await.unwrap();
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
            .await
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
        .await
        .unwrap();
    let d = local
        .check(&format!("{MCP}__get_weather"), &params, None)
        .await
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
        .await
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
        let d = local.check(&tool, &args, None).await.unwrap();
        assert_eq!(
            (d.allowed, d.reason.as_deref()),
            (allowed, Some(reason.as_str())),
            "{d:?}"
        );
        assert_eq!(d.policy_id.as_deref(), Some("pol-weather-agent"));
    }
    let d = local
        .check(&pay_call, &pay_small, Some("mallory@example.com"))
        .await
        .unwrap();
    assert!(!d.allowed && d.action == "block", "{d:?}");
    let d = local
        .check(&format!("{MCP}__send_email"), &json!({}), None)
        .await
        .unwrap();
    assert!(
        d.reason.as_deref().unwrap().starts_with("tool-not-in-plan"),
        "{d:?}"
    );

    // 9c. Revocation: the plan's token stops working at the proxy.
    let rcap = c
        .capture_plan("gpt-4", "weather", Some(&weather_plan("Rome")), None)
        .unwrap();
    let rtok = c.get_intent_token(&rcap, None, 300, None).await.unwrap();
    let rparams = json!({"city": "Rome", "units": "metric"});
    assert!(
        c.invoke(MCP, "get_weather", &rtok, Some(&rparams), None)
            .await
            .is_ok()
    );
    let v = c
        .revoke(&rtok, "user cancelled", true, None, None)
        .await
        .unwrap();
    assert_eq!(v["success"], true, "{v}");
    let e = c
        .invoke(MCP, "get_weather", &rtok, Some(&rparams), None)
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(m) if m.contains("revoked")),
        "{e:?}"
    );
    let mut gone = rtok.clone();
    gone.plan_id = Some("plan_nope".into());
    match c.revoke(&gone, "x", true, None, None).await.unwrap_err() {
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
            "weather_blocking",
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
            eprintln!(
                "skipping example {ex}: not built (`cargo build -p armoriq-client --examples` builds it)"
            );
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

/// The worked example once through the blocking facade
/// (`armoriq_client::blocking`): no runtime in the test, the same answers.
#[test]
fn worked_example_through_the_blocking_facade() {
    let Some(py) = python() else { return };
    let s = Stack::start(&py);
    let c = armoriq_client::blocking::ArmorIQClient::new(s.options()).unwrap();
    let plan = weather_plan("Paris");
    let cap = c
        .capture_plan("gpt-4", "weather in Paris", Some(&plan), None)
        .unwrap();
    let tok = c.get_intent_token(&cap, None, 300, None).unwrap();
    assert_eq!(tok.total_steps, 2);
    let params = json!({"city": "Paris", "units": "metric"});
    let r = c
        .invoke(MCP, "get_weather", &tok, Some(&params), None)
        .unwrap();
    assert_eq!(
        text_of(&r.result),
        "Weather in Paris: 21 degrees metric, clear"
    );
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
    let mut session = c
        .for_user("alice@example.com")
        .start_session(SessionOptions {
            mode: SessionMode::Sdk,
            ..SessionOptions::default()
        });
    let call = ToolCall::new(format!("{MCP}__get_weather"), params.clone()).unwrap();
    session.start_plan(&[call], Some("weather")).unwrap();
    let d = session
        .check(&format!("{MCP}__get_weather"), &params, None)
        .unwrap();
    assert!(d.allowed, "{d:?}");
}
