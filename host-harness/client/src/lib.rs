//! The Rust SDK client: the official Python SDK's (`armoriq-sdk` 0.8.17)
//! `ArmorIQClient` with the same construction rules, HTTP requests, error
//! mapping and retries, plus a local check of every token it receives.
//!
//! * [`ArmorIQClient`]: configuration, `capture_plan`, `get_intent_token`,
//!   `invoke`, `invoke_with_policy`, `resolve_user`, delegation calls.
//! * [`session`]: `for_user` → `start_session` → `start_plan` / `check` / `report`.
//! * [`plan`]: `ToolCall`, tool-name parsing, `build_plan_from_tool_calls`,
//!   `hash_tool_calls`.
//! * [`credentials`]: `~/.armoriq/credentials.json` (v2).
//! * [`config`]: `armoriq.yaml` (read with the gateway's loader, written in
//!   the official layout).
//! * [`error`]: [`ArmorIqError`], one variant per SDK exception.
//!
//! **Local verification.** After a mint the client checks, before anything
//! is invoked, that `jwt_token` is signed by the gateway's key (`GET
//! /iap/public-key`, or `ARMORIQ_IAP_PUBLIC_KEY`) with `iss`/`aud` of
//! `armoriq serve`, that its `plan_hash` / `merkle_root` are those of the plan
//! the client sent (recomputed with the core), and that the CSRG token object
//! is signed by that same key over the same `plan_hash`. A substituted plan
//! or a forged token is an [`ArmorIqError::InvalidToken`]. The official SDK
//! does none of this; turn it off with [`ClientOptions::local_verification`]
//! for a backend that signs other claims.

mod approval;
#[cfg(feature = "blocking")]
pub mod blocking;
mod catalogue;
mod client;
pub mod config;
pub mod credentials;
mod delegation;
mod endpoints;
pub mod error;
pub mod http;
mod invoke;
mod mint;
mod options;
pub mod plan;
mod plans;
mod resolve;
pub mod session;
mod token;
mod trust;
mod usage;
mod util;
mod verify;

pub use approval::{HoldInfo, InvokeOptions, OnHold};
pub use client::ArmorIQClient;
pub use delegation::DelegationRequestParams;
pub use endpoints::{active_env, backend_override, check_api_key_format, paired_endpoint};
pub use error::{ArmorIqError, Result};
pub use invoke::{McpInvocationResult, map_invoke_response};
pub use options::{ClientOptions, PollSettings};
pub use plan::{
    Plan, ToolCall, ToolNameParser, build_plan_from_tool_calls, default_tool_name_parser,
    hash_tool_calls,
};
pub use session::{
    ArmorIQSession, ArmorIQUserScope, EnforceResult, ReportOptions, SessionMode, SessionOptions,
};
pub use token::{IntentToken, PlanCapture, RawToken, Seconds};
pub use trust::DelegationResult;
pub use util::py_repr;
pub(crate) use util::{py_str, truthy};

/// The version this client reports in `User-Agent`.
/// The version this client reports in `User-Agent`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The placeholder the SDK uses for a missing user or agent id.
pub const MULTIUSER: &str = "__sdk_multiuser__";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::endpoints::paired_endpoint;
    use crate::util::urlenc;
    use serde_json::json;

    /// The futures of the async API can be spawned on a multi-threaded
    /// runtime (`tokio::spawn` needs `Send + 'static` once owned).
    #[test]
    fn async_calls_are_send() {
        fn send<T: Send>(_: &T) {}
        let c = ArmorIQClient::builder()
            .api_key("ak_test_x")
            .backend_endpoint("http://127.0.0.1:9")
            .proxy_endpoint("http://127.0.0.1:9")
            .build()
            .unwrap();
        let plan = serde_json::json!({"goal": "g", "steps": [{"action": "a", "mcp": "m"}]});
        let cap = c.capture_plan("l", "p", Some(&plan), None).unwrap();
        send(&c.get_intent_token(&cap, None, 60, None));
        send(&c.bootstrap());
        send(&c.resolve_user("a@b"));
        send(&c.complete_plan("p"));
        let mut s = c.start_session(SessionOptions::default());
        send(&s.start_plan(&[], None));
        send(&s.report("t", &json!({}), &json!({}), &ReportOptions::default()));
        send(&crate::config::discover_mcp_tools(
            "http://127.0.0.1:9",
            &armoriq_common::yaml::McpAuth::None,
            std::time::Duration::from_secs(1),
        ));
    }

    #[test]
    fn client_is_send_sync_clone_and_reprs_are_pythonic() {
        fn assert_traits<T: Send + Sync + Clone + 'static>() {}
        assert_traits::<ArmorIQClient>();
        assert_eq!(
            py_repr(&json!({"message": "it's", "n": [1, true, null]})),
            r#"{'message': "it's", 'n': [1, True, None]}"#
        );
        assert_eq!(urlenc("a b/é"), "a%20b%2F%C3%A9");
        assert!(check_api_key_format("ak_claw_x", "http://h").is_ok());
        assert!(check_api_key_format("ak_x", "http://h").is_err());
        assert_eq!(
            paired_endpoint("proxy", "http://127.0.0.1:3000/"),
            Some("http://127.0.0.1:3001")
        );
        assert_eq!(paired_endpoint("proxy", "http://example.com"), None);
    }
}
