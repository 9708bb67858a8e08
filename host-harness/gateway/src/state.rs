//! The shared state of every route: [`Gateway`] (settings, store, keys,
//! caches, policy, MCP pool, metrics) and its API-key check and audit write.

use crate::error::{GatewayError, GwResult};
use crate::settings::Settings;
use crate::store::{AuditRow, KeyInfo, Role, Store};
use crate::{catalogue, device, mcp, metrics, plans, policy, signer, tokens};
use axum::http::HeaderMap;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

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
