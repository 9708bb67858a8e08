//! The audit trail (filterable, live) and a plan's page.
//!
//! The trail page is a filter form and an empty table; `console.js` reads
//! `GET /console/api/audit?<filters>` (newest first), then every second
//! `…&after=<largest seq>` and puts new rows on top. A row's plan opens
//! `/console/plans/{id}`: the plan's steps, `plan_hash`, `merkle_root`, and
//! each step's calls and outcomes (server-rendered).

use super::ConsoleResult;
use super::html::{self, esc, esc_opt, time};
use super::session::ConsoleAdmin;
use crate::AppState;
use crate::error::GatewayError;
use crate::store::{AuditFilter, AuditRow};
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::Html;
use serde_json::{Value, json};
use std::collections::HashMap;

/// The filter fields: (query name, label).
const FIELDS: [(&str, &str); 5] = [
    ("outcome", "Outcome"),
    ("user", "User"),
    ("agent", "Agent"),
    ("tool", "Tool"),
    ("plan", "Plan"),
];

/// `YYYY-MM-DDTHH:MM[:SS]` (UTC, as an `<input type="datetime-local">`
/// sends it) → Unix milliseconds.
pub fn parse_time(s: &str) -> Option<i64> {
    let (date, clock) = s.trim().split_once(['T', ' '])?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut c = clock.split(':').map(|p| p.parse::<i64>().ok());
    let (h, min) = (c.next()??, c.next()??);
    let sec = c.next().flatten().unwrap_or(0);
    if d.next().is_some()
        || !(1..=12).contains(&m)
        || !(1..=31).contains(&day)
        || h > 23
        || min > 59
        || sec > 59
    {
        return None;
    }
    let days = armoriq_core::calendar::days_from_civil(y, m, day)?;
    Some(((days * 24 + h) * 60 + min) * 60_000 + sec * 1000)
}

/// The filter a query names.
///
/// # Errors
/// `BadRequest` for a time that does not parse.
pub fn filter_of(q: &HashMap<String, String>) -> Result<AuditFilter, GatewayError> {
    let text = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let when = |k: &str| {
        text(k)
            .map(|v| {
                parse_time(&v).ok_or_else(|| {
                    GatewayError::BadRequest(format!(
                        "`{k}` must be a UTC time YYYY-MM-DDTHH:MM, not {v:?}"
                    ))
                })
            })
            .transpose()
    };
    Ok(AuditFilter {
        outcome: text("outcome"),
        user: text("user"),
        agent: text("agent"),
        tool: text("tool"),
        plan: text("plan"),
        from_ms: when("from")?,
        to_ms: when("to")?,
    })
}

/// `GET /console/audit`.
///
/// # Errors
/// A filter time that does not parse (400).
pub async fn page(
    admin: ConsoleAdmin,
    Query(q): Query<HashMap<String, String>>,
) -> ConsoleResult<Html<String>> {
    filter_of(&q)?;
    let mut inputs = String::new();
    let mut api = String::from("/console/api/audit?");
    for (k, label) in FIELDS
        .iter()
        .chain(&[("from", "From (UTC)"), ("to", "To (UTC)")])
    {
        let v = q.get(*k).map(String::as_str).unwrap_or("");
        let kind = if matches!(*k, "from" | "to") {
            "datetime-local"
        } else {
            "text"
        };
        inputs.push_str(&format!(
            "<label>{label}<input type=\"{kind}\" name=\"{k}\" id=\"f-{k}\" value=\"{}\"></label>",
            esc(v)
        ));
        if !v.is_empty() {
            api.push_str(&format!("{k}={}&", form_urlencoded_byte(v)));
        }
    }
    let body = format!(
        "<h1>Audit trail</h1>\
         <form method=\"get\" action=\"/console/audit\" class=\"filters\">{inputs}\
         <button type=\"submit\">Filter</button> <a href=\"/console/audit\">Clear</a></form>\
         <p class=\"hint\">Newest first; updates live. <span id=\"live-status\" role=\"status\"></span></p>\
         <table id=\"audit-table\" data-audit=\"{}\"><thead><tr>\
         <th scope=\"col\">#</th><th scope=\"col\">Time</th><th scope=\"col\">Outcome</th>\
         <th scope=\"col\">Route</th><th scope=\"col\">User</th><th scope=\"col\">Agent</th>\
         <th scope=\"col\">Tool</th><th scope=\"col\">Plan</th><th scope=\"col\">Step</th>\
         <th scope=\"col\">Reason</th></tr></thead><tbody id=\"audit-rows\"></tbody></table>",
        esc(&api)
    );
    Ok(html::page("Audit trail", "audit", &admin, &body))
}

