//! The one-call invocation check (SPEC §5).
//!
//! Order, and why:
//! 1. **Token**: parse, choose the key, verify the signature (`jws::verify`).
//!    First, because nothing in an unauthenticated token may steer the rest.
//! 2. **Time window and claims** (`exp`/`nbf`/`iat` with leeway, `aud`, `iss`,
//!    the intent claims present). An expired token is `TokenExpired` even if
//!    the call would not match: the SDK raises that before anything else.
//! 3. **Proof**: the proof's tree size must be the signed `step_count` (an
//!    RFC 9162 path alone does not bind the size), then the step's leaf hash
//!    `SHA-256(0x00 ‖ canonical(step))` must lead to the signed `merkle_root`.
//! 4. **Call = step**: `mcp` and `action` equal; when the step declares
//!    `params`, the invoked params must be canonically equal (compared as
//!    SHA-256 of both canonical forms, so no buffer is needed).
//!
//! A refusal is the core's [`Error`], and its [`Error::kind`] maps 1:1 to an
//! SDK exception: stages 1–2 give `InvalidToken` (or `TokenExpired` for
//! `exp`), stages 3–4 `IntentMismatch`.

use crate::canon::{Canonicalizer, Profile};
use crate::error::Error;
use crate::json::{Kind, Value, pick_members};
use crate::jws::{self, Claims, Expect};
use crate::keys::KeySet;
use crate::merkle::{leaf_hasher, verify_inclusion};
use crate::sig::Backend;

/// The tool call being made.
#[derive(Clone, Copy, Debug)]
pub struct Call<'a> {
    /// The MCP server the call goes to.
    pub mcp: &'a str,
    /// The tool.
    pub action: &'a str,
    /// The arguments as JSON object text (`None` is `{}`).
    pub params: Option<&'a [u8]>,
}

/// The step of the signed plan the call claims to be, with its proof.
#[derive(Clone, Copy, Debug)]
pub struct StepProof<'a, H: AsRef<[u8]>> {
    /// The step's JSON text.
    pub step: &'a [u8],
    /// Its index in the plan.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// Sibling hashes, leaf to root.
    pub siblings: &'a [H],
}

/// A call that passed every check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedStep {
    /// The step's index.
    pub index: u64,
    /// The signed step count.
    pub step_count: u64,
    /// The signed plan hash.
    pub plan_hash: [u8; 32],
    /// The signed Merkle root.
    pub merkle_root: [u8; 32],
    /// The step's leaf hash.
    pub leaf_hash: [u8; 32],
    /// The token's expiry.
    pub exp: i64,
    /// Where the token's `jti` is in the decoded claims (`payload_buf`), as
    /// [`verify_invocation_with`] leaves them: a receipt hashes it from there
    /// ([`crate::receipt::jti_hash_at`]) without decoding the token again.
    /// `None` without a `jti`, from [`verify_step`] alone, or without the
    /// feature `jti-place` (default).
    pub jti: Option<ClaimAt>,
}

/// A string claim's place in the decoded claims: its raw bytes (between the
/// quotes) are `payload_buf[start..start + len]`; `escaped` if they hold a
/// backslash escape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClaimAt {
    /// Offset of the raw bytes in the claims buffer.
    pub start: usize,
    /// Their length.
    pub len: usize,
    /// Whether they hold an escape.
    pub escaped: bool,
}

fn canonical_hash<const D: usize, const M: usize>(
    canon: &mut Canonicalizer<D, M>,
    json: &[u8],
) -> Result<[u8; 32], Error> {
    canon.sha256(json, Profile::ArmorIq)
}

