//! `POST /iap/sdk/preflight` (the official SDK's `refine`): a plan's tool
//! calls evaluated against the loaded policy before any token is minted.
//!
//! Input (parsed once, strictly; at most [`MAX_TOOL_CALLS`] calls): the
//! SDK's `{agent_id, user_prompt, tool_calls, authority_snapshot}`, each tool
//! call either a framework call `{name, args}` (`name` as `<mcp>__<tool>`
//! or `mcp__<mcp>__<tool>`, the SDK's `split_prefixed_tool_name`) or a plan
//! step `{mcp, action|tool, params}`. `arguments` (MCP's own spelling, as in
//! `tools/call`) is accepted for `args`; a call with two of `args`,
//! `arguments`, `params` is refused (they could disagree).
//! Output: `decision` (`block` if any call is blocked or names an unknown
//! MCP server, else `hold` if any is held, else `allow`), the `violations`
//! (one per call not allowed), the `offending_interfaces`
//! (`<mcp>.<tool>`), `predicate_fails` and `meta`. Fail-closed: a malformed
//! request is 400 (the SDK raises), never a silent `allow`. Every decision
//! is an audit row.

use crate::auth::ApiKey;
use crate::error::{GatewayError, GwResult};
use crate::extract::JsonBody;
use crate::policy::{PolicyCall, Verdict};
use crate::store::AuditRow;
use crate::{AppState, now_ms, now_secs};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The most tool calls one preflight evaluates.
pub const MAX_TOOL_CALLS: usize = 256;

/// The longest tool or server name accepted.
const MAX_NAME: usize = 256;

/// The `refine` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreflightRequest {
    #[serde(default)]
    agent_id: Option<String>,
    #[serde(default)]
    user_prompt: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<ToolCallIn>>,
    #[serde(default)]
    authority_snapshot: Option<Map<String, Value>>,
}

/// One tool call, in either shape.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCallIn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    args: Option<Map<String, Value>>,
    /// MCP's spelling of `args` (`tools/call`'s `arguments`).
    #[serde(default)]
    arguments: Option<Map<String, Value>>,
    #[serde(default)]
    mcp: Option<String>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    params: Option<Map<String, Value>>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

/// The SDK's `split_prefixed_tool_name`: `(server, tool)` of a prefixed name.
pub fn split_prefixed_tool_name(name: &str) -> Option<(&str, &str)> {
    let rest = match name.strip_prefix("mcp__") {
        Some(r) if r.contains("__") => r,
        _ => name,
    };
    let (server, tool) = rest.split_once("__")?;
    (!server.is_empty() && !tool.is_empty()).then_some((server, tool))
}

/// A call resolved to `(mcp, tool, args)`.
///
/// # Errors
/// `BadRequest` naming the call when it has neither shape.
fn resolve(i: usize, c: &ToolCallIn) -> GwResult<(String, String, Value)> {
    let bad = |why: &str| GatewayError::BadRequest(format!("tool_calls[{i}]: {why}"));
    let (mcp, tool) = match (&c.mcp, c.action.as_ref().or(c.tool.as_ref()), &c.name) {
        (Some(m), Some(t), _) => (m.clone(), t.clone()),
        (Some(m), None, Some(n)) => match split_prefixed_tool_name(n) {
            Some((s, t)) if s == m => (s.to_owned(), t.to_owned()),
            Some(_) => return Err(bad("`name` names another MCP server than `mcp`")),
            None => (m.clone(), n.clone()),
        },
        (None, _, Some(n)) => {
            let (s, t) = split_prefixed_tool_name(n)
                .ok_or_else(|| bad("`name` is not `<mcp>__<tool>` and no `mcp` is given"))?;
            (s.to_owned(), t.to_owned())
        }
        _ => return Err(bad("needs `name` or `mcp` with `action`")),
    };
    if mcp.is_empty() || tool.is_empty() || mcp.len() > MAX_NAME || tool.len() > MAX_NAME {
        return Err(bad("empty or over-long server or tool name"));
    }
    // One spelling per call: two could disagree, and which one the policy
    // saw would then be a guess.
    let spellings = [&c.args, &c.arguments, &c.params];
    if spellings.iter().filter(|a| a.is_some()).count() > 1 {
        return Err(bad(
            "more than one of `args`, `arguments` and `params` (one spelling per call)",
        ));
    }
    let args = spellings
        .into_iter()
        .find_map(Option::clone)
        .unwrap_or_default();
    Ok((mcp, tool, Value::Object(args)))
}

