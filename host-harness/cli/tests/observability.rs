//! Issue 30 end to end: `GET /metrics` after a scripted run agrees with the
//! audit log exactly (allowed, held, blocked, mismatched, expired, refused
//! calls, made with the unmodified official Python SDK and raw HTTP against
//! `armoriq serve` and a real MCP server), on SQLite and PostgreSQL; who may
//! read it (`--metrics open|admin|ADDR`); and traces: a real OTLP/HTTP
//! receiver in the test, decoding with the official protobuf definitions
//! (`opentelemetry-proto`), gets the span tree of one call, whose trace id
//! and upstream span reach the MCP server in `_meta` and in the HTTP header.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use armoriq_gateway::store::{AuditCursor, AuditRow};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[macro_use]
mod common;
use common::free_port;
use common::gateway::{Backend, Gateway, MCP, exception, python};
use common::http::http;

on_both_backends!(metrics_agree_with_the_audit_log);

/// One sample of the scrape: its labels and value.
#[derive(Debug)]
struct Sample {
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses the OpenMetrics text into samples by metric name.
fn parse(text: &str) -> BTreeMap<String, Vec<Sample>> {
    let mut out: BTreeMap<String, Vec<Sample>> = BTreeMap::new();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = match line.find('{') {
            Some(i) => (&line[..i], &line[i + 1..]),
            None => {
                let (n, v) = line.split_once(' ').unwrap();
                out.entry(n.into()).or_default().push(Sample {
                    labels: BTreeMap::new(),
                    value: v.parse().unwrap(),
                });
                continue;
            }
        };
        let mut labels = BTreeMap::new();
        let mut chars = rest.chars().peekable();
        loop {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert_eq!(chars.next(), Some('"'), "{line}");
            let mut val = String::new();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => match chars.next() {
                        Some('n') => val.push('\n'),
                        Some(o) => val.push(o),
                        None => {}
                    },
                    '"' => break,
                    c => val.push(c),
                }
            }
            labels.insert(key.trim_start_matches(',').to_owned(), val);
            match chars.next() {
                Some(',') => {}
                Some('}') => break,
                other => panic!("{other:?} in {line}"),
            }
        }
        let value: String = chars.collect();
        out.entry(name.into()).or_default().push(Sample {
            labels,
            value: value.trim().parse().unwrap(),
        });
    }
    out
}

fn scrape(port: u16, key: Option<&str>) -> (u16, String) {
    let mut h = vec![];
    if let Some(k) = key {
        h.push(("X-API-Key", k));
    }
    let (s, b) = http(port, "GET", "/metrics", &h, b"").unwrap();
    (s, String::from_utf8(b).unwrap())
}

/// The sum of `name`'s samples whose labels include `with`.
fn total(m: &BTreeMap<String, Vec<Sample>>, name: &str, with: &[(&str, &str)]) -> f64 {
    m.get(name).map_or(0.0, |v| {
        v.iter()
            .filter(|s| {
                with.iter()
                    .all(|(k, x)| s.labels.get(*k).map(String::as_str) == Some(x))
            })
            .map(|s| s.value)
            .sum()
    })
}

