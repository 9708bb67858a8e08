//! `POST /iap/trust/reanchor`: a changed plan under the same `plan_id`.
//! Policy runs over the new steps (a blocked step refuses it: 403 with
//! `reason`, the SDK's `IntentReanchorException`); the IAP signs a record
//! `{type: "armoriq.trust.reanchor", previous_plan_hash, plan_hash,
//! merkle_root, step_count, …}` (SPEC §8); the store moves the plan from
//! the hash it had to the new one and keeps the record, in one transaction
//! that fails if the plan changed meanwhile (409).

use crate::audit::Audit;
use crate::auth::ApiKey;
use crate::error::{GatewayError, GwResult};
use crate::extract::JsonBody;
use crate::plans::ReadyPlan;
use crate::store::{PlanRecord, PlanStatus, TrustKind, TrustRecord};
use crate::trust::sign_record;
use crate::{AppState, now_ms, now_secs};
use armoriq_common::proofs::plan_hashes;
use armoriq_core::Profile;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;

/// `POST /iap/trust/reanchor` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReanchorRequest {
    #[serde(rename = "newPlan")]
    new_plan: Box<RawValue>,
    #[serde(default)]
    reason: Option<String>,
    #[serde(rename = "planId")]
    plan_id: String,
    #[serde(default, rename = "intentReference")]
    intent_reference: Option<String>,
}

/// `POST /iap/trust/reanchor`.
pub async fn reanchor(
    State(st): State<AppState>,
    _: ApiKey,
    body: Result<JsonBody<ReanchorRequest>, GatewayError>,
) -> Response {
    let mut audit = Audit::new("reanchor");
    match reanchor_inner(&st, body, &mut audit).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => audit.refuse_response(&st, e).await,
    }
}

async fn reanchor_inner(
    st: &AppState,
    body: Result<JsonBody<ReanchorRequest>, GatewayError>,
    audit: &mut Audit,
) -> GwResult<Value> {
    let JsonBody(r) = body?;
    audit.row.plan_id = Some(r.plan_id.clone());
    let plan = crate::intent::load_plan(st, &r.plan_id).await?;
    if plan.record.status != PlanStatus::Active {
        return Err(GatewayError::Conflict(format!(
            "plan {} is {}, not active",
            r.plan_id,
            plan.record.status.as_str()
        )));
    }
    if r.intent_reference
        .as_deref()
        .is_some_and(|i| i != plan.record.intent_reference)
    {
        return Err(GatewayError::BadRequest(
            "intentReference is not the plan's".into(),
        ));
    }
    let text = r.new_plan.get();
    let (digest, hashes) = plan_hashes(text.as_bytes(), Profile::ArmorIq)
        .map_err(|e| GatewayError::InvalidPlan(format!("invalid plan: {}: {e}", e.name())))?;
    let now = now_secs();
    let email = plan.record.user_email.clone();
    crate::iap::policy_over_steps(st, text, email.as_deref(), now, audit)?;
    let previous = plan.record.plan_hash.clone();
    if hashes.plan_hash == previous {
        audit.finish(st, "reanchor_unchanged", None).await?;
        return Ok(
            json!({"success": true, "planId": r.plan_id, "unchanged": true,
                         "plan_hash": previous, "merkle_root": plan.record.merkle_root}),
        );
    }
    let id = format!("trust_{}", uuid::Uuid::new_v4().simple());
    let signer = st.signer.current();
    let record = json!({
        "type": "armoriq.trust.reanchor", "version": "1", "trust_id": id,
        "plan_id": r.plan_id, "previous_plan_hash": previous,
        "previous_merkle_root": plan.record.merkle_root,
        "plan_hash": hashes.plan_hash, "merkle_root": hashes.merkle_root,
        "step_count": digest.step_count, "issued_at": now, "reason": r.reason,
        "public_key": signer.public_hex(),
    });
    let (record_json, signature) = sign_record(&signer, &record)?;
    let new = PlanRecord {
        plan_hash: hashes.plan_hash.clone(),
        merkle_root: hashes.merkle_root.clone(),
        plan_json: text.to_owned(),
        step_count: digest.step_count as u64,
        ..plan.record.clone()
    };
    let rec = TrustRecord {
        id: id.clone(),
        kind: TrustKind::Reanchor,
        plan_id: r.plan_id.clone(),
        record_json,
        signature: signature.clone(),
        previous_plan_hash: Some(previous.clone()),
        plan_hash: hashes.plan_hash.clone(),
        created_ms: now_ms(),
        expires_at: None,
        revoked_ms: None,
    };
    if !st.store.reanchor_plan(&previous, &new, &rec).await? {
        return Err(GatewayError::Conflict(format!(
            "plan {} changed (or stopped being active) while it was re-anchored; retry",
            r.plan_id
        )));
    }
    st.plans.forget(&r.plan_id);
    let ready = ReadyPlan::from_hashes(new, &hashes).map_err(GatewayError::Internal)?;
    st.plans.put(Arc::new(ready));
    audit.finish(st, "reanchored", r.reason.clone()).await?;
    Ok(json!({
        "success": true, "trustId": id, "planId": r.plan_id,
        "previous_plan_hash": previous, "plan_hash": hashes.plan_hash,
        "merkle_root": hashes.merkle_root, "ordered_paths": hashes.ordered_paths,
        "step_proofs": hashes.step_proofs, "record": record, "signature": signature,
    }))
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/iap/trust/reanchor", post(reanchor))
}
