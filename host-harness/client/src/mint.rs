//! `capture_plan` and `get_intent_token`: `POST {backend}/iap/sdk/token`.

use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use crate::http::{self, Body};
use crate::plan::{self, Plan};
use crate::token::{IntentToken, PlanCapture, RawToken, Seconds, now_f64};
use crate::util::{py_str, truthy};
use serde_json::{Value, json};
use std::time::Duration;

impl ArmorIQClient {
    /// `capture_plan(llm, prompt, plan, metadata)`: the SDK's checks only.
    ///
    /// # Errors
    /// `InvalidInput` with the official messages.
    pub fn capture_plan(
        &self,
        llm: &str,
        prompt: &str,
        plan: Option<&Value>,
        metadata: Option<Value>,
    ) -> Result<PlanCapture> {
        plan::check_plan(plan)?;
        let plan = Plan::from_value(plan.unwrap_or(&Value::Null))?;
        Ok(self.capture(plan, llm, prompt, metadata))
    }

    /// `capture_plan` for a plan given as JSON text (key order kept).
    ///
    /// # Errors
    /// As [`ArmorIQClient::capture_plan`].
    pub fn capture_plan_json(
        &self,
        llm: &str,
        prompt: &str,
        plan_json: &str,
        metadata: Option<Value>,
    ) -> Result<PlanCapture> {
        let plan = Plan::from_json(plan_json)?;
        Ok(self.capture(plan, llm, prompt, metadata))
    }

    /// A capture of an already checked [`Plan`].
    pub fn capture(
        &self,
        plan: Plan,
        llm: &str,
        prompt: &str,
        metadata: Option<Value>,
    ) -> PlanCapture {
        PlanCapture {
            plan,
            llm: llm.to_owned(),
            prompt: prompt.to_owned(),
            metadata: metadata.unwrap_or_else(|| json!({})),
        }
    }

    /// `get_intent_token(plan_capture, policy, validity_seconds, user_email)`:
    /// `POST {backend}/iap/sdk/token` (retried on ≥ 500 and transport errors
    /// with one `Idempotency-Key`), then the local check of the token.
    ///
    /// # Errors
    /// `PolicyBlocked` (403 or denied tools), `InvalidToken` (any other
    /// refusal, a malformed answer, or a token that fails the local check).
    pub async fn get_intent_token(
        &self,
        capture: &PlanCapture,
        policy: Option<&Value>,
        validity_seconds: impl Into<Seconds>,
        user_email: Option<&str>,
    ) -> Result<IntentToken> {
        let v: Seconds = validity_seconds.into();
        let (text, secs) = match v {
            Seconds::Int(n) => (n.to_string(), n as f64),
            Seconds::Float(f) if f.is_finite() => (
                serde_json::to_string(&f).unwrap_or_else(|_| "60.0".into()),
                f,
            ),
            Seconds::Float(f) => {
                return Err(ArmorIqError::InvalidToken(format!(
                    "Failed to get intent token: Out of range float values are not JSON compliant: {f}"
                )));
            }
        };
        self.mint(capture, policy, &text, secs, user_email).await
    }

    pub(crate) async fn mint(
        &self,
        capture: &PlanCapture,
        policy: Option<&Value>,
        expires_text: &str,
        validity_seconds: f64,
        user_email: Option<&str>,
    ) -> Result<IntentToken> {
        let fail =
            |m: String| ArmorIqError::InvalidToken(format!("Failed to get intent token: {m}"));
        let body = Body::new()
            .put("user_id", &user_email.unwrap_or(&self.inner.user_id))
            .put("agent_id", &self.inner.agent_id)
            .put("context_id", &self.inner.context_id)
            .raw("plan", capture.plan.as_json())
            .put("policy", &policy)
            .raw("expires_in", expires_text)
            .opt("user_email", user_email.as_ref())
            .finish();
        let idem = uuid::Uuid::new_v4().simple().to_string();
        let url = format!("{}/iap/sdk/token", self.inner.backend);
        let resp = http::retry_post(
            &self.inner.http,
            &url,
            &[self.key_header(), ("Idempotency-Key", idem)],
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            Some(Duration::from_secs(30)),
        )
        .await
        .map_err(|e| fail(e.message))?;
        if resp.status >= 400 {
            return Err(mint_refusal(&resp));
        }
        let data: Value = serde_json::from_str(&resp.text).map_err(|e| fail(e.to_string()))?;
        let token = token_from_answer(&data, capture, policy, validity_seconds)?;
        if self.inner.opts.local_verification {
            self.verify_locally(&token).await?;
        }
        Ok(token)
    }
}

