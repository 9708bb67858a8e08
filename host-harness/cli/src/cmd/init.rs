//! `armoriq init`: writes `armoriq.yaml` in the official layout, asking for
//! what the flags leave out (on a terminal) and probing each MCP server.

use super::client::{PROBE_TIMEOUT, backend_for, check_key, config_err, fail_client, print_json};
use armoriq_client::blocking::discover_mcp_tools;
use armoriq_client::config::{Discovery, auto_server_id, to_yaml};
use armoriq_client::{ArmorIqError, paired_endpoint};
use armoriq_common::yaml::{
    ArmorIqYaml, Identity, IntentYaml, McpAuth, McpServer, PolicyLists, ProxyYaml,
};
use clap::Args;
use serde_json::json;
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

fn parse_auth(s: &str) -> Result<McpAuth, ArmorIqError> {
    match s.split_once(':') {
        None if s == "none" => Ok(McpAuth::None),
        Some(("bearer", v)) if !v.is_empty() => Ok(McpAuth::Bearer(v.to_owned())),
        Some(("api_key", v)) if !v.is_empty() => Ok(McpAuth::ApiKey(v.to_owned())),
        _ => Err(ArmorIqError::InvalidInput(format!(
            "--mcp-auth {s:?}: expected none, bearer:<token or $VAR> or api_key:<key or $VAR>"
        ))),
    }
}

/// `armoriq init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write.
    #[arg(long, short, default_value = "armoriq.yaml")]
    output: PathBuf,
    /// `identity.api_key`: a key or `$VAR` (default `$ARMORIQ_API_KEY`).
    #[arg(long)]
    api_key: Option<String>,
    /// `identity.agent_id` (default `my-agent`).
    #[arg(long)]
    agent_id: Option<String>,
    /// `identity.user_id` (default `default`).
    #[arg(long)]
    user_id: Option<String>,
    /// `sandbox` (the local gateway, default) or `production`.
    #[arg(long)]
    environment: Option<String>,
    /// `proxy.url` (default `PROXY_ENDPOINT`, else the proxy paired with the backend).
    #[arg(long)]
    proxy_url: Option<String>,
    /// An MCP server URL to probe and add (repeat).
    #[arg(long = "mcp", value_name = "URL")]
    mcp: Vec<String>,
    /// The id of each `--mcp`, in order (default: derived from the host).
    #[arg(long = "mcp-id", value_name = "ID")]
    mcp_id: Vec<String>,
    /// The auth of each `--mcp`, in order: `none`, `bearer:<token|$VAR>`, `api_key:<key|$VAR>`.
    #[arg(long = "mcp-auth", value_name = "AUTH")]
    mcp_auth: Vec<String>,
    /// Never prompt (also when stdin is not a terminal).
    #[arg(long)]
    no_prompt: bool,
    /// Overwrite an existing file.
    #[arg(long)]
    force: bool,
    /// Print a JSON summary.
    #[arg(long)]
    json: bool,
}

struct Prompter {
    on: bool,
}

impl Prompter {
    fn ask(&self, question: &str, default: Option<&str>) -> String {
        if !self.on {
            return default.unwrap_or_default().to_owned();
        }
        match default {
            Some(d) if !d.is_empty() => eprint!("{question} [{d}]: "),
            _ => eprint!("{question}: "),
        }
        let _ = std::io::stderr().flush();
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
            return default.unwrap_or_default().to_owned();
        }
        let t = line.trim();
        if t.is_empty() {
            default.unwrap_or_default().to_owned()
        } else {
            t.to_owned()
        }
    }
}

/// Writes `armoriq.yaml`: identity, environment, proxy, MCP servers (each
/// probed with `initialize` + `tools/list`; discovered tools go to
/// `policy.allow`).
pub fn init(a: &InitArgs) -> ExitCode {
    match init_inner(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail_client(&e),
    }
}

