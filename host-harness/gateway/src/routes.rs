//! The routers: every route module's `router()` merged into one, with the
//! layers every route shares (refusal audit, metrics, body limit) and the
//! gateway's 404 / 405 bodies.

use crate::error::GatewayError;
use crate::{
    AppState, audit, catalogue, console, iap, metrics, preflight, proxy, ready, reanchor, sdk,
    trust, usage,
};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;

async fn not_found(uri: axum::http::Uri) -> GatewayError {
    GatewayError::NotFound(format!("no route {}", uri.path()))
}

async fn method_not_allowed() -> (StatusCode, axum::Json<serde_json::Value>) {
    (
        StatusCode::METHOD_NOT_ALLOWED,
        axum::Json(
            serde_json::json!({"success": false, "error": "MethodNotAllowed",
            "message": "method not allowed on this route"}),
        ),
    )
}

/// The backend listener's router: [`app`], the console at `/console`, and
/// `/metrics` unless it has a listener of its own.
pub fn backend_app(state: AppState) -> Router {
    let router = console::mount(app(state.clone()), state.clone());
    match state.settings.metrics {
        metrics::MetricsAccess::Listen(_) | metrics::MetricsAccess::Off => router,
        _ => router.merge(
            Router::new()
                .route("/metrics", get(metrics::serve))
                .with_state(state),
        ),
    }
}

/// The router of `--metrics ADDR`'s own listener: `/metrics` only.
pub fn metrics_app(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics::serve_own))
        .with_state(state)
}

/// The router: every route on both listeners (backend and proxy).
pub fn app(state: AppState) -> Router {
    let limit = state.settings.body_limit;
    Router::new()
        .merge(ready::router())
        .merge(iap::router())
        .merge(sdk::router())
        .merge(proxy::router())
        .merge(preflight::router())
        .merge(trust::router())
        .merge(reanchor::router())
        .merge(catalogue::router())
        .merge(usage::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit::audit_refusals,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}
