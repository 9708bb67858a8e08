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

use crate::audit::Audit;
use crate::auth::ApiKey;
use crate::csrg::{CsrgIntent, ResourceScope};
use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use crate::store::{TrustKind, TrustRecord};
use crate::subtree::{parse_subtree_path, subtree_node};
use crate::tokens::Signer;
use crate::{AppState, now_ms, now_secs, parse_body};
use armoriq_common::proofs::{hex32, plan_hashes};
use armoriq_core::{Profile, SignedIntent};
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;

/// The most actions a delegation names.
const MAX_ACTIONS: usize = 256;

/// Whether a token signed for `token_hash` covers `plan`: the plan's hash
/// now, or one it was re-anchored from (each move a signed record).
///
/// # Errors
/// `InvalidToken` when it covers another plan.
pub async fn anchored(st: &AppState, plan: &ReadyPlan, token_hash: &str) -> GwResult<()> {
    if plan.record.plan_hash == token_hash {
        return Ok(());
    }
    let records = st.store.plan_trust_records(&plan.record.plan_id).await?;
    if records.iter().any(|r| {
        r.kind == TrustKind::Reanchor && r.previous_plan_hash.as_deref() == Some(token_hash)
    }) {
        return Ok(());
    }
    Err(GatewayError::InvalidToken(
        "the token was not issued for this plan_id (plan_hash differs)".into(),
    ))
}

/// The intent to check steps against: the plan's current hash, root and
/// step count (equal to the token's unless the plan was re-anchored) with
/// the token's time window.
///
/// # Errors
/// `Internal` for a stored hash that is not hex.
pub fn rebase(plan: &ReadyPlan, signed: SignedIntent) -> GwResult<SignedIntent> {
    let hex32 = |s: &str| {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map(|()| out)
            .map_err(|_| GatewayError::Internal("stored hash is not hex".into()))
    };
    Ok(SignedIntent {
        plan_hash: hex32(&plan.record.plan_hash)?,
        merkle_root: hex32(&plan.record.merkle_root)?,
        step_count: u64::try_from(plan.steps.len()).unwrap_or(u64::MAX),
        ..signed
    })
}

/// What a delegated token may do.
#[derive(Debug, Clone)]
pub struct Restriction {
    /// Its trust record.
    pub delegation_id: String,
    /// The actions it allows.
    pub allowed: Vec<String>,
    /// The steps it is bounded to (inclusive), for a subtree delegation.
    pub steps: Option<(u64, u64)>,
    /// The one agent that may use it, if named.
    pub target_agent: Option<String>,
}

impl Restriction {
    /// Whether the verified step `index` with `action`, called by `agent`,
    /// is inside the delegation.
    ///
    /// # Errors
    /// `IntentMismatch` naming what is outside.
    pub fn check(&self, action: &str, index: u64, agent: Option<&str>) -> GwResult<()> {
        let id = &self.delegation_id;
        if !self.allowed.iter().any(|a| a == action) {
            return Err(GatewayError::IntentMismatch(format!(
                "{action} is not an action delegated by {id} (allowed: {})",
                self.allowed.join(", ")
            )));
        }
        if let Some((lo, hi)) = self.steps
            && !(lo..=hi).contains(&index)
        {
            return Err(GatewayError::IntentMismatch(format!(
                "step {index} is outside the subtree /steps/[{lo}..{hi}] delegated by {id}"
            )));
        }
        if let Some(t) = &self.target_agent
            && agent != Some(t.as_str())
        {
            return Err(GatewayError::IntentMismatch(format!(
                "delegation {id} is for agent {t:?}, not {agent:?}"
            )));
        }
        Ok(())
    }
}

/// The identity a delegated token signs.
#[derive(Deserialize)]
struct DelegatedIdentity {
    #[serde(default)]
    target_agent: Option<String>,
}

/// The plan and restriction of a verified delegated CSRG token: its record
/// exists, is the one this token was issued as (same signature), is not
/// revoked; its plan is not revoked and covers the token's hash.
///
/// # Errors
/// `InvalidToken`.
pub async fn delegated(
    st: &AppState,
    tok: &CsrgIntent,
    delegation_id: &str,
) -> GwResult<(Arc<ReadyPlan>, Restriction)> {
    let rec = st
        .store
        .get_trust_record(delegation_id)
        .await?
        .filter(|r| matches!(r.kind, TrustKind::Delegate | TrustKind::DelegateSubtree))
        .ok_or_else(|| {
            GatewayError::InvalidToken(format!(
                "delegation {delegation_id:?} was not issued by this gateway"
            ))
        })?;
    if rec.signature != tok.signature || rec.plan_id != tok.scope.plan_id {
        return Err(GatewayError::InvalidToken(format!(
            "the token is not the one delegation {delegation_id} issued"
        )));
    }
    if rec.revoked_ms.is_some() {
        return Err(GatewayError::InvalidToken(format!(
            "delegation {delegation_id} was revoked"
        )));
    }
    let plan = crate::proxy::load_plan(st, &rec.plan_id).await?;
    anchored(st, &plan, &tok.plan_hash).await?;
    let allowed = tok.allowed_operations.clone().unwrap_or_default();
    let steps = match &tok.scope.subtree_path {
        Some(p) => Some(parse_subtree_path(p)?),
        None => None,
    };
    let target_agent = serde_json::from_str::<DelegatedIdentity>(&tok.identity_json)
        .ok()
        .and_then(|i| i.target_agent);
    Ok((
        plan,
        Restriction {
            delegation_id: delegation_id.to_owned(),
            allowed,
            steps,
            target_agent,
        },
    ))
}

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
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut audit = Audit::new("delegate");
    match delegate_inner(&st, body, &mut audit).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => audit.refuse_response(&st, e).await,
    }
}

async fn delegate_inner(
    st: &AppState,
    body: Result<Bytes, BytesRejection>,
    audit: &mut Audit,
) -> GwResult<Value> {
    let (r, _) = parse_body::<DelegateRequest>(body, st.settings.body_limit)?;
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
    let parent = crate::csrg::verify(st, &parent_raw)?;
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
    let plan = crate::csrg::signed_plan(st, &parent).await?;
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
    body: Result<Bytes, BytesRejection>,
) -> GwResult<Json<Value>> {
    let (r, _) = parse_body::<RevokeRequest>(body, st.settings.body_limit)?;
    // A delegated token revokes its delegation only, never the parent plan
    // (the SDK sends the parent's planId with it).
    if let Some(t) = r
        .token
        .as_deref()
        .filter(|t| t.get() != "{}" && t.get() != "null")
        && let Ok(scope) = serde_json::from_str::<TokenScope>(t.get())
        && let Some(d) = scope.resource_scope.and_then(|s| s.delegation_id)
    {
        let tok = crate::csrg::verify(&st, t)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_refuse_what_is_outside() {
        let r = Restriction {
            delegation_id: "t".into(),
            allowed: vec!["a".into()],
            steps: Some((0, 1)),
            target_agent: Some("bot".into()),
        };
        assert!(r.check("a", 1, Some("bot")).is_ok());
        assert!(r.check("b", 1, Some("bot")).is_err());
        assert!(r.check("a", 2, Some("bot")).is_err());
        assert!(r.check("a", 0, Some("other")).is_err());
        assert!(r.check("a", 0, None).is_err());
    }
}
