//! Invocations that carry the CSRG token object alone (what the official
//! TypeScript SDK 0.2.6 sends: no `jwt_token`).
//!
//! The CSRG token (SPEC §4) is Ed25519 over the canonical JSON of its signed
//! fields. The gateway signs `resource_scope: {"plan_id": …}` into every
//! token it mints (a signed field when non-empty, in the official SDK's
//! `verify_token` as in the core), so a token names the one stored plan it
//! was issued for. Checked, with the strictness of the JWT path:
//! 1. the signature, by the core's `csrg::verify`; the embedded
//!    `public_key` must be one of the IAP's trusted keys (any stored
//!    generation: a token signed before a rotation verifies until it
//!    expires);
//! 2. the expiry: expired at `expires_at` (+ leeway), RFC 7519 §4.1.4;
//! 3. the plan: `resource_scope.plan_id` names a stored, unrevoked plan
//!    whose `plan_hash` is the signed one and whose expiry is the token's.
//!
//! The result is a [`SignedIntent`] over the stored plan's root, and the
//! proxy runs the same step, proof and policy checks as for a JWT.
//! The TypeScript SDK's `X-CSRG-Proof`, `X-CSRG-Path` and
//! `X-CSRG-Value-Digest` headers, when sent, must describe a step of the
//! signed tree with the invoked action ([`check_proof_headers`]).

use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use crate::trust::Restriction;
use crate::{AppState, now_secs};
use armoriq_common::backend::HostBackend;
use armoriq_core::SignedIntent;
use axum::http::HeaderMap;
use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::sync::Arc;

/// The largest CSRG token object accepted (bytes of JSON).
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The largest `X-CSRG-Proof` header accepted (bytes).
pub const MAX_PROOF_HEADER_BYTES: usize = 16 * 1024;

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
    // to from it (checked by the caller with `trust::anchored`).
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

/// What an invocation says about its token(s).
#[derive(Clone, Copy, Default)]
pub struct TokenParts<'a> {
    /// `intent_token.jwt_token`.
    pub jwt: Option<&'a str>,
    /// `intent_token.plan_id`.
    pub plan_id: Option<&'a str>,
    /// `intent_token.plan_hash` (unsigned: must agree with what is signed).
    pub plan_hash: Option<&'a str>,
    /// The CSRG token object.
    pub csrg: Option<&'a RawValue>,
}

/// The plan and signed intent of an invocation: from the JWT (the Python
/// SDK, the Rust client), from the CSRG token alone (the TypeScript SDK), or
/// from both, which must then name the same plan.
///
/// # Errors
/// `InvalidToken` / `TokenExpired`.
pub async fn signed_intent(
    st: &AppState,
    t: TokenParts<'_>,
) -> GwResult<(Arc<ReadyPlan>, SignedIntent, Option<Restriction>)> {
    let csrg = t.csrg.map(|raw| verify(st, raw)).transpose()?;
    let mut restriction = None;
    let (plan, signed) = match (t.jwt, &csrg) {
        (Some(jwt), _) => {
            let signed = crate::proxy::check_token(st, jwt)?;
            let plan_id = t
                .plan_id
                .ok_or_else(|| GatewayError::InvalidToken("missing intent_token.plan_id".into()))?;
            let plan = crate::proxy::signed_plan(st, plan_id, &signed).await?;
            if let Some(c) = &csrg
                && (c.scope.plan_id != plan_id
                    || c.scope.delegation_id.is_some()
                    || c.plan_hash != hex::encode(signed.plan_hash))
            {
                return Err(GatewayError::InvalidToken(
                    "the JWT and the CSRG token name different plans".into(),
                ));
            }
            let signed = crate::trust::rebase(&plan, signed)?;
            (plan, signed)
        }
        (None, Some(c)) => {
            if t.plan_id.is_some_and(|p| p != c.scope.plan_id) {
                return Err(GatewayError::InvalidToken(
                    "intent_token.plan_id is not the plan the CSRG token was issued for".into(),
                ));
            }
            let plan = match &c.scope.delegation_id {
                Some(d) => {
                    let (plan, r) = crate::trust::delegated(st, c, d).await?;
                    restriction = Some(r);
                    plan
                }
                None => signed_plan(st, c).await?,
            };
            let signed = intent_for(&plan, c)?;
            (plan, signed)
        }
        (None, None) => {
            return Err(GatewayError::InvalidToken(
                "missing intent_token.jwt_token (or the CSRG token: token / csrg_token)".into(),
            ));
        }
    };
    if let Some(h) = t.plan_hash
        && h != plan.record.plan_hash
    {
        crate::trust::anchored(st, &plan, h).await?;
    }
    Ok((plan, signed, restriction))
}

