//! [`ArmorIQClient`]: construction, resolved settings, bootstrap and user lookups.

use crate::endpoints::{check_api_key_format, dashboard_hint, endpoints_for, env};
use crate::error::{ArmorIqError, Result};
use crate::http::{self, Body, Resp, Transport};
use crate::options::ClientOptions;
use crate::resolve::{resolve_api_key, resolve_mcp_credentials};
use crate::session::{ArmorIQSession, ArmorIQUserScope, SessionOptions};
use crate::util::lock;
use crate::verify::parse_trusted_key;
use crate::{MULTIUSER, SDK_VERSION, config};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) struct Inner {
    pub(crate) opts: ClientOptions,
    pub(crate) api_key: String,
    pub(crate) backend: String,
    pub(crate) proxy: Option<String>,
    pub(crate) iap: Option<String>,
    pub(crate) user_id: String,
    pub(crate) agent_id: String,
    pub(crate) context_id: String,
    pub(crate) http: Transport,
    pub(crate) mcp_credentials: HashMap<String, String>,
    pub(crate) trusted_key: Mutex<Option<[u8; 32]>>,
    pub(crate) bootstrap: Mutex<Option<Value>>,
    pub(crate) users: Mutex<HashMap<String, (Value, Instant)>>,
    pub(crate) metadata: Mutex<HashMap<String, Value>>,
}

/// The client. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct ArmorIQClient {
    pub(crate) inner: Arc<Inner>,
}

impl std::fmt::Debug for ArmorIQClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmorIQClient")
            .field("backend", &self.inner.backend)
            .field("proxy", &self.inner.proxy)
            .field("user_id", &self.inner.user_id)
            .field("agent_id", &self.inner.agent_id)
            .finish_non_exhaustive()
    }
}

impl ArmorIQClient {
    /// Options with the defaults, to set and [`ClientOptions::build`].
    pub fn builder() -> ClientOptions {
        ClientOptions::default()
    }

    /// A client from the environment and saved credentials only.
    ///
    /// # Errors
    /// As [`ArmorIQClient::new`].
    pub fn from_env() -> Result<Self> {
        Self::new(ClientOptions::default())
    }

