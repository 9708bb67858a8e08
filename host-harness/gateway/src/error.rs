//! One error type for every route, and one mapping to status + JSON body.
//!
//! The bodies are chosen so that the official Python SDK raises the matching
//! exception (see `armoriq_sdk/client.py` `invoke` and `get_intent_token`):
//!
//! | kind | status | SDK exception |
//! |---|---|---|
//! | `Unauthorized` (API key) | 401 | InvalidTokenException / ConfigurationException |
//! | `InvalidToken` | 401 | InvalidTokenException |
//! | `TokenExpired` | 401 | InvalidTokenException (the SDK raises TokenExpiredException itself, before sending) |
//! | `IntentMismatch` | 409 | IntentMismatchException |
//! | `PolicyBlocked` | 403 + `enforcementAction: "block"` | PolicyBlockedException |
//! | `PolicyHold` | 403 + `enforcementAction: "hold"` | PolicyHoldException |
//! | `BadRequest` (and `InvalidPlan`) / `NotFound` / `PayloadTooLarge` | 400 / 404 / 413 | MCPInvocationException (invoke) |
//! | `McpUnavailable` / `McpTimeout` / `McpToolError` | 502 / 504 / 502 | MCPInvocationException |
//! | `Conflict` (a store uniqueness rule; an `Idempotency-Key` in flight) | 409 | (retry) |
//! | `Unavailable` (the store cannot be reached) | 503, "store unavailable" (detail in the log) | MCPInvocationException |
//! | `DeviceUnavailable` (`--device`: queue full, no answer in time, line down, receipt that does not check) | 503 | MCPInvocationException |
//! | `Internal` | 500, "internal error" (detail in the log) | MCPInvocationException |
//!
//! Store failures fail closed: nothing is forwarded or minted without its
//! store work done and its audit row durable.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// What went wrong, with the message the client sees.
#[derive(Debug)]
pub enum GatewayError {
    /// No or unknown API key.
    Unauthorized(String),
    /// An admin route without an admin key.
    Forbidden(String),
    /// The intent token failed a check (core error name in the message).
    InvalidToken(String),
    /// The intent token is past `exp`.
    TokenExpired(String),
    /// The call is not a step of the signed plan.
    IntentMismatch(String),
    /// Policy said block (`reason`, `matchedPolicy`).
    PolicyBlocked {
        /// Why.
        reason: String,
        /// Rule that decided.
        rule: Option<String>,
    },
    /// Policy denied tools of a plan at mint time.
    PolicyBlockedMint {
        /// Tools allowed.
        allowed: Vec<String>,
        /// Tools denied.
        denied: Vec<String>,
        /// One reason per denied tool.
        reasons: Vec<String>,
    },
    /// Policy said hold; a delegation was created.
    PolicyHold {
        /// Why.
        reason: String,
        /// Rule that decided.
        rule: Option<String>,
        /// `delegation_context` for the SDK.
        context: Value,
    },
    /// Malformed or invalid request.
    BadRequest(String),
    /// A plan that fails validation at mint (answered as `BadRequest`,
    /// audited `invalid_plan`).
    InvalidPlan(String),
    /// No such route or object.
    NotFound(String),
    /// Body over the limit.
    PayloadTooLarge(usize),
    /// The MCP server could not be reached or failed.
    McpUnavailable(String),
    /// The MCP server did not answer in time.
    McpTimeout(String),
    /// The tool ran and reported an error.
    McpToolError {
        /// The tool's message.
        message: String,
        /// The tool's result.
        result: Value,
    },
    /// The request conflicts with one in flight or a stored row (409).
    Conflict(String),
    /// The store cannot do the work now (I/O, locked, stopped); logged,
    /// answered 503.
    Unavailable(String),
    /// The verifier device gave no usable verdict (`serve --device`): fail closed.
    DeviceUnavailable(String),
    /// A failure of ours (signing, a corrupt row); logged, answered 500.
    Internal(String),
}

