//! LLM token usage, as the official SDK reports it
//! (`record_token_usage`, `initialize_usage_stream`, `reset_usage_stream`,
//! `record_token_usage_batch`, `report_usage_run`):
//!
//! * `POST /dashboard/token-usage`: one session's per-model counts for one
//!   UTC hour; they replace the row of (org, product, session, model, date,
//!   hour, device), so posting the same hour again is idempotent and a model
//!   posted with zeros is zeroed. `{"recorded": n}`.
//! * `POST /dashboard/token-usage/stream` (`{}`): the org's stream
//!   `generation` (created on first use); `…/stream/reset`
//!   (`{generation, resetId}`): a new one if `generation` is still current.
//! * `POST /dashboard/token-usage/batch`: up to 100 session-hour snapshots
//!   of the current generation, each with a `revision`: stored if newer than
//!   the stored one; answered per snapshot `applied` / `present` /
//!   `superseded`.
//! * `PUT /dashboard/token-usage/runs/{runId}`: a run's progress report.
//!
//! The org is the API key (a self-hosted gateway has no other tenant).
//! Bodies are parsed strictly with the SDK's own limits.

use crate::auth::ApiKey;
use crate::error::{GatewayError, GwResult};
use crate::extract::JsonBody;
use crate::store::UsageRow;
use crate::{AppState, now_ms};
use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::routing::{post, put};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// Snapshots in one batch (the SDK's `MAX_BATCH_SNAPSHOTS`).
pub const MAX_SNAPSHOTS: usize = 100;
/// Model entries in one request (the SDK's `MAX_BATCH_ENTRIES`).
pub const MAX_ENTRIES: usize = 500;
/// Longest product, session, model, device or repo name.
const MAX_TEXT: usize = 512;
/// Largest count accepted (tokens).
const MAX_COUNT: i64 = 1 << 53;

/// One model's counts.
#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Entry {
    model: String,
    #[serde(default)]
    input_tokens: i64,
    #[serde(default)]
    output_tokens: i64,
    #[serde(default)]
    cache_read_tokens: i64,
    #[serde(default)]
    cache_write_tokens: i64,
}

/// `record_token_usage`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct UsageRequest {
    product: String,
    session_id: String,
    entries: Vec<Entry>,
    usage_date: String,
    usage_hour: u8,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
    #[serde(default)]
    armored: Option<bool>,
}

/// Whether `d` is a real `YYYY-MM-DD` date (proleptic Gregorian).
pub fn is_usage_date(d: &str) -> bool {
    let b = d.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let s = d.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())
            .flatten()
    };
    let (Some(y), Some(m), Some(day)) = (num(0..4), num(5..7), num(8..10)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    y >= 1 && (1..=days).contains(&day)
}

fn text(name: &str, v: &str, empty_ok: bool) -> GwResult<()> {
    if (!empty_ok && v.is_empty()) || v.len() > MAX_TEXT {
        return Err(GatewayError::BadRequest(format!(
            "{name} must be 1 to {MAX_TEXT} bytes"
        )));
    }
    Ok(())
}

/// The bucket every row of a request shares.
struct Bucket<'a> {
    org: i64,
    product: &'a str,
    session_id: &'a str,
    usage_date: &'a str,
    usage_hour: u8,
    device: &'a str,
    device_name: Option<&'a str>,
    repo: Option<&'a str>,
    armored: Option<bool>,
    revision: i64,
}