    /// Builds a client, resolving every unset option as the SDK does.
    ///
    /// # Errors
    /// `Configuration`: no API key (with why no saved profile applies), a key
    /// without a known prefix, or an HTTP client that cannot be built.
    pub fn new(opts: ClientOptions) -> Result<Self> {
        let (api_key, refusal) = resolve_api_key(&opts)?;
        let (iap, proxy, backend) = endpoints_for(&api_key, &opts);
        if api_key.is_empty() {
            return Err(ArmorIqError::Configuration(format!(
                "API key is required for Customer SDK. Set ARMORIQ_API_KEY environment variable or pass api_key parameter.{} {}",
                refusal.map(|r| format!(" {r}")).unwrap_or_default(),
                dashboard_hint(&backend)
            )));
        }
        check_api_key_format(&api_key, &backend)?;
        let pick = |v: &Option<String>, var: &str| {
            v.clone()
                .filter(|s| !s.is_empty())
                .or_else(|| env(var))
                .unwrap_or_else(|| MULTIUSER.to_owned())
        };
        let user_id = pick(&opts.user_id, "USER_ID");
        let agent_id = pick(&opts.agent_id, "AGENT_ID");
        let context_id = opts
            .context_id
            .clone()
            .or_else(|| std::env::var("CONTEXT_ID").ok())
            .unwrap_or_else(|| "default".into());
        let ua = format!("ArmorIQ-SDK-RS/{SDK_VERSION} (agent={agent_id})");
        let roots = http::extra_roots(&opts.extra_root_certificates)
            .map_err(ArmorIqError::Configuration)?;
        let http = Transport::new(&ua, &api_key, opts.timeout, roots)
            .map_err(ArmorIqError::Configuration)?;
        let configured_key = opts
            .iap_public_key
            .clone()
            .or_else(|| env("ARMORIQ_IAP_PUBLIC_KEY"));
        let trusted = match configured_key {
            Some(k) => Some(parse_trusted_key(&k).map_err(|e| {
                ArmorIqError::Configuration(format!("ARMORIQ_IAP_PUBLIC_KEY / iap_public_key: {e}"))
            })?),
            None => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                mcp_credentials: resolve_mcp_credentials(&opts.mcp_credentials),
                api_key,
                backend,
                proxy,
                iap,
                user_id,
                agent_id,
                context_id,
                http,
                trusted_key: Mutex::new(trusted),
                bootstrap: Mutex::new(None),
                users: Mutex::new(HashMap::new()),
                metadata: Mutex::new(HashMap::new()),
                opts,
            }),
        })
    }

    /// `from_config("armoriq.yaml")`: `identity.*`, `proxy.url` / `timeout`
    /// / `max_retries`, and `environment` (`sandbox` means the local
    /// endpoints 127.0.0.1:3000 / :3001 unless the environment overrides).
    ///
    /// # Errors
    /// `Configuration` for an unreadable or invalid file, an empty key, and
    /// as [`ArmorIQClient::new`].
    pub fn from_config(path: impl AsRef<Path>) -> Result<Self> {
        Self::new(config::options_from_config(path.as_ref())?)
    }

    /// The options the client was built from.
    pub fn options(&self) -> &ClientOptions {
        &self.inner.opts
    }
    /// The API key.
    pub fn api_key(&self) -> &str {
        &self.inner.api_key
    }
    /// The backend (IAP routes, delegations, audit).
    pub fn backend_endpoint(&self) -> &str {
        &self.inner.backend
    }
    /// The user id (`__sdk_multiuser__` when unset).
    pub fn user_id(&self) -> &str {
        &self.inner.user_id
    }
    /// The agent id (`__sdk_multiuser__` when unset).
    pub fn agent_id(&self) -> &str {
        &self.inner.agent_id
    }
    /// The context id.
    pub fn context_id(&self) -> &str {
        &self.inner.context_id
    }

    /// The default proxy.
    ///
    /// # Errors
    /// `Configuration` for a custom backend with no proxy set.
    pub fn default_proxy_endpoint(&self) -> Result<&str> {
        self.inner
            .proxy
            .as_deref()
            .ok_or_else(|| self.unpaired("proxy", "PROXY_ENDPOINT", "proxy_endpoint"))
    }

    /// The IAP endpoint (resolved for compatibility; never called).
    ///
    /// # Errors
    /// `Configuration` for a custom backend with no IAP set.
    pub fn iap_endpoint(&self) -> Result<&str> {
        self.inner
            .iap
            .as_deref()
            .ok_or_else(|| self.unpaired("IAP", "IAP_ENDPOINT", "iap_endpoint"))
    }

    pub(crate) fn unpaired(&self, label: &str, var: &str, param: &str) -> ArmorIqError {
        ArmorIqError::Configuration(format!(
            "No ArmorIQ {label} endpoint is set for the backend {}, which is not a known ArmorIQ environment. Set {var} or pass {param}= to ArmorIQClient.",
            self.inner.backend
        ))
    }

    /// The proxy for `mcp`: the option, `<MCP>_PROXY_URL`, the default.
    ///
    /// # Errors
    /// As [`ArmorIQClient::default_proxy_endpoint`].
    pub fn proxy_for(&self, mcp: &str) -> Result<String> {
        if let Some(p) = self.inner.opts.proxy_endpoints.get(mcp) {
            return Ok(p.trim_end_matches('/').to_owned());
        }
        if let Some(p) = env(&format!("{}_PROXY_URL", mcp.to_uppercase())) {
            return Ok(p.trim_end_matches('/').to_owned());
        }
        Ok(self
            .default_proxy_endpoint()?
            .trim_end_matches('/')
            .to_owned())
    }

    pub(crate) fn key_header(&self) -> (&'static str, String) {
        ("X-API-Key", self.inner.api_key.clone())
    }

    pub(crate) fn http(&self) -> &Transport {
        &self.inner.http
    }

    pub(crate) async fn post_json(
        &self,
        path: &str,
        body: &str,
        timeout: Option<Duration>,
    ) -> std::result::Result<Resp, http::TransportError> {
        let url = format!("{}{path}", self.inner.backend);
        self.inner
            .http
            .send("POST", &url, &[self.key_header()], Some(body), timeout)
            .await
    }

    /// `bootstrap()`: `POST {backend}/iap/sdk/bootstrap`, cached for the
    /// client's lifetime.
    ///
    /// # Errors
    /// `Configuration` on ≥ 400 or a transport error.
    pub async fn bootstrap(&self) -> Result<Value> {
        if let Some(v) = lock(&self.inner.bootstrap).clone() {
            return Ok(v);
        }
        let r = self
            .post_json("/iap/sdk/bootstrap", "{}", None)
            .await
            .map_err(|e| ArmorIqError::Configuration(format!("sdk/bootstrap failed: {e}")))?;
        if r.status >= 400 {
            return Err(ArmorIqError::Configuration(format!(
                "sdk/bootstrap failed: {} {}",
                r.status, r.text
            )));
        }
        let v = r.json().ok_or_else(|| {
            ArmorIqError::Configuration("sdk/bootstrap: the answer is not JSON".into())
        })?;
        *lock(&self.inner.bootstrap) = Some(v.clone());
        Ok(v)
    }

    /// `resolve_user(email)`: `POST {backend}/iap/sdk/resolve-user`, cached
    /// per trimmed lowercased email for the TTL (successes only).
    ///
    /// # Errors
    /// `Configuration` on ≥ 400 or a transport error.
    pub async fn resolve_user(&self, email: &str) -> Result<Value> {
        let key = email.trim().to_lowercase();
        if let Some((v, until)) = lock(&self.inner.users).get(&key)
            && *until > Instant::now()
        {
            return Ok(v.clone());
        }
        let body = Body::new().put("userEmail", &key).finish();
        let r = self
            .post_json("/iap/sdk/resolve-user", &body, None)
            .await
            .map_err(|e| {
                ArmorIqError::Configuration(format!("sdk/resolve-user failed for {key}: {e}"))
            })?;
        if r.status >= 400 {
            return Err(ArmorIqError::Configuration(format!(
                "sdk/resolve-user failed for {key}: {} {}",
                r.status, r.text
            )));
        }
        let v = r.json().ok_or_else(|| {
            ArmorIqError::Configuration(format!(
                "sdk/resolve-user for {key}: the answer is not JSON"
            ))
        })?;
        lock(&self.inner.users).insert(
            key,
            (v.clone(), Instant::now() + self.inner.opts.user_context_ttl),
        );
        Ok(v)
    }

    /// `invalidate_user(email)`.
    pub fn invalidate_user(&self, email: &str) {
        lock(&self.inner.users).remove(&email.trim().to_lowercase());
    }

    /// `for_user(email)`: a scope whose sessions mint for that user.
    pub fn for_user(&self, email: &str) -> ArmorIQUserScope {
        ArmorIQUserScope::new(self.clone(), email)
    }

    /// `start_session(opts)`.
    pub fn start_session(&self, opts: SessionOptions) -> ArmorIQSession {
        ArmorIQSession::new(self.clone(), opts, None)
    }

    /// `fetch_tool_metadata(mcp)`: cached; errors give empty metadata.
    pub async fn fetch_tool_metadata(&self, mcp: &str) -> Value {
        if let Some(v) = lock(&self.inner.metadata).get(mcp) {
            return v.clone();
        }
        let url = format!("{}/mcp/tool-metadata/{}", self.inner.backend, mcp);
        let v = self
            .inner
            .http
            .send("GET", &url, &[self.key_header()], None, None)
            .await
            .ok()
            .filter(|r| r.status < 400)
            .and_then(|r| r.json())
            .and_then(|j| j.get("data").cloned())
            .unwrap_or_else(|| json!({}));
        lock(&self.inner.metadata).insert(mcp.to_owned(), v.clone());
        v
    }
}
