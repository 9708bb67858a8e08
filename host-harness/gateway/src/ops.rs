//! Every state-changing decision a person makes, one function each, under
//! the three surfaces that offer it: the JSON routes, the console and the
//! CLI. Each does the store change and writes its audit row naming who
//! made it ([`Actor`]), what, why and from which [`Surface`]; a surface only
//! finds out who is acting and shows the result.
//!
//! * [`decide`]: approve or reject a held call. The decision and its audit
//!   row are one store transaction
//!   ([`crate::store::DelegationStore::decide_delegation`]):
//!   of concurrent deciders one wins, and only its row is written.
//! * [`revoke_plan`], [`create_key`], [`revoke_key`], [`load_policy`],
//!   [`rotate_signing_key`]: the change, then its row, before the caller is
//!   answered (not one transaction: a crash between the two loses the row;
//!   the change itself is visible in its own table).
//!
//! Refusals are not audited here: on the HTTP surfaces every refusal is
//! audited by one middleware ([`crate::audit::audit_refusals`]); on the CLI
//! the operator sees it on stderr.

use crate::error::{GatewayError, GwResult};
use crate::store::{AuditRow, Delegation, DelegationDecision, DelegationStatus, NewApiKey, Store};
use serde_json::Value;

/// Where a decision was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Surface {
    /// The web console.
    Console,
    /// The JSON routes (an admin API key).
    Api,
    /// The `armoriq` CLI on the store.
    Cli,
    /// An agent's API key (the SDK's own routes).
    Agent,
}

impl Surface {
    /// The audit row's `route`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Api => "admin",
            Self::Cli => "cli",
            Self::Agent => "agent",
        }
    }
}

/// Who acts, as the surface authenticated them.
#[derive(Clone, Debug)]
pub struct Actor {
    /// How they are named in the audit row (`Chris CFO <cfo@example.com>`,
    /// `admin key #3`, `cli:alice`); the delegation records their email
    /// when known, else this.
    pub name: String,
    /// Their email, when known: checked against the approvers a policy names.
    pub email: Option<String>,
    /// Where.
    pub surface: Surface,
}

impl Actor {
    /// An actor named `name`, with an email when `name` is one or ends in
    /// `<email>`.
    pub fn new(name: &str, surface: Surface) -> Self {
        let email = name
            .rsplit_once('<')
            .and_then(|(_, e)| e.strip_suffix('>'))
            .or(Some(name))
            .filter(|e| e.contains('@'))
            .map(|e| e.trim().to_lowercase());
        Self {
            name: name.to_owned(),
            email,
            surface,
        }
    }

    /// A row for this actor: `outcome`, `reason`.
    fn row(&self, outcome: &str, reason: String, now_ms: i64) -> AuditRow {
        AuditRow {
            at_ms: now_ms,
            route: self.surface.as_str().into(),
            outcome: outcome.into(),
            reason: Some(reason),
            actor: Some(self.name.clone()),
            ..Default::default()
        }
    }
}

/// The approvers a delegation's policy names (lowercased), if any.
pub fn approvers(d: &Delegation) -> Vec<String> {
    d.approval
        .as_deref()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
        .and_then(|a| a.get("approvers").and_then(Value::as_array).cloned())
        .unwrap_or_default()
        .iter()
        .filter_map(Value::as_str)
        .map(|e| e.trim().to_lowercase())
        .collect()
}

/// Whether `actor` may decide `d`: anyone on the surface when the policy
/// names no approvers, else only a named one.
pub fn may_decide(actor: &Actor, d: &Delegation) -> bool {
    let named = approvers(d);
    named.is_empty() || actor.email.as_ref().is_some_and(|e| named.contains(e))
}

/// The held call a delegation covers, in words: `tool on mcp, step N of
/// plan P, arguments {…}`.
pub fn bound_call(d: &Delegation) -> String {
    format!(
        "{}{}{}{}, arguments {}",
        d.tool,
        d.mcp
            .as_deref()
            .map_or(String::new(), |m| format!(" on {m}")),
        d.step.map_or(String::new(), |s| format!(", step {s}")),
        d.plan_id
            .as_deref()
            .map_or(String::new(), |p| format!(" of plan {p}")),
        d.arguments
    )
}

