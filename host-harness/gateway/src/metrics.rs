//! `GET /metrics`: what an operator graphs and alerts on, in the Prometheus
//! text format (OpenMetrics 1.0), from the Prometheus project's own client
//! (`prometheus-client`: typed label sets, and a registry per gateway rather
//! than a process-wide one, so two gateways in one process count apart).
//!
//! Every series carries the gateway's `node`. Label values are bounded: a
//! route is a matched route pattern, an outcome an audit outcome, an MCP
//! server one of `armoriq.yaml`'s (else `_unknown`), and a tool name one of
//! the first [`TOOL_LABELS`] seen (later ones are `_other`). No plan id,
//! user, argument or other request text becomes a label.
//!
//! Decisions on calls are counted once their audit rows are durable, with
//! the outcome that stands (an allowed call whose upstream fails is counted
//! `mcp_error`, as its row says), so a scrape and the audit log agree. A
//! person's approval or rejection is counted apart, in
//! `armoriq_approval_decisions_total`.

use crate::store::{AuditRow, StoreError};
use crate::{AppState, now_ms};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::{EncodeLabelSet, EncodeLabelValue};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::borrow::Cow;
use std::collections::HashSet;
use std::future::Future;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use tracing::Instrument;

/// Distinct tool names kept as label values; later ones count as `_other`.
pub const TOOL_LABELS: usize = 256;
/// Distinct outcomes and routes kept as label values (both come from code;
/// the bound only guards against a bug).
const CODE_LABELS: usize = 128;
/// Longest label value kept as it is; a longer one is `_other`.
const LABEL_LEN: usize = 128;
/// How long a scrape waits for the store's answer before reporting it down.
const STORE_PROBE: Duration = Duration::from_secs(2);

/// Latency buckets (seconds): 50 µs to 10 s.
const BUCKETS: [f64; 17] = [
    0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
    1.0, 2.5, 5.0, 10.0,
];

fn histogram() -> Histogram {
    Histogram::new(BUCKETS)
}

/// A step of checking and forwarding one call, timed on its own.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelValue)]
#[allow(non_camel_case_types)]
pub enum Stage {
    /// Token signature and lifetime, the signed plan, the step's proof.
    intent_check,
    /// The policy decision (allow, hold, block, approvals).
    policy,
    /// The verifier device's check (`serve --device`).
    device,
    /// One audit row made durable.
    store_write,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    stage: Stage,
}

#[derive(Clone, Debug, Default, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DecisionLabels {
    route: String,
    outcome: String,
    tool: String,
    mcp_server: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    mcp_server: String,
    result: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApprovalLabels {
    decision: &'static str,
    surface: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BuildLabels {
    version: &'static str,
}

/// A decision's series, taken from its row before the row is written.
#[derive(Default)]
pub struct Decision {
    labels: DecisionLabels,
    device: Option<&'static str>,
}

/// The kinds of device verdict (and of its absence).
const DEVICE_VERDICTS: [&str; 6] = [
    "accepted",
    "refused",
    "receipt_invalid",
    "queue_full",
    "timeout",
    "unreachable",
];

/// The kind of a row's device verdict ("accepted #7", "refused: …",
/// "receipt_invalid: …", "queue_full", "timeout", "unreachable: …").
fn device_verdict(v: &str) -> &'static str {
    DEVICE_VERDICTS
        .into_iter()
        .find(|k| {
            v.strip_prefix(k)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', ':']))
        })
        .unwrap_or("other")
}

/// Keeps the first `cap` distinct values of one label; the rest are `_other`.
struct Bounded {
    seen: RwLock<HashSet<String>>,
    cap: usize,
}

impl Bounded {
    fn new(cap: usize) -> Self {
        Self {
            seen: RwLock::new(HashSet::new()),
            cap,
        }
    }

