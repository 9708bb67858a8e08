//! Sessions (`armoriq_sdk/session.py`): `for_user(email)` →
//! `start_session(opts)` → `start_plan(tool_calls)` → `check(tool, args)` →
//! (the agent runs the tool) → `report(tool, args, result)`.
//!
//! Differences from 0.8.17, on purpose:
//! * the default mode is `sdk` (0.8.17: `local`), because `local` needs the
//!   backend's policy bundle, which `armoriq serve` does not publish; `local`
//!   here checks the token and the plan, then decides with the v2 document
//!   given in [`SessionOptions::local_policy`] (`armoriq-policy`, the bare
//!   tool name, the session's user as the member), and without one blocks
//!   with `policy-bundle-unavailable` (fail-closed);
//! * a grown plan is minted anew instead of re-anchored (`armoriq serve` has
//!   no `/iap/trust/reanchor`, and a re-anchored token still signs the old
//!   plan, which the proxy would refuse).

use crate::error::{ArmorIqError, Result};
use crate::http::Body;
use crate::plan::{
    ToolCall, ToolNameParser, build_plan_from_tool_calls, default_tool_name_parser, hash_tool_calls,
};
use crate::{ArmorIQClient, IntentToken};
use serde_json::Value;
use std::collections::{HashMap, HashSet};

mod enforce;

/// `SessionMode`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SessionMode {
    /// `POST {backend}/iap/sdk/enforce` per call.
    #[default]
    Sdk,
    /// `POST {proxy}/invoke` with `enforce_only: true` per call.
    Proxy,
    /// No network per call (token and plan checks; no policy bundle).
    Local,
}

/// `SessionOptions`.
#[derive(Clone)]
pub struct SessionOptions {
    /// Maps tool names to `(mcp, action)` (default: `default_tool_name_parser`).
    pub tool_name_parser: Option<ToolNameParser>,
    /// The MCP for un-namespaced tool names.
    pub default_mcp_name: Option<String>,
    /// Token lifetime (3600 s).
    pub validity_seconds: u64,
    /// The `llm` of captured plans (`"agent"`).
    pub llm: String,
    /// How `check` decides.
    pub mode: SessionMode,
    /// Used when it is a UUID, else a new uuid4.
    pub session_id: Option<String>,
    /// Used when it is a UUID, else a new uuid4.
    pub context_id: Option<String>,
    /// The Armor Policy v2 document (or bound `{floor, agent, group}`) that
    /// [`SessionMode::Local`] decides with. The official SDK fetches it from
    /// the backend's policy bundle, which `armoriq serve` does not publish;
    /// without it local mode blocks (`policy-bundle-unavailable`).
    pub local_policy: Option<Value>,
}

impl Default for SessionOptions {
    fn default() -> Self {
        Self {
            tool_name_parser: None,
            default_mcp_name: None,
            validity_seconds: 3600,
            llm: "agent".into(),
            mode: SessionMode::default(),
            session_id: None,
            context_id: None,
            local_policy: None,
        }
    }
}

impl std::fmt::Debug for SessionOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionOptions")
            .field("default_mcp_name", &self.default_mcp_name)
            .field("validity_seconds", &self.validity_seconds)
            .field("llm", &self.llm)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

/// `EnforceResult`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EnforceResult {
    /// Whether the call may run.
    pub allowed: bool,
    /// `allow`, `block` or `hold`.
    pub action: String,
    /// Why.
    pub reason: Option<String>,
    /// The delegation of a hold.
    pub delegation_id: Option<String>,
    /// The matched policy's name.
    pub matched_policy: Option<String>,
    /// Its id.
    pub policy_id: Option<String>,
    /// Its version.
    pub policy_version: Option<String>,
    /// The rule.
    pub rule_id: Option<String>,
    /// Obligations.
    pub obligations: Vec<Value>,
}

impl EnforceResult {
    fn block(reason: String) -> Self {
        Self {
            allowed: false,
            action: "block".into(),
            reason: Some(reason),
            ..Default::default()
        }
    }
}

/// `ReportOptions` (the fields that reach the audit body).
#[derive(Clone, Debug)]
pub struct ReportOptions {
    /// `success`, `failed` or `error`.
    pub status: String,
    /// Milliseconds.
    pub duration_ms: Option<f64>,
    /// Whether a delegation allowed the call.
    pub is_delegated: Option<bool>,
}

impl Default for ReportOptions {
    fn default() -> Self {
        Self {
            status: "success".into(),
            duration_ms: None,
            is_delegated: None,
        }
    }
}

/// `ArmorIQUserScope`: sessions that mint for one user.
#[derive(Clone, Debug)]
pub struct ArmorIQUserScope {
    client: ArmorIQClient,
    email: String,
}

impl ArmorIQUserScope {
    pub(crate) fn new(client: ArmorIQClient, email: &str) -> Self {
        Self {
            client,
            email: email.to_owned(),
        }
    }

