//! What the client test files share: the stack (`armoriq serve` and a real
//! MCP server, started in ONE place: [`stack::Stack::start`]), the mock HTTP
//! server and transcript helpers of the wire tests, and small token helpers.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod stack;
pub mod wire;

#[allow(unused_imports)]
pub use stack::Stack;
#[allow(unused_imports)]
pub use wire::*;

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

pub const BIN: &str = env!("CARGO_BIN_EXE_armoriq");
pub const MCP: &str = "weather-mcp";

pub fn vectors(name: &str) -> Value {
    let p = format!(
        "{}/../../../shared/vectors/armoriq/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{p}: {e}")))
        .unwrap()
}

pub fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("armoriq-{tag}-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A token that was never minted (for calls that fail before the proxy).
pub fn dummy_token(cap: &armoriq_client::PlanCapture) -> armoriq_client::IntentToken {
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
pub fn flip_sig(jwt: &str) -> String {
    let i = jwt.rfind('.').unwrap() + 20;
    let c = if &jwt[i..=i] == "A" { "B" } else { "A" };
    format!("{}{c}{}", &jwt[..i], &jwt[i + 1..])
}

pub fn weather_plan(city: &str) -> Value {
    json!({"goal": "Weather", "steps": [
        {"action": "get_weather", "mcp": MCP, "params": {"city": city, "units": "metric"}},
        {"action": "fail", "mcp": MCP, "params": {"message": "boom"}}
    ]})
}

pub fn text_of(r: &Value) -> String {
    r["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

pub fn run_py(py: &Path, home: &Path, code: &str) -> String {
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
