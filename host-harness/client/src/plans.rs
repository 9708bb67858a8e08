//! Plan lifecycle: `revoke` and `update_plan_status`.

use crate::client::ArmorIQClient;
use crate::error::{ArmorIqError, Result};
use crate::http::{self, Body};
use crate::token::IntentToken;
use crate::util::urlenc;
use serde_json::Value;
use std::time::Duration;

impl ArmorIQClient {
    /// `revoke(token, reason, cascade, plan_id, intent_reference)`:
    /// `POST {backend}/iap/trust/revoke` (Bearer only, retried, 10 s); the
    /// plan's tokens stop working at the proxy.
    ///
    /// # Errors
    /// `Delegation` (with the status) when the backend refuses or cannot be
    /// reached.
    pub async fn revoke(
        &self,
        token: &IntentToken,
        reason: &str,
        cascade: bool,
        plan_id: Option<&str>,
        intent_reference: Option<&str>,
    ) -> Result<Value> {
        let fail = |m: String, status: Option<u16>| ArmorIqError::Delegation {
            message: format!("Revoke failed for {}: {m}", token.token_id),
            status,
        };
        let csrg = serde_json::to_string(&token.raw_token.token).unwrap_or_else(|_| "{}".into());
        let body = Body::new()
            .raw("token", &csrg)
            .put("reason", &reason)
            .put("cascade", &cascade)
            .put("planId", &plan_id.or(token.plan_id.as_deref()))
            .put("intentReference", &intent_reference)
            .finish();
        let url = format!("{}/iap/trust/revoke", self.inner.backend);
        let r = http::retry_post(
            &self.inner.http,
            &url,
            &[],
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            Some(Duration::from_secs(10)),
        )
        .await
        .map_err(|e| fail(e.message, None))?;
        if r.status >= 400 {
            return Err(fail(r.text.clone(), Some(r.status)));
        }
        r.json()
            .ok_or_else(|| fail("the answer is not JSON".into(), Some(r.status)))
    }

    /// `complete_plan(plan_id)`: `update_plan_status(plan_id, "completed")`.
    pub async fn complete_plan(&self, plan_id: &str) {
        self.update_plan_status(plan_id, "completed").await;
    }

    /// `update_plan_status(plan_id, status)` (retried; errors ignored).
    pub async fn update_plan_status(&self, plan_id: &str, status: &str) {
        let url = format!(
            "{}/iap/plans/{}/status",
            self.inner.backend,
            urlenc(plan_id)
        );
        let body = Body::new().put("status", &status).finish();
        let _ = http::retry_post(
            &self.inner.http,
            &url,
            &[
                self.key_header(),
                ("Idempotency-Key", format!("plan-status:{plan_id}:{status}")),
            ],
            &body,
            self.inner.opts.max_retries,
            self.inner.opts.backoff,
            None,
        )
        .await;
    }
}
