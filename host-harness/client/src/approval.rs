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
    pub async fn policy_context(
        &self,
        mcp: &str,
        action: &str,
        params: &serde_json::Map<String, Value>,
    ) -> Value {
        let meta = self.fetch_tool_metadata(mcp).await;
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
    pub async fn invoke_with_policy(
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
        let ctx = self.policy_context(mcp, action, &params).await;
        let call = HeldCall {
            mcp,
            action,
            amount: ctx.get("amount").and_then(Value::as_f64),
        };
        params.insert("_policy_context".into(), ctx);
        let first = self
            .invoke(
                mcp,
                action,
                token,
                Some(&Value::Object(params.clone())),
                opts.user_email.as_deref(),
            )
            .await;
        let hold = match first {
            Err(e @ ArmorIqError::PolicyHold { .. }) => e,
            other => return other,
        };
        let (hold, email) = take_hold(hold, &call, opts)?;
        let id = self
            .request_delegation(hold, &email, &call, token, original, opts)
            .await?;
        self.await_approval(&id, opts.delegation_timeout).await?;
        params.insert("_delegation_id".into(), json!(id));
        params.insert("_approvals".into(), json!(999));
        let result = self
            .invoke(
                mcp,
                action,
                token,
                Some(&Value::Object(params)),
                Some(&email),
            )
            .await?;
        self.mark_delegation_executed(&id, &email, token.plan_id.as_deref())
            .await;
        Ok(result)
    }

    /// The delegation request for a held call (`action: "execute"`, the
    /// original arguments, the requester's role), then `on_hold` with its
    /// id. A failed request gives back the hold with `delegationError`.
    async fn request_delegation(
        &self,
        hold: Hold,
        email: &str,
        call: &HeldCall<'_>,
        token: &IntentToken,
        original: serde_json::Map<String, Value>,
        opts: &InvokeOptions,
    ) -> Result<String> {
        let reason_text = hold.reason.clone().unwrap_or_else(|| hold.message.clone());
        let (role, limit) = match &opts.requester_role {
            Some(r) => (r.clone(), opts.requester_limit.unwrap_or(0.0)),
            None => self.resolve_user_role(email).await,
        };
        let ctx = &hold.delegation_context;
        let c = |k: &str| ctx.get(k).and_then(Value::as_str).map(str::to_owned);
        let req = DelegationRequestParams {
            tool: call.action.to_owned(),
            action: "execute".into(),
            arguments: Some(Value::Object(original)),
            amount: Some(call.amount.filter(|a| *a != 0.0).unwrap_or(0.0)),
            requester_email: email.to_owned(),
            requester_role: Some(role),
            requester_limit: Some(limit),
            domain: Some(c("domain").unwrap_or_else(|| call.mcp.to_owned())),
            target_url: c("targetUrl"),
            plan_id: c("planId").or_else(|| token.plan_id.clone()),
            intent_reference: Some(c("intentReference").unwrap_or_else(|| token.token_id.clone())),
            merkle_root: Some(c("merkleRoot").unwrap_or_else(|| token.plan_hash.clone())),
            reason: Some(reason_text.clone()),
        };
        let created = match self.create_delegation_request(&req, email).await {
            Ok(v) => v,
            Err(e) => return Err(hold.into_error(Some(e.message().to_owned()))),
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
                mcp: call.mcp.into(),
                action: call.action.into(),
                reason: Some(reason_text),
                delegation_id: Some(id.clone()),
                amount: call.amount,
            });
        }
        Ok(id)
    }

    /// Polls the delegation's status (first after `poll.first`, then
    /// ×`poll.factor`, at most `poll.cap`) until it is approved.
    ///
    /// # Errors
    /// `Delegation` when it is rejected, expires, cannot be read, or the
    /// timeout passes.
    async fn await_approval(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let poll = self.inner.opts.poll;
        let timeout = timeout.unwrap_or(poll.timeout);
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
            tokio::time::sleep(wait.min(left)).await;
            wait = Duration::from_secs_f64(
                (wait.as_secs_f64() * poll.factor).min(poll.cap.as_secs_f64()),
            );
            let status = self
                .get_delegation_status(id)
                .await?
                .get("status")
                .and_then(Value::as_str)
                .unwrap_or("pending")
                .to_owned();
            match status.as_str() {
                "approved" => return Ok(()),
                "rejected" | "expired" => {
                    return Err(ArmorIqError::Delegation {
                        message: format!("Delegation {status}"),
                        status: None,
                    });
                }
                _ => {}
            }
        }
    }
}

/// The call `invoke_with_policy` is running, as a hold reports it.
struct HeldCall<'a> {
    mcp: &'a str,
    action: &'a str,
    amount: Option<f64>,
}

/// A `PolicyHold` the first invoke answered, taken apart.
struct Hold {
    message: String,
    reason: Option<String>,
    delegation_id: Option<String>,
    delegation_context: Box<Value>,
    matched_policy: Option<String>,
    metadata: Box<Value>,
}

impl Hold {
    /// The hold as the error again; `delegation_error` (a failed delegation
    /// request) goes into the metadata as `delegationError` and drops the
    /// delegation id.
    fn into_error(self, delegation_error: Option<String>) -> ArmorIqError {
        let (delegation_id, metadata) = match delegation_error {
            None => (self.delegation_id, self.metadata),
            Some(e) => {
                let mut meta = match *self.metadata {
                    Value::Object(m) => m,
                    _ => serde_json::Map::new(),
                };
                meta.insert("delegationError".into(), json!(e));
                (None, Box::new(Value::Object(meta)))
            }
        };
        ArmorIqError::PolicyHold {
            message: self.message,
            reason: self.reason,
            delegation_id,
            delegation_context: self.delegation_context,
            matched_policy: self.matched_policy,
            metadata,
        }
    }
}

/// A hold from the first invoke: `on_hold` is told, then either the hold is
/// returned (not waiting, or no user email) or waiting goes on for that
/// email. Any other error is returned as it is.
fn take_hold(e: ArmorIqError, call: &HeldCall<'_>, opts: &InvokeOptions) -> Result<(Hold, String)> {
    let ArmorIqError::PolicyHold {
        message,
        reason,
        delegation_id,
        delegation_context,
        matched_policy,
        metadata,
    } = e
    else {
        return Err(e);
    };
    if let Some(cb) = &opts.on_hold {
        cb(&HoldInfo {
            mcp: call.mcp.into(),
            action: call.action.into(),
            reason: Some(reason.clone().unwrap_or_else(|| message.clone())),
            delegation_id: None,
            amount: call.amount,
        });
    }
    let hold = Hold {
        message,
        reason,
        delegation_id,
        delegation_context,
        matched_policy,
        metadata,
    };
    match opts.user_email.clone().filter(|_| opts.wait_for_approval) {
        Some(email) => Ok((hold, email)),
        None => Err(hold.into_error(None)),
    }
}