/// The stored plan a minted (not delegated) CSRG token was issued for.
///
/// # Errors
/// `InvalidToken` when the plan is unknown, revoked, of another hash, or of
/// another expiry than the token.
pub async fn signed_plan(st: &AppState, tok: &CsrgIntent) -> GwResult<Arc<ReadyPlan>> {
    let plan = crate::proxy::load_plan(st, &tok.scope.plan_id).await?;
    crate::trust::anchored(st, &plan, &tok.plan_hash).await?;
    if tok.scope.delegation_id.is_none() && plan.record.expires_at as f64 != tok.expires_at {
        return Err(GatewayError::InvalidToken(
            "the CSRG token was not issued for this plan (expiry differs)".into(),
        ));
    }
    Ok(plan)
}

/// `X-CSRG-Proof` as the TypeScript SDK sends it (a step proof of the mint
/// answer).
#[derive(Deserialize)]
struct ProofHeader {
    index: u64,
    #[serde(default)]
    tree_size: Option<u64>,
    leaf_hash: String,
    siblings: Vec<String>,
}

/// The TypeScript SDK's proof headers, when present, must describe the
/// invoked action's step in the signed tree: `X-CSRG-Proof` an inclusion
/// proof (core's `verify_inclusion`) of the step at its `index` against the
/// signed root and step count, that step's `action` the invoked one,
/// `X-CSRG-Path` `/steps/[index]/action`, and `X-CSRG-Value-Digest` the
/// SHA-256 of the action as JSON.
///
/// # Errors
/// `BadRequest` for a malformed header; `IntentMismatch` for one that does
/// not hold.
pub fn check_proof_headers(
    headers: &HeaderMap,
    plan: &ReadyPlan,
    signed: &SignedIntent,
    action: &str,
) -> GwResult<()> {
    let header = |name: &str| -> GwResult<Option<&str>> {
        headers
            .get(name)
            .map(|v| {
                v.to_str()
                    .map_err(|_| GatewayError::BadRequest(format!("{name}: not ASCII")))
            })
            .transpose()
    };
    let Some(proof) = header("x-csrg-proof")? else {
        return Ok(());
    };
    if proof.len() > MAX_PROOF_HEADER_BYTES {
        return Err(GatewayError::BadRequest(format!(
            "X-CSRG-Proof over {MAX_PROOF_HEADER_BYTES} bytes"
        )));
    }
    let p: ProofHeader = serde_json::from_str(proof)
        .map_err(|e| GatewayError::BadRequest(format!("X-CSRG-Proof: {e}")))?;
    let mismatch = |why: &str| GatewayError::IntentMismatch(format!("X-CSRG-Proof: {why}"));
    if p.tree_size.is_some_and(|n| n != signed.step_count) {
        return Err(mismatch("tree_size is not the signed step count"));
    }
    let hex32 = |s: &str| -> GwResult<[u8; 32]> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).map_err(|_| {
            GatewayError::BadRequest("X-CSRG-Proof: a hash is not 32 bytes of hex".into())
        })?;
        Ok(out)
    };
    if p.siblings.len() > 64 {
        return Err(GatewayError::BadRequest(
            "X-CSRG-Proof: more than 64 siblings".into(),
        ));
    }
    let leaf = hex32(&p.leaf_hash)?;
    let siblings = p
        .siblings
        .iter()
        .map(|s| hex32(s))
        .collect::<GwResult<Vec<_>>>()?;
    armoriq_core::verify_inclusion(
        &leaf,
        p.index,
        signed.step_count,
        &siblings,
        &signed.merkle_root,
    )
    .map_err(|e| mismatch(&format!("{}: {e}", e.name())))?;
    let step = usize::try_from(p.index)
        .ok()
        .and_then(|i| plan.steps.get(i))
        .ok_or_else(|| mismatch("index outside the plan"))?;
    // The inclusion proof held at `index` against the signed root: `leaf` is
    // that step's leaf (SHA-256 collision resistance), so the step is the
    // one at `index`.
    if step.action != action {
        return Err(mismatch("the proven step is not the invoked action"));
    }
    if let Some(path) = header("x-csrg-path")?
        && path != format!("/steps/[{}]/action", p.index)
    {
        return Err(GatewayError::IntentMismatch(format!(
            "X-CSRG-Path {path:?} is not the proven step's action"
        )));
    }
    if let Some(digest) = header("x-csrg-value-digest")? {
        let json =
            serde_json::to_string(action).map_err(|e| GatewayError::Internal(e.to_string()))?;
        if !digest.eq_ignore_ascii_case(&hex::encode(Sha256::digest(json.as_bytes()))) {
            return Err(GatewayError::IntentMismatch(
                "X-CSRG-Value-Digest is not the SHA-256 of the invoked action".into(),
            ));
        }
    }
    Ok(())
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