    /// The user's email.
    pub fn email(&self) -> &str {
        &self.email
    }

    /// `resolve_user` for this user.
    ///
    /// # Errors
    /// As [`ArmorIQClient::resolve_user`].
    pub async fn resolve(&self) -> Result<Value> {
        self.client.resolve_user(&self.email).await
    }

    /// A session whose tokens are minted for this user.
    pub fn start_session(&self, opts: SessionOptions) -> ArmorIQSession {
        ArmorIQSession::new(self.client.clone(), opts, Some(self.email.clone()))
    }
}

/// `ArmorIQSession`: one plan, its token, per-call checks and reports.
pub struct ArmorIQSession {
    client: ArmorIQClient,
    /// The user tokens are minted for.
    pub user_email: Option<String>,
    opts: SessionOptions,
    parser: ToolNameParser,
    /// A UUID.
    pub session_id: String,
    /// A UUID.
    pub context_id: String,
    token: Option<IntentToken>,
    plan_hash: Option<String>,
    mcp_by_action: HashMap<String, String>,
    declared: HashSet<String>,
    step_index: u64,
    last_plan_start: Option<&'static str>,
}

impl std::fmt::Debug for ArmorIQSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArmorIQSession")
            .field("session_id", &self.session_id)
            .field("user_email", &self.user_email)
            .field("step_index", &self.step_index)
            .finish_non_exhaustive()
    }
}

fn uuid_or_new(v: Option<&str>) -> String {
    v.and_then(|s| uuid::Uuid::parse_str(s).ok())
        .unwrap_or_else(uuid::Uuid::new_v4)
        .to_string()
}

impl ArmorIQSession {
    pub(crate) fn new(client: ArmorIQClient, opts: SessionOptions, email: Option<String>) -> Self {
        let parser = opts
            .tool_name_parser
            .clone()
            .unwrap_or_else(|| default_tool_name_parser(opts.default_mcp_name.as_deref()));
        Self {
            session_id: uuid_or_new(opts.session_id.as_deref()),
            context_id: uuid_or_new(opts.context_id.as_deref()),
            client,
            user_email: email,
            parser,
            opts,
            token: None,
            plan_hash: None,
            mcp_by_action: HashMap::new(),
            declared: HashSet::new(),
            step_index: 0,
            last_plan_start: None,
        }
    }

    /// The current token.
    pub fn token(&self) -> Option<&IntentToken> {
        self.token.as_ref()
    }

