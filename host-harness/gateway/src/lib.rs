//! `armoriq serve`: the intent access point (IAP), the proxy, policy, audit
//! and MCP forwarding, on the routes the official Python SDK 0.8.17 calls.
//!
//! * [`builder`]: [`builder::GatewayBuilder`], the one way to start a gateway.
//! * [`settings`]: what `armoriq serve` runs with.
//! * [`store`]: durable state behind the async [`store::Store`] trait (SQLite).
//! * [`tokens`]: the IAP key, minting, the verified-token cache.
//! * [`signer`]: where the IAP keys come from (state dir or store), swapped
//!   at runtime; [`sealed`]: the operator secret that seals them.
//! * [`sync`]: following the store's change feed (revocations, rotations,
//!   policy loads by other gateways).
//! * [`tls`]: HTTPS listeners (`serve --tls-cert/--tls-key`).
//! * [`plans`]: minted plans with their step proofs.
//! * [`policy`]: allow / hold / block.
//! * [`mcp`]: forwarding `tools/call` with `rmcp`.
//! * [`iap`], [`proxy`], [`sdk`]: the routes.
//! * [`catalogue`]: the MCP servers and their tool schemas.
//! * [`preflight`]: a plan's tool calls against policy before any token.
//! * [`intent`]: the intent check (token intake, plan loading, delegated
//!   and re-anchored plans, the step check); no routes.
//! * [`trust`], [`reanchor`], [`subtree`]: delegate, delegate_subtree,
//!   reanchor, revoke (signed records).
//! * [`usage`]: LLM token usage (`/dashboard/token-usage*`).
//! * [`auth`]: the API key as an extractor ([`auth::ApiKey`], [`auth::AdminKey`]).
//! * [`audit`]: one way to audit a decision or a refusal.
//! * [`error`]: one error type, one status/body mapping.
//! * [`console`]: the web console at `/console` (backend listener only).
//! * [`ready`]: `GET /ready`, the readiness probe (`/health` is liveness).

pub mod audit;
pub mod auth;
pub mod builder;
pub mod catalogue;
pub mod console;
pub mod device;
pub mod error;
pub mod held;
pub mod iap;
pub mod intent;
pub mod mcp;
pub mod mcp_http;
pub mod metrics;
pub mod ops;
pub mod plans;
pub mod policy;
pub mod preflight;
pub mod proxy;
pub mod ready;
pub mod reanchor;
pub mod sdk;
pub mod sealed;
pub mod settings;
pub mod signer;
pub mod store;
pub mod subtree;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod tokens;
pub mod trust;
pub mod usage;

#[cfg(test)]
mod multi_node_tests;

use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use error::{GatewayError, GwResult};
use serde::de::DeserializeOwned;
use settings::Settings;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};
use store::{AuditRow, KeyInfo, Role, Store};

/// Shared state of every route.
pub struct Gateway {
    /// Settings.
    pub settings: Settings,
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// The IAP keys (swapped when another gateway rotates).
    pub signer: signer::KeyRing,
    /// Verified tokens.
    pub token_cache: tokens::TokenCache,
    /// Ready plans.
    pub plans: plans::PlanCache,
    /// Policy.
    pub policy: RwLock<Arc<policy::Policy>>,
    /// MCP servers.
    pub mcp: mcp::McpPool,
    /// The verifier device every call is checked on (`serve --device`), once
    /// connected; empty: host check only.
    pub device: std::sync::OnceLock<device::DeviceLink>,
    /// Their tool schemas (short-lived cache).
    pub tools: catalogue::ToolCache,
    /// What `/metrics` reports.
    pub metrics: metrics::Metrics,
    key_cache: RwLock<HashMap<String, (KeyInfo, Instant)>>,
    key_cache_ttl: Duration,
}

/// The state handle routes get.
pub type AppState = Arc<Gateway>;

/// How long a verified API key is trusted without asking the store again
/// (one gateway: revocations through this gateway drop it at once, and
/// `armoriq keys revoke` in another process is seen within this).
const KEY_CACHE_TTL: Duration = Duration::from_secs(5);

/// The same on a shared store: the change feed drops a revoked key at once;
/// this bounds how long a lost notification could keep one usable.
pub const SHARED_KEY_CACHE_TTL: Duration = Duration::from_secs(2);

/// How long a ready plan is served from the cache on a shared store
/// without asking the store for its status again (the change feed drops a
/// revoked plan at once; this is the backstop). One gateway keeps plans
/// until they are revoked through it.
pub const SHARED_PLAN_CACHE_TTL: Duration = Duration::from_secs(2);

