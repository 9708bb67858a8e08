//! Trust updates: `delegate`, `delegate_subtree`, `reanchor` (and `revoke`
//! in `plans.rs`), with the official SDK's requests and errors
//! (`DelegationException`, `IntentReanchorException`). Retried as the SDK
//! retries them (`reanchor`, `delegate_subtree`; `delegate` once, 10 s).

use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use crate::http::{self, Body};
use crate::plan::Plan;
use crate::token::{IntentToken, RawToken};
use serde_json::{Value, json};
use std::time::Duration;

/// `DelegationResult`.
#[derive(Clone, Debug)]
pub struct DelegationResult {
    /// `delegation_id`.
    pub delegation_id: String,
    /// The delegated token (its CSRG token signed by the IAP; no JWT).
    pub delegated_token: IntentToken,
    /// The delegate's public key (hex).
    pub delegate_public_key: String,
    /// `target_agent`.
    pub target_agent: Option<String>,
    /// Epoch seconds.
    pub expires_at: f64,
    /// `trust_delta`.
    pub trust_delta: Value,
    /// `"delegated"`.
    pub status: String,
    /// `metadata`.
    pub metadata: Value,
}

fn csrg_of(token: &IntentToken) -> String {
    serde_json::to_string(&token.raw_token.token).unwrap_or_else(|_| "{}".into())
}

impl ArmorIQClient {
    /// `delegate(token, delegate_public_key, validity_seconds,
    /// allowed_actions, target_agent, subtask)`: `POST
    /// {backend}/iap/trust/delegate`.
    ///
    /// # Errors
    /// `Delegation` (with the status) when the backend refuses, cannot be
    /// reached, or answers without a delegated token.
    #[allow(clippy::too_many_arguments)]
    pub async fn delegate(
        &self,
        token: &IntentToken,
        delegate_public_key: &str,
        validity_seconds: u64,
        allowed_actions: Option<&[String]>,
        target_agent: Option<&str>,
        subtask: Option<&Value>,
    ) -> Result<DelegationResult> {
        let fail = |m: String, status| ArmorIqError::Delegation {
            message: format!("Delegation failed: {m}"),
            status,
        };
        let body = Body::new()
            .raw("token", &csrg_of(token))
            .put("delegate_public_key", &delegate_public_key)
            .put("validity_seconds", &validity_seconds)
            .opt(
                "allowed_actions",
                allowed_actions.filter(|a| !a.is_empty()).as_ref(),
            )
            .opt(
                "target_agent",
                target_agent.filter(|t| !t.is_empty()).as_ref(),
            )
            .opt("subtask", subtask.filter(|s| crate::util::truthy(s)))
            .finish();
        let url = format!("{}/iap/trust/delegate", self.backend_endpoint());
        let r = self
            .http()
            .send(
                "POST",
                &url,
                &[],
                Some(&body),
                Some(Duration::from_secs(10)),
            )
            .await
            .map_err(|e| fail(e.message, None))?;
        if r.status >= 400 {
            return Err(fail(r.text.clone(), Some(r.status)));
        }
        let data = r
            .json()
            .ok_or_else(|| fail("the answer is not JSON".into(), Some(r.status)))?;
        let d = ["delegation", "delegated_token", "new_token"]
            .iter()
            .find_map(|k| data.get(*k).filter(|v| crate::util::truthy(v)))
            .cloned()
            .ok_or_else(|| fail("Delegation response missing 'delegation' key".into(), None))?;
        let s = |k: &str| d.get(k).and_then(Value::as_str).map(str::to_owned);
        let f = |k: &str| d.get(k).and_then(Value::as_f64);
        let delegated = IntentToken {
            token_id: s("token_id").unwrap_or_default(),
            plan_hash: s("plan_hash").unwrap_or_else(|| token.plan_hash.clone()),
            plan_id: s("plan_id"),
            signature: s("signature").unwrap_or_default(),
            issued_at: f("issued_at").unwrap_or_else(crate::token::now_f64),
            expires_at: f("expires_at").unwrap_or(0.0),
            policy: d.get("policy").cloned().unwrap_or_else(|| json!({})),
            composite_identity: d.get("composite_identity").cloned().unwrap_or(json!("")),
            client_info: d.get("client_info").cloned().unwrap_or(Value::Null),
            policy_validation: d.get("policy_validation").cloned().unwrap_or(Value::Null),
            step_proofs: d.get("step_proofs").cloned().unwrap_or_else(|| json!([])),
            total_steps: d
                .get("total_steps")
                .and_then(Value::as_u64)
                .map_or(0, |n| usize::try_from(n).unwrap_or(0)),
            raw_token: RawToken {
                plan: token.raw_token.plan.clone(),
                plan_id: s("plan_id"),
                token: d.clone(),
                plan_hash: s("plan_hash"),
                merkle_root: token.raw_token.merkle_root.clone(),
                intent_reference: s("token_id"),
                composite_identity: d.get("composite_identity").cloned().unwrap_or(json!("")),
                step_proofs: json!([]),
            },
            jwt_token: None,
            policy_snapshot: Value::Null,
        };
        Ok(DelegationResult {
            delegation_id: data
                .get("delegation_id")
                .and_then(Value::as_str)
                .map_or_else(|| delegated.token_id.clone(), str::to_owned),
            expires_at: delegated.expires_at,
            delegated_token: delegated,
            delegate_public_key: delegate_public_key.to_owned(),
            target_agent: target_agent.map(str::to_owned),
            trust_delta: data
                .get("trust_delta")
                .cloned()
                .unwrap_or_else(|| json!({})),
            status: "delegated".into(),
            metadata: data.get("metadata").cloned().unwrap_or_else(|| json!({})),
        })
    }

