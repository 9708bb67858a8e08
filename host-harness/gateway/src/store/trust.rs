//! Trust updates (`/iap/trust/*`): each kept as a record the IAP signed.
//! Contracts of [`TrustStore`] (for every backend):
//! * records are immutable once put, except `revoked_ms` (set once);
//! * [`TrustStore::reanchor_plan`] moves a plan from one hash to the next
//!   and stores the record that says so, atomically, and only if the plan
//!   still has the hash the caller saw (compare-and-swap: of two concurrent
//!   re-anchors of one plan from one hash, exactly one wins);
//! * [`TrustStore::revoke_plan_cascade`] revokes the plan and every
//!   delegation made from it, atomically.

use super::{PlanRecord, StoreFuture};

/// What a trust record records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrustKind {
    /// A token for a delegate's key, limited to some actions.
    Delegate,
    /// A token bounded to a subtree of the plan.
    DelegateSubtree,
    /// The plan replaced under the same `plan_id`.
    Reanchor,
}

impl TrustKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delegate => "delegate",
            Self::DelegateSubtree => "delegate_subtree",
            Self::Reanchor => "reanchor",
        }
    }

    /// From the stored name.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "delegate" => Some(Self::Delegate),
            "delegate_subtree" => Some(Self::DelegateSubtree),
            "reanchor" => Some(Self::Reanchor),
            _ => None,
        }
    }
}

/// One signed trust record.
#[derive(Clone, Debug, PartialEq)]
pub struct TrustRecord {
    /// `trust_<uuid>`; for a delegation, the `delegation_id` its token names.
    pub id: String,
    /// What it records.
    pub kind: TrustKind,
    /// The plan it is about.
    pub plan_id: String,
    /// The canonical JSON that was signed.
    pub record_json: String,
    /// Lowercase hex Ed25519 signature over `record_json` by the IAP key.
    pub signature: String,
    /// For a re-anchor: the plan hash it moved away from.
    pub previous_plan_hash: Option<String>,
    /// The plan hash it names (for a re-anchor, the new one).
    pub plan_hash: String,
    /// When it was made (ms).
    pub created_ms: i64,
    /// Unix seconds its token expires (delegations).
    pub expires_at: Option<i64>,
    /// When it was revoked (ms), if it was.
    pub revoked_ms: Option<i64>,
}

/// Trust records.
pub trait TrustStore: Send + Sync {
    /// Stores a new record (`Conflict` if its id exists).
    fn put_trust_record<'a>(&'a self, r: &'a TrustRecord) -> StoreFuture<'a, ()>;
    /// A record by id.
    fn get_trust_record<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<TrustRecord>>;
    /// Every record of a plan, oldest first.
    fn plan_trust_records<'a>(&'a self, plan_id: &'a str) -> StoreFuture<'a, Vec<TrustRecord>>;
    /// In one transaction: if plan `new.plan_id` is active and its hash is
    /// still `from_hash`, replaces its `plan_hash`, `merkle_root`,
    /// `plan_json` and `step_count` by `new`'s and stores `record`; returns
    /// true. Otherwise changes nothing and returns false.
    fn reanchor_plan<'a>(
        &'a self,
        from_hash: &'a str,
        new: &'a PlanRecord,
        record: &'a TrustRecord,
    ) -> StoreFuture<'a, bool>;
    /// Revokes one delegation record (sets `revoked_ms` if unset); false if
    /// there is no such delegation or it was revoked already.
    fn revoke_trust_record<'a>(&'a self, id: &'a str, now_ms: i64) -> StoreFuture<'a, bool>;
    /// In one transaction: sets the plan's status to revoked and
    /// `revoked_ms` on each of its not yet revoked delegation records.
    /// Returns how many delegations were revoked, or `None` when there is
    /// no such plan.
    fn revoke_plan_cascade<'a>(
        &'a self,
        plan_id: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<u64>>;
}