/// Evaluates the request against the loaded policy.
///
/// # Errors
/// `BadRequest` for a request without tool calls, over the limit, or with a
/// call of neither shape.
pub fn evaluate(st: &AppState, req: &PreflightRequest) -> GwResult<Value> {
    let calls = req
        .tool_calls
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| GatewayError::BadRequest("tool_calls must be a non-empty array".into()))?;
    if calls.len() > MAX_TOOL_CALLS {
        return Err(GatewayError::BadRequest(format!(
            "more than {MAX_TOOL_CALLS} tool_calls"
        )));
    }
    let email = req.authority_snapshot.as_ref().and_then(|a| {
        a.get("user_email")
            .or_else(|| a.get("email"))
            .and_then(Value::as_str)
    });
    let policy = st.policy();
    let now = now_secs();
    let mut violations = Vec::new();
    let mut offending: Vec<String> = Vec::new();
    let (mut blocked, mut held) = (false, false);
    for (i, c) in calls.iter().enumerate() {
        let (mcp, tool, args) = resolve(i, c)?;
        let interface = format!("{mcp}.{tool}");
        let (verdict, reason, rule) = if st.mcp.knows(&mcp) {
            let d = policy.decide(&PolicyCall {
                mcp: &mcp,
                tool: &tool,
                args: &args,
                email,
                now,
            });
            (d.verdict, d.reason, d.rule)
        } else {
            (
                Verdict::Block,
                format!("block:unknown_mcp:{mcp} is not a configured MCP server"),
                None,
            )
        };
        if verdict == Verdict::Allow {
            continue;
        }
        blocked |= verdict == Verdict::Block;
        held |= verdict == Verdict::Hold;
        violations.push(json!({
            "index": i, "id": c.id, "description": c.description, "mcp": mcp, "tool": tool, "interface": interface,
            "verdict": verdict.as_str(), "reason": reason, "rule": rule,
        }));
        if !offending.contains(&interface) {
            offending.push(interface);
        }
    }
    let decision = if blocked {
        "block"
    } else if held {
        "hold"
    } else {
        "allow"
    };
    Ok(json!({
        "decision": decision,
        "intent_id": format!("preflight_{}", uuid::Uuid::new_v4().simple()),
        "violations": violations,
        "offending_interfaces": offending,
        "predicate_fails": [],
        "meta": {"evaluated": calls.len(), "agent_id": req.agent_id,
                 "prompt_chars": req.user_prompt.as_deref().map_or(0, |p| p.chars().count()),
                 "engine": "armoriq-rs"},
    }))
}