/// Approves or rejects the held call `id`: the decision and its audit row
/// in one transaction. Returns the delegation as decided.
///
/// # Errors
/// `NotFound`; `Forbidden` when the policy names approvers and `actor` is
/// not one; `Conflict` when it is no longer pending (decided by someone
/// else, or expired); `BadRequest` when it covers no call (held before
/// approvals were bound); the store's error.
pub async fn decide(
    store: &dyn Store,
    actor: &Actor,
    id: &str,
    approve: bool,
    reason: Option<&str>,
    now_ms: i64,
) -> GwResult<Delegation> {
    let d = store
        .get_delegation(id, now_ms)
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("no delegation {id:?}")))?;
    if !may_decide(actor, &d) {
        return Err(GatewayError::Forbidden(format!(
            "only the approvers the policy names may decide this call ({}); you are {}",
            approvers(&d).join(", "),
            actor.name
        )));
    }
    if approve
        && d.status == DelegationStatus::Pending
        && (d.args_hash.is_none() || d.step.is_none())
    {
        return Err(GatewayError::BadRequest(format!(
            "delegation {id} names no plan step (it was requested for a call that is not a \
             step of a plan this gateway signed, or before approvals were bound to calls): \
             approving it would cover no call"
        )));
    }
    let word = if approve { "approved" } else { "rejected" };
    let why = reason.map_or(String::new(), |r| format!(": {r}"));
    let row = actor.row(
        word,
        format!(
            "{word} by {} via {} ({id}): {}{why}",
            actor.name,
            actor.surface.as_str(),
            bound_call(&d)
        ),
        now_ms,
    );
    let decision = DelegationDecision {
        id: id.to_owned(),
        approve,
        by: actor.email.clone().unwrap_or_else(|| actor.name.clone()),
        reason: reason.map(str::to_owned),
        now_ms,
    };
    let (d, won) = store
        .decide_delegation(&decision, row)
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("no delegation {id:?}")))?;
    if !won {
        return Err(GatewayError::Conflict(format!(
            "delegation {id} is {}{}, no longer pending",
            d.status,
            d.decided_by
                .as_deref()
                .filter(|_| d.status != DelegationStatus::Expired)
                .map_or(String::new(), |b| format!(" (by {b})"))
        )));
    }
    Ok(d)
}

/// Revokes plan `plan_id` and the delegations made from it; returns how
/// many delegations were revoked with it.
///
/// # Errors
/// `NotFound`; the store's error.
pub async fn revoke_plan(
    store: &dyn Store,
    actor: &Actor,
    plan_id: &str,
    reason: Option<&str>,
    now_ms: i64,
) -> GwResult<u64> {
    let cascaded = store
        .revoke_plan_cascade(plan_id, now_ms)
        .await?
        .ok_or_else(|| GatewayError::NotFound(format!("no plan {plan_id:?}")))?;
    let mut row = actor.row(
        "revoked",
        format!(
            "plan revoked by {} via {} ({cascaded} delegations with it){}",
            actor.name,
            actor.surface.as_str(),
            reason.map_or(String::new(), |r| format!(": {r}"))
        ),
        now_ms,
    );
    row.plan_id = Some(plan_id.to_owned());
    store.audit(row).await?;
    Ok(cascaded)
}

/// Creates an API key; returns its row id. The key itself is not logged.
///
/// # Errors
/// The store's error.
pub async fn create_key(
    store: &dyn Store,
    actor: &Actor,
    key: &NewApiKey,
    now_ms: i64,
) -> GwResult<i64> {
    let id = store.add_named_api_key(key).await?;
    let row = actor.row(
        "key_created",
        format!(
            "{} key #{id}{} created by {} via {}",
            key.role.as_str(),
            [key.label.as_str(), key.email.as_deref().unwrap_or_default()]
                .iter()
                .filter(|s| !s.is_empty())
                .map(|s| format!(" ({s})"))
                .collect::<String>(),
            actor.name,
            actor.surface.as_str()
        ),
        now_ms,
    );
    store.audit(row).await?;
    Ok(id)
}

