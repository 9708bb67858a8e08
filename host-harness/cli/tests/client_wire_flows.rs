//! Wire compatibility of the invoke answers and of the hold flows
//! (`invoke_with_policy(wait_for_approval)`, a session hold).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use armoriq_client::{
    ArmorIQClient, ArmorIqError, InvokeOptions, PollSettings, SessionOptions, ToolCall,
};
use client_support::*;
use serde_json::{Value, json};

use std::sync::{Arc, Mutex};
use std::time::Duration;

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
#[tokio::test]
async fn hold_flows_send_the_official_requests() {
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
    let tok = c.get_intent_token(&cap, None, 60.0, None).await.unwrap();
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
        .await
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
    sess.start_plan(&calls, Some("refund")).await.unwrap();
    m.take();
    let d = sess
        .check(
            "Stripe__create_refund",
            &json!({"amount": 5}),
            Some("alice@example.com"),
        )
        .await
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
