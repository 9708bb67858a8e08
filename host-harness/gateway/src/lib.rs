//! `armoriq serve`: the intent access point (IAP), the proxy, policy, audit
//! and MCP forwarding, on the routes the official Python SDK 0.8.17 calls.
//!
//! * [`builder`]: [`builder::GatewayBuilder`], the one way to start a gateway.
//! * [`state`]: [`Gateway`], the shared state of every route ([`AppState`]).
//! * [`routes`]: [`app`], [`backend_app`], [`metrics_app`]: every route
//!   module's `router()` merged, with the layers they share.
//! * [`extract`]: [`extract::JsonBody`], the strict JSON body extractor.
//! * [`settings`]: what `armoriq serve` runs with.
//! * [`store`]: durable state behind the async [`store::Store`] trait (SQLite).
//! * [`tokens`]: the IAP key, minting, the verified-token cache.
//! * [`signer`]: where the IAP keys come from (state dir or store), swapped
//!   at runtime; [`sealed`]: the operator secret that seals them.
//! * [`sync`]: following the store's change feed (revocations, rotations,
//!   policy loads by other gateways).
//! * [`tls`]: HTTPS listeners (`serve --tls-cert/--tls-key`).
//! * [`plans`]: minted plans with their step proofs.
//! * [`policy`]: allow / hold / block.
//! * [`mcp`]: forwarding `tools/call` with `rmcp`.
//! * [`iap`], [`proxy`], [`sdk`]: routes (each route module has its
//!   `router()`).
//! * [`catalogue`]: the MCP servers and their tool schemas.
//! * [`preflight`]: a plan's tool calls against policy before any token.
//! * [`intent`]: the intent check (token intake, plan loading, delegated
//!   and re-anchored plans, the step check); no routes.
//! * [`trust`], [`reanchor`], [`subtree`]: delegate, delegate_subtree,
//!   reanchor, revoke (signed records).
//! * [`usage`]: LLM token usage (`/dashboard/token-usage*`).
//! * [`auth`]: the API key as an extractor ([`auth::ApiKey`], [`auth::AdminKey`]).
//! * [`audit`]: one way to audit a decision or a refusal.
//! * [`error`]: one error type, one status/body mapping.
//! * [`console`]: the web console at `/console` (backend listener only).
//! * [`ready`]: `GET /ready`, the readiness probe (`/health` is liveness).

pub mod audit;
pub mod auth;
pub mod builder;
pub mod catalogue;
pub mod console;
pub mod device;
pub mod error;
pub mod extract;
pub mod held;
pub mod iap;
pub mod intent;
pub mod mcp;
pub mod mcp_http;
pub mod metrics;
pub mod ops;
pub mod plans;
pub mod policy;
pub mod preflight;
pub mod proxy;
pub mod ready;
pub mod reanchor;
pub mod routes;
pub mod sdk;
pub mod sealed;
pub mod settings;
pub mod signer;
pub mod state;
pub mod store;
pub mod subtree;
pub mod sync;
pub mod telemetry;
pub mod tls;
pub mod tokens;
pub mod trust;
pub mod usage;

#[cfg(test)]
mod multi_node_tests;

pub use armoriq_common::time::{now_ms, now_secs};
pub use routes::{app, backend_app, metrics_app};
pub use state::{AppState, Gateway, SHARED_KEY_CACHE_TTL, SHARED_PLAN_CACHE_TTL};
