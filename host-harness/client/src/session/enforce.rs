//! How a session decides a call: locally with the session's v2 policy, or
//! by asking the backend (`/iap/sdk/enforce`) or the proxy
//! (`enforce_only`), and what a hold turns into (an approved delegation, or
//! a delegation request).

use super::{ArmorIQSession, EnforceResult};
use crate::http::Body;
use crate::{IntentToken, MULTIUSER, py_str};
use serde_json::{Value, json};

impl ArmorIQSession {
    /// `decide_locally`: the session's v2 policy, evaluated with
    /// `armoriq-policy` on the bare tool name; a hold becomes a block.
    pub(super) fn decide_locally(
        &self,
        action: &str,
        args: &Value,
        user_email: Option<&str>,
    ) -> EnforceResult {
        let Some(doc) = &self.opts.local_policy else {
            return EnforceResult::block("policy-bundle-unavailable".into());
        };
        if self.client.agent_id() == MULTIUSER {
            return EnforceResult::block(
                "agent_unresolved: pass agent_id (or set AGENT_ID) to decide calls in local mode"
                    .into(),
            );
        }
        let bound = match armoriq_policy::Bound::from_json_or_doc(doc) {
            Ok(b) => b,
            Err(e) => {
                return EnforceResult::block(format!(
                    "policy-not-evaluable: {}: {}",
                    e.class_name(),
                    e.reason()
                ));
            }
        };
        let ms = armoriq_common::time::now_ms();
        let email = user_email
            .map(str::to_owned)
            .or_else(|| self.user_email.clone());
        let call = armoriq_policy::Call {
            tool: action.to_owned(),
            arguments: Some(args.clone()),
            derived: None,
            timestamp: Some(crate::credentials::format_instant(ms)),
            member: email.map(|e| armoriq_policy::Member {
                membership_id: None,
                email: Some(e.trim().to_lowercase()),
                groups: Vec::new(),
                product: None,
            }),
            capabilities: Vec::new(),
            schema_hash: Some(Value::Null),
        };
        let d = armoriq_policy::evaluate_or_block(&call, &bound);
        if let Some(e) = &d.error {
            return EnforceResult::block(format!(
                "policy-not-evaluable: {}: {}",
                e.class_name(),
                e.reason()
            ));
        }
        let verdict = d.verdict.as_str();
        let rule = if d.provenance.statement_id.is_some() {
            format!("{}#{}", d.provenance.rule_key, d.provenance.variant)
        } else {
            "tools.default".to_owned()
        };
        let mut out = EnforceResult {
            allowed: verdict == "allow",
            action: verdict.to_owned(),
            reason: Some(format!("{verdict}:{rule}")),
            policy_id: Some(d.provenance.policy_id.clone()),
            rule_id: d.provenance.statement_id.clone(),
            obligations: d
                .to_json()
                .get("obligations")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
            ..Default::default()
        };
        if out.action == "hold" {
            out.action = "block".into();
            out.reason = Some(format!(
                "{} — switch ARMORIQ_MODE=proxy to enable approval workflows for this action.",
                out.reason.as_deref().unwrap_or("requires approval")
            ));
        }
        out
    }

