//! Token intake: the token(s) an invocation carries (`intent_token` with
//! its JWT, and the CSRG token object wherever it came), verified, with the
//! plan they name: the plan and [`SignedIntent`] to check the step against.

use super::csrg::{intent_for, verify};
use super::delegated::{Restriction, delegated};
use super::jwt::check_token;
use super::plan::{anchored, csrg_plan, jwt_plan, rebase};
use crate::AppState;
use crate::error::{GatewayError, GwResult};
use crate::plans::ReadyPlan;
use armoriq_core::SignedIntent;
use serde::Deserialize;
use serde_json::value::RawValue;
use std::sync::Arc;

/// `intent_token` as the SDK sends it (`IntentToken.signed()`).
#[derive(Deserialize, Default)]
pub struct TokenRef {
    /// The JWT (the Python SDK, the Rust client).
    #[serde(default)]
    pub jwt_token: Option<String>,
    /// The plan the token was minted for.
    #[serde(default)]
    pub plan_id: Option<String>,
    /// The CSRG token object (the TypeScript SDK's `rawToken.token`).
    #[serde(default)]
    pub token: Option<Box<RawValue>>,
    /// The plan hash the client holds (the TypeScript SDK's `rawToken`).
    #[serde(default)]
    pub plan_hash: Option<String>,
}

impl TokenRef {
    /// What the request says about its token(s), with `csrg` its one CSRG
    /// token ([`one_csrg`]).
    pub fn parts<'a>(&'a self, csrg: Option<&'a RawValue>) -> TokenParts<'a> {
        TokenParts {
            jwt: self.jwt_token.as_deref(),
            plan_id: self.plan_id.as_deref(),
            plan_hash: self.plan_hash.as_deref(),
            csrg,
        }
    }
}

/// The one CSRG token of a request: absent when none (or only `{}`) came;
/// every copy sent must be the same text.
///
/// # Errors
/// `InvalidToken` when copies differ.
pub fn one_csrg(copies: [Option<Box<RawValue>>; 3]) -> GwResult<Option<Box<RawValue>>> {
    let mut found: Option<Box<RawValue>> = None;
    for c in copies.into_iter().flatten() {
        let t = c.get().trim();
        if t == "{}" || t == "null" {
            continue;
        }
        match &found {
            Some(f) if f.get() != c.get() => {
                return Err(GatewayError::InvalidToken(
                    "the CSRG token copies (token, csrg_token, intent_token.token) differ".into(),
                ));
            }
            Some(_) => {}
            None => found = Some(c),
        }
    }
    Ok(found)
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
            let signed = check_token(st, jwt)?;
            let plan_id = t
                .plan_id
                .ok_or_else(|| GatewayError::InvalidToken("missing intent_token.plan_id".into()))?;
            let plan = jwt_plan(st, plan_id, &signed).await?;
            if let Some(c) = &csrg
                && (c.scope.plan_id != plan_id
                    || c.scope.delegation_id.is_some()
                    || c.plan_hash != hex::encode(signed.plan_hash))
            {
                return Err(GatewayError::InvalidToken(
                    "the JWT and the CSRG token name different plans".into(),
                ));
            }
            let signed = rebase(&plan, signed)?;
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
                    let (plan, r) = delegated(st, c, d).await?;
                    restriction = Some(r);
                    plan
                }
                None => csrg_plan(st, c).await?,
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
        anchored(st, &plan, h).await?;
    }
    Ok((plan, signed, restriction))
}
