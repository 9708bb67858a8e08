//! Traces: OpenTelemetry over OTLP/HTTP (protobuf), off unless the standard
//! variables name a collector (`OTEL_EXPORTER_OTLP_ENDPOINT` or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; also `..._HEADERS`, `..._TIMEOUT`,
//! `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_SDK_DISABLED`).
//!
//! The spans are the gateway's `tracing` spans (a request span from
//! [`crate::metrics::observe`], a child per step, a client span for the
//! upstream call), bridged by `tracing-opentelemetry`. A caller's W3C
//! `traceparent` becomes the request span's parent, and the upstream MCP
//! request carries the upstream span's context (HTTP header and MCP
//! `_meta`, SEP-414), so one trace runs from the agent to the tool. With
//! traces off the caller's `traceparent` is passed on unchanged.

use axum::http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// Whether spans are exported (set once, by [`Telemetry::from_env`]).
static ON: AtomicBool = AtomicBool::new(false);

/// The trace context an upstream request carries (W3C Trace Context).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TraceContext {
    /// `traceparent`.
    pub traceparent: String,
    /// `tracestate`, when there is one.
    pub tracestate: Option<String>,
}

/// The span exporter, while traces are on. Drop or [`Telemetry::shutdown`]
/// flushes what is buffered.
pub struct Telemetry {
    provider: SdkTracerProvider,
}

fn env_set(name: &str) -> bool {
    std::env::var(name).is_ok_and(|v| !v.trim().is_empty())
}

impl Telemetry {
    /// Traces as the environment configures them: `None` when no collector
    /// is named or `OTEL_SDK_DISABLED=true`.
    ///
    /// # Errors
    /// A configuration the exporter refuses (a protocol other than
    /// `http/protobuf`, a bad endpoint), said plainly.
    pub fn from_env() -> Result<Option<Self>, String> {
        if std::env::var("OTEL_SDK_DISABLED").is_ok_and(|v| v.eq_ignore_ascii_case("true")) {
            return Ok(None);
        }
        if !env_set("OTEL_EXPORTER_OTLP_ENDPOINT") && !env_set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        {
            return Ok(None);
        }
        for var in [
            "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
        ] {
            if let Ok(p) = std::env::var(var)
                && !p.is_empty()
                && p != "http/protobuf"
            {
                return Err(format!(
                    "{var}={p}: this gateway exports traces over http/protobuf only (OTLP/HTTP)"
                ));
            }
        }
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .build()
            .map_err(|e| format!("OTLP trace exporter: {e}"))?;
        let mut resource = opentelemetry_sdk::Resource::builder();
        if !env_set("OTEL_SERVICE_NAME") {
            resource = resource.with_service_name("armoriq-gateway");
        }
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource.build())
            .build();
        ON.store(true, Ordering::Relaxed);
        Ok(Some(Self { provider }))
    }

    /// The `tracing` layer that turns spans into OpenTelemetry spans.
    pub fn layer<S>(&self) -> impl tracing_subscriber::Layer<S> + use<S>
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer("armoriq-gateway"))
    }

    /// Exports what is buffered and stops.
    ///
    /// # Errors
    /// The exporter's error.
    pub fn shutdown(self) -> Result<(), String> {
        ON.store(false, Ordering::Relaxed);
        self.provider.shutdown().map_err(|e| e.to_string())
    }
}

/// Whether spans are exported.
pub fn enabled() -> bool {
    ON.load(Ordering::Relaxed)
}

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(axum::http::HeaderName::as_str).collect()
    }
}

#[derive(Default)]
struct Fields(HashMap<String, String>);

impl Injector for Fields {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

/// Makes the caller's `traceparent` (if any) the parent of `span`, when
/// traces are on.
pub fn set_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !enabled() || !headers.contains_key("traceparent") {
        return;
    }
    let cx = TraceContextPropagator::new().extract(&Headers(headers));
    let _ = span.set_parent(cx);
}

/// What the upstream request made inside `span` carries: that span's
/// context when traces are on, else the caller's own `traceparent` (and
/// `tracestate`) from `headers`, if it is well formed.
pub fn upstream_context(span: &tracing::Span, headers: &HeaderMap) -> Option<TraceContext> {
    if enabled() {
        let mut f = Fields::default();
        TraceContextPropagator::new().inject_context(&span.context(), &mut f);
        let traceparent = f.0.remove("traceparent")?;
        return Some(TraceContext {
            traceparent,
            tracestate: f.0.remove("tracestate").filter(|s| !s.is_empty()),
        });
    }
    let tp = headers.get("traceparent")?.to_str().ok()?;
    if !well_formed(tp) {
        return None;
    }
    Some(TraceContext {
        traceparent: tp.to_owned(),
        tracestate: headers
            .get("tracestate")
            .and_then(|v| v.to_str().ok())
            .filter(|s| !s.is_empty() && s.len() <= 512)
            .map(str::to_owned),
    })
}

/// A version-00 `traceparent`: `00-{32 hex}-{16 hex}-{2 hex}`, ids not zero.
fn well_formed(tp: &str) -> bool {
    let parts: Vec<&str> = tp.split('-').collect();
    let hex = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    matches!(parts.as_slice(), [v, t, p, f]
        if *v == "00" && hex(t, 32) && hex(p, 16) && hex(f, 2)
            && t.bytes().any(|b| b != b'0') && p.bytes().any(|b| b != b'0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_shape() {
        assert!(well_formed(
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01"
        ));
        for bad in [
            "01-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "00-0AF7651916CD43DD8448EB211C80319C-00f067aa0ba902b7-01",
            "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7",
            "",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }

    #[test]
    fn with_traces_off_the_callers_context_is_passed_on() {
        let mut h = HeaderMap::new();
        let tp = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";
        h.insert("traceparent", tp.parse().unwrap());
        h.insert("tracestate", "k=v".parse().unwrap());
        let c = upstream_context(&tracing::Span::none(), &h).unwrap();
        assert_eq!(c.traceparent, tp);
        assert_eq!(c.tracestate.as_deref(), Some("k=v"));
        h.insert("traceparent", "garbage".parse().unwrap());
        assert_eq!(upstream_context(&tracing::Span::none(), &h), None);
    }
}
