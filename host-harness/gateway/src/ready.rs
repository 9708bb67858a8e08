//! `GET /ready`: whether this gateway can serve calls now (readiness), as
//! opposed to `GET /health`, which says only that the process answers
//! (liveness).
//!
//! Each check is named in the answer with its verdict and, when it fails,
//! why (never a password or a secret: store messages name the server with
//! its password redacted):
//! * `store`: one round trip to the database ([`Store::ping`]) within the
//!   query timeout (`--pg-query-timeout`);
//! * `migrations`: the database holds the schema version this code needs;
//! * `device` (only with `--device`): the verifier device answers an
//!   identity request within its timeout and is the enrolled one.
//!
//! 200 when every check passes, else 503. Probes are not audited: a probe
//! every few seconds is not a decision.

use crate::AppState;
use crate::device::DeviceLink;
use crate::store::{StoreError, StoreLocation, pg_latest, sqlite_latest};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Instant;

/// One check's verdict.
fn verdict(result: Result<Value, String>, t0: Instant) -> Value {
    let ms = u64::try_from(t0.elapsed().as_millis()).unwrap_or(u64::MAX);
    match result {
        Ok(mut v) => {
            v["ok"] = json!(true);
            v["ms"] = json!(ms);
            v
        }
        Err(why) => json!({"ok": false, "error": why, "ms": ms}),
    }
}

/// `GET /ready`.
pub async fn ready(State(st): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut checks = serde_json::Map::new();
    let t0 = Instant::now();
    let limit = st.settings.query_timeout;
    let pinged = match tokio::time::timeout(limit, st.store.ping()).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(store_error(&e)),
        Err(_) => Err(format!(
            "the store did not answer within {} ms",
            limit.as_millis()
        )),
    };
    checks.insert(
        "store".into(),
        verdict(
            pinged
                .as_ref()
                .map(|_| json!({"backend": backend(&st.settings.store_location())}))
                .map_err(Clone::clone),
            t0,
        ),
    );
    let want = match st.settings.store_location() {
        StoreLocation::Postgres(_) => pg_latest(),
        StoreLocation::Sqlite(_) => sqlite_latest(),
    };
    let migrated = match &pinged {
        Ok(v) if *v >= want => Ok(json!({"schema_version": v})),
        Ok(v) => Err(format!(
            "the database holds schema version {v}, this gateway needs {want}"
        )),
        Err(_) => Err("unknown: the store did not answer".to_owned()),
    };
    checks.insert("migrations".into(), verdict(migrated, t0));
    if st.settings.device.is_some() {
        let t0 = Instant::now();
        let r = match st.device.get() {
            Some(link) => device(link, st.settings.state_dir.clone()).await,
            None => Err("not connected".to_owned()),
        };
        checks.insert("device".into(), verdict(r, t0));
    }
    let ready = checks.values().all(|c| c["ok"] == json!(true));
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(json!({"status": if ready { "ready" } else { "not ready" },
                    "service": "armoriq-gateway", "checks": checks})),
    )
}

fn backend(loc: &StoreLocation) -> &'static str {
    match loc {
        StoreLocation::Postgres(_) => "postgres",
        StoreLocation::Sqlite(_) => "sqlite",
    }
}

/// The store's message (servers named with their passwords redacted).
fn store_error(e: &StoreError) -> String {
    e.to_string()
}

/// The device answers its identity and is the enrolled one.
async fn device(link: &DeviceLink, state_dir: PathBuf) -> Result<Value, String> {
    let info = link.identify().await.map_err(|e| e.to_string())?;
    let id = hex::encode(info.device_id);
    tokio::task::spawn_blocking(move || crate::device::enrolled::check(&state_dir, &info))
        .await
        .map_err(|e| format!("enrolment check: {e}"))??;
    Ok(json!({"device_id": id, "spec": link.spec.to_string()}))
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/ready", get(ready))
}
