//! The unmodified official Python SDK 0.8.17, method by method beyond the
//! worked example (`scripts/py/sdk_methods.py`), against `armoriq serve` with
//! a real MCP server (`scripts/py/mcp_test_server.py`) behind it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{Proc, create_key, free_port, python, script, spawn_serve, start_mcp};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const MCP: &str = "weather-mcp";

/// A gateway with the MCP test server behind it, and the Python to drive it.
struct Setup {
    py: PathBuf,
    dir: PathBuf,
    key: String,
    backend: u16,
    proxy: u16,
    _mcp: Proc,
    _gw: Proc,
}

impl Setup {
    fn new(policy_json: Option<&str>) -> Option<Self> {
        let py = python()?;
        let dir = std::env::temp_dir().join(format!("armoriq-methods-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let mcp_port = free_port();
        let mcp = start_mcp(&py, MCP, mcp_port);
        let yaml = format!(
            "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
             environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n\
             policy:\n  allow: []\n  deny:\n  - {MCP}.delete_records\n"
        );
        std::fs::write(dir.join("armoriq.yaml"), yaml).unwrap();
        if let Some(p) = policy_json {
            std::fs::write(dir.join("policy.json"), p).unwrap();
        }
        let state = dir.join("state");
        let key = create_key(&state, false);
        let (gw, backend, proxy) = spawn_serve(&state, &dir.join("armoriq.yaml"));
        Some(Self {
            py,
            dir,
            key,
            backend,
            proxy,
            _mcp: mcp,
            _gw: gw,
        })
    }

    fn scenario(&self, name: &str) -> Value {
        let out = Command::new(&self.py)
            .arg("-W")
            .arg("ignore")
            .arg(script("sdk_methods.py"))
            .arg(name)
            .env("ARMORIQ_API_KEY", &self.key)
            .env(
                "ARMORIQ_BACKEND_URL",
                format!("http://127.0.0.1:{}", self.backend),
            )
            .env("PROXY_ENDPOINT", format!("http://127.0.0.1:{}", self.proxy))
            .env("ARMORIQ_STATE_DIR", self.dir.join("state"))
            .env("ARMORIQ_BIN", common::ARMORIQ)
            .env("OTEL_SDK_DISABLED", "true")
            .env("ARMORIQ_OBSERVABILITY", "off")
            .output()
            .unwrap();
        common::scenario_result(&out, &format!("scenario {name}"))
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn list_mcps_and_tool_schemas_from_the_real_server() {
    let Some(s) = Setup::new(None) else { return };
    let v = s.scenario("catalogue");
    let servers = v["servers"].as_array().unwrap();
    assert_eq!(servers.len(), 1, "{v}");
    assert_eq!(servers[0]["id"], MCP);
    let tools = v["tools"].as_array().unwrap();
    // Every tool of scripts/py/mcp_test_server.py, as OpenAI functions.
    let mut names: Vec<&str> = tools
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "delete_records",
            "fail",
            "get_weather",
            "send_email",
            "send_payment",
            "slow"
        ],
        "{v}"
    );
    let weather = tools
        .iter()
        .find(|t| t["function"]["name"] == "get_weather")
        .unwrap();
    assert_eq!(weather["type"], "function");
    assert_eq!(
        weather["function"]["description"],
        "Current weather for a city."
    );
    assert_eq!(weather["function"]["parameters"]["type"], "object");
    assert!(weather["function"]["parameters"]["properties"]["city"].is_object());
    assert_eq!(v["unknown"]["exception"], "MCPInvocationException", "{v}");
    assert!(
        v["unknown"]["message"].as_str().unwrap().contains("404"),
        "{v}"
    );
    assert_eq!(v["metadata_mcp"], MCP, "{v}");
}

const POLICY: &str = include_str!("data/policy.json");

#[test]
fn refine_evaluates_tool_calls_against_the_policy_fail_closed() {
    let Some(s) = Setup::new(Some(POLICY)) else {
        return;
    };
    let v = s.scenario("preflight");
    let ok = &v["allow"];
    assert_eq!(ok["exception"], Value::Null, "{v}");
    assert_eq!(ok["value"]["decision"], "allow", "{v}");
    assert_eq!(ok["value"]["violations"], serde_json::json!([]), "{v}");
    let hold = &v["hold"]["value"];
    assert_eq!(hold["decision"], "hold", "{v}");
    assert_eq!(
        hold["offending_interfaces"],
        serde_json::json!(["weather-mcp.send_payment"]),
        "{v}"
    );
    assert_eq!(hold["violations"][0]["index"], 1, "{v}");
    let block = &v["block"]["value"];
    assert_eq!(block["decision"], "block", "{v}");
    let verdicts: Vec<&str> = block["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["verdict"].as_str().unwrap())
        .collect();
    assert_eq!(verdicts, ["hold", "block", "block"], "{v}");
    assert_eq!(
        block["offending_interfaces"],
        serde_json::json!(["weather-mcp.send_payment", "weather-mcp.delete_records"]),
        "{v}"
    );
    assert_eq!(v["unknown_mcp"]["value"]["decision"], "block", "{v}");
    for bad in ["no_calls", "bad_call"] {
        assert_eq!(v[bad]["exception"], "ArmorIQException", "{bad}: {v}");
        assert!(
            v[bad]["message"].as_str().unwrap().contains("HTTP 400"),
            "{bad}: {v}"
        );
    }
}

fn exc(v: &Value) -> &str {
    v["exception"].as_str().unwrap_or("none")
}

#[test]
fn delegate_invokes_within_the_delegation_and_revoke_cascades() {
    let Some(s) = Setup::new(None) else { return };
    let v = s.scenario("delegate");
    assert_eq!(v["verify_token"], true, "{v}");
    assert_eq!(v["delegated_plan_id"], v["parent_plan_id"], "{v}");
    assert!(
        v["delegated_expires_at"].as_f64().unwrap()
            <= v["parent_expires_at"].as_f64().unwrap() + 1.0,
        "{v}"
    );
    let raw = &v["raw"];
    assert_eq!(
        raw["allowed_operations"],
        serde_json::json!(["get_weather"])
    );
    assert_eq!(
        raw["identity"]["delegate_public_key"],
        "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    );
    assert_eq!(v["allowed"]["exception"], Value::Null, "{v}");
    assert_eq!(v["allowed"]["value"], "success", "{v}");
    assert_eq!(exc(&v["other_action"]), "IntentMismatchException", "{v}");
    assert_eq!(exc(&v["other_agent"]), "IntentMismatchException", "{v}");
    assert_eq!(exc(&v["not_in_plan"]), "DelegationException", "{v}");
    assert_eq!(exc(&v["bad_key"]), "DelegationException", "{v}");
    assert_eq!(v["self_revoke"]["value"]["revoked"], true, "{v}");
    assert_eq!(exc(&v["after_self_revoke"]), "InvalidTokenException", "{v}");
    assert_eq!(v["parent_after_self_revoke"]["value"], "success", "{v}");
    assert_eq!(v["revoke"]["exception"], Value::Null, "{v}");
    assert_eq!(v["revoke"]["value"]["cascadedRevocations"], 1, "{v}");
    assert_eq!(exc(&v["after_revoke"]), "InvalidTokenException", "{v}");
    assert_eq!(
        exc(&v["parent_after_revoke"]),
        "InvalidTokenException",
        "{v}"
    );
}

#[test]
fn delegate_subtree_proof_verifies_with_the_core_and_bounds_the_child() {
    let Some(s) = Setup::new(None) else { return };
    let v = s.scenario("delegate_subtree");
    let p = &v["payload"];
    let unhex = |h: &Value| -> [u8; 32] {
        hex::decode(h.as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    let node = unhex(&v["subtree_root"]);
    let siblings: Vec<[u8; 32]> = v["inclusion_proof"]
        .as_array()
        .unwrap()
        .iter()
        .map(unhex)
        .collect();
    let root = unhex(&v["merkle_root"]);
    // Steps 2..3 of 4: node 1 of the level with 2 nodes.
    assert_eq!(
        (p["node_index"].as_u64(), p["node_count"].as_u64()),
        (Some(1), Some(2))
    );
    armoriq_core::verify_inclusion(&node, 1, 2, &siblings, &root).unwrap();
    assert!(armoriq_core::verify_inclusion(&node, 0, 2, &siblings, &root).is_err());
    // The node is the root of the tree over steps 2 and 3.
    let plan: Value = serde_json::json!([
        {"action": "get_weather", "mcp": MCP, "params": {"city": "Paris", "units": "metric"}},
        {"action": "send_payment", "mcp": MCP, "params": {"amount": 10, "recipient": "bob"}}
    ]);
    let leaf = |s: &Value| {
        let c = armoriq_common::canonical::canonical_bytes(
            s.to_string().as_bytes(),
            armoriq_core::Profile::ArmorIq,
        )
        .unwrap();
        armoriq_core::leaf_hash(&c)
    };
    assert_eq!(
        armoriq_core::node_hash(&leaf(&plan[0]), &leaf(&plan[1])),
        node
    );
    assert_eq!(p["parent_plan_hash"], v["plan_hash"]);
    assert_eq!(v["sdk_copy_has_envelope"], true);
    assert_eq!(v["inside"]["value"], "success", "{v}");
    assert_eq!(v["inside_pay"]["value"], "success", "{v}");
    assert_eq!(
        exc(&v["outside_same_action"]),
        "IntentMismatchException",
        "{v}"
    );
    assert_eq!(exc(&v["outside_action"]), "IntentMismatchException", "{v}");
    assert_eq!(exc(&v["not_a_node"]), "DelegationException", "{v}");
}

#[test]
fn a_session_whose_plan_grows_twice_in_sdk_and_proxy_modes() {
    let Some(s) = Setup::new(None) else { return };
    for mode in ["session_sdk", "session_proxy"] {
        let v = s.scenario(mode);
        assert_eq!(v["same_token"], true, "{mode}: {v}");
        assert_eq!(v["plan_start"], "reanchored", "{mode}: {v}");
        for k in ["first", "mail", "pay"] {
            assert_eq!(v[k], true, "{mode} {k}: {v}");
        }
        assert_eq!(v["invoke_pay"]["value"], "success", "{mode}: {v}");
        if mode == "session_proxy" {
            assert_eq!(v["dispatch_pay"]["exception"], Value::Null, "{v}");
            assert_eq!(v["dispatch_mail"]["exception"], Value::Null, "{v}");
            assert_eq!(
                exc(&v["dispatch_outside"]),
                "IntentMismatchException",
                "{v}"
            );
        }
    }
}

#[test]
fn a_blocked_reanchor_raises_intent_reanchor_and_keeps_the_plan() {
    let Some(s) = Setup::new(None) else { return };
    let v = s.scenario("reanchor_blocked");
    assert_eq!(exc(&v["blocked"]), "IntentReanchorException", "{v}");
    assert!(
        v["blocked"]["reason"]
            .as_str()
            .unwrap()
            .contains("delete_records"),
        "{v}"
    );
    assert_eq!(v["blocked"]["status_code"], 403, "{v}");
    assert_eq!(v["still_works"]["value"], "success", "{v}");
    assert_eq!(exc(&v["not_added"]), "IntentMismatchException", "{v}");
}

#[test]
fn token_usage_is_stored_idempotently_and_shown_by_armoriq_usage() {
    let Some(s) = Setup::new(None) else { return };
    let v = s.scenario("usage");
    for k in ["first", "again"] {
        assert_eq!(v[k]["ok"], true, "{k}: {v}");
        assert_eq!(v[k]["recorded"], 2, "{k}: {v}");
    }
    assert_eq!(v["zeroed"]["recorded"], 1, "{v}");
    assert_eq!(exc(&v["bad_hour"]), "ValueError", "{v}");
    assert_eq!(v["stream"]["ok"], true, "{v}");
    let status = |k: &str| v[k]["value"]["results"][0]["status"].clone();
    assert_eq!(status("applied"), "applied", "{v}");
    assert_eq!(status("present"), "present", "{v}");
    assert_eq!(status("older"), "superseded", "{v}");
    assert_eq!(v["reset"]["ok"], true, "{v}");
    assert_ne!(
        v["reset"]["value"]["generation"],
        v["stream"]["value"]["generation"]
    );
    assert_eq!(v["stale"]["ok"], false, "{v}");
    assert_eq!(v["stale"]["status"], 409, "{v}");
    assert_eq!(v["run"]["ok"], true, "{v}");
    assert_eq!(v["run"]["value"]["applied"], true, "{v}");

    let out = Command::new(common::ARMORIQ)
        .args(["usage", "--json", "--state-dir"])
        .arg(s.dir.join("state"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // sess-1 hour 21: two models (gpt-4o zeroed, posted twice: one row each);
    // sess-2 hour 22: one model, revision 2.
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0]["session_id"], "sess-2");
    assert_eq!(
        (
            rows[0]["revision"].as_i64(),
            rows[0]["input_tokens"].as_i64()
        ),
        (Some(2), Some(7))
    );
    let sonnet = rows
        .iter()
        .find(|r| r["model"] == "claude-sonnet-4")
        .unwrap();
    assert_eq!(sonnet["input_tokens"], 1200);
    assert_eq!(sonnet["device"], "dev-1");
    assert_eq!(sonnet["repo"], "armoriq-rs");
    let gpt = rows.iter().find(|r| r["model"] == "gpt-4o").unwrap();
    assert_eq!(
        (gpt["input_tokens"].as_i64(), gpt["output_tokens"].as_i64()),
        (Some(0), Some(0))
    );
    let table = Command::new(common::ARMORIQ)
        .args(["usage", "--state-dir"])
        .arg(s.dir.join("state"))
        .output()
        .unwrap();
    let text = String::from_utf8(table.stdout).unwrap();
    assert!(
        text.contains("claude-sonnet-4") && text.contains("sess-2"),
        "{text}"
    );
}

#[test]
fn plan_status_updates_and_session_reports_reach_the_store() {
    use armoriq_gateway::store::{AuditCursor, AuditStore, PlanStatus, PlanStore, SqliteStore};
    let Some(s) = Setup::new(None) else { return };
    let v = s.scenario("plan_lifecycle");
    let store = SqliteStore::open(&s.dir.join("state").join("armoriq.db")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let status = |id: &Value| {
        rt.block_on(store.get_plan(id.as_str().unwrap()))
            .unwrap()
            .unwrap()
            .status
    };
    assert_eq!(status(&v["completed"]), PlanStatus::Completed, "{v}");
    assert_eq!(status(&v["failed"]), PlanStatus::Failed, "{v}");
    let rows = rt
        .block_on(store.audit_page(AuditCursor::START, 1000))
        .unwrap()
        .rows;
    // The SDK sends the plan id only when it is a canonical UUID (its
    // redaction), which `plan_<uuid>` is not: the row names step and tool.
    assert!(
        rows.iter().any(|r| r.route == "report"
            && r.outcome == "reported_success"
            && r.step == Some(0)
            && r.tool.as_deref() == Some("get_weather")),
        "{rows:?}"
    );
    assert!(v["reported"].is_string());
}

#[test]
fn a_jwt_and_a_csrg_token_of_different_plans_are_refused() {
    let Some(s) = Setup::new(None) else { return };
    let v = s.scenario("mixed_tokens");
    assert_eq!(v["same"]["value"], "success", "{v}");
    assert_eq!(exc(&v["mixed"]), "InvalidTokenException", "{v}");
    assert!(
        v["mixed"]["message"].as_str().unwrap().contains("401") || v["mixed"]["status_code"] == 401,
        "{v}"
    );
}
