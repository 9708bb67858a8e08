//! `armoriq serve`, `approve`, `reject`, `delegations`, `logs`.
//!
//! Every command works on the gateway's store: `--store URL` (env
//! `ARMORIQ_STORE`; see [`crate::cmd::store`]), else `armoriq.db` in the
//! state directory (`--state-dir`, `$ARMORIQ_STATE_DIR`, default
//! `~/.armoriq/gateway`), so `approve` and `logs` work while `serve` runs
//! (SQLite WAL allows a reader and writers side by side; PostgreSQL is
//! shared by design).

use crate::cmd::store::{SecretArgs, block};
use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, fail};
use armoriq_gateway::builder::GatewayBuilder;
use armoriq_gateway::now_ms;
use armoriq_gateway::settings::{Settings, default_state_dir};
use armoriq_gateway::store::{AuditCursor, AuditRow, DelegationStatus, StoreResult};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Where the state lives.
#[derive(Args, Debug, Clone)]
pub struct StateArgs {
    /// State directory (database, signing key). Default: $ARMORIQ_STATE_DIR or ~/.armoriq/gateway.
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// The store: postgres://USER:PASSWORD@HOST/DB (shared by several
    /// gateways) or a SQLite file. Default: armoriq.db in the state directory.
    /// Given, policy documents live in the store too (`policy load --store`).
    #[arg(long, value_name = "URL", env = "ARMORIQ_STORE")]
    pub store: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

impl StateArgs {
    /// The state directory.
    pub fn dir(&self) -> PathBuf {
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
    /// Check every call on this verifier device too (`tcp:HOST:PORT`,
    /// `serial:PATH` or `qemu:ELF`): forwarded only on its accept, with its
    /// signed receipt in the audit row. The device must be enrolled
    /// (`armoriq device enroll`).
    #[arg(long, value_name = "SPEC")]
    device: Option<armoriq_gateway::device::DeviceSpec>,
    /// Longest wait for the device's verdict, queueing included (past it: 503).
    #[arg(long, default_value_t = 5_000, requires = "device")]
    device_timeout_ms: u64,
    /// Calls that may wait for the device at once (one more: 503).
    #[arg(long, default_value_t = 64, requires = "device")]
    device_queue: usize,
    /// How long a console sign-in lasts, seconds.
    #[arg(long, default_value_t = 8 * 3600, env = "ARMORIQ_CONSOLE_SESSION_TTL")]
    console_session_ttl: u64,
    /// How long a held call waits for a person's decision, seconds; an
    /// approval may then be used for as long again, counted from the
    /// decision (past either: expired).
    #[arg(long, default_value_t = 30 * 60, env = "ARMORIQ_APPROVAL_TTL")]
    approval_ttl: u64,
    /// Who may read `GET /metrics` (Prometheus): `open` (anyone who reaches
    /// the backend listener), `admin` (admin API keys), or an address such
    /// as `127.0.0.1:9464` (its own plain-HTTP listener, not the backend's);
    /// `off`: not served, nothing recorded.
    #[arg(long, default_value = "open", env = "ARMORIQ_METRICS")]
    metrics: armoriq_gateway::metrics::MetricsAccess,
    #[command(flatten)]
    secret: SecretArgs,
    /// Serve both listeners over HTTPS with this PEM certificate chain
    /// (leaf first); the console's cookie is then `Secure`.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_key",
        env = "ARMORIQ_TLS_CERT"
    )]
    tls_cert: Option<PathBuf>,
    /// PostgreSQL (`--store postgres://…`): the longest a statement may go
    /// without an answer, seconds (fractions allowed). Past it the
    /// connection is given up and the call answers 503; the server's
    /// statement_timeout is set a little below it. Also bounds `GET /ready`'s
    /// store check.
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 5.0,
        env = "ARMORIQ_PG_QUERY_TIMEOUT"
    )]
    pg_query_timeout: f64,
    /// On SIGTERM or Ctrl-C: how long calls in flight get to finish,
    /// seconds, before their connections are closed (the audit is flushed
    /// either way, then the process exits 0).
    #[arg(
        long,
        value_name = "SECS",
        default_value_t = 10.0,
        env = "ARMORIQ_SHUTDOWN_GRACE"
    )]
    shutdown_grace: f64,
    /// The PEM private key of --tls-cert.
    #[arg(
        long,
        value_name = "FILE",
        requires = "tls_cert",
        env = "ARMORIQ_TLS_KEY"
    )]
    tls_key: Option<PathBuf>,
}

