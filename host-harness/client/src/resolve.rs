//! Construction-time resolution of the API key and the per-MCP credentials.

use crate::credentials;
use crate::endpoints::{endpoints_for, env};
use crate::error::{ArmorIqError, Result};
use crate::http::Body;
use crate::options::ClientOptions;
use crate::plan::{self};
use serde_json::Value;
use std::collections::HashMap;

/// `(key, why none)`: explicit → `ARMORIQ_API_KEY` → `ARMORIQ_PROFILE` →
/// the saved profile for (backend, product).
pub(crate) fn resolve_api_key(o: &ClientOptions) -> Result<(String, Option<String>)> {
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
pub(crate) fn resolve_mcp_credentials(
    from_options: &HashMap<String, Value>,
) -> HashMap<String, String> {
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
