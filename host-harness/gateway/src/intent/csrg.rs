//! The CSRG token object (what the official TypeScript SDK 0.2.6 sends,
//! with no `jwt_token`).
//!
//! The CSRG token (SPEC §4) is Ed25519 over the canonical JSON of its signed
//! fields. The gateway signs `resource_scope: {"plan_id": …}` into every
//! token it mints (a signed field when non-empty, in the official SDK's
//! `verify_token` as in the core), so a token names the one stored plan it
//! was issued for. [`verify`] checks, with the strictness of the JWT path:
//! 1. the signature, by the core's `csrg::verify`; the embedded
//!    `public_key` must be one of the IAP's trusted keys (any stored
//!    generation: a token signed before a rotation verifies until it
//!    expires);
//! 2. the expiry: expired at `expires_at` (+ leeway), RFC 7519 §4.1.4.
//!
//! The plan it names is checked by [`super::plan::csrg_plan`] (or
//! [`super::delegated::delegated`]); [`intent_for`] then gives the
//! [`SignedIntent`] over the stored plan's root, and the step check is the
//! same as for a JWT.

use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use crate::{AppState, now_secs};
use armoriq_common::backend::HostBackend;
use armoriq_core::SignedIntent;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The largest CSRG token object accepted (bytes of JSON).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// What a token's signed `resource_scope` says.
#[derive(Deserialize, Debug, Clone, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ResourceScope {
    /// The plan the token was issued for.
    pub plan_id: String,
    /// For a delegated token: its trust record.
    #[serde(default)]
    pub delegation_id: Option<String>,
    /// For a subtree delegation: the steps it is bounded to.
    #[serde(default)]
    pub subtree_path: Option<String>,
}

/// The members of the token the gateway reads after the signature check.
#[derive(Deserialize)]
struct Scoped {
    #[serde(default)]
    resource_scope: Option<ResourceScope>,
    #[serde(default)]
    allowed_operations: Option<Vec<String>>,
    issued_at: f64,
    signature: String,
    #[serde(default)]
    identity: Option<Box<RawValue>>,
}

/// A verified CSRG token.
#[derive(Debug, Clone)]
pub struct CsrgIntent {
    /// The signed `plan_hash` (lowercase hex).
    pub plan_hash: String,
    /// The signed `expires_at`.
    pub expires_at: f64,
    /// The signed `issued_at`.
    pub issued_at: f64,
    /// The signed `resource_scope`.
    pub scope: ResourceScope,
    /// The signed `allowed_operations` (delegated tokens), if any.
    pub allowed_operations: Option<Vec<String>>,
    /// The signature (hex), naming this token among the IAP's.
    pub signature: String,
    /// The signed `identity` (JSON text; `null` when absent).
    pub identity_json: String,
}

/// Verifies `raw` (a CSRG token object) against the IAP's key and the clock.
///
/// # Errors
/// `InvalidToken` (bad JSON, size, signature, foreign key, no plan named);
/// `TokenExpired`.
pub fn verify(st: &AppState, raw: &RawValue) -> GwResult<CsrgIntent> {
    let text = raw.get().as_bytes();
    if text.len() > MAX_TOKEN_BYTES {
        return Err(GatewayError::InvalidToken(format!(
            "CSRG token over {MAX_TOKEN_BYTES} bytes"
        )));
    }
    // The key the token states, when the IAP trusts it (any generation);
    // otherwise the signing key, which the core then refuses the stated
    // key against (`UnknownKid`) exactly as with one key.
    let signer = st.signer.current();
    let trusted: [u8; 32] = stated_key(text)
        .filter(|k| signer.trusts(k))
        .or_else(|| signer.public_raw.as_slice().try_into().ok())
        .ok_or_else(|| GatewayError::Internal("IAP key is not 32 bytes".into()))?;
    let mut scratch = vec![0u8; text.len().saturating_mul(2).saturating_add(512)];
    let tok = armoriq_core::csrg::verify::<HostBackend>(text, Some(&trusted), &mut scratch)
        .map_err(|e| GatewayError::InvalidToken(format!("CSRG token: {}: {e}", e.name())))?;
    let now = now_secs() as f64;
    if expired(now, tok.expires_at, st.settings.leeway) {
        return Err(GatewayError::TokenExpired(format!(
            "CSRG token: Expired: token expired at {} (now {now})",
            tok.expires_at
        )));
    }
    let scoped: Scoped = serde_json::from_slice(text)
        .map_err(|e| GatewayError::InvalidToken(format!("CSRG token: {e}")))?;
    let scope = scoped.resource_scope.ok_or_else(|| {
        GatewayError::InvalidToken(
            "CSRG token: no signed resource_scope.plan_id (not minted by this gateway)".into(),
        )
    })?;
    Ok(CsrgIntent {
        plan_hash: tok.plan_hash.to_owned(),
        expires_at: tok.expires_at,
        issued_at: scoped.issued_at,
        scope,
        allowed_operations: scoped.allowed_operations,
        signature: scoped.signature.trim().to_ascii_lowercase(),
        identity_json: scoped
            .identity
            .map_or_else(|| "null".to_owned(), |i| i.get().to_owned()),
    })
}

/// The token's stated `public_key`, if it is 64 hex digits (the core checks
/// the member strictly; this only picks which trusted key to hold it to).
fn stated_key(text: &[u8]) -> Option<[u8; 32]> {
    #[derive(Deserialize)]
    struct Stated {
        public_key: String,
    }
    let s: Stated = serde_json::from_slice(text).ok()?;
    hex::decode(s.public_key.trim()).ok()?.try_into().ok()
}

/// RFC 7519 §4.1.4 for the CSRG token's `expires_at`: expired on or after
/// `expires_at + leeway` (and when `expires_at` is not a finite number).
pub fn expired(now: f64, expires_at: f64, leeway: u64) -> bool {
    !expires_at.is_finite() || now >= expires_at + leeway as f64
}

/// The intent the stored plan gives a verified CSRG token: the signed
/// `plan_hash` with the plan's own root and step count (the plan text hashes
/// to the signed `plan_hash`, and the root is computed from that text).
///
/// # Errors
/// `InvalidToken` when the plan's root is not hex (a corrupt row).
pub fn intent_for(plan: &ReadyPlan, tok: &CsrgIntent) -> GwResult<SignedIntent> {
    // The plan's current hash: the token's, or one the plan was re-anchored
    // to from it (checked by the caller with [`super::plan::anchored`]).
    let mut plan_hash = [0u8; 32];
    hex::decode_to_slice(&plan.record.plan_hash, &mut plan_hash)
        .map_err(|_| GatewayError::Internal("stored plan_hash is not hex".into()))?;
    let mut merkle_root = [0u8; 32];
    hex::decode_to_slice(&plan.record.merkle_root, &mut merkle_root)
        .map_err(|_| GatewayError::Internal("stored merkle_root is not hex".into()))?;
    Ok(SignedIntent {
        plan_hash,
        merkle_root,
        step_count: u64::try_from(plan.steps.len()).unwrap_or(u64::MAX),
        exp: tok.expires_at.floor() as i64,
        nbf: None,
        iat: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_csrg_token_is_expired_at_its_expiry() {
        assert!(!expired(999.0, 1000.0, 0));
        assert!(expired(1000.0, 1000.0, 0));
        assert!(expired(1001.0, 1000.0, 0));
        assert!(!expired(1004.0, 1000.0, 5));
        assert!(expired(1005.0, 1000.0, 5));
        assert!(!expired(1000.0, 1000.5, 0));
        assert!(expired(0.0, f64::NAN, 0) && expired(0.0, f64::INFINITY, 0));
    }
}