fn metrics_agree_with_the_audit_log(backend: Backend) {
    if common::python().is_none() {
        return;
    }
    let mcp_port = free_port();
    let _mcp = common::start_mcp(&python(), MCP, mcp_port);
    let Some(g) = Gateway::new(backend, mcp_port, true, &[]) else {
        return;
    };
    // A scripted run: allowed, held, blocked, outside the plan, expired,
    // an upstream tool error, and refusals without a key.
    for (name, want) in [
        ("worked_example", "none"),
        ("payment_held", "PolicyHoldException"),
        ("blocked_at_invoke", "PolicyBlockedException"),
        ("outside_plan", "IntentMismatchException"),
        ("tool_error", "MCPInvocationException"),
    ] {
        let v = g.scenario(name);
        assert_eq!(exception(&v), want, "{name}: {v}");
    }
    for _ in 0..3 {
        let (s, _) = g.post(g.proxy, "/invoke", None, br#"{"mcp":"weather-mcp"}"#);
        assert_eq!(s, 401);
    }
    let (s, text) = scrape(g.backend, None);
    assert_eq!(s, 200, "{text}");
    let m = parse(&text);
    let node = m["armoriq_build_info"][0].labels["node"].clone();

    // Every decision row this gateway wrote, grouped as the series are.
    let rows: Vec<AuditRow> = g.audit_after(AuditCursor::START);
    let mut want: BTreeMap<(String, String, String, String), f64> = BTreeMap::new();
    for r in rows
        .iter()
        .filter(|r| r.node.as_deref() == Some(node.as_str()) && r.actor.is_none())
    {
        *want
            .entry((
                r.route.clone(),
                r.outcome.clone(),
                r.tool.clone().unwrap_or_default(),
                r.mcp.clone().unwrap_or_default(),
            ))
            .or_default() += 1.0;
    }
    let mut got = BTreeMap::new();
    for s in &m["armoriq_decisions_total"] {
        assert_eq!(s.labels["node"], node);
        got.insert(
            (
                s.labels["route"].clone(),
                s.labels["outcome"].clone(),
                s.labels["tool"].clone(),
                s.labels["mcp_server"].clone(),
            ),
            s.value,
        );
    }
    assert_eq!(got, want, "the scrape and the audit log disagree\n{text}");
    for outcome in [
        "allowed",
        "held",
        "blocked",
        "mismatched",
        "unauthorized",
        "minted",
    ] {
        assert!(
            total(&m, "armoriq_decisions_total", &[("outcome", outcome)]) >= 1.0,
            "no {outcome} decision counted\n{text}"
        );
    }
    assert_eq!(
        total(
            &m,
            "armoriq_decisions_total",
            &[("outcome", "unauthorized"), ("route", "invoke")]
        ),
        3.0,
        "{text}"
    );
    // Histograms have observations.
    for stage in ["intent_check", "policy", "store_write"] {
        assert!(
            total(&m, "armoriq_stage_seconds_count", &[("stage", stage)]) >= 1.0,
            "{stage}\n{text}"
        );
    }
    let up = |result| {
        total(
            &m,
            "armoriq_upstream_seconds_count",
            &[("mcp_server", MCP), ("result", result)],
        )
    };
    assert!(up("ok") >= 1.0 && up("error") >= 1.0, "{text}");
    assert!(
        total(
            &m,
            "armoriq_http_request_seconds_count",
            &[("route", "/invoke")]
        ) >= 3.0
    );
    assert!(
        total(&m, "armoriq_token_cache_misses_total", &[]) >= 1.0,
        "{text}"
    );
    assert_eq!(total(&m, "armoriq_store_up", &[]), 1.0, "{text}");
    // The held payment waits for a person.
    let pending = g.with_store(|s| s.count_pending_delegations(armoriq_gateway::now_ms()));
    assert!(pending >= 1);
    assert_eq!(
        total(&m, "armoriq_pending_approvals", &[]),
        pending as f64,
        "{text}"
    );
    // No request text as a label value.
    assert!(
        !text.contains("alice@example.com") && !text.contains("plan_"),
        "{text}"
    );
    // Only the backend listener serves it.
    let (s, _) = scrape(g.proxy, None);
    assert_eq!(s, 404);
    dashboard_names_these_metrics(&text);
}

/// Every metric the Grafana dashboard (docs/grafana) queries is one this
/// gateway exports.
fn dashboard_names_these_metrics(text: &str) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/grafana/armoriq-gateway.json"
    );
    let dash: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut names = 0;
    for panel in dash["panels"].as_array().unwrap() {
        for t in panel["targets"].as_array().unwrap() {
            let expr = t["expr"].as_str().unwrap();
            for (i, _) in expr.match_indices("armoriq_") {
                let name: String = expr[i..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                let family = ["_total", "_bucket", "_count", "_sum"]
                    .iter()
                    .find_map(|s| name.strip_suffix(s))
                    .unwrap_or(&name);
                assert!(
                    text.contains(&format!("# TYPE {family} ")),
                    "the dashboard's {name} ({:?}) is not exported",
                    panel["title"]
                );
                names += 1;
            }
        }
    }
    assert!(names > 15);
}

#[test]
fn metrics_access_admin_key_or_own_listener() {
    let Some(g) = Gateway::new(Backend::Sqlite, free_port(), false, &["--metrics", "admin"]) else {
        return;
    };
    assert_eq!(scrape(g.backend, None).0, 401);
    assert_eq!(scrape(g.backend, Some(&g.key)).0, 403);
    let (s, text) = scrape(g.backend, Some(&g.admin));
    assert_eq!(s, 200);
    assert!(text.contains("armoriq_build_info"));
    drop(g);

    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let Some(g) = Gateway::new(Backend::Sqlite, free_port(), false, &["--metrics", &addr]) else {
        return;
    };
    // Bound with the others, before the gateway starts serving.
    let (s, text) = scrape(port, None);
    assert_eq!(s, 200);
    assert!(text.contains("armoriq_store_up"));
    assert_eq!(scrape(g.backend, Some(&g.admin)).0, 404);
}

