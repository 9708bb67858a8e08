//! `armoriq.yaml`: read with the gateway's loader (the official layout and
//! strictness), turned into client options as `ArmorIQClient.from_config`
//! does, written back in the layout `yaml.safe_dump(sort_keys=False)` gives,
//! and MCP discovery (`initialize` + `tools/list`) as `armoriq init` /
//! `validate` probe servers.

use crate::error::{ArmorIqError, Result};
use crate::{ClientOptions, plan::json_str};
use armoriq_common::yaml::{ArmorIqYaml, McpAuth};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// Client options from `armoriq.yaml`: `identity.*`, `proxy.url` / `timeout`
/// / `max_retries`, `use_production = (environment == "production")`.
///
/// # Errors
/// `Configuration` for a missing or invalid file, or an empty key.
pub fn options_from_config(path: &Path) -> Result<ClientOptions> {
    if !path.exists() {
        return Err(ArmorIqError::Configuration(format!(
            "Config file not found: {}",
            path.display()
        )));
    }
    let cfg = ArmorIqYaml::load(path).map_err(ArmorIqError::Configuration)?;
    let key = resolve_key(&cfg.identity.api_key);
    if key.is_empty() {
        return Err(ArmorIqError::Configuration(
            "API key resolved to empty value from config/environment.".into(),
        ));
    }
    Ok(ClientOptions {
        api_key: Some(key),
        user_id: Some(cfg.identity.user_id.clone()),
        agent_id: Some(cfg.identity.agent_id.clone()),
        proxy_endpoint: Some(cfg.proxy.url.clone()),
        timeout: Duration::from_secs(u64::try_from(cfg.proxy.timeout).unwrap_or(30).max(1)),
        max_retries: u32::try_from(cfg.proxy.max_retries).unwrap_or(3),
        use_production: cfg.environment == "production",
        ..ClientOptions::default()
    })
}

/// The identity's API key with `$VAR` references resolved: the one
/// resolver, [`resolve_env`] (the official SDK's `resolve_env_reference`).
pub use armoriq_common::yaml::resolve_env as resolve_key;

/// The YAML `armoriq init` writes for `cfg` (the official layout: keys in
/// model order, block style, PyYAML's quoting of ambiguous scalars).
pub fn to_yaml(cfg: &ArmorIqYaml) -> String {
    let mut o = String::new();
    o.push_str(&format!("version: {}\n", scalar(&cfg.version)));
    o.push_str("identity:\n");
    o.push_str(&format!("  api_key: {}\n", scalar(&cfg.identity.api_key)));
    o.push_str(&format!("  user_id: {}\n", scalar(&cfg.identity.user_id)));
    o.push_str(&format!("  agent_id: {}\n", scalar(&cfg.identity.agent_id)));
    o.push_str(&format!("environment: {}\n", scalar(&cfg.environment)));
    o.push_str("proxy:\n");
    o.push_str(&format!("  url: {}\n", scalar(&cfg.proxy.url)));
    o.push_str(&format!("  timeout: {}\n", cfg.proxy.timeout));
    o.push_str(&format!("  max_retries: {}\n", cfg.proxy.max_retries));
    if cfg.mcp_servers.is_empty() {
        o.push_str("mcp_servers: []\n");
    } else {
        o.push_str("mcp_servers:\n");
        for s in &cfg.mcp_servers {
            o.push_str(&format!("- id: {}\n", scalar(&s.id)));
            o.push_str(&format!("  url: {}\n", scalar(&s.url)));
            match &s.auth {
                McpAuth::None => o.push_str("  auth: none\n"),
                McpAuth::Bearer(t) => {
                    o.push_str(&format!(
                        "  auth:\n    type: bearer\n    token: {}\n",
                        scalar(t)
                    ));
                }
                McpAuth::ApiKey(k) => {
                    o.push_str(&format!(
                        "  auth:\n    type: api_key\n    api_key: {}\n",
                        scalar(k)
                    ));
                }
            }
            if let Some(d) = s.description.as_deref().filter(|d| !d.is_empty()) {
                o.push_str(&format!("  description: {}\n", scalar(d)));
            }
        }
    }
    o.push_str("policy:\n");
    for (name, list) in [("allow", &cfg.policy.allow), ("deny", &cfg.policy.deny)] {
        if list.is_empty() {
            o.push_str(&format!("  {name}: []\n"));
        } else {
            o.push_str(&format!("  {name}:\n"));
            for r in list {
                o.push_str(&format!("  - {}\n", scalar(r)));
            }
        }
    }
    o.push_str("intent:\n");
    o.push_str(&format!("  ttl_seconds: {}\n", cfg.intent.ttl_seconds));
    o.push_str(&format!("  require_csrg: {}\n", cfg.intent.require_csrg));
    o
}

