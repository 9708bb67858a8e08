//! [`GatewayBuilder`]: the one way a gateway is started — by `armoriq serve`,
//! by the end-to-end tests and by the benchmarks alike.
//!
//! It does what a first start needs, in order: find `armoriq.yaml` and the
//! Armor Policy v2 file, create the state directory (mode 0700), open the
//! store (`--store`, else `armoriq.db` in the state directory), create the
//! first API key when there is none (shown once), load the signing keys
//! (from the store when an operator secret is given or the store is shared,
//! see [`crate::signer`]), then bind the listeners (HTTPS with
//! `--tls-cert/--tls-key`), follow the store's change feed
//! ([`crate::sync`]) and watch the policy file for changes (or, with
//! `--store`, the store's policy documents).

use crate::sealed::OperatorSecret;
use crate::settings::Settings;
use crate::signer::KeyRing;
use crate::store::{Role, SqliteStore, Store, StoreLocation, default_node, open_store_with};
use crate::{AppState, Gateway, policy::Policy};
use armoriq_common::yaml::{ArmorIqYaml, PolicyLists};
use std::future::IntoFuture;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How often the policy file is checked for changes.
pub const POLICY_POLL: Duration = Duration::from_secs(2);

/// Where `armoriq.yaml` comes from.
#[derive(Clone, Debug, Default)]
enum ConfigSource {
    /// `./armoriq.yaml` when it exists.
    #[default]
    Discover,
    /// This file (it must exist).
    File(PathBuf),
    /// None.
    Off,
}

/// The first API key, when the store has none.
#[derive(Clone, Debug, Default)]
enum FirstKey {
    /// Generate one and report it once ([`Built::first_key`]).
    #[default]
    Generate,
    /// Install this one (tests, scripted setups).
    Given(String, Role),
}

/// Builds a [`Gateway`] from settings, files and a store.
#[derive(Clone, Debug)]
pub struct GatewayBuilder {
    settings: Settings,
    config: ConfigSource,
    policy_path: Option<PathBuf>,
    first_key: FirstKey,
    secret: Option<Arc<OperatorSecret>>,
}

impl Default for GatewayBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// A gateway built and ready to serve, with what a first start created.
pub struct Built {
    /// The gateway.
    pub gateway: AppState,
    /// The API key created because the store had none (show it once).
    pub first_key: Option<String>,
    /// `armoriq.yaml`, if one was read.
    pub config_path: Option<PathBuf>,
    /// The Armor Policy v2 file in force, if any.
    pub policy_path: Option<PathBuf>,
    /// The file watched for policy reloads (it may not exist yet); `None`
    /// when policy comes from the store (`--store`).
    pub watched_policy: Option<PathBuf>,
    /// The stored policy document in force, if policy came from the store.
    pub policy_version: Option<i64>,
    /// `--tls-cert/--tls-key`, read and checked at build (before any
    /// listener binds).
    tls: Option<tokio_rustls::TlsAcceptor>,
}

/// A gateway serving on its listeners, stopped by [`Running::shutdown`] or
/// when dropped.
pub struct Running {
    /// The gateway's state (store, policy, caches).
    pub gateway: AppState,
    /// The backend (IAP) listener's address.
    pub backend_addr: SocketAddr,
    /// The proxy listener's address (equal to the backend's when shared).
    pub proxy_addr: SocketAddr,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<Result<(), String>>>,
}

impl GatewayBuilder {
    /// Defaults: [`Settings::defaults`], `./armoriq.yaml` when present,
    /// `policy.json` beside it or in the state directory, a generated first
    /// key.
    pub fn new() -> Self {
        Self {
            settings: Settings::defaults(),
            config: ConfigSource::Discover,
            policy_path: None,
            first_key: FirstKey::Generate,
            secret: None,
        }
    }

    /// Opens the store at `loc` (`--store`) instead of `armoriq.db` in the
    /// state directory. Policy documents then come from the store.
    pub fn store(mut self, loc: StoreLocation) -> Self {
        self.settings.store = Some(loc);
        self
    }

