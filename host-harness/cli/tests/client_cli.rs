//! The client side of the CLI: init, validate, login, whoami, status, logout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use client_support::*;
use common::python;
use serde_json::{Value, json};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

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