/// Runs one store call to completion (the store's methods are async; these
/// commands are not) on the command's one runtime ([`block`]).
pub fn run<T>(f: impl Future<Output = StoreResult<T>>) -> Result<T, String> {
    block(async { f.await.map_err(|e| e.to_string()) })
}

/// `armoriq serve`: a [`GatewayBuilder`] from the flags, started until
/// Ctrl-C or SIGTERM.
pub fn serve(a: &ServeArgs) -> ExitCode {
    let mut settings = Settings::defaults();
    settings.state_dir = a.state.dir();
    settings.backend_addr = a.backend;
    settings.proxy_addr = a.proxy;
    settings.mcp_timeout = Duration::from_millis(a.mcp_timeout_ms);
    settings.body_limit = a.body_limit;
    settings.token_cache_entries = a.token_cache;
    settings.leeway = a.leeway;
    settings.device = a
        .device
        .clone()
        .map(|spec| armoriq_gateway::device::DeviceSettings {
            spec,
            timeout: Duration::from_millis(a.device_timeout_ms),
            queue: a.device_queue,
        });
    settings.console_session_ttl = Duration::from_secs(a.console_session_ttl.max(1));
    settings.approval_ttl = Duration::from_secs(a.approval_ttl.max(1));
    settings.metrics = a.metrics.clone();
    match seconds(a.pg_query_timeout, "--pg-query-timeout", false) {
        Ok(d) => settings.query_timeout = d,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    }
    match seconds(a.shutdown_grace, "--shutdown-grace", true) {
        Ok(d) => settings.shutdown_grace = d,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    }
    if a.state.store.is_some() {
        match a.state.location() {
            Ok(loc) => settings.store = Some(loc),
            Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
        }
    }
    if let (Some(cert), Some(key)) = (&a.tls_cert, &a.tls_key) {
        settings.tls = Some(armoriq_gateway::tls::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    let secret = match a.secret.load() {
        Ok(s) => s,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let built = rt.block_on(
        GatewayBuilder::new()
            .settings(settings)
            .config(a.config.clone())
            .policy(a.policy.clone())
            .secret(secret)
            .build(),
    );
    let built = match built {
        Ok(b) => b,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    if let Some(k) = &built.first_key {
        eprintln!("armoriq: no API key yet; created one (shown once, only its hash is kept):");
        eprintln!("  export ARMORIQ_API_KEY={k}");
    }
    // Traces, when OTEL_EXPORTER_OTLP_* names a collector (built outside
    // the runtime: its exporter thread has a blocking HTTP client).
    let telemetry = match armoriq_gateway::telemetry::Telemetry::from_env() {
        Ok(t) => t,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    init_logging(telemetry.as_ref());
    let gw = &built.gateway;
    let scheme = if gw.settings.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let signer = gw.signer.current();
    eprintln!(
        "armoriq serve: backend {scheme}://{} · proxy {scheme}://{} · store {} · state {} · config {} · MCP servers: {}",
        gw.settings.backend_addr,
        gw.settings.proxy_addr,
        gw.settings.store_location().redacted(),
        gw.settings.state_dir.display(),
        built
            .config_path
            .as_deref()
            .map_or("(none)".to_owned(), |p| p.display().to_string()),
        if gw.mcp.ids().is_empty() {
            "(none)".to_owned()
        } else {
            gw.mcp.ids().join(", ")
        }
    );
    if let Some(p) = &built.policy_path {
        eprintln!("armoriq serve: Armor Policy v2 from {}", p.display());
    }
    if let Some(v) = built.policy_version {
        eprintln!("armoriq serve: Armor Policy v2 version {v} from the store");
    }
    eprintln!(
        "armoriq serve: signing key kid {}{}",
        signer.kid,
        signer
            .generation
            .map_or(" (state directory)".to_owned(), |g| format!(
                " (generation {g} in the store)"
            ))
    );
    if telemetry.is_some() {
        eprintln!("armoriq serve: traces to the OTLP/HTTP collector named by OTEL_EXPORTER_OTLP_*");
    }
    let served = rt.block_on(async { built.start().await?.until_signal().await });
    if let Some(t) = telemetry
        && let Err(e) = t.shutdown()
    {
        eprintln!("armoriq serve: flushing traces: {e}");
    }
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e, EXIT_BAD_INPUT),
    }
}

/// Log lines to stderr (`ARMORIQ_LOG`, default `info`) and, with traces on,
/// the gateway's spans (debug level, so they cost nothing when off) to the
/// exporter.
fn init_logging(telemetry: Option<&armoriq_gateway::telemetry::Telemetry>) {
    use tracing_subscriber::Layer as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_filter(
            tracing_subscriber::EnvFilter::try_from_env("ARMORIQ_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        );
    let spans = telemetry.map(|t| {
        t.layer()
            .with_filter(tracing_subscriber::filter::Targets::new().with_target(
                "armoriq_gateway",
                tracing_subscriber::filter::LevelFilter::DEBUG,
            ))
    });
    let _ = tracing_subscriber::registry()
        .with(log)
        .with(spans)
        .try_init();
}

/// A flag's seconds as a duration: finite, not negative, zero only when
/// `zero_ok`, at most a day.
fn seconds(v: f64, flag: &str, zero_ok: bool) -> Result<Duration, String> {
    match Duration::try_from_secs_f64(v) {
        Ok(d) if d <= Duration::from_secs(86_400) && (zero_ok || !d.is_zero()) => Ok(d),
        _ => Err(format!(
            "{flag} {v}: give seconds, {} to 86400",
            if zero_ok { "0" } else { "more than 0" }
        )),
    }
}

/// `armoriq approve ID` / `armoriq reject ID`.
#[derive(Args, Debug)]
pub struct DecideArgs {
    /// The delegation id (`deleg_…`).
    id: String,
    #[command(flatten)]
    state: StateArgs,
    /// Who decides, as recorded on the delegation and in the audit row (an
    /// email, or `Name <email>`: when the policy names approvers, it must
    /// be one of them). Default: `cli:$USER`.
    #[arg(long)]
    by: Option<String>,
    /// Why (recorded with the decision).
    #[arg(long)]
    reason: Option<String>,
}

/// Approves or rejects a pending delegation (the operations layer's
/// [`armoriq_gateway::ops::decide`]: the decision and its audit row).
pub fn decide(a: &DecideArgs, approve: bool) -> ExitCode {
    use armoriq_gateway::error::GatewayError;
    use armoriq_gateway::ops::{self, Actor, Surface};
    let store = match a.state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let by = a.by.clone().unwrap_or_else(|| {
        std::env::var("USER").map_or_else(|_| "cli".to_owned(), |u| format!("cli:{u}"))
    });
    let actor = Actor::new(&by, Surface::Cli);
    let decided = block(async {
        Ok(ops::decide(
            store.as_ref(),
            &actor,
            &a.id,
            approve,
            a.reason.as_deref(),
            now_ms(),
        )
        .await
        .map_err(|e| (matches!(e, GatewayError::NotFound(_)), e.reason())))
    })
    .unwrap_or_else(|e| Err((false, e)));
    match decided {
        Ok(d) => {
            if a.state.json {
                println!("{}", serde_json::to_string(&d).unwrap_or_default());
            } else {
                println!("{} {}: {}", d.id, d.status, ops::bound_call(&d));
            }
            ExitCode::SUCCESS
        }
        Err((true, e)) => fail(
            format!("Delegation: {e} (see `armoriq delegations`)"),
            EXIT_BAD_INPUT,
        ),
        Err((false, e)) => fail(format!("Delegation: {e}"), EXIT_REJECTED),
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
    let store = match a.state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
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
                        "{}  {:<9} {}  requested by {}  expires {}",
                        d.id,
                        d.status,
                        armoriq_gateway::ops::bound_call(&d),
                        d.requester_email.as_deref().unwrap_or("?"),
                        armoriq_gateway::policy::iso_time_ms(d.expires_ms)
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
    /// Check every device receipt in the log against the enrolled device key
    /// and the counter sequence (a gap or a repeat is reported); exit 1 on
    /// any finding.
    #[arg(long, conflicts_with = "follow")]
    verify_receipts: bool,
}

pub(crate) fn print_row(r: &AuditRow, json: bool) {
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
    if let Some(v) = &r.device_verdict {
        println!(
            "       device: {v}, {}µs{}",
            r.device_latency_us.unwrap_or_default(),
            if r.receipt.is_some() { ", receipt" } else { "" }
        );
    }
}

/// `logs --verify-receipts`: the whole log, checked.
fn verify_receipts(
    dir: &std::path::Path,
    page: &dyn Fn(AuditCursor) -> Result<armoriq_gateway::store::AuditPage, String>,
    json: bool,
) -> ExitCode {
    use armoriq_gateway::device::{enrolled, log_check};
    let key = match enrolled::load(dir).and_then(|e| {
        e.ok_or_else(|| format!("no device enrolled in {}", dir.display()))?
            .key()
    }) {
        Ok(k) => k,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let mut rows = Vec::new();
    let mut after = AuditCursor::START;
    loop {
        match page(after) {
            Ok(p) if p.rows.is_empty() => break,
            Ok(p) => {
                after = p.next;
                rows.extend(p.rows);
            }
            Err(e) => return fail(e, EXIT_BAD_INPUT),
        }
    }
    let report = match log_check::verify_receipts(&rows, &key) {
        Ok(r) => r,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    // A device restart (a later boot whose first counter is a block's
    // first): reported, not a finding (SPEC §7).
    let restarts: Vec<_> = report
        .restarts
        .iter()
        .map(|r| serde_json::json!({"row": r.row, "boot": r.boot, "skipped": [r.from, r.to]}))
        .collect();
    if json {
        let findings: Vec<_> = report
            .findings
            .iter()
            .map(|f| serde_json::json!({"row": f.row, "problem": f.problem}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"rows": rows.len(), "verified": report.verified,
                               "counters": report.counters, "findings": findings,
                               "restarts": restarts})
        );
    } else {
        for r in &report.restarts {
            println!(
                "row {}: device restart (boot {}): counters {}..{} never signed, not a gap",
                r.row, r.boot, r.from, r.to
            );
        }
        for f in &report.findings {
            println!("row {}: {}", f.row, f.problem);
        }
        println!(
            "{} rows, {} receipts verified (counters {}), {} findings",
            rows.len(),
            report.verified,
            report
                .counters
                .map_or("-".to_owned(), |(a, b)| format!("{a}..{b}")),
            report.findings.len()
        );
    }
    if report.findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_REJECTED)
    }
}

/// Prints the audit log.
pub fn logs(a: &LogsArgs) -> ExitCode {
    let store = match a.state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let page = |after| run(store.audit_page(after, 5000));
    if a.verify_receipts {
        return verify_receipts(&a.state.dir(), &page, a.state.json);
    }
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