    /// The operator secret (`ARMORIQ_SECRET` / `--secret-file`): the
    /// signing keys then live in the store, sealed under it. Required on a
    /// shared store.
    pub fn secret(mut self, secret: Option<Arc<OperatorSecret>>) -> Self {
        self.secret = secret;
        self
    }

    /// Starts from these settings (addresses, limits, state directory).
    pub fn settings(mut self, settings: Settings) -> Self {
        self.settings = settings;
        self
    }

    /// The settings as they stand, to change one field.
    pub fn settings_mut(&mut self) -> &mut Settings {
        &mut self.settings
    }

    /// The state directory (database, signing key, installed policy).
    pub fn state_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.settings.state_dir = dir.into();
        self
    }

    /// Both listeners' addresses (port 0 picks a free port; see [`Running`]).
    pub fn listen(mut self, backend: SocketAddr, proxy: SocketAddr) -> Self {
        self.settings.backend_addr = backend;
        self.settings.proxy_addr = proxy;
        self
    }

    /// Reads `armoriq.yaml` from `path` (`None`: `./armoriq.yaml` if present).
    pub fn config(mut self, path: Option<PathBuf>) -> Self {
        self.config = path.map_or(ConfigSource::Discover, ConfigSource::File);
        self
    }

    /// Reads no `armoriq.yaml` at all.
    pub fn no_config(mut self) -> Self {
        self.config = ConfigSource::Off;
        self
    }

    /// The Armor Policy v2 file (`None`: `policy.json` beside `armoriq.yaml`,
    /// else the one `armoriq policy load` installed in the state directory).
    pub fn policy(mut self, path: Option<PathBuf>) -> Self {
        self.policy_path = path;
        self
    }

    /// Installs `key` with `role` when the store has no key yet, instead of
    /// generating one.
    pub fn first_api_key(mut self, key: impl Into<String>, role: Role) -> Self {
        self.first_key = FirstKey::Given(key.into(), role);
        self
    }

    /// Reads the files, opens the store (`--store`, else the SQLite file in
    /// the state directory) and builds the gateway.
    ///
    /// # Errors
    /// A message naming the file or setting at fault (a configuration error).
    pub async fn build(self) -> Result<Built, String> {
        let store: Arc<dyn Store> = match &self.settings.store {
            None => Arc::new(open_state_store(&self.settings.state_dir)?),
            Some(loc) => {
                // The state directory still holds the device enrolment and
                // (without a secret) the signing key.
                create_state_dir(&self.settings.state_dir)?;
                open_store_with(loc, &default_node(), self.settings.query_timeout).await?
            }
        };
        self.build_with_store(store).await
    }

    /// As [`GatewayBuilder::build`], over a store the caller opened.
    ///
    /// # Errors
    /// A message naming the file or setting at fault.
    pub async fn build_with_store(mut self, store: Arc<dyn Store>) -> Result<Built, String> {
        let config_path = match &self.config {
            ConfigSource::Discover => Some(PathBuf::from("armoriq.yaml")).filter(|p| p.exists()),
            ConfigSource::File(p) => Some(p.clone()),
            ConfigSource::Off => None,
        };
        let config = config_path.as_deref().map(ArmorIqYaml::load).transpose()?;
        let dir = self.settings.state_dir.clone();
        let policy_path = self.policy_path.clone().or_else(|| {
            let beside = config_path
                .as_deref()
                .and_then(Path::parent)
                .unwrap_or(Path::new("."))
                .join("policy.json");
            [beside, dir.join("policy.json")]
                .into_iter()
                .find(|p| p.exists())
        });
        let watched_policy = policy_path
            .clone()
            .unwrap_or_else(|| dir.join("policy.json"));
        let (stored, policy_version) = if self.settings.policy_from_store() {
            match store.current_policy().await.map_err(|e| e.to_string())? {
                Some(doc) => {
                    let v: serde_json::Value = serde_json::from_str(&doc.json)
                        .map_err(|e| format!("stored policy version {}: {e}", doc.version))?;
                    (Some(v), Some(doc.version))
                }
                None => (None, None),
            }
        } else {
            (None, None)
        };
        // A stored document wins; without one, the file (as with one gateway).
        let bound = match stored {
            Some(b) => Some(b),
            None => policy_path.as_deref().map(load_policy_bound).transpose()?,
        };
        let policy_path = policy_path.filter(|_| policy_version.is_none());
        let lists = config
            .as_ref()
            .map(|c| c.policy.clone())
            .unwrap_or_default();
        let policy = Policy::new(lists, bound.as_ref())?;
        let first_key = ensure_first_key(store.as_ref(), &self.first_key).await?;
        self.settings.config = config;
        self.settings.config_path.clone_from(&config_path);
        // A session cookie sent over HTTPS only.
        self.settings.secure_cookies |= self.settings.tls.is_some();
        let tls = self
            .settings
            .tls
            .as_ref()
            .map(crate::tls::acceptor)
            .transpose()?;
        let keys = load_keys(&self.settings, store.as_ref(), self.secret.clone()).await?;
        let watched_policy = (!self.settings.policy_from_store()).then_some(watched_policy);
        let gateway = Arc::new(Gateway::with_keys(self.settings, store, policy, keys));
        if let Some(d) = gateway.settings.device.clone() {
            let link = tokio::task::spawn_blocking(move || crate::device::connect(&d, &dir))
                .await
                .map_err(|e| format!("device: {e}"))??;
            let _ = gateway.device.set(link);
        }
        Ok(Built {
            gateway,
            first_key,
            config_path,
            policy_path,
            watched_policy,
            policy_version,
            tls,
        })
    }
}

