//! `armoriq serve`, `keys`, `approve`, `reject`, `delegations`, `logs`.
//!
//! Every command works on the gateway's state directory (`--state-dir`,
//! `$ARMORIQ_STATE_DIR`, default `~/.armoriq/gateway`), so `approve` and
//! `logs` work while `serve` runs (SQLite WAL allows a reader and writers
//! side by side).

use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, fail};
use armoriq_common::yaml::ArmorIqYaml;
use armoriq_gateway::policy::Policy;
use armoriq_gateway::settings::{Settings, default_state_dir};
use armoriq_gateway::store::{
    AuditCursor, AuditRow, AuditStore, DelegationStatus, DelegationStore, KeyStore, Role,
    SqliteStore, StoreResult,
};
use armoriq_gateway::{Gateway, now_ms};
use clap::Args;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

/// Where the state lives.
#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// State directory (database, signing key). Default: $ARMORIQ_STATE_DIR or ~/.armoriq/gateway.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl StateArgs {
    fn dir(&self) -> PathBuf {
        self.state_dir.clone().unwrap_or_else(default_state_dir)
    }
}

/// `armoriq serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    #[command(flatten)]
    state: StateArgs,
    /// `armoriq.yaml` with MCP servers and allow/deny policy. Default: ./armoriq.yaml if present.
    #[arg(long, short, value_name = "FILE", env = "ARMORIQ_CONFIG")]
    config: Option<PathBuf>,
    /// Armor Policy v2 document or bound (`{floor, agent, group}`). Default: policy.json beside the config.
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Backend (IAP) address.
    #[arg(long, default_value = "127.0.0.1:3000", env = "ARMORIQ_BACKEND_ADDR")]
    backend: SocketAddr,
    /// Proxy address.
    #[arg(long, default_value = "127.0.0.1:3001", env = "ARMORIQ_PROXY_ADDR")]
    proxy: SocketAddr,
    /// Timeout of one MCP call, milliseconds.
    #[arg(long, default_value_t = 30_000, env = "ARMORIQ_MCP_TIMEOUT_MS")]
    mcp_timeout_ms: u64,
    /// Largest request body, bytes.
    #[arg(long, default_value_t = 1 << 20)]
    body_limit: usize,
    /// Verified-token cache entries (0 turns the cache off).
    #[arg(long, default_value_t = 10_000, env = "ARMORIQ_TOKEN_CACHE")]
    token_cache: usize,
    /// Clock skew allowed on token checks, seconds.
    #[arg(long, default_value_t = 0)]
    leeway: u64,
}

