//! Everything `armoriq serve` runs with: flags and their environment
//! variables, with `armoriq.yaml` (read by [`armoriq_common::yaml`]).

use crate::store::StoreLocation;
use armoriq_common::yaml::ArmorIqYaml;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Everything `armoriq serve` runs with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Holds `armoriq.db` and the signing key.
    pub state_dir: PathBuf,
    /// Backend (IAP) listener; the official SDK's local default is 127.0.0.1:3000.
    pub backend_addr: SocketAddr,
    /// Proxy listener; the official SDK's local default is 127.0.0.1:3001.
    pub proxy_addr: SocketAddr,
    /// `armoriq.yaml`, if any.
    pub config: Option<ArmorIqYaml>,
    /// Where `armoriq.yaml` was read from (for `policy.json` beside it).
    pub config_path: Option<PathBuf>,
    /// Largest request body accepted.
    pub body_limit: usize,
    /// How long one MCP call may take before the client gets MCPInvocation.
    pub mcp_timeout: Duration,
    /// Token lifetime bounds (seconds).
    pub max_token_ttl: i64,
    /// Clock skew allowed on token checks (seconds).
    pub leeway: u64,
    /// Entries in the verified-token cache.
    pub token_cache_entries: usize,
    /// `iss` of minted tokens.
    pub issuer: String,
    /// `aud` of minted tokens (and what the proxy expects).
    pub audience: String,
    /// `--device`: every call is also checked on this verifier device.
    pub device: Option<crate::device::DeviceSettings>,
    /// Console session cookies carry `Secure` (turn on with TLS).
    pub secure_cookies: bool,
    /// How long a console sign-in lasts.
    pub console_session_ttl: Duration,
    /// `--approval-ttl`: how long a held call waits for a decision, and how
    /// long an approval may then be used (counted from the decision).
    pub approval_ttl: Duration,
    /// `--store`: where the state lives (`None`: `armoriq.db` in
    /// [`Settings::state_dir`]).
    pub store: Option<StoreLocation>,
    /// `--tls-cert` / `--tls-key`: serve both listeners over HTTPS.
    pub tls: Option<crate::tls::TlsFiles>,
    /// How long an unfinished `Idempotency-Key` reservation may go without
    /// a heartbeat before another request takes it over (its holder is
    /// presumed dead, and fenced out: it can no longer store its mint). A
    /// live holder renews it every quarter of this, so a slow mint keeps it.
    pub idempotency_stale: Duration,
    /// `--metrics`: who may read `/metrics`, and on which listener.
    pub metrics: crate::metrics::MetricsAccess,
    /// `--pg-query-timeout`: the longest a PostgreSQL statement may go
    /// without an answer byte before its connection is given up (the call
    /// gets `Unavailable`, 503); the server's own `statement_timeout` is
    /// set a little below it. Also bounds the store ping of `GET /ready`.
    pub query_timeout: Duration,
    /// `--shutdown-grace`: after SIGTERM, how long calls in flight get to
    /// finish before the listeners are closed under them.
    pub shutdown_grace: Duration,
    /// Tests only: how long each mint waits, its token signed, before its
    /// plan is stored (an artificially slow mint).
    #[cfg(test)]
    pub mint_delay: Duration,
}

impl Settings {
    /// Defaults: state in `$ARMORIQ_HOME` or `~/.armoriq/gateway`, the SDK's
    /// local ports, 1 MiB bodies, 30 s MCP timeout.
    pub fn defaults() -> Self {
        Self {
            state_dir: default_state_dir(),
            backend_addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            proxy_addr: SocketAddr::from(([127, 0, 0, 1], 3001)),
            config: None,
            config_path: None,
            body_limit: 1 << 20,
            mcp_timeout: Duration::from_secs(30),
            max_token_ttl: 24 * 3600,
            leeway: 0,
            token_cache_entries: 10_000,
            issuer: "armoriq-gateway".into(),
            audience: "armoriq-proxy".into(),
            device: None,
            secure_cookies: false,
            console_session_ttl: Duration::from_secs(8 * 3600),
            approval_ttl: Duration::from_secs(30 * 60),
            store: None,
            tls: None,
            idempotency_stale: Duration::from_secs(60),
            metrics: crate::metrics::MetricsAccess::Open,
            query_timeout: crate::store::DEFAULT_QUERY_TIMEOUT,
            shutdown_grace: Duration::from_secs(10),
            #[cfg(test)]
            mint_delay: Duration::ZERO,
        }
    }

    /// Where the state lives: `--store`, else `armoriq.db` in the state
    /// directory.
    pub fn store_location(&self) -> StoreLocation {
        self.store
            .clone()
            .unwrap_or_else(|| StoreLocation::in_state_dir(&self.state_dir))
    }

    /// Whether the store was named explicitly (`--store`): then policy
    /// documents come from the store (`armoriq policy load --store`), not
    /// from the state directory's `policy.json`.
    pub fn policy_from_store(&self) -> bool {
        self.store.is_some()
    }
}

/// `$ARMORIQ_STATE_DIR`, else `~/.armoriq/gateway`, else `./.armoriq-gateway`.
pub fn default_state_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("ARMORIQ_STATE_DIR") {
        return PathBuf::from(d);
    }
    match std::env::var_os("HOME") {
        Some(h) => PathBuf::from(h).join(".armoriq").join("gateway"),
        None => PathBuf::from(".armoriq-gateway"),
    }
}
