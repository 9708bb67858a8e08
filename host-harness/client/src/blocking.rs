//! The blocking facade (feature `blocking`, on by default), as reqwest's
//! `blocking`: each type wraps its async counterpart and a private
//! current-thread tokio runtime, and each I/O method is the async method run
//! to completion on it. No logic lives here.
//!
//! Methods that do no I/O (`capture_plan`, `options`, `proxy_for`, the
//! session's `token()` …) are the async types' own, reached through
//! [`Deref`](std::ops::Deref).
//!
//! Like reqwest's blocking client, these must not be called from inside an
//! async runtime (`block_on` panics there): use [`crate::ArmorIQClient`] in
//! async code.
//!
//! ```no_run
//! use armoriq_client::blocking::ArmorIQClient;
//! # fn main() -> armoriq_client::Result<()> {
//! let client = ArmorIQClient::from_env()?;
//! let plan = serde_json::json!({"goal": "weather", "steps": [
//!     {"action": "get_weather", "mcp": "weather-mcp", "params": {"city": "Paris"}}]});
//! let capture = client.capture_plan("gpt-4o", "weather in Paris?", Some(&plan), None)?;
//! let token = client.get_intent_token(&capture, None, 300, None)?;
//! let result = client.invoke(
//!     "weather-mcp",
//!     "get_weather",
//!     &token,
//!     Some(&serde_json::json!({"city": "Paris"})),
//!     None,
//! )?;
//! println!("{}", result.result);
//! # Ok(())
//! # }
//! ```

use crate::config::Discovery;
use crate::{
    ArmorIqError, ClientOptions, DelegationRequestParams, EnforceResult, IntentToken,
    InvokeOptions, McpInvocationResult, ReportOptions, Result, Seconds, SessionOptions, ToolCall,
};
use armoriq_common::yaml::McpAuth;
use serde_json::Value;
use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// The runtime every blocking type runs its calls on (shared by clones).
#[derive(Clone, Debug)]
struct Rt(Arc<tokio::runtime::Runtime>);

impl Rt {
    fn new() -> Result<Self> {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map(|r| Self(Arc::new(r)))
            .map_err(|e| {
                ArmorIqError::Configuration(format!("cannot start the blocking runtime: {e}"))
            })
    }

    fn run<F: Future>(&self, f: F) -> F::Output {
        self.0.block_on(f)
    }
}

/// The blocking [`crate::ArmorIQClient`]. Cheap to clone; `Send + Sync`.
#[derive(Clone, Debug)]
pub struct ArmorIQClient {
    inner: crate::ArmorIQClient,
    rt: Rt,
}