/// The error of a mint answered with a status ≥ 400: `PolicyBlocked` for a
/// 403 or denied tools, else `InvalidToken` with the body's message.
fn mint_refusal(resp: &http::Resp) -> ArmorIqError {
    let data = resp.json().unwrap_or_else(|| json!({"message": resp.text}));
    let pv = data
        .get("policy_validation")
        .cloned()
        .unwrap_or(Value::Null);
    let denied = pv.get("denied_tools").and_then(Value::as_array);
    if resp.status == 403 || denied.is_some_and(|d| !d.is_empty()) {
        let reasons: Vec<String> = pv
            .get("denied_reasons")
            .and_then(Value::as_array)
            .map(|a| a.iter().map(py_str).collect())
            .unwrap_or_default();
        let reason = if reasons.is_empty() {
            data.get("message")
                .filter(|m| truthy(m))
                .map(py_str)
                .unwrap_or_else(|| "Blocked by policy".into())
        } else {
            reasons.join("; ")
        };
        return ArmorIqError::PolicyBlocked {
            message: format!("Policy blocked intent token issuance: {reason}"),
            reason: Some(reason),
            enforcement_action: pv
                .get("default_enforcement_action")
                .and_then(Value::as_str)
                .map(str::to_owned),
            matched_policy: None,
            metadata: Box::new(pv),
        };
    }
    let message = match &data {
        Value::Object(m) => m.get("message").map_or("None".into(), py_str),
        other => py_str(other),
    };
    ArmorIqError::InvalidToken(format!("Token issuance failed: {message}"))
}

/// The [`IntentToken`] of a successful mint answer (`success` true).
fn token_from_answer(
    data: &Value,
    capture: &PlanCapture,
    policy: Option<&Value>,
    validity_seconds: f64,
) -> Result<IntentToken> {
    if !data.get("success").is_some_and(truthy) {
        return Err(ArmorIqError::InvalidToken(format!(
            "Token issuance failed: {}",
            data.get("message").map_or("Unknown error".into(), py_str)
        )));
    }
    let token_data = data
        .get("token")
        .filter(|t| truthy(t))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let s = |k: &str| data.get(k).and_then(Value::as_str).map(str::to_owned);
    let now = now_f64();
    let num = |k: &str| {
        token_data
            .get(k)
            .and_then(Value::as_f64)
            .filter(|x| *x != 0.0)
    };
    let raw = RawToken {
        plan: capture.plan.clone(),
        plan_id: s("plan_id"),
        token: token_data.clone(),
        plan_hash: s("plan_hash"),
        merkle_root: s("merkle_root"),
        intent_reference: s("intent_reference"),
        composite_identity: data
            .get("composite_identity")
            .cloned()
            .unwrap_or_else(|| json!("")),
        step_proofs: data
            .get("step_proofs")
            .cloned()
            .unwrap_or_else(|| json!([])),
    };
    let token = IntentToken {
        token_id: s("intent_reference")
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| "unknown".into()),
        plan_hash: s("plan_hash").unwrap_or_default(),
        plan_id: s("plan_id"),
        signature: token_data
            .get("signature")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        issued_at: num("issued_at").unwrap_or(now),
        expires_at: num("expires_at").unwrap_or(now + validity_seconds),
        policy: policy.cloned().filter(truthy).unwrap_or_else(|| json!({})),
        composite_identity: raw.composite_identity.clone(),
        client_info: data.get("client_info").cloned().unwrap_or(Value::Null),
        policy_validation: data
            .get("policy_validation")
            .cloned()
            .unwrap_or(Value::Null),
        step_proofs: raw.step_proofs.clone(),
        total_steps: capture.plan.steps().len(),
        raw_token: raw,
        jwt_token: s("jwt_token"),
        policy_snapshot: data.get("policy_snapshot").cloned().unwrap_or(Value::Null),
    };
    Ok(token)
}
