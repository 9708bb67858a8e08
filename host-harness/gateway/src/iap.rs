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
//!
//! With an `Idempotency-Key`, one mint per key, however slow: the request
//! that reserves the key holds a lease (a fencing token) and renews it
//! while it mints (every quarter of [`Settings::idempotency_stale`]); only
//! a reservation left unrenewed that long (its holder died) is taken over,
//! with a larger lease. The plan and the answer are stored together, only
//! while the lease is still the key's ([`IdempotencyStore::complete_mint`]):
//! a holder that was presumed dead and taken over stores nothing and
//! answers 409 (a retry replays the answer the key keeps), so one key never
//! stores two plans nor answers two tokens.
//!
//! [`Settings::idempotency_stale`]: crate::settings::Settings::idempotency_stale
//! [`IdempotencyStore::complete_mint`]: crate::store::IdempotencyStore::complete_mint

use crate::audit::Audit;
use crate::auth::ApiKey;
use crate::error::{GatewayError, GwResult};
use crate::extract::JsonBody;
use crate::plans::ReadyPlan;
use crate::policy::{PolicyCall, Verdict};
use crate::store::{IdemKey, Lease, PlanRecord, PlanStatus, Reservation, StoredAnswer};
use crate::tokens::Signer;
use crate::{AppState, now_ms, now_secs};
use armoriq_common::proofs::plan_hashes;
use armoriq_core::Profile;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

