//! `invoke_with_policy`: tool metadata, the invoke, and on a hold the
//! delegation request, the approval polling and the re-invoke.

use crate::client::ArmorIQClient;
use crate::delegation::DelegationRequestParams;
use crate::error::{ArmorIqError, Result};
use crate::invoke::McpInvocationResult;
use crate::token::IntentToken;
use crate::util::truthy;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The `on_hold` callback of [`InvokeOptions`].
pub type OnHold = Arc<dyn Fn(&HoldInfo) + Send + Sync>;

/// `InvokeOptions` of `invoke_with_policy`.
#[derive(Clone, Default)]
pub struct InvokeOptions {
    /// Wait for an approver instead of failing with `PolicyHold`.
    pub wait_for_approval: bool,
    /// Give up waiting after this long (default: the client's poll timeout).
    pub delegation_timeout: Option<Duration>,
    /// Called on a hold (before and after the delegation request).
    pub on_hold: Option<OnHold>,
    /// The requester.
    pub user_email: Option<String>,
    /// The requester's role (else `GET /delegation/my-role`).
    pub requester_role: Option<String>,
    /// The requester's limit.
    pub requester_limit: Option<f64>,
}

/// What `on_hold` is told.
#[derive(Clone, Debug)]
pub struct HoldInfo {
    /// The MCP.
    pub mcp: String,
    /// The action.
    pub action: String,
    /// Why.
    pub reason: Option<String>,
    /// The delegation, once requested.
    pub delegation_id: Option<String>,
    /// The amount, for financial tools.
    pub amount: Option<f64>,
}

