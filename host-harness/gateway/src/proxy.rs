//! The proxy: `POST /invoke` (and its `enforce_only` form), `POST /iap/sdk/enforce`.
//!
//! `invoke`, in order (each refusal is an audit row, written before the answer):
//! 1. API key.
//! 2. Body: parsed once, strictly typed; params must be an object. The
//!    official SDK's control members `_policy_context`, `_delegation_id` and
//!    `_approvals` are taken out of the params before anything else sees them.
//! 3. Token, plan and step: [`crate::intent::check_step`] (the JWT or the
//!    CSRG token verified; the stored plan it signed; the core's
//!    `verify_step` for each step with the invoked `mcp` and `action`: the
//!    official SDK sends no proof, the gateway holds them).
//! 4. Policy: allow, hold (a delegation is created for exactly this call; an
//!    approval bound to it lets it through once: [`crate::held`]) or block.
//! 5. Forward `tools/call` to the MCP server and answer `{result}`.

use crate::audit::Audit;
use crate::auth::ApiKey;
use crate::error::{GatewayError, GwResult};
use crate::extract::JsonBody;
use crate::held::HeldCall;
use crate::intent::{StepCall, TokenRef, check_step, check_token, jwt_plan, one_csrg};
use crate::metrics::Stage;
use crate::policy::{PolicyCall, Verdict};
use crate::{AppState, now_secs};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::time::Instant;
use tracing::Instrument;

/// The `/invoke` body.
#[derive(Deserialize)]
pub struct InvokeRequest {
    mcp: String,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    params: Option<Box<RawValue>>,
    #[serde(default)]
    arguments: Option<Box<RawValue>>,
    #[serde(default)]
    intent_token: Option<TokenRef>,
    #[serde(default)]
    user_email: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default, rename = "_iam_context")]
    iam_context: Option<Value>,
    #[serde(default)]
    enforce_only: Option<bool>,
    /// The CSRG token object (TypeScript SDK).
    #[serde(default)]
    token: Option<Box<RawValue>>,
    /// The same, again (TypeScript SDK).
    #[serde(default)]
    csrg_token: Option<Box<RawValue>>,
}

/// Params with the SDK's control members taken out.
#[derive(Debug, Default)]
pub struct CleanParams {
    /// The params JSON text without control members (raw values kept).
    pub text: String,
    /// The same, parsed (for MCP and policy).
    pub map: Map<String, Value>,
    /// `_delegation_id`, if sent.
    pub delegation_id: Option<String>,
    /// `_iam_context.email` (or `.user_email`), if sent (TypeScript SDK).
    pub iam_email: Option<String>,
}

/// Members the official SDKs add to params for the proxy, never for the
/// tool (`_iam_context`: the TypeScript SDK's).
pub const CONTROL_MEMBERS: [&str; 4] = [
    "_policy_context",
    "_delegation_id",
    "_approvals",
    "_iam_context",
];

/// The TypeScript SDK's `user_email` param, a control member only when it
/// repeats `_iam_context.user_email` (the SDK sets both from one argument;
/// a tool's own `user_email` param is kept).
const TS_USER_EMAIL: &str = "user_email";

/// Takes the control members out of a params object, keeping every other
/// member's bytes as sent.
///
/// # Errors
/// `BadRequest` when params is not a JSON object.
pub fn clean_params(raw: Option<&RawValue>) -> GwResult<CleanParams> {
    let Some(raw) = raw.filter(|r| r.get() != "null") else {
        return Ok(CleanParams {
            text: "{}".into(),
            ..Default::default()
        });
    };
    let v = armoriq_core::json::Value::parse(raw.get().as_bytes(), 64)
        .map_err(|e| GatewayError::BadRequest(format!("params: {e}")))?;
    if v.kind() != armoriq_core::json::Kind::Object {
        return Err(GatewayError::BadRequest(
            "params must be a JSON object".into(),
        ));
    }
    let mut text = String::from("{");
    let mut delegation_id = None;
    let iam = v
        .members()
        .find(|(k, _)| k.eq_str("_iam_context"))
        .map(|(_, c)| c);
    let iam_field = |name: &str| -> Option<String> {
        iam.as_ref()?
            .members()
            .find(|(k, _)| k.eq_str(name))
            .and_then(|(_, x)| x.as_str())
            .map(|s| s.chars().collect())
    };
    let iam_user_email = iam_field("user_email");
    let iam_email = iam_field("email").or_else(|| iam_user_email.clone());
    for (k, val) in v.members() {
        let key: String = k.chars().collect();
        if CONTROL_MEMBERS.contains(&key.as_str()) {
            if key == "_delegation_id" {
                delegation_id = val.as_str().map(|s| s.chars().collect());
            }
            continue;
        }
        if key == TS_USER_EMAIL
            && iam_user_email.is_some()
            && val.as_str().map(|s| s.chars().collect::<String>()) == iam_user_email
        {
            continue;
        }
        if text.len() > 1 {
            text.push(',');
        }
        text.push_str(&serde_json::to_string(&key).unwrap_or_default());
        text.push(':');
        text.push_str(std::str::from_utf8(val.bytes()).unwrap_or("null"));
    }
    text.push('}');
    let map: Map<String, Value> = serde_json::from_str(&text)
        .map_err(|e| GatewayError::BadRequest(format!("params: {e}")))?;
    Ok(CleanParams {
        text,
        map,
        delegation_id,
        iam_email,
    })
}

