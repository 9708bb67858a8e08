//! One error type mirroring the official SDK's exceptions
//! (`armoriq_sdk.exceptions`), plus `InvalidInput` for the `ValueError` /
//! `TypeError` the SDK raises on bad arguments.

use serde_json::Value;
use std::fmt;

/// Everything the client can fail with.
#[derive(Debug, Clone)]
pub enum ArmorIqError {
    /// `ConfigurationException`: missing or malformed key, endpoint, config
    /// file; `bootstrap` / `resolve-user` refused.
    Configuration(String),
    /// `InvalidTokenException`: minting failed, the proxy refused the token
    /// (401/403), or the local check of a received token failed.
    InvalidToken(String),
    /// `TokenExpiredException`: the token expired before the call was sent.
    TokenExpired {
        /// Message.
        message: String,
        /// `token_id`.
        token_id: String,
        /// `expires_at` (epoch seconds).
        expired_at: f64,
    },
    /// `IntentMismatchException`: the proxy answered 409 (the call is not a
    /// step of the signed plan).
    IntentMismatch {
        /// Message.
        message: String,
        /// The invoked action.
        action: String,
        /// The token's plan hash.
        plan_hash: String,
    },
    /// `PolicyBlockedException`.
    PolicyBlocked {
        /// Message.
        message: String,
        /// Why (the policy's reason).
        reason: Option<String>,
        /// `enforcement_action`.
        enforcement_action: Option<String>,
        /// The matched policy's name.
        matched_policy: Option<String>,
        /// `policy_validation` (mint) or `{"obligations"}` (invoke).
        metadata: Box<Value>,
    },
    /// `PolicyHoldException`: the call needs approval.
    PolicyHold {
        /// Message.
        message: String,
        /// Why.
        reason: Option<String>,
        /// The delegation to wait for, when one was created.
        delegation_id: Option<String>,
        /// `delegation_context` from the proxy.
        delegation_context: Box<Value>,
        /// The matched policy's name.
        matched_policy: Option<String>,
        /// Extra data (`obligations`, `delegationError`).
        metadata: Box<Value>,
    },
    /// `DelegationException`: a delegation call failed, was rejected, expired
    /// or timed out.
    Delegation {
        /// Message.
        message: String,
        /// HTTP status, when one caused it.
        status: Option<u16>,
    },
    /// `MCPInvocationException`: the proxy or the tool failed.
    McpInvocation {
        /// Message.
        message: String,
        /// The MCP.
        mcp: String,
        /// The action.
        action: String,
        /// HTTP status, when one caused it.
        status: Option<u16>,
    },
    /// `IntentReanchorException`: the backend refused to re-anchor a
    /// changed plan (a blocked step: `reason`).
    IntentReanchor {
        /// Message.
        message: String,
        /// HTTP status, when one caused it.
        status: Option<u16>,
        /// The backend's `reason`.
        reason: Option<String>,
        /// The plan.
        plan_id: Option<String>,
    },
    /// `ValueError` / `TypeError`: an argument the SDK refuses.
    InvalidInput(String),
}

/// Results of client calls.
pub type Result<T, E = ArmorIqError> = std::result::Result<T, E>;

impl ArmorIqError {
    /// The kind, as the CLI prints it (`Configuration`, `InvalidToken`, …).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Configuration(_) => "Configuration",
            Self::InvalidToken(_) => "InvalidToken",
            Self::TokenExpired { .. } => "TokenExpired",
            Self::IntentMismatch { .. } => "IntentMismatch",
            Self::PolicyBlocked { .. } => "PolicyBlocked",
            Self::PolicyHold { .. } => "PolicyHold",
            Self::Delegation { .. } => "Delegation",
            Self::McpInvocation { .. } => "MCPInvocation",
            Self::IntentReanchor { .. } => "IntentReanchor",
            Self::InvalidInput(_) => "InvalidInput",
        }
    }

    /// The official SDK's exception class name.
    pub fn sdk_exception(&self) -> &'static str {
        match self {
            Self::Configuration(_) => "ConfigurationException",
            Self::InvalidToken(_) => "InvalidTokenException",
            Self::TokenExpired { .. } => "TokenExpiredException",
            Self::IntentMismatch { .. } => "IntentMismatchException",
            Self::PolicyBlocked { .. } => "PolicyBlockedException",
            Self::PolicyHold { .. } => "PolicyHoldException",
            Self::Delegation { .. } => "DelegationException",
            Self::McpInvocation { .. } => "MCPInvocationException",
            Self::IntentReanchor { .. } => "IntentReanchorException",
            Self::InvalidInput(_) => "ValueError",
        }
    }

    /// The message.
    pub fn message(&self) -> &str {
        match self {
            Self::Configuration(m) | Self::InvalidToken(m) | Self::InvalidInput(m) => m,
            Self::TokenExpired { message, .. }
            | Self::IntentMismatch { message, .. }
            | Self::PolicyBlocked { message, .. }
            | Self::PolicyHold { message, .. }
            | Self::Delegation { message, .. }
            | Self::IntentReanchor { message, .. }
            | Self::McpInvocation { message, .. } => message,
        }
    }

    /// The HTTP status behind the error, if any.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Delegation { status, .. }
            | Self::McpInvocation { status, .. }
            | Self::IntentReanchor { status, .. } => *status,
            _ => None,
        }
    }

    /// A one-line suggestion of what to do next.
    pub fn hint(&self) -> &'static str {
        match self {
            Self::Configuration(_) => {
                "check ARMORIQ_API_KEY (or `armoriq login --api-key`), ARMORIQ_BACKEND_URL / PROXY_ENDPOINT, and armoriq.yaml"
            }
            Self::InvalidToken(_) => {
                "mint a new token; if it persists, the gateway key or the plan does not match what the client sent"
            }
            Self::TokenExpired { .. } => "mint a new token (get_intent_token) and retry",
            Self::IntentMismatch { .. } => {
                "the call must be a step of the captured plan with the same params; capture a new plan"
            }
            Self::PolicyBlocked { .. } => {
                "the policy forbids this tool; change the plan or the policy"
            }
            Self::PolicyHold { .. } => {
                "an approver must approve the delegation (`armoriq approve <id>`), or use invoke_with_policy with wait_for_approval"
            }
            Self::Delegation { .. } => "see `armoriq delegations` for the delegation's state",
            Self::McpInvocation { .. } => {
                "check that the proxy and the MCP server are reachable and the tool's arguments"
            }
            Self::IntentReanchor { .. } => {
                "the changed plan holds a step the policy blocks; remove it or change the policy"
            }
            Self::InvalidInput(_) => "fix the argument",
        }
    }

    pub(crate) fn mcp(message: String, mcp: &str, action: &str, status: Option<u16>) -> Self {
        Self::McpInvocation {
            message,
            mcp: mcp.to_owned(),
            action: action.to_owned(),
            status,
        }
    }
}

impl fmt::Display for ArmorIqError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

impl std::error::Error for ArmorIqError {}
