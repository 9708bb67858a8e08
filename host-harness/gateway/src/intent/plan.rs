//! Plan loading: the stored, unrevoked plan a verified token names, and
//! whether the token's hash covers it (the plan's hash now, or one it was
//! re-anchored from).

use super::csrg::CsrgIntent;
use crate::AppState;
use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use crate::store::{PlanStatus, TrustKind};
use armoriq_core::SignedIntent;
use std::sync::Arc;

/// A stored, unrevoked plan, through the plan cache.
///
/// # Errors
/// `InvalidToken` when the plan is unknown or revoked.
pub async fn load_plan(st: &AppState, plan_id: &str) -> GwResult<Arc<ReadyPlan>> {
    let plan = match st.plans.get(plan_id) {
        Some(p) => p,
        None => {
            let rec = st.store.get_plan(plan_id).await?.ok_or_else(|| {
                GatewayError::InvalidToken(format!(
                    "plan {plan_id:?} was not issued by this gateway"
                ))
            })?;
            let ready = Arc::new(ReadyPlan::build(rec).map_err(GatewayError::Internal)?);
            st.plans.put(ready.clone());
            ready
        }
    };
    if plan.record.status == PlanStatus::Revoked {
        return Err(GatewayError::InvalidToken(format!(
            "plan {plan_id:?} was revoked"
        )));
    }
    Ok(plan)
}

/// The stored plan a verified JWT signed.
///
/// # Errors
/// `InvalidToken` when the plan is unknown, revoked, or not the signed one.
pub async fn jwt_plan(
    st: &AppState,
    plan_id: &str,
    signed: &SignedIntent,
) -> GwResult<Arc<ReadyPlan>> {
    let plan = load_plan(st, plan_id).await?;
    anchored(st, &plan, &hex::encode(signed.plan_hash)).await?;
    Ok(plan)
}

/// The stored plan a minted (not delegated) CSRG token was issued for.
///
/// # Errors
/// `InvalidToken` when the plan is unknown, revoked, of another hash, or of
/// another expiry than the token.
pub async fn csrg_plan(st: &AppState, tok: &CsrgIntent) -> GwResult<Arc<ReadyPlan>> {
    let plan = load_plan(st, &tok.scope.plan_id).await?;
    anchored(st, &plan, &tok.plan_hash).await?;
    if tok.scope.delegation_id.is_none() && plan.record.expires_at as f64 != tok.expires_at {
        return Err(GatewayError::InvalidToken(
            "the CSRG token was not issued for this plan (expiry differs)".into(),
        ));
    }
    Ok(plan)
}

/// Whether a token signed for `token_hash` covers `plan`: the plan's hash
/// now, or one it was re-anchored from (each move a signed record).
///
/// # Errors
/// `InvalidToken` when it covers another plan.
pub async fn anchored(st: &AppState, plan: &ReadyPlan, token_hash: &str) -> GwResult<()> {
    if plan.record.plan_hash == token_hash {
        return Ok(());
    }
    let records = st.store.plan_trust_records(&plan.record.plan_id).await?;
    if records.iter().any(|r| {
        r.kind == TrustKind::Reanchor && r.previous_plan_hash.as_deref() == Some(token_hash)
    }) {
        return Ok(());
    }
    Err(GatewayError::InvalidToken(
        "the token was not issued for this plan_id (plan_hash differs)".into(),
    ))
}

/// The intent to check steps against: the plan's current hash, root and
/// step count (equal to the token's unless the plan was re-anchored) with
/// the token's time window.
///
/// # Errors
/// `Internal` for a stored hash that is not hex.
pub fn rebase(plan: &ReadyPlan, signed: SignedIntent) -> GwResult<SignedIntent> {
    let hex32 = |s: &str| {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out)
            .map(|()| out)
            .map_err(|_| GatewayError::Internal("stored hash is not hex".into()))
    };
    Ok(SignedIntent {
        plan_hash: hex32(&plan.record.plan_hash)?,
        merkle_root: hex32(&plan.record.merkle_root)?,
        step_count: u64::try_from(plan.steps.len()).unwrap_or(u64::MAX),
        ..signed
    })
}