impl GatewayError {
    /// The audit outcome for this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) | Self::Forbidden(_) => "unauthorized",
            Self::InvalidToken(_) => "invalid",
            Self::TokenExpired(_) => "expired",
            Self::IntentMismatch(_) => "mismatched",
            Self::PolicyBlocked { .. } => "blocked",
            Self::PolicyBlockedMint { .. } => "denied",
            Self::PolicyHold { .. } => "held",
            Self::InvalidPlan(_) => "invalid_plan",
            Self::BadRequest(_) | Self::NotFound(_) | Self::PayloadTooLarge(_) => "bad_request",
            Self::McpUnavailable(_) | Self::McpTimeout(_) | Self::McpToolError { .. } => {
                "mcp_error"
            }
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "store_unavailable",
            Self::DeviceUnavailable(_) => "device_unavailable",
            Self::Internal(_) => "internal_error",
        }
    }

    /// The error name in bodies (the SDK exception family).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::InvalidToken(_) => "InvalidToken",
            Self::TokenExpired(_) => "TokenExpired",
            Self::IntentMismatch(_) => "IntentMismatch",
            Self::PolicyBlocked { .. } | Self::PolicyBlockedMint { .. } => "PolicyBlocked",
            Self::PolicyHold { .. } => "PolicyHold",
            Self::BadRequest(_) | Self::InvalidPlan(_) => "BadRequest",
            Self::NotFound(_) => "NotFound",
            Self::PayloadTooLarge(_) => "PayloadTooLarge",
            Self::McpUnavailable(_) | Self::McpTimeout(_) | Self::McpToolError { .. } => {
                "MCPInvocation"
            }
            Self::Conflict(_) => "Conflict",
            Self::Unavailable(_) => "Unavailable",
            Self::DeviceUnavailable(_) => "DeviceUnavailable",
            Self::Internal(_) => "Internal",
        }
    }

    /// The reason recorded in the audit row.
    pub fn reason(&self) -> String {
        match self {
            Self::PolicyBlocked { reason, .. } | Self::PolicyHold { reason, .. } => reason.clone(),
            Self::PolicyBlockedMint { reasons, .. } => reasons.join("; "),
            Self::McpToolError { message, .. } => message.clone(),
            Self::PayloadTooLarge(n) => format!("body over {n} bytes"),
            Self::Unauthorized(m)
            | Self::Forbidden(m)
            | Self::InvalidToken(m)
            | Self::TokenExpired(m)
            | Self::IntentMismatch(m)
            | Self::BadRequest(m)
            | Self::InvalidPlan(m)
            | Self::NotFound(m)
            | Self::McpUnavailable(m)
            | Self::McpTimeout(m)
            | Self::Conflict(m)
            | Self::Unavailable(m)
            | Self::DeviceUnavailable(m)
            | Self::Internal(m) => m.clone(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized(_) | Self::InvalidToken(_) | Self::TokenExpired(_) => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_)
            | Self::PolicyBlocked { .. }
            | Self::PolicyBlockedMint { .. }
            | Self::PolicyHold { .. } => StatusCode::FORBIDDEN,
            Self::IntentMismatch(_) | Self::Conflict(_) => StatusCode::CONFLICT,
            Self::BadRequest(_) | Self::InvalidPlan(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::McpUnavailable(_) | Self::McpToolError { .. } => StatusCode::BAD_GATEWAY,
            Self::McpTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::Unavailable(_) | Self::DeviceUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// Status and body.
    pub fn parts(&self) -> (StatusCode, Value) {
        let name = self.name();
        let body = match self {
            Self::PolicyBlocked { reason, rule } => {
                json!({"success": false, "allowed": false, "error": name,
                       "enforcementAction": "block", "message": format!("Action blocked by policy: {reason}"),
                       "reason": reason, "matchedPolicy": rule.as_ref().map(|r| json!({"name": r})),
                       "obligations": []})
            }
            Self::PolicyBlockedMint {
                allowed,
                denied,
                reasons,
            } => json!({"success": false, "error": name,
                       "message": format!("Policy denied: {}", reasons.join("; ")),
                       "reason": format!("policy blocked: {}", reasons.join("; ")),
                       "policy_validation": {"allowed_tools": allowed, "denied_tools": denied,
                           "denied_reasons": reasons, "default_enforcement_action": "block"}}),
            Self::PolicyHold {
                reason,
                rule,
                context,
            } => json!({"success": false, "allowed": false, "error": name,
                       "enforcementAction": "hold", "message": format!("Action held for approval: {reason}"),
                       "reason": reason, "matchedPolicy": rule.as_ref().map(|r| json!({"name": r})),
                       "delegation_context": context, "obligations": []}),
            Self::McpToolError { message, result } => {
                json!({"success": false, "error": name, "message": format!("MCP tool error: {message}"),
                       "result": result})
            }
            Self::Unavailable(detail) => {
                tracing::error!(%detail, "store unavailable");
                json!({"success": false, "error": name, "message": "store unavailable"})
            }
            Self::Internal(detail) => {
                tracing::error!(%detail, "internal error");
                json!({"success": false, "error": name, "message": "internal error"})
            }
            _ => json!({"success": false, "error": name, "message": self.reason()}),
        };
        (self.status(), body)
    }
}

impl IntoResponse for GatewayError {
    fn into_response(self) -> Response {
        let (status, body) = self.parts();
        let refusal = crate::audit::Refusal::of(&self);
        let mut r = (status, Json(body)).into_response();
        r.extensions_mut().insert(refusal);
        r
    }
}

impl From<crate::store::StoreError> for GatewayError {
    fn from(e: crate::store::StoreError) -> Self {
        use crate::store::StoreError;
        match e {
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::Unavailable(m) => Self::Unavailable(m),
            e => Self::Internal(e.to_string()),
        }
    }
}

/// Result of handlers.
pub type GwResult<T> = Result<T, GatewayError>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreError;

    #[test]
    fn store_errors_map_to_409_503_500() {
        let status = |e: StoreError| GatewayError::from(e).parts().0;
        assert_eq!(
            status(StoreError::Conflict("x".into())),
            StatusCode::CONFLICT
        );
        assert_eq!(
            status(StoreError::Unavailable("disk".into())),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            status(StoreError::Corrupt("row".into())),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        // The detail stays in the log.
        let (_, body) = GatewayError::from(StoreError::Unavailable("/var/db: EIO".into())).parts();
        assert_eq!(body["message"], "store unavailable");
    }

    /// A database that is down (PostgreSQL unreachable, SQLite I/O) fails
    /// closed with 503 and a clear body on every kind of route: the JSON
    /// routes (invoke, token, SDK, admin — and the API-key check in front
    /// of them, which must not turn an outage into a 401) answer through
    /// `GatewayError`; the console through `ConsoleError`. The detail (which
    /// may name a host) stays in the log.
    #[tokio::test]
    async fn a_store_outage_is_503_with_a_clear_body_on_every_route() {
        use axum::response::IntoResponse;
        let outage = || StoreError::Unavailable("db.internal:5432: connection refused".into());
        let e = GatewayError::from(outage());
        assert_eq!(e.outcome(), "store_unavailable");
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let v: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v,
            json!({"success": false, "error": "Unavailable", "message": "store unavailable"})
        );
        let r = crate::console::ConsoleError::from(outage()).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        let page = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        let page = String::from_utf8_lossy(&page);
        assert!(page.contains("store unavailable"), "{page}");
        assert!(!page.contains("db.internal"), "{page}");
    }
}
