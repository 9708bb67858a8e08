//! One way to audit a decision: every route that audits its decisions
//! (mint, invoke, enforce, delegate, reanchor) keeps an [`Audit`] for the
//! request and sends every refusal through [`Audit::refuse`], which writes
//! the row (outcome from the error kind, [`GatewayError::outcome`]) before
//! the error is answered.
//!
//! Every other route's refusals, an extractor's 401 included, are audited
//! by one middleware on every matched route, [`audit_refusals`]: a refusal
//! response carries its [`Refusal`] (set where [`GatewayError`] becomes a
//! response), and a response the handler audited itself carries
//! [`Audited`].

use crate::error::{GatewayError, GwResult};
use crate::store::AuditRow;
use crate::{AppState, now_ms};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Instant;

/// What a refusal response refused: its audit outcome and reason.
#[derive(Clone, Debug)]
pub struct Refusal {
    /// [`GatewayError::outcome`].
    pub outcome: &'static str,
    /// [`GatewayError::reason`].
    pub reason: String,
}

impl Refusal {
    /// The refusal `e` is.
    pub fn of(e: &GatewayError) -> Self {
        Self {
            outcome: e.outcome(),
            reason: e.reason(),
        }
    }
}

/// Marks a response whose decision (refusal or not) its handler audited.
#[derive(Clone, Copy, Debug)]
pub struct Audited;

/// `response`, marked [`Audited`].
pub fn audited(mut response: Response) -> Response {
    response.extensions_mut().insert(Audited);
    response
}

/// Middleware (a route layer on every route of both listeners and the
/// console): a refusal that its handler did not audit is audited here,
/// under the matched route, before it is answered. When the row cannot be
/// written the answer is the store's 503: nothing is refused unaudited.
pub async fn audit_refusals(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let t0 = Instant::now();
    // A cheap handle (the router's shared path): its text is copied only
    // for a refusal, never on the hot path of an answered call.
    let matched = req.extensions().get::<MatchedPath>().cloned();
    let mut response = next.run(req).await;
    if response.extensions().get::<Audited>().is_some() {
        return response;
    }
    let Some(refusal) = response.extensions_mut().remove::<Refusal>() else {
        return response;
    };
    let row = AuditRow {
        at_ms: now_ms(),
        route: matched.map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned()),
        outcome: refusal.outcome.into(),
        reason: Some(refusal.reason),
        latency_us: elapsed_us(t0),
        ..Default::default()
    };
    match st.audit(row).await {
        Ok(_) => response,
        Err(e) => e.into_response(),
    }
}

/// Microseconds since `t0`.
pub fn elapsed_us(t0: Instant) -> i64 {
    i64::try_from(t0.elapsed().as_micros()).unwrap_or(i64::MAX)
}

/// The audit row of one request, filled in as the request is understood.
pub struct Audit {
    /// The row (route, identity, plan, tool, ...); outcome and times are set
    /// when it is written.
    pub row: AuditRow,
    /// When the request started.
    pub t0: Instant,
    /// The id of the row once written: a later failure updates it.
    pub written: Option<i64>,
    /// The written row's decision, not yet counted in `/metrics` (counted
    /// by [`Audit::finish`] with the outcome that stands).
    pub uncounted: Option<crate::metrics::Decision>,
}

impl Audit {
    /// A row for `route`, timed from now.
    pub fn new(route: &str) -> Self {
        Self {
            row: AuditRow {
                route: route.into(),
                ..Default::default()
            },
            t0: Instant::now(),
            written: None,
            uncounted: None,
        }
    }

    /// The row as it would be written with `outcome` and `reason` now.
    pub fn row_with(&self, outcome: &str, reason: Option<String>) -> AuditRow {
        let mut row = self.row.clone();
        row.outcome = outcome.to_owned();
        row.reason = reason;
        row.at_ms = now_ms();
        row.latency_us = elapsed_us(self.t0);
        row
    }

    /// Writes the row with `outcome` and waits until it is durable; when it
    /// was written already, records a different outcome in it instead.
    ///
    /// # Errors
    /// The store's error: no response goes out unaudited.
    pub async fn finish(
        &mut self,
        st: &AppState,
        outcome: &str,
        reason: Option<String>,
    ) -> GwResult<()> {
        if let Some(id) = self.written {
            let revised = outcome != self.row.outcome;
            if revised {
                st.store
                    .audit_update(id, outcome, reason.as_deref(), elapsed_us(self.t0))
                    .await?;
            }
            if let Some(d) = self.uncounted.take() {
                st.metrics.count(if revised {
                    st.metrics.revise(d, outcome)
                } else {
                    d
                });
            }
            return Ok(());
        }
        let row = self.row_with(outcome, reason);
        self.row.outcome = row.outcome.clone();
        self.written = Some(st.audit(row).await?);
        Ok(())
    }

    /// Audits the refusal `err` and gives it back to be answered (or the
    /// store's error, when the row cannot be written).
    pub async fn refuse(&mut self, st: &AppState, err: GatewayError) -> GatewayError {
        match self.finish(st, err.outcome(), Some(err.reason())).await {
            Ok(()) => err,
            Err(e) => e,
        }
    }

    /// Audits the refusal `err` and answers it, marked [`Audited`].
    pub async fn refuse_response(&mut self, st: &AppState, err: GatewayError) -> Response {
        audited(self.refuse(st, err).await.into_response())
    }

