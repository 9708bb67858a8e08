//! `armoriq.yaml`, the file the official CLI writes, read by the client and
//! the gateway alike.
//!
//! `armoriq.yaml` is read with the official SDK's layout and strictness
//! (`extra="forbid"` on every model, `version: v1` only), so a file that the
//! official loader accepts is accepted here and nothing is added to it that
//! the official loader would reject. Gateway-only settings come from
//! `armoriq serve` flags or their environment variables.

use serde::Deserialize;
use std::collections::HashSet;
use std::path::Path;

/// `armoriq.yaml`, as `armoriq_sdk.config.ArmorIQConfig` defines it.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmorIqYaml {
    /// Only `"v1"`.
    #[serde(default = "v1")]
    pub version: String,
    /// `identity` (required).
    pub identity: Identity,
    /// `sandbox` (default) or `production`.
    #[serde(default = "sandbox")]
    pub environment: String,
    /// `proxy`.
    #[serde(default)]
    pub proxy: ProxyYaml,
    /// The MCP servers the gateway forwards to.
    #[serde(default)]
    pub mcp_servers: Vec<McpServer>,
    /// Simple allow/deny lists of `"<server>.<tool>"` refs.
    #[serde(default)]
    pub policy: PolicyLists,
    /// `intent`.
    #[serde(default)]
    pub intent: IntentYaml,
}

fn v1() -> String {
    "v1".into()
}
fn sandbox() -> String {
    "sandbox".into()
}

/// `identity`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Identity {
    /// A literal key or `$VAR` / `${VAR}`.
    pub api_key: String,
    /// The user id.
    pub user_id: String,
    /// The agent id.
    pub agent_id: String,
}

/// `proxy`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyYaml {
    /// The proxy URL clients use.
    #[serde(default = "default_proxy_url")]
    pub url: String,
    /// Seconds.
    #[serde(default = "thirty")]
    pub timeout: i64,
    /// Client retries.
    #[serde(default = "three")]
    pub max_retries: i64,
}

impl Default for ProxyYaml {
    fn default() -> Self {
        Self {
            url: default_proxy_url(),
            timeout: 30,
            max_retries: 3,
        }
    }
}

fn default_proxy_url() -> String {
    "https://customer-proxy.armoriq.ai".into()
}
fn thirty() -> i64 {
    30
}
fn three() -> i64 {
    3
}

/// One `mcp_servers` entry.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct McpServer {
    /// The name plans use in `mcp`.
    pub id: String,
    /// Streamable-HTTP endpoint.
    pub url: String,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
    /// How the gateway authenticates to the server.
    #[serde(default)]
    pub auth: McpAuth,
}

/// `auth`: `"none"`, `{type: none}`, `{type: bearer, token}`, `{type: api_key, api_key}`.
#[derive(Clone, Debug, Default)]
pub enum McpAuth {
    /// No credential.
    #[default]
    None,
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `X-API-Key: <key>`.
    ApiKey(String),
}

impl<'de> Deserialize<'de> for McpAuth {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full {
            #[serde(rename = "type", default = "none")]
            kind: String,
            #[serde(default)]
            token: Option<String>,
            #[serde(default)]
            api_key: Option<String>,
        }
        fn none() -> String {
            "none".into()
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Repr {
            Word(String),
            Full(Full),
        }
        use serde::de::Error;
        let full = match Repr::deserialize(d)? {
            Repr::Word(w) => Full {
                kind: w,
                token: None,
                api_key: None,
            },
            Repr::Full(f) => f,
        };
        match full.kind.as_str() {
            "none" => Ok(Self::None),
            "bearer" => full
                .token
                .map(Self::Bearer)
                .ok_or_else(|| D::Error::custom("auth type bearer needs `token`")),
            "api_key" => full
                .api_key
                .map(Self::ApiKey)
                .ok_or_else(|| D::Error::custom("auth type api_key needs `api_key`")),
            other => Err(D::Error::custom(format!(
                "auth type must be none, bearer or api_key, not {other:?}"
            ))),
        }
    }
}

impl McpAuth {
    /// The header to send, with `$VAR` references resolved from the environment.
    pub fn header(&self) -> Option<(&'static str, String)> {
        match self {
            Self::None => None,
            Self::Bearer(t) => Some(("authorization", format!("Bearer {}", resolve_env(t)))),
            Self::ApiKey(k) => Some(("x-api-key", resolve_env(k))),
        }
    }
}

/// `policy`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PolicyLists {
    /// Allowed refs.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Denied refs.
    #[serde(default)]
    pub deny: Vec<String>,
}