/// `GET /iap/public-key`: the IAP's Ed25519 key (hex first: the SDK takes
/// `public_key` before the other members).
///
/// The official SDK trusts the one key this returns, so it is the key that
/// signs now (the newest generation when keys live in the store).
pub async fn public_key(State(st): State<AppState>) -> Json<Value> {
    let signer = st.signer.current();
    Json(json!({
        "public_key": signer.public_hex(),
        "alg": "EdDSA",
        "kid": signer.kid,
        "jwk": signer.public_jwk(),
        "pem": signer.public_pem(),
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
    /// `{"plan_id": …}`: names the stored plan the token was issued for
    /// (signed: the official SDK signs a non-empty `resource_scope`); the
    /// proxy reads it when the CSRG token comes alone ([`crate::csrg`]).
    resource_scope: Value,
}

fn empty_object() -> Box<RawValue> {
    RawValue::from_string("{}".into()).unwrap_or_else(|_| unreachable!("`{{}}` is JSON"))
}

/// `POST /iap/sdk/token`: every refusal, the API key's included, is audited
/// ([`Audit::refuse`]) before it is answered; a replayed answer is not a new
/// decision and writes no row.
pub async fn mint(
    State(st): State<AppState>,
    key: Result<ApiKey, GatewayError>,
    headers: HeaderMap,
    body: Result<JsonBody<MintRequest>, GatewayError>,
) -> Response {
    let mut audit = Audit::new("token");
    match mint_audited(&st, key, &headers, body, &mut audit).await {
        Ok(r) => crate::audit::audited(r),
        Err(e) => audit.refuse_response(&st, e).await,
    }
}

async fn mint_audited(
    st: &AppState,
    key: Result<ApiKey, GatewayError>,
    headers: &HeaderMap,
    body: Result<JsonBody<MintRequest>, GatewayError>,
    audit: &mut Audit,
) -> GwResult<Response> {
    let ApiKey(key) = key?;
    let Some(idem) = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(|i| IdemKey {
            key_id: key.id,
            route: "token".into(),
            idem: i.to_owned(),
        })
    else {
        let minted = mint_inner(st, body, audit).await?;
        st.store.put_plan(&minted.record).await?;
        st.plans.put(Arc::new(minted.ready));
        return Ok(json_response(StatusCode::OK, minted.text));
    };
    // One mint per key: the winner mints; a loser replays the stored answer,
    // or gets 409 while the winner is still minting.
    let stale_ms = i64::try_from(st.settings.idempotency_stale.as_millis())
        .unwrap_or(i64::MAX)
        .max(1);
    let lease = match st
        .store
        .reserve_idempotency_key(&idem, now_ms(), stale_ms)
        .await?
    {
        Reservation::Won(lease) => lease,
        Reservation::Replay(a) => {
            let status = StatusCode::from_u16(a.status).unwrap_or(StatusCode::OK);
            return Ok(json_response(status, a.body));
        }
        Reservation::InFlight => {
            return Err(GatewayError::Conflict(
                "a request with this Idempotency-Key is being served; retry when it is done".into(),
            ));
        }
    };
    let mut held = Held::new(st, idem, lease, stale_ms);
    let (status, text, minted) = match mint_inner(st, body, audit).await {
        Ok(m) => (StatusCode::OK, m.text, Some((m.record, m.ready))),
        Err(e) => {
            let (s, b) = audit.refuse(st, e).await.parts();
            (s, b.to_string(), None)
        }
    };
    // Replays get the same answer, success or refusal; a failure of ours
    // releases the key so that a retry mints afresh.
    if status.is_server_error() {
        held.armed = false;
        st.store.release_idempotency_key(&held.key, lease).await?;
        return Ok(json_response(status, text));
    }
    let answer = StoredAnswer {
        status: status.as_u16(),
        body: text,
    };
    // The plan and the answer, fenced by the lease: if this request was
    // presumed dead and taken over, neither is stored (a store error leaves
    // `held` armed: its drop releases the key, fenced too).
    let record = minted.as_ref().map(|(r, _)| r);
    let stored = st
        .store
        .complete_mint(&held.key, lease, record, &answer)
        .await?;
    held.armed = false;
    if !stored {
        // Fenced out: another request holds (or has answered) this key and
        // mints its own token; ours names a plan that was never stored.
        // 409, as for any request that finds the key taken: a retry
        // replays the answer the key keeps.
        return Err(GatewayError::Conflict(
            "this request's Idempotency-Key reservation was taken over by another request \
             (this one was presumed dead); retry to get the answer the key keeps"
                .into(),
        ));
    }
    if let Some((_, ready)) = minted {
        st.plans.put(Arc::new(ready));
    }
    Ok(json_response(status, answer.body))
}

/// A reservation being worked on: renewed (its heartbeat moved on) every
/// quarter of the stale time while the mint runs, so that a slow but live
/// mint is never taken over; released (fenced by its lease) if the request
/// is dropped (client gone) before it completes.
struct Held {
    st: AppState,
    key: IdemKey,
    lease: Lease,
    armed: bool,
    heartbeat: tokio::task::JoinHandle<()>,
}

impl Held {
    fn new(st: &AppState, key: IdemKey, lease: Lease, stale_ms: i64) -> Self {
        let every = Duration::from_millis(u64::try_from(stale_ms / 4).unwrap_or(1).max(1));
        let (st2, k) = (st.clone(), key.clone());
        let heartbeat = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                match st2.store.renew_idempotency_key(&k, lease, now_ms()).await {
                    Ok(true) => {}
                    // Completed, released, or taken over: nothing to keep.
                    Ok(false) => break,
                    Err(e) => tracing::warn!(%e, "idempotency reservation not renewed"),
                }
            }
        });
        Self {
            st: st.clone(),
            key,
            lease,
            armed: true,
            heartbeat,
        }
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.heartbeat.abort();
        if self.armed
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            let (st, k, lease) = (self.st.clone(), self.key.clone(), self.lease);
            rt.spawn(async move {
                if let Err(e) = st.store.release_idempotency_key(&k, lease).await {
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

/// A mint, signed and audited, its plan not yet stored: the caller stores
/// it (with the idempotent answer, fenced, when there is an
/// `Idempotency-Key`) before answering.
struct Minted {
    /// The answer's body.
    text: String,
    /// The plan to store.
    record: PlanRecord,
    /// The plan ready for the proxy, once stored.
    ready: ReadyPlan,
}

/// Parse, validate the plan, policy over its steps, sign, answer; the
/// "minted" row is written before the plan is stored and the answer goes
/// out (a failure after it records the failure in that row). A refusal is
/// returned for the caller to audit.
async fn mint_inner(
    st: &AppState,
    body: Result<JsonBody<MintRequest>, GatewayError>,
    audit: &mut Audit,
) -> GwResult<Minted> {
    let JsonBody(req) = body?;
    let email = req.user_email.as_deref().or(req.user_id.as_deref());
    audit.row.user_email = email.map(str::to_owned);
    audit.row.agent_id = req.agent_id.clone();
    let plan_text = req.plan.get();
    let (digest, hashes) = plan_hashes(plan_text.as_bytes(), Profile::ArmorIq)
        .map_err(|e| GatewayError::InvalidPlan(format!("invalid plan: {}: {e}", e.name())))?;
    let now = now_secs();
    let allowed = policy_over_steps(st, plan_text, email, now, audit)?;
    let exp = now.saturating_add(token_ttl(st, req.expires_in)?);
    let ids = Ids {
        plan_id: format!("plan_{}", uuid::Uuid::new_v4().simple()),
        jti: format!("intent_{}", uuid::Uuid::new_v4().simple()),
        now,
        exp,
    };
    let agent = req.agent_id.as_deref().filter(|a| !a.is_empty());
    // One snapshot of the keys: the JWT, the CSRG token and its stated
    // public key agree even if a rotation lands meanwhile.
    let signer = st.signer.current();
    let jwt = sign_jwt(st, &signer, &ids, &hashes, digest.step_count, email, agent)?;
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
    let public_key = signer.public_hex();
    let signed = CsrgSigned {
        plan_hash: &hashes.plan_hash,
        issued_at: now,
        expires_at: exp,
        policy: policy_raw,
        identity: &identity,
        public_key: &public_key,
        version: "1",
        resource_scope: json!({"plan_id": ids.plan_id}),
    };
    let token = sign_csrg(&signer, signed)?;
    let record = plan_record(&ids, plan_text, &hashes, digest.step_count, email, agent);
    let ready = ReadyPlan::from_hashes(record.clone(), &hashes).map_err(GatewayError::Internal)?;
    let resp = MintResponse {
        success: true,
        plan_id: &ids.plan_id,
        intent_reference: &ids.jti,
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
    #[cfg(test)]
    if !st.settings.mint_delay.is_zero() {
        tokio::time::sleep(st.settings.mint_delay).await;
    }
    audit.row.plan_id = Some(ids.plan_id);
    audit.finish(st, "minted", None).await?;
    Ok(Minted {
        text,
        record,
        ready,
    })
}

/// The mint answer.
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

/// The names and times of a new token.
struct Ids {
    plan_id: String,
    jti: String,
    now: i64,
    exp: i64,
}

/// Policy over every step: the allowed tools, or the refusal naming the
/// denied ones (also named in the audit row's `tool`).
pub(crate) fn policy_over_steps(
    st: &AppState,
    plan_text: &str,
    email: Option<&str>,
    now: i64,
    audit: &mut Audit,
) -> GwResult<Vec<String>> {
    let plan_v: Value = serde_json::from_str(plan_text)
        .map_err(|e| GatewayError::InvalidPlan(format!("invalid plan: {e}")))?;
    let policy = st.policy();
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
    if denied.is_empty() {
        return Ok(allowed);
    }
    audit.row.tool = Some(denied.join(","));
    Err(GatewayError::PolicyBlockedMint {
        allowed,
        denied,
        reasons,
    })
}

/// The token's lifetime: `expires_in` (or the configured TTL), capped.
fn token_ttl(st: &AppState, expires_in: Option<f64>) -> GwResult<i64> {
    let ttl_f = expires_in.unwrap_or_else(|| {
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
    Ok(if ttl_f >= max as f64 {
        max
    } else {
        ttl_f.ceil() as i64
    })
}

/// The EdDSA JWT (SPEC §4 claims).
fn sign_jwt(
    st: &AppState,
    signer: &Signer,
    ids: &Ids,
    hashes: &armoriq_common::proofs::PlanHashes,
    step_count: usize,
    email: Option<&str>,
    agent: Option<&str>,
) -> GwResult<String> {
    let claims = json!({
        "iss": st.settings.issuer,
        "aud": st.settings.audience,
        "sub": email.unwrap_or("anonymous"),
        "agent_id": agent,
        "iat": ids.now,
        "nbf": ids.now,
        "exp": ids.exp,
        "jti": ids.jti,
        "plan_id": ids.plan_id,
        "plan_hash": hashes.plan_hash,
        "merkle_root": hashes.merkle_root,
        "step_count": step_count,
    });
    // Absent, not null: the core reads a claim's type strictly.
    let claims = match claims {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    };
    signer.sign_jwt(&claims).map_err(GatewayError::Internal)
}

/// The CSRG token: Ed25519 over the canonical JSON of the signed fields.
fn sign_csrg<'a>(signer: &Signer, signed: CsrgSigned<'a>) -> GwResult<CsrgToken<'a>> {
    let signed_text =
        serde_json::to_vec(&signed).map_err(|e| GatewayError::Internal(e.to_string()))?;
    let canonical = armoriq_common::canonical::canonical_bytes(&signed_text, Profile::ArmorIq)
        .map_err(|e| GatewayError::BadRequest(format!("policy cannot be signed: {e}")))?;
    let signature = signer
        .sign_hex(&canonical)
        .map_err(GatewayError::Internal)?;
    Ok(CsrgToken { signed, signature })
}

/// The plan as stored.
fn plan_record(
    ids: &Ids,
    plan_text: &str,
    hashes: &armoriq_common::proofs::PlanHashes,
    step_count: usize,
    email: Option<&str>,
    agent: Option<&str>,
) -> PlanRecord {
    PlanRecord {
        plan_id: ids.plan_id.clone(),
        plan_hash: hashes.plan_hash.clone(),
        merkle_root: hashes.merkle_root.clone(),
        plan_json: plan_text.to_owned(),
        step_count: step_count as u64,
        intent_reference: ids.jti.clone(),
        user_email: email.map(str::to_owned),
        agent_id: agent.map(str::to_owned),
        expires_at: ids.exp,
        status: PlanStatus::Active,
    }
}

/// Microseconds since `t0`.
pub use crate::audit::elapsed_us;

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/iap/public-key", get(public_key))
        .route("/iap/sdk/token", post(mint))
}

#[cfg(test)]
#[path = "iap_tests.rs"]
mod tests;
