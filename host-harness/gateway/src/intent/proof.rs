//! The TypeScript SDK's proof headers (`X-CSRG-Proof`, `X-CSRG-Path`,
//! `X-CSRG-Value-Digest`): when sent, they must describe the invoked
//! action's step in the signed tree.

use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use armoriq_core::SignedIntent;
use axum::http::HeaderMap;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// The largest `X-CSRG-Proof` header accepted (bytes).
pub const MAX_PROOF_HEADER_BYTES: usize = 16 * 1024;

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