/// A string scalar: plain when PyYAML would write it plain, else quoted.
fn scalar(s: &str) -> String {
    if !s.is_ascii() || s.chars().any(|c| c.is_control()) {
        // Double-quoted with JSON escapes (valid YAML).
        return json_str(s)
            .chars()
            .flat_map(|c| {
                if c.is_ascii() {
                    vec![c]
                } else {
                    let mut b = [0u16; 2];
                    c.encode_utf16(&mut b)
                        .iter()
                        .flat_map(|u| format!("\\u{u:04x}").chars().collect::<Vec<_>>())
                        .collect()
                }
            })
            .collect();
    }
    if plain_ok(s) {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

fn plain_ok(s: &str) -> bool {
    if s.is_empty() || s.starts_with(' ') || s.ends_with(' ') {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-x`, `?x`, `:x` are plain in PyYAML only when followed by a
        // non-space; keep it simple and quote every indicator start.
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "yes" | "no" | "true" | "false" | "on" | "off" | "null" | "~" | "=" | "<<"
    ) || matches!(
        s,
        ".inf" | ".nan" | ".Inf" | ".NaN" | ".INF" | ".NAN" | "-.inf" | "+.inf"
    ) {
        return false;
    }
    // Anything that could read as a number or a timestamp.
    let body = s.trim_start_matches(['+', '-']);
    let numberish = body
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_digit() || c == '.')
        && body
            .chars()
            .all(|c| c.is_ascii_hexdigit() || "xXoObB_.:+-eE".contains(c));
    !numberish
}

/// What probing an MCP server found.
#[derive(Clone, Debug, Default)]
pub struct Discovery {
    /// Whether `tools/list` answered.
    pub reachable: bool,
    /// Tool names, sorted, unique.
    pub tools: Vec<String>,
    /// Why not, when not.
    pub error: Option<String>,
}

/// `discover_mcp_tools`: JSON-RPC `initialize` (protocol `2024-11-05`,
/// client `ArmorIQ-CLI/1.0.0`) then `tools/list`, following
/// `mcp-session-id`; a URL without a path also tries `/mcp` and `/sse`.
/// HTTPS trusts the system's roots plus the file `ARMORIQ_CA_CERT` names.
pub async fn discover_mcp_tools(url: &str, auth: &McpAuth, timeout: Duration) -> Discovery {
    let unreachable = |error: String| Discovery {
        error: Some(error),
        ..Default::default()
    };
    let auth_header = match auth_header(auth) {
        Ok(h) => h,
        Err(e) => return unreachable(e),
    };
    let roots = match crate::http::extra_roots(&[]) {
        Ok(r) => r,
        Err(e) => return unreachable(e),
    };
    let client = match crate::http::client_builder(roots).timeout(timeout).build() {
        Ok(c) => c,
        Err(e) => return unreachable(e.to_string()),
    };
    let probe = Probe {
        client,
        auth_header,
    };
    let mut last = None;
    for c in candidates(url) {
        match probe.tools(&c).await {
            Ok(tools) => {
                return Discovery {
                    reachable: true,
                    tools,
                    error: None,
                };
            }
            Err(ProbeError { message, stop }) => {
                last = Some(message);
                if stop {
                    break;
                }
            }
        }
    }
    unreachable(last.unwrap_or_else(|| "unreachable".into()))
}

/// The header an MCP server's `auth` asks for (`$VAR` values resolved).
fn auth_header(auth: &McpAuth) -> Result<Option<(&'static str, String)>, String> {
    match auth {
        McpAuth::None => Ok(None),
        McpAuth::Bearer(t) => {
            let t = resolve_key(t);
            if t.is_empty() {
                return Err("bearer token is empty after env resolution".into());
            }
            Ok(Some(("Authorization", format!("Bearer {t}"))))
        }
        McpAuth::ApiKey(k) => {
            let k = resolve_key(k);
            if k.is_empty() {
                return Err("api_key auth value is empty after env resolution".into());
            }
            Ok(Some(("X-API-Key", k)))
        }
    }
}

/// The URL, and for a URL without a path also `/mcp` and `/sse`.
fn candidates(url: &str) -> Vec<String> {
    let base = url.trim_end_matches('/');
    let mut out = vec![base.to_owned()];
    let has_path = url
        .split_once("://")
        .map(|(_, r)| r.find('/').is_some_and(|i| r.len() > i + 1))
        .unwrap_or(false);
    if !has_path {
        out.push(format!("{base}/mcp"));
        out.push(format!("{base}/sse"));
    }
    out
}

/// Why one candidate URL gave no tools; `stop` when the others need not
/// be tried (401 / 403 on `initialize`).
struct ProbeError {
    message: String,
    stop: bool,
}

impl ProbeError {
    fn next(message: String) -> Self {
        Self {
            message,
            stop: false,
        }
    }
}

/// The JSON-RPC exchange with one MCP server.
struct Probe {
    client: reqwest::Client,
    auth_header: Option<(&'static str, String)>,
}

impl Probe {
    async fn post(
        &self,
        url: &str,
        body: &Value,
        session: Option<&str>,
    ) -> reqwest::Result<reqwest::Response> {
        let mut rb = self
            .client
            .post(url)
            .header("Content-Type", "application/json")
            .header("Accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2024-11-05")
            .body(body.to_string());
        if let Some((k, v)) = &self.auth_header {
            rb = rb.header(*k, v.as_str());
        }
        if let Some(s) = session {
            rb = rb.header("mcp-session-id", s);
        }
        rb.send().await
    }

    /// `initialize`, `notifications/initialized` when a session was
    /// opened, then `tools/list`: the tool names.
    async fn tools(&self, url: &str) -> Result<Vec<String>, ProbeError> {
        let init = json!({"jsonrpc": "2.0", "method": "initialize", "params": {
            "protocolVersion": "2024-11-05", "capabilities": {},
            "clientInfo": {"name": "ArmorIQ-CLI", "version": "1.0.0"}}, "id": 1});
        let list = json!({"jsonrpc": "2.0", "method": "tools/list", "params": {}, "id": 2});
        let r = self
            .post(url, &init, None)
            .await
            .map_err(|e| ProbeError::next(e.to_string()))?;
        let st = r.status().as_u16();
        if st >= 400 {
            return Err(ProbeError {
                message: format!("HTTP {st}"),
                stop: st == 401 || st == 403,
            });
        }
        let session = r
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let _ = r.text().await;
        if let Some(s) = &session {
            // The streamable-HTTP protocol wants this before other requests.
            let _ = self
                .post(
                    url,
                    &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
                    Some(s),
                )
                .await;
        }
        let r = self
            .post(url, &list, session.as_deref())
            .await
            .map_err(|e| ProbeError::next(e.to_string()))?;
        let st = r.status().as_u16();
        if st >= 400 {
            return Err(ProbeError::next(format!("HTTP {st}")));
        }
        let text = r.text().await.unwrap_or_default();
        let payload = parse_mcp_body(&text)
            .ok_or_else(|| ProbeError::next("invalid response body".into()))?;
        if let Some(err) = payload.get("error").filter(|e| crate::truthy(e)) {
            let msg = err
                .get("message")
                .map_or_else(|| err.to_string(), crate::py_str);
            return Err(ProbeError::next(format!("MCP error: {msg}")));
        }
        Ok(tool_names(&payload))
    }
}

fn parse_mcp_body(text: &str) -> Option<Value> {
    for line in text.lines() {
        if let Some(d) = line.trim_start().strip_prefix("data:")
            && let Ok(v) = serde_json::from_str::<Value>(d.trim())
        {
            return Some(v);
        }
    }
    serde_json::from_str(text).ok()
}

fn tool_names(v: &Value) -> Vec<String> {
    let mut names: Vec<String> = match v {
        Value::Array(a) => a
            .iter()
            .filter_map(|x| {
                x.as_str()
                    .map(str::to_owned)
                    .or_else(|| x.get("name").and_then(Value::as_str).map(str::to_owned))
            })
            .collect(),
        Value::Object(o) => {
            if let Some(t) = o.get("tools") {
                return tool_names(t);
            }
            if let Some(r) = o.get("result") {
                return tool_names(r);
            }
            Vec::new()
        }
        _ => Vec::new(),
    };
    names.sort();
    names.dedup();
    names
}

/// `_auto_server_id(url)`.
pub fn auto_server_id(url: &str) -> String {
    let host = url
        .split_once("://")
        .map_or(url, |(_, r)| r)
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("");
    let host = host.split(':').next().unwrap_or("").to_lowercase();
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let parts: Vec<&str> = host.split('.').filter(|p| !p.is_empty()).collect();
    if parts.len() >= 3 && matches!(parts[0], "mcp" | "api") {
        clean(parts[1])
    } else if parts.len() >= 2 {
        clean(parts[parts.len() - 2])
    } else if let Some(p) = parts.first() {
        clean(p)
    } else {
        "server".into()
    }
}

/// `_validate_policy_tools`: refs without `*` or `:` must name a discovered
/// `<server>.<tool>`.
pub fn check_policy_refs(
    allow: &[String],
    deny: &[String],
    discovered: &[(String, Vec<String>)],
) -> Vec<String> {
    let known: std::collections::HashSet<String> = discovered
        .iter()
        .flat_map(|(s, tools)| tools.iter().map(move |t| format!("{s}.{t}")))
        .collect();
    let mut errors = Vec::new();
    for (kind, list) in [("allow", allow), ("deny", deny)] {
        for r in list {
            if r.contains('*') || r.contains(':') {
                continue;
            }
            if !known.contains(r) {
                errors.push(format!("{kind} ref not found: {r}"));
            }
        }
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_the_official_example_byte_for_byte() {
        let text = include_str!("../../common/tests/data/armoriq.example.yaml");
        let cfg = ArmorIqYaml::parse(text).unwrap();
        assert_eq!(to_yaml(&cfg), text);
    }

    #[test]
    fn quoting_and_ids() {
        assert_eq!(scalar("my-agent"), "my-agent");
        assert_eq!(scalar("$ARMORIQ_API_KEY"), "$ARMORIQ_API_KEY");
        assert_eq!(scalar("true"), "'true'");
        assert_eq!(scalar("123"), "'123'");
        assert_eq!(scalar(""), "''");
        assert_eq!(scalar("a: b"), "'a: b'");
        assert_eq!(scalar("*"), "'*'");
        assert_eq!(auto_server_id("https://mcp.stripe.com"), "stripe");
        assert_eq!(auto_server_id("http://127.0.0.1:9000/mcp"), "0");
        assert_eq!(auto_server_id("http://localhost:8000/mcp"), "localhost");
    }
}
