//! Where the client sends requests: the known environments, their
//! paired proxy / IAP / dashboard endpoints, and the API-key format check.

use crate::error::{ArmorIqError, Result};
use crate::options::ClientOptions;

/// Known environments: `(name, backend, proxy, iap, dashboard)`.
pub(crate) const ENDPOINTS: [EnvRow; 3] = [
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
pub(crate) const ARMORCLAW: [(&str, &str, &str); 2] = [
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

pub(crate) fn env(name: &str) -> Option<String> {
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
pub(crate) type EnvRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

pub(crate) fn env_row(name: &str) -> EnvRow {
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

pub(crate) fn endpoints_for(
    key: &str,
    o: &ClientOptions,
) -> (Option<String>, Option<String>, String) {
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

pub(crate) fn dashboard_hint(backend: &str) -> String {
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
