//! The Rust SDK client: the official Python SDK's (`armoriq-sdk` 0.8.17)
//! `ArmorIQClient` with the same construction rules, HTTP requests, error
//! mapping and retries, plus a local check of every token it receives.
//!
//! * [`ArmorIQClient`]: configuration, `capture_plan`, `get_intent_token`,
//!   `invoke`, `invoke_with_policy`, `resolve_user`, delegation calls.
//! * [`session`]: `for_user` → `start_session` → `start_plan` / `check` / `report`.
//! * [`plan`]: `ToolCall`, tool-name parsing, `build_plan_from_tool_calls`,
//!   `hash_tool_calls`.
//! * [`credentials`]: `~/.armoriq/credentials.json` (v2).
//! * [`config`]: `armoriq.yaml` (read with the gateway's loader, written in
//!   the official layout).
//! * [`error`]: [`ArmorIqError`], one variant per SDK exception.
//!
//! **Local verification.** After a mint the client checks, before anything
//! is invoked, that `jwt_token` is signed by the gateway's key (`GET
//! /iap/public-key`, or `ARMORIQ_IAP_PUBLIC_KEY`) with `iss`/`aud` of
//! `armoriq serve`, that its `plan_hash` / `merkle_root` are those of the plan
//! the client sent (recomputed with the core), and that the CSRG token object
//! is signed by that same key over the same `plan_hash`. A substituted plan
//! or a forged token is an [`ArmorIqError::InvalidToken`]. The official SDK
//! does none of this; turn it off with [`ClientOptions::local_verification`]
//! for a backend that signs other claims.

pub mod config;
pub mod credentials;
pub mod error;
pub mod http;
pub mod plan;
pub mod session;

pub use error::{ArmorIqError, Result};
pub use plan::{
    Plan, ToolCall, ToolNameParser, build_plan_from_tool_calls, default_tool_name_parser,
    hash_tool_calls,
};
pub use session::{
    ArmorIQSession, ArmorIQUserScope, EnforceResult, ReportOptions, SessionMode, SessionOptions,
};

use armoriq_common::backend::HostBackend;
use armoriq_core::Profile;
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use http::{Backoff, Body, Resp, Transport};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// The version this client reports in `User-Agent`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The placeholder the SDK uses for a missing user or agent id.
pub const MULTIUSER: &str = "__sdk_multiuser__";

/// Known environments: `(name, backend, proxy, iap, dashboard)`.
const ENDPOINTS: [EnvRow; 3] = [
    (
        "production",
        "https://api.armoriq.ai",
        "https://proxy.armoriq.ai",
        "https://iap.armoriq.ai",
        "https://platform.armoriq.ai",
    ),
    (
        "staging",
        "https://staging-api.armoriq.ai",
        "https://cloud-run-proxy.armoriq.io",
        "https://iap-staging.armoriq.ai",
        "https://dev.armoriq.io",
    ),
    (
        "local",
        "http://127.0.0.1:3000",
        "http://127.0.0.1:3001",
        "http://127.0.0.1:8080",
        "http://localhost:5173",
    ),
];
/// ArmorClaw rows `(backend, proxy, iap)`: production and local.
const ARMORCLAW: [(&str, &str, &str); 2] = [
    (
        "https://api.armorclaw.io",
        "https://proxy.armorclaw.io",
        "https://iap.armorclaw.io",
    ),
    (
        "http://127.0.0.1:8081",
        "http://127.0.0.1:3001",
        "http://127.0.0.1:8080",
    ),
];

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// `ARMORIQ_ENV` when it names a known environment, else `production`.
pub fn active_env() -> &'static str {
    let want = env("ARMORIQ_ENV").map(|v| v.trim().to_lowercase());
    ENDPOINTS
        .iter()
        .find(|e| Some(e.0) == want.as_deref())
        .map_or("production", |e| e.0)
}

/// `(name, backend, proxy, iap, dashboard)`.
type EnvRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

fn env_row(name: &str) -> EnvRow {
    *ENDPOINTS
        .iter()
        .find(|e| e.0 == name)
        .unwrap_or(&ENDPOINTS[0])
}

/// The backend the environment names (`ARMORIQ_BACKEND_URL`, then `BACKEND_ENDPOINT`).
pub fn backend_override() -> Option<String> {
    ["ARMORIQ_BACKEND_URL", "BACKEND_ENDPOINT"]
        .iter()
        .find_map(|n| env(n).map(|v| v.trim().trim_end_matches('/').to_owned()))
        .filter(|v| !v.is_empty())
}

/// `kind` (`proxy`, `iap`, `dashboard`) paired with a known backend.
pub fn paired_endpoint(kind: &str, backend: &str) -> Option<&'static str> {
    let b = backend.trim_end_matches('/');
    for e in ENDPOINTS {
        if e.1 == b {
            return Some(match kind {
                "proxy" => e.2,
                "iap" => e.3,
                "dashboard" => e.4,
                _ => e.1,
            });
        }
    }
    for e in ARMORCLAW {
        if e.0 == b {
            return match kind {
                "proxy" => Some(e.1),
                "iap" => Some(e.2),
                _ => None,
            };
        }
    }
    None
}

/// Everything a client is built from. Unset values resolve as the official
/// SDK resolves them: explicit value → environment → saved credentials.
#[derive(Clone, Debug)]
pub struct ClientOptions {
    /// `api_key` (else `ARMORIQ_API_KEY`, else the saved profile).
    pub api_key: Option<String>,
    /// Backend (else `ARMORIQ_BACKEND_URL`, `BACKEND_ENDPOINT`, the environment's).
    pub backend_endpoint: Option<String>,
    /// Default proxy (else `PROXY_ENDPOINT`, else the backend's pair).
    pub proxy_endpoint: Option<String>,
    /// IAP (else `IAP_ENDPOINT`, else the backend's pair). Resolved, never called.
    pub iap_endpoint: Option<String>,
    /// Proxy per MCP (else `<MCP>_PROXY_URL`, else the default proxy).
    pub proxy_endpoints: HashMap<String, String>,
    /// `USER_ID`.
    pub user_id: Option<String>,
    /// `AGENT_ID`.
    pub agent_id: Option<String>,
    /// `CONTEXT_ID` (default `"default"`).
    pub context_id: Option<String>,
    /// Request timeout (30 s).
    pub timeout: Duration,
    /// Retries of the retried calls (3, so 4 attempts).
    pub max_retries: u32,
    /// Backoff of the retried calls (1, 2, 4 s).
    pub backoff: Backoff,
    /// `use_production` (true): the default backend is the active
    /// environment's; false means the local one.
    pub use_production: bool,
    /// `product` (else `ARMORIQ_PRODUCT`), for the saved profile.
    pub product: Option<String>,
    /// The trusted IAP key (else `ARMORIQ_IAP_PUBLIC_KEY`, else fetched).
    pub iap_public_key: Option<String>,
    /// Per-MCP credentials sent as `X-Armoriq-MCP-Auth` (JSON objects).
    pub mcp_credentials: HashMap<String, Value>,
    /// Where credentials are read (default `~/.armoriq/credentials.json`).
    pub credentials_path: Option<PathBuf>,
    /// Check received tokens locally (true).
    pub local_verification: bool,
    /// `iss` the token must carry (`armoriq-gateway`); `None` skips it.
    pub expected_issuer: Option<String>,
    /// `aud` the token must carry (`armoriq-proxy`); `None` skips it.
    pub expected_audience: Option<String>,
    /// Clock skew allowed on local token checks (seconds).
    pub leeway: u64,
    /// Delegation status polling of `invoke_with_policy`.
    pub poll: PollSettings,
    /// `resolve_user` cache lifetime (300 s).
    pub user_context_ttl: Duration,
}

/// Delegation status polling: first after `first`, then ×`factor`, at most
/// `cap`, until `timeout`.
#[derive(Clone, Copy, Debug)]
pub struct PollSettings {
    /// First wait (3 s).
    pub first: Duration,
    /// Growth (1.5).
    pub factor: f64,
    /// Largest wait (15 s).
    pub cap: Duration,
    /// Give up after (30 min).
    pub timeout: Duration,
}