    /// Audits `result` (its outcome and reason, or the refusal), then gives
    /// it back to be answered.
    ///
    /// # Errors
    /// The refusal, or the store's error.
    pub async fn settle<T>(
        &mut self,
        st: &AppState,
        result: GwResult<(T, String, Option<String>)>,
    ) -> GwResult<T> {
        match result {
            Ok((v, outcome, reason)) => {
                self.finish(st, &outcome, reason).await?;
                Ok(v)
            }
            Err(e) => Err(self.refuse(st, e).await),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::builder::GatewayBuilder;
    use crate::policy::Policy;
    use crate::store::{AuditCursor, AuditRow, Role};
    use armoriq_common::yaml::PolicyLists;
    use std::io::{Read, Write};
    use std::net::TcpStream;

    const KEY: &str = "ak_test_0123456789abcdef0123456789abcdef";

    /// One request over a fresh connection: the status.
    fn post(port: u16, path: &str, key: Option<&str>, body: &str) -> u16 {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let mut req = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        );
        if let Some(k) = key {
            req.push_str(&format!("X-API-Key: {k}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out.split(' ').nth(1).unwrap().parse().unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_refusal_on_every_route_is_audited() {
        let dir = std::env::temp_dir().join(format!(
            "armoriq-audit-test-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let built = GatewayBuilder::new()
            .state_dir(&dir)
            .no_config()
            .first_api_key(KEY, Role::Agent)
            .build()
            .await
            .unwrap();
        let gw = built.gateway;
        let lists = PolicyLists {
            allow: Vec::new(),
            deny: vec!["x.delete_records".into()],
        };
        gw.set_policy(Policy::new(lists, None).unwrap());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(axum::serve(listener, crate::app(gw.clone())).into_future());

        let cases: &[(&str, Option<&str>, &str, u16, &str)] = &[
            ("/iap/sdk/token", None, "{}", 401, "unauthorized"),
            (
                "/iap/sdk/token",
                Some("ak_test_nope"),
                "{}",
                401,
                "unauthorized",
            ),
            (
                "/iap/sdk/token",
                Some(KEY),
                "{\"plan\": ",
                400,
                "bad_request",
            ),
            ("/iap/sdk/token", Some(KEY), "", 400, "bad_request"),
            (
                "/iap/sdk/token",
                Some(KEY),
                r#"{"plan": {"steps": [{"mcp": "x"}]}}"#,
                400,
                "invalid_plan",
            ),
            (
                "/iap/sdk/token",
                Some(KEY),
                r#"{"plan": {"steps": [{"mcp": "x", "action": "y"}]}, "expires_in": -5}"#,
                400,
                "bad_request",
            ),
            (
                "/iap/sdk/token",
                Some(KEY),
                r#"{"plan": {"steps": [{"mcp": "x", "action": "delete_records"}]}}"#,
                403,
                "denied",
            ),
            (
                "/iap/sdk/token",
                Some(KEY),
                r#"{"plan": {"steps": [{"mcp": "x", "action": "y"}]}}"#,
                200,
                "minted",
            ),
            ("/invoke", None, "{}", 401, "unauthorized"),
            ("/invoke", Some(KEY), r#"{"mcp": 5}"#, 400, "bad_request"),
            (
                "/invoke",
                Some(KEY),
                r#"{"mcp": "x", "action": "y"}"#,
                401,
                "invalid",
            ),
            ("/iap/sdk/enforce", None, "{}", 401, "unauthorized"),
            // Every other route's refusals, by the one middleware.
            ("/iap/trust/delegate", None, "{}", 401, "unauthorized"),
            ("/iap/trust/reanchor", None, "{}", 401, "unauthorized"),
            (
                "/iap/trust/revoke",
                Some("ak_test_nope"),
                "{}",
                401,
                "unauthorized",
            ),
            (
                "/admin/delegations/x/approve",
                Some(KEY),
                "",
                403,
                "unauthorized",
            ),
            (
                "/delegation/request",
                Some(KEY),
                "{\"tool\": 5}",
                400,
                "bad_request",
            ),
        ];
        for (i, (path, key, body, status, outcome)) in cases.iter().enumerate() {
            let before = gw
                .store
                .audit_page(AuditCursor::START, 10_000)
                .await
                .unwrap();
            let (path, key, body) = (path.to_string(), key.map(str::to_owned), body.to_string());
            let got = tokio::task::spawn_blocking(move || post(port, &path, key.as_deref(), &body))
                .await
                .unwrap();
            assert_eq!(got, *status, "case {i}");
            let rows: Vec<AuditRow> = gw.store.audit_page(before.next, 10_000).await.unwrap().rows;
            let outcomes: Vec<&str> = rows.iter().map(|r| r.outcome.as_str()).collect();
            assert_eq!(outcomes, [*outcome], "case {i}: one audit row");
            let route = match cases[i].0 {
                "/iap/sdk/token" => "token",
                "/invoke" => "invoke",
                "/iap/sdk/enforce" => "enforce",
                "/admin/delegations/x/approve" => "/admin/delegations/{id}/approve",
                other => other,
            };
            assert_eq!(rows[0].route, route, "case {i}");
            if *outcome == "denied" {
                assert_eq!(rows[0].tool.as_deref(), Some("delete_records"));
                assert!(
                    rows[0]
                        .reason
                        .as_deref()
                        .unwrap()
                        .contains("delete_records")
                );
            }
        }
        server.abort();
        drop(gw);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
