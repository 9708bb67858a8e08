//! What a mint gives back: [`PlanCapture`], [`RawToken`], [`IntentToken`].

use crate::http::Body;
use crate::plan::Plan;
use serde_json::{Value, json};

/// A token lifetime as the caller wrote it: Python sends `120` for an int
/// and `60.0` for a float, and so does this client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Seconds {
    /// Whole seconds (`120`).
    Int(u64),
    /// Float seconds (`60.0`).
    Float(f64),
}

impl From<u64> for Seconds {
    fn from(v: u64) -> Self {
        Self::Int(v)
    }
}
impl From<u32> for Seconds {
    fn from(v: u32) -> Self {
        Self::Int(u64::from(v))
    }
}
impl From<i32> for Seconds {
    fn from(v: i32) -> Self {
        Self::Int(u64::try_from(v).unwrap_or(0))
    }
}
impl From<f64> for Seconds {
    fn from(v: f64) -> Self {
        Self::Float(v)
    }
}

/// `PlanCapture`: the plan and what produced it (only the plan is sent).
#[derive(Clone, Debug)]
pub struct PlanCapture {
    /// The plan.
    pub plan: Plan,
    /// The LLM.
    pub llm: String,
    /// The prompt.
    pub prompt: String,
    /// Metadata (never sent).
    pub metadata: Value,
}

/// `raw_token`: what the mint returned, with the plan that was sent.
#[derive(Clone, Debug)]
pub struct RawToken {
    /// The plan that was sent.
    pub plan: Plan,
    /// `plan_id`.
    pub plan_id: Option<String>,
    /// The CSRG token object.
    pub token: Value,
    /// `plan_hash`.
    pub plan_hash: Option<String>,
    /// `merkle_root`.
    pub merkle_root: Option<String>,
    /// `intent_reference`.
    pub intent_reference: Option<String>,
    /// `composite_identity`.
    pub composite_identity: Value,
    /// `step_proofs`.
    pub step_proofs: Value,
}

/// `IntentToken`.
#[derive(Clone, Debug)]
pub struct IntentToken {
    /// `intent_reference`, or `"unknown"`.
    pub token_id: String,
    /// `plan_hash`.
    pub plan_hash: String,
    /// `plan_id`.
    pub plan_id: Option<String>,
    /// The CSRG signature.
    pub signature: String,
    /// Epoch seconds.
    pub issued_at: f64,
    /// Epoch seconds.
    pub expires_at: f64,
    /// The policy the caller passed, or `{}`.
    pub policy: Value,
    /// `composite_identity`.
    pub composite_identity: Value,
    /// `client_info`.
    pub client_info: Value,
    /// `policy_validation`.
    pub policy_validation: Value,
    /// `step_proofs`.
    pub step_proofs: Value,
    /// Steps in the plan.
    pub total_steps: usize,
    /// `raw_token`.
    pub raw_token: RawToken,
    /// The EdDSA JWT the proxy checks.
    pub jwt_token: Option<String>,
    /// `policy_snapshot`.
    pub policy_snapshot: Value,
}

pub(crate) use armoriq_common::time::now_unix_f64 as now_f64;

impl IntentToken {
    /// `now > expires_at` (strict, local clock).
    pub fn is_expired(&self) -> bool {
        now_f64() > self.expires_at
    }

    /// Seconds left (negative once expired).
    pub fn time_until_expiry(&self) -> f64 {
        self.expires_at - now_f64()
    }

    /// `{"jwt_token", "plan_id"}` without missing members (`signed()`).
    pub fn signed(&self) -> Value {
        let mut m = serde_json::Map::new();
        if let Some(j) = &self.jwt_token {
            m.insert("jwt_token".into(), json!(j));
        }
        if let Some(p) = &self.plan_id {
            m.insert("plan_id".into(), json!(p));
        }
        Value::Object(m)
    }

    pub(crate) fn signed_json(&self) -> String {
        Body::new()
            .opt("jwt_token", self.jwt_token.as_ref())
            .opt("plan_id", self.plan_id.as_ref())
            .finish()
    }
}
