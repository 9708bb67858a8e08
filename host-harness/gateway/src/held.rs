//! Held calls: the policy's verdict on a verified call, and the approval
//! that lets a held call run once.
//!
//! A held call's delegation is bound to exactly that call: the plan, the
//! step (its index and RFC 9162 leaf hash), the tool, the canonical hash of
//! the arguments (`armoriq` profile) and the requester. An approval covers
//! that call and no other, once, until it expires
//! ([`crate::settings::Settings::approval_ttl`] from the decision).

use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use crate::policy::{Decision, PolicyCall, Verdict};
use crate::proxy::{Call, CleanParams, amount_of};
use crate::store::{ApprovedCall, NewDelegation};
use crate::{AppState, now_ms, now_secs};
use serde_json::{Value, json};

/// Policy over the call: the outcome and reason when it may go on, the
/// refusal (block, or hold with its delegation) otherwise.
///
/// A held call goes on only with an approval bound to exactly this call
/// (plan, step and its leaf hash, the arguments' canonical hash,
/// requester). A call that names (`_delegation_id`) an approval given for
/// another call is held as its own delegation, never let through: the
/// policy holds it, and only a person who has seen these arguments may
/// let it run; the other approval stays unspent for its own call.
pub(crate) async fn decide_call(
    st: &AppState,
    call: &Call,
    plan: &ReadyPlan,
    step: u64,
) -> GwResult<(String, Option<String>)> {
    let args = Value::Object(call.params.map.clone());
    let decision = st.policy().decide(&PolicyCall {
        mcp: &call.mcp,
        tool: &call.action,
        args: &args,
        email: call.email.as_deref(),
        now: now_secs(),
    });
    match decision.verdict {
        Verdict::Allow => Ok(("allowed".to_owned(), None)),
        Verdict::Block => Err(GatewayError::PolicyBlocked {
            reason: decision.reason,
            rule: decision.rule,
        }),
        Verdict::Hold => {
            let held = HeldCall::new(call, plan, Some(step))?;
            let named = call.params.delegation_id.as_deref();
            let claim = ApprovedCall {
                tool: call.action.clone(),
                plan_id: plan.record.plan_id.clone(),
                requester_email: held.requester.clone(),
                delegation_id: named.map(str::to_owned),
                step: i64::try_from(step).unwrap_or(i64::MAX),
                leaf_hash: held.leaf_hash.clone().unwrap_or_default(),
                args_hash: crate::store::args_hash(&held.arguments),
            };
            match st.store.claim_approved(&claim, now_ms()).await? {
                Some(d) => Ok((
                    "allowed_delegated".to_owned(),
                    Some(format!(
                        "{} approved by {} (delegation {})",
                        decision.reason,
                        d.decided_by.as_deref().unwrap_or("?"),
                        d.id
                    )),
                )),
                None => {
                    let mut refusal = hold(st, &decision, &held).await?;
                    if let (
                        Some(id),
                        GatewayError::PolicyHold {
                            reason, context, ..
                        },
                    ) = (named, &mut refusal)
                        && context["delegationId"].as_str() != Some(id)
                    {
                        reason.push_str(&format!(
                            " (the named delegation {id} is no unspent approval of this call: \
                             held as its own)"
                        ));
                    }
                    Err(refusal)
                }
            }
        }
    }
}

/// A held call as its delegation binds it.
pub struct HeldCall {
    /// The MCP server.
    pub mcp: String,
    /// The tool.
    pub tool: String,
    /// The plan's id, and its token's intent reference and merkle root.
    pub plan_id: String,
    intent_reference: String,
    merkle_root: String,
    /// The step the call is, when it is one.
    pub step: Option<u64>,
    /// That step's leaf hash.
    pub leaf_hash: Option<String>,
    /// The arguments, canonical JSON (`armoriq` profile).
    pub arguments: String,
    /// The requester (trimmed, lowercase).
    pub requester: Option<String>,
    amount: Option<f64>,
}

impl HeldCall {
    /// The held call `call` on `plan` (at `step`, when verified).
    ///
    /// # Errors
    /// `BadRequest` when the arguments have no canonical form.
    fn new(call: &Call, plan: &ReadyPlan, step: Option<u64>) -> GwResult<Self> {
        Self::of(
            &call.mcp,
            &call.action,
            plan,
            &call.params,
            call.email.as_deref(),
            step,
        )
    }

    /// The held call `mcp.tool(params)` by `email` on `plan`; without a
    /// verified `step`, the plan's step with these arguments, if any.
    ///
    /// # Errors
    /// `BadRequest` when the arguments have no canonical form.
    pub fn of(
        mcp: &str,
        tool: &str,
        plan: &ReadyPlan,
        params: &CleanParams,
        email: Option<&str>,
        step: Option<u64>,
    ) -> GwResult<Self> {
        let arguments = crate::tokens::canonical(&Value::Object(params.map.clone()))
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .map_err(GatewayError::BadRequest)?;
        let step = step.or_else(|| plan.step_with_args(mcp, tool, &arguments));
        let leaf_hash = step
            .and_then(|i| plan.steps.get(usize::try_from(i).ok()?))
            .map(|s| s.leaf_hash.clone());
        Ok(Self {
            mcp: mcp.to_owned(),
            tool: tool.to_owned(),
            plan_id: plan.record.plan_id.clone(),
            intent_reference: plan.record.intent_reference.clone(),
            merkle_root: plan.record.merkle_root.clone(),
            step,
            leaf_hash,
            requester: email.map(|e| e.trim().to_lowercase()),
            amount: amount_of(&params.map),
            arguments,
        })
    }

    /// The delegation request for it, waiting `ttl`.
    pub fn request(
        &self,
        reason: Option<String>,
        approval: Option<String>,
        ttl: std::time::Duration,
    ) -> NewDelegation {
        NewDelegation {
            tool: self.tool.clone(),
            mcp: Some(self.mcp.clone()),
            plan_id: Some(self.plan_id.clone()),
            requester_email: self.requester.clone(),
            step: self.step.and_then(|s| i64::try_from(s).ok()),
            leaf_hash: self.leaf_hash.clone(),
            args_hash: crate::store::args_hash(&self.arguments),
            arguments: self.arguments.clone(),
            amount: self.amount,
            reason,
            approval,
            ttl_ms: i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX),
        }
    }
}

/// The hold: the pending delegation for exactly this call (created, or the
/// one already waiting), as the refusal to answer.
pub(crate) async fn hold(
    st: &AppState,
    decision: &Decision,
    held: &HeldCall,
) -> GwResult<GatewayError> {
    let nd = held.request(
        Some(decision.reason.clone()),
        decision.approval.as_ref().map(Value::to_string),
        st.settings.approval_ttl,
    );
    let d = st.store.get_or_create_pending(&nd, now_ms()).await?;
    Ok(GatewayError::PolicyHold {
        reason: decision.reason.clone(),
        rule: decision.rule.clone(),
        context: json!({
            "delegationId": d.id, "delegation_id": d.id, "status": d.status,
            "domain": held.mcp, "tool": held.tool, "planId": held.plan_id,
            "step": d.step, "argumentsHash": d.args_hash,
            "intentReference": held.intent_reference, "merkleRoot": held.merkle_root,
            "approval": decision.approval, "expiresAt": crate::policy::iso_time_ms(d.expires_ms),
        }),
    })
}
