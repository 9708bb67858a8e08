//! Delegated CSRG tokens at the proxy: the trust record a token was issued
//! as (not revoked, same signature), its plan, and what it may do
//! ([`Restriction`]: the actions, the steps of a subtree, the one agent).

use super::csrg::CsrgIntent;
use super::plan::{anchored, load_plan};
use crate::AppState;
use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use crate::store::TrustKind;
use crate::subtree::parse_subtree_path;
use serde::Deserialize;
use std::sync::Arc;

/// What a delegated token may do.
#[derive(Debug, Clone)]
pub struct Restriction {
    /// Its trust record.
    pub delegation_id: String,
    /// The actions it allows.
    pub allowed: Vec<String>,
    /// The steps it is bounded to (inclusive), for a subtree delegation.
    pub steps: Option<(u64, u64)>,
    /// The one agent that may use it, if named.
    pub target_agent: Option<String>,
}

impl Restriction {
    /// Whether the verified step `index` with `action`, called by `agent`,
    /// is inside the delegation.
    ///
    /// # Errors
    /// `IntentMismatch` naming what is outside.
    pub fn check(&self, action: &str, index: u64, agent: Option<&str>) -> GwResult<()> {
        let id = &self.delegation_id;
        if !self.allowed.iter().any(|a| a == action) {
            return Err(GatewayError::IntentMismatch(format!(
                "{action} is not an action delegated by {id} (allowed: {})",
                self.allowed.join(", ")
            )));
        }
        if let Some((lo, hi)) = self.steps
            && !(lo..=hi).contains(&index)
        {
            return Err(GatewayError::IntentMismatch(format!(
                "step {index} is outside the subtree /steps/[{lo}..{hi}] delegated by {id}"
            )));
        }
        if let Some(t) = &self.target_agent
            && agent != Some(t.as_str())
        {
            return Err(GatewayError::IntentMismatch(format!(
                "delegation {id} is for agent {t:?}, not {agent:?}"
            )));
        }
        Ok(())
    }
}

/// The identity a delegated token signs.
#[derive(Deserialize)]
struct DelegatedIdentity {
    #[serde(default)]
    target_agent: Option<String>,
}

/// The plan and restriction of a verified delegated CSRG token: its record
/// exists, is the one this token was issued as (same signature), is not
/// revoked; its plan is not revoked and covers the token's hash.
///
/// # Errors
/// `InvalidToken`.
pub async fn delegated(
    st: &AppState,
    tok: &CsrgIntent,
    delegation_id: &str,
) -> GwResult<(Arc<ReadyPlan>, Restriction)> {
    let rec = st
        .store
        .get_trust_record(delegation_id)
        .await?
        .filter(|r| matches!(r.kind, TrustKind::Delegate | TrustKind::DelegateSubtree))
        .ok_or_else(|| {
            GatewayError::InvalidToken(format!(
                "delegation {delegation_id:?} was not issued by this gateway"
            ))
        })?;
    if rec.signature != tok.signature || rec.plan_id != tok.scope.plan_id {
        return Err(GatewayError::InvalidToken(format!(
            "the token is not the one delegation {delegation_id} issued"
        )));
    }
    if rec.revoked_ms.is_some() {
        return Err(GatewayError::InvalidToken(format!(
            "delegation {delegation_id} was revoked"
        )));
    }
    let plan = load_plan(st, &rec.plan_id).await?;
    anchored(st, &plan, &tok.plan_hash).await?;
    let allowed = tok.allowed_operations.clone().unwrap_or_default();
    let steps = match &tok.scope.subtree_path {
        Some(p) => Some(parse_subtree_path(p)?),
        None => None,
    };
    let target_agent = serde_json::from_str::<DelegatedIdentity>(&tok.identity_json)
        .ok()
        .and_then(|i| i.target_agent);
    Ok((
        plan,
        Restriction {
            delegation_id: delegation_id.to_owned(),
            allowed,
            steps,
            target_agent,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_refuse_what_is_outside() {
        let r = Restriction {
            delegation_id: "t".into(),
            allowed: vec!["a".into()],
            steps: Some((0, 1)),
            target_agent: Some("bot".into()),
        };
        assert!(r.check("a", 1, Some("bot")).is_ok());
        assert!(r.check("b", 1, Some("bot")).is_err());
        assert!(r.check("a", 2, Some("bot")).is_err());
        assert!(r.check("a", 0, Some("other")).is_err());
        assert!(r.check("a", 0, None).is_err());
    }
}
