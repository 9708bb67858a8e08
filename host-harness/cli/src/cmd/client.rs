//! The client side of the official `armoriq` CLI: `validate`,
//! `login --api-key`, `logout`, `whoami`, `status` (`init` is in [`super::init`]).
//! `status` probes the backend and the proxy over HTTP or HTTPS (the
//! system's roots, `--ca-cert` and `ARMORIQ_CA_CERT` trusted): `/health`
//! (alive) and `/ready` (ready to serve).
//!
//! Files are the official ones: `armoriq.yaml` in the layout `armoriq init`
//! writes, `~/.armoriq/credentials.json` (v2) byte for byte as the official
//! SDK writes it. Errors go to stderr as `error: <Kind>: <message>` and a
//! `hint:` line; configuration errors exit 2, the rest 1.

use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED};
use armoriq_client::blocking::{ArmorIQClient, discover_mcp_tools};
use armoriq_client::config::{check_policy_refs, options_from_config, resolve_key};
use armoriq_client::credentials::{Credentials, LoginProfile, Profile};
use armoriq_client::{ArmorIqError, active_env, backend_override, check_api_key_format};
use armoriq_common::yaml::ArmorIqYaml;
use clap::Args;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(8);

pub(super) fn fail_client(e: &ArmorIqError) -> ExitCode {
    eprintln!("error: {}: {}", e.kind(), e.message());
    eprintln!("hint: {}", e.hint());
    ExitCode::from(match e {
        ArmorIqError::Configuration(_) | ArmorIqError::InvalidInput(_) => EXIT_BAD_INPUT,
        _ => EXIT_REJECTED,
    })
}

pub(super) fn config_err(m: impl Into<String>) -> ArmorIqError {
    ArmorIqError::Configuration(m.into())
}

