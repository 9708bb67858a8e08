//! The JWT intent token (`intent_token.jwt_token`: the Python SDK, the Rust
//! client): the core's `verify_token` (signature, time window, intent
//! claims), through the verified-token cache.

use crate::error::{GatewayError, GwResult};
use crate::{AppState, now_secs};
use armoriq_core::jws::Expect;
use armoriq_core::{ErrorKind, SignedIntent};

/// The core's refusal as the gateway's error of the same kind.
pub(crate) fn rejection_error(e: armoriq_core::Error) -> GatewayError {
    let msg = format!("{}: {e}", e.name());
    match e.kind() {
        ErrorKind::TokenExpired => GatewayError::TokenExpired(msg),
        ErrorKind::IntentMismatch => GatewayError::IntentMismatch(msg),
        _ => GatewayError::InvalidToken(msg),
    }
}

/// Verifies a token with the cache.
///
/// # Errors
/// `InvalidToken` / `TokenExpired`.
pub fn check_token(st: &AppState, jwt: &str) -> GwResult<SignedIntent> {
    let expect = Expect {
        now: now_secs(),
        leeway: st.settings.leeway,
        audience: Some(&st.settings.audience),
        issuer: Some(&st.settings.issuer),
    };
    st.token_cache
        .verify(jwt, &st.signer.current(), &expect)
        .map_err(rejection_error)
}
