//! The other routes the official SDK calls: bootstrap, resolve-user, audit
//! reports, plan status, revocation, tool metadata, delegations, and the
//! admin routes behind an admin key.

use crate::auth::{AdminKey, ApiKey};
use crate::error::{GatewayError, GwResult};
use crate::extract::JsonBody;
use crate::held::HeldCall;
use crate::ops::{self, Actor, Surface};
use crate::proxy::clean_params;
use crate::store::{
    ApprovedQuery, AuditCursor, AuditRow, DelegationStatus, NewDelegation, PlanStatus,
};
use crate::{AppState, now_ms};
use axum::Json;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::HashMap;

type JsonResult = GwResult<Json<Value>>;

/// `GET /health`.
pub async fn health(State(st): State<AppState>) -> Json<Value> {
    Json(
        json!({"status": "ok", "service": "armoriq-gateway", "mcp_servers": st.mcp.ids(),
                "token_cache_entries": st.token_cache.len()}),
    )
}

/// `POST /iap/sdk/bootstrap`: the agent's MCP servers.
pub async fn bootstrap(State(st): State<AppState>, _: ApiKey) -> JsonResult {
    let agent = st
        .settings
        .config
        .as_ref()
        .map(|c| c.identity.agent_id.clone());
    let mcps: Vec<Value> = st
        .mcp
        .ids()
        .into_iter()
        .map(|n| json!({"name": n}))
        .collect();
    Ok(Json(json!({"agentId": agent, "mcps": mcps, "toolMap": {}})))
}

/// `POST /iap/sdk/resolve-user` body.
#[derive(Deserialize)]
pub struct ResolveUser {
    #[serde(rename = "userEmail")]
    user_email: String,
}

/// `POST /iap/sdk/resolve-user`.
pub async fn resolve_user(_: ApiKey, JsonBody(req): JsonBody<ResolveUser>) -> JsonResult {
    let email = req.user_email.trim().to_lowercase();
    if !email.contains('@') {
        return Err(GatewayError::BadRequest(format!(
            "{email:?} is not an email address"
        )));
    }
    Ok(Json(
        json!({"email": email, "membershipId": null, "policies": [], "approvers": []}),
    ))
}

/// Session `report()` body.
#[derive(Deserialize)]
pub struct Report {
    #[serde(default)]
    step_index: Option<i64>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    tool: Option<String>,
    #[serde(default)]
    mcp: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    duration_ms: Option<f64>,
    #[serde(default)]
    plan_id: Option<String>,
}

/// `POST /iap/audit`: a client-side report, kept as an audit row.
pub async fn report(
    State(st): State<AppState>,
    _: ApiKey,
    JsonBody(r): JsonBody<Report>,
) -> JsonResult {
    let id = st
        .audit(AuditRow {
            at_ms: now_ms(),
            route: "report".into(),
            outcome: format!("reported_{}", r.status.as_deref().unwrap_or("unknown")),
            plan_id: r.plan_id,
            step: r.step_index,
            mcp: r.mcp,
            tool: r.tool.or(r.action),
            latency_us: r.duration_ms.map_or(0, |ms| (ms * 1000.0) as i64),
            ..Default::default()
        })
        .await?;
    Ok(Json(json!({"success": true, "id": id})))
}

/// `POST /iap/plans/{id}/status` body.
#[derive(Deserialize)]
pub struct PlanStatusBody {
    status: String,
}

/// `POST /iap/plans/{id}/status`.
pub async fn plan_status(
    State(st): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
    JsonBody(r): JsonBody<PlanStatusBody>,
) -> JsonResult {
    let status = PlanStatus::parse(&r.status)
        .filter(|s| *s != PlanStatus::Revoked)
        .ok_or_else(|| {
            GatewayError::BadRequest(format!(
                "status must be active, completed, failed or cancelled, not {:?}",
                r.status
            ))
        })?;
    if !st.store.set_plan_status(&id, status).await? {
        return Err(GatewayError::NotFound(format!("no plan {id:?}")));
    }
    st.plans.forget(&id);
    Ok(Json(
        json!({"success": true, "plan_id": id, "status": r.status}),
    ))
}

/// `GET /mcp/tool-metadata/{mcp}`.
pub async fn tool_metadata(
    State(st): State<AppState>,
    _: ApiKey,
    Path(mcp): Path<String>,
) -> JsonResult {
    if !st.mcp.knows(&mcp) {
        return Err(GatewayError::NotFound(format!(
            "unknown MCP server {mcp:?}"
        )));
    }
    Ok(Json(
        json!({"data": {"mcpId": mcp, "name": mcp, "toolMetadata": {}, "roleMapping": {}}}),
    ))
}