impl std::ops::Deref for ArmorIQClient {
    type Target = crate::ArmorIQClient;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl ArmorIQClient {
    /// Options with the defaults, to set and pass to [`ArmorIQClient::new`].
    pub fn builder() -> ClientOptions {
        ClientOptions::default()
    }

    /// As [`crate::ArmorIQClient::new`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::new`], or a runtime that cannot start.
    pub fn new(opts: ClientOptions) -> Result<Self> {
        Self::wrap(crate::ArmorIQClient::new(opts)?)
    }

    /// As [`crate::ArmorIQClient::from_env`].
    ///
    /// # Errors
    /// As [`ArmorIQClient::new`].
    pub fn from_env() -> Result<Self> {
        Self::new(ClientOptions::default())
    }

    /// As [`crate::ArmorIQClient::from_config`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::from_config`].
    pub fn from_config(path: impl AsRef<Path>) -> Result<Self> {
        Self::wrap(crate::ArmorIQClient::from_config(path)?)
    }

    /// The blocking facade of an async client.
    ///
    /// # Errors
    /// `Configuration` when the runtime cannot start.
    pub fn wrap(inner: crate::ArmorIQClient) -> Result<Self> {
        Ok(Self {
            inner,
            rt: Rt::new()?,
        })
    }

    /// The async client inside.
    pub fn as_async(&self) -> &crate::ArmorIQClient {
        &self.inner
    }

    /// As [`crate::ArmorIQClient::get_intent_token`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::get_intent_token`].
    pub fn get_intent_token(
        &self,
        capture: &crate::PlanCapture,
        policy: Option<&Value>,
        validity_seconds: impl Into<Seconds>,
        user_email: Option<&str>,
    ) -> Result<IntentToken> {
        self.rt.run(
            self.inner
                .get_intent_token(capture, policy, validity_seconds, user_email),
        )
    }

    /// As [`crate::ArmorIQClient::iap_public_key`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::iap_public_key`].
    pub fn iap_public_key(&self) -> Result<[u8; 32]> {
        self.rt.run(self.inner.iap_public_key())
    }

    /// As [`crate::ArmorIQClient::verify_locally`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::verify_locally`].
    pub fn verify_locally(&self, token: &IntentToken) -> Result<()> {
        self.rt.run(self.inner.verify_locally(token))
    }

    /// As [`crate::ArmorIQClient::invoke`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::invoke`].
    pub fn invoke(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params: Option<&Value>,
        user_email: Option<&str>,
    ) -> Result<McpInvocationResult> {
        self.rt
            .run(self.inner.invoke(mcp, action, token, params, user_email))
    }

    /// As [`crate::ArmorIQClient::invoke_json`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::invoke`].
    pub fn invoke_json(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params_json: &str,
        user_email: Option<&str>,
    ) -> Result<McpInvocationResult> {
        self.rt.run(
            self.inner
                .invoke_json(mcp, action, token, params_json, user_email),
        )
    }

    /// As [`crate::ArmorIQClient::invoke_with_policy`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::invoke_with_policy`].
    pub fn invoke_with_policy(
        &self,
        mcp: &str,
        action: &str,
        token: &IntentToken,
        params: Option<&Value>,
        opts: &InvokeOptions,
    ) -> Result<McpInvocationResult> {
        self.rt.run(
            self.inner
                .invoke_with_policy(mcp, action, token, params, opts),
        )
    }

    /// As [`crate::ArmorIQClient::policy_context`].
    pub fn policy_context(
        &self,
        mcp: &str,
        action: &str,
        params: &serde_json::Map<String, Value>,
    ) -> Value {
        self.rt.run(self.inner.policy_context(mcp, action, params))
    }

    /// As [`crate::ArmorIQClient::bootstrap`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::bootstrap`].
    pub fn bootstrap(&self) -> Result<Value> {
        self.rt.run(self.inner.bootstrap())
    }

    /// As [`crate::ArmorIQClient::resolve_user`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::resolve_user`].
    pub fn resolve_user(&self, email: &str) -> Result<Value> {
        self.rt.run(self.inner.resolve_user(email))
    }

    /// As [`crate::ArmorIQClient::fetch_tool_metadata`].
    pub fn fetch_tool_metadata(&self, mcp: &str) -> Value {
        self.rt.run(self.inner.fetch_tool_metadata(mcp))
    }

    /// As [`crate::ArmorIQClient::create_delegation_request`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::create_delegation_request`].
    pub fn create_delegation_request(
        &self,
        params: &DelegationRequestParams,
        email: &str,
    ) -> Result<Value> {
        self.rt
            .run(self.inner.create_delegation_request(params, email))
    }

    /// As [`crate::ArmorIQClient::check_approved_delegation`].
    pub fn check_approved_delegation(
        &self,
        email: &str,
        tool: &str,
        amount: Option<f64>,
        plan_id: Option<&str>,
    ) -> Option<Value> {
        self.rt.run(
            self.inner
                .check_approved_delegation(email, tool, amount, plan_id),
        )
    }

    /// As [`crate::ArmorIQClient::get_delegation_status`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::get_delegation_status`].
    pub fn get_delegation_status(&self, id: &str) -> Result<Value> {
        self.rt.run(self.inner.get_delegation_status(id))
    }

    /// As [`crate::ArmorIQClient::mark_delegation_executed`].
    pub fn mark_delegation_executed(&self, id: &str, email: &str, plan_id: Option<&str>) {
        self.rt
            .run(self.inner.mark_delegation_executed(id, email, plan_id));
    }

    /// As [`crate::ArmorIQClient::resolve_user_role`].
    pub fn resolve_user_role(&self, email: &str) -> (String, f64) {
        self.rt.run(self.inner.resolve_user_role(email))
    }

    /// As [`crate::ArmorIQClient::revoke`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::revoke`].
    pub fn revoke(
        &self,
        token: &IntentToken,
        reason: &str,
        cascade: bool,
        plan_id: Option<&str>,
        intent_reference: Option<&str>,
    ) -> Result<Value> {
        self.rt.run(
            self.inner
                .revoke(token, reason, cascade, plan_id, intent_reference),
        )
    }

    /// As [`crate::ArmorIQClient::complete_plan`].
    pub fn complete_plan(&self, plan_id: &str) {
        self.rt.run(self.inner.complete_plan(plan_id));
    }

    /// As [`crate::ArmorIQClient::update_plan_status`].
    pub fn update_plan_status(&self, plan_id: &str, status: &str) {
        self.rt.run(self.inner.update_plan_status(plan_id, status));
    }

    /// As [`crate::ArmorIQClient::for_user`].
    pub fn for_user(&self, email: &str) -> ArmorIQUserScope {
        ArmorIQUserScope {
            inner: self.inner.for_user(email),
            rt: self.rt.clone(),
        }
    }

    /// As [`crate::ArmorIQClient::start_session`].
    pub fn start_session(&self, opts: SessionOptions) -> ArmorIQSession {
        ArmorIQSession {
            inner: self.inner.start_session(opts),
            rt: self.rt.clone(),
        }
    }
}

/// The blocking [`crate::ArmorIQUserScope`].
#[derive(Clone, Debug)]
pub struct ArmorIQUserScope {
    inner: crate::ArmorIQUserScope,
    rt: Rt,
}

impl std::ops::Deref for ArmorIQUserScope {
    type Target = crate::ArmorIQUserScope;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl ArmorIQUserScope {
    /// As [`crate::ArmorIQUserScope::resolve`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::resolve_user`].
    pub fn resolve(&self) -> Result<Value> {
        self.rt.run(self.inner.resolve())
    }

    /// As [`crate::ArmorIQUserScope::start_session`].
    pub fn start_session(&self, opts: SessionOptions) -> ArmorIQSession {
        ArmorIQSession {
            inner: self.inner.start_session(opts),
            rt: self.rt.clone(),
        }
    }
}

/// The blocking [`crate::ArmorIQSession`].
#[derive(Debug)]
pub struct ArmorIQSession {
    inner: crate::ArmorIQSession,
    rt: Rt,
}

impl std::ops::Deref for ArmorIQSession {
    type Target = crate::ArmorIQSession;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}

impl std::ops::DerefMut for ArmorIQSession {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.inner
    }
}

impl ArmorIQSession {
    /// As [`crate::ArmorIQSession::start_plan`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQSession::start_plan`].
    pub fn start_plan(
        &mut self,
        tool_calls: &[ToolCall],
        goal: Option<&str>,
    ) -> Result<IntentToken> {
        self.rt.run(self.inner.start_plan(tool_calls, goal))
    }