/// What a verified token signed: the intent claims the later stages need,
/// small enough to cache (a gateway keys it by the token's hash and skips the
/// signature on the next call with the same token; the time window is checked
/// again on every call with [`SignedIntent::check_time`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignedIntent {
    /// The signed plan hash.
    pub plan_hash: [u8; 32],
    /// The signed Merkle root.
    pub merkle_root: [u8; 32],
    /// The signed step count (the tree size).
    pub step_count: u64,
    /// `exp`.
    pub exp: i64,
    /// `nbf`, if present.
    pub nbf: Option<i64>,
    /// `iat`, if present.
    pub iat: Option<i64>,
}

impl SignedIntent {
    /// Checks the time window again (`exp`, `nbf`, `iat` with leeway), as
    /// [`Claims::check`] does. Never panics.
    ///
    /// # Errors
    /// `Expired` (kind `TokenExpired`), `NotYetValid` or `IssuedInFuture`
    /// (kind `InvalidToken`).
    pub fn check_time(&self, now: i64, leeway: u64) -> Result<(), Error> {
        let leeway = i64::try_from(leeway).unwrap_or(i64::MAX);
        // RFC 7519 §4.1.4: expired "on or after" `exp` (plus leeway).
        if now >= self.exp.saturating_add(leeway) {
            return Err(Error::Expired { now, exp: self.exp });
        }
        if let Some(nbf) = self.nbf
            && now < nbf.saturating_sub(leeway)
        {
            return Err(Error::NotYetValid { now, nbf });
        }
        if let Some(iat) = self.iat
            && iat > now.saturating_add(leeway)
        {
            return Err(Error::IssuedInFuture { now, iat });
        }
        Ok(())
    }
}

/// Stages 1–2: the token's signature, time window and intent claims.
/// `payload_buf` holds the decoded claims. Never panics.
///
/// # Errors
/// An [`Error`] of kind `InvalidToken` or `TokenExpired`.
pub fn verify_token<B: Backend, const N: usize>(
    token: &[u8],
    expect: &Expect<'_>,
    keys: &KeySet<B, N>,
    payload_buf: &mut [u8],
) -> Result<SignedIntent, Error> {
    token_and_jti(token, expect, keys, payload_buf).map(|(signed, _)| signed)
}

/// [`verify_token`], and where the `jti` is in `payload_buf`.
fn token_and_jti<B: Backend, const N: usize>(
    token: &[u8],
    expect: &Expect<'_>,
    keys: &KeySet<B, N>,
    payload_buf: &mut [u8],
) -> Result<(SignedIntent, Option<ClaimAt>), Error> {
    let base = payload_buf.as_ptr().addr();
    let verified = jws::verify(token, keys, payload_buf)?;
    let claims = Claims::parse(verified.payload)?;
    let jti = claims.jti.filter(|_| cfg!(feature = "jti-place")).map(|j| {
        let (raw, escaped) = j.raw_parts();
        ClaimAt {
            start: raw.as_ptr().addr().wrapping_sub(base),
            len: raw.len(),
            escaped,
        }
    });
    claims.check(expect)?;
    let (Some(plan_hash), Some(merkle_root), Some(step_count), Some(exp)) = (
        claims.plan_hash,
        claims.merkle_root,
        claims.step_count,
        claims.exp,
    ) else {
        return Err(Error::MissingClaim { claim: "plan_hash" });
    };
    Ok((
        SignedIntent {
            plan_hash,
            merkle_root,
            step_count,
            exp,
            nbf: claims.nbf,
            iat: claims.iat,
        },
        jti,
    ))
}