/// The audit outcome and reason of an enforce-only decision.
fn enforce_outcome(d: Value) -> Outcome {
    let outcome = format!(
        "enforce_{}",
        d["enforcementAction"].as_str().unwrap_or("block")
    );
    let reason = d["reason"].as_str().map(str::to_owned);
    (d, outcome, reason)
}

/// An answer with its audit outcome and reason.
type Outcome = (Value, String, Option<String>);

/// Audits `result` (every refusal included), then answers: no response goes
/// out before its row is durable.
async fn respond(st: &AppState, mut audit: Audit, result: GwResult<Outcome>) -> Response {
    crate::audit::audited(match audit.settle(st, result).await {
        Ok(body) => Json(body).into_response(),
        Err(e) => e.into_response(),
    })
}

/// `POST /invoke`.
pub async fn invoke(
    State(st): State<AppState>,
    key: Result<ApiKey, GatewayError>,
    headers: HeaderMap,
    body: Result<JsonBody<InvokeRequest>, GatewayError>,
) -> Response {
    let mut audit = Audit::new("invoke");
    let result = match key {
        Ok(_) => invoke_inner(&st, &headers, body, &mut audit).await,
        Err(e) => Err(e),
    };
    respond(&st, audit, result).await
}

/// An `/invoke` request as understood: what the audit row names.
pub(crate) struct Call {
    pub(crate) mcp: String,
    pub(crate) action: String,
    pub(crate) email: Option<String>,
    pub(crate) params: CleanParams,
    token: TokenRef,
    /// The CSRG token object, when one came (`token`, `csrg_token` or
    /// `intent_token.token`: the same text wherever it came).
    csrg: Option<Box<RawValue>>,
    /// The calling agent, if named.
    agent_id: Option<String>,
    enforce_only: bool,
}

impl Call {
    /// What the intent check needs of it.
    fn step_call(&self) -> StepCall<'_> {
        StepCall {
            tokens: self.token.parts(self.csrg.as_deref()),
            mcp: &self.mcp,
            action: &self.action,
            params: self.params.text.as_bytes(),
            agent_id: self.agent_id.as_deref(),
        }
    }
}