fn form_urlencoded_byte(v: &str) -> String {
    let mut out = String::new();
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// One row as the page script reads it.
fn row_json(r: &AuditRow) -> Value {
    json!({
        "seq": r.seq, "time": time(r.at_ms), "outcome": r.outcome, "route": r.route,
        "user": r.user_email, "agent": r.agent_id, "mcp": r.mcp, "tool": r.tool,
        "plan": r.plan_id, "step": r.step, "reason": r.reason, "latency_us": r.latency_us,
    })
}

/// `GET /console/api/audit?<filters>&after=SEQ`: at most 200 rows, newest
/// first.
///
/// # Errors
/// Signed out (401), a bad filter (400), a store outage (503).
pub async fn api(
    State(st): State<AppState>,
    _: ConsoleAdmin,
    Query(q): Query<HashMap<String, String>>,
) -> ConsoleResult<Json<Value>> {
    let f = filter_of(&q)?;
    let after = match q.get("after").filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| {
            GatewayError::BadRequest(format!("`after` must be a row number, not {s:?}"))
        })?),
    };
    let rows = st.store.audit_search(&f, after, 200).await?;
    Ok(Json(
        json!({"rows": rows.iter().map(row_json).collect::<Vec<_>>()}),
    ))
}

fn outcomes_table(rows: &[&AuditRow]) -> String {
    if rows.is_empty() {
        return "<p class=\"hint\">No calls recorded.</p>".into();
    }
    let mut t = String::from(
        "<table class=\"calls\"><thead><tr><th scope=\"col\">#</th><th scope=\"col\">Time</th>\
         <th scope=\"col\">Outcome</th><th scope=\"col\">Route</th><th scope=\"col\">User</th>\
         <th scope=\"col\">Reason</th></tr></thead><tbody>",
    );
    for r in rows {
        t.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td><span class=\"outcome o-{}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.seq,
            esc(&time(r.at_ms)),
            esc(&r.outcome),
            esc(&r.outcome),
            esc(&r.route),
            esc_opt(r.user_email.as_deref()),
            esc_opt(r.reason.as_deref()),
        ));
    }
    t.push_str("</tbody></table>");
    t
}

/// `GET /console/plans/{id}`: the plan, its steps, and each step's calls.
///
/// # Errors
/// No such plan (404), a store outage (503).
pub async fn plan_page(
    State(st): State<AppState>,
    admin: ConsoleAdmin,
    Path(id): Path<String>,
) -> ConsoleResult<Html<String>> {
    let p = st
        .store
        .get_plan(&id)
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("no plan {id:?}")))?;
    let filter = AuditFilter {
        plan: Some(id.clone()),
        ..AuditFilter::default()
    };
    let mut rows = st.store.audit_search(&filter, None, 1000).await?;
    rows.reverse();
    let plan: Value = serde_json::from_str(&p.plan_json).unwrap_or(Value::Null);
    let steps = plan["steps"].as_array().cloned().unwrap_or_default();
    let mut body = format!(
        "<h1>Plan <code>{}</code></h1><dl class=\"facts\">\
         <dt>Goal</dt><dd>{}</dd><dt>User</dt><dd>{}</dd><dt>Agent</dt><dd>{}</dd>\
         <dt>Status</dt><dd>{}</dd><dt>plan_hash</dt><dd><code id=\"plan-hash\">{}</code></dd>\
         <dt>merkle_root</dt><dd><code id=\"merkle-root\">{}</code></dd>\
         <dt>Steps</dt><dd>{}</dd><dt>Expires</dt><dd>{}</dd></dl>",
        esc(&p.plan_id),
        esc_opt(plan["goal"].as_str()),
        esc_opt(p.user_email.as_deref()),
        esc_opt(p.agent_id.as_deref()),
        esc(p.status.as_str()),
        esc(&p.plan_hash),
        esc(&p.merkle_root),
        p.step_count,
        esc(&time(p.expires_at.saturating_mul(1000))),
    );
    for (i, s) in steps.iter().enumerate() {
        let step_rows: Vec<&AuditRow> = rows
            .iter()
            .filter(|r| r.step.and_then(|n| usize::try_from(n).ok()) == Some(i))
            .collect();
        body.push_str(&format!(
            "<section class=\"step\"><h2>Step {i}: <code>{}.{}</code></h2>\
             <p>{}</p><pre class=\"args\">{}</pre>{}</section>",
            esc_opt(s["mcp"].as_str()),
            esc_opt(s["action"].as_str()),
            esc_opt(s["description"].as_str()),
            esc(&serde_json::to_string_pretty(&s["params"]).unwrap_or_default()),
            outcomes_table(&step_rows),
        ));
    }
    let other: Vec<&AuditRow> = rows.iter().filter(|r| r.step.is_none()).collect();
    body.push_str(&format!(
        "<section class=\"step\"><h2>The plan's other events (minting, decisions)</h2>{}</section>",
        outcomes_table(&other)
    ));
    Ok(html::page(
        &format!("Plan {}", p.plan_id),
        "audit",
        &admin,
        &body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_as_utc() {
        assert_eq!(parse_time("1970-01-01T00:00"), Some(0));
        assert_eq!(parse_time("2023-11-14T22:13:20"), Some(1_700_000_000_000));
        assert_eq!(parse_time("2023-11-14 22:13"), Some(1_699_999_980_000));
        for bad in [
            "",
            "2023-13-01T00:00",
            "2023-11-14",
            "x-y-zT1:2",
            "2023-11-14T24:00",
        ] {
            assert_eq!(parse_time(bad), None, "{bad}");
        }
        assert_eq!(form_urlencoded_byte("a b&c"), "a%20b%26c");
    }
}