impl Default for PollSettings {
    fn default() -> Self {
        Self {
            first: Duration::from_secs(3),
            factor: 1.5,
            cap: Duration::from_secs(15),
            timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            api_key: None,
            backend_endpoint: None,
            proxy_endpoint: None,
            iap_endpoint: None,
            proxy_endpoints: HashMap::new(),
            user_id: None,
            agent_id: None,
            context_id: None,
            timeout: Duration::from_secs(30),
            max_retries: 3,
            backoff: Backoff::default(),
            use_production: true,
            product: None,
            iap_public_key: None,
            mcp_credentials: HashMap::new(),
            credentials_path: None,
            local_verification: true,
            expected_issuer: Some("armoriq-gateway".into()),
            expected_audience: Some("armoriq-proxy".into()),
            leeway: 5,
            poll: PollSettings::default(),
            user_context_ttl: Duration::from_secs(300),
        }
    }
}

macro_rules! setter {
    ($(#[$m:meta])* $name:ident: Option<String>) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(mut self, v: impl Into<String>) -> Self {
            self.$name = Some(v.into());
            self
        }
    };
    ($(#[$m:meta])* $name:ident: $t:ty) => {
        $(#[$m])*
        #[must_use]
        pub fn $name(mut self, v: $t) -> Self {
            self.$name = v;
            self
        }
    };
}

impl ClientOptions {
    setter!(/// Sets `api_key`.
        api_key: Option<String>);
    setter!(/// Sets the backend.
        backend_endpoint: Option<String>);
    setter!(/// Sets the default proxy.
        proxy_endpoint: Option<String>);
    setter!(/// Sets the IAP endpoint.
        iap_endpoint: Option<String>);
    setter!(/// Sets the user id.
        user_id: Option<String>);
    setter!(/// Sets the agent id.
        agent_id: Option<String>);
    setter!(/// Sets the context id.
        context_id: Option<String>);
    setter!(/// Sets the product.
        product: Option<String>);
    setter!(/// Sets the trusted IAP public key (any encoding the SDK accepts).
        iap_public_key: Option<String>);
    setter!(/// Sets the timeout.
        timeout: Duration);
    setter!(/// Sets the retries.
        max_retries: u32);
    setter!(/// Sets the retry backoff.
        backoff: Backoff);
    setter!(/// Sets `use_production`.
        use_production: bool);
    setter!(/// Turns the local token check on or off.
        local_verification: bool);
    setter!(/// Sets delegation polling.
        poll: PollSettings);
    setter!(/// Sets the `resolve_user` cache lifetime.
        user_context_ttl: Duration);

    /// Sets a proxy for one MCP.
    #[must_use]
    pub fn mcp_proxy(mut self, mcp: impl Into<String>, url: impl Into<String>) -> Self {
        self.proxy_endpoints.insert(mcp.into(), url.into());
        self
    }

    /// Sets a credential for one MCP (`{"authType": "bearer", "token": …}`).
    #[must_use]
    pub fn mcp_credential(mut self, mcp: impl Into<String>, cred: Value) -> Self {
        self.mcp_credentials.insert(mcp.into(), cred);
        self
    }

    /// Reads credentials from `path` instead of `~/.armoriq/credentials.json`.
    #[must_use]
    pub fn credentials_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.credentials_path = Some(path.into());
        self
    }

    /// Builds the client.
    ///
    /// # Errors
    /// As [`ArmorIQClient::new`].
    pub fn build(self) -> Result<ArmorIQClient> {
        ArmorIQClient::new(self)
    }
}

/// A token lifetime as the caller wrote it: Python sends `120` for an int
/// and `60.0` for a float, and so does this client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seconds {
    /// Whole seconds (`120`).
    Int(u64),
    /// Float seconds (`60.0`).
    Float(f64),
}

