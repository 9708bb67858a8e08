//! Request extractors with the gateway's own rejection ([`GatewayError`]).
//!
//! [`JsonBody`]: a JSON body parsed strictly into `T`, its errors naming the
//! problem (413 over the body limit; 400 for an unreadable or empty body,
//! or one that is not a `T`, with the path of the bad member). A route
//! that audits its refusals takes `Result<JsonBody<T>, GatewayError>` and
//! hands the error to its [`crate::audit::Audit`].

use crate::AppState;
use crate::error::{GatewayError, GwResult};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// A JSON body, parsed strictly into `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = GatewayError;

    async fn from_request(req: Request, st: &AppState) -> Result<Self, Self::Rejection> {
        let body = Bytes::from_request(req, st).await;
        parse_json(body, st.settings.body_limit).map(Self)
    }
}

/// Parses a JSON body strictly into `T`, with errors that name the problem.
///
/// # Errors
/// `PayloadTooLarge` (over `limit`) or `BadRequest`.
pub fn parse_json<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
    limit: usize,
) -> GwResult<T> {
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            GatewayError::PayloadTooLarge(limit)
        } else {
            GatewayError::BadRequest(format!("cannot read body: {e}"))
        }
    })?;
    if body.is_empty() {
        return Err(GatewayError::BadRequest(
            "empty body: expected a JSON object".into(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(&body);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path.is_empty() || path == "." {
            GatewayError::BadRequest(format!("invalid JSON body: {inner}"))
        } else {
            GatewayError::BadRequest(format!("invalid JSON body: `{path}`: {inner}"))
        }
    })
}
