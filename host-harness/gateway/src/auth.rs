//! Authentication as extractors: a handler that takes [`ApiKey`] or
//! [`AdminKey`] runs only for a known key (5 s key cache, see
//! [`crate::Gateway::authenticate`]); otherwise the request is refused with
//! the [`GatewayError`] 401 / 403 body.
//!
//! A route that audits its refusals takes `Result<ApiKey, GatewayError>` and
//! hands the error to its [`crate::audit::Audit`], so that a 401 is audited too.

use crate::AppState;
use crate::error::GatewayError;
use crate::store::KeyInfo;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;

/// A verified API key (agent or admin).
#[derive(Clone, Debug)]
pub struct ApiKey(pub KeyInfo);

/// A verified admin API key.
#[derive(Clone, Debug)]
pub struct AdminKey(pub KeyInfo);

impl FromRequestParts<AppState> for ApiKey {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        st.authenticate(&parts.headers).await.map(Self)
    }
}

impl FromRequestParts<AppState> for AdminKey {
    type Rejection = GatewayError;

    async fn from_request_parts(parts: &mut Parts, st: &AppState) -> Result<Self, Self::Rejection> {
        st.authenticate_admin(&parts.headers).await.map(Self)
    }
}
