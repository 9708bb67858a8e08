//! The unmodified official TypeScript SDK (`@armoriq/sdk` 0.2.6, installed in
//! `scripts/ts/` by `scripts/setup-ts.sh`) against `armoriq serve` with a real
//! MCP server behind it: the SDK sends the CSRG token object and no JWT.
//! Scenarios: the worked example, a second step of the same plan, a changed
//! parameter (409), a forged token and a token under a foreign key (401),
//! proof headers of another step or bent (409), another plan's token (401),
//! `delegate` and the delegate's invoke (inside: success; outside: 409).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{create_key, free_port, python, spawn_serve, start_mcp};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;

const MCP: &str = "weather-mcp";

fn ts_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../scripts/ts"))
}

/// Whether the SDK is installed (and node runs); under `CI=true` its absence
/// fails the test.
fn ts_sdk_ready() -> bool {
    let installed = ts_dir()
        .join("node_modules/@armoriq/sdk/package.json")
        .exists();
    let node = Command::new("node").arg("--version").output().is_ok();
    if installed && node {
        return true;
    }
    let reason = if node {
        "scripts/ts/node_modules is missing: run `bash scripts/setup-ts.sh`"
    } else {
        "node is not installed"
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "TypeScript SDK interop cannot run under CI=true: {reason}"
    );
    println!("SKIPPED: {reason}");
    false
}

#[test]
fn official_typescript_sdk_against_the_gateway() {
    if !ts_sdk_ready() {
        return;
    }
    let Some(py) = python() else {
        println!("SKIPPED: no Python for the MCP server");
        return;
    };
    let dir = std::env::temp_dir().join(format!("armoriq-ts-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mcp_port = free_port();
    let _mcp = start_mcp(&py, MCP, mcp_port);
    let yaml = format!(
        "version: v1\nidentity:\n  api_key: $ARMORIQ_API_KEY\n  user_id: default\n  agent_id: weather-agent\n\
         environment: sandbox\nmcp_servers:\n- id: {MCP}\n  url: http://127.0.0.1:{mcp_port}/mcp\n  auth: none\n\
         policy:\n  allow: []\n  deny:\n  - {MCP}.delete_records\n"
    );
    std::fs::write(dir.join("armoriq.yaml"), yaml).unwrap();
    let state = dir.join("state");
    let key = create_key(&state, false);
    let (_gw, backend, proxy) = spawn_serve(&state, &dir.join("armoriq.yaml"));
    let out = Command::new("node")
        .arg(ts_dir().join("ts_scenarios.js"))
        .current_dir(ts_dir())
        .env("ARMORIQ_API_KEY", &key)
        .env("ARMORIQ_ENV", "development")
        .env("BACKEND_ENDPOINT", format!("http://127.0.0.1:{backend}"))
        .env("PROXY_ENDPOINT", format!("http://127.0.0.1:{proxy}"))
        .env("IAP_ENDPOINT", format!("http://127.0.0.1:{backend}"))
        .env("USER_ID", "alice@example.com")
        .env("AGENT_ID", "weather-agent")
        .output()
        .unwrap();
    let v = common::scenario_result(&out, "the TypeScript SDK's scenarios");
    let _ = std::fs::remove_dir_all(&dir);

    assert_eq!(v["minted"]["step_proofs"], 2, "{v}");
    let ok = &v["worked_example"];
    assert_eq!(ok["exception"], Value::Null, "{v}");
    assert_eq!(ok["status"], "success", "{v}");
    assert_eq!(
        ok["text"], "Weather in Boston: 21 degrees metric, clear",
        "{v}"
    );
    let second = &v["second_step"];
    assert_eq!(second["exception"], Value::Null, "{v}");
    assert_eq!(
        second["text"], "sent to team@example.com: Weather in Boston",
        "{v}"
    );
    assert_eq!(
        v["delegated"]["allowed"],
        serde_json::json!(["get_weather"]),
        "{v}"
    );
    assert!(
        v["delegated"]["expires_at"].as_f64().unwrap()
            <= v["delegated"]["parent_expires_at"].as_f64().unwrap() + 1.0,
        "{v}"
    );
    assert_eq!(v["delegate_invoke"]["exception"], Value::Null, "{v}");
    assert_eq!(v["delegate_invoke"]["status"], "success", "{v}");
    // The TypeScript SDK turns every refusal into MCPInvocationException
    // carrying the status.
    for (name, status) in [
        ("changed_param", "409"),
        ("forged_token", "401"),
        ("foreign_key", "401"),
        ("swapped_proof", "409"),
        ("bent_proof", "409"),
        ("other_plans_token", "401"),
        ("delegate_outside", "409"),
    ] {
        let r = &v[name];
        assert_eq!(r["exception"], "MCPInvocationException", "{name}: {v}");
        assert!(
            r["message"]
                .as_str()
                .unwrap()
                .contains(&format!("HTTP {status}")),
            "{name}: {v}"
        );
    }
}
