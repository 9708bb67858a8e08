//! Wire compatibility: the requests the client sends, captured by a tiny
//! HTTP server, against the official SDK's requests in
//! `vectors/armoriq/http_transcript.json`; error mapping, retries, refusals.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use armoriq_client::{ArmorIQClient, ArmorIqError, SessionOptions, ToolCall, http::Backoff};
use client_support::*;
use common::free_port;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test]
async fn requests_match_the_official_sdk() {
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
    c.bootstrap().await.unwrap();
    c.bootstrap().await.unwrap();
    c.resolve_user("alice@example.com").await.unwrap();
    c.resolve_user(" ALICE@example.com").await.unwrap();
    let seen = m.take();
    assert_eq!(seen.len(), 2);
    // The cache lives for the TTL only.
    let short = base()
        .user_context_ttl(Duration::from_millis(50))
        .build()
        .unwrap();
    short.resolve_user("bob@example.com").await.unwrap();
    short.resolve_user("bob@example.com").await.unwrap();
    std::thread::sleep(Duration::from_millis(80));
    short.resolve_user("bob@example.com").await.unwrap();
    short.invalidate_user("BOB@example.com");
    short.resolve_user("bob@example.com").await.unwrap();
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
        .await
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
        .await
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
    let _ = c3.invoke("Stripe", "create_refund", &tok, None, None).await;
    same_request(
        &m.take()[0],
        &future_body(&t["invoke_409"]["requests"][0]),
        &fixed,
        false,
    );

    // revoke: Bearer only (no X-API-Key), the CSRG token object, cascade.
    c.revoke(&tok, "user cancelled", true, None, None)
        .await
        .unwrap();
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
    sess.start_plan(&calls, Some("refund")).await.unwrap();
    sess.start_plan(&calls, Some("refund")).await.unwrap();
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
        .await
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
    )
    .await;
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

#[tokio::test]
async fn error_mapping_and_retries_match_the_official_sdk() {
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
    match c
        .get_intent_token(&cap, None, 60.0, None)
        .await
        .unwrap_err()
    {
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
    let e = c3.get_intent_token(&cap, None, 60, None).await.unwrap_err();
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
        .await
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

/// Mint, bootstrap and resolve-user refusals: the recorded mock answers give
/// the official SDK's exception and message.
#[tokio::test]
async fn mint_and_setup_refusals_match_the_official_sdk() {
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
        let e = c
            .get_intent_token(&cap, None, 60.0, None)
            .await
            .unwrap_err();
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
    let e = c
        .get_intent_token(&cap, None, 60.0, None)
        .await
        .unwrap_err();
    assert_eq!(e.sdk_exception(), "InvalidTokenException");
    assert!(
        e.message().starts_with("Failed to get intent token: "),
        "{e}"
    );

    *next.lock().unwrap() = (404, r#"{"message": "no such member"}"#.into());
    let e = c.resolve_user("bob@example.com").await.unwrap_err();
    assert_eq!(e.message(), t["resolve_user_404"]["outcome"]["message"]);
    *next.lock().unwrap() = (401, r#"{"message": "bad key"}"#.into());
    let e = c.bootstrap().await.unwrap_err();
    assert_eq!(e.message(), t["bootstrap_401"]["outcome"]["message"]);
    assert_eq!(e.sdk_exception(), "ConfigurationException");
    // A refusal is not cached: the next success is fetched.
    *next.lock().unwrap() = (200, r#"{"agentId":"a"}"#.into());
    assert_eq!(c.bootstrap().await.unwrap()["agentId"], "a");
}