/// `intent`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntentYaml {
    /// Default token lifetime when the client sends none.
    #[serde(default = "three_hundred")]
    pub ttl_seconds: i64,
    /// Kept for compatibility; the gateway always issues the CSRG token.
    #[serde(default = "yes")]
    pub require_csrg: bool,
}

impl Default for IntentYaml {
    fn default() -> Self {
        Self {
            ttl_seconds: 300,
            require_csrg: true,
        }
    }
}

fn three_hundred() -> i64 {
    300
}
fn yes() -> bool {
    true
}

/// The official SDK's `resolve_env_reference`: `${VAR}`, or `$VAR` without a
/// space, is the variable's value (empty when unset); anything else is the
/// value itself. The one resolver of the host crates: MCP auth values and the
/// identity's API key both go through it, so `"$not a ref"` is kept as text
/// everywhere.
pub fn resolve_env(s: &str) -> String {
    let name = match s.strip_prefix("${").and_then(|r| r.strip_suffix('}')) {
        Some(braced) => Some(braced),
        None => s
            .strip_prefix('$')
            .filter(|n| !n.is_empty() && !n.contains(' ')),
    };
    match name {
        Some(n) => std::env::var(n).unwrap_or_default(),
        None => s.to_owned(),
    }
}

impl ArmorIqYaml {
    /// Reads and checks a file.
    ///
    /// # Errors
    /// A message naming the file and the problem.
    pub fn load(path: &Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        Self::parse(&text).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// Parses and checks YAML text.
    ///
    /// # Errors
    /// A message naming the problem.
    pub fn parse(text: &str) -> Result<Self, String> {
        let cfg: Self = yaml_serde::from_str(text).map_err(|e| e.to_string())?;
        if cfg.version != "v1" {
            return Err(format!("version must be \"v1\", not {:?}", cfg.version));
        }
        if !matches!(cfg.environment.as_str(), "sandbox" | "production") {
            return Err(format!(
                "environment must be sandbox or production, not {:?}",
                cfg.environment
            ));
        }
        let mut seen = HashSet::new();
        for s in &cfg.mcp_servers {
            if !seen.insert(s.id.as_str()) {
                return Err(format!("duplicate mcp_servers id {:?}", s.id));
            }
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_references_resolve_as_the_official_sdk_does() {
        // A variable name unique to this test, never set.
        let name = "ARMORIQ_TEST_RESOLVE_ENV_7F3A";
        // Rust 2024: set_var is unsafe; read an existing variable instead.
        let path = std::env::var("PATH").unwrap_or_default();
        assert_eq!(resolve_env("$PATH"), path);
        assert_eq!(resolve_env("${PATH}"), path);
        assert_eq!(resolve_env(&format!("${name}")), "");
        assert_eq!(resolve_env(&format!("${{{name}}}")), "");
        // Not references: kept as text (the old gateway resolver read
        // `$a b` as the variable `a b`).
        assert_eq!(resolve_env("$a b"), "$a b");
        assert_eq!(resolve_env("$"), "$");
        assert_eq!(resolve_env("plain"), "plain");
        assert_eq!(resolve_env("x$PATH"), "x$PATH");
        // `${…}` is taken whole, spaces and all, as the SDK does.
        assert_eq!(resolve_env("${a b}"), "");
    }

    #[test]
    fn reads_the_official_example() {
        let text = include_str!("../tests/data/armoriq.example.yaml");
        let cfg = ArmorIqYaml::parse(text).unwrap();
        assert_eq!(cfg.mcp_servers.len(), 3);
        assert!(matches!(cfg.mcp_servers[0].auth, McpAuth::Bearer(_)));
        assert!(matches!(cfg.mcp_servers[1].auth, McpAuth::ApiKey(_)));
        assert!(matches!(cfg.mcp_servers[2].auth, McpAuth::None));
        assert_eq!(cfg.policy.deny, vec!["github.delete_repo".to_string()]);
    }

    #[test]
    fn rejects_what_the_official_loader_rejects() {
        let base = "version: v1\nidentity: {api_key: k, user_id: u, agent_id: a}\n";
        assert!(ArmorIqYaml::parse(base).is_ok());
        assert!(ArmorIqYaml::parse(&format!("{base}extra: 1\n")).is_err());
        assert!(ArmorIqYaml::parse(&base.replace("v1", "v2")).is_err());
        assert!(
            ArmorIqYaml::parse(&format!(
                "{base}mcp_servers: [{{id: a, url: u}}, {{id: a, url: v}}]\n"
            ))
            .is_err()
        );
        assert!(ArmorIqYaml::parse(&format!("{base}policy: {{allow: [], hold: []}}\n")).is_err());
    }
}