/// The signing keys: from the store when a secret is given (required on a
/// shared store), else the state directory's file.
///
/// # Errors
/// A shared store without a secret, sealed keys in the store without a
/// secret, a secret that does not open them, or the file or store failed.
async fn load_keys(
    settings: &Settings,
    store: &dyn Store,
    secret: Option<Arc<OperatorSecret>>,
) -> Result<KeyRing, String> {
    let loc = settings.store_location();
    match secret {
        Some(s) => KeyRing::from_store(store, s).await,
        None if loc.is_shared() => Err(format!(
            "{} is shared by several gateways, so the IAP signing key lives in it, sealed \
             under the operator secret: set ARMORIQ_SECRET or pass --secret-file FILE \
             (the same secret on every gateway)",
            loc.redacted()
        )),
        None => {
            let stored = store.signing_keys().await.map_err(|e| e.to_string())?;
            if !stored.is_empty() {
                return Err(format!(
                    "{} holds sealed signing keys ({} generations): set ARMORIQ_SECRET or \
                     pass --secret-file FILE to use them",
                    loc.redacted(),
                    stored.len()
                ));
            }
            KeyRing::from_state_dir(&settings.state_dir)
        }
    }
}

impl Built {
    /// Binds both listeners, starts serving and watching the policy file.
    ///
    /// # Errors
    /// A listener cannot bind.
    pub async fn start(self) -> Result<Running, String> {
        let gw = self.gateway;
        let bind = |addr: SocketAddr| async move {
            tokio::net::TcpListener::bind(addr)
                .await
                .map_err(|e| format!("cannot listen on {addr}: {e}"))
        };
        let backend = bind(gw.settings.backend_addr).await?;
        let backend_addr = backend.local_addr().map_err(|e| e.to_string())?;
        let proxy = if gw.settings.proxy_addr == gw.settings.backend_addr {
            None
        } else {
            Some(bind(gw.settings.proxy_addr).await?)
        };
        let proxy_addr = match &proxy {
            Some(p) => p.local_addr().map_err(|e| e.to_string())?,
            None => backend_addr,
        };
        let (stop, stopped) = watch::channel(false);
        let mut tasks = Vec::new();
        let tls = self.tls;
        let routers = [crate::backend_app(gw.clone()), crate::app(gw.clone())];
        for (listener, router) in std::iter::once(backend).chain(proxy).zip(routers) {
            let mut stopped = stopped.clone();
            if let Some(acceptor) = tls.clone() {
                tasks.push(tokio::spawn(crate::tls::serve(
                    listener,
                    acceptor,
                    router,
                    stopped,
                    gw.settings.shutdown_grace,
                )));
                continue;
            }
            let mut told = stopped.clone();
            let serve = axum::serve(listener, router).with_graceful_shutdown(async move {
                let _ = stopped.wait_for(|s| *s).await;
            });
            let grace = gw.settings.shutdown_grace;
            tasks.push(tokio::spawn(async move {
                // Once told to stop, the connections in flight get the
                // grace to finish; then they are dropped with this future.
                let past_grace = async {
                    crate::sync::until_stopped(&mut told).await;
                    tokio::time::sleep(grace).await;
                };
                tokio::select! {
                    r = serve.into_future() => r.map_err(|e| e.to_string()),
                    () = past_grace => {
                        tracing::warn!(
                            grace_ms = ms(grace),
                            "shutdown: HTTP connections still busy past the grace, closed"
                        );
                        Ok(())
                    }
                }
            }));
        }
        if let crate::metrics::MetricsAccess::Listen(addr) = gw.settings.metrics {
            // Plain HTTP, as scrapers expect; bind it to a private address.
            let listener = bind(addr).await?;
            let mut stopped = stopped.clone();
            let serve = axum::serve(listener, crate::metrics_app(gw.clone()))
                .with_graceful_shutdown(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                });
            tasks.push(tokio::spawn(async move {
                serve.await.map_err(|e| e.to_string())
            }));
        }
        let sync = tokio::spawn(crate::sync::follow(
            gw.clone(),
            self.policy_version,
            stopped.clone(),
        ));
        tasks.push(tokio::spawn(async move {
            let _ = sync.await;
            Ok(())
        }));
        if let Some(path) = self.watched_policy {
            let lists = gw
                .settings
                .config
                .as_ref()
                .map(|c| c.policy.clone())
                .unwrap_or_default();
            let watcher = tokio::spawn(watch_policy(gw.clone(), path, lists, stopped));
            tasks.push(tokio::spawn(async move {
                let _ = watcher.await;
                Ok(())
            }));
        }
        Ok(Running {
            gateway: gw,
            backend_addr,
            proxy_addr,
            stop,
            tasks,
        })
    }
}

