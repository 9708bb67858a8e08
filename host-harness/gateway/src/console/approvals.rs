//! Held calls waiting for a person: the page, its live data, approve and
//! reject.
//!
//! The page is a shell; `console.js` fills it from
//! `GET /console/api/approvals` every second with one card per held call
//! (added and removed by delegation id, so the focus stays where it is):
//! the call's arguments as a key–value list, its tool, MCP server, plan
//! step, requester, amount, time waiting and time left, and the policy
//! statement that held it in words (its JSON behind a disclosure). Every
//! value is written with `textContent`. Approve and Reject are ordinary
//! form POSTs with the session's CSRF token.
//!
//! Who may decide: when the policy statement that held the call names
//! approvers (`approval.approvers`), only an admin whose key carries one of
//! those emails; otherwise any admin. The decision is [`ops::decide`]: one
//! conditional update in the store with its audit row, in one transaction:
//! of two admins deciding at once one wins, the other gets 409. It is
//! recorded with the decider's email on the delegation (what the SDK's
//! `check-approved` reports) and as an audit row `approved` / `rejected`
//! naming the person and the exact call approved.

use super::html::{self, esc};
use super::session::{ConsoleAdmin, CsrfForm, form};
use super::{ConsoleResult, policy::statement_for};
use crate::error::GatewayError;
use crate::ops::{self, Actor, Surface, approvers};
use crate::store::{Delegation, DelegationStatus};
use crate::{AppState, now_ms};
use axum::Form;
use axum::Json;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The signed-in admin as the operations layer names them.
pub fn actor(admin: &ConsoleAdmin) -> Actor {
    Actor {
        name: admin.display(),
        email: admin.key.email.as_ref().map(|e| e.trim().to_lowercase()),
        surface: Surface::Console,
    }
}

/// Whether `admin` may decide `d`.
pub fn may_decide(admin: &ConsoleAdmin, d: &Delegation) -> bool {
    ops::may_decide(&actor(admin), d)
}

/// `GET /console/approvals`.
pub async fn page(admin: ConsoleAdmin, Query(q): Query<HashMap<String, String>>) -> Html<String> {
    let notice = match (q.get("done").map(String::as_str), q.get("id")) {
        (Some(done @ ("approved" | "rejected")), Some(id)) => format!(
            "<p class=\"notice\" id=\"notice\" role=\"status\">Delegation <code>{}</code> {done}.</p>",
            esc(id)
        ),
        _ => String::new(),
    };
    let body = format!(
        "<h1>Held calls waiting for approval</h1>{notice}\
         <p class=\"hint\">Updates live. <span id=\"live-status\" role=\"status\"></span></p>\
         <p id=\"none-pending\" hidden>No held calls are waiting.</p>\
         <section id=\"pending-list\" aria-label=\"Held calls\" data-approvals=\"/console/api/approvals\">\
         <div id=\"pending\"></div></section>\
         <noscript><p>Live updates need JavaScript; <code>armoriq delegations --status pending</code> lists them.</p></noscript>"
    );
    html::page("Approvals", "approvals", &admin, &body)
}

