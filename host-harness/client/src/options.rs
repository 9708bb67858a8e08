//! [`ClientOptions`]: everything a client is built from, with the SDK's defaults.

use crate::client::ArmorIQClient;
use crate::error::Result;
use crate::http::Backoff;
use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

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
    /// Extra trusted root certificates (PEM bundles), added to the system's
    /// roots, for a gateway or backend behind a private CA; the file
    /// `ARMORIQ_CA_CERT` names is added too.
    pub extra_root_certificates: Vec<Vec<u8>>,
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
            extra_root_certificates: Vec::new(),
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

    /// Trusts the certificates of a PEM bundle (a private CA) besides the
    /// system's roots.
    #[must_use]
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.extra_root_certificates.push(pem.into());
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