    fn label(&self, v: &str) -> String {
        if v.len() > LABEL_LEN || v.chars().any(char::is_control) {
            return "_other".into();
        }
        let known = match self.seen.read() {
            Ok(s) => s.contains(v),
            Err(e) => e.into_inner().contains(v),
        };
        if known {
            return v.to_owned();
        }
        let mut seen = match self.seen.write() {
            Ok(s) => s,
            Err(e) => e.into_inner(),
        };
        if seen.contains(v) {
            return v.to_owned();
        }
        if seen.len() >= self.cap {
            return "_other".into();
        }
        seen.insert(v.to_owned());
        v.to_owned()
    }
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    decisions: Family<DecisionLabels, Counter>,
    stages: Family<StageLabels, Histogram, fn() -> Histogram>,
    upstream: Family<UpstreamLabels, Histogram, fn() -> Histogram>,
    requests: Family<RequestLabels, Histogram, fn() -> Histogram>,
    store_errors: Family<KindLabels, Counter>,
    approvals: Family<ApprovalLabels, Counter>,
    store_up: Gauge,
    pending_approvals: Gauge,
    device_queue: Gauge,
    device_verdicts: Family<KindLabels, Counter>,
    on: bool,
    tools: Bounded,
    outcomes: Bounded,
    routes: Bounded,
    servers: HashSet<String>,
}

impl Metrics {
    /// The metrics of the gateway `node` whose MCP servers are `servers`,
    /// with the token cache's counters `token_hits` / `token_misses`.
    pub fn new(node: &str, servers: &[String], token_hits: Counter, token_misses: Counter) -> Self {
        Self::with_switch(node, servers, token_hits, token_misses, true)
    }

    /// [`Metrics::new`]; when `on` is false nothing is recorded.
    pub fn with_switch(
        node: &str,
        servers: &[String],
        token_hits: Counter,
        token_misses: Counter,
        on: bool,
    ) -> Self {
        let mut registry = Registry::with_prefix_and_labels(
            "armoriq",
            [(Cow::Borrowed("node"), Cow::Owned(node.to_owned()))].into_iter(),
        );
        let m = Self {
            decisions: Family::default(),
            stages: Family::new_with_constructor(histogram),
            upstream: Family::new_with_constructor(histogram),
            requests: Family::new_with_constructor(histogram),
            store_errors: Family::default(),
            approvals: Family::default(),
            store_up: Gauge::default(),
            pending_approvals: Gauge::default(),
            device_queue: Gauge::default(),
            device_verdicts: Family::default(),
            tools: Bounded::new(TOOL_LABELS),
            outcomes: Bounded::new(CODE_LABELS),
            routes: Bounded::new(CODE_LABELS),
            servers: servers.iter().cloned().collect(),
            on,
            registry: Registry::default(),
        };
        registry.register(
            "decisions",
            "Decisions on calls, counted once their audit rows are durable, by route, outcome (the one that stands), tool and MCP server",
            m.decisions.clone(),
        );
        registry.register(
            "stage_seconds",
            "Time spent in one step of a call: intent_check (token, signed plan, step proof), \
             policy, device, store_write (one audit row made durable)",
            m.stages.clone(),
        );
        registry.register(
            "upstream_seconds",
            "MCP tools/call round trips to the upstream server, by server and result",
            m.upstream.clone(),
        );
        registry.register(
            "http_request_seconds",
            "Requests answered, by matched route and status",
            m.requests.clone(),
        );
        registry.register(
            "store_errors",
            "Store operations that failed, by kind (unavailable, conflict, corrupt, other)",
            m.store_errors.clone(),
        );
        registry.register(
            "store_up",
            "1 when the store answered the last scrape's query within 2 s, else 0",
            m.store_up.clone(),
        );
        registry.register(
            "approval_decisions",
            "Held calls approved or rejected by a person through this gateway, by decision and \
             surface (admin: the JSON route; console); `armoriq approve` runs in its own process",
            m.approvals.clone(),
        );
        registry.register(
            "pending_approvals",
            "Held calls waiting for a person's decision (unexpired)",
            m.pending_approvals.clone(),
        );
        registry.register(
            "token_cache_hits",
            "Intent tokens found verified in the cache",
            token_hits,
        );
        registry.register(
            "token_cache_misses",
            "Intent tokens verified in full (not in the cache)",
            token_misses,
        );
        registry.register(
            "device_queue_depth",
            "Calls waiting for the verifier device (serve --device)",
            m.device_queue.clone(),
        );
        registry.register(
            "device_verdicts",
            "Calls checked on the verifier device, by verdict (accepted, refused, receipt_invalid) \
             or why there was none (queue_full, timeout, unreachable)",
            m.device_verdicts.clone(),
        );
        // Known label values start at 0, so a rate over them exists before
        // the first event (and the series are listed from the first scrape).
        for kind in ["unavailable", "conflict", "corrupt"] {
            let _ = m.store_errors.get_or_create(&KindLabels { kind });
        }
        for decision in ["approved", "rejected"] {
            for surface in ["admin", "console"] {
                let _ = m
                    .approvals
                    .get_or_create(&ApprovalLabels { decision, surface });
            }
        }
        for kind in DEVICE_VERDICTS {
            let _ = m.device_verdicts.get_or_create(&KindLabels { kind });
        }
        let build: Family<BuildLabels, Gauge> = Family::default();
        build
            .get_or_create(&BuildLabels {
                version: env!("CARGO_PKG_VERSION"),
            })
            .set(1);
        registry.register("build_info", "The gateway's version (value 1)", build);
        Self { registry, ..m }
    }