/// `GET /console/api/approvals`: the pending delegations, as the page
/// script reads them: the held call (tool, MCP server, plan and step, the
/// arguments parsed and as their canonical text, its hash), who asked, the
/// amount, the times, and the policy statement that held it (in words and
/// as JSON).
///
/// # Errors
/// Signed out (401), a store outage (503).
pub async fn api(State(st): State<AppState>, admin: ConsoleAdmin) -> ConsoleResult<Json<Value>> {
    let now = now_ms();
    let list = st
        .store
        .list_delegations(Some(DelegationStatus::Pending), now)
        .await?;
    let policy = st.policy();
    let mut items = Vec::with_capacity(list.len());
    let mut agents: HashMap<String, Option<String>> = HashMap::new();
    for d in list.into_iter().rev() {
        let agent = match &d.plan_id {
            Some(p) => match agents.get(p) {
                Some(a) => a.clone(),
                None => {
                    let a = st.store.get_plan(p).await?.and_then(|p| p.agent_id);
                    agents.insert(p.clone(), a.clone());
                    a
                }
            },
            None => None,
        };
        let rule = d
            .reason
            .as_deref()
            .map(|r| r.split_once(':').map_or(r, |(_, rule)| rule));
        let statement = rule.and_then(|r| policy.document().and_then(|doc| statement_for(doc, r)));
        // The canonical JSON text the store keeps; should it not parse, the
        // page shows the text as it is.
        let args = serde_json::from_str::<Value>(&d.arguments).ok();
        items.push(json!({
            "id": d.id,
            "user": d.requester_email,
            "agent": agent,
            "mcp": d.mcp,
            "tool": d.tool,
            "arguments": d.arguments,
            "args": args,
            "args_hash": d.args_hash,
            "leaf_hash": d.leaf_hash,
            "step": d.step,
            "amount": d.amount,
            "reason": d.reason,
            "statement_id": statement.as_ref().and_then(|s| s.get("id")).and_then(Value::as_str),
            "statement": statement.as_ref().map(Value::to_string),
            "statement_words": statement.as_ref().map(statement_words),
            "approvers": approvers(&d),
            "may_decide": may_decide(&admin, &d),
            "waited_s": (now - d.created_ms).max(0) / 1000,
            "expires_in_s": (d.expires_ms - now).max(0) / 1000,
            "plan_id": d.plan_id,
        }));
    }
    Ok(Json(json!({"now_ms": now, "items": items})))
}

/// An Armor Policy v2 statement in words, from its JSON fields: the effect,
/// the tool it matches (or capability), who it applies to, its conditions
/// and its approval requirements, e.g. `Hold send_payment when amount ≤
/// 100000; approvers: cfo@example.com`.
pub fn statement_words(s: &Value) -> String {
    let effect = match s.get("effect").and_then(Value::as_str) {
        Some("allow") => "Allow",
        Some("hold") => "Hold",
        Some("block") => "Block",
        Some(other) => other,
        None => "Decide",
    };
    let m = &s["match"];
    let target = match (m.get("tool").and_then(Value::as_str), m.get("capability")) {
        (Some(t), _) if t.contains(['*', '?', '[']) => format!("tools matching {t}"),
        (Some(t), _) => t.to_owned(),
        (None, Some(c)) => format!("calls with capability {}", text(c)),
        (None, None) => "any tool".to_owned(),
    };
    let mut out = format!("{effect} {target}");
    if let Some(subject) = s.get("subject").and_then(Value::as_object) {
        let who: Vec<String> = [
            ("email", ""),
            ("group", "group "),
            ("membershipId", "member "),
            ("product", "product "),
        ]
        .iter()
        .filter_map(|(k, label)| subject.get(*k).map(|v| format!("{label}{}", text(v))))
        .collect();
        if !who.is_empty() {
            out.push_str(" for ");
            out.push_str(&who.join(" in "));
        }
    }
    let conditions: Vec<String> = s
        .get("conditions")
        .and_then(Value::as_array)
        .map(|cs| cs.iter().map(condition_words).collect())
        .unwrap_or_default();
    if !conditions.is_empty() {
        out.push_str(" when ");
        out.push_str(&conditions.join(" and "));
    }
    if let Some(a) = s.get("approval").filter(|a| a.is_object()) {
        let names: Vec<String> = a
            .get("approvers")
            .and_then(Value::as_array)
            .map(|v| v.iter().map(text).collect())
            .unwrap_or_default();
        out.push_str(if names.is_empty() {
            "; approvers: any admin"
        } else {
            "; approvers: "
        });
        out.push_str(&names.join(", "));
        if let Some(n) = a
            .get("minApprovals")
            .and_then(Value::as_i64)
            .filter(|n| *n > 1)
        {
            out.push_str(&format!(" ({n} approvals needed)"));
        }
    }
    match s.get("expiresAt").and_then(Value::as_str) {
        Some("never") | None => {}
        Some(t) => out.push_str(&format!("; until {t}")),
    }
    out
}