    /// `minted` or `unchanged` for the last `start_plan`.
    pub fn last_plan_start(&self) -> Option<&'static str> {
        self.last_plan_start
    }

    /// The index the next report carries.
    pub fn step_index(&self) -> u64 {
        self.step_index
    }

    /// `start_plan(tool_calls, goal)`: the same calls as last time return
    /// the current token with no request; otherwise the plan is built and a
    /// token minted for the session's user.
    ///
    /// # Errors
    /// `InvalidInput` for no calls or a bad tool name; the mint's errors.
    pub async fn start_plan(
        &mut self,
        tool_calls: &[ToolCall],
        goal: Option<&str>,
    ) -> Result<IntentToken> {
        if tool_calls.is_empty() {
            return Err(ArmorIqError::InvalidInput(
                "start_plan called with no tool calls.".into(),
            ));
        }
        if self.opts.mode == SessionMode::Local {
            let _ = self.client.iap_public_key().await;
        }
        let h = hash_tool_calls(tool_calls)?;
        if let Some(t) = &self.token
            && self.plan_hash.as_deref() == Some(h.as_str())
        {
            self.last_plan_start = Some("unchanged");
            return Ok(t.clone());
        }
        let plan = build_plan_from_tool_calls(
            tool_calls,
            goal,
            Some(&self.parser),
            self.opts.default_mcp_name.as_deref(),
        )?;
        let mut by_action = HashMap::new();
        let mut declared = HashSet::new();
        for s in plan.steps() {
            let a = s.get("action").and_then(Value::as_str).unwrap_or_default();
            let m = s.get("mcp").and_then(Value::as_str).unwrap_or_default();
            by_action.insert(a.to_owned(), m.to_owned());
            declared.insert(a.to_owned());
            declared.insert(format!("{m}__{a}"));
        }
        for tc in tool_calls {
            declared.insert(tc.name.clone());
        }
        let llm = self.opts.llm.clone();
        let prompt = goal.filter(|g| !g.is_empty()).unwrap_or(&llm).to_owned();
        let capture = self.client.capture(plan, &llm, &prompt, None);
        let token = self
            .client
            .mint(
                &capture,
                None,
                &self.opts.validity_seconds.to_string(),
                self.opts.validity_seconds as f64,
                self.user_email.as_deref(),
            )
            .await?;
        self.mcp_by_action = by_action;
        self.declared = declared;
        self.plan_hash = Some(h);
        self.token = Some(token.clone());
        self.last_plan_start = Some("minted");
        self.step_index = 0;
        Ok(token)
    }

    fn resolve_mcp(&self, tool: &str, mcp: &str, action: &str) -> String {
        if tool != action {
            return mcp.to_owned();
        }
        self.mcp_by_action
            .get(action)
            .cloned()
            .unwrap_or_else(|| mcp.to_owned())
    }

    fn in_plan(&self, tool: &str, action: &str, mcp: &str) -> bool {
        self.declared.contains(tool)
            || self.declared.contains(action)
            || self.declared.contains(&format!("{mcp}__{action}"))
    }

    /// `check(tool, args, user_email)`: may the agent run this call now?
    ///
    /// # Errors
    /// `InvalidInput` before `start_plan` or for a bad tool name. Network
    /// failures are not errors: they block (fail-closed).
    pub async fn check(
        &self,
        tool: &str,
        args: &Value,
        user_email: Option<&str>,
    ) -> Result<EnforceResult> {
        let Some(token) = &self.token else {
            return Err(ArmorIqError::InvalidInput(format!(
                "check(\"{tool}\") called before start_plan()."
            )));
        };
        let (mcp, action) = (self.parser)(tool)?;
        let mcp = self.resolve_mcp(tool, &mcp, &action);
        match self.opts.mode {
            SessionMode::Sdk => {
                if !self.in_plan(tool, &action, &mcp) {
                    return Ok(EnforceResult::block(format!(
                        "tool-not-in-plan: '{tool}' was not declared in the captured plan"
                    )));
                }
                Ok(self
                    .enforce_sdk(token, tool, &mcp, &action, args, user_email)
                    .await)
            }
            SessionMode::Proxy => {
                let d = self
                    .enforce_proxy(token, &mcp, &action, args, user_email)
                    .await;
                if d.action == "hold" {
                    return Ok(self.handle_hold(&mcp, &action, args, d, user_email).await);
                }
                Ok(d)
            }
            SessionMode::Local => {
                if token.is_expired() {
                    return Ok(EnforceResult::block("token-expired".into()));
                }
                if self.client.verify_locally(token).await.is_err() {
                    return Ok(EnforceResult::block("token-signature-invalid".into()));
                }
                if !self.in_plan(tool, &action, &mcp) {
                    return Ok(EnforceResult::block(format!(
                        "tool-not-in-plan: '{tool}' was not declared in the captured plan"
                    )));
                }
                Ok(self.decide_locally(&action, args, user_email))
            }
        }
    }

    /// `dispatch(tool, args)`: runs the call through the proxy with the
    /// session's token (`client.invoke`), for the session's user.
    ///
    /// # Errors
    /// `InvalidInput` before `start_plan`; as [`ArmorIQClient::invoke`].
    pub async fn dispatch(&self, tool: &str, args: &Value) -> Result<crate::McpInvocationResult> {
        let Some(token) = &self.token else {
            return Err(ArmorIqError::InvalidInput(format!(
                "dispatch(\"{tool}\") called before start_plan()."
            )));
        };
        let (mcp, action) = (self.parser)(tool)?;
        let mcp = self.resolve_mcp(tool, &mcp, &action);
        self.client
            .invoke(&mcp, &action, token, Some(args), self.user_email.as_deref())
            .await
    }

    /// `report(tool, args, result, opts)`: `POST {backend}/iap/audit` after
    /// the agent ran the tool. Errors are swallowed; the step index always
    /// advances.
    pub async fn report(
        &mut self,
        tool: &str,
        _args: &Value,
        _result: &Value,
        opts: &ReportOptions,
    ) {
        let (mcp, action) = match (self.parser)(tool) {
            Ok(p) => p,
            Err(_) => (String::new(), tool.to_owned()),
        };
        let mcp = self.resolve_mcp(tool, &mcp, &action);
        let plan_id = self.token.as_ref().and_then(|t| t.plan_id.clone());
        let executed_at = {
            let d = armoriq_common::time::since_epoch();
            let ms = crate::credentials::format_instant(d.as_millis() as i64);
            // Python's isoformat() has microseconds.
            format!(
                "{}{:03}Z",
                ms.trim_end_matches('Z'),
                d.subsec_micros() % 1000
            )
        };
        let body = Body::new()
            .put("step_index", &self.step_index)
            .put("action", &action)
            .put("tool", &action)
            .put("mcp", &mcp)
            .put("status", &opts.status)
            .put("duration_ms", &opts.duration_ms)
            .put("is_delegated", &opts.is_delegated)
            .put("executed_at", &executed_at)
            .raw("input", "{}")
            .opt("plan_id", plan_id.as_ref())
            .finish();
        let _ = self.client.post_json("/iap/audit", &body, None).await;
        self.step_index += 1;
    }
}
