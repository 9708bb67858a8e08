//! Trust updates (`POST /iap/trust/delegate`, `/iap/trust/reanchor`,
//! `/iap/trust/revoke`), each kept as a record the IAP signed (SPEC §8):
//!
//! * `delegate` (the SDK's `delegate`): a CSRG token for a delegate's public
//!   key, `allowed_operations` the allowed actions (all the plan's when none
//!   are named), `resource_scope` `{plan_id, delegation_id}`, its own
//!   expiry no later than the parent's. The delegate invokes with it; other
//!   actions, another agent than `target_agent`, a revoked parent plan or a
//!   revoked delegation are refused.
//! * `delegate` with `subtreePath` (the SDK's `delegate_subtree`): the same,
//!   bounded to the steps of one node of the plan's Merkle tree, answered
//!   with that node's hash and its inclusion proof to the parent's
//!   `merkle_root` (the core's `verify_inclusion` checks it: the tree over
//!   the nodes of one level is the RFC 9162 tree over the steps).
//! * `reanchor`: a changed plan under the same `plan_id` (policy over the
//!   new steps; a blocked step refuses it), the store moving the plan from
//!   the hash it had to the new one atomically; tokens issued for an earlier
//!   hash of the plan then cover the new plan's steps.
//! * `revoke`: the plan and, in the same transaction, every delegation made
//!   from it.
//!
//! The proxy's side (a delegated token's restriction, a token covering a
//! re-anchored plan) is in [`crate::intent`].

use crate::audit::Audit;
use crate::auth::ApiKey;
use crate::error::{GatewayError, GwResult};
use crate::extract::JsonBody;
use crate::intent::csrg::ResourceScope;
use crate::plans::ReadyPlan;
use crate::store::{TrustKind, TrustRecord};
use crate::subtree::{parse_subtree_path, subtree_node};
use crate::tokens::Signer;
use crate::{AppState, now_ms, now_secs};
use armoriq_common::proofs::{hex32, plan_hashes};
use armoriq_core::Profile;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};

/// The most actions a delegation names.
const MAX_ACTIONS: usize = 256;

/// `POST /iap/trust/delegate`, in the SDK's two shapes.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelegateRequest {
    // delegate()
    #[serde(default)]
    token: Option<Box<RawValue>>,
    #[serde(default)]
    delegate_public_key: Option<String>,
    #[serde(default)]
    validity_seconds: Option<f64>,
    #[serde(default)]
    allowed_actions: Option<Vec<String>>,
    #[serde(default)]
    target_agent: Option<String>,
    #[serde(default)]
    subtask: Option<Value>,
    // delegate_subtree()
    #[serde(default, rename = "parentToken")]
    parent_token: Option<Box<RawValue>>,
    #[serde(default, rename = "delegatePublicKey")]
    delegate_public_key_camel: Option<String>,
    #[serde(default, rename = "validitySeconds")]
    validity_seconds_camel: Option<f64>,
    #[serde(default, rename = "parentPlan")]
    parent_plan: Option<Box<RawValue>>,
    #[serde(default, rename = "subtreePath")]
    subtree_path: Option<String>,
    #[serde(default, rename = "planId")]
    plan_id: Option<String>,
    #[serde(default, rename = "intentReference")]
    intent_reference: Option<String>,
}

/// The IAP's signature (hex) over the canonical JSON of `v`, with that JSON.
pub(crate) fn sign_record(signer: &Signer, v: &Value) -> GwResult<(String, String)> {
    let canonical = crate::tokens::canonical(v).map_err(GatewayError::BadRequest)?;
    let sig = signer
        .sign_hex(&canonical)
        .map_err(GatewayError::Internal)?;
    Ok((String::from_utf8_lossy(&canonical).into_owned(), sig))
}

