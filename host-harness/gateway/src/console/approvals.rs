//! Held calls waiting for a person: the page, its live data, approve and
//! reject.
//!
//! The page is a shell; `console.js` fills the table from
//! `GET /console/api/approvals` every second (adding and removing rows by
//! delegation id, so the focus stays where it is) and writes every value
//! with `textContent`. Approve and Reject are ordinary form POSTs with the
//! session's CSRF token.
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
         <table id=\"pending-table\" data-approvals=\"/console/api/approvals\">\
         <caption class=\"sr-only\">Held calls</caption><thead><tr>\
         <th scope=\"col\">Waiting</th><th scope=\"col\">User</th><th scope=\"col\">Agent</th>\
         <th scope=\"col\">Tool</th><th scope=\"col\">Arguments</th><th scope=\"col\">Amount</th>\
         <th scope=\"col\">Held by</th><th scope=\"col\">Approvers</th><th scope=\"col\">Decision</th>\
         </tr></thead><tbody id=\"pending\"></tbody></table>\
         <noscript><p>Live updates need JavaScript; <code>armoriq delegations --status pending</code> lists them.</p></noscript>"
    );
    html::page("Approvals", "approvals", &admin, &body)
}

/// `GET /console/api/approvals`: the pending delegations, as the page
/// script reads them.
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
        items.push(json!({
            "id": d.id,
            "user": d.requester_email,
            "agent": agent,
            "mcp": d.mcp,
            "tool": d.tool,
            "arguments": d.arguments,
            "amount": d.amount,
            "reason": d.reason,
            "statement_id": statement.as_ref().and_then(|s| s.get("id")).and_then(Value::as_str),
            "statement": statement.as_ref().map(Value::to_string),
            "approvers": approvers(&d),
            "may_decide": may_decide(&admin, &d),
            "waited_s": (now - d.created_ms).max(0) / 1000,
            "expires_in_s": (d.expires_ms - now).max(0) / 1000,
            "plan_id": d.plan_id,
        }));
    }
    Ok(Json(json!({"now_ms": now, "items": items})))
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