/// Checked rows, one per model (a model listed twice is refused).
fn rows(b: &Bucket<'_>, entries: &[Entry]) -> GwResult<Vec<UsageRow>> {
    text("product", b.product, false)?;
    text("sessionId", b.session_id, false)?;
    text("deviceId", b.device, true)?;
    if let Some(r) = b.repo {
        text("repo", r, true)?;
    }
    if let Some(n) = b.device_name {
        text("deviceName", n, true)?;
    }
    if !is_usage_date(b.usage_date) {
        return Err(GatewayError::BadRequest(
            "usageDate must be a UTC calendar date as YYYY-MM-DD".into(),
        ));
    }
    if b.usage_hour > 23 {
        return Err(GatewayError::BadRequest(
            "usageHour must be an integer from 0 to 23".into(),
        ));
    }
    if entries.len() > MAX_ENTRIES {
        return Err(GatewayError::BadRequest(format!(
            "at most {MAX_ENTRIES} entries"
        )));
    }
    let now = now_ms();
    let mut out: Vec<UsageRow> = Vec::with_capacity(entries.len());
    for e in entries {
        text("model", &e.model, false)?;
        for (n, c) in [
            ("inputTokens", e.input_tokens),
            ("outputTokens", e.output_tokens),
            ("cacheReadTokens", e.cache_read_tokens),
            ("cacheWriteTokens", e.cache_write_tokens),
        ] {
            if !(0..=MAX_COUNT).contains(&c) {
                return Err(GatewayError::BadRequest(format!(
                    "{n} of {} must be a count from 0 to 2^53",
                    e.model
                )));
            }
        }
        if out.iter().any(|r| r.model == e.model) {
            return Err(GatewayError::BadRequest(format!(
                "model {:?} is listed twice",
                e.model
            )));
        }
        out.push(UsageRow {
            org: b.org,
            product: b.product.to_owned(),
            session_id: b.session_id.to_owned(),
            model: e.model.clone(),
            usage_date: b.usage_date.to_owned(),
            usage_hour: b.usage_hour,
            device: b.device.to_owned(),
            device_name: b.device_name.map(str::to_owned),
            repo: b.repo.map(str::to_owned),
            armored: b.armored,
            input_tokens: e.input_tokens,
            output_tokens: e.output_tokens,
            cache_read_tokens: e.cache_read_tokens,
            cache_write_tokens: e.cache_write_tokens,
            revision: b.revision,
            updated_ms: now,
        });
    }
    Ok(out)
}

/// `POST /dashboard/token-usage`.
pub async fn record(
    State(st): State<AppState>,
    ApiKey(key): ApiKey,
    JsonBody(r): JsonBody<UsageRequest>,
) -> GwResult<Json<Value>> {
    let rows = rows(
        &Bucket {
            org: key.id,
            product: &r.product,
            session_id: &r.session_id,
            usage_date: &r.usage_date,
            usage_hour: r.usage_hour,
            device: r.device_id.as_deref().unwrap_or_default(),
            device_name: r.device_name.as_deref(),
            repo: r.repo.as_deref(),
            armored: r.armored,
            revision: 0,
        },
        &r.entries,
    )?;
    let n = st.store.put_usage(&rows).await?;
    Ok(Json(json!({"ok": true, "recorded": n})))
}

/// A hyphenated UUID, as the SDK's `is_uuid` accepts it.
fn is_uuid(s: &str) -> bool {
    s.len() == 36
        && uuid::Uuid::try_parse(s).is_ok_and(|u| {
            (1..=8).contains(&u.get_version_num()) && u.get_variant() == uuid::Variant::RFC4122
        })
}

/// `POST /dashboard/token-usage/stream`.
pub async fn stream(State(st): State<AppState>, ApiKey(key): ApiKey) -> GwResult<Json<Value>> {
    let fresh = uuid::Uuid::new_v4().hyphenated().to_string();
    let generation = st.store.open_usage_stream(key.id, &fresh).await?;
    Ok(Json(json!({"generation": generation})))
}

/// `…/stream/reset` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResetRequest {
    generation: String,
    reset_id: String,
}

/// `POST /dashboard/token-usage/stream/reset`.
pub async fn stream_reset(
    State(st): State<AppState>,
    ApiKey(key): ApiKey,
    JsonBody(r): JsonBody<ResetRequest>,
) -> GwResult<Json<Value>> {
    if !is_uuid(&r.generation) || !is_uuid(&r.reset_id) {
        return Err(GatewayError::BadRequest(
            "generation and resetId must be UUIDs".into(),
        ));
    }
    let fresh = uuid::Uuid::new_v4().hyphenated().to_string();
    let generation = st
        .store
        .reset_usage_stream(key.id, &r.generation, &fresh)
        .await?;
    Ok(Json(
        json!({"generation": generation, "resetId": r.reset_id}),
    ))
}

/// One snapshot of a batch.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Snapshot {
    session_id: String,
    revision: i64,
    entries: Vec<Entry>,
    usage_date: String,
    usage_hour: u8,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
    #[serde(default)]
    armored: Option<bool>,
}

/// `record_token_usage_batch`'s body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Batch {
    generation: String,
    batch_id: String,
    #[serde(default)]
    run_id: Option<String>,
    snapshots: Vec<Snapshot>,
    #[serde(default)]
    product: Option<String>,
    #[serde(default)]
    device_id: Option<String>,
    #[serde(default)]
    device_name: Option<String>,
}