    /// What will be counted once the decision `row` records is durable.
    pub fn decision(&self, row: &AuditRow) -> Decision {
        if !self.on {
            return Decision::default();
        }
        Decision {
            labels: DecisionLabels {
                route: self.routes.label(&row.route),
                outcome: self.outcomes.label(&row.outcome),
                tool: row
                    .tool
                    .as_deref()
                    .map_or_else(String::new, |t| self.tools.label(t)),
                mcp_server: self.server(row.mcp.as_deref()),
            },
            device: row.device_verdict.as_deref().map(device_verdict),
        }
    }

    /// `d` with the outcome its row was changed to.
    pub fn revise(&self, mut d: Decision, outcome: &str) -> Decision {
        d.labels.outcome = self.outcomes.label(outcome);
        d
    }

    /// Counts a decision whose row is durable.
    pub fn count(&self, d: Decision) {
        if !self.on {
            return;
        }
        self.decisions.get_or_create(&d.labels).inc();
        if let Some(kind) = d.device {
            self.device_verdicts
                .get_or_create(&KindLabels { kind })
                .inc();
        }
    }

    fn server(&self, mcp: Option<&str>) -> String {
        match mcp {
            None => String::new(),
            Some(m) if self.servers.contains(m) => m.to_owned(),
            Some(_) => "_unknown".into(),
        }
    }

    /// Counts a person's decision on a held call, made through `surface`.
    pub fn approval(&self, approve: bool, surface: &'static str) {
        let decision = if approve { "approved" } else { "rejected" };
        self.approvals
            .get_or_create(&ApprovalLabels { decision, surface })
            .inc();
    }

    /// Records `how_long` for `stage`.
    pub fn stage(&self, stage: Stage, how_long: Duration) {
        if !self.on {
            return;
        }
        self.stages
            .get_or_create(&StageLabels { stage })
            .observe(how_long.as_secs_f64());
    }

    /// Records one upstream round trip.
    pub fn upstream(&self, mcp: &str, ok: bool, how_long: Duration) {
        if !self.on {
            return;
        }
        let labels = UpstreamLabels {
            mcp_server: self.server(Some(mcp)),
            result: if ok { "ok" } else { "error" },
        };
        self.upstream
            .get_or_create(&labels)
            .observe(how_long.as_secs_f64());
    }

    /// Counts a failed store operation.
    pub fn store_error(&self, e: &StoreError) {
        let kind = match e {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Conflict(_) => "conflict",
            StoreError::Corrupt(_) => "corrupt",
        };
        self.store_errors.get_or_create(&KindLabels { kind }).inc();
    }

    /// Runs the future `f` as step `stage`: in its own span, timed.
    pub async fn timed<F: Future>(&self, stage: Stage, f: F) -> F::Output {
        if !self.on && !crate::telemetry::enabled() {
            return f.await;
        }
        let span = tracing::debug_span!("stage", otel.name = %format_args!("{stage:?}"));
        let t0 = Instant::now();
        let out = f.instrument(span).await;
        self.stage(stage, t0.elapsed());
        out
    }

    /// The registry as OpenMetrics text.
    fn encode(&self) -> String {
        let mut out = String::with_capacity(16 * 1024);
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Where `/metrics` is served and who may read it (`serve --metrics`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum MetricsAccess {
    /// On the backend listener, to anyone who reaches it (the default, as
    /// exporters usually are: bind the backend to a private address).
    #[default]
    Open,
    /// On the backend listener, to admin API keys only.
    Admin,
    /// On its own listener at this address only (not on the backend's).
    Listen(std::net::SocketAddr),
    /// Not served, and nothing recorded (to measure what metrics cost).
    Off,
}

impl std::str::FromStr for MetricsAccess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Self::Open),
            "admin" => Ok(Self::Admin),
            "off" => Ok(Self::Off),
            other => other.parse().map(Self::Listen).map_err(|_| {
                format!("--metrics: expected open, admin, off or an address such as 127.0.0.1:9464, got {other:?}")
            }),
        }
    }
}