impl Gateway {
    /// Builds the gateway over `store` with the signing key in the state dir.
    ///
    /// # Errors
    /// The key cannot be loaded or created.
    pub fn new(
        settings: Settings,
        store: Arc<dyn Store>,
        policy: policy::Policy,
    ) -> Result<Self, String> {
        let signer = signer::KeyRing::from_state_dir(&settings.state_dir)?;
        Ok(Self::with_keys(settings, store, policy, signer))
    }

    /// Builds the gateway over `store` with these keys.
    pub fn with_keys(
        settings: Settings,
        store: Arc<dyn Store>,
        policy: policy::Policy,
        signer: signer::KeyRing,
    ) -> Self {
        let shared = settings.store_location().is_shared();
        let servers = settings
            .config
            .as_ref()
            .map(|c| c.mcp_servers.clone())
            .unwrap_or_default();
        let token_cache = tokens::TokenCache::new(settings.token_cache_entries);
        let server_ids: Vec<String> = servers.iter().map(|s| s.id.clone()).collect();
        let metrics = metrics::Metrics::with_switch(
            store.node(),
            &server_ids,
            token_cache.hits.clone(),
            token_cache.misses.clone(),
            settings.metrics != metrics::MetricsAccess::Off,
        );
        Self {
            mcp: mcp::McpPool::new(&servers, settings.mcp_timeout),
            tools: catalogue::ToolCache::new(),
            token_cache,
            metrics,
            plans: plans::PlanCache::new(4096).with_ttl(shared.then_some(SHARED_PLAN_CACHE_TTL)),
            policy: RwLock::new(Arc::new(policy)),
            key_cache: RwLock::new(HashMap::new()),
            key_cache_ttl: if shared {
                SHARED_KEY_CACHE_TTL
            } else {
                KEY_CACHE_TTL
            },
            device: std::sync::OnceLock::new(),
            signer,
            store,
            settings,
        }
    }

    /// Forgets every verified API key (one was revoked somewhere).
    pub fn forget_api_keys(&self) {
        match self.key_cache.write() {
            Ok(mut m) => m.clear(),
            Err(e) => e.into_inner().clear(),
        }
    }

    /// Number of API keys verified and cached.
    pub fn cached_api_keys(&self) -> usize {
        self.key_cache.read().map(|m| m.len()).unwrap_or(0)
    }

    /// Puts `policy` in force for every request that starts from now on.
    pub fn set_policy(&self, policy: policy::Policy) {
        match self.policy.write() {
            Ok(mut slot) => *slot = Arc::new(policy),
            Err(e) => *e.into_inner() = Arc::new(policy),
        }
    }

    /// The current policy.
    pub fn policy(&self) -> Arc<policy::Policy> {
        self.policy
            .read()
            .map(|p| p.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Checks the API key in `X-API-Key` or `Authorization: Bearer`.
    ///
    /// # Errors
    /// `Unauthorized` when missing or unknown.
    pub async fn authenticate(&self, headers: &HeaderMap) -> GwResult<KeyInfo> {
        let key = headers
            .get("x-api-key")
            .and_then(|v| v.to_str().ok())
            .or_else(|| {
                headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
            })
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                GatewayError::Unauthorized(
                    "missing API key: send X-API-Key (create one with `armoriq keys create`)"
                        .into(),
                )
            })?
            .to_owned();
        if let Some((info, at)) = self
            .key_cache
            .read()
            .ok()
            .and_then(|m| m.get(&key).cloned())
            && at.elapsed() < self.key_cache_ttl
        {
            return Ok(info);
        }
        match self.store.check_api_key(&key).await? {
            Some(info) => {
                if let Ok(mut m) = self.key_cache.write() {
                    if m.len() > 10_000 {
                        m.clear();
                    }
                    m.insert(key, (info.clone(), Instant::now()));
                }
                Ok(info)
            }
            None => Err(GatewayError::Unauthorized("invalid API key".into())),
        }
    }

    /// Like [`Gateway::authenticate`], and the key must be an admin key.
    ///
    /// # Errors
    /// `Unauthorized` / `Forbidden`.
    pub async fn authenticate_admin(&self, headers: &HeaderMap) -> GwResult<KeyInfo> {
        let k = self.authenticate(headers).await?;
        if k.role != Role::Admin {
            return Err(GatewayError::Forbidden(
                "this route needs an admin key (`armoriq keys create --admin`)".into(),
            ));
        }
        Ok(k)
    }

    /// Writes an audit row and waits until it is durable.
    ///
    /// # Errors
    /// The store's error (503 when it is unavailable): no response goes out
    /// unaudited.
    pub async fn audit(&self, row: AuditRow) -> GwResult<i64> {
        let (written, decision) = self.audit_uncounted(row).await;
        if written.is_ok() {
            self.metrics.count(decision);
        }
        written
    }

