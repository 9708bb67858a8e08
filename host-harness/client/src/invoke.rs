//! `invoke`: `POST {proxy}/invoke` and the SDK's status/body → error mapping.

use crate::MULTIUSER;
use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use crate::http::{self, Body, Resp};
use crate::plan::{self};
use crate::token::IntentToken;
use crate::util::{py_repr, py_str, truthy};
use serde_json::{Value, json};
use std::time::Instant;

/// `MCPInvocationResult`.
#[derive(Clone, Debug)]
pub struct McpInvocationResult {
    /// The MCP.
    pub mcp: String,
    /// The action.
    pub action: String,
    /// `body.result`, or the body.
    pub result: Value,
    /// `"success"`, or `"error"` when the tool reported one.
    pub status: String,
    /// Seconds.
    pub execution_time: f64,
    /// Always true (the proxy verified the token).
    pub verified: bool,
    /// `{"hasToolError"}`.
    pub metadata: Value,
}

impl ArmorIQClient {
    /// `invoke(mcp, action, token, params, user_email)`: `POST {proxy}/invoke`,
    /// one attempt, with the SDK's status/body → error mapping.
    ///
    /// # Errors
    /// In this order: `TokenExpired` (before sending), the local check,
    /// `PolicyHold` / `PolicyBlocked` (body `enforcementAction`),
    /// `InvalidToken` (401/403), `IntentMismatch` (409), `MCPInvocation`.
    pub async fn invoke(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params: Option<&Value>,
        user_email: Option<&str>,
    ) -> Result<McpInvocationResult> {
        let params_json = match params {
            None | Some(Value::Null) => "{}".to_owned(),
            Some(p) if p.is_object() => serde_json::to_string(p).unwrap_or_else(|_| "{}".into()),
            Some(_) => {
                return Err(ArmorIqError::InvalidInput(
                    "params must be a JSON object".into(),
                ));
            }
        };
        self.invoke_json(mcp, action, token, &params_json, user_email)
            .await
    }

    /// `invoke` with params as JSON text (key order and numbers kept).
    ///
    /// # Errors
    /// As [`ArmorIQClient::invoke`].
    pub async fn invoke_json(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params_json: &str,
        user_email: Option<&str>,
    ) -> Result<McpInvocationResult> {
        if token.is_expired() {
            return Err(ArmorIqError::TokenExpired {
                message: format!(
                    "Intent token expired {:.1}s ago",
                    token.time_until_expiry().abs()
                ),
                token_id: token.token_id.clone(),
                expired_at: token.expires_at,
            });
        }
        if self.inner.opts.local_verification {
            self.verify_locally(token).await?;
        }
        let proxy = self.proxy_for(mcp)?;
        let url = format!("{proxy}/invoke");
        let params_json = plan::py_json(params_json)?;
        let body = self.invoke_body(mcp, action, token, &params_json, user_email);
        let headers = self.invoke_headers(mcp);
        let start = Instant::now();
        let resp = self
            .inner
            .http
            .send("POST", &url, &headers, Some(&body), None)
            .await
            .map_err(|e| {
                ArmorIqError::mcp(
                    format!("Could not reach the ArmorIQ proxy at {url}: {e}"),
                    mcp,
                    action,
                    None,
                )
            })?;
        let elapsed = start.elapsed().as_secs_f64();
        map_invoke_response(&resp, &url, mcp, action, &token.plan_hash, elapsed)
    }

    /// The `/invoke` body, in the SDK's member order.
    fn invoke_body(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params_json: &str,
        user_email: Option<&str>,
    ) -> String {
        let mut iam = Body::new();
        if truthy(&token.policy_validation) {
            iam = iam.put(
                "allowed_tools",
                &token
                    .policy_validation
                    .get("allowed_tools")
                    .cloned()
                    .unwrap_or_else(|| json!([])),
            );
        }
        if let Some(e) = user_email.filter(|e| !e.is_empty()) {
            iam = iam.put("email", &e).put("user_email", &e);
        }
        iam = iam
            .put("user_id", &self.inner.user_id)
            .put("agent_id", &self.inner.agent_id);
        let csrg = serde_json::to_string(&token.raw_token.token).unwrap_or_else(|_| "{}".into());
        Body::new()
            .put("mcp", &mcp)
            .put("action", &action)
            .put("tool", &action)
            .raw("params", params_json)
            .raw("arguments", params_json)
            .raw("intent_token", &token.signed_json())
            .raw("plan", token.raw_token.plan.as_json())
            .raw("_iam_context", &iam.finish())
            .opt("user_email", user_email.filter(|e| !e.is_empty()).as_ref())
            .opt(
                "agent_id",
                Some(&self.inner.agent_id).filter(|a| a.as_str() != MULTIUSER),
            )
            .opt(
                "policy_snapshot",
                Some(&token.policy_snapshot).filter(|p| truthy(p)),
            )
            .raw("token", &csrg)
            .raw("csrg_token", &csrg)
            .finish()
    }

