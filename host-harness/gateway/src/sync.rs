//! Keeping one gateway's caches true to a store other gateways change.
//!
//! A gateway caches what it reads often: ready plans, verified tokens,
//! verified API keys, tool lists, the signing keys, the policy. When several
//! gateways share one store, a revoke on one must reach the others' caches:
//! the store announces each change on its feed ([`crate::store::ChangeFeed`];
//! PostgreSQL `NOTIFY` inside the committing transaction, SQLite within this
//! process), and [`follow`] applies it:
//!
//! | change | effect |
//! |---|---|
//! | `Plan(id)` | the plan leaves the plan cache (its next use reads the store) |
//! | `Trust(id)` | nothing cached per trust record (a revoked plan comes as `Plan`) |
//! | `ApiKeys` | every verified API key is forgotten |
//! | `SigningKeys` | the key set is read again (a rotation on another node) |
//! | `Policy` | the newest policy document is put in force |
//! | `Resync`, or missed changes (lagged) | every cache is dropped, keys and policy read again |
//!
//! Notifications can be lost (a listening connection drops between a
//! commit and its reconnect; the backend then sends `Resync`). As a
//! backstop on a shared store, cached plans and API keys expire after
//! [`crate::SHARED_PLAN_CACHE_TTL`] and [`crate::SHARED_KEY_CACHE_TTL`],
//! the policy version is polled every [`POLICY_POLL`] (when policy comes
//! from the store) and the newest signing-key generation every
//! [`KEYS_POLL`] (when the keys live in the store). The polls are also what
//! carries a change made by another process on a SQLite file (`armoriq
//! policy load --store`, `armoriq keys rotate-signing`), whose feed reaches
//! only its own process.

use crate::AppState;
use crate::policy::Policy;
use crate::store::Change;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::watch;

/// How often the store's policy version is checked when policy comes from
/// the store (the change feed usually tells first).
pub const POLICY_POLL: Duration = Duration::from_secs(1);

/// How often the store's newest signing-key generation is checked when the
/// keys live in the store.
pub const KEYS_POLL: Duration = Duration::from_secs(5);

/// Follows the change feed until `stopped`. `policy_version` is the stored
/// policy document in force (`None`: none yet, or policy from a file).
pub async fn follow(
    gw: AppState,
    mut policy_version: Option<i64>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut rx = gw.store.subscribe();
    let from_store = gw.settings.policy_from_store();
    let mut poll = tokio::time::interval(POLICY_POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let keys_stored = gw.signer.is_stored();
    let mut keys_poll = tokio::time::interval(KEYS_POLL);
    keys_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            got = rx.recv() => match got {
                Ok(change) => apply(&gw, &change, &mut policy_version).await,
                Err(RecvError::Lagged(n)) => {
                    tracing::warn!(missed = n, "change feed lagged: dropping every cache");
                    apply(&gw, &Change::Resync, &mut policy_version).await;
                }
                Err(RecvError::Closed) => {
                    tracing::warn!("change feed closed: resubscribing");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    rx = gw.store.subscribe();
                    apply(&gw, &Change::Resync, &mut policy_version).await;
                }
            },
            _ = poll.tick(), if from_store => {
                reload_policy(&gw, &mut policy_version).await;
            }
            _ = keys_poll.tick(), if keys_stored => {
                match gw.signer.newer_in(gw.store.as_ref()).await {
                    Ok(true) => reload_keys(&gw).await,
                    Ok(false) => {}
                    Err(e) => tracing::warn!("signing keys not checked: {e}"),
                }
            }
            () = until_stopped(&mut stopped) => return,
        }
    }
}

/// Resolves once `stopped` turns true (or its sender is gone), holding no
/// borrow of the channel across an await (the task stays `Send`).
pub async fn until_stopped(stopped: &mut watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Applies one change to `gw`'s caches.
pub async fn apply(gw: &AppState, change: &Change, policy_version: &mut Option<i64>) {
    match change {
        Change::Plan(id) => gw.plans.forget(id),
        Change::Trust(_) => {}
        Change::ApiKeys => gw.forget_api_keys(),
        Change::SigningKeys => reload_keys(gw).await,
        Change::Policy => {
            if gw.settings.policy_from_store() {
                reload_policy(gw, policy_version).await;
            }
        }
        Change::Resync => {
            gw.plans.clear();
            gw.token_cache.clear();
            gw.forget_api_keys();
            gw.tools.clear();
            reload_keys(gw).await;
            if gw.settings.policy_from_store() {
                *policy_version = None;
                reload_policy(gw, policy_version).await;
            }
        }
    }
}

async fn reload_keys(gw: &AppState) {
    match gw.signer.reload(gw.store.as_ref()).await {
        Ok(true) => tracing::info!(kid = %gw.signer.current().kid, "signing key rotated"),
        Ok(false) => {}
        Err(e) => tracing::error!("signing keys not reloaded (the keys in force stay): {e}"),
    }
}

/// Puts the store's newest policy document in force if it is not already.
async fn reload_policy(gw: &AppState, version: &mut Option<i64>) {
    match policy_from_store(gw, *version).await {
        Ok(Some((v, p))) => {
            gw.set_policy(p);
            *version = Some(v);
            tracing::info!(version = v, "policy version {v} in force (from the store)");
        }
        Ok(None) => {}
        Err(e) => tracing::error!("policy not reloaded (the policy in force stays): {e}"),
    }
}

/// The store's newest policy document as a [`Policy`] (with the
/// configuration's allow/deny lists), unless it is version `have`.
///
/// # Errors
/// The store failed, or the stored document does not load.
pub async fn policy_from_store(
    gw: &AppState,
    have: Option<i64>,
) -> Result<Option<(i64, Policy)>, String> {
    let Some(doc) = gw.store.current_policy().await.map_err(|e| e.to_string())? else {
        return Ok(None);
    };
    if have == Some(doc.version) {
        return Ok(None);
    }
    let lists = gw
        .settings
        .config
        .as_ref()
        .map(|c| c.policy.clone())
        .unwrap_or_default();
    let bound: serde_json::Value = serde_json::from_str(&doc.json)
        .map_err(|e| format!("stored policy version {}: {e}", doc.version))?;
    let p = Policy::new(lists, Some(&bound))
        .map_err(|e| format!("stored policy version {}: {e}", doc.version))?;
    Ok(Some((doc.version, p)))
}