/// Reads a policy file (a bound `{floor?, agent?, group?}` or one document).
pub fn load_policy_bound(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn open_store(dir: &Path) -> Result<SqliteStore, String> {
    create_state_dir(dir)?;
    SqliteStore::open(&dir.join("armoriq.db")).map_err(|e| e.to_string())
}

/// Runs one store call to completion on a small runtime of its own (the
/// store's methods are async; these commands are not).
fn run<T>(f: impl Future<Output = StoreResult<T>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?
        .block_on(f)
        .map_err(|e| e.to_string())
}

fn create_state_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| format!("cannot set mode of {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// A new API key: `ak_test_` or `ak_live_` and 32 random hex digits.
fn new_key(prefix: &str) -> Result<String, String> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| "system RNG failed".to_owned())?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

/// `armoriq serve`.
pub fn serve(a: &ServeArgs) -> ExitCode {
    let dir = a.state.dir();
    let config_path = a.config.clone().or_else(|| {
        let p = PathBuf::from("armoriq.yaml");
        p.exists().then_some(p)
    });
    let config = match config_path.as_deref().map(ArmorIqYaml::load).transpose() {
        Ok(c) => c,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    // --policy, else policy.json beside armoriq.yaml, else the one
    // `armoriq policy load` installed in the state directory.
    let policy_path = a.policy.clone().or_else(|| {
        let beside = config_path
            .as_deref()
            .and_then(Path::parent)
            .unwrap_or(Path::new("."))
            .join("policy.json");
        let installed = dir.join("policy.json");
        [beside, installed].into_iter().find(|p| p.exists())
    });
    let watched = policy_path
        .clone()
        .unwrap_or_else(|| dir.join("policy.json"));
    let bound = match policy_path.as_deref().map(load_policy_bound).transpose() {
        Ok(b) => b,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let store = match open_store(&dir) {
        Ok(s) => s,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    match run(store.count_api_keys()) {
        Ok(0) => match new_key("ak_test_") {
            Ok(k) => {
                if let Err(e) = run(store.add_api_key(&k, Role::Agent, "first start")) {
                    return fail(e, EXIT_BAD_INPUT);
                }
                eprintln!(
                    "armoriq: no API key yet; created one (shown once, only its hash is kept):"
                );
                eprintln!("  export ARMORIQ_API_KEY={k}");
            }
            Err(e) => return fail(e, EXIT_BAD_INPUT),
        },
        Ok(_) => {}
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    }
    let mut settings = Settings::defaults();
    settings.state_dir = dir.clone();
    settings.backend_addr = a.backend;
    settings.proxy_addr = a.proxy;
    settings.mcp_timeout = Duration::from_millis(a.mcp_timeout_ms);
    settings.body_limit = a.body_limit;
    settings.token_cache_entries = a.token_cache;
    settings.leeway = a.leeway;
    let lists = config
        .as_ref()
        .map(|c| c.policy.clone())
        .unwrap_or_default();
    settings.config = config;
    settings.config_path = config_path.clone();
    let policy = match Policy::new(lists, bound.as_ref()) {
        Ok(p) => p,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let gw = match Gateway::new(settings, Arc::new(store), policy) {
        Ok(g) => Arc::new(g),
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARMORIQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .try_init();
    eprintln!(
        "armoriq serve: backend http://{} · proxy http://{} · state {} · config {} · MCP servers: {}",
        gw.settings.backend_addr,
        gw.settings.proxy_addr,
        dir.display(),
        config_path
            .as_deref()
            .map_or("(none)".to_owned(), |p| p.display().to_string()),
        if gw.mcp.ids().is_empty() {
            "(none)".to_owned()
        } else {
            gw.mcp.ids().join(", ")
        }
    );
    if let Some(p) = &policy_path {
        eprintln!("armoriq serve: Armor Policy v2 from {}", p.display());
    }
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let lists_for_reload = gw
        .settings
        .config
        .as_ref()
        .map(|c| c.policy.clone())
        .unwrap_or_default();
    rt.spawn(watch_policy(gw.clone(), watched, lists_for_reload));
    match rt.block_on(armoriq_gateway::serve(gw)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, EXIT_BAD_INPUT),
    }
}

/// Reloads the policy file when it changes (checked every 2 s). A file that
/// does not load is reported and the policy in force stays.
async fn watch_policy(gw: Arc<Gateway>, path: PathBuf, lists: armoriq_common::yaml::PolicyLists) {
    let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut last = stamp(&path);
    loop {
        tokio::time::sleep(Duration::from_secs(2)).await;
        let now = stamp(&path);
        if now == last {
            continue;
        }
        last = now;
        let bound = if path.exists() {
            match load_policy_bound(&path) {
                Ok(b) => Some(b),
                Err(e) => {
                    tracing::error!("policy not reloaded: {e}");
                    continue;
                }
            }
        } else {
            None
        };
        match Policy::new(lists.clone(), bound.as_ref()) {
            Ok(p) => {
                if let Ok(mut slot) = gw.policy.write() {
                    *slot = Arc::new(p);
                }
                tracing::info!("policy reloaded from {}", path.display());
            }
            Err(e) => tracing::error!("policy not reloaded: {e}"),
        }
    }
}

/// `armoriq keys`.
#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key; prints it once (only its hash is stored).
    Create {
        #[command(flatten)]
        state: StateArgs,
        /// An admin key (may approve and reject delegations over HTTP).
        #[arg(long)]
        admin: bool,
        /// `ak_live_` instead of `ak_test_`.
        #[arg(long)]
        live: bool,
        /// A label for your records.
        #[arg(long, default_value = "")]
        label: String,
    },
}

/// Runs `armoriq keys …`.
pub fn keys(c: &KeysCommand) -> ExitCode {
    match c {
        KeysCommand::Create {
            state,
            admin,
            live,
            label,
        } => {
            let store = match open_store(&state.dir()) {
                Ok(s) => s,
                Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
            };
            let key = match new_key(if *live { "ak_live_" } else { "ak_test_" }) {
                Ok(k) => k,
                Err(e) => return fail(e, EXIT_BAD_INPUT),
            };
            let role = if *admin { Role::Admin } else { Role::Agent };
            match run(store.add_api_key(&key, role, label)) {
                Ok(id) => {
                    if state.json {
                        println!(
                            "{}",
                            serde_json::json!({"id": id, "api_key": key, "role": role})
                        );
                    } else {
                        println!("{key}");
                        eprintln!("armoriq: key #{id} ({role:?}) created; it is not shown again.");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, EXIT_BAD_INPUT),
            }
        }
    }
}

/// `armoriq approve ID` / `armoriq reject ID`.
#[derive(Args, Debug)]
pub struct DecideArgs {
    /// The delegation id (`deleg_…`).
    id: String,
    #[command(flatten)]
    state: StateArgs,
    /// Who decides (recorded).
    #[arg(long, default_value = "cli")]
    by: String,
}

/// Approves or rejects a pending delegation.
pub fn decide(a: &DecideArgs, approve: bool) -> ExitCode {
    let store = match open_store(&a.state.dir()) {
        Ok(s) => s,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let want = if approve {
        DelegationStatus::Approved
    } else {
        DelegationStatus::Rejected
    };
    match run(store.decide_delegation(&a.id, approve, &a.by, now_ms())) {
        Ok(Some(d)) if d.status == want => {
            if a.state.json {
                println!("{}", serde_json::to_string(&d).unwrap_or_default());
            } else {
                println!(
                    "{} {want} ({} on {})",
                    d.id,
                    d.tool,
                    d.mcp.as_deref().unwrap_or("?")
                );
            }
            ExitCode::SUCCESS
        }
        Ok(Some(d)) => fail(
            format!("Delegation: {} is {}, not pending", d.id, d.status),
            EXIT_REJECTED,
        ),
        Ok(None) => fail(
            format!(
                "Delegation: no delegation {:?} (see `armoriq delegations`)",
                a.id
            ),
            EXIT_BAD_INPUT,
        ),
        Err(e) => fail(e, EXIT_BAD_INPUT),
    }
}

/// `armoriq delegations`.
#[derive(Args, Debug)]
pub struct DelegationsArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Only this status (pending, approved, rejected, expired, executed).
    #[arg(long)]
    status: Option<String>,
}

/// Lists delegations, newest first.
pub fn delegations(a: &DelegationsArgs) -> ExitCode {
    let store = match open_store(&a.state.dir()) {
        Ok(s) => s,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let status = match a.status.as_deref().map(DelegationStatus::parse) {
        None => None,
        Some(Some(s)) => Some(s),
        Some(None) => {
            return fail(
                format!(
                    "Delegation: --status must be pending, approved, rejected, expired or executed, not {:?}",
                    a.status.as_deref().unwrap_or_default()
                ),
                EXIT_BAD_INPUT,
            );
        }
    };
    match run(store.list_delegations(status, now_ms())) {
        Ok(list) => {
            for d in list {
                if a.state.json {
                    println!("{}", serde_json::to_string(&d).unwrap_or_default());
                } else {
                    println!(
                        "{}  {:<9} {}.{}  by {}  args {}",
                        d.id,
                        d.status,
                        d.mcp.as_deref().unwrap_or("?"),
                        d.tool,
                        d.requester_email.as_deref().unwrap_or("?"),
                        d.arguments
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, EXIT_BAD_INPUT),
    }
}

/// `armoriq logs`.
#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    state: StateArgs,
    /// Keep printing new rows as they are written.
    #[arg(long, short)]
    follow: bool,
    /// Print only the last N rows first.
    #[arg(long, default_value_t = 100)]
    tail: i64,
}

fn print_row(r: &AuditRow, json: bool) {
    if json {
        println!("{}", serde_json::to_string(r).unwrap_or_default());
        return;
    }
    let t = armoriq_gateway::policy::iso_time_ms(r.at_ms);
    println!(
        "{:>6} {t} {:<8} {:<18} {:<24} plan={} step={} user={} agent={} {}µs{}",
        r.id,
        r.route,
        r.outcome,
        format!(
            "{}.{}",
            r.mcp.as_deref().unwrap_or("-"),
            r.tool.as_deref().unwrap_or("-")
        ),
        r.plan_id.as_deref().unwrap_or("-"),
        r.step.map_or("-".to_owned(), |s| s.to_string()),
        r.user_email.as_deref().unwrap_or("-"),
        r.agent_id.as_deref().unwrap_or("-"),
        r.latency_us,
        r.reason
            .as_deref()
            .map_or(String::new(), |x| format!("  ({x})"))
    );
}

/// Prints the audit log.
pub fn logs(a: &LogsArgs) -> ExitCode {
    let store = match open_store(&a.state.dir()) {
        Ok(s) => s,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let page = |after| run(store.audit_page(after, 5000));
    let mut all = Vec::new();
    let mut after = AuditCursor::START;
    loop {
        match page(after) {
            Ok(p) if p.rows.is_empty() => break,
            Ok(p) => {
                after = p.next;
                all.extend(p.rows);
                let keep = usize::try_from(a.tail.max(0)).unwrap_or(0);
                if all.len() > keep {
                    all.drain(..all.len() - keep);
                }
            }
            Err(e) => return fail(e, EXIT_BAD_INPUT),
        }
    }
    for r in &all {
        print_row(r, a.state.json);
    }
    if !a.follow {
        return ExitCode::SUCCESS;
    }
    loop {
        std::thread::sleep(Duration::from_millis(250));
        match page(after) {
            Ok(p) => {
                for r in &p.rows {
                    print_row(r, a.state.json);
                }
                after = p.next;
            }
            Err(e) => return fail(e, EXIT_BAD_INPUT),
        }
    }
}