/// A real OTLP/HTTP receiver: keeps every span it is sent.
struct Collector {
    port: u16,
    spans: Arc<Mutex<Vec<opentelemetry_proto::tonic::trace::v1::Span>>>,
}

impl Collector {
    fn start() -> Self {
        use prost::Message;
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        let spans = Arc::new(Mutex::new(Vec::new()));
        let kept = spans.clone();
        std::thread::spawn(move || {
            for conn in l.incoming() {
                let Ok(mut conn) = conn else { continue };
                let mut r = BufReader::new(conn.try_clone().unwrap());
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                assert!(line.starts_with("POST /v1/traces "), "{line}");
                let mut len = 0;
                loop {
                    let mut h = String::new();
                    r.read_line(&mut h).unwrap();
                    if h.trim().is_empty() {
                        break;
                    }
                    let lower = h.to_ascii_lowercase();
                    if let Some(v) = lower.strip_prefix("content-type:") {
                        assert_eq!(v.trim(), "application/x-protobuf");
                    }
                    if let Some(v) = lower.strip_prefix("content-length:") {
                        len = v.trim().parse().unwrap();
                    }
                }
                let mut body = vec![0; len];
                r.read_exact(&mut body).unwrap();
                let req = opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest::decode(
                    body.as_slice(),
                )
                .expect("an OTLP ExportTraceServiceRequest");
                for rs in req.resource_spans {
                    for ss in rs.scope_spans {
                        kept.lock().unwrap().extend(ss.spans);
                    }
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        });
        Self { port, spans }
    }
}

#[test]
fn a_trace_runs_from_the_caller_through_the_gateway_to_the_tool() {
    if common::python().is_none() {
        return;
    }
    let collector = Collector::start();
    let mcp_port = free_port();
    let _mcp = common::start_mcp_with(&python(), MCP, mcp_port, &["--trace-tool"]);
    let endpoint = format!("http://127.0.0.1:{}", collector.port);
    let Some(g) = Gateway::with_env(
        Backend::Sqlite,
        mcp_port,
        false,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ],
    ) else {
        return;
    };
    let t = g.scenario("trace_token");
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let traceparent = format!("00-{trace_id}-{caller_span}-01");
    let body = serde_json::json!({
        "mcp": MCP, "action": "trace_context", "params": {},
        "intent_token": {"jwt_token": t["jwt"], "plan_id": t["plan_id"]},
    });
    let (s, b) = http(
        g.proxy,
        "POST",
        "/invoke",
        &[
            ("Content-Type", "application/json"),
            ("X-API-Key", &g.key),
            ("traceparent", &traceparent),
        ],
        body.to_string().as_bytes(),
    )
    .unwrap();
    let v = common::http::json_of(&b);
    assert_eq!(s, 200, "{v}");
    let seen: serde_json::Value =
        serde_json::from_str(v["result"]["content"][0]["text"].as_str().unwrap()).unwrap();
    // The tool saw the caller's trace, its parent the gateway's upstream
    // span (not the caller's), in _meta and in the HTTP header alike.
    let meta = seen["meta"].as_str().expect("traceparent in _meta");
    assert_eq!(seen["header"].as_str(), Some(meta), "{seen}");
    let parts: Vec<&str> = meta.split('-').collect();
    assert_eq!(parts[1], trace_id, "{meta}");
    assert_ne!(parts[2], caller_span, "{meta}");
    let upstream_id = parts[2].to_owned();

    // The collector gets the span tree.
    let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
    let t0 = Instant::now();
    let spans = loop {
        let spans: Vec<_> = collector
            .spans
            .lock()
            .unwrap()
            .iter()
            .filter(|s| hex(&s.trace_id) == trace_id)
            .cloned()
            .collect();
        if spans.iter().any(|s| s.name == "tools/call")
            && spans.iter().any(|s| s.name == "POST /invoke")
        {
            break spans;
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "spans: {spans:?}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let by_name = |n: &str| {
        spans.iter().find(|s| s.name == n).unwrap_or_else(|| {
            panic!(
                "no span {n}: {:?}",
                spans.iter().map(|s| &s.name).collect::<Vec<_>>()
            )
        })
    };
    let request = by_name("POST /invoke");
    assert_eq!(hex(&request.parent_span_id), caller_span);
    assert_eq!(request.kind, 2, "SERVER");
    let upstream = by_name("tools/call");
    assert_eq!(upstream.kind, 3, "CLIENT");
    assert_eq!(hex(&upstream.span_id), upstream_id);
    for child in ["intent_check", "policy", "store_write", "tools/call"] {
        assert_eq!(
            by_name(child).parent_span_id,
            request.span_id,
            "{child} is a child of the request span"
        );
    }
}