    /// The `/invoke` headers: the SDK's, the API key, and the MCP's
    /// credential as `X-Armoriq-MCP-Auth` when one is set.
    fn invoke_headers(&self, mcp: &str) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Accept", "application/json, text/event-stream".to_owned()),
            (
                "Cache-Control",
                "no-cache, no-store, must-revalidate".to_owned(),
            ),
            (
                "X-Request-ID",
                format!("sdk-{}", armoriq_common::time::now_ms()),
            ),
            self.key_header(),
        ];
        if let Some(cred) = self.mcp_credential(mcp) {
            use base64::Engine;
            headers.push((
                "X-Armoriq-MCP-Auth",
                base64::engine::general_purpose::STANDARD.encode(http::ascii_escape(cred)),
            ));
        }
        headers
    }

    pub(crate) fn mcp_credential(&self, mcp: &str) -> Option<&str> {
        let m = &self.inner.mcp_credentials;
        if let Some(c) = m.get(mcp) {
            return Some(c);
        }
        let safe: String = mcp
            .to_uppercase()
            .chars()
            .map(|c| {
                if c.is_ascii_uppercase() || c.is_ascii_digit() {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        m.get(&safe).map(String::as_str)
    }
}

/// Maps a `/invoke` answer to a result or error, in the SDK's order.
///
/// # Errors
/// As [`ArmorIQClient::invoke`].
pub fn map_invoke_response(
    resp: &Resp,
    url: &str,
    mcp: &str,
    action: &str,
    plan_hash: &str,
    elapsed: f64,
) -> Result<McpInvocationResult> {
    let data: Value = if resp.content_type.contains("text/event-stream") {
        let d = resp
            .text
            .split('\n')
            .filter_map(|l| l.strip_prefix("data: "))
            .find_map(|l| serde_json::from_str::<Value>(l).ok());
        match d.filter(truthy) {
            Some(d) => d,
            None => {
                return Err(ArmorIqError::mcp(
                    "No data in SSE response".into(),
                    mcp,
                    action,
                    None,
                ));
            }
        }
    } else {
        resp.json()
            .filter(Value::is_object)
            .unwrap_or_else(|| json!({}))
    };
    if let Some(e) = policy_refusal(&data) {
        return Err(e);
    }
    if resp.status >= 400 {
        let detail = resp
            .json()
            .map_or_else(|| resp.text.clone(), |v| py_repr(&v));
        return Err(match resp.status {
            401 | 403 => ArmorIqError::InvalidToken(format!(
                "Token verification failed at {url} (HTTP {}): {detail}",
                resp.status
            )),
            409 => ArmorIqError::IntentMismatch {
                message: format!("Action not in plan at {url}: {detail}"),
                action: action.to_owned(),
                plan_hash: plan_hash.to_owned(),
            },
            s => ArmorIqError::mcp(
                format!("MCP invocation failed at {url} (HTTP {s}): {detail}"),
                mcp,
                action,
                Some(s),
            ),
        });
    }
    if let Some(err) = data.get("error").filter(|e| truthy(e)) {
        let msg = err.get("message").map_or("Unknown error".into(), py_str);
        let code = err.get("code").map_or("-1".into(), py_str);
        let d = err.get("data").map_or(String::new(), py_str);
        return Err(ArmorIqError::mcp(
            format!("MCP tool error ({code}): {msg} - {d}"),
            mcp,
            action,
            None,
        ));
    }
    let result = data.get("result").cloned().unwrap_or_else(|| data.clone());
    let has_err = ["isError", "is_error", "error"]
        .iter()
        .any(|k| result.get(k).is_some_and(truthy));
    Ok(McpInvocationResult {
        mcp: mcp.to_owned(),
        action: action.to_owned(),
        result,
        status: if has_err { "error" } else { "success" }.into(),
        execution_time: elapsed,
        verified: true,
        metadata: json!({"hasToolError": has_err}),
    })
}

/// `_policy_refusal(data)`: body `enforcementAction` hold / block.
pub(crate) fn policy_refusal(data: &Value) -> Option<ArmorIqError> {
    let action = data.get("enforcementAction").and_then(Value::as_str)?;
    let matched = data
        .get("matched_policy")
        .or_else(|| data.get("matchedPolicy"))
        .and_then(|m| match m {
            Value::Object(o) => o.get("name").and_then(Value::as_str).map(str::to_owned),
            Value::String(s) => Some(s.clone()),
            _ => None,
        });
    let message = data
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.is_empty());
    let reason = data
        .get("reason")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let obligations =
        json!({"obligations": data.get("obligations").cloned().unwrap_or(Value::Null)});
    match action {
        "hold" => {
            let ctx = data
                .get("delegation_context")
                .cloned()
                .unwrap_or(Value::Null);
            Some(ArmorIqError::PolicyHold {
                message: message.unwrap_or("Action held for approval").to_owned(),
                delegation_id: ctx
                    .get("delegationId")
                    .or_else(|| ctx.get("delegation_id"))
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                delegation_context: Box::new(ctx),
                reason,
                matched_policy: matched,
                metadata: Box::new(obligations),
            })
        }
        "block" => Some(ArmorIqError::PolicyBlocked {
            message: message.unwrap_or("Action blocked by policy").to_owned(),
            reason,
            enforcement_action: Some("block".into()),
            matched_policy: matched,
            metadata: Box::new(obligations),
        }),
        _ => None,
    }
}