/// `POST /dashboard/token-usage/batch`.
pub async fn batch(
    State(st): State<AppState>,
    ApiKey(key): ApiKey,
    JsonBody(b): JsonBody<Batch>,
) -> GwResult<Json<Value>> {
    if !is_uuid(&b.generation)
        || !is_uuid(&b.batch_id)
        || b.run_id.as_deref().is_some_and(|r| !is_uuid(r))
    {
        return Err(GatewayError::BadRequest(
            "generation, batchId and runId must be UUIDs".into(),
        ));
    }
    if b.snapshots.is_empty() || b.snapshots.len() > MAX_SNAPSHOTS {
        return Err(GatewayError::BadRequest(format!(
            "a batch must hold 1 to {MAX_SNAPSHOTS} snapshots"
        )));
    }
    if b.snapshots.iter().map(|s| s.entries.len()).sum::<usize>() > MAX_ENTRIES {
        return Err(GatewayError::BadRequest(format!(
            "a batch must hold at most {MAX_ENTRIES} model entries"
        )));
    }
    let current = st.store.open_usage_stream(key.id, &b.generation).await?;
    if current != b.generation {
        return Err(GatewayError::Conflict(
            "generation is not the stream's current one: reset the stream".into(),
        ));
    }
    // Every snapshot is checked before any is stored.
    let mut checked = Vec::with_capacity(b.snapshots.len());
    for s in &b.snapshots {
        if s.entries.is_empty() || s.revision < 1 {
            return Err(GatewayError::BadRequest(
                "every snapshot needs a positive revision and at least one entry".into(),
            ));
        }
        let product = s
            .product
            .as_deref()
            .or(b.product.as_deref())
            .ok_or_else(|| GatewayError::BadRequest("a snapshot names no product".into()))?;
        checked.push(rows(
            &Bucket {
                org: key.id,
                product,
                session_id: &s.session_id,
                usage_date: &s.usage_date,
                usage_hour: s.usage_hour,
                device: s
                    .device_id
                    .as_deref()
                    .or(b.device_id.as_deref())
                    .unwrap_or_default(),
                device_name: s.device_name.as_deref().or(b.device_name.as_deref()),
                repo: s.repo.as_deref(),
                armored: s.armored,
                revision: s.revision,
            },
            &s.entries,
        )?);
    }
    let mut results = Vec::with_capacity(checked.len());
    for (s, rows) in b.snapshots.iter().zip(&checked) {
        let status = st.store.apply_usage_snapshot(rows).await?;
        results.push(json!({"sessionId": s.session_id, "usageDate": s.usage_date,
                            "usageHour": s.usage_hour, "revision": s.revision,
                            "status": status.as_str()}));
    }
    Ok(Json(
        json!({"batchId": b.batch_id, "generation": b.generation, "results": results}),
    ))
}

/// `PUT /dashboard/token-usage/runs/{runId}`.
pub async fn run(
    State(st): State<AppState>,
    ApiKey(key): ApiKey,
    Path(run_id): Path<String>,
    body: Result<JsonBody<Map<String, Value>>, GatewayError>,
) -> GwResult<Json<Value>> {
    if !is_uuid(&run_id) {
        return Err(GatewayError::BadRequest("runId must be a UUID".into()));
    }
    let JsonBody(report) = body?;
    let text = crate::tokens::canonical(&Value::Object(report.clone()))
        .map_err(GatewayError::BadRequest)?;
    let applied = st
        .store
        .put_usage_run(key.id, &run_id, &String::from_utf8_lossy(&text), now_ms())
        .await?;
    let mut run = report;
    run.insert("runId".into(), json!(run_id));
    Ok(Json(json!({"applied": applied, "run": run})))
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/dashboard/token-usage", post(record))
        .route("/dashboard/token-usage/stream", post(stream))
        .route("/dashboard/token-usage/stream/reset", post(stream_reset))
        .route("/dashboard/token-usage/batch", post(batch))
        .route("/dashboard/token-usage/runs/{run_id}", put(run))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usage_dates_are_real_calendar_dates() {
        for ok in ["2026-12-02", "2024-02-29", "2000-02-29", "0001-01-01"] {
            assert!(is_usage_date(ok), "{ok}");
        }
        for bad in [
            "2026-2-02",
            "2025-02-29",
            "1900-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-12-32",
            "0000-01-01",
            "2026/12/02",
            "２０２６-12-02",
            "2026-12-0a",
        ] {
            assert!(!is_usage_date(bad), "{bad}");
        }
        assert!(is_uuid("3f2b8c2e-1d4a-4b6e-9f00-0123456789ab"));
        assert!(!is_uuid("3f2b8c2e1d4a4b6e9f000123456789ab"));
        assert!(!is_uuid("3f2b8c2e-1d4a-0b6e-9f00-0123456789ab"));
    }
}