    pub(super) async fn enforce_sdk(
        &self,
        token: &IntentToken,
        tool: &str,
        mcp: &str,
        action: &str,
        args: &Value,
        user_email: Option<&str>,
    ) -> EnforceResult {
        let agent = self.client.agent_id();
        let real_agent = agent != MULTIUSER && !agent.is_empty();
        let mcp_server = tool != action
            || (!mcp.is_empty()
                && Some(mcp) != self.opts.default_mcp_name.as_deref()
                && mcp != "unknown");
        let body = Body::new()
            .put("mcp", &mcp)
            .put("tool", &action)
            .put("wireName", &tool)
            .opt("mcpServer", mcp_server.then_some(&mcp))
            .opt(
                "toolsSnapshotHash",
                real_agent.then_some(
                    &"v1:sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                ),
            )
            .put("arguments", args)
            .put("intent_token", &token.signed())
            .put("policy_snapshot", &token.policy_snapshot)
            .put("session_id", &self.session_id)
            .put("user_email", &user_email)
            .put("agent_id", &real_agent.then_some(agent))
            .finish();
        let r = match self
            .client
            .post_json(
                "/iap/sdk/enforce",
                &body,
                Some(std::time::Duration::from_secs(10)),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => return EnforceResult::block(format!("enforce-unavailable: {e}")),
        };
        let Some(data) = r.json() else {
            return EnforceResult::block(format!(
                "enforce-unavailable: the answer (HTTP {}) is not JSON",
                r.status
            ));
        };
        let d = decision(&data, data.get("allowed") == Some(&Value::Bool(true)));
        if d.action == "hold" {
            return self.handle_hold(mcp, action, args, d, user_email).await;
        }
        d
    }

    pub(super) async fn enforce_proxy(
        &self,
        token: &IntentToken,
        mcp: &str,
        action: &str,
        args: &Value,
        user_email: Option<&str>,
    ) -> EnforceResult {
        let agent = self.client.agent_id();
        let proxy = match self.client.proxy_for(mcp) {
            Ok(p) => p,
            Err(e) => return EnforceResult::block(format!("enforce-unavailable: {e}")),
        };
        let body = Body::new()
            .put("enforce_only", &true)
            .put("mcp", &mcp)
            .put("tool", &action)
            .put("action", &action)
            .put("params", args)
            .put("arguments", args)
            .put("intent_token", &token.signed())
            .raw("plan", token.raw_token.plan.as_json())
            .opt("agent_id", (agent != MULTIUSER).then_some(&agent))
            .opt("user_email", user_email.as_ref())
            .opt(
                "policy_snapshot",
                Some(&token.policy_snapshot).filter(|p| crate::truthy(p)),
            )
            .finish();
        let url = format!("{proxy}/invoke");
        let r = match self
            .client
            .http()
            .send(
                "POST",
                &url,
                &[("X-API-Key", self.client.api_key().to_owned())],
                Some(&body),
                Some(std::time::Duration::from_secs(10)),
            )
            .await
        {
            Ok(r) => r,
            Err(e) => return EnforceResult::block(format!("enforce-unavailable: {e}")),
        };
        let data = r.json().unwrap_or_else(|| json!({}));
        if r.status >= 400 {
            let mut d = decision(&data, false);
            d.allowed = false;
            d.action = data
                .get("action")
                .or_else(|| data.get("enforcementAction"))
                .and_then(Value::as_str)
                .unwrap_or("block")
                .to_owned();
            if d.action == "allow" {
                d.action = "block".into();
            }
            return d;
        }
        let mut d = decision(&data, data.get("allowed") == Some(&Value::Bool(true)));
        d.allowed = d.allowed || d.action == "allow";
        d
    }

    pub(super) async fn handle_hold(
        &self,
        mcp: &str,
        action: &str,
        args: &Value,
        hold: EnforceResult,
        user_email: Option<&str>,
    ) -> EnforceResult {
        let email = user_email
            .map(str::to_owned)
            .or_else(|| self.user_email.clone())
            .unwrap_or_else(|| self.client.user_id().to_owned());
        let amount = ["amount", "value", "total", "price", "cost"]
            .iter()
            .find_map(|k| args.get(*k).and_then(Value::as_f64))
            .filter(|a| *a >= 0.01)
            .unwrap_or(0.01);
        let token = self.token.as_ref();
        let plan_id = token.and_then(|t| t.plan_id.as_deref());
        if let Some(a) = self
            .client
            .check_approved_delegation(&email, action, Some(amount), plan_id)
            .await
            .filter(|a| a.get("approved").and_then(Value::as_bool) == Some(true))
        {
            let id = a
                .get("delegationId")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(id) = &id {
                self.client
                    .mark_delegation_executed(id, &email, plan_id)
                    .await;
            }
            return EnforceResult {
                allowed: true,
                action: "allow".into(),
                reason: Some(
                    format!(
                        "Allowed by approved delegation {}",
                        id.as_deref().unwrap_or("")
                    )
                    .trim()
                    .to_owned(),
                ),
                delegation_id: id,
                matched_policy: hold.matched_policy,
                obligations: hold.obligations,
                ..Default::default()
            };
        }
        let req = crate::DelegationRequestParams {
            tool: action.to_owned(),
            action: action.to_owned(),
            arguments: Some(args.clone()),
            amount: Some(amount),
            requester_email: email.clone(),
            requester_role: Some("agent_user".into()),
            requester_limit: Some(0.0),
            domain: Some(mcp.to_owned()),
            target_url: None,
            plan_id: plan_id.map(str::to_owned),
            intent_reference: token.map(|t| t.token_id.clone()),
            merkle_root: token.and_then(|t| t.raw_token.merkle_root.clone()),
            reason: hold.reason.clone(),
        };
        let delegation_id = self
            .client
            .create_delegation_request(&req, &email)
            .await
            .ok()
            .and_then(|v| {
                v.get("delegationId")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            });
        EnforceResult {
            allowed: false,
            action: "hold".into(),
            reason: Some(hold.reason.unwrap_or_else(|| "Pending approval".into())),
            delegation_id,
            matched_policy: hold.matched_policy,
            obligations: hold.obligations,
            ..Default::default()
        }
    }
}

/// An `EnforceResult` from an enforce answer.
fn decision(data: &Value, allowed: bool) -> EnforceResult {
    let action = match data.get("enforcementAction").and_then(Value::as_str) {
        Some(a @ ("allow" | "block" | "hold")) => a.to_owned(),
        _ => if allowed { "allow" } else { "block" }.to_owned(),
    };
    let mp = data
        .get("matchedPolicy")
        .or_else(|| data.get("matched_policy"));
    let (name, pid, ver, rule) = match mp {
        Some(Value::Object(o)) => (
            o.get("name").map(py_str),
            o.get("policyId").map(py_str),
            o.get("version").map(py_str),
            o.get("ruleId").map(py_str),
        ),
        Some(Value::String(s)) => (Some(s.clone()), None, None, None),
        _ => (None, None, None, None),
    };
    EnforceResult {
        allowed,
        action,
        reason: data
            .get("reason")
            .or_else(|| data.get("message"))
            .filter(|r| crate::truthy(r))
            .map(py_str),
        delegation_id: data
            .get("delegation_id")
            .and_then(Value::as_str)
            .map(str::to_owned),
        matched_policy: name,
        policy_id: pid,
        policy_version: ver,
        rule_id: rule,
        obligations: data
            .get("obligations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default(),
    }
}
