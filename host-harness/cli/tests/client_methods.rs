//! The Rust client's methods beyond the worked example, against `armoriq
//! serve` with a real MCP server: catalogue, refine, delegate (the delegate
//! invoking, outside calls refused, revoke cascading), delegate_subtree (the
//! node proof verified with the core), reanchor (and a blocked one), usage.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use armoriq_client::{ArmorIqError, Plan};
use client_support::*;
use common::python;
use serde_json::{Value, json};

const DELEGATE_KEY: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

fn plan3() -> Value {
    json!({"goal": "weather, mail", "steps": [
        {"action": "get_weather", "mcp": MCP, "params": {"city": "Boston", "units": "metric"}},
        {"action": "send_email", "mcp": MCP, "params": {"to": "t@example.com", "subject": "s"}},
        {"action": "get_weather", "mcp": MCP, "params": {"city": "Paris", "units": "metric"}},
        {"action": "send_email", "mcp": MCP, "params": {"to": "p@example.com", "subject": "s"}}
    ]})
}

#[tokio::test]
async fn rust_client_methods_against_armoriq_serve() {
    let Some(py) = python() else { return };
    let s = Stack::start(&py);
    let c = s.client();

    // Catalogue.
    let servers = c.list_mcps().await.unwrap();
    assert_eq!(servers[0]["id"], MCP);
    let tools = c.get_mcp_tool_schemas(MCP).await.unwrap();
    assert!(tools.iter().any(|t| t["function"]["name"] == "get_weather"));
    let e = c.get_mcp_tool_schemas("nowhere").await.unwrap_err();
    assert!(
        matches!(
            e,
            ArmorIqError::McpInvocation {
                status: Some(404),
                ..
            }
        ),
        "{e:?}"
    );

    // Preflight.
    let r = c
        .refine(&json!({"agent_id": "a", "tool_calls": [
            {"name": format!("{MCP}__send_payment"), "args": {"amount": 5000, "recipient": "b"}}]}))
        .await
        .unwrap();
    assert_eq!(r["decision"], "hold", "{r}");
    let e = c.refine(&json!({"tool_calls": []})).await.unwrap_err();
    assert!(matches!(e, ArmorIqError::Configuration(_)), "{e:?}");

    // Delegate: the delegate invokes within it; others refused; revoke cascades.
    let plan = plan3();
    let cap = c.capture_plan("gpt-4", "p", Some(&plan), None).unwrap();
    let tok = c.get_intent_token(&cap, None, 300, None).await.unwrap();
    let allowed = vec!["get_weather".to_owned()];
    let d = c
        .delegate(
            &tok,
            DELEGATE_KEY,
            60,
            Some(&allowed),
            Some("weather-agent"),
            None,
        )
        .await
        .unwrap();
    assert!(d.expires_at <= tok.expires_at);
    let dt = &d.delegated_token;
    assert!(dt.jwt_token.is_none());
    let paris = json!({"city": "Paris", "units": "metric"});
    let r = c
        .invoke(MCP, "get_weather", dt, Some(&paris), None)
        .await
        .unwrap();
    assert_eq!(
        text_of(&r.result),
        "Weather in Paris: 21 degrees metric, clear"
    );
    let e = c
        .invoke(
            MCP,
            "send_email",
            dt,
            Some(&json!({"to": "t@example.com", "subject": "s"})),
            None,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::IntentMismatch { .. }), "{e:?}");
    let e = c
        .delegate(&tok, "nothex", 60, None, None, None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ArmorIqError::Delegation {
                status: Some(400),
                ..
            }
        ),
        "{e:?}"
    );

    // Subtree: steps 2..3 of 4, node 1 of 2; verified with the core.
    let st = c
        .delegate_subtree(
            &tok,
            DELEGATE_KEY,
            "/steps/[2..3]",
            60,
            Some(&cap.plan),
            None,
            None,
        )
        .await
        .unwrap();
    let unhex = |v: &Value| -> [u8; 32] {
        hex::decode(v.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let node = unhex(&st["subtree_root"]);
    let sib: Vec<[u8; 32]> = st["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex)
        .collect();
    let root = unhex(&json!(tok.raw_token.merkle_root.clone().unwrap()));
    armoriq_core::verify_inclusion(&node, 1, 2, &sib, &root).unwrap();

    // Revoke the parent: the delegation goes with it.
    let rv = c.revoke(&tok, "done", true, None, None).await.unwrap();
    assert_eq!(rv["cascadedRevocations"], 2, "{rv}");
    let e = c
        .invoke(MCP, "get_weather", dt, Some(&paris), None)
        .await
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::InvalidToken(_)), "{e:?}");

    // Re-anchor: the grown plan's new step works with the same token.
    let small = weather_plan("Oslo");
    let cap = c.capture_plan("gpt-4", "p", Some(&small), None).unwrap();
    let tok = c.get_intent_token(&cap, None, 300, None).await.unwrap();
    let mut grown = small.clone();
    grown["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"action": "send_email", "mcp": MCP, "params": {"to": "o@example.com", "subject": "s"}}));
    let ra = c
        .reanchor(
            &tok,
            &Plan::from_value(&grown).unwrap(),
            Some("plan grew"),
            None,
            None,
        )
        .await
        .unwrap();
    assert_ne!(ra["plan_hash"], json!(tok.plan_hash));
    let r = c
        .invoke(
            MCP,
            "send_email",
            &tok,
            Some(&json!({"to": "o@example.com", "subject": "s"})),
            None,
        )
        .await
        .unwrap();
    assert_eq!(r.status, "success");
    let mut blocked = grown.clone();
    blocked["steps"]
        .as_array_mut()
        .unwrap()
        .push(json!({"action": "delete_records", "mcp": MCP, "params": {"table": "t"}}));
    let e = c
        .reanchor(&tok, &Plan::from_value(&blocked).unwrap(), None, None, None)
        .await
        .unwrap_err();
    match &e {
        ArmorIqError::IntentReanchor { status, reason, .. } => {
            assert_eq!(*status, Some(403));
            assert!(
                reason.as_deref().unwrap().contains("delete_records"),
                "{e:?}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Usage.
    let entries = [json!({"model": "m1", "inputTokens": 3, "outputTokens": 4,
                          "cacheReadTokens": 0, "cacheWriteTokens": 0})];
    for _ in 0..2 {
        let u = c
            .record_token_usage(
                "p",
                "s1",
                &entries,
                "2026-12-02",
                5,
                None,
                Some("d"),
                None,
                None,
            )
            .await
            .unwrap();
        assert_eq!(
            (u["ok"].as_bool(), u["recorded"].as_u64()),
            (Some(true), Some(1)),
            "{u}"
        );
    }
    let e = c
        .record_token_usage("p", "s1", &entries, "2026-02-30", 5, None, None, None, None)
        .await
        .unwrap_err();
    assert!(matches!(e, ArmorIqError::InvalidInput(_)), "{e:?}");
    let g = c.initialize_usage_stream().await;
    let generation = g["value"]["generation"].as_str().unwrap().to_owned();
    let b = c
        .record_token_usage_batch(&json!({"generation": generation,
            "batchId": uuid::Uuid::new_v4().to_string(), "snapshots": [
            {"sessionId": "s2", "revision": 1, "usageDate": "2026-12-02", "usageHour": 6,
             "product": "p", "entries": entries}]}))
        .await;
    assert_eq!(b["value"]["results"][0]["status"], "applied", "{b}");
    let run = c
        .report_usage_run(
            &uuid::Uuid::new_v4().to_string(),
            &json!({"status": "done"}),
        )
        .await;
    assert_eq!(run["ok"], true, "{run}");
}

#[test]
fn the_blocking_facade_has_the_same_methods() {
    let Some(py) = python() else { return };
    let s = Stack::start(&py);
    let c = armoriq_client::blocking::ArmorIQClient::new(s.options()).unwrap();
    assert_eq!(c.list_mcps().unwrap()[0]["id"], MCP);
    assert!(!c.get_mcp_tool_schemas(MCP).unwrap().is_empty());
    assert_eq!(
        c.refine(&json!({"tool_calls": [{"name": format!("{MCP}__get_weather"), "args": {}}]}))
            .unwrap()["decision"],
        "allow"
    );
    let plan = weather_plan("Rome");
    let cap = c.capture_plan("gpt-4", "p", Some(&plan), None).unwrap();
    let tok = c.get_intent_token(&cap, None, 300, None).unwrap();
    let d = c
        .delegate(&tok, DELEGATE_KEY, 60, None, None, None)
        .unwrap();
    let r = c
        .invoke(
            MCP,
            "get_weather",
            &d.delegated_token,
            Some(&json!({"city": "Rome", "units": "metric"})),
            None,
        )
        .unwrap();
    assert_eq!(r.status, "success");
    let mut bad = plan.clone();
    bad["steps"][1] = json!({"action": "delete_records", "mcp": MCP, "params": {"table": "t"}});
    let e = c
        .reanchor(&tok, &Plan::from_value(&bad).unwrap(), None, None, None)
        .unwrap_err();
    assert_eq!(e.sdk_exception(), "IntentReanchorException");
    let u = c
        .record_token_usage(
            "p",
            "s",
            &[json!({"model": "m", "inputTokens": 1})],
            "2026-12-02",
            1,
            None,
            None,
            None,
            None,
        )
        .unwrap();
    assert_eq!(u["recorded"], 1, "{u}");
}
