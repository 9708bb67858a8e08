//! The console: web pages on the backend listener at `/console` for the
//! people who approve held calls and read the audit trail.
//!
//! * [`session`]: sign-in with an admin key, the session cookie, sign-out,
//!   CSRF; [`session::ConsoleAdmin`] is the extractor every page takes.
//! * [`approvals`]: held calls, updating live; approve / reject.
//! * [`audit`]: the audit trail (filters, live) and a plan's page.
//! * [`keys`]: API keys: list, create (shown once), revoke.
//! * [`policy`]: the policy in force and "try a call".
//! * [`html`]: escaping and the page layout (server-rendered HTML).
//! * [`assets`]: the one CSS and one JS file, built into the binary.
//!
//! Every answer carries a Content-Security-Policy without `unsafe-inline`
//! (scripts and styles only from `/console/assets/`), `nosniff`, no framing,
//! no referrer and `no-store`. Errors are HTML pages with a 4xx status and
//! the message (a store outage is 503, never a 500 with a stack).

pub mod approvals;
pub mod assets;
pub mod audit;
pub mod html;
pub mod keys;
pub mod policy;
pub mod session;

use crate::AppState;
use crate::error::GatewayError;
use axum::Router;
use axum::http::header::{self, HeaderValue};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};

/// The Content-Security-Policy of every console answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'";

/// What a console route can fail with: signed out (a page redirects to the
/// sign-in page, anything else is 401), or a gateway error (its status,
/// as an HTML page or, under `/console/api/`, as the gateway's JSON).
#[derive(Debug)]
pub enum ConsoleError {
    /// No valid session: a page request goes to `/console/login`.
    SignedOut {
        /// Whether the request was for a page (GET of HTML).
        page: bool,
    },
    /// Any other refusal.
    Gateway(GatewayError),
}

impl From<GatewayError> for ConsoleError {
    fn from(e: GatewayError) -> Self {
        Self::Gateway(e)
    }
}

impl From<crate::store::StoreError> for ConsoleError {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Gateway(e.into())
    }
}

/// Result of console handlers.
pub type ConsoleResult<T> = Result<T, ConsoleError>;

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        match self {
            Self::SignedOut { page: true } => Redirect::to("/console/login").into_response(),
            Self::SignedOut { page: false } => {
                GatewayError::Unauthorized("sign in to the console first (/console/login)".into())
                    .into_response()
            }
            Self::Gateway(e) => {
                let refusal = crate::audit::Refusal::of(&e);
                let (status, body) = e.parts();
                let message = body["message"].as_str().unwrap_or("error").to_owned();
                let title = status.canonical_reason().unwrap_or("Error");
                let page = html::bare_page(
                    title,
                    &format!(
                        "<main class=\"narrow\"><h1>{}</h1><p class=\"error\" id=\"error\">{}</p>\
                         <p><a href=\"/console/approvals\">Back to the console</a></p></main>",
                        html::esc(title),
                        html::esc(&message)
                    ),
                );
                let mut r = (status, page).into_response();
                r.extensions_mut().insert(refusal);
                r
            }
        }
    }
}

async fn not_found(uri: Uri) -> ConsoleError {
    ConsoleError::Gateway(GatewayError::NotFound(format!(
        "no console page {}",
        uri.path()
    )))
}

async fn method_not_allowed() -> Response {
    let page = html::bare_page(
        "Method not allowed",
        "<main class=\"narrow\"><h1>Method not allowed</h1>\
         <p class=\"error\">This page does not take that method.</p></main>",
    );
    (StatusCode::METHOD_NOT_ALLOWED, page).into_response()
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if !h.contains_key(header::CACHE_CONTROL) {
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    r
}

/// `app` with the console at `/console` (and `/console/`).
pub fn mount(app: Router, state: AppState) -> Router {
    app.route(
        "/console/",
        get(|| async { Redirect::to("/console/approvals") }),
    )
    .nest("/console", audited_router(state))
}

/// The console's routes, to be nested at `/console` on the backend listener.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/console/approvals") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/approvals", get(approvals::page))
        .route("/approvals/{id}/approve", post(approvals::approve))
        .route("/approvals/{id}/reject", post(approvals::reject))
        .route("/api/approvals", get(approvals::api))
        .route("/audit", get(audit::page))
        .route("/api/audit", get(audit::api))
        .route("/plans/{id}", get(audit::plan_page))
        .route("/keys", get(keys::page).post(keys::create))
        .route("/keys/{id}/revoke", post(keys::revoke))
        .route("/policy", get(policy::page))
        .route("/assets/console.css", get(assets::css))
        .route("/assets/console.js", get(assets::js))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(security_headers))
}

/// [`router`] with every refusal audited ([`crate::audit::audit_refusals`]).
fn audited_router(state: AppState) -> Router {
    router()
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            crate::audit::audit_refusals,
        ))
        .with_state(state)
}
