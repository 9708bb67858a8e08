//! The policy in force, and "try a call": the evaluator's verdict for a
//! call typed in, with the statement that decided it. (A GET form: trying
//! changes nothing.)

use super::ConsoleResult;
use super::html::{self, esc, esc_opt};
use super::session::ConsoleAdmin;
use crate::error::GatewayError;
use crate::policy::PolicyCall;
use crate::{AppState, now_secs};
use axum::extract::{Query, State};
use axum::response::Html;
use serde_json::Value;
use std::collections::HashMap;

/// The statement of `doc` (a document or a `{floor, agent, group}` bound)
/// whose provenance is `rule` (`<ruleKey>#<variant>`, as a decision's rule
/// reads), if any.
pub fn statement_for(doc: &Value, rule: &str) -> Option<Value> {
    let (key, variant) = rule.rsplit_once('#')?;
    let docs: Vec<&Value> = if doc.get("statements").is_some() {
        vec![doc]
    } else {
        ["floor", "agent", "group"]
            .iter()
            .filter_map(|l| doc.get(*l))
            .collect()
    };
    docs.iter()
        .filter_map(|d| d.get("statements").and_then(Value::as_array))
        .flatten()
        .find(|s| {
            let p = &s["provenance"];
            p["ruleKey"].as_str() == Some(key)
                && p["variant"].as_i64().map(|v| v.to_string()).as_deref() == Some(variant)
        })
        .cloned()
}

fn field<'a>(q: &'a HashMap<String, String>, k: &str) -> &'a str {
    q.get(k).map_or("", |v| v.as_str())
}

/// `GET /console/policy[?mcp=&tool=&args=&email=]`.
///
/// # Errors
/// Arguments that are not a JSON object (400).
pub async fn page(
    State(st): State<AppState>,
    admin: ConsoleAdmin,
    Query(q): Query<HashMap<String, String>>,
) -> ConsoleResult<Html<String>> {
    let policy = st.policy();
    let (allow, deny) = policy.list_refs();
    let list = |refs: &[&str]| {
        if refs.is_empty() {
            "none".to_owned()
        } else {
            refs.iter()
                .map(|r| format!("<code>{}</code>", esc(r)))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let doc = policy.document().map_or_else(
        || "<p>No Armor Policy v2 document is loaded.</p>".to_owned(),
        |d| {
            format!(
                "<pre class=\"doc\" id=\"policy-doc\">{}</pre>",
                esc(&serde_json::to_string_pretty(d).unwrap_or_default())
            )
        },
    );
    let mut verdict = String::new();
    if q.contains_key("tool") {
        let args_text = field(&q, "args").trim();
        let args: Value = if args_text.is_empty() {
            Value::Object(serde_json::Map::new())
        } else {
            serde_json::from_str(args_text)
                .map_err(|e| GatewayError::BadRequest(format!("the arguments are not JSON: {e}")))?
        };
        if !args.is_object() {
            return Err(
                GatewayError::BadRequest("the arguments must be a JSON object".into()).into(),
            );
        }
        let email = Some(field(&q, "email").trim()).filter(|e| !e.is_empty());
        let d = policy.decide(&PolicyCall {
            mcp: field(&q, "mcp").trim(),
            tool: field(&q, "tool").trim(),
            args: &args,
            email,
            now: now_secs(),
        });
        let statement = d
            .rule
            .as_deref()
            .and_then(|r| policy.document().and_then(|doc| statement_for(doc, r)));
        verdict = format!(
            "<section class=\"verdict\" id=\"verdict\" role=\"status\"><h2>Verdict: \
             <span class=\"outcome o-{v}\">{v}</span></h2><dl class=\"facts\">\
             <dt>Reason</dt><dd>{}</dd><dt>Rule</dt><dd>{}</dd><dt>Statement</dt><dd>{}</dd>\
             <dt>Approval</dt><dd>{}</dd></dl></section>",
            esc(&d.reason),
            esc_opt(d.rule.as_deref()),
            statement.map_or_else(
                || "—".to_owned(),
                |s| format!(
                    "<pre>{}</pre>",
                    esc(&serde_json::to_string_pretty(&s).unwrap_or_default())
                )
            ),
            esc_opt(d.approval.as_ref().map(Value::to_string).as_deref()),
            v = d.verdict.as_str(),
        );
    }
    let body = format!(
        "<h1>Policy</h1><p><code>armoriq.yaml</code> allow: {} · deny: {}</p>\
         <h2>Try a call</h2><form method=\"get\" action=\"/console/policy\" class=\"stack\">\
         <label for=\"p-mcp\">MCP server</label><input id=\"p-mcp\" name=\"mcp\" value=\"{}\">\
         <label for=\"p-tool\">Tool</label><input id=\"p-tool\" name=\"tool\" value=\"{}\" required>\
         <label for=\"p-args\">Arguments (JSON object)</label>\
         <textarea id=\"p-args\" name=\"args\" rows=\"3\">{}</textarea>\
         <label for=\"p-email\">User email</label><input id=\"p-email\" name=\"email\" value=\"{}\">\
         <button type=\"submit\" id=\"try\">Evaluate</button></form>{verdict}\
         <h2>Armor Policy v2 document</h2>{doc}",
        list(&allow),
        list(&deny),
        esc(field(&q, "mcp")),
        esc(field(&q, "tool")),
        esc(field(&q, "args")),
        esc(field(&q, "email")),
    );
    Ok(html::page("Policy", "policy", &admin, &body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_statement_by_provenance() {
        let s = json!({"id": "pay-large", "provenance": {"ruleKey": "tools.send_payment", "variant": 1}});
        let doc = json!({"statements": [s.clone()]});
        assert_eq!(statement_for(&doc, "tools.send_payment#1"), Some(s.clone()));
        assert_eq!(statement_for(&doc, "tools.send_payment#0"), None);
        let bound = json!({"agent": doc});
        assert_eq!(statement_for(&bound, "tools.send_payment#1"), Some(s));
        assert_eq!(statement_for(&bound, "no-hash"), None);
    }
}