impl Running {
    /// The backend's base URL, `http://ADDR` (`https://` with TLS).
    pub fn backend_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.backend_addr)
    }

    /// The proxy's base URL, `http://ADDR` (`https://` with TLS).
    pub fn proxy_url(&self) -> String {
        format!("{}://{}", self.scheme(), self.proxy_addr)
    }

    fn scheme(&self) -> &'static str {
        if self.gateway.settings.tls.is_some() {
            "https"
        } else {
            "http"
        }
    }

    /// Serves until Ctrl-C or SIGTERM, then stops gracefully.
    ///
    /// # Errors
    /// A listener failed.
    pub async fn until_signal(self) -> Result<(), String> {
        shutdown_signal().await;
        self.shutdown().await
    }

    /// Stops accepting (both listeners close at once: new connections are
    /// refused), lets requests in flight finish within the shutdown grace
    /// (`serve --shutdown-grace`; past it their connections are closed),
    /// then flushes the audit writer, so every row handed to it is durable
    /// before this returns. A call answered 2xx had its row durable before
    /// its answer went out; the flush covers the rows of calls still being
    /// decided when the grace ran out. Logs each step.
    ///
    /// # Errors
    /// A listener failed while serving. (Audit rows the store could not
    /// write at the end are logged: their calls were answered 503, so no
    /// acknowledged row is missing.)
    pub async fn shutdown(mut self) -> Result<(), String> {
        let t0 = tokio::time::Instant::now();
        let grace = self.gateway.settings.shutdown_grace;
        tracing::info!(
            grace_ms = ms(grace),
            "shutdown: no longer accepting; letting calls in flight finish"
        );
        let _ = self.stop.send(true);
        let deadline = t0 + grace;
        let mut cut = 0;
        let mut failed = None;
        for mut t in std::mem::take(&mut self.tasks) {
            // The listeners bound their own drain by the grace; this bounds
            // the rest (the change feed, the policy watcher), with a margin.
            match tokio::time::timeout_at(deadline + Duration::from_secs(1), &mut t).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => failed = Some(e),
                Ok(Err(e)) => failed = Some(e.to_string()),
                Err(_) => {
                    t.abort();
                    cut += 1;
                }
            }
        }
        let drained = t0.elapsed();
        if cut > 0 {
            tracing::warn!(tasks = cut, "shutdown: still busy past the grace, stopped");
        }
        let flushed = tokio::time::timeout(
            self.gateway
                .settings
                .query_timeout
                .max(Duration::from_secs(5)),
            self.gateway.store.flush_audit(),
        )
        .await;
        match flushed {
            Ok(Ok(())) => tracing::info!(
                drained_ms = ms(drained),
                total_ms = ms(t0.elapsed()),
                "shutdown: calls finished, audit flushed"
            ),
            // Rows that could not be written were answered 503 (their
            // calls got no 2xx): said in the log, and the stop is still clean.
            Ok(Err(e)) => tracing::error!(
                error = %e,
                "shutdown: the last audit rows could not be written (their calls were refused)"
            ),
            Err(_) => tracing::error!("shutdown: the audit writer did not finish in time"),
        }
        failed.map_or(Ok(()), Err)
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Creates the state directory (mode 0700) and opens `armoriq.db` in it.
///
/// # Errors
/// The directory or the database cannot be created or opened.
pub fn open_state_store(dir: &Path) -> Result<SqliteStore, String> {
    create_state_dir(dir)?;
    SqliteStore::open(&dir.join("armoriq.db")).map_err(|e| e.to_string())
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

/// A new API key: `prefix` (`ak_test_` or `ak_live_`) and 32 random hex digits.
///
/// # Errors
/// The system RNG failed.
pub fn new_api_key(prefix: &str) -> Result<String, String> {
    let mut b = [0u8; 16];
    aws_lc_rs::rand::fill(&mut b).map_err(|_| "system RNG failed".to_owned())?;
    Ok(format!("{prefix}{}", hex::encode(b)))
}

async fn ensure_first_key(store: &dyn Store, first: &FirstKey) -> Result<Option<String>, String> {
    if store.count_api_keys().await.map_err(|e| e.to_string())? > 0 {
        return Ok(None);
    }
    match first {
        FirstKey::Generate => {
            let k = new_api_key("ak_test_")?;
            store
                .add_api_key(&k, Role::Agent, "first start")
                .await
                .map_err(|e| e.to_string())?;
            Ok(Some(k))
        }
        // Several gateways starting together on one store: the others
        // installed the same key first, which is what was asked.
        FirstKey::Given(k, role) => match store.add_api_key(k, *role, "first start").await {
            Ok(_) | Err(crate::store::StoreError::Conflict(_)) => Ok(None),
            Err(e) => Err(e.to_string()),
        },
    }
}

/// Reads a policy file (a bound `{floor?, agent?, group?}` or one document).
///
/// # Errors
/// The file cannot be read or is not JSON.
pub fn load_policy_bound(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Reloads the policy file when it changes (checked every [`POLICY_POLL`]).
/// A file that does not load is reported and the policy in force stays.
async fn watch_policy(
    gw: AppState,
    path: PathBuf,
    lists: PolicyLists,
    mut stopped: watch::Receiver<bool>,
) {
    let stamp = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let mut last = stamp(&path);
    loop {
        tokio::select! {
            () = tokio::time::sleep(POLICY_POLL) => {}
            _ = stopped.wait_for(|s| *s) => return,
        }
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
                gw.set_policy(p);
                tracing::info!("policy reloaded from {}", path.display());
            }
            Err(e) => tracing::error!("policy not reloaded: {e}"),
        }
    }
}

/// Ctrl-C, or SIGTERM on Unix.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
}