/// Stages 3–4 against an already verified token: the step is in the signed
/// tree, and the call is that step. Never panics.
///
/// # Errors
/// An [`Error`] of kind `IntentMismatch`.
pub fn verify_step<H, const D: usize, const M: usize>(
    canon: &mut Canonicalizer<D, M>,
    signed: &SignedIntent,
    call: &Call<'_>,
    proof: &StepProof<'_, H>,
) -> Result<VerifiedStep, Error>
where
    H: AsRef<[u8]>,
{
    let SignedIntent {
        plan_hash,
        merkle_root,
        step_count,
        exp,
        ..
    } = *signed;
    // 3: the step is in the signed tree.
    if proof.tree_size != step_count {
        return Err(Error::StepCountMismatch {
            signed: step_count,
            proof: proof.tree_size,
        });
    }
    let mut h = leaf_hasher();
    canon
        .canonicalize(proof.step, Profile::ArmorIq, &mut h)
        .map_err(|_| Error::StepMalformed)?;
    let leaf_hash: [u8; 32] = sha2::Digest::finalize(h).into();
    verify_inclusion(
        &leaf_hash,
        proof.index,
        proof.tree_size,
        proof.siblings,
        &merkle_root,
    )?;

    // 4: the call is that step.
    // Canonicalizing it validated the step (depth ≤ D): not again.
    let step = Value::prevalidated(proof.step, D);
    if step.kind() != Kind::Object {
        return Err(Error::StepMalformed);
    }
    let [mcp, action, declared] =
        pick_members::<3, 64>(&step, ["mcp", "action", "params"], Error::StepMalformed)?;
    for (name, stated, invoked) in [("mcp", mcp, call.mcp), ("action", action, call.action)] {
        let same = stated
            .and_then(|v| v.as_str())
            .is_some_and(|s| s.eq_str(invoked));
        if !same {
            return Err(Error::CallMismatch { field: name });
        }
    }
    if let Some(declared) = declared {
        let params = call.params.unwrap_or(b"{}");
        // The same bytes have the same canonical form (and the step's were
        // validated above): SDKs send the params as planned, so the common
        // case needs no canonicalization.
        if declared.bytes() != params {
            let want = canonical_hash(canon, declared.bytes()).map_err(|_| Error::StepMalformed)?;
            let got = canonical_hash(canon, params)
                .map_err(|_| Error::CallMismatch { field: "params" })?;
            if !crate::merkle::ct_eq(&want, &got) {
                return Err(Error::CallMismatch { field: "params" });
            }
        }
    }
    Ok(VerifiedStep {
        index: proof.index,
        step_count,
        plan_hash,
        merkle_root,
        leaf_hash,
        exp,
        jti: None,
    })
}

/// Runs the invocation check with the canonicalizer `canon` (its limits bound
/// the step and params accepted) and `payload_buf` for the token's claims:
/// [`verify_token`] then [`verify_step`]. Never panics.
///
/// # Errors
/// An [`Error`] whose [`Error::kind`] is the SDK exception; see the module
/// documentation for the order of checks.
pub fn verify_invocation_with<B, H, const N: usize, const D: usize, const M: usize>(
    canon: &mut Canonicalizer<D, M>,
    token: &[u8],
    call: &Call<'_>,
    proof: &StepProof<'_, H>,
    expect: &Expect<'_>,
    keys: &KeySet<B, N>,
    payload_buf: &mut [u8],
) -> Result<VerifiedStep, Error>
where
    B: Backend,
    H: AsRef<[u8]>,
{
    let (signed, jti) = token_and_jti(token, expect, keys, payload_buf)?;
    let mut ok = verify_step(canon, &signed, call, proof)?;
    ok.jti = jti;
    Ok(ok)
}

/// [`verify_invocation_with`] with the default canonicalizer limits.
///
/// # Errors
/// An [`Error`].
pub fn verify_invocation<B: Backend, H: AsRef<[u8]>, const N: usize>(
    token: &[u8],
    call: &Call<'_>,
    proof: &StepProof<'_, H>,
    expect: &Expect<'_>,
    keys: &KeySet<B, N>,
    payload_buf: &mut [u8],
) -> Result<VerifiedStep, Error> {
    let mut canon =
        Canonicalizer::<{ crate::canon::DEFAULT_DEPTH }, { crate::canon::DEFAULT_MEMBERS }>::new();
    verify_invocation_with(&mut canon, token, call, proof, expect, keys, payload_buf)
}