/// Revokes API key `key_id`.
///
/// # Errors
/// `NotFound` when there is no active key of that number; the store's error.
pub async fn revoke_key(
    store: &dyn Store,
    actor: &Actor,
    key_id: i64,
    now_ms: i64,
) -> GwResult<()> {
    if !store.revoke_api_key(key_id, now_ms).await? {
        return Err(GatewayError::NotFound(format!("no active key #{key_id}")));
    }
    let row = actor.row(
        "key_revoked",
        format!(
            "key #{key_id} revoked by {} via {}",
            actor.name,
            actor.surface.as_str()
        ),
        now_ms,
    );
    store.audit(row).await?;
    Ok(())
}

/// Puts a new policy version (already validated) in the store; returns it.
///
/// # Errors
/// The store's error.
pub async fn load_policy(
    store: &dyn Store,
    actor: &Actor,
    json: &str,
    from: &str,
    now_ms: i64,
) -> GwResult<i64> {
    let version = store.put_policy(json, &actor.name, now_ms).await?;
    let row = actor.row(
        "policy_loaded",
        format!(
            "policy version {version} (from {from}) loaded by {} via {}",
            actor.name,
            actor.surface.as_str()
        ),
        now_ms,
    );
    store.audit(row).await?;
    Ok(version)
}

/// Adds the next signing key generation (sealed with `secret`); returns it.
///
/// # Errors
/// `Unavailable` when the store fails, the secret does not open the keys
/// already there, or other nodes kept taking the generation.
pub async fn rotate_signing_key(
    store: &dyn Store,
    actor: &Actor,
    secret: &crate::sealed::OperatorSecret,
    now_ms: i64,
) -> GwResult<crate::store::SealedSigningKey> {
    let k = crate::signer::rotate(store, secret)
        .await
        .map_err(GatewayError::Unavailable)?;
    let row = actor.row(
        "signing_key_rotated",
        format!(
            "signing key generation {} ({}) added by {} via {}",
            k.generation,
            k.kid,
            actor.name,
            actor.surface.as_str()
        ),
        now_ms,
    );
    store.audit(row).await?;
    Ok(k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_email_comes_from_the_name() {
        let a = Actor::new("Chris CFO <CFO@example.com>", Surface::Console);
        assert_eq!(a.email.as_deref(), Some("cfo@example.com"));
        let a = Actor::new("ops@example.com", Surface::Cli);
        assert_eq!(a.email.as_deref(), Some("ops@example.com"));
        let a = Actor::new("cli:alice", Surface::Cli);
        assert_eq!(a.email, None);
    }

    #[test]
    fn named_approvers_decide_alone() {
        let mut d = Delegation {
            id: "deleg_1".into(),
            status: DelegationStatus::Pending,
            tool: "send_payment".into(),
            mcp: None,
            plan_id: None,
            requester_email: None,
            arguments: "{}".into(),
            amount: None,
            reason: None,
            approval: None,
            step: Some(0),
            leaf_hash: None,
            args_hash: None,
            created_ms: 0,
            expires_ms: 0,
            decided_by: None,
            executed_ms: None,
        };
        let cfo = Actor::new("Chris <cfo@x.io>", Surface::Api);
        let other = Actor::new("Bob <bob@x.io>", Surface::Api);
        assert!(may_decide(&other, &d));
        d.approval = Some(r#"{"approvers":["CFO@x.io"]}"#.into());
        assert!(may_decide(&cfo, &d));
        assert!(!may_decide(&other, &d));
        assert!(!may_decide(&Actor::new("cli", Surface::Cli), &d));
    }
}