/// One condition in words: `amount ≤ 100000`, `recipient is one of [..]`.
fn condition_words(c: &Value) -> String {
    let field = c.get("field").and_then(Value::as_str).unwrap_or("?");
    let field = field.strip_prefix("args.").unwrap_or(field);
    let value = c
        .get("value")
        .map_or_else(|| "?".to_owned(), Value::to_string);
    let op = c.get("op").and_then(Value::as_str).unwrap_or("?");
    let rel = match op {
        "exists" if c.get("value") == Some(&Value::Bool(false)) => {
            return format!("{field} is absent");
        }
        "exists" => return format!("{field} is present"),
        "eq" => "=",
        "ne" => "≠",
        "gt" => ">",
        "gte" => "≥",
        "lt" => "<",
        "lte" => "≤",
        "in" => "is one of",
        "notIn" => "is not one of",
        "glob" => "matches",
        "regex" => "matches the pattern",
        "notRegex" => "does not match the pattern",
        "startsWith" => "starts with",
        other => other,
    };
    format!("{field} {rel} {value}")
}

/// A JSON value as text: a string as it is, anything else as compact JSON.
fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| v.to_string(), str::to_owned)
}

/// The reject form.
#[derive(Deserialize)]
pub struct RejectForm {
    csrf: String,
    #[serde(default)]
    reason: String,
}

async fn decide(
    st: &AppState,
    admin: &ConsoleAdmin,
    id: &str,
    approve: bool,
    reason: Option<&str>,
) -> ConsoleResult<Response> {
    let d = ops::decide(
        st.store.as_ref(),
        &actor(admin),
        id,
        approve,
        reason,
        now_ms(),
    )
    .await?;
    st.metrics.approval(approve, "console");
    let word = if approve { "approved" } else { "rejected" };
    Ok(Redirect::to(&format!("/console/approvals?done={word}&id={}", d.id)).into_response())
}

/// `POST /console/approvals/{id}/approve`.
///
/// # Errors
/// Signed out, CSRF, not a named approver (403), already decided (409), no
/// such delegation (404).
pub async fn approve(
    State(st): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    f: Result<Form<CsrfForm>, FormRejection>,
) -> ConsoleResult<Response> {
    admin.check_csrf(&form(f)?.csrf)?;
    decide(&st, &admin, &id, true, None).await
}

/// `POST /console/approvals/{id}/reject` (a reason is required).
///
/// # Errors
/// As [`approve`], and 400 without a reason.
pub async fn reject(
    State(st): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
    f: Result<Form<RejectForm>, FormRejection>,
) -> ConsoleResult<Response> {
    let f = form(f)?;
    admin.check_csrf(&f.csrf)?;
    let reason = f.reason.trim();
    if reason.is_empty() {
        return Err(GatewayError::BadRequest("give a reason for rejecting the call".into()).into());
    }
    decide(&st, &admin, &id, false, Some(reason)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_in_words() {
        let held = json!({"id": "pay-large", "effect": "hold",
            "match": {"tool": "send_payment", "order": 2},
            "conditions": [{"field": "args.amount", "op": "gt", "value": 1000}],
            "approval": {"approvers": ["cfo@example.com"], "minApprovals": 1},
            "expiresAt": "never"});
        assert_eq!(
            statement_words(&held),
            "Hold send_payment when amount > 1000; approvers: cfo@example.com"
        );
        let blocked = json!({"effect": "block", "match": {"tool": "pay_*", "order": 1},
            "subject": {"email": "mallory@example.com"},
            "conditions": [{"field": "args.to", "op": "in", "value": ["x", "y"]},
                           {"field": "risk.score", "op": "exists"}],
            "expiresAt": "2027-01-01T00:00:00Z"});
        assert_eq!(
            statement_words(&blocked),
            "Block tools matching pay_* for mallory@example.com when to is one of [\"x\",\"y\"] \
             and risk.score is present; until 2027-01-01T00:00:00Z"
        );
        let two = json!({"effect": "hold", "match": {"tool": "wire", "order": 1},
            "approval": {"approvers": ["a@x", "b@x"], "minApprovals": 2}});
        assert_eq!(
            statement_words(&two),
            "Hold wire; approvers: a@x, b@x (2 approvals needed)"
        );
        let anyone = json!({"effect": "hold", "match": {"tool": "wire", "order": 1},
            "approval": {"minApprovals": 1}});
        assert_eq!(statement_words(&anyone), "Hold wire; approvers: any admin");
    }
}
