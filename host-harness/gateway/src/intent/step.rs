//! The step check: the invoked `mcp.action` with its params must be a step
//! of the plan the token signed (the core's `verify_step` against the signed
//! root and step count), any proof headers must prove that step, and a
//! delegated token must allow it.

use super::delegated::Restriction;
use super::intake::{TokenParts, signed_intent};
use super::jwt::rejection_error;
use super::proof::check_proof_headers;
use crate::AppState;
use crate::error::{GatewayError, GwResult};
use crate::plans::{ReadyPlan, StepMatch};
use axum::http::HeaderMap;
use std::sync::Arc;

/// One invocation, as the intent check needs it.
#[derive(Clone, Copy)]
pub struct StepCall<'a> {
    /// Its token(s).
    pub tokens: TokenParts<'a>,
    /// The MCP server invoked.
    pub mcp: &'a str,
    /// The tool invoked.
    pub action: &'a str,
    /// The params JSON text (control members taken out).
    pub params: &'a [u8],
    /// The calling agent, if named.
    pub agent_id: Option<&'a str>,
}

/// Token, signed plan and step: the call must be a step of the plan the
/// token signed. Returns the plan and the step's index.
///
/// # Errors
/// `InvalidToken` / `TokenExpired` (token, plan); `IntentMismatch` (step,
/// proof headers, delegation); `BadRequest` (a malformed proof header).
pub async fn check_step(
    st: &AppState,
    call: &StepCall<'_>,
    headers: &HeaderMap,
) -> GwResult<(Arc<ReadyPlan>, u64)> {
    let (plan, signed, restriction): (_, _, Option<Restriction>) =
        signed_intent(st, call.tokens).await?;
    let plan_id = &plan.record.plan_id;
    match plan.find_step(&signed, call.mcp, call.action, call.params) {
        StepMatch::Verified(i) => {
            check_proof_headers(headers, &plan, &signed, call.action)?;
            if let Some(r) = &restriction {
                r.check(call.action, i, call.agent_id)?;
            }
            Ok((plan, i))
        }
        StepMatch::Mismatch(Some(r)) => Err(rejection_error(r)),
        StepMatch::Mismatch(None) => Err(GatewayError::IntentMismatch(format!(
            "{}.{} is not a step of plan {plan_id}",
            call.mcp, call.action
        ))),
    }
}