    /// As [`crate::ArmorIQSession::check`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQSession::check`].
    pub fn check(
        &self,
        tool: &str,
        args: &Value,
        user_email: Option<&str>,
    ) -> Result<EnforceResult> {
        self.rt.run(self.inner.check(tool, args, user_email))
    }

    /// As [`crate::ArmorIQSession::dispatch`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQSession::dispatch`].
    pub fn dispatch(&self, tool: &str, args: &Value) -> Result<McpInvocationResult> {
        self.rt.run(self.inner.dispatch(tool, args))
    }

    /// As [`crate::ArmorIQSession::report`].
    pub fn report(&mut self, tool: &str, args: &Value, result: &Value, opts: &ReportOptions) {
        self.rt.run(self.inner.report(tool, args, result, opts));
    }
}

/// As [`crate::config::discover_mcp_tools`], on a runtime of its own.
pub fn discover_mcp_tools(url: &str, auth: &McpAuth, timeout: Duration) -> Discovery {
    match Rt::new() {
        Ok(rt) => rt.run(crate::config::discover_mcp_tools(url, auth, timeout)),
        Err(e) => Discovery {
            error: Some(e.message().to_owned()),
            ..Default::default()
        },
    }
}

/// The catalogue, preflight, trust and usage calls.
impl ArmorIQClient {
    /// As [`crate::ArmorIQClient::list_mcps`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::list_mcps`].
    pub fn list_mcps(&self) -> Result<Vec<Value>> {
        self.rt.run(self.inner.list_mcps())
    }