    /// [`Gateway::audit`], leaving the decision to be counted by the caller
    /// (once it knows whether the row's outcome stands).
    ///
    /// # Errors
    /// As [`Gateway::audit`].
    pub async fn audit_uncounted(&self, row: AuditRow) -> (GwResult<i64>, metrics::Decision) {
        use tracing::Instrument;
        let decision = self.metrics.decision(&row);
        let t0 = Instant::now();
        let written = self
            .store
            .audit(row)
            .instrument(tracing::debug_span!("store_write"))
            .await;
        self.metrics
            .stage(metrics::Stage::store_write, t0.elapsed());
        if let Err(e) = &written {
            self.metrics.store_error(e);
        }
        (written.map_err(Into::into), decision)
    }
}

pub use armoriq_common::time::{now_ms, now_secs};

/// Parses a JSON body strictly into `T`, with errors that name the problem.
///
/// # Errors
/// `PayloadTooLarge` or `BadRequest`.
pub fn parse_body<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> GwResult<(T, Bytes)> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GatewayError::PayloadTooLarge(limit)
        } else {
            GatewayError::BadRequest(format!("cannot read body: {e}"))
        }
    })?;
    if body.is_empty() {
        return Err(GatewayError::BadRequest(
            "empty body: expected a JSON object".into(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    let v: T = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            GatewayError::BadRequest(format!("invalid JSON body: {inner}"))
        } else {
            GatewayError::BadRequest(format!("invalid JSON body: `{path}`: {inner}"))
        }
    })?;
    Ok((v, body))
}

async fn not_found(uri: axum::http::Uri) -> GatewayError {
    GatewayError::NotFound(format!("no route {}", uri.path()))
}

async fn method_not_allowed() -> (StatusCode, axum::Json<serde_json::Value>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(
            serde_json::json!({"success": false, "error": "MethodNotAllowed",
            "message": "method not allowed on this route"}),
        ),
    )
}

/// The backend listener's router: [`app`], the console at `/console`, and
/// `/metrics` unless it has a listener of its own.
pub fn backend_app(state: AppState) -> Router {
    let router = console::mount(app(state.clone()), state.clone());
    match state.settings.metrics {
        metrics::MetricsAccess::Listen(_) | metrics::MetricsAccess::Off => router,
        _ => router.merge(
            Router::new()
                .route("/metrics", get(metrics::serve))
                .with_state(state),
        ),
    }
}

/// The router of `--metrics ADDR`'s own listener: `/metrics` only.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::serve_own))
        .with_state(state)
}

/// The router: every route on both listeners (backend and proxy).
pub fn app(state: AppState) -> Router {
    let limit = state.settings.body_limit;
    Router::new()
        .route("/health", get(sdk::health))
        .route("/ready", get(ready::ready))
        .route("/iap/public-key", get(iap::public_key))
        .route("/iap/sdk/token", post(iap::mint))
        .route("/iap/sdk/bootstrap", post(sdk::bootstrap))
        .route("/iap/sdk/resolve-user", post(sdk::resolve_user))
        .route("/iap/sdk/enforce", post(proxy::enforce))
        .route("/iap/sdk/preflight", post(preflight::preflight))
        .route("/iap/audit", post(sdk::report))
        .route("/iap/plans/{id}/status", post(sdk::plan_status))
        .route("/iap/trust/revoke", post(trust::revoke))
        .route("/iap/trust/delegate", post(trust::delegate))
        .route("/iap/trust/reanchor", post(reanchor::reanchor))
        .route("/mcp/tool-metadata/{mcp}", get(sdk::tool_metadata))
        .route("/mcp/my-servers", get(catalogue::my_servers))
        .route("/mcp/tools/{mcp}", get(catalogue::tools))
        .route("/invoke", post(proxy::invoke))
        .route("/dashboard/token-usage", post(usage::record))
        .route("/dashboard/token-usage/stream", post(usage::stream))
        .route(
            "/dashboard/token-usage/stream/reset",
            post(usage::stream_reset),
        )
        .route("/dashboard/token-usage/batch", post(usage::batch))
        .route(
            "/dashboard/token-usage/runs/{run_id}",
            axum::routing::put(usage::run),
        )
        .route("/delegation/request", post(sdk::delegation_request))
        .route("/delegation/create", post(trust::delegate))
        .route("/delegation/check-approved", get(sdk::check_approved))
        .route("/delegation/my-role", get(sdk::my_role))
        .route("/delegation/mark-executed", post(sdk::mark_executed))
        .route("/delegation/{id}/status", get(sdk::delegation_status))
        .route("/admin/delegations", get(sdk::admin_list))
        .route("/admin/delegations/{id}/approve", post(sdk::admin_approve))
        .route("/admin/delegations/{id}/reject", post(sdk::admin_reject))
        .route("/admin/audit", get(sdk::admin_audit))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::audit_refusals,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
