//! The console's one stylesheet and one script, built into the binary
//! (no CDN: the console works offline). Served without a session: they
//! hold no data.

use axum::http::header;
use axum::response::IntoResponse;

/// `console.css`.
pub const CSS: &str = include_str!("assets/console.css");
/// `console.js`: live updates by polling with `fetch`; every value is
/// written with `textContent`.
pub const JS: &str = include_str!("assets/console.js");

/// `GET /console/assets/console.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
}

/// `GET /console/assets/console.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        JS,
    )
}