fn init_inner(a: &InitArgs) -> Result<(), ArmorIqError> {
    if a.output.exists() && !a.force {
        return Err(config_err(format!(
            "{} exists; pass --force to overwrite it",
            a.output.display()
        )));
    }
    let p = Prompter {
        on: !a.no_prompt && !a.json && std::io::stdin().is_terminal(),
    };
    let api_key = a
        .api_key
        .clone()
        .unwrap_or_else(|| p.ask("API Key", Some("$ARMORIQ_API_KEY")));
    let agent_id = a
        .agent_id
        .clone()
        .unwrap_or_else(|| p.ask("Agent ID", Some("my-agent")));
    let user_id = a
        .user_id
        .clone()
        .unwrap_or_else(|| p.ask("User ID", Some("default")));
    let environment = a
        .environment
        .clone()
        .unwrap_or_else(|| p.ask("Environment", Some("sandbox")))
        .trim()
        .to_lowercase();
    if !matches!(environment.as_str(), "sandbox" | "production") {
        return Err(ArmorIqError::InvalidInput(
            "Environment must be 'sandbox' or 'production'.".into(),
        ));
    }
    let backend = backend_for(&environment);
    let proxy_url = a
        .proxy_url
        .clone()
        .or_else(|| std::env::var("PROXY_ENDPOINT").ok().filter(|v| !v.is_empty()))
        .or_else(|| paired_endpoint("proxy", &backend).map(str::to_owned))
        .ok_or_else(|| {
            config_err(format!(
                "No ArmorIQ proxy endpoint is set for the backend {backend}, which is not a known ArmorIQ environment. Set PROXY_ENDPOINT or pass --proxy-url."
            ))
        })?
        .trim_end_matches('/')
        .to_owned();
    let key_check = check_key(&api_key, &backend);
    if !a.json {
        match &key_check {
            Ok(()) => eprintln!("✓ Credentials verified"),
            Err(e) => eprintln!("Credentials check warning: {}", e.message()),
        }
    }

    let mut urls: Vec<String> = a.mcp.clone();
    let mut servers = Vec::new();
    let mut summary = Vec::new();
    let mut allow = Vec::new();
    let mut i = 0;
    loop {
        let url = if i < urls.len() {
            urls[i].clone()
        } else if p.on {
            let q = if servers.is_empty() {
                "Add MCP server URL (empty to skip)"
            } else {
                "Add another MCP server URL (empty to finish)"
            };
            let u = p.ask(q, None);
            if u.is_empty() {
                break;
            }
            urls.push(u.clone());
            u
        } else {
            break;
        };
        let mut auth = match a.mcp_auth.get(i) {
            Some(s) => parse_auth(s)?,
            None => McpAuth::None,
        };
        let mut d: Discovery = discover_mcp_tools(&url, &auth, PROBE_TIMEOUT);
        let auth_error = d
            .error
            .as_deref()
            .is_some_and(|e| e.contains("401") || e.contains("403"));
        if !d.reachable && auth_error && p.on && a.mcp_auth.get(i).is_none() {
            eprintln!(
                "  This MCP server requires authentication ({}).",
                d.error.as_deref().unwrap_or("")
            );
            let kind = p.ask("Auth type (bearer/api_key/none)", Some("bearer"));
            auth = match kind.as_str() {
                "bearer" => McpAuth::Bearer(p.ask("Bearer token (or $ENV_VAR)", None)),
                "api_key" => McpAuth::ApiKey(p.ask("API key (or $ENV_VAR)", None)),
                _ => McpAuth::None,
            };
            d = discover_mcp_tools(&url, &auth, PROBE_TIMEOUT);
        }
        if !a.json {
            if d.reachable {
                eprintln!(
                    "✓ Connection verified. {} tools discovered{}",
                    d.tools.len(),
                    if d.tools.is_empty() { "." } else { ":" }
                );
                if !d.tools.is_empty() {
                    eprintln!("    {}", d.tools.join(", "));
                }
            } else {
                eprintln!(
                    "  Connection warning: {}",
                    d.error.as_deref().unwrap_or("unreachable")
                );
            }
        }
        let auto = auto_server_id(&url);
        let id = match a.mcp_id.get(i) {
            Some(id) => id.clone(),
            None => p.ask("Server ID", Some(&auto)),
        };
        let description = if p.on {
            Some(p.ask("Description", Some(""))).filter(|d| !d.is_empty())
        } else {
            None
        };
        if servers.iter().any(|s: &McpServer| s.id == id) {
            return Err(ArmorIqError::InvalidInput(format!(
                "two MCP servers have the id {id:?}; pass --mcp-id"
            )));
        }
        if d.reachable {
            allow.extend(d.tools.iter().map(|t| format!("{id}.{t}")));
        }
        summary.push(json!({"id": id, "url": url, "reachable": d.reachable,
                            "tools": d.tools, "error": d.error}));
        servers.push(McpServer {
            id,
            url,
            description,
            auth,
        });
        i += 1;
    }
    allow.sort();
    allow.dedup();
    let cfg = ArmorIqYaml {
        version: "v1".into(),
        identity: Identity {
            api_key,
            user_id,
            agent_id,
        },
        environment,
        proxy: ProxyYaml {
            url: proxy_url,
            timeout: 30,
            max_retries: 3,
        },
        mcp_servers: servers,
        policy: PolicyLists {
            allow,
            deny: Vec::new(),
        },
        intent: IntentYaml::default(),
    };
    let text = to_yaml(&cfg);
    // The text must read back as the official loader would read it.
    ArmorIqYaml::parse(&text).map_err(|e| config_err(format!("generated YAML: {e}")))?;
    std::fs::write(&a.output, &text)
        .map_err(|e| config_err(format!("cannot write {}: {e}", a.output.display())))?;
    if a.json {
        print_json(&json!({"path": a.output, "backend": backend,
            "credentials_verified": key_check.is_ok(),
            "credentials_error": key_check.err().map(|e| e.message().to_owned()),
            "mcp_servers": summary}));
    } else {
        println!("Generated {}", a.output.display());
        println!("Next: edit the policy block, then run `armoriq validate`");
    }
    Ok(())
}