    /// As [`crate::ArmorIQClient::get_mcp_tool_schemas`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::get_mcp_tool_schemas`].
    pub fn get_mcp_tool_schemas(&self, mcp: &str) -> Result<Vec<Value>> {
        self.rt.run(self.inner.get_mcp_tool_schemas(mcp))
    }

    /// As [`crate::ArmorIQClient::refine`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::refine`].
    pub fn refine(&self, req: &Value) -> Result<Value> {
        self.rt.run(self.inner.refine(req))
    }

    /// As [`crate::ArmorIQClient::delegate`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::delegate`].
    pub fn delegate(
        &self,
        token: &IntentToken,
        delegate_public_key: &str,
        validity_seconds: u64,
        allowed_actions: Option<&[String]>,
        target_agent: Option<&str>,
        subtask: Option<&Value>,
    ) -> Result<crate::DelegationResult> {
        self.rt.run(self.inner.delegate(
            token,
            delegate_public_key,
            validity_seconds,
            allowed_actions,
            target_agent,
            subtask,
        ))
    }

    /// As [`crate::ArmorIQClient::delegate_subtree`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::delegate_subtree`].
    #[allow(clippy::too_many_arguments)]
    pub fn delegate_subtree(
        &self,
        token: &IntentToken,
        delegate_public_key: &str,
        subtree_path: &str,
        validity_seconds: u64,
        parent_plan: Option<&crate::Plan>,
        plan_id: Option<&str>,
        intent_reference: Option<&str>,
    ) -> Result<Value> {
        self.rt.run(self.inner.delegate_subtree(
            token,
            delegate_public_key,
            subtree_path,
            validity_seconds,
            parent_plan,
            plan_id,
            intent_reference,
        ))
    }

    /// As [`crate::ArmorIQClient::reanchor`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::reanchor`].
    pub fn reanchor(
        &self,
        token: &IntentToken,
        updated_plan: &crate::Plan,
        reason: Option<&str>,
        plan_id: Option<&str>,
        intent_reference: Option<&str>,
    ) -> Result<Value> {
        self.rt.run(
            self.inner
                .reanchor(token, updated_plan, reason, plan_id, intent_reference),
        )
    }

    /// As [`crate::ArmorIQClient::record_token_usage`].
    ///
    /// # Errors
    /// As [`crate::ArmorIQClient::record_token_usage`].
    #[allow(clippy::too_many_arguments)]
    pub fn record_token_usage(
        &self,
        product: &str,
        session_id: &str,
        entries: &[Value],
        usage_date: &str,
        usage_hour: u8,
        repo: Option<&str>,
        device_id: Option<&str>,
        device_name: Option<&str>,
        armored: Option<bool>,
    ) -> Result<Value> {
        self.rt.run(self.inner.record_token_usage(
            product,
            session_id,
            entries,
            usage_date,
            usage_hour,
            repo,
            device_id,
            device_name,
            armored,
        ))
    }

    /// As [`crate::ArmorIQClient::initialize_usage_stream`].
    pub fn initialize_usage_stream(&self) -> Value {
        self.rt.run(self.inner.initialize_usage_stream())
    }

    /// As [`crate::ArmorIQClient::reset_usage_stream`].
    pub fn reset_usage_stream(&self, generation: &str, reset_id: &str) -> Value {
        self.rt
            .run(self.inner.reset_usage_stream(generation, reset_id))
    }

    /// As [`crate::ArmorIQClient::record_token_usage_batch`].
    pub fn record_token_usage_batch(&self, batch: &Value) -> Value {
        self.rt.run(self.inner.record_token_usage_batch(batch))
    }

    /// As [`crate::ArmorIQClient::report_usage_run`].
    pub fn report_usage_run(&self, run_id: &str, report: &Value) -> Value {
        self.rt.run(self.inner.report_usage_run(run_id, report))
    }
}
