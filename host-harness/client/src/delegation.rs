//! Delegation calls: request, check-approved, status, mark-executed, my-role.

use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use crate::http::{self, Body};
use crate::util::urlenc;
use serde_json::Value;
use std::time::Duration;

/// `DelegationRequestParams`, serialized by alias in the model's field
/// order with missing members left out.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DelegationRequestParams {
    /// The tool.
    pub tool: String,
    /// The action (`execute` from `invoke_with_policy`, the tool from a session).
    pub action: String,
    /// The call's arguments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    /// The amount (a float).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<f64>,
    /// The requester.
    #[serde(rename = "requesterEmail")]
    pub requester_email: String,
    /// The requester's role.
    #[serde(rename = "requesterRole", skip_serializing_if = "Option::is_none")]
    pub requester_role: Option<String>,
    /// The requester's limit (a float).
    #[serde(rename = "requesterLimit", skip_serializing_if = "Option::is_none")]
    pub requester_limit: Option<f64>,
    /// The MCP (or the domain from the proxy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `targetUrl`.
    #[serde(rename = "targetUrl", skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
    /// `planId`.
    #[serde(rename = "planId", skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    /// `intentReference`.
    #[serde(rename = "intentReference", skip_serializing_if = "Option::is_none")]
    pub intent_reference: Option<String>,
    /// `merkleRoot`.
    #[serde(rename = "merkleRoot", skip_serializing_if = "Option::is_none")]
    pub merkle_root: Option<String>,
    /// Why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl ArmorIQClient {
    pub(crate) fn email_headers(&self, email: &str) -> Vec<(&'static str, String)> {
        vec![self.key_header(), ("X-User-Email", email.to_owned())]
    }

    /// `create_delegation_request(params)`: `POST {backend}/delegation/request`
    /// with `X-User-Email` and an `Idempotency-Key: deleg-<ms>-<8 hex>`.
    ///
    /// # Errors
    /// `Delegation` on ≥ 400 or a transport error.
    pub async fn create_delegation_request(
        &self,
        params: &DelegationRequestParams,
        email: &str,
    ) -> Result<Value> {
        let mut headers = self.email_headers(email);
        let ms = armoriq_common::time::now_ms();
        headers.push((
            "Idempotency-Key",
            format!(
                "deleg-{ms}-{}",
                &uuid::Uuid::new_v4().simple().to_string()[..8]
            ),
        ));
        let url = format!("{}/delegation/request", self.inner.backend);
        let body = serde_json::to_string(params).unwrap_or_else(|_| "{}".into());
        let r = self
            .inner
            .http
            .send("POST", &url, &headers, Some(&body), None)
            .await
            .map_err(|e| ArmorIqError::Delegation {
                message: format!("Delegation request failed: {e}"),
                status: None,
            })?;
        if r.status >= 400 {
            return Err(ArmorIqError::Delegation {
                message: format!("Delegation request failed: {} {}", r.status, r.text),
                status: None,
            });
        }
        r.json().ok_or_else(|| ArmorIqError::Delegation {
            message: "Delegation request: the answer is not JSON".into(),
            status: None,
        })
    }

    /// `check_approved_delegation(email, tool, amount, plan_id)`; errors give `None`.
    pub async fn check_approved_delegation(
        &self,
        email: &str,
        tool: &str,
        amount: Option<f64>,
        plan_id: Option<&str>,
    ) -> Option<Value> {
        let mut q = format!("tool={}", urlenc(tool));
        if let Some(a) = amount {
            q.push_str(&format!(
                "&amount={}",
                serde_json::to_string(&a).unwrap_or_default()
            ));
        }
        if let Some(p) = plan_id {
            q.push_str(&format!("&planId={}", urlenc(p)));
        }
        let url = format!("{}/delegation/check-approved?{q}", self.inner.backend);
        self.inner
            .http
            .send("GET", &url, &self.email_headers(email), None, None)
            .await
            .ok()
            .filter(|r| r.status < 400)
            .and_then(|r| r.json())
    }

    /// `get_delegation_status(id)`: `{status}`.
    ///
    /// # Errors
    /// `Delegation` (with the status) on ≥ 400 or a transport error.
    pub async fn get_delegation_status(&self, id: &str) -> Result<Value> {
        let url = format!("{}/delegation/{}/status", self.inner.backend, urlenc(id));
        let r = self
            .inner
            .http
            .send(
                "GET",
                &url,
                &[self.key_header()],
                None,
                Some(Duration::from_secs(10)),
            )
            .await
            .map_err(|e| ArmorIqError::Delegation {
                message: format!("Failed to get delegation status: {e}"),
                status: None,
            })?;
        if r.status >= 400 {
            return Err(ArmorIqError::Delegation {
                message: format!("Failed to get delegation status: {} {}", r.status, r.text),
                status: Some(r.status),
            });
        }
        r.json().ok_or_else(|| ArmorIqError::Delegation {
            message: "delegation status: the answer is not JSON".into(),
            status: Some(r.status),
        })
    }

    /// `mark_delegation_executed(id, email, plan_id)` (retried; errors ignored).
    pub async fn mark_delegation_executed(&self, id: &str, email: &str, plan_id: Option<&str>) {
        let mut headers = self.email_headers(email);
        headers.push(("Idempotency-Key", format!("mark-exec:{id}")));
        let body = Body::new()
            .put("delegationId", &id)
            .opt("planId", plan_id.as_ref())
            .finish();
        let url = format!("{}/delegation/mark-executed", self.inner.backend);
        let _ = http::retry_post(
            &self.inner.http,
            &url,
            &headers,
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            None,
        )
        .await;
    }

    /// `_resolve_user_role(email)`: `(role, limit)`, else `("agent_user", 0)`.
    pub async fn resolve_user_role(&self, email: &str) -> (String, f64) {
        let url = format!("{}/delegation/my-role", self.inner.backend);
        self.inner
            .http
            .send(
                "GET",
                &url,
                &self.email_headers(email),
                None,
                Some(Duration::from_secs(5)),
            )
            .await
            .ok()
            .filter(|r| r.status < 400)
            .and_then(|r| r.json())
            .map_or(("agent_user".into(), 0.0), |v| {
                (
                    v.get("role")
                        .and_then(Value::as_str)
                        .unwrap_or("agent_user")
                        .to_owned(),
                    v.get("limit").and_then(Value::as_f64).unwrap_or(0.0),
                )
            })
    }
}