fn email_header(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-user-email")
        .and_then(|v| v.to_str().ok())
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
}

/// `DelegationRequestParams`, by alias.
#[derive(Deserialize)]
pub struct DelegationRequest {
    tool: String,
    #[serde(default)]
    arguments: Option<Box<RawValue>>,
    #[serde(default)]
    amount: Option<f64>,
    #[serde(default, rename = "requesterEmail")]
    requester_email: Option<String>,
    #[serde(default)]
    domain: Option<String>,
    #[serde(default, rename = "planId")]
    plan_id: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// `POST /delegation/request`: a pending delegation (the same pending one is
/// returned for the same request, so the hold that `/invoke` created and the
/// SDK's own request are one approval).
pub async fn delegation_request(
    State(st): State<AppState>,
    _: ApiKey,
    headers: HeaderMap,
    JsonBody(r): JsonBody<DelegationRequest>,
) -> JsonResult {
    let params = clean_params(r.arguments.as_deref())?;
    let email = r
        .requester_email
        .map(|e| e.trim().to_lowercase())
        .or_else(|| email_header(&headers));
    // The step this request is for, when it names a plan this gateway
    // signed: then it is the same delegation the proxy's hold created.
    let plan = match &r.plan_id {
        Some(p) => crate::intent::load_plan(&st, p).await.ok(),
        None => None,
    };
    let nd = match &plan {
        Some(plan) => {
            let held = HeldCall::of(
                r.domain.as_deref().unwrap_or_default(),
                &r.tool,
                plan,
                &params,
                email.as_deref(),
                None,
            )?;
            held.request(r.reason, None, st.settings.approval_ttl)
        }
        None => {
            let arguments = crate::tokens::canonical(&Value::Object(params.map))
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .map_err(GatewayError::BadRequest)?;
            NewDelegation {
                tool: r.tool,
                mcp: r.domain,
                plan_id: r.plan_id,
                requester_email: email,
                step: None,
                leaf_hash: None,
                args_hash: crate::store::args_hash(&arguments),
                arguments,
                amount: r.amount,
                reason: r.reason,
                approval: None,
                ttl_ms: i64::try_from(st.settings.approval_ttl.as_millis()).unwrap_or(i64::MAX),
            }
        }
    };
    let d = st.store.get_or_create_pending(&nd, now_ms()).await?;
    Ok(Json(
        json!({"delegationId": d.id, "status": d.status, "expiresAt": crate::policy::iso_time_ms(d.expires_ms)}),
    ))
}

/// `GET /delegation/check-approved?tool=&amount=&planId=`.
pub async fn check_approved(
    State(st): State<AppState>,
    _: ApiKey,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> JsonResult {
    let tool = q
        .get("tool")
        .cloned()
        .ok_or_else(|| GatewayError::BadRequest("missing tool".into()))?;
    let query = ApprovedQuery {
        tool,
        plan_id: q.get("planId").cloned(),
        email: email_header(&headers),
        amount: q.get("amount").and_then(|a| a.parse::<f64>().ok()),
    };
    let d = st.store.find_approved(&query, now_ms()).await?;
    Ok(Json(match d {
        Some(d) => json!({"approved": true, "delegationId": d.id, "approverEmail": d.decided_by}),
        None => json!({"approved": false}),
    }))
}

/// `GET /delegation/my-role`.
pub async fn my_role(_: ApiKey) -> JsonResult {
    Ok(Json(json!({"role": "agent_user", "limit": 0})))
}

/// `POST /delegation/mark-executed` body.
#[derive(Deserialize)]
pub struct MarkExecuted {
    #[serde(rename = "delegationId")]
    delegation_id: String,
}

/// `POST /delegation/mark-executed` (idempotent).
pub async fn mark_executed(
    State(st): State<AppState>,
    _: ApiKey,
    JsonBody(r): JsonBody<MarkExecuted>,
) -> JsonResult {
    let id = r.delegation_id;
    let now = now_ms();
    st.store.mark_executed(&id, now).await?;
    let d = st
        .store
        .get_delegation(&id, now)
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("no delegation {id:?}")))?;
    Ok(Json(
        json!({"success": true, "delegationId": d.id, "status": d.status}),
    ))
}