/// `POST /iap/sdk/preflight`.
pub async fn preflight(
    State(st): State<AppState>,
    _: ApiKey,
    JsonBody(req): JsonBody<PreflightRequest>,
) -> GwResult<Json<Value>> {
    let out = evaluate(&st, &req)?;
    st.audit(AuditRow {
        at_ms: now_ms(),
        route: "preflight".into(),
        outcome: format!("preflight_{}", out["decision"].as_str().unwrap_or("block")),
        agent_id: req.agent_id.clone(),
        tool: Some(
            out["offending_interfaces"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default(),
        )
        .filter(|t| !t.is_empty()),
        ..Default::default()
    })
    .await?;
    Ok(Json(out))
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new().route("/iap/sdk/preflight", post(preflight))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixed_names_split_as_the_sdk_does() {
        assert_eq!(
            split_prefixed_tool_name("mcp__stripe__create_refund"),
            Some(("stripe", "create_refund"))
        );
        assert_eq!(
            split_prefixed_tool_name("mcp__stripe__create__refund"),
            Some(("stripe", "create__refund"))
        );
        assert_eq!(
            split_prefixed_tool_name("stripe__create_refund"),
            Some(("stripe", "create_refund"))
        );
        assert_eq!(split_prefixed_tool_name("create_refund"), None);
        assert_eq!(split_prefixed_tool_name("mcp__x"), Some(("mcp", "x")));
        assert_eq!(split_prefixed_tool_name("__x"), None);
    }

    #[test]
    fn calls_of_neither_shape_are_refused() {
        let call = |v: Value| serde_json::from_value::<ToolCallIn>(v).unwrap();
        assert!(resolve(0, &call(json!({"args": {}}))).is_err());
        assert!(resolve(0, &call(json!({"name": "plain"}))).is_err());
        assert!(resolve(0, &call(json!({"name": "a__t", "mcp": "b"}))).is_err());
        assert!(
            resolve(
                0,
                &call(json!({"mcp": "m", "action": "t", "args": {}, "params": {}}))
            )
            .is_err()
        );
        assert!(serde_json::from_value::<ToolCallIn>(json!({"name": "a__t", "extra": 1})).is_err());
        let (m, t, a) = resolve(0, &call(json!({"name": "mcp__m__t", "args": {"x": 1}}))).unwrap();
        assert_eq!((m.as_str(), t.as_str(), a), ("m", "t", json!({"x": 1})));
        let (m, t, _) = resolve(0, &call(json!({"mcp": "m", "tool": "t"}))).unwrap();
        assert_eq!((m.as_str(), t.as_str()), ("m", "t"));
    }

    #[test]
    fn arguments_is_a_spelling_of_args() {
        let call = |v: Value| serde_json::from_value::<ToolCallIn>(v).unwrap();
        let (m, t, a) = resolve(
            0,
            &call(json!({"name": "travel-mcp__book_flight", "arguments": {"to": "SFO"}})),
        )
        .unwrap();
        assert_eq!(
            (m.as_str(), t.as_str(), a),
            ("travel-mcp", "book_flight", json!({"to": "SFO"}))
        );
        let (m, t, a) = resolve(
            0,
            &call(json!({"mcp": "travel-mcp", "name": "book_flight", "arguments": {"n": 2}})),
        )
        .unwrap();
        assert_eq!(
            (m.as_str(), t.as_str(), a),
            ("travel-mcp", "book_flight", json!({"n": 2}))
        );
        // The same arguments, whichever spelling carries them.
        for field in ["args", "arguments", "params"] {
            let (_, _, a) = resolve(
                0,
                &call(json!({"mcp": "m", "action": "t", field: {"amount": 5}})),
            )
            .unwrap();
            assert_eq!(a, json!({"amount": 5}), "{field}");
        }
    }

    #[test]
    fn two_spellings_of_the_arguments_are_refused() {
        let call = |v: Value| serde_json::from_value::<ToolCallIn>(v).unwrap();
        for (a, b) in [
            ("args", "arguments"),
            ("arguments", "params"),
            ("args", "params"),
        ] {
            let c = call(json!({"name": "m__t", a: {"x": 1}, b: {"x": 1}}));
            let e = resolve(0, &c).unwrap_err();
            assert!(
                matches!(&e, GatewayError::BadRequest(m) if m.contains("one spelling")),
                "{a}+{b}: {e:?}"
            );
        }
        // Unknown fields stay refused, `arguments` beside them or not.
        assert!(
            serde_json::from_value::<ToolCallIn>(
                json!({"name": "m__t", "arguments": {}, "argument": {}})
            )
            .is_err()
        );
        // `arguments` must be an object, as `args` must.
        assert!(
            serde_json::from_value::<ToolCallIn>(json!({"name": "m__t", "arguments": [1]}))
                .is_err()
        );
    }
}
