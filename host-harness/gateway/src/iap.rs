//! The intent access point: `POST /iap/sdk/token` and `GET /iap/public-key`.
//!
//! Minting validates the plan (SPEC §2), computes `plan_hash`, `merkle_root`
//! and every step proof with the core, runs policy over every step (a denied
//! tool refuses the mint with 403 and `policy_validation`, as the official SDK
//! reads it), stores the plan under a new `plan_id`, and returns:
//! * `jwt_token`: an EdDSA JWT (SPEC §4 claims) that the proxy checks and the
//!   official SDK's `local` mode verifies against `GET /iap/public-key`;
//! * `token`: the CSRG token object, Ed25519 over the canonical JSON of its
//!   seven fields, so that the official SDK's `verify_token()` returns True.

use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use crate::policy::{PolicyCall, Verdict};
use crate::store::{AuditRow, IdemKey, PlanRecord, PlanStatus, Reservation, StoredAnswer};
use crate::{AppState, now_ms, now_secs, parse_body};
use armoriq_common::proofs::plan_hashes;
use armoriq_core::Profile;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;

/// `GET /iap/public-key`: the IAP's Ed25519 key (hex first: the SDK takes
/// `public_key` before the other members).
pub async fn public_key(State(st): State<AppState>) -> Json<Value> {
    Json(json!({
        "public_key": st.signer.public_hex(),
        "alg": "EdDSA",
        "kid": st.signer.kid,
        "jwk": st.signer.public_jwk(),
        "pem": st.signer.public_pem(),
    }))
}

/// The mint request, as `get_intent_token` sends it.
#[derive(Deserialize)]
pub struct MintRequest {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    context_id: Option<String>,
    plan: Box<RawValue>,
    #[serde(default)]
    policy: Option<Box<RawValue>>,
    #[serde(default)]
    expires_in: Option<f64>,
    #[serde(default)]
    user_email: Option<String>,
}

#[derive(Serialize)]
struct Identity<'a> {
    user_id: Option<&'a str>,
    agent_id: Option<&'a str>,
    user_email: Option<&'a str>,
    context_id: Option<&'a str>,
}

/// The CSRG token object (SPEC §4; `armoriq_sdk.crypto_verify`): the signed
/// fields and the signature over their canonical JSON.
#[derive(Serialize)]
struct CsrgToken<'a> {
    #[serde(flatten)]
    signed: CsrgSigned<'a>,
    signature: String,
}

/// The signed fields of the CSRG token, in any order (they are canonicalized).
#[derive(Serialize)]
struct CsrgSigned<'a> {
    plan_hash: &'a str,
    issued_at: i64,
    expires_at: i64,
    policy: &'a RawValue,
    identity: &'a Identity<'a>,
    public_key: &'a str,
    version: &'a str,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap_or_else(|_| unreachable!("`{{}}` is JSON"))
}

/// `POST /iap/sdk/token`.
pub async fn mint(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let t0 = Instant::now();
    let key = match st.authenticate(&headers).await {
        Ok(k) => k,
        Err(e) => return e.into_response(),
    };
    let Some(idem) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|i| IdemKey {
            key_id: key.id,
            route: "token".into(),
            idem: i.to_owned(),
        })
    else {
        return match mint_inner(&st, body, t0).await {
            Ok(v) => json_response(StatusCode::OK, v),
            Err(e) => e.into_response(),
        };
    };
    // One mint per key: the winner mints; a loser replays the stored answer,
    // or gets 409 while the winner is still minting.
    match st
        .store
        .reserve_idempotency_key(&idem, now_ms(), IDEMPOTENCY_STALE_MS)
        .await
    {
        Ok(Reservation::Won) => {}
        Ok(Reservation::Replay(a)) => {
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
            return json_response(status, a.body);
        }
        Ok(Reservation::InFlight) => {
            return GatewayError::Conflict(
                "a request with this Idempotency-Key is being served; retry when it is done".into(),
            )
            .into_response();
        }
        Err(e) => return GatewayError::from(e).into_response(),
    }
    let mut held = Held {
        st: st.clone(),
        key: idem,
        armed: true,
    };
    let (status, body) = match mint_inner(&st, body, t0).await {
        Ok(v) => (StatusCode::OK, v),
        Err(e) => {
            let (s, b) = e.parts();
            (s, b.to_string())
        }
    };
    held.armed = false;
    let idem = &held.key;
    // Replays get the same answer, success or refusal; a failure of ours
    // releases the key so that a retry mints afresh.
    let result = if status.is_server_error() {
        st.store.release_idempotency_key(idem).await
    } else {
        let answer = StoredAnswer {
            status: status.as_u16(),
            body: body.clone(),
        };
        st.store
            .complete_idempotency_key(idem, &answer)
            .await
            .map(|_| ())
    };
    if let Err(e) = result {
        return GatewayError::from(e).into_response();
    }
    json_response(status, body)
}