fn one<T>(a: Option<T>, b: Option<T>, name: &str) -> GwResult<Option<T>> {
    match (a, b) {
        (Some(_), Some(_)) => Err(GatewayError::BadRequest(format!(
            "{name} given twice (snake_case and camelCase)"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

/// `POST /iap/trust/delegate` (the Python SDK) and `POST
/// /delegation/create` (the TypeScript SDK's `delegate`, same body).
pub async fn delegate(
    State(st): State<AppState>,
    _: ApiKey,
    body: Result<JsonBody<DelegateRequest>, GatewayError>,
) -> Response {
    let mut audit = Audit::new("delegate");
    match delegate_inner(&st, body, &mut audit).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => audit.refuse_response(&st, e).await,
    }
}

async fn delegate_inner(
    st: &AppState,
    body: Result<JsonBody<DelegateRequest>, GatewayError>,
    audit: &mut Audit,
) -> GwResult<Value> {
    let JsonBody(r) = body?;
    let parent_raw = one(r.token, r.parent_token, "token")?
        .ok_or_else(|| GatewayError::BadRequest("missing token (the parent CSRG token)".into()))?;
    let key = one(
        r.delegate_public_key,
        r.delegate_public_key_camel,
        "delegate_public_key",
    )?
    .ok_or_else(|| GatewayError::BadRequest("missing delegate_public_key".into()))?;
    let key = key.trim().to_ascii_lowercase();
    if key.len() != 64 || hex::decode(&key).is_err() {
        return Err(GatewayError::BadRequest(
            "delegate_public_key must be a 32-byte Ed25519 key in hex".into(),
        ));
    }
    let validity = one(
        r.validity_seconds,
        r.validity_seconds_camel,
        "validity_seconds",
    )?
    .unwrap_or(3600.0);
    if !validity.is_finite() || validity <= 0.0 {
        return Err(GatewayError::BadRequest(
            "validity_seconds must be a positive number".into(),
        ));
    }
    let parent = crate::intent::csrg::verify(st, &parent_raw)?;
    if parent.scope.delegation_id.is_some() {
        return Err(GatewayError::BadRequest(
            "a delegated token cannot be delegated again".into(),
        ));
    }
    if r.plan_id
        .as_deref()
        .is_some_and(|p| p != parent.scope.plan_id)
    {
        return Err(GatewayError::BadRequest(
            "planId is not the plan the parent token was issued for".into(),
        ));
    }
    let plan = crate::intent::csrg_plan(st, &parent).await?;
    if r.intent_reference
        .as_deref()
        .is_some_and(|i| i != plan.record.intent_reference)
    {
        return Err(GatewayError::BadRequest(
            "intentReference is not the parent token's".into(),
        ));
    }
    if let Some(pp) = r.parent_plan.as_deref().filter(|p| p.get() != "null") {
        let (_, h) = plan_hashes(pp.get().as_bytes(), Profile::ArmorIq)
            .map_err(|e| GatewayError::BadRequest(format!("parentPlan: {}: {e}", e.name())))?;
        if h.plan_hash != plan.record.plan_hash {
            return Err(GatewayError::BadRequest(
                "parentPlan is not the plan the parent token covers".into(),
            ));
        }
    }
    audit.row.plan_id = Some(plan.record.plan_id.clone());
    audit.row.agent_id = r.target_agent.clone();
    let now = now_secs();
    let parent_exp = parent.expires_at.floor() as i64;
    let exp = now.saturating_add(validity.ceil() as i64).min(parent_exp);
    if exp <= now {
        return Err(GatewayError::TokenExpired(
            "the parent token expires now: nothing left to delegate".into(),
        ));
    }
    let (hashes_leaves, range, node) = match &r.subtree_path {
        Some(p) => {
            let (lo, hi) = parse_subtree_path(p)?;
            let leaves = leaves_of(&plan)?;
            let node = subtree_node(&leaves, lo, hi)?;
            (Some(leaves), Some((lo, hi)), Some(node))
        }
        None => (None, None, None),
    };
    drop(hashes_leaves);
    let plan_actions: Vec<String> = match range {
        Some((lo, hi)) => plan.steps[lo as usize..=hi as usize]
            .iter()
            .map(|s| s.action.clone())
            .collect(),
        None => plan.steps.iter().map(|s| s.action.clone()).collect(),
    };
    let mut allowed: Vec<String> = match r.allowed_actions {
        Some(a) if !a.is_empty() => {
            if a.len() > MAX_ACTIONS {
                return Err(GatewayError::BadRequest(format!(
                    "more than {MAX_ACTIONS} allowed_actions"
                )));
            }
            if let Some(x) = a.iter().find(|x| !plan_actions.contains(x)) {
                return Err(GatewayError::BadRequest(format!(
                    "allowed_actions names {x:?}, which is not an action of the delegated plan"
                )));
            }
            a
        }
        _ => plan_actions,
    };
    allowed.sort();
    allowed.dedup();
    let id = format!("trust_{}", uuid::Uuid::new_v4().simple());
    let kind = if range.is_some() {
        TrustKind::DelegateSubtree
    } else {
        TrustKind::Delegate
    };
    let mut scope = json!({"plan_id": plan.record.plan_id, "delegation_id": id});
    if let Some(p) = &r.subtree_path {
        scope["subtree_path"] = json!(p);
    }
    let identity = json!({
        "delegate_public_key": key, "target_agent": r.target_agent,
        "parent_token": parent.signature, "subtask": r.subtask,
    });
    let signer = st.signer.current();
    let public_key = signer.public_hex();
    let signed = json!({
        "plan_hash": parent.plan_hash, "issued_at": now, "expires_at": exp,
        "policy": {}, "identity": identity, "public_key": public_key, "version": "1",
        "allowed_operations": allowed, "resource_scope": scope,
    });
    let (record_json, signature) = sign_record(&signer, &signed)?;
    st.store
        .put_trust_record(&TrustRecord {
            id: id.clone(),
            kind,
            plan_id: plan.record.plan_id.clone(),
            record_json,
            signature: signature.clone(),
            previous_plan_hash: None,
            plan_hash: parent.plan_hash.clone(),
            created_ms: now_ms(),
            expires_at: Some(exp),
            revoked_ms: None,
        })
        .await?;
    let mut token = signed;
    token["signature"] = json!(signature);
    token["token_id"] = json!(id);
    token["plan_id"] = json!(plan.record.plan_id);
    token["composite_identity"] = json!(format!(
        "{}:{}",
        key,
        r.target_agent.as_deref().unwrap_or("delegate")
    ));
    token["total_steps"] = json!(plan.steps.len());
    audit.finish(st, kind.as_str(), None).await?;
    let mut delta = json!({
        "type": kind.as_str(), "trust_id": id, "allowed_actions": allowed,
        "target_agent": r.target_agent, "expires_at": exp,
        "payload": {"parent_plan_hash": parent.plan_hash, "parent_merkle_root": plan.record.merkle_root},
    });
    if let (Some(node), Some((lo, hi))) = (node, range) {
        let p = &mut delta["payload"];
        p["subtree_path"] = json!(r.subtree_path);
        p["subtree_node_hash"] = json!(hex32(&node.hash));
        p["inclusion_proof"] = json!(node.siblings.iter().map(hex32).collect::<Vec<_>>());
        p["node_index"] = json!(node.index);
        p["node_count"] = json!(node.count);
        p["steps"] = json!([lo, hi]);
        p["child_token"] = token.clone();
    }
    Ok(json!({
        "success": true, "trustId": id, "delegation_id": id,
        "delegation": token, "delta": delta, "trust_delta": delta.clone(),
        "metadata": {"plan_id": plan.record.plan_id, "kind": kind.as_str()},
    }))
}

/// The plan's leaf hashes (from its text).
fn leaves_of(plan: &ReadyPlan) -> GwResult<Vec<[u8; 32]>> {
    let (_, hashes) = plan_hashes(plan.record.plan_json.as_bytes(), Profile::ArmorIq)
        .map_err(|e| GatewayError::Internal(e.to_string()))?;
    hashes
        .step_proofs
        .iter()
        .map(|p| {
            let mut out = [0u8; 32];
            hex::decode_to_slice(&p.leaf_hash, &mut out)
                .map(|()| out)
                .map_err(|_| GatewayError::Internal("leaf hash is not hex".into()))
        })
        .collect()
}

/// `POST /iap/trust/revoke` body.
#[derive(Deserialize)]
pub struct RevokeRequest {
    #[serde(default, rename = "planId")]
    plan_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(default)]
    token: Option<Box<RawValue>>,
}

/// `POST /iap/trust/revoke`: the plan's tokens stop working at the proxy,
/// and every delegation made from it (`cascadedRevocations`). The plan is
/// `planId`, or the one the CSRG `token` names.
pub async fn revoke(
    State(st): State<AppState>,
    ApiKey(key): ApiKey,
    JsonBody(r): JsonBody<RevokeRequest>,
) -> GwResult<Json<Value>> {
    // A delegated token revokes its delegation only, never the parent plan
    // (the SDK sends the parent's planId with it).
    if let Some(t) = r
        .token
        .as_deref()
        .filter(|t| t.get() != "{}" && t.get() != "null")
        && let Ok(scope) = serde_json::from_str::<TokenScope>(t.get())
        && let Some(d) = scope.resource_scope.and_then(|s| s.delegation_id)
    {
        let tok = crate::intent::csrg::verify(&st, t)?;
        if tok.scope.delegation_id.as_deref() != Some(d.as_str()) {
            return Err(GatewayError::InvalidToken(
                "the token's scope is not signed".into(),
            ));
        }
        let rec = st
            .store
            .get_trust_record(&d)
            .await?
            .filter(|rec| rec.signature == tok.signature)
            .ok_or_else(|| GatewayError::NotFound(format!("no delegation {d:?}")))?;
        let revoked = st.store.revoke_trust_record(&d, now_ms()).await?;
        st.audit(crate::store::AuditRow {
            at_ms: now_ms(),
            route: "revoke".into(),
            outcome: "revoked_delegation".into(),
            plan_id: Some(rec.plan_id.clone()),
            reason: r.reason,
            ..Default::default()
        })
        .await?;
        return Ok(Json(
            json!({"success": true, "trustId": format!("revoke_{d}"),
                               "revoked": revoked, "cascadedRevocations": 0}),
        ));
    }
    let id = match (r.plan_id, r.token.as_deref()) {
        (Some(p), _) => p,
        (None, Some(t)) if t.get() != "{}" && t.get() != "null" => {
            serde_json::from_str::<TokenScope>(t.get())
                .ok()
                .and_then(|s| s.resource_scope)
                .map(|s| s.plan_id)
                .ok_or_else(|| GatewayError::BadRequest("the token names no plan".into()))?
        }
        _ => return Err(GatewayError::BadRequest("missing planId".into())),
    };
    let actor = crate::ops::Actor {
        name: format!("{} key #{}", key.role.as_str(), key.id),
        email: None,
        surface: crate::ops::Surface::Agent,
    };
    let cascaded = crate::ops::revoke_plan(
        st.store.as_ref(),
        &actor,
        &id,
        r.reason.as_deref(),
        now_ms(),
    )
    .await?;
    st.plans.forget(&id);
    Ok(Json(
        json!({"success": true, "trustId": format!("revoke_{id}"), "cascadedRevocations": cascaded}),
    ))
}

#[derive(Deserialize)]
struct TokenScope {
    #[serde(default)]
    resource_scope: Option<ResourceScope>,
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/iap/trust/revoke", post(revoke))
        .route("/iap/trust/delegate", post(delegate))
        .route("/delegation/create", post(delegate))
}