/// `GET /metrics`.
pub async fn serve(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if st.settings.metrics == MetricsAccess::Admin
        && let Err(e) = st.authenticate_admin(&headers).await
    {
        return e.into_response();
    }
    scrape(&st).await
}

/// `GET /metrics` on its own listener (`--metrics ADDR`).
pub async fn serve_own(State(st): State<AppState>) -> Response {
    scrape(&st).await
}

/// Reads the values only known by asking (the store, the device), then
/// encodes everything.
async fn scrape(st: &AppState) -> Response {
    let m = &st.metrics;
    let pending =
        tokio::time::timeout(STORE_PROBE, st.store.count_pending_delegations(now_ms())).await;
    match pending {
        Ok(Ok(n)) => {
            m.store_up.set(1);
            m.pending_approvals
                .set(i64::try_from(n).unwrap_or(i64::MAX));
        }
        Ok(Err(e)) => {
            m.store_error(&e);
            m.store_up.set(0);
        }
        Err(_) => {
            m.store_error(&StoreError::Unavailable("scrape probe timed out".into()));
            m.store_up.set(0);
        }
    }
    if let Some(link) = st.device.get() {
        m.device_queue
            .set(i64::try_from(link.queued()).unwrap_or(i64::MAX));
    }
    let mut r = (StatusCode::OK, m.encode()).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    r
}

/// Middleware on every matched route: a span per request (its parent the
/// caller's W3C `traceparent` when traces are on) and the request's
/// latency by route and status.
pub async fn observe(State(st): State<AppState>, req: Request, next: Next) -> Response {
    if !st.metrics.on && !crate::telemetry::enabled() {
        return next.run(req).await;
    }
    let t0 = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "(unmatched)".to_owned(), |p| p.as_str().to_owned());
    let span = tracing::debug_span!(
        "request",
        otel.name = %format_args!("{} {route}", req.method()),
        otel.kind = "server",
        http.request.method = %req.method(),
        http.route = %route,
        http.response.status_code = tracing::field::Empty,
    );
    crate::telemetry::set_parent(&span, req.headers());
    let response = next.run(req).instrument(span.clone()).await;
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    st.metrics
        .requests
        .get_or_create(&RequestLabels {
            route: st.metrics.routes.label(&route),
            status,
        })
        .observe(t0.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_stay_bounded() {
        let b = Bounded::new(2);
        assert_eq!(b.label("a"), "a");
        assert_eq!(b.label("b"), "b");
        assert_eq!(b.label("c"), "_other");
        assert_eq!(b.label("a"), "a");
        assert_eq!(b.label(&"x".repeat(LABEL_LEN + 1)), "_other");
        assert_eq!(b.label("new\nline"), "_other");
    }

    #[test]
    fn a_decision_is_one_series_sample_and_unknown_servers_are_not_labels() {
        let m = Metrics::new(
            "n1",
            &["weather".into()],
            Counter::default(),
            Counter::default(),
        );
        for mcp in ["weather", "weather", "attacker-chosen-name"] {
            let d = m.decision(&AuditRow {
                route: "invoke".into(),
                outcome: "allowed".into(),
                tool: Some("get_weather".into()),
                mcp: Some(mcp.into()),
                device_verdict: Some("accepted #3".into()),
                ..Default::default()
            });
            m.count(d);
        }
        let text = m.encode();
        assert!(text.contains(
            "armoriq_decisions_total{node=\"n1\",route=\"invoke\",outcome=\"allowed\",tool=\"get_weather\",mcp_server=\"weather\"} 2"
        ), "{text}");
        assert!(text.contains("mcp_server=\"_unknown\"} 1"), "{text}");
        assert!(!text.contains("attacker-chosen-name"));
        assert!(text.contains("armoriq_device_verdicts_total{node=\"n1\",kind=\"accepted\"} 3"));
        assert!(text.contains("armoriq_build_info{node=\"n1\",version=\""));
        assert!(text.ends_with("# EOF\n"));
    }
}