pub(super) fn print_json(v: &Value) {
    println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

/// The backend the CLI talks to for an environment: the environment
/// override, else the local gateway for `sandbox`, else the active
/// environment's backend.
pub(super) fn backend_for(environment: &str) -> String {
    backend_override().unwrap_or_else(|| match (environment, active_env()) {
        ("sandbox", _) | (_, "local") => "http://127.0.0.1:3000".into(),
        (_, "staging") => "https://staging-api.armoriq.ai".into(),
        _ => "https://api.armoriq.ai".into(),
    })
}

/// `validate_api_key`: `POST {backend}/iap/sdk/bootstrap` with the key.
pub(super) fn check_key(key: &str, backend: &str) -> Result<(), ArmorIqError> {
    let key = resolve_key(key);
    if key.is_empty() {
        return Err(config_err(
            "API key is empty. Set ARMORIQ_API_KEY or update identity.api_key.",
        ));
    }
    check_api_key_format(&key, backend)?;
    let c = ArmorIQClient::new(
        ArmorIQClient::builder()
            .api_key(key)
            .backend_endpoint(backend)
            .proxy_endpoint(backend)
            .timeout(PROBE_TIMEOUT),
    )?;
    match c.bootstrap() {
        Ok(_) => Ok(()),
        Err(ArmorIqError::Configuration(m)) if m.contains(" 401 ") => {
            Err(config_err("API key authentication failed (401)."))
        }
        Err(ArmorIqError::Configuration(m)) => {
            let status = m
                .strip_prefix("sdk/bootstrap failed: ")
                .and_then(|r| r.split(' ').next())
                .filter(|s| s.bytes().all(|b| b.is_ascii_digit()));
            Err(config_err(match status {
                Some(s) => format!("API key validation failed (HTTP {s})."),
                None => format!("API key validation failed: {m}"),
            }))
        }
        Err(e) => Err(e),
    }
}

/// `armoriq validate`.
#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// The file to check.
    #[arg(long, short, default_value = "armoriq.yaml")]
    config: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Checks `armoriq.yaml`: syntax, the API key (against the backend the
/// client would use), every MCP server, and the policy refs.
pub fn validate(a: &ValidateArgs) -> ExitCode {
    let mut report = json!({"config": a.config});
    let r = validate_inner(a, &mut report);
    if a.json {
        report["valid"] = json!(r.is_ok());
        if let Err(e) = &r {
            report["error"] = json!({"kind": e.kind(), "message": e.message()});
        }
        print_json(&report);
    }
    match r {
        Ok(()) => {
            if !a.json {
                println!("Ready to register.");
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail_client(&e),
    }
}

fn validate_inner(a: &ValidateArgs, report: &mut Value) -> Result<(), ArmorIqError> {
    let say = |s: &str| {
        if !a.json {
            println!("✓ {s}");
        }
    };
    if !a.config.exists() {
        return Err(config_err(format!(
            "Config file not found: {}",
            a.config.display()
        )));
    }
    let cfg = ArmorIqYaml::load(&a.config).map_err(config_err)?;
    say("Config syntax valid");
    report["syntax"] = json!(true);
    let opts = options_from_config(&a.config)?;
    let client = opts.build()?;
    let backend = client.backend_endpoint().to_owned();
    report["backend"] = json!(backend);
    check_key(&cfg.identity.api_key, &backend)?;
    say("API key authenticated");
    report["api_key"] = json!(true);
    let mut discovered = Vec::new();
    let mut servers = Vec::new();
    for s in &cfg.mcp_servers {
        let d = discover_mcp_tools(&s.url, &s.auth, PROBE_TIMEOUT);
        servers.push(
            json!({"id": s.id, "reachable": d.reachable, "tools": d.tools, "error": d.error}),
        );
        report["mcp_servers"] = json!(servers);
        if !d.reachable {
            return Err(ArmorIqError::McpInvocation {
                message: format!(
                    "{} MCP not reachable: {}",
                    s.id,
                    d.error.as_deref().unwrap_or("unknown error")
                ),
                mcp: s.id.clone(),
                action: "tools/list".into(),
                status: None,
            });
        }
        say(&format!("{} MCP reachable ({} tools)", s.id, d.tools.len()));
        discovered.push((s.id.clone(), d.tools));
    }
    let errors = check_policy_refs(&cfg.policy.allow, &cfg.policy.deny, &discovered);
    report["policy_errors"] = json!(errors);
    if !errors.is_empty() {
        return Err(config_err(format!(
            "Policy references invalid tools: {}",
            errors.join("; ")
        )));
    }
    say("Policy references valid tool names");
    Ok(())
}

/// `armoriq login --api-key`.
#[derive(Args, Debug)]
pub struct LoginArgs {
    /// The API key to store (`ak_live_…`, `ak_test_…`, `ak_claw_…`).
    #[arg(long, env = "ARMORIQ_LOGIN_API_KEY", hide_env_values = true)]
    api_key: String,
    /// The backend the key is for (default: ARMORIQ_BACKEND_URL, BACKEND_ENDPOINT,
    /// else the active environment's).
    #[arg(long)]
    backend: Option<String>,
    /// The product (profile `<product>@<host>`).
    #[arg(long, default_value = "")]
    product: String,
    /// The user's email.
    #[arg(long, default_value = "")]
    email: String,
    /// The user id (default: derived from the key, not secret).
    #[arg(long)]
    user_id: Option<String>,
    /// The organization id.
    #[arg(long, default_value = "")]
    org_id: String,
    /// Store without asking the backend whether the key works.
    #[arg(long)]
    no_verify: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// Stores an API key as the official SDK's `save_login_profile` does.
pub fn login(a: &LoginArgs) -> ExitCode {
    match login_inner(a) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail_client(&e),
    }
}

fn login_inner(a: &LoginArgs) -> Result<(), ArmorIqError> {
    let backend = a
        .backend
        .clone()
        .or_else(backend_override)
        .unwrap_or_else(|| {
            backend_for(if active_env() == "local" {
                "sandbox"
            } else {
                "production"
            })
        })
        .trim_end_matches('/')
        .to_owned();
    let key = a.api_key.trim();
    check_api_key_format(key, &backend)?;
    if !a.no_verify {
        check_key(key, &backend)?;
    }
    let user_id = a.user_id.clone().unwrap_or_else(|| {
        use sha2::Digest;
        format!(
            "key-{}",
            &hex::encode(sha2::Sha256::digest(key.as_bytes()))[..16]
        )
    });
    let creds = Credentials::default_location();
    let name = creds
        .save_login_profile(&LoginProfile {
            backend: backend.clone(),
            product: a.product.clone(),
            api_key: key.to_owned(),
            email: a.email.clone(),
            user_id,
            org_id: a.org_id.clone(),
        })
        .map_err(config_err)?;
    if a.json {
        print_json(&json!({"profile": name, "backend": backend, "credentials": creds.path()}));
    } else {
        println!(
            "Logged in: profile {name} saved in {}",
            creds.path().display()
        );
    }
    Ok(())
}

/// `--profile` for `logout` / `whoami`.
#[derive(Args, Debug)]
pub struct ProfileArgs {
    /// The profile (default: ARMORIQ_PROFILE, else the active one).
    #[arg(long)]
    profile: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() <= 12 {
        return "****".into();
    }
    let head: String = chars[..8].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}…{tail}")
}

fn profile_json(name: &str, p: &Profile) -> Value {
    json!({"profile": name, "backend": p.login.backend, "product": p.login.product,
           "email": p.login.email, "userId": p.login.user_id, "orgId": p.login.org_id,
           "apiKey": mask(&p.login.api_key), "loggedInAt": p.logged_in_at})
}

/// Removes a stored profile (a logout event is recorded).
pub fn logout(a: &ProfileArgs) -> ExitCode {
    let creds = Credentials::default_location();
    let Some(name) = creds.selected_profile_name(a.profile.as_deref()) else {
        return fail_client(&config_err(
            "Not logged in: no profile is active and none was named (--profile).",
        ));
    };
    match creds.remove_profile(&name) {
        Ok(true) => {
            if a.json {
                print_json(&json!({"profile": name, "removed": true}));
            } else {
                println!("Logged out of {name}.");
            }
            ExitCode::SUCCESS
        }
        Ok(false) => fail_client(&config_err(format!(
            "No profile {name} is saved in {}.",
            creds.path().display()
        ))),
        Err(e) => fail_client(&config_err(e)),
    }
}

/// Prints the stored profile (the key masked).
pub fn whoami(a: &ProfileArgs) -> ExitCode {
    let creds = Credentials::default_location();
    let found = creds
        .selected_profile_name(a.profile.as_deref())
        .and_then(|n| creds.get_profile(&n).map(|p| (n, p)));
    let Some((name, p)) = found else {
        return fail_client(&config_err(
            "Not logged in. Run `armoriq login --api-key <key> --backend <url>`.",
        ));
    };
    if a.json {
        print_json(&profile_json(&name, &p));
    } else {
        println!("Profile: {name}");
        println!("Backend: {}", p.login.backend);
        println!("Email: {}", p.login.email);
        println!("User: {}", p.login.user_id);
        println!("Org: {}", p.login.org_id);
        println!("API key: {}", mask(&p.login.api_key));
        println!("Logged in at: {}", p.logged_in_at);
    }
    ExitCode::SUCCESS
}

/// `armoriq status`.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The profile (default: ARMORIQ_PROFILE, else the active one).
    #[arg(long)]
    profile: Option<String>,
    /// `armoriq.yaml` to describe (default: ./armoriq.yaml if present).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// A PEM file of CA certificates to trust, besides the system's roots
    /// (and the file ARMORIQ_CA_CERT names), when probing an `https://`
    /// gateway behind a private CA.
    #[arg(long, value_name = "FILE")]
    ca_cert: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The probes' HTTP client: HTTPS over rustls, trusting the system's roots,
/// `--ca-cert` and `ARMORIQ_CA_CERT` (as the SDK client does).
///
/// # Errors
/// A CA file that cannot be read or holds no certificate.
fn probe_client(ca_cert: Option<&Path>) -> Result<reqwest::blocking::Client, ArmorIqError> {
    let extra =
        match ca_cert {
            Some(p) => vec![std::fs::read(p).map_err(|e| {
                config_err(format!("--ca-cert {}: cannot be read: {e}", p.display()))
            })?],
            None => Vec::new(),
        };
    let roots = armoriq_client::http::extra_roots(&extra).map_err(config_err)?;
    reqwest::blocking::Client::builder()
        .tls_backend_rustls()
        .tls_certs_merge(roots)
        .timeout(Duration::from_secs(3))
        .build()
        .map_err(|e| config_err(format!("HTTP client: {e}")))
}

/// `GET {url}/health` (liveness) and `GET {url}/ready` (readiness: the
/// gateway's store, migrations and device; `ready` is null when the
/// server has no `/ready`, as the hosted backend).
fn health(client: &reqwest::blocking::Client, url: &str) -> Value {
    let mut out = match client.get(format!("{url}/health")).send() {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: Value = r.json().unwrap_or(Value::Null);
            json!({"url": url, "reachable": status < 500, "status": status,
                   "service": body.get("service")})
        }
        Err(e) => {
            return json!({"url": url, "reachable": false, "ready": false,
                          "error": error_chain(&e)});
        }
    };
    match client.get(format!("{url}/ready")).send() {
        Ok(r) if r.status().as_u16() == 404 => out["ready"] = Value::Null,
        Ok(r) => {
            out["ready"] = json!(r.status().is_success());
            let body: Value = r.json().unwrap_or(Value::Null);
            if let Some(c) = body.get("checks") {
                out["checks"] = c.clone();
            }
        }
        Err(e) => {
            out["ready"] = json!(false);
            out["error"] = json!(error_chain(&e));
        }
    }
    out
}

/// An error with its causes (reqwest's own text leaves out why a TLS
/// handshake failed).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// `reachable, ready` / `reachable, not ready (store: why)` / `not reachable`.
fn describe_health(h: &Value) -> String {
    if h["reachable"] != json!(true) {
        return match h["error"].as_str() {
            Some(e) => format!("not reachable: {e}"),
            None => "not reachable".into(),
        };
    }
    match &h["ready"] {
        Value::Bool(true) => "reachable, ready".into(),
        Value::Bool(false) => {
            let failing: Vec<String> = h["checks"]
                .as_object()
                .map(|m| {
                    m.iter()
                        .filter(|(_, c)| c["ok"] != json!(true))
                        .map(|(k, c)| format!("{k}: {}", c["error"].as_str().unwrap_or("failed")))
                        .collect()
                })
                .unwrap_or_default();
            format!("reachable, not ready ({})", failing.join("; "))
        }
        _ => "reachable".into(),
    }
}

/// Prints the profile, `armoriq.yaml`, and whether backend and proxy answer.
pub fn status(a: &StatusArgs) -> ExitCode {
    let creds = Credentials::default_location();
    let name = creds.selected_profile_name(a.profile.as_deref());
    let profile = name
        .as_deref()
        .and_then(|n| creds.get_profile(n).map(|p| profile_json(n, &p)));
    let path = a.config.clone().or_else(|| {
        let p = PathBuf::from("armoriq.yaml");
        p.exists().then_some(p)
    });
    let mut out = json!({"profile": profile, "credentials": creds.path()});
    let client = match probe_client(a.ca_cert.as_deref()) {
        Ok(c) => c,
        Err(e) => return fail_client(&e),
    };
    if let Some(p) = path.as_deref() {
        match describe_config(p, &client) {
            Ok(v) => out["config"] = v,
            Err(e) => return fail_client(&e),
        }
    }
    if a.json {
        print_json(&out);
        return ExitCode::SUCCESS;
    }
    match &out["profile"] {
        Value::Null => println!("Profile: (none)"),
        p => println!(
            "Profile: {} ({})",
            p["profile"].as_str().unwrap_or_default(),
            p["backend"].as_str().unwrap_or_default()
        ),
    }
    let c = &out["config"];
    if c.is_null() {
        println!("No armoriq.yaml here. Run `armoriq init`.");
        return ExitCode::SUCCESS;
    }
    println!("Config: {}", c["path"].as_str().unwrap_or_default());
    println!("Agent: {}", c["agent_id"].as_str().unwrap_or_default());
    println!("User: {}", c["user_id"].as_str().unwrap_or_default());
    println!(
        "Environment: {}",
        c["environment"].as_str().unwrap_or_default()
    );
    for k in ["backend", "proxy"] {
        let h = &c[k];
        println!(
            "{}: {} ({})",
            if k == "backend" { "Backend" } else { "Proxy" },
            h["url"].as_str().unwrap_or_default(),
            describe_health(h)
        );
    }
    let ids: Vec<&str> = c["mcp_servers"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    println!(
        "MCP servers: {}",
        if ids.is_empty() {
            "(none)".into()
        } else {
            ids.join(", ")
        }
    );
    ExitCode::SUCCESS
}

fn describe_config(p: &Path, client: &reqwest::blocking::Client) -> Result<Value, ArmorIqError> {
    let cfg = ArmorIqYaml::load(p).map_err(config_err)?;
    let opts = options_from_config(p);
    let (backend, proxy) = match opts.and_then(|o| o.build()) {
        Ok(c) => (
            c.backend_endpoint().to_owned(),
            c.default_proxy_endpoint().ok().map(str::to_owned),
        ),
        Err(_) => (backend_for(&cfg.environment), Some(cfg.proxy.url.clone())),
    };
    Ok(json!({
        "path": p, "agent_id": cfg.identity.agent_id, "user_id": cfg.identity.user_id,
        "environment": cfg.environment,
        "backend": health(client, &backend),
        "proxy": proxy.as_deref().map(|u| health(client, u)),
        "mcp_servers": cfg.mcp_servers.iter().map(|s| s.id.clone()).collect::<Vec<_>>(),
    }))
}