/// How long an unfinished `Idempotency-Key` reservation blocks others (its
/// holder died or was cancelled without releasing it).
const IDEMPOTENCY_STALE_MS: i64 = 60_000;

/// A reservation being worked on: released if the request is dropped
/// (client gone) before it completes.
struct Held {
    st: AppState,
    key: IdemKey,
    armed: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        if self.armed
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (st, k) = (self.st.clone(), self.key.clone());
            rt.spawn(async move {
                if let Err(e) = st.store.release_idempotency_key(&k).await {
                    tracing::warn!(%e, "idempotency reservation not released");
                }
            });
        }
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

async fn mint_inner(
    st: &AppState,
    body: Result<Bytes, BytesRejection>,
    t0: Instant,
) -> GwResult<String> {
    let (req, _) = parse_body::<MintRequest>(body, st.settings.body_limit)?;
    let email = req.user_email.as_deref().or(req.user_id.as_deref());
    let mut row = AuditRow {
        route: "token".into(),
        user_email: email.map(str::to_owned),
        agent_id: req.agent_id.clone(),
        ..Default::default()
    };
    let plan_text = req.plan.get();
    let (digest, hashes) = match plan_hashes(plan_text.as_bytes(), Profile::ArmorIq) {
        Ok(v) => v,
        Err(e) => {
            let err = GatewayError::BadRequest(format!("invalid plan: {}: {e}", e.name()));
            row.outcome = "invalid_plan".into();
            row.reason = Some(err.reason());
            row.at_ms = now_ms();
            row.latency_us = elapsed_us(t0);
            st.audit(row).await?;
            return Err(err);
        }
    };
    let step_count = digest.step_count;

    // Policy over every step.
    let plan_v: Value = serde_json::from_str(plan_text)
        .map_err(|e| GatewayError::BadRequest(format!("invalid plan: {e}")))?;
    let policy = st.policy();
    let now = now_secs();
    let mut allowed = Vec::new();
    let mut denied = Vec::new();
    let mut reasons = Vec::new();
    let empty = json!({});
    for s in plan_v
        .get("steps")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        let mcp = s.get("mcp").and_then(Value::as_str).unwrap_or_default();
        let action = s.get("action").and_then(Value::as_str).unwrap_or_default();
        let d = policy.decide(&PolicyCall {
            mcp,
            tool: action,
            args: s.get("params").unwrap_or(&empty),
            email,
            now,
        });
        if d.verdict == Verdict::Block {
            if !denied.iter().any(|x: &String| x == action) {
                denied.push(action.to_owned());
                reasons.push(format!("{mcp}.{action}: {}", d.reason));
            }
        } else if !allowed.iter().any(|x: &String| x == action) {
            allowed.push(action.to_owned());
        }
    }
    if !denied.is_empty() {
        row.outcome = "denied".into();
        row.reason = Some(reasons.join("; "));
        row.tool = Some(denied.join(","));
        row.at_ms = now_ms();
        row.latency_us = elapsed_us(t0);
        st.audit(row).await?;
        return Err(GatewayError::PolicyBlockedMint {
            allowed,
            denied,
            reasons,
        });
    }

    let ttl_f = req.expires_in.unwrap_or_else(|| {
        st.settings
            .config
            .as_ref()
            .map_or(300.0, |c| c.intent.ttl_seconds as f64)
    });
    if !ttl_f.is_finite() || ttl_f <= 0.0 {
        return Err(GatewayError::BadRequest(format!(
            "expires_in must be a positive number of seconds, not {ttl_f}"
        )));
    }
    let max = st.settings.max_token_ttl;
    let ttl = if ttl_f >= max as f64 {
        max
    } else {
        ttl_f.ceil() as i64
    };
    let exp = now.saturating_add(ttl);
    let plan_id = format!("plan_{}", uuid::Uuid::new_v4().simple());
    let jti = format!("intent_{}", uuid::Uuid::new_v4().simple());
    let agent = req.agent_id.as_deref().filter(|a| !a.is_empty());
    let claims = json!({
        "iss": st.settings.issuer,
        "aud": st.settings.audience,
        "sub": email.unwrap_or("anonymous"),
        "agent_id": agent,
        "iat": now,
        "nbf": now,
        "exp": exp,
        "jti": jti,
        "plan_id": plan_id,
        "plan_hash": hashes.plan_hash,
        "merkle_root": hashes.merkle_root,
        "step_count": step_count,
    });
    // Absent, not null: the core reads a claim's type strictly.
    let claims = match claims {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    };
    let jwt = st
        .signer
        .sign_jwt(&claims)
        .map_err(GatewayError::Internal)?;

    let identity = Identity {
        user_id: req.user_id.as_deref(),
        agent_id: agent,
        user_email: req.user_email.as_deref(),
        context_id: req.context_id.as_deref(),
    };
    let null_policy = empty_object();
    let policy_raw: &RawValue = match req.policy.as_deref() {
        Some(p) if p.get() != "null" => p,
        _ => &null_policy,
    };
    let public_key = st.signer.public_hex();
    let signed = CsrgSigned {
        plan_hash: &hashes.plan_hash,
        issued_at: now,
        expires_at: exp,
        policy: policy_raw,
        identity: &identity,
        public_key: &public_key,
        version: "1",
    };
    let signed_text =
        serde_json::to_vec(&signed).map_err(|e| GatewayError::Internal(e.to_string()))?;
    let canonical = armoriq_common::canonical::canonical_bytes(&signed_text, Profile::ArmorIq)
        .map_err(|e| GatewayError::BadRequest(format!("policy cannot be signed: {e}")))?;
    let signature = st
        .signer
        .sign_hex(&canonical)
        .map_err(GatewayError::Internal)?;
    let token = CsrgToken { signed, signature };

    let record = PlanRecord {
        plan_id: plan_id.clone(),
        plan_hash: hashes.plan_hash.clone(),
        merkle_root: hashes.merkle_root.clone(),
        plan_json: plan_text.to_owned(),
        step_count: step_count as u64,
        intent_reference: jti.clone(),
        user_email: email.map(str::to_owned),
        agent_id: agent.map(str::to_owned),
        expires_at: exp,
        status: PlanStatus::Active,
    };
    let ready = ReadyPlan::from_hashes(record.clone(), &hashes).map_err(GatewayError::Internal)?;
    st.store.put_plan(&record).await?;
    st.plans.put(Arc::new(ready));

    #[derive(Serialize)]
    struct MintResponse<'a> {
        success: bool,
        plan_id: &'a str,
        intent_reference: &'a str,
        plan_hash: &'a str,
        merkle_root: &'a str,
        ordered_paths: &'a [String],
        composite_identity: String,
        step_proofs: &'a [armoriq_common::proofs::StepProof],
        token: CsrgToken<'a>,
        jwt_token: &'a str,
        expires_at: i64,
        client_info: Value,
        policy_validation: Value,
        policy_snapshot: Vec<Value>,
    }
    let resp = MintResponse {
        success: true,
        plan_id: &plan_id,
        intent_reference: &jti,
        plan_hash: &hashes.plan_hash,
        merkle_root: &hashes.merkle_root,
        ordered_paths: &hashes.ordered_paths,
        composite_identity: format!(
            "{}:{}",
            email.unwrap_or("anonymous"),
            agent.unwrap_or("agent")
        ),
        step_proofs: &hashes.step_proofs,
        token,
        jwt_token: &jwt,
        expires_at: exp,
        client_info: json!({"agent_id": agent, "user_id": req.user_id, "gateway": "armoriq-rs"}),
        policy_validation: json!({
            "allowed_tools": allowed, "denied_tools": [], "denied_reasons": [],
            "default_enforcement_action": "allow",
        }),
        policy_snapshot: Vec::new(),
    };
    let text = serde_json::to_string(&resp).map_err(|e| GatewayError::Internal(e.to_string()))?;
    row.outcome = "minted".into();
    row.plan_id = Some(plan_id.clone());
    row.at_ms = now_ms();
    row.latency_us = elapsed_us(t0);
    st.audit(row).await?;
    Ok(text)
}

/// Microseconds since `t0`.
pub fn elapsed_us(t0: Instant) -> i64 {
    i64::try_from(t0.elapsed().as_micros()).unwrap_or(i64::MAX)
}