/// `GET /delegation/{id}/status`. `executed` reads as `approved` to the SDK.
pub async fn delegation_status(
    State(st): State<AppState>,
    _: ApiKey,
    Path(id): Path<String>,
) -> JsonResult {
    let now = now_ms();
    let d = st
        .store
        .get_delegation(&id, now)
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("no delegation {id:?}")))?;
    let status = if d.status == DelegationStatus::Executed {
        DelegationStatus::Approved
    } else {
        d.status
    };
    Ok(Json(
        json!({"delegationId": d.id, "status": status, "executed": d.executed_ms.is_some()}),
    ))
}

/// `GET /admin/delegations?status=`.
pub async fn admin_list(
    State(st): State<AppState>,
    _: AdminKey,
    Query(q): Query<HashMap<String, String>>,
) -> JsonResult {
    let status = q
        .get("status")
        .map(|s| {
            DelegationStatus::parse(s).ok_or_else(|| {
                GatewayError::BadRequest(format!(
                    "status must be pending, approved, rejected, expired or executed, not {s:?}"
                ))
            })
        })
        .transpose()?;
    let list = st.store.list_delegations(status, now_ms()).await?;
    Ok(Json(json!({"data": list})))
}

/// The JSON routes' decision: made by the admin key as it is recorded (its
/// name and email, never a header the caller could set).
async fn decide(st: AppState, key: AdminKey, id: String, approve: bool) -> JsonResult {
    let rec = st.store.get_api_key(key.0.id).await?;
    let name = rec.as_ref().map_or_else(
        || format!("admin key #{}", key.0.id),
        crate::console::session::display_key,
    );
    let actor = Actor {
        email: rec.and_then(|r| r.email).map(|e| e.to_lowercase()),
        name,
        surface: Surface::Api,
    };
    let d = ops::decide(st.store.as_ref(), &actor, &id, approve, None, now_ms()).await?;
    st.metrics.approval(approve, "admin");
    Ok(Json(json!({
        "success": true, "delegationId": d.id, "status": d.status, "decidedBy": d.decided_by,
        "step": d.step, "arguments": d.arguments, "expiresAt": crate::policy::iso_time_ms(d.expires_ms),
    })))
}

/// `POST /admin/delegations/{id}/approve`.
pub async fn admin_approve(
    State(st): State<AppState>,
    key: AdminKey,
    Path(id): Path<String>,
) -> JsonResult {
    decide(st, key, id, true).await
}

/// `POST /admin/delegations/{id}/reject`.
pub async fn admin_reject(
    State(st): State<AppState>,
    key: AdminKey,
    Path(id): Path<String>,
) -> JsonResult {
    decide(st, key, id, false).await
}

/// `GET /admin/audit?after=&limit=`: a page of the log, oldest first;
/// `next` is the `after` of the next page (an opaque cursor).
pub async fn admin_audit(
    State(st): State<AppState>,
    _: AdminKey,
    Query(q): Query<HashMap<String, String>>,
) -> JsonResult {
    let after = match q.get("after") {
        None => AuditCursor::START,
        Some(s) => AuditCursor::parse(s)
            .ok_or_else(|| GatewayError::BadRequest(format!("`after` is not a cursor: {s:?}")))?,
    };
    let limit = q
        .get("limit")
        .and_then(|s| s.parse::<u32>().ok())
        .unwrap_or(500)
        .clamp(1, 5000);
    let page = st.store.audit_page(after, limit).await?;
    Ok(Json(
        json!({"data": page.rows, "next": page.next.to_string()}),
    ))
}

/// This module's routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .route("/iap/sdk/bootstrap", post(bootstrap))
        .route("/iap/sdk/resolve-user", post(resolve_user))
        .route("/iap/audit", post(report))
        .route("/iap/plans/{id}/status", post(plan_status))
        .route("/mcp/tool-metadata/{mcp}", get(tool_metadata))
        .route("/delegation/request", post(delegation_request))
        .route("/delegation/check-approved", get(check_approved))
        .route("/delegation/my-role", get(my_role))
        .route("/delegation/mark-executed", post(mark_executed))
        .route("/delegation/{id}/status", get(delegation_status))
        .route("/admin/delegations", get(admin_list))
        .route("/admin/delegations/{id}/approve", post(admin_approve))
        .route("/admin/delegations/{id}/reject", post(admin_reject))
        .route("/admin/audit", get(admin_audit))
}
