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
        let stdout = String::from_utf8_lossy(&out.stdout);
        let last = stdout.lines().last().unwrap_or_default();
        let v: Value = serde_json::from_str(last).unwrap_or_else(|_| {
            panic!(
                "scenario {name}: no JSON result\nstdout: {stdout}\nstderr: {}",
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