impl From<u64> for Seconds {
    fn from(v: u64) -> Self {
        Self::Int(v)
    }
}
impl From<u32> for Seconds {
    fn from(v: u32) -> Self {
        Self::Int(u64::from(v))
    }
}
impl From<i32> for Seconds {
    fn from(v: i32) -> Self {
        Self::Int(u64::try_from(v).unwrap_or(0))
    }
}
impl From<f64> for Seconds {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

/// `PlanCapture`: the plan and what produced it (only the plan is sent).
#[derive(Clone, Debug)]
pub struct PlanCapture {
    /// The plan.
    pub plan: Plan,
    /// The LLM.
    pub llm: String,
    /// The prompt.
    pub prompt: String,
    /// Metadata (never sent).
    pub metadata: Value,
}

/// `raw_token`: what the mint returned, with the plan that was sent.
#[derive(Clone, Debug)]
pub struct RawToken {
    /// The plan that was sent.
    pub plan: Plan,
    /// `plan_id`.
    pub plan_id: Option<String>,
    /// The CSRG token object.
    pub token: Value,
    /// `plan_hash`.
    pub plan_hash: Option<String>,
    /// `merkle_root`.
    pub merkle_root: Option<String>,
    /// `intent_reference`.
    pub intent_reference: Option<String>,
    /// `composite_identity`.
    pub composite_identity: Value,
    /// `step_proofs`.
    pub step_proofs: Value,
}

/// `IntentToken`.
#[derive(Clone, Debug)]
pub struct IntentToken {
    /// `intent_reference`, or `"unknown"`.
    pub token_id: String,
    /// `plan_hash`.
    pub plan_hash: String,
    /// `plan_id`.
    pub plan_id: Option<String>,
    /// The CSRG signature.
    pub signature: String,
    /// Epoch seconds.
    pub issued_at: f64,
    /// Epoch seconds.
    pub expires_at: f64,
    /// The policy the caller passed, or `{}`.
    pub policy: Value,
    /// `composite_identity`.
    pub composite_identity: Value,
    /// `client_info`.
    pub client_info: Value,
    /// `policy_validation`.
    pub policy_validation: Value,
    /// `step_proofs`.
    pub step_proofs: Value,
    /// Steps in the plan.
    pub total_steps: usize,
    /// `raw_token`.
    pub raw_token: RawToken,
    /// The EdDSA JWT the proxy checks.
    pub jwt_token: Option<String>,
    /// `policy_snapshot`.
    pub policy_snapshot: Value,
}

fn now_f64() -> f64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl IntentToken {
    /// `now > expires_at` (strict, local clock).
    pub fn is_expired(&self) -> bool {
        now_f64() > self.expires_at
    }

    /// Seconds left (negative once expired).
    pub fn time_until_expiry(&self) -> f64 {
        self.expires_at - now_f64()
    }

    /// `{"jwt_token", "plan_id"}` without missing members (`signed()`).
    pub fn signed(&self) -> Value {
        let mut m = serde_json::Map::new();
        if let Some(j) = &self.jwt_token {
            m.insert("jwt_token".into(), json!(j));
        }
        if let Some(p) = &self.plan_id {
            m.insert("plan_id".into(), json!(p));
        }
        Value::Object(m)
    }

    fn signed_json(&self) -> String {
        Body::new()
            .opt("jwt_token", self.jwt_token.as_ref())
            .opt("plan_id", self.plan_id.as_ref())
            .finish()
    }
}

/// `MCPInvocationResult`.
#[derive(Clone, Debug)]
pub struct McpInvocationResult {
    /// The MCP.
    pub mcp: String,
    /// The action.
    pub action: String,
    /// `body.result`, or the body.
    pub result: Value,
    /// `"success"`, or `"error"` when the tool reported one.
    pub status: String,
    /// Seconds.
    pub execution_time: f64,
    /// Always true (the proxy verified the token).
    pub verified: bool,
    /// `{"hasToolError"}`.
    pub metadata: Value,
}

/// The `on_hold` callback of [`InvokeOptions`].
pub type OnHold = Arc<dyn Fn(&HoldInfo) + Send + Sync>;

/// `InvokeOptions` of `invoke_with_policy`.
#[derive(Clone, Default)]
pub struct InvokeOptions {
    /// Wait for an approver instead of failing with `PolicyHold`.
    pub wait_for_approval: bool,
    /// Give up waiting after this long (default: the client's poll timeout).
    pub delegation_timeout: Option<Duration>,
    /// Called on a hold (before and after the delegation request).
    pub on_hold: Option<OnHold>,
    /// The requester.
    pub user_email: Option<String>,
    /// The requester's role (else `GET /delegation/my-role`).
    pub requester_role: Option<String>,
    /// The requester's limit.
    pub requester_limit: Option<f64>,
}

/// `DelegationRequestParams`, serialized by alias in the model's field
/// order with missing members left out.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DelegationRequestParams {
    /// The tool.
    pub tool: String,
    /// The action (`execute` from `invoke_with_policy`, the tool from a session).
    pub action: String,
    /// The call's arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// The amount (a float).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// The requester.
    #[serde(rename = "requesterEmail")]
    pub requester_email: String,
    /// The requester's role.
    #[serde(rename = "requesterRole", skip_serializing_if = "Option::is_none")]
    pub requester_role: Option<String>,
    /// The requester's limit (a float).
    #[serde(rename = "requesterLimit", skip_serializing_if = "Option::is_none")]
    pub requester_limit: Option<f64>,
    /// The MCP (or the domain from the proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `targetUrl`.
    #[serde(rename = "targetUrl", skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// `planId`.
    #[serde(rename = "planId", skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// `intentReference`.
    #[serde(rename = "intentReference", skip_serializing_if = "Option::is_none")]
    pub intent_reference: Option<String>,
    /// `merkleRoot`.
    #[serde(rename = "merkleRoot", skip_serializing_if = "Option::is_none")]
    pub merkle_root: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What `on_hold` is told.
#[derive(Clone, Debug)]
pub struct HoldInfo {
    /// The MCP.
    pub mcp: String,
    /// The action.
    pub action: String,
    /// Why.
    pub reason: Option<String>,
    /// The delegation, once requested.
    pub delegation_id: Option<String>,
    /// The amount, for financial tools.
    pub amount: Option<f64>,
}

struct Inner {
    opts: ClientOptions,
    api_key: String,
    backend: String,
    proxy: Option<String>,
    iap: Option<String>,
    user_id: String,
    agent_id: String,
    context_id: String,
    http: Transport,
    mcp_credentials: HashMap<String, String>,
    trusted_key: Mutex<Option<[u8; 32]>>,
    bootstrap: Mutex<Option<Value>>,
    users: Mutex<HashMap<String, (Value, Instant)>>,
    metadata: Mutex<HashMap<String, Value>>,
}

/// The client. Cheap to clone (an `Arc` inside); `Send + Sync`.
#[derive(Clone)]
pub struct ArmorIQClient {
    inner: Arc<Inner>,
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

fn endpoints_for(key: &str, o: &ClientOptions) -> (Option<String>, Option<String>, String) {
    let default_backend = if key.starts_with("ak_claw_") {
        ARMORCLAW[usize::from(!o.use_production)].0
    } else if o.use_production {
        env_row(active_env()).1
    } else {
        ENDPOINTS[2].1
    };
    let backend = o
        .backend_endpoint
        .clone()
        .filter(|b| !b.is_empty())
        .or_else(backend_override)
        .unwrap_or_else(|| default_backend.to_owned())
        .trim_end_matches('/')
        .to_owned();
    let pick = |explicit: &Option<String>, var: &str, kind: &str| {
        explicit
            .clone()
            .filter(|v| !v.is_empty())
            .or_else(|| env(var))
            .or_else(|| paired_endpoint(kind, &backend).map(str::to_owned))
            .map(|v| v.trim_end_matches('/').to_owned())
    };
    (
        pick(&o.iap_endpoint, "IAP_ENDPOINT", "iap"),
        pick(&o.proxy_endpoint, "PROXY_ENDPOINT", "proxy"),
        backend,
    )
}

/// `(key, why none)`: explicit → `ARMORIQ_API_KEY` → `ARMORIQ_PROFILE` →
/// the saved profile for (backend, product).
fn resolve_api_key(o: &ClientOptions) -> Result<(String, Option<String>)> {
    if let Some(k) = o
        .api_key
        .clone()
        .filter(|k| !k.is_empty())
        .or_else(|| env("ARMORIQ_API_KEY"))
    {
        return Ok((k, None));
    }
    let creds = o.credentials_path.clone().map_or_else(
        credentials::Credentials::default_location,
        credentials::Credentials::at,
    );
    let backend_for = |key: &str| endpoints_for(key, o).2;
    if let Some(name) = env("ARMORIQ_PROFILE") {
        let entry = creds.get_profile(&name).ok_or_else(|| {
            ArmorIqError::Configuration(format!(
                "ARMORIQ_PROFILE names {name}, which is not saved in {}.",
                creds.path().display()
            ))
        })?;
        let backend = backend_for(&entry.login.api_key);
        if Some(entry.login.backend.as_str()) != credentials::url_origin(&backend).as_deref() {
            return Err(ArmorIqError::Configuration(format!(
                "ARMORIQ_PROFILE names {name}, which was saved for {}, not {backend}.",
                entry.login.backend
            )));
        }
        return Ok((entry.login.api_key, None));
    }
    let backend = backend_for("");
    if credentials::url_origin(&backend).is_none() {
        return Ok((
            String::new(),
            Some(format!("{backend} is not an http or https URL.")),
        ));
    }
    let wanted = credentials::normalize_product(
        &o.product
            .clone()
            .or_else(|| env("ARMORIQ_PRODUCT"))
            .unwrap_or_default(),
    );
    match creds.load_profile(&backend, &wanted) {
        Some(e)
            if credentials::url_origin(&backend_for(&e.login.api_key)).as_deref()
                == Some(e.login.backend.as_str()) =>
        {
            Ok((e.login.api_key, None))
        }
        _ => Ok((
            String::new(),
            Some(format!(
                "No profile {} is saved in {}.",
                credentials::profile_name(&backend, &wanted).unwrap_or_default(),
                creds.path().display()
            )),
        )),
    }
}

/// The SDK's `_resolve_mcp_credentials`: `ARMORIQ_MCP_CREDENTIALS`, then
/// `ARMORIQ_MCP_<SAFE>_*`, then the option; values are the JSON text sent.
fn resolve_mcp_credentials(from_options: &HashMap<String, Value>) -> HashMap<String, String> {
    let mut merged: HashMap<String, String> = HashMap::new();
    if let Some(raw) = env("ARMORIQ_MCP_CREDENTIALS")
        && let Ok(armoriq_core::json::Kind::Object) =
            armoriq_core::json::Value::parse(raw.as_bytes(), 16).map(|v| v.kind())
        && let Ok(v) = armoriq_core::json::Value::parse(raw.as_bytes(), 16)
    {
        for (k, val) in v.members() {
            if val.kind() == armoriq_core::json::Kind::Object
                && let Ok(text) = plan::py_json(std::str::from_utf8(val.bytes()).unwrap_or("{}"))
            {
                merged.insert(k.chars().collect(), text);
            }
        }
    }
    for (key, _) in std::env::vars() {
        let Some(safe) = key
            .strip_prefix("ARMORIQ_MCP_")
            .and_then(|r| r.strip_suffix("_AUTH_TYPE"))
            .filter(|s| !s.is_empty())
        else {
            continue;
        };
        let get = |s: &str| env(&format!("ARMORIQ_MCP_{safe}_{s}"));
        let kind = get("AUTH_TYPE").unwrap_or_default().to_lowercase();
        let cred = match kind.as_str() {
            "bearer" => {
                get("TOKEN").map(|t| Body::new().put("authType", &"bearer").put("token", &t))
            }
            "api_key" => get("API_KEY").map(|k| {
                Body::new()
                    .put("authType", &"api_key")
                    .put("apiKey", &k)
                    .opt("headerName", get("HEADER_NAME").as_ref())
            }),
            "basic" => match (get("USERNAME"), get("PASSWORD")) {
                (Some(u), Some(p)) => Some(
                    Body::new()
                        .put("authType", &"basic")
                        .put("username", &u)
                        .put("password", &p),
                ),
                _ => None,
            },
            "none" => Some(Body::new().put("authType", &"none")),
            _ => None,
        };
        if let Some(c) = cred {
            merged.insert(safe.to_owned(), c.finish());
        }
    }
    for (k, v) in from_options {
        merged.insert(
            k.clone(),
            serde_json::to_string(v).unwrap_or_else(|_| "{}".into()),
        );
    }
    merged
}

fn dashboard_hint(backend: &str) -> String {
    let d = paired_endpoint("dashboard", backend).unwrap_or(env_row(active_env()).4);
    format!("Get your API key from {d}/dashboard/api/keys")
}

/// The API-key format check, with the official message.
///
/// # Errors
/// `Configuration` when the key lacks `ak_live_`, `ak_test_` or `ak_claw_`.
pub fn check_api_key_format(key: &str, backend: &str) -> Result<()> {
    if ["ak_live_", "ak_test_", "ak_claw_"]
        .iter()
        .any(|p| key.starts_with(p))
    {
        return Ok(());
    }
    Err(ArmorIqError::Configuration(format!(
        "Invalid API key format. API keys must start with 'ak_live_', 'ak_claw_', or 'ak_test_'. {}",
        dashboard_hint(backend)
    )))
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
        let http =
            Transport::new(&ua, &api_key, opts.timeout).map_err(ArmorIqError::Configuration)?;
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

    fn unpaired(&self, label: &str, var: &str, param: &str) -> ArmorIqError {
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

    fn key_header(&self) -> (&'static str, String) {
        ("X-API-Key", self.inner.api_key.clone())
    }

    pub(crate) fn http(&self) -> &Transport {
        &self.inner.http
    }

    pub(crate) fn post_json(
        &self,
        path: &str,
        body: &str,
        timeout: Option<Duration>,
    ) -> std::result::Result<Resp, http::TransportError> {
        let url = format!("{}{path}", self.inner.backend);
        self.inner
            .http
            .send("POST", &url, &[self.key_header()], Some(body), timeout)
    }

    /// `capture_plan(llm, prompt, plan, metadata)`: the SDK's checks only.
    ///
    /// # Errors
    /// `InvalidInput` with the official messages.
    pub fn capture_plan(
        &self,
        llm: &str,
        prompt: &str,
        plan: Option<&Value>,
        metadata: Option<Value>,
    ) -> Result<PlanCapture> {
        plan::check_plan(plan)?;
        let plan = Plan::from_value(plan.unwrap_or(&Value::Null))?;
        Ok(self.capture(plan, llm, prompt, metadata))
    }

    /// `capture_plan` for a plan given as JSON text (key order kept).
    ///
    /// # Errors
    /// As [`ArmorIQClient::capture_plan`].
    pub fn capture_plan_json(
        &self,
        llm: &str,
        prompt: &str,
        plan_json: &str,
        metadata: Option<Value>,
    ) -> Result<PlanCapture> {
        let plan = Plan::from_json(plan_json)?;
        Ok(self.capture(plan, llm, prompt, metadata))
    }

    /// A capture of an already checked [`Plan`].
    pub fn capture(
        &self,
        plan: Plan,
        llm: &str,
        prompt: &str,
        metadata: Option<Value>,
    ) -> PlanCapture {
        PlanCapture {
            plan,
            llm: llm.to_owned(),
            prompt: prompt.to_owned(),
            metadata: metadata.unwrap_or_else(|| json!({})),
        }
    }

    /// `get_intent_token(plan_capture, policy, validity_seconds, user_email)`:
    /// `POST {backend}/iap/sdk/token` (retried on ≥ 500 and transport errors
    /// with one `Idempotency-Key`), then the local check of the token.
    ///
    /// # Errors
    /// `PolicyBlocked` (403 or denied tools), `InvalidToken` (any other
    /// refusal, a malformed answer, or a token that fails the local check).
    pub fn get_intent_token(
        &self,
        capture: &PlanCapture,
        policy: Option<&Value>,
        validity_seconds: impl Into<Seconds>,
        user_email: Option<&str>,
    ) -> Result<IntentToken> {
        let v: Seconds = validity_seconds.into();
        let (text, secs) = match v {
            Seconds::Int(n) => (n.to_string(), n as f64),
            Seconds::Float(f) if f.is_finite() => (
                serde_json::to_string(&f).unwrap_or_else(|_| "60.0".into()),
                f,
            ),
            Seconds::Float(f) => {
                return Err(ArmorIqError::InvalidToken(format!(
                    "Failed to get intent token: Out of range float values are not JSON compliant: {f}"
                )));
            }
        };
        self.mint(capture, policy, &text, secs, user_email)
    }

    pub(crate) fn mint(
        &self,
        capture: &PlanCapture,
        policy: Option<&Value>,
        expires_text: &str,
        validity_seconds: f64,
        user_email: Option<&str>,
    ) -> Result<IntentToken> {
        let fail =
            |m: String| ArmorIqError::InvalidToken(format!("Failed to get intent token: {m}"));
        let body = Body::new()
            .put("user_id", &user_email.unwrap_or(&self.inner.user_id))
            .put("agent_id", &self.inner.agent_id)
            .put("context_id", &self.inner.context_id)
            .raw("plan", capture.plan.as_json())
            .put("policy", &policy)
            .raw("expires_in", expires_text)
            .opt("user_email", user_email.as_ref())
            .finish();
        let idem = uuid::Uuid::new_v4().simple().to_string();
        let url = format!("{}/iap/sdk/token", self.inner.backend);
        let resp = http::retry_post(
            &self.inner.http,
            &url,
            &[self.key_header(), ("Idempotency-Key", idem)],
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            Some(Duration::from_secs(30)),
        )
        .map_err(|e| fail(e.message))?;
        if resp.status >= 400 {
            let data = resp.json().unwrap_or_else(|| json!({"message": resp.text}));
            let pv = data
                .get("policy_validation")
                .cloned()
                .unwrap_or(Value::Null);
            let denied = pv.get("denied_tools").and_then(Value::as_array);
            if resp.status == 403 || denied.is_some_and(|d| !d.is_empty()) {
                let reasons: Vec<String> = pv
                    .get("denied_reasons")
                    .and_then(Value::as_array)
                    .map(|a| a.iter().map(py_str).collect())
                    .unwrap_or_default();
                let reason = if reasons.is_empty() {
                    data.get("message")
                        .filter(|m| truthy(m))
                        .map(py_str)
                        .unwrap_or_else(|| "Blocked by policy".into())
                } else {
                    reasons.join("; ")
                };
                return Err(ArmorIqError::PolicyBlocked {
                    message: format!("Policy blocked intent token issuance: {reason}"),
                    reason: Some(reason),
                    enforcement_action: pv
                        .get("default_enforcement_action")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    matched_policy: None,
                    metadata: Box::new(pv),
                });
            }
            let message = match &data {
                Value::Object(m) => m.get("message").map_or("None".into(), py_str),
                other => py_str(other),
            };
            return Err(ArmorIqError::InvalidToken(format!(
                "Token issuance failed: {message}"
            )));
        }
        let data: Value = serde_json::from_str(&resp.text).map_err(|e| fail(e.to_string()))?;
        if !data.get("success").is_some_and(truthy) {
            return Err(ArmorIqError::InvalidToken(format!(
                "Token issuance failed: {}",
                data.get("message").map_or("Unknown error".into(), py_str)
            )));
        }
        let token_data = data
            .get("token")
            .filter(|t| truthy(t))
            .cloned()
            .unwrap_or_else(|| json!({}));
        let s = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
        let now = now_f64();
        let num = |k: &str| {
            token_data
                .get(k)
                .and_then(Value::as_f64)
                .filter(|x| *x != 0.0)
        };
        let raw = RawToken {
            plan: capture.plan.clone(),
            plan_id: s("plan_id"),
            token: token_data.clone(),
            plan_hash: s("plan_hash"),
            merkle_root: s("merkle_root"),
            intent_reference: s("intent_reference"),
            composite_identity: data
                .get("composite_identity")
                .cloned()
                .unwrap_or_else(|| json!("")),
            step_proofs: data
                .get("step_proofs")
                .cloned()
                .unwrap_or_else(|| json!([])),
        };
        let token = IntentToken {
            token_id: s("intent_reference")
                .filter(|r| !r.is_empty())
                .unwrap_or_else(|| "unknown".into()),
            plan_hash: s("plan_hash").unwrap_or_default(),
            plan_id: s("plan_id"),
            signature: token_data
                .get("signature")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
            issued_at: num("issued_at").unwrap_or(now),
            expires_at: num("expires_at").unwrap_or(now + validity_seconds),
            policy: policy.cloned().filter(truthy).unwrap_or_else(|| json!({})),
            composite_identity: raw.composite_identity.clone(),
            client_info: data.get("client_info").cloned().unwrap_or(Value::Null),
            policy_validation: data
                .get("policy_validation")
                .cloned()
                .unwrap_or(Value::Null),
            step_proofs: raw.step_proofs.clone(),
            total_steps: capture.plan.steps().len(),
            raw_token: raw,
            jwt_token: s("jwt_token"),
            policy_snapshot: data.get("policy_snapshot").cloned().unwrap_or(Value::Null),
        };
        if self.inner.opts.local_verification {
            self.verify_locally(&token)?;
        }
        Ok(token)
    }

    /// The trusted IAP key: configured, else `GET {backend}/iap/public-key`
    /// (fetched once; retried on the next call after a failure).
    ///
    /// # Errors
    /// `InvalidToken` when the key cannot be had.
    pub fn iap_public_key(&self) -> Result<[u8; 32]> {
        if let Some(k) = *lock(&self.inner.trusted_key) {
            return Ok(k);
        }
        let url = format!("{}/iap/public-key", self.inner.backend);
        let r = self
            .inner
            .http
            .send("GET", &url, &[], None, None)
            .map_err(|e| {
                ArmorIqError::InvalidToken(format!(
                    "cannot fetch the IAP public key from {url}: {e}"
                ))
            })?;
        if r.status >= 400 {
            return Err(ArmorIqError::InvalidToken(format!(
                "cannot fetch the IAP public key from {url}: HTTP {}",
                r.status
            )));
        }
        let k = parse_trusted_key(&r.text)
            .map_err(|e| ArmorIqError::InvalidToken(format!("IAP public key from {url}: {e}")))?;
        *lock(&self.inner.trusted_key) = Some(k);
        Ok(k)
    }

    /// The local check of a token against the plan it carries (see the
    /// module docs). Run after every mint and before every invoke when
    /// local verification is on.
    ///
    /// # Errors
    /// `InvalidToken` naming what does not hold; `TokenExpired`.
    pub fn verify_locally(&self, token: &IntentToken) -> Result<()> {
        let bad = |m: String| ArmorIqError::InvalidToken(format!("local token check failed: {m}"));
        let key = self.iap_public_key()?;
        let jwt = token
            .jwt_token
            .as_deref()
            .ok_or_else(|| bad("the mint response has no jwt_token".into()))?;
        let mut keys: KeySet<HostBackend, 1> = KeySet::new();
        keys.add_ed25519(None, &key)
            .map_err(|e| bad(format!("IAP public key: {e}")))?;
        let o = &self.inner.opts;
        let expect = Expect {
            now: now_f64() as i64,
            leeway: o.leeway,
            audience: o.expected_audience.as_deref(),
            issuer: o.expected_issuer.as_deref(),
        };
        let mut buf = vec![0u8; jwt.len()];
        let signed =
            armoriq_core::verify_token(jwt.as_bytes(), &expect, &keys, &mut buf).map_err(|r| {
                let msg = format!("jwt_token: {}: {}", r.error.name(), r.error);
                if r.kind == armoriq_core::ErrorKind::TokenExpired {
                    ArmorIqError::TokenExpired {
                        message: format!("local token check failed: {msg}"),
                        token_id: token.token_id.clone(),
                        expired_at: token.expires_at,
                    }
                } else {
                    bad(msg)
                }
            })?;
        let (_, hashes) = armoriq_common::proofs::plan_hashes(
            token.raw_token.plan.as_json().as_bytes(),
            Profile::ArmorIq,
        )
        .map_err(|e| bad(format!("the plan sent cannot be hashed: {}: {e}", e.name())))?;
        if hex::encode(signed.plan_hash) != hashes.plan_hash {
            return Err(bad(format!(
                "the token signs plan_hash {} but the plan the client sent hashes to {} (plan substituted)",
                hex::encode(signed.plan_hash),
                hashes.plan_hash
            )));
        }
        if hex::encode(signed.merkle_root) != hashes.merkle_root {
            return Err(bad(format!(
                "the token signs merkle_root {} but the plan the client sent has root {}",
                hex::encode(signed.merkle_root),
                hashes.merkle_root
            )));
        }
        if signed.step_count != token.raw_token.plan.steps().len() as u64 {
            return Err(bad(format!(
                "the token signs {} steps, the plan has {}",
                signed.step_count,
                token.raw_token.plan.steps().len()
            )));
        }
        for (name, v) in [
            ("plan_hash", Some(token.plan_hash.as_str())),
            ("merkle_root", token.raw_token.merkle_root.as_deref()),
        ] {
            let want = if name == "plan_hash" {
                &hashes.plan_hash
            } else {
                &hashes.merkle_root
            };
            if v != Some(want.as_str()) {
                return Err(bad(format!(
                    "response {name} {v:?} is not the plan's {want}"
                )));
            }
        }
        // The CSRG token object: signed by the same key over the same plan_hash.
        if truthy(&token.raw_token.token) {
            let text =
                serde_json::to_vec(&token.raw_token.token).map_err(|e| bad(e.to_string()))?;
            let mut scratch = vec![0u8; text.len() * 2 + 64];
            let csrg = armoriq_core::csrg::verify::<HostBackend>(&text, Some(&key), &mut scratch)
                .map_err(|e| bad(format!("CSRG token: {}: {e}", e.name())))?;
            if csrg.plan_hash != hashes.plan_hash {
                return Err(bad(format!(
                    "the CSRG token signs plan_hash {} but the plan hashes to {}",
                    csrg.plan_hash, hashes.plan_hash
                )));
            }
        }
        Ok(())
    }

    /// `invoke(mcp, action, token, params, user_email)`: `POST {proxy}/invoke`,
    /// one attempt, with the SDK's status/body → error mapping.
    ///
    /// # Errors
    /// In this order: `TokenExpired` (before sending), the local check,
    /// `PolicyHold` / `PolicyBlocked` (body `enforcementAction`),
    /// `InvalidToken` (401/403), `IntentMismatch` (409), `MCPInvocation`.
    pub fn invoke(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params: Option<&Value>,
        user_email: Option<&str>,
    ) -> Result<McpInvocationResult> {
        let params_json = match params {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(p) if p.is_object() => serde_json::to_string(p).unwrap_or_else(|_| "{}".into()),
            Some(_) => {
                return Err(ArmorIqError::InvalidInput(
                    "params must be a JSON object".into(),
                ));
            }
        };
        self.invoke_json(mcp, action, token, &params_json, user_email)
    }

    /// `invoke` with params as JSON text (key order and numbers kept).
    ///
    /// # Errors
    /// As [`ArmorIQClient::invoke`].
    pub fn invoke_json(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params_json: &str,
        user_email: Option<&str>,
    ) -> Result<McpInvocationResult> {
        if token.is_expired() {
            return Err(ArmorIqError::TokenExpired {
                message: format!(
                    "Intent token expired {:.1}s ago",
                    token.time_until_expiry().abs()
                ),
                token_id: token.token_id.clone(),
                expired_at: token.expires_at,
            });
        }
        if self.inner.opts.local_verification {
            self.verify_locally(token)?;
        }
        let proxy = self.proxy_for(mcp)?;
        let url = format!("{proxy}/invoke");
        let params_json = plan::py_json(params_json)?;
        let mut iam = Body::new();
        if truthy(&token.policy_validation) {
            iam = iam.put(
                "allowed_tools",
                &token
                    .policy_validation
                    .get("allowed_tools")
                    .cloned()
                    .unwrap_or_else(|| json!([])),
            );
        }
        if let Some(e) = user_email.filter(|e| !e.is_empty()) {
            iam = iam.put("email", &e).put("user_email", &e);
        }
        iam = iam
            .put("user_id", &self.inner.user_id)
            .put("agent_id", &self.inner.agent_id);
        let csrg = serde_json::to_string(&token.raw_token.token).unwrap_or_else(|_| "{}".into());
        let body = Body::new()
            .put("mcp", &mcp)
            .put("action", &action)
            .put("tool", &action)
            .raw("params", &params_json)
            .raw("arguments", &params_json)
            .raw("intent_token", &token.signed_json())
            .raw("plan", token.raw_token.plan.as_json())
            .raw("_iam_context", &iam.finish())
            .opt("user_email", user_email.filter(|e| !e.is_empty()).as_ref())
            .opt(
                "agent_id",
                Some(&self.inner.agent_id).filter(|a| a.as_str() != MULTIUSER),
            )
            .opt(
                "policy_snapshot",
                Some(&token.policy_snapshot).filter(|p| truthy(p)),
            )
            .raw("token", &csrg)
            .raw("csrg_token", &csrg)
            .finish();
        let mut headers = vec![
            ("Accept", "application/json, text/event-stream".to_owned()),
            (
                "Cache-Control",
                "no-cache, no-store, must-revalidate".to_owned(),
            ),
            (
                "X-Request-ID",
                format!(
                    "sdk-{}",
                    SystemTime::now()
                        .duration_since(SystemTime::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis())
                ),
            ),
            self.key_header(),
        ];
        if let Some(cred) = self.mcp_credential(mcp) {
            use base64::Engine;
            headers.push((
                "X-Armoriq-MCP-Auth",
                base64::engine::general_purpose::STANDARD.encode(http::ascii_escape(cred)),
            ));
        }
        let start = Instant::now();
        let resp = self
            .inner
            .http
            .send("POST", &url, &headers, Some(&body), None)
            .map_err(|e| {
                ArmorIqError::mcp(
                    format!("Could not reach the ArmorIQ proxy at {url}: {e}"),
                    mcp,
                    action,
                    None,
                )
            })?;
        let elapsed = start.elapsed().as_secs_f64();
        map_invoke_response(&resp, &url, mcp, action, &token.plan_hash, elapsed)
    }

    fn mcp_credential(&self, mcp: &str) -> Option<&str> {
        let m = &self.inner.mcp_credentials;
        if let Some(c) = m.get(mcp) {
            return Some(c);
        }
        let safe: String = mcp
            .to_uppercase()
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() || c.is_ascii_digit() {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        m.get(&safe).map(String::as_str)
    }

    /// `bootstrap()`: `POST {backend}/iap/sdk/bootstrap`, cached for the
    /// client's lifetime.
    ///
    /// # Errors
    /// `Configuration` on ≥ 400 or a transport error.
    pub fn bootstrap(&self) -> Result<Value> {
        if let Some(v) = lock(&self.inner.bootstrap).clone() {
            return Ok(v);
        }
        let r = self
            .post_json("/iap/sdk/bootstrap", "{}", None)
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
    pub fn resolve_user(&self, email: &str) -> Result<Value> {
        let key = email.trim().to_lowercase();
        if let Some((v, until)) = lock(&self.inner.users).get(&key)
            && *until > Instant::now()
        {
            return Ok(v.clone());
        }
        let body = Body::new().put("userEmail", &key).finish();
        let r = self
            .post_json("/iap/sdk/resolve-user", &body, None)
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
    pub fn fetch_tool_metadata(&self, mcp: &str) -> Value {
        if let Some(v) = lock(&self.inner.metadata).get(mcp) {
            return v.clone();
        }
        let url = format!("{}/mcp/tool-metadata/{}", self.inner.backend, mcp);
        let v = self
            .inner
            .http
            .send("GET", &url, &[self.key_header()], None, None)
            .ok()
            .filter(|r| r.status < 400)
            .and_then(|r| r.json())
            .and_then(|j| j.get("data").cloned())
            .unwrap_or_else(|| json!({}));
        lock(&self.inner.metadata).insert(mcp.to_owned(), v.clone());
        v
    }

    fn email_headers(&self, email: &str) -> Vec<(&'static str, String)> {
        vec![self.key_header(), ("X-User-Email", email.to_owned())]
    }

    /// `create_delegation_request(params)`: `POST {backend}/delegation/request`
    /// with `X-User-Email` and an `Idempotency-Key: deleg-<ms>-<8 hex>`.
    ///
    /// # Errors
    /// `Delegation` on ≥ 400 or a transport error.
    pub fn create_delegation_request(
        &self,
        params: &DelegationRequestParams,
        email: &str,
    ) -> Result<Value> {
        let mut headers = self.email_headers(email);
        let ms = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        headers.push((
            "Idempotency-Key",
            format!(
                "deleg-{ms}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
        ));
        let url = format!("{}/delegation/request", self.inner.backend);
        let body = serde_json::to_string(params).unwrap_or_else(|_| "{}".into());
        let r = self
            .inner
            .http
            .send("POST", &url, &headers, Some(&body), None)
            .map_err(|e| ArmorIqError::Delegation {
                message: format!("Delegation request failed: {e}"),
                status: None,
            })?;
        if r.status >= 400 {
            return Err(ArmorIqError::Delegation {
                message: format!("Delegation request failed: {} {}", r.status, r.text),
                status: None,
            });
        }
        r.json().ok_or_else(|| ArmorIqError::Delegation {
            message: "Delegation request: the answer is not JSON".into(),
            status: None,
        })
    }

    /// `check_approved_delegation(email, tool, amount, plan_id)`; errors give `None`.
    pub fn check_approved_delegation(
        &self,
        email: &str,
        tool: &str,
        amount: Option<f64>,
        plan_id: Option<&str>,
    ) -> Option<Value> {
        let mut q = format!("tool={}", urlenc(tool));
        if let Some(a) = amount {
            q.push_str(&format!(
                "&amount={}",
                serde_json::to_string(&a).unwrap_or_default()
            ));
        }
        if let Some(p) = plan_id {
            q.push_str(&format!("&planId={}", urlenc(p)));
        }
        let url = format!("{}/delegation/check-approved?{q}", self.inner.backend);
        self.inner
            .http
            .send("GET", &url, &self.email_headers(email), None, None)
            .ok()
            .filter(|r| r.status < 400)
            .and_then(|r| r.json())
    }

    /// `get_delegation_status(id)`: `{status}`.
    ///
    /// # Errors
    /// `Delegation` (with the status) on ≥ 400 or a transport error.
    pub fn get_delegation_status(&self, id: &str) -> Result<Value> {
        let url = format!("{}/delegation/{}/status", self.inner.backend, urlenc(id));
        let r = self
            .inner
            .http
            .send(
                "GET",
                &url,
                &[self.key_header()],
                None,
                Some(Duration::from_secs(10)),
            )
            .map_err(|e| ArmorIqError::Delegation {
                message: format!("Failed to get delegation status: {e}"),
                status: None,
            })?;
        if r.status >= 400 {
            return Err(ArmorIqError::Delegation {
                message: format!("Failed to get delegation status: {} {}", r.status, r.text),
                status: Some(r.status),
            });
        }
        r.json().ok_or_else(|| ArmorIqError::Delegation {
            message: "delegation status: the answer is not JSON".into(),
            status: Some(r.status),
        })
    }

    /// `mark_delegation_executed(id, email, plan_id)` (retried; errors ignored).
    pub fn mark_delegation_executed(&self, id: &str, email: &str, plan_id: Option<&str>) {
        let mut headers = self.email_headers(email);
        headers.push(("Idempotency-Key", format!("mark-exec:{id}")));
        let body = Body::new()
            .put("delegationId", &id)
            .opt("planId", plan_id.as_ref())
            .finish();
        let url = format!("{}/delegation/mark-executed", self.inner.backend);
        let _ = http::retry_post(
            &self.inner.http,
            &url,
            &headers,
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            None,
        );
    }

    /// `_resolve_user_role(email)`: `(role, limit)`, else `("agent_user", 0)`.
    pub fn resolve_user_role(&self, email: &str) -> (String, f64) {
        let url = format!("{}/delegation/my-role", self.inner.backend);
        self.inner
            .http
            .send(
                "GET",
                &url,
                &self.email_headers(email),
                None,
                Some(Duration::from_secs(5)),
            )
            .ok()
            .filter(|r| r.status < 400)
            .and_then(|r| r.json())
            .map_or(("agent_user".into(), 0.0), |v| {
                (
                    v.get("role")
                        .and_then(Value::as_str)
                        .unwrap_or("agent_user")
                        .to_owned(),
                    v.get("limit").and_then(Value::as_f64).unwrap_or(0.0),
                )
            })
    }

    /// `_enrich_policy_context`: `{is_financial, transaction_type, amount,
    /// recipient_id}` from the tool's metadata (`amount` divided by 100 for
    /// cents).
    pub fn policy_context(
        &self,
        mcp: &str,
        action: &str,
        params: &serde_json::Map<String, Value>,
    ) -> Value {
        let meta = self.fetch_tool_metadata(mcp);
        let tm = meta
            .get("toolMetadata")
            .and_then(|t| t.get(action))
            .cloned()
            .unwrap_or(Value::Null);
        if tm.get("isFinancial").and_then(Value::as_bool) != Some(true) {
            return json!({"is_financial": false, "transaction_type": null, "amount": null,
                          "recipient_id": null});
        }
        let cents = tm.get("amountUnit").and_then(Value::as_str) == Some("cents");
        let amount = tm
            .get("amountFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find_map(|f| match params.get(f)? {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            })
            .map(|a| if cents { a / 100.0 } else { a });
        let recipient = tm
            .get("recipientField")
            .and_then(Value::as_str)
            .and_then(|f| params.get(f).cloned())
            .unwrap_or(Value::Null);
        json!({"is_financial": true,
               "transaction_type": tm.get("transactionType").filter(|t| truthy(t)).cloned()
                   .unwrap_or_else(|| json!(action)),
               "amount": amount, "recipient_id": recipient})
    }

    /// `invoke_with_policy(mcp, action, token, params, opts)`: tool metadata
    /// (`_policy_context` for financial tools), `invoke`; on a hold, and when
    /// waiting is asked with a user email: a delegation request, status
    /// polling (first after 3 s, ×1.5, at most 15 s), and on approval a
    /// re-invoke with `_delegation_id` and `_approvals: 999`, then
    /// mark-executed.
    ///
    /// # Errors
    /// As `invoke`; `PolicyHold` when not waiting; `Delegation` when the
    /// delegation is rejected, expires or times out.
    pub fn invoke_with_policy(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params: Option<&Value>,
        opts: &InvokeOptions,
    ) -> Result<McpInvocationResult> {
        let mut params = match params {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        let original = params.clone();
        let ctx = self.policy_context(mcp, action, &params);
        let amount = ctx.get("amount").and_then(Value::as_f64);
        params.insert("_policy_context".into(), ctx);
        let first = self.invoke(
            mcp,
            action,
            token,
            Some(&Value::Object(params.clone())),
            opts.user_email.as_deref(),
        );
        let held = match first {
            Err(ArmorIqError::PolicyHold {
                reason,
                delegation_context,
                message,
                delegation_id,
                matched_policy,
                metadata,
            }) => {
                let info = HoldInfo {
                    mcp: mcp.into(),
                    action: action.into(),
                    reason: Some(reason.clone().unwrap_or_else(|| message.clone())),
                    delegation_id: None,
                    amount,
                };
                if let Some(cb) = &opts.on_hold {
                    cb(&info);
                }
                let Some(email) = opts
                    .user_email
                    .as_deref()
                    .filter(|_| opts.wait_for_approval)
                else {
                    return Err(ArmorIqError::PolicyHold {
                        message,
                        reason,
                        delegation_id,
                        delegation_context,
                        matched_policy,
                        metadata,
                    });
                };
                let _ = email;
                (
                    reason,
                    message,
                    delegation_context,
                    matched_policy,
                    metadata,
                )
            }
            other => return other,
        };
        let (reason, message, ctx, matched_policy, hold_meta) = held;
        let reason_text = reason.clone().unwrap_or_else(|| message.clone());
        let email = opts.user_email.clone().unwrap_or_default();
        let (role, limit) = match &opts.requester_role {
            Some(r) => (r.clone(), opts.requester_limit.unwrap_or(0.0)),
            None => self.resolve_user_role(&email),
        };
        let c = |k: &str| ctx.get(k).and_then(Value::as_str).map(str::to_owned);
        let req = DelegationRequestParams {
            tool: action.to_owned(),
            action: "execute".into(),
            arguments: Some(Value::Object(original)),
            amount: Some(amount.filter(|a| *a != 0.0).unwrap_or(0.0)),
            requester_email: email.clone(),
            requester_role: Some(role),
            requester_limit: Some(limit),
            domain: Some(c("domain").unwrap_or_else(|| mcp.to_owned())),
            target_url: c("targetUrl"),
            plan_id: c("planId").or_else(|| token.plan_id.clone()),
            intent_reference: Some(c("intentReference").unwrap_or_else(|| token.token_id.clone())),
            merkle_root: Some(c("merkleRoot").unwrap_or_else(|| token.plan_hash.clone())),
            reason: Some(reason_text.clone()),
        };
        let created = match self.create_delegation_request(&req, &email) {
            Ok(v) => v,
            Err(e) => {
                let mut meta = match *hold_meta {
                    Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                };
                meta.insert("delegationError".into(), json!(e.message()));
                return Err(ArmorIqError::PolicyHold {
                    message,
                    reason,
                    delegation_id: None,
                    delegation_context: ctx,
                    matched_policy,
                    metadata: Box::new(Value::Object(meta)),
                });
            }
        };
        let id = created
            .get("delegationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ArmorIqError::Delegation {
                message: "delegation request answered without delegationId".into(),
                status: None,
            })?;
        if let Some(cb) = &opts.on_hold {
            cb(&HoldInfo {
                mcp: mcp.into(),
                action: action.into(),
                reason: Some(reason_text.clone()),
                delegation_id: Some(id.clone()),
                amount,
            });
        }
        let poll = self.inner.opts.poll;
        let timeout = opts.delegation_timeout.unwrap_or(poll.timeout);
        let deadline = Instant::now() + timeout;
        let mut wait = poll.first;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ArmorIqError::Delegation {
                    message: format!(
                        "Delegation approval timed out after {:.0}s",
                        timeout.as_secs_f64()
                    ),
                    status: None,
                });
            }
            std::thread::sleep(wait.min(left));
            wait = Duration::from_secs_f64(
                (wait.as_secs_f64() * poll.factor).min(poll.cap.as_secs_f64()),
            );
            let status = self
                .get_delegation_status(&id)?
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("pending")
                .to_owned();
            match status.as_str() {
                "approved" => break,
                "rejected" | "expired" => {
                    return Err(ArmorIqError::Delegation {
                        message: format!("Delegation {status}"),
                        status: None,
                    });
                }
                _ => {}
            }
        }
        params.insert("_delegation_id".into(), json!(id));
        params.insert("_approvals".into(), json!(999));
        let result = self.invoke(
            mcp,
            action,
            token,
            Some(&Value::Object(params)),
            Some(&email),
        )?;
        self.mark_delegation_executed(&id, &email, token.plan_id.as_deref());
        Ok(result)
    }

    /// `revoke(token, reason, cascade, plan_id, intent_reference)`:
    /// `POST {backend}/iap/trust/revoke` (Bearer only, retried, 10 s); the
    /// plan's tokens stop working at the proxy.
    ///
    /// # Errors
    /// `Delegation` (with the status) when the backend refuses or cannot be
    /// reached.
    pub fn revoke(
        &self,
        token: &IntentToken,
        reason: &str,
        cascade: bool,
        plan_id: Option<&str>,
        intent_reference: Option<&str>,
    ) -> Result<Value> {
        let fail = |m: String, status: Option<u16>| ArmorIqError::Delegation {
            message: format!("Revoke failed for {}: {m}", token.token_id),
            status,
        };
        let csrg = serde_json::to_string(&token.raw_token.token).unwrap_or_else(|_| "{}".into());
        let body = Body::new()
            .raw("token", &csrg)
            .put("reason", &reason)
            .put("cascade", &cascade)
            .put("planId", &plan_id.or(token.plan_id.as_deref()))
            .put("intentReference", &intent_reference)
            .finish();
        let url = format!("{}/iap/trust/revoke", self.inner.backend);
        let r = http::retry_post(
            &self.inner.http,
            &url,
            &[],
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            Some(Duration::from_secs(10)),
        )
        .map_err(|e| fail(e.message, None))?;
        if r.status >= 400 {
            return Err(fail(r.text.clone(), Some(r.status)));
        }
        r.json()
            .ok_or_else(|| fail("the answer is not JSON".into(), Some(r.status)))
    }

    /// `complete_plan(plan_id)`: `update_plan_status(plan_id, "completed")`.
    pub fn complete_plan(&self, plan_id: &str) {
        self.update_plan_status(plan_id, "completed");
    }

    /// `update_plan_status(plan_id, status)` (retried; errors ignored).
    pub fn update_plan_status(&self, plan_id: &str, status: &str) {
        let url = format!(
            "{}/iap/plans/{}/status",
            self.inner.backend,
            urlenc(plan_id)
        );
        let body = Body::new().put("status", &status).finish();
        let _ = http::retry_post(
            &self.inner.http,
            &url,
            &[
                self.key_header(),
                ("Idempotency-Key", format!("plan-status:{plan_id}:{status}")),
            ],
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            None,
        );
    }
}

/// Maps a `/invoke` answer to a result or error, in the SDK's order.
///
/// # Errors
/// As [`ArmorIQClient::invoke`].
pub fn map_invoke_response(
    resp: &Resp,
    url: &str,
    mcp: &str,
    action: &str,
    plan_hash: &str,
    elapsed: f64,
) -> Result<McpInvocationResult> {
    let data: Value = if resp.content_type.contains("text/event-stream") {
        let d = resp
            .text
            .split('\n')
            .filter_map(|l| l.strip_prefix("data: "))
            .find_map(|l| serde_json::from_str::<Value>(l).ok());
        match d.filter(truthy) {
            Some(d) => d,
            None => {
                return Err(ArmorIqError::mcp(
                    "No data in SSE response".into(),
                    mcp,
                    action,
                    None,
                ));
            }
        }
    } else {
        resp.json()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}))
    };
    if let Some(e) = policy_refusal(&data) {
        return Err(e);
    }
    if resp.status >= 400 {
        let detail = resp
            .json()
            .map_or_else(|| resp.text.clone(), |v| py_repr(&v));
        return Err(match resp.status {
            401 | 403 => ArmorIqError::InvalidToken(format!(
                "Token verification failed at {url} (HTTP {}): {detail}",
                resp.status
            )),
            409 => ArmorIqError::IntentMismatch {
                message: format!("Action not in plan at {url}: {detail}"),
                action: action.to_owned(),
                plan_hash: plan_hash.to_owned(),
            },
            s => ArmorIqError::mcp(
                format!("MCP invocation failed at {url} (HTTP {s}): {detail}"),
                mcp,
                action,
                Some(s),
            ),
        });
    }
    if let Some(err) = data.get("error").filter(|e| truthy(e)) {
        let msg = err.get("message").map_or("Unknown error".into(), py_str);
        let code = err.get("code").map_or("-1".into(), py_str);
        let d = err.get("data").map_or(String::new(), py_str);
        return Err(ArmorIqError::mcp(
            format!("MCP tool error ({code}): {msg} - {d}"),
            mcp,
            action,
            None,
        ));
    }
    let result = data.get("result").cloned().unwrap_or_else(|| data.clone());
    let has_err = ["isError", "is_error", "error"]
        .iter()
        .any(|k| result.get(k).is_some_and(truthy));
    Ok(McpInvocationResult {
        mcp: mcp.to_owned(),
        action: action.to_owned(),
        result,
        status: if has_err { "error" } else { "success" }.into(),
        execution_time: elapsed,
        verified: true,
        metadata: json!({"hasToolError": has_err}),
    })
}

/// `_policy_refusal(data)`: body `enforcementAction` hold / block.
fn policy_refusal(data: &Value) -> Option<ArmorIqError> {
    let action = data.get("enforcementAction").and_then(Value::as_str)?;
    let matched = data
        .get("matched_policy")
        .or_else(|| data.get("matchedPolicy"))
        .and_then(|m| match m {
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
            Value::String(s) => Some(s.clone()),
            _ => None,
        });
    let message = data
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    let reason = data
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let obligations =
        json!({"obligations": data.get("obligations").cloned().unwrap_or(Value::Null)});
    match action {
        "hold" => {
            let ctx = data
                .get("delegation_context")
                .cloned()
                .unwrap_or(Value::Null);
            Some(ArmorIqError::PolicyHold {
                message: message.unwrap_or("Action held for approval").to_owned(),
                delegation_id: ctx
                    .get("delegationId")
                    .or_else(|| ctx.get("delegation_id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                delegation_context: Box::new(ctx),
                reason,
                matched_policy: matched,
                metadata: Box::new(obligations),
            })
        }
        "block" => Some(ArmorIqError::PolicyBlocked {
            message: message.unwrap_or("Action blocked by policy").to_owned(),
            reason,
            enforcement_action: Some("block".into()),
            matched_policy: matched,
            metadata: Box::new(obligations),
        }),
        _ => None,
    }
}

fn parse_trusted_key(text: &str) -> std::result::Result<[u8; 32], String> {
    let k = armoriq_common::keys::parse_public_key(text)?;
    if k.alg != armoriq_core::Alg::EdDsa {
        return Err("the IAP key must be Ed25519".into());
    }
    k.raw
        .as_slice()
        .try_into()
        .map_err(|_| "the Ed25519 key is not 32 bytes".to_owned())
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Python truthiness of a JSON value.
pub(crate) fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|x| x != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `str(value)` for message text: strings bare, the rest as JSON.
pub(crate) fn py_str(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "None".into(),
        other => py_repr(other),
    }
}

/// Python's `repr()` of the parsed JSON value (`{'message': 'x'}`), as the
/// SDK's messages show a response body.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => py_str_repr(s),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("{}: {}", py_str_repr(k), py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

fn py_str_repr(s: &str) -> String {
    let q = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut o = String::with_capacity(s.len() + 2);
    o.push(q);
    for c in s.chars() {
        match c {
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if c == q => {
                o.push('\\');
                o.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                o.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => o.push(c),
        }
    }
    o.push(q);
    o
}

pub(crate) fn urlenc(s: &str) -> String {
    let mut o = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            o.push(b as char);
        } else {
            o.push_str(&format!("%{b:02X}"));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_is_send_sync_clone_and_reprs_are_pythonic() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<ArmorIQClient>();
        assert_eq!(
            py_repr(&json!({"message": "it's", "n": [1, true, null]})),
            r#"{'message': "it's", 'n': [1, True, None]}"#
        );
        assert_eq!(urlenc("a b/é"), "a%20b%2F%C3%A9");
        assert!(check_api_key_format("ak_claw_x", "http://h").is_ok());
        assert!(check_api_key_format("ak_x", "http://h").is_err());
        assert_eq!(
            paired_endpoint("proxy", "http://127.0.0.1:3000/"),
            Some("http://127.0.0.1:3001")
        );
        assert_eq!(paired_endpoint("proxy", "http://example.com"), None);
    }
}