impl ArmorIQClient {
    /// `_enrich_policy_context`: `{is_financial, transaction_type, amount,
    /// recipient_id}` from the tool's metadata (`amount` divided by 100 for
    /// cents).
    pub fn policy_context(
        &self,
        mcp: &str,
        action: &str,
        params: &serde_json::Map<String, Value>,
    ) -> Value {
        let meta = self.fetch_tool_metadata(mcp);
        let tm = meta
            .get("toolMetadata")
            .and_then(|t| t.get(action))
            .cloned()
            .unwrap_or(Value::Null);
        if tm.get("isFinancial").and_then(Value::as_bool) != Some(true) {
            return json!({"is_financial": false, "transaction_type": null, "amount": null,
                          "recipient_id": null});
        }
        let cents = tm.get("amountUnit").and_then(Value::as_str) == Some("cents");
        let amount = tm
            .get("amountFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find_map(|f| match params.get(f)? {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                Value::Bool(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            })
            .map(|a| if cents { a / 100.0 } else { a });
        let recipient = tm
            .get("recipientField")
            .and_then(Value::as_str)
            .and_then(|f| params.get(f).cloned())
            .unwrap_or(Value::Null);
        json!({"is_financial": true,
               "transaction_type": tm.get("transactionType").filter(|t| truthy(t)).cloned()
                   .unwrap_or_else(|| json!(action)),
               "amount": amount, "recipient_id": recipient})
    }

    /// `invoke_with_policy(mcp, action, token, params, opts)`: tool metadata
    /// (`_policy_context` for financial tools), `invoke`; on a hold, and when
    /// waiting is asked with a user email: a delegation request, status
    /// polling (first after 3 s, ×1.5, at most 15 s), and on approval a
    /// re-invoke with `_delegation_id` and `_approvals: 999`, then
    /// mark-executed.
    ///
    /// # Errors
    /// As `invoke`; `PolicyHold` when not waiting; `Delegation` when the
    /// delegation is rejected, expires or times out.
    pub fn invoke_with_policy(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params: Option<&Value>,
        opts: &InvokeOptions,
    ) -> Result<McpInvocationResult> {
        let mut params = match params {
            Some(Value::Object(m)) => m.clone(),
            _ => serde_json::Map::new(),
        };
        let original = params.clone();
        let ctx = self.policy_context(mcp, action, &params);
        let amount = ctx.get("amount").and_then(Value::as_f64);
        params.insert("_policy_context".into(), ctx);
        let first = self.invoke(
            mcp,
            action,
            token,
            Some(&Value::Object(params.clone())),
            opts.user_email.as_deref(),
        );
        let held = match first {
            Err(ArmorIqError::PolicyHold {
                reason,
                delegation_context,
                message,
                delegation_id,
                matched_policy,
                metadata,
            }) => {
                let info = HoldInfo {
                    mcp: mcp.into(),
                    action: action.into(),
                    reason: Some(reason.clone().unwrap_or_else(|| message.clone())),
                    delegation_id: None,
                    amount,
                };
                if let Some(cb) = &opts.on_hold {
                    cb(&info);
                }
                let Some(email) = opts
                    .user_email
                    .as_deref()
                    .filter(|_| opts.wait_for_approval)
                else {
                    return Err(ArmorIqError::PolicyHold {
                        message,
                        reason,
                        delegation_id,
                        delegation_context,
                        matched_policy,
                        metadata,
                    });
                };
                let _ = email;
                (
                    reason,
                    message,
                    delegation_context,
                    matched_policy,
                    metadata,
                )
            }
            other => return other,
        };
        let (reason, message, ctx, matched_policy, hold_meta) = held;
        let reason_text = reason.clone().unwrap_or_else(|| message.clone());
        let email = opts.user_email.clone().unwrap_or_default();
        let (role, limit) = match &opts.requester_role {
            Some(r) => (r.clone(), opts.requester_limit.unwrap_or(0.0)),
            None => self.resolve_user_role(&email),
        };
        let c = |k: &str| ctx.get(k).and_then(Value::as_str).map(str::to_owned);
        let req = DelegationRequestParams {
            tool: action.to_owned(),
            action: "execute".into(),
            arguments: Some(Value::Object(original)),
            amount: Some(amount.filter(|a| *a != 0.0).unwrap_or(0.0)),
            requester_email: email.clone(),
            requester_role: Some(role),
            requester_limit: Some(limit),
            domain: Some(c("domain").unwrap_or_else(|| mcp.to_owned())),
            target_url: c("targetUrl"),
            plan_id: c("planId").or_else(|| token.plan_id.clone()),
            intent_reference: Some(c("intentReference").unwrap_or_else(|| token.token_id.clone())),
            merkle_root: Some(c("merkleRoot").unwrap_or_else(|| token.plan_hash.clone())),
            reason: Some(reason_text.clone()),
        };
        let created = match self.create_delegation_request(&req, &email) {
            Ok(v) => v,
            Err(e) => {
                let mut meta = match *hold_meta {
                    Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                };
                meta.insert("delegationError".into(), json!(e.message()));
                return Err(ArmorIqError::PolicyHold {
                    message,
                    reason,
                    delegation_id: None,
                    delegation_context: ctx,
                    matched_policy,
                    metadata: Box::new(Value::Object(meta)),
                });
            }
        };
        let id = created
            .get("delegationId")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ArmorIqError::Delegation {
                message: "delegation request answered without delegationId".into(),
                status: None,
            })?;
        if let Some(cb) = &opts.on_hold {
            cb(&HoldInfo {
                mcp: mcp.into(),
                action: action.into(),
                reason: Some(reason_text.clone()),
                delegation_id: Some(id.clone()),
                amount,
            });
        }
        let poll = self.inner.opts.poll;
        let timeout = opts.delegation_timeout.unwrap_or(poll.timeout);
        let deadline = Instant::now() + timeout;
        let mut wait = poll.first;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(ArmorIqError::Delegation {
                    message: format!(
                        "Delegation approval timed out after {:.0}s",
                        timeout.as_secs_f64()
                    ),
                    status: None,
                });
            }
            std::thread::sleep(wait.min(left));
            wait = Duration::from_secs_f64(
                (wait.as_secs_f64() * poll.factor).min(poll.cap.as_secs_f64()),
            );
            let status = self
                .get_delegation_status(&id)?
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("pending")
                .to_owned();
            match status.as_str() {
                "approved" => break,
                "rejected" | "expired" => {
                    return Err(ArmorIqError::Delegation {
                        message: format!("Delegation {status}"),
                        status: None,
                    });
                }
                _ => {}
            }
        }
        params.insert("_delegation_id".into(), json!(id));
        params.insert("_approvals".into(), json!(999));
        let result = self.invoke(
            mcp,
            action,
            token,
            Some(&Value::Object(params)),
            Some(&email),
        )?;
        self.mark_delegation_executed(&id, &email, token.plan_id.as_deref());
        Ok(result)
    }
}