/// Parses the body and fills in the audit row.
fn parse_call(
    body: Result<JsonBody<InvokeRequest>, GatewayError>,
    audit: &mut Audit,
) -> GwResult<Call> {
    let JsonBody(req) = body?;
    let action = req
        .action
        .or(req.tool)
        .ok_or_else(|| GatewayError::BadRequest("missing `action`".into()))?;
    let params = clean_params(req.params.as_deref().or(req.arguments.as_deref()))?;
    let email = req
        .user_email
        .or_else(|| {
            req.iam_context
                .as_ref()
                .and_then(|c| c.get("email"))
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .or_else(|| params.iam_email.clone());
    audit.row.mcp = Some(req.mcp.clone());
    audit.row.tool = Some(action.clone());
    audit.row.user_email = email.clone();
    audit.row.agent_id = req.agent_id.clone();
    let mut token = req.intent_token.unwrap_or_default();
    let csrg = one_csrg([req.token, req.csrg_token, token.token.take()])?;
    audit.row.plan_id = token.plan_id.clone();
    Ok(Call {
        mcp: req.mcp,
        action,
        email,
        params,
        token,
        csrg,
        agent_id: req.agent_id,
        enforce_only: req.enforce_only == Some(true),
    })
}

async fn invoke_inner(
    st: &AppState,
    headers: &HeaderMap,
    body: Result<JsonBody<InvokeRequest>, GatewayError>,
    audit: &mut Audit,
) -> GwResult<Outcome> {
    let call = parse_call(body, audit)?;
    if call.enforce_only {
        let d = enforce_decision(
            st,
            &call.mcp,
            &call.action,
            &call.params,
            call.token.jwt_token.as_deref(),
            call.token.plan_id.as_deref(),
            call.email.as_deref(),
            true,
        )
        .await?;
        return Ok(enforce_outcome(d));
    }
    let m = &st.metrics;
    let (plan, step) = m
        .timed(
            Stage::intent_check,
            check_step(st, &call.step_call(), headers),
        )
        .await?;
    audit.row.plan_id = Some(plan.record.plan_id.clone());
    audit.row.step = i64::try_from(step).ok();
    let (outcome, reason) = m
        .timed(
            Stage::policy,
            crate::held::decide_call(st, &call, &plan, step),
        )
        .await?;
    if !st.mcp.knows(&call.mcp) {
        return Err(GatewayError::NotFound(format!(
            "unknown MCP server {:?} (configured: {})",
            call.mcp,
            st.mcp.ids().join(", ")
        )));
    }
    if let Some(link) = st.device.get() {
        let jwt = call.token.jwt_token.as_deref().unwrap_or_default();
        let accepted = crate::device::check::HostAccepted {
            token: jwt,
            mcp: &call.mcp,
            action: &call.action,
            params: &call.params.text,
            plan: &plan,
            step,
        };
        m.timed(
            Stage::device,
            crate::device::check::check_on_device(link, &accepted, now_secs(), audit),
        )
        .await?;
    }
    let value = forward(
        st,
        headers,
        call.mcp,
        call.action,
        call.params,
        audit,
        (&outcome, reason.clone()),
    )
    .await?;
    Ok((
        json!({"result": value, "step": step, "plan_id": plan.record.plan_id}),
        outcome,
        reason,
    ))
}

/// Forwards `tools/call` while the decision row is written.
///
/// The decision row is written (and fsynced) while the call is forwarded:
/// the response waits for both, so its latency is the slower of the two,
/// not their sum. A forwarding failure then updates that row.
async fn forward(
    st: &AppState,
    headers: &HeaderMap,
    mcp: String,
    action: String,
    params: CleanParams,
    audit: &mut Audit,
    (outcome, reason): (&str, Option<String>),
) -> GwResult<Value> {
    let row = audit.row_with(outcome, reason);
    audit.row.outcome = outcome.to_owned();
    let span = tracing::debug_span!(
        "upstream",
        otel.name = "tools/call",
        otel.kind = "client",
        mcp.server = %mcp,
        mcp.tool = %action,
    );
    let trace = crate::telemetry::upstream_context(&span, headers);
    let upstream = async {
        let t0 = Instant::now();
        let r = st.mcp.call(&mcp, &action, params.map, trace).await;
        let ok = r.as_ref().is_ok_and(|r| r.is_error != Some(true));
        st.metrics.upstream(&mcp, ok, t0.elapsed());
        r
    }
    .instrument(span);
    // Counted in `/metrics` once the outcome stands ([`Audit::finish`]).
    let ((written, decision), result) = tokio::join!(st.audit_uncounted(row), upstream);
    audit.written = Some(written?);
    audit.uncounted = Some(decision);
    let result = result?;
    let value = serde_json::to_value(&result).map_err(|e| GatewayError::Internal(e.to_string()))?;
    if result.is_error == Some(true) {
        let message = value["content"]
            .as_array()
            .and_then(|c| c.iter().find_map(|b| b.get("text").and_then(Value::as_str)))
            .unwrap_or("the tool reported an error")
            .to_owned();
        return Err(GatewayError::McpToolError {
            message,
            result: value,
        });
    }
    Ok(value)
}

/// The first numeric `amount|value|total|price|cost`, as the SDK picks it.
pub fn amount_of(m: &Map<String, Value>) -> Option<f64> {
    ["amount", "value", "total", "price", "cost"]
        .iter()
        .find_map(|k| m.get(*k).and_then(Value::as_f64))
}

/// Decision without forwarding (session `sdk` and `proxy` modes).
#[allow(clippy::too_many_arguments)]
async fn enforce_decision(
    st: &AppState,
    mcp: &str,
    tool: &str,
    params: &CleanParams,
    jwt: Option<&str>,
    plan_id: Option<&str>,
    email: Option<&str>,
    create_hold: bool,
) -> GwResult<Value> {
    let refuse = |reason: String| {
        json!({"allowed": false, "enforcementAction": "block", "action": "block",
               "reason": reason, "obligations": []})
    };
    let mut plan = None;
    if let Some(jwt) = jwt {
        let signed = match check_token(st, jwt) {
            Ok(s) => s,
            Err(GatewayError::TokenExpired(_)) => return Ok(refuse("token-expired".into())),
            Err(e) => return Ok(refuse(format!("token-signature-invalid: {}", e.reason()))),
        };
        if let Some(pid) = plan_id {
            let p = match jwt_plan(st, pid, &signed).await {
                Ok(p) => p,
                Err(e) => return Ok(refuse(format!("token-signature-invalid: {}", e.reason()))),
            };
            if !p.declares(mcp, tool) {
                return Ok(refuse(format!(
                    "tool-not-in-plan: '{tool}' was not declared in the captured plan"
                )));
            }
            plan = Some(p);
        }
    }
    let args = Value::Object(params.map.clone());
    let d = st.policy().decide(&PolicyCall {
        mcp,
        tool,
        args: &args,
        email,
        now: now_secs(),
    });
    let mut delegation_id = None;
    if d.verdict == Verdict::Hold
        && create_hold
        && let Some(p) = &plan
        && let GatewayError::PolicyHold { context, .. } =
            crate::held::hold(st, &d, &HeldCall::of(mcp, tool, p, params, email, None)?).await?
    {
        delegation_id = context["delegationId"].as_str().map(str::to_owned);
    }
    Ok(json!({
        "allowed": d.verdict == Verdict::Allow,
        "enforcementAction": d.verdict.as_str(),
        "action": d.verdict.as_str(),
        "reason": d.reason,
        "delegation_id": delegation_id,
        "matchedPolicy": d.rule.as_ref().map(|r| json!({"name": r})),
        "matched_policy": d.rule,
        "obligations": d.obligations,
    }))
}

/// The `/iap/sdk/enforce` body (session `sdk` mode).
#[derive(Deserialize)]
pub struct EnforceRequest {
    #[serde(default)]
    mcp: Option<String>,
    tool: String,
    #[serde(default)]
    arguments: Option<Box<RawValue>>,
    #[serde(default)]
    intent_token: Option<TokenRef>,
    #[serde(default)]
    user_email: Option<String>,
    #[serde(default)]
    agent_id: Option<String>,
}

/// `POST /iap/sdk/enforce`: the decision only; always 200 (the SDK reads the body).
pub async fn enforce(
    State(st): State<AppState>,
    key: Result<ApiKey, GatewayError>,
    body: Result<JsonBody<EnforceRequest>, GatewayError>,
) -> Response {
    let mut audit = Audit::new("enforce");
    let result = match key {
        Ok(_) => enforce_inner(&st, body, &mut audit).await,
        Err(e) => Err(e),
    };
    respond(&st, audit, result).await
}

async fn enforce_inner(
    st: &AppState,
    body: Result<JsonBody<EnforceRequest>, GatewayError>,
    audit: &mut Audit,
) -> GwResult<Outcome> {
    let JsonBody(req) = body?;
    let params = clean_params(req.arguments.as_deref())?;
    let tok = req.intent_token.unwrap_or_default();
    let mcp = req.mcp.unwrap_or_default();
    audit.row.mcp = Some(mcp.clone());
    audit.row.tool = Some(req.tool.clone());
    audit.row.user_email = req.user_email.clone();
    audit.row.agent_id = req.agent_id.clone();
    audit.row.plan_id = tok.plan_id.clone();
    enforce_decision(
        st,
        &mcp,
        &req.tool,
        &params,
        tok.jwt_token.as_deref(),
        tok.plan_id.as_deref(),
        req.user_email.as_deref(),
        false,
    )
    .await
    .map(enforce_outcome)
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/iap/sdk/enforce", post(enforce))
        .route("/invoke", post(invoke))
}

#[cfg(test)]
#[path = "proxy_tests.rs"]
mod tests;
