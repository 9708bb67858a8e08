//! What the console (`/console`) needs from the store: admin identities on
//! API keys, server-side sessions, a decision with its reason, and audit
//! searches. One sub-trait, [`ConsoleStore`], so another backend ports it as
//! one unit; every method's contract is written here, and the SQL of the
//! SQLite implementation (`sqlite/console.rs`) is plain enough to port as is.

use super::{AuditRow, Role, StoreFuture};
use serde::Serialize;

/// A new API key with the person it belongs to.
#[derive(Clone, Debug)]
pub struct NewApiKey {
    /// The key as shown once (only its SHA-256 is stored).
    pub key: String,
    /// What it may do.
    pub role: Role,
    /// A free label.
    pub label: String,
    /// The person's name (admin keys: shown as who decided).
    pub name: Option<String>,
    /// The person's email (matched against a policy's approvers).
    pub email: Option<String>,
}

/// A stored API key, without the key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApiKeyRecord {
    /// Row id.
    pub id: i64,
    /// What it may do.
    pub role: Role,
    /// The label.
    pub label: String,
    /// The person's name.
    pub name: Option<String>,
    /// The person's email.
    pub email: Option<String>,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// Unix milliseconds, when revoked.
    pub revoked_ms: Option<i64>,
}

/// A live console session, as looked up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRecord {
    /// The admin key that signed in.
    pub key: ApiKeyRecord,
    /// The session's CSRF token.
    pub csrf: String,
    /// Unix milliseconds.
    pub expires_ms: i64,
}

/// Which audit rows: every field set must match (exactly; `None` matches
/// anything), `from_ms <= at_ms < to_ms`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Outcome.
    pub outcome: Option<String>,
    /// User email.
    pub user: Option<String>,
    /// Agent id.
    pub agent: Option<String>,
    /// Tool.
    pub tool: Option<String>,
    /// Plan id.
    pub plan: Option<String>,
    /// Earliest time, Unix milliseconds (inclusive).
    pub from_ms: Option<i64>,
    /// Latest time, Unix milliseconds (exclusive).
    pub to_ms: Option<i64>,
}

/// The console's store methods.
pub trait ConsoleStore: Send + Sync {
    /// Adds an API key with its owner's name and email; returns its row id.
    /// (As `KeyStore::add_api_key`, plus the two columns.)
    fn add_named_api_key<'a>(&'a self, key: &'a NewApiKey) -> StoreFuture<'a, i64>;
    /// Every key, revoked ones included, oldest first.
    fn list_api_keys(&self) -> StoreFuture<'_, Vec<ApiKeyRecord>>;
    /// The key with this row id, revoked or not.
    fn get_api_key(&self, id: i64) -> StoreFuture<'_, Option<ApiKeyRecord>>;
    /// Revokes a key and ends its console sessions, in one transaction;
    /// false when there is no such key or it was revoked already.
    fn revoke_api_key(&self, id: i64, now_ms: i64) -> StoreFuture<'_, bool>;
    /// Stores a session: `id_hash` is the SHA-256 hex of the cookie's value
    /// (the value itself is never stored), for admin key `key_id`.
    fn create_session<'a>(
        &'a self,
        id_hash: &'a str,
        key_id: i64,
        csrf: &'a str,
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreFuture<'a, ()>;
    /// The session, only while `now_ms <= expires_ms` and its key is an
    /// unrevoked admin key; `None` otherwise.
    fn get_session<'a>(
        &'a self,
        id_hash: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<SessionRecord>>;
    /// Ends a session (signing out), and deletes every session past its
    /// expiry at `now_ms`.
    fn delete_session<'a>(&'a self, id_hash: &'a str, now_ms: i64) -> StoreFuture<'a, ()>;
    /// The decision reason recorded for a delegation, if any.
    fn decision_reason<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<String>>;
    /// Audit rows matching `filter`, newest first (by `seq`): with
    /// `after_seq`, only rows with a larger `seq` (for live updates); at
    /// most `limit`.
    fn audit_search<'a>(
        &'a self,
        filter: &'a AuditFilter,
        after_seq: Option<i64>,
        limit: u32,
    ) -> StoreFuture<'a, Vec<AuditRow>>;
}