    /// `delegate_subtree(token, delegate_public_key, subtree_path, …)`: a
    /// subtree-bounded child token and the inclusion proof of the subtree's
    /// node to the parent's root. Returns `{trust_id, delta,
    /// inclusion_proof, subtree_root}`.
    ///
    /// # Errors
    /// `Delegation` (with the status).
    #[allow(clippy::too_many_arguments)]
    pub async fn delegate_subtree(
        &self,
        token: &IntentToken,
        delegate_public_key: &str,
        subtree_path: &str,
        validity_seconds: u64,
        parent_plan: Option<&Plan>,
        plan_id: Option<&str>,
        intent_reference: Option<&str>,
    ) -> Result<Value> {
        let fail = |m: String, status| ArmorIqError::Delegation {
            message: format!("delegate_subtree failed: {m}"),
            status,
        };
        let body = Body::new()
            .raw("parentToken", &csrg_of(token))
            .put("delegatePublicKey", &delegate_public_key)
            .put("validitySeconds", &validity_seconds)
            .raw("parentPlan", parent_plan.map_or("null", Plan::as_json))
            .put("subtreePath", &subtree_path)
            .put("planId", &plan_id.or(token.plan_id.as_deref()))
            .put("intentReference", &intent_reference)
            .finish();
        let data = self
            .trust_post("/iap/trust/delegate", &body)
            .await
            .map_err(|(m, s)| fail(m, s))?;
        let payload = data.pointer("/delta/payload").cloned().unwrap_or(json!({}));
        Ok(json!({
            "trust_id": data.get("trustId"), "delta": data.get("delta"),
            "inclusion_proof": payload.get("inclusion_proof").cloned().unwrap_or(json!([])),
            "subtree_root": payload.get("subtree_node_hash").cloned().unwrap_or(json!("")),
            "parent_plan_hash": payload.get("parent_plan_hash").cloned()
                .unwrap_or_else(|| json!(token.plan_hash)),
        }))
    }

    /// `reanchor(token, updated_plan, reason, plan_id, intent_reference)`:
    /// the changed plan under the token's `plan_id`; the token then covers
    /// its steps.
    ///
    /// # Errors
    /// `IntentReanchor` with the status and the backend's `reason`.
    pub async fn reanchor(
        &self,
        token: &IntentToken,
        updated_plan: &Plan,
        reason: Option<&str>,
        plan_id: Option<&str>,
        intent_reference: Option<&str>,
    ) -> Result<Value> {
        let target = plan_id.or(token.plan_id.as_deref()).map(str::to_owned);
        let body = Body::new()
            .raw("newPlan", updated_plan.as_json())
            .put("reason", &reason)
            .put("planId", &target)
            .put("intentReference", &intent_reference)
            .finish();
        self.trust_post("/iap/trust/reanchor", &body)
            .await
            .map_err(|(m, status)| {
                let reason = serde_json::from_str::<Value>(&m)
                    .ok()
                    .and_then(|v| v.get("reason").and_then(Value::as_str).map(str::to_owned));
                ArmorIqError::IntentReanchor {
                    message: format!(
                        "Reanchor failed for plan {}: {}",
                        target.as_deref().unwrap_or("None"),
                        reason.as_deref().unwrap_or(&m)
                    ),
                    status,
                    reason,
                    plan_id: target.clone(),
                }
            })
    }

    /// `_retry_post` to a trust route (Bearer only, 10 s): the JSON answer,
    /// or (text, status) of the failure.
    async fn trust_post(
        &self,
        path: &str,
        body: &str,
    ) -> std::result::Result<Value, (String, Option<u16>)> {
        let url = format!("{}{path}", self.backend_endpoint());
        let o = self.options();
        let r = http::retry_post(
            self.http(),
            &url,
            &[],
            body,
            o.max_retries,
            o.backoff,
            Some(Duration::from_secs(10)),
        )
        .await
        .map_err(|e| (e.message, None))?;
        if r.status >= 400 {
            return Err((r.text.clone(), Some(r.status)));
        }
        r.json()
            .ok_or_else(|| ("the answer is not JSON".into(), Some(r.status)))
    }
}
