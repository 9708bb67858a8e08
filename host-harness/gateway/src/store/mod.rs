//! Durable state behind one async trait, grouped by area: API keys, minted
//! plans, idempotent answers, delegations and the audit log.
//!
//! Each once-only rule is one method that is atomic in the backend itself
//! (one SQL statement or one transaction), never a lock inside one process,
//! so several gateways sharing one database keep the rules:
//! * [`DelegationStore::claim_approved`]: one approval lets one call through;
//! * [`IdempotencyStore::reserve_idempotency_key`] and
//!   [`IdempotencyStore::complete_mint`]: one mint per key (a lease with a
//!   fencing token: a holder presumed dead and taken over stores nothing);
//! * [`DelegationStore::get_or_create_pending`]: one delegation per held call;
//! * [`SigningKeyStore::add_signing_key`]: one key per generation.
//!
//! What one node changes that others cache (a revoked plan, delegation or
//! API key, a new signing key or policy) is announced on the [`ChangeFeed`].
//!
//! Layout: the traits and types are here and in the area files beside this
//! one (`console.rs`, `trust.rs`, `usage.rs`, …); each backend is a folder
//! with the same file per area: `sqlite/` ([`SqliteStore`], embedded, WAL,
//! `synchronous=FULL`, blocking work on tokio's blocking pool, for one
//! gateway) and `postgres/` (`PgStore`, shared by several gateways,
//! `--store postgres://…`; feature `postgres`, on by default). Their schemas
//! are `migrations/{sqlite,postgres}/*.sql`, embedded ([`MIGRATIONS`],
//! [`PG_MIGRATIONS`]). The trait is object-safe (methods return boxed
//! futures) because the gateway holds an `Arc<dyn Store>`. Every backend
//! runs the same test suite, races included: `suite/` and the
//! [`store_suite!`](crate::store_suite) macro.

mod audit_queue;
mod changes;
mod console;
mod error;
mod migrations;
mod policy_docs;
#[cfg(feature = "postgres")]
mod postgres;
mod select;
mod signing;
mod sqlite;
mod status;
#[cfg(any(test, feature = "store-suite"))]
pub mod suite;
pub mod trust;
pub mod usage;

pub use changes::{Change, ChangeFeed};
pub use console::{ApiKeyRecord, AuditFilter, ConsoleStore, NewApiKey, SessionRecord};
pub use error::{StoreError, StoreResult};
pub use migrations::{MIGRATIONS, Migration, PG_MIGRATIONS, latest as sqlite_latest, pg_latest};
pub use policy_docs::{PolicyDocument, PolicyStore};
#[cfg(all(feature = "postgres", any(test, feature = "store-suite")))]
pub use postgres::PgHarness;
#[cfg(feature = "postgres")]
pub use postgres::PgStore;
pub use select::{
    DEFAULT_QUERY_TIMEOUT, StoreLocation, default_node, open_store, open_store_as, open_store_with,
    redact_password,
};
pub use signing::{SealedSigningKey, SigningKeyStore};
#[cfg(any(test, feature = "store-suite"))]
pub use sqlite::SqliteHarness;
pub use sqlite::{SqliteStore, create_private_file};
pub use status::{DelegationStatus, PlanStatus, Role};
#[cfg(any(test, feature = "store-suite"))]
pub use suite::{
    console as console_suite, delegations as delegation_suite, idempotency as suite_idempotency,
    shared as shared_suite,
};
pub use trust::{TrustKind, TrustRecord, TrustStore};
pub use usage::{SnapshotStatus, UsageRow, UsageStore};

use serde::Serialize;
use sha2::{Digest, Sha256};
use std::future::Future;
use std::pin::Pin;

/// What every store method returns: a boxed future (object-safe).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = StoreResult<T>> + Send + 'a>>;

/// SHA-256 hex of an API key (only this is stored).
pub fn key_hash(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A verified API key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyInfo {
    /// Row id.
    pub id: i64,
    /// Role.
    pub role: Role,
}

/// A minted plan.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanRecord {
    /// `plan_id`.
    pub plan_id: String,
    /// Lowercase hex.
    pub plan_hash: String,
    /// Lowercase hex.
    pub merkle_root: String,
    /// The plan JSON as received.
    pub plan_json: String,
    /// Number of steps.
    pub step_count: u64,
    /// `jti` of the token.
    pub intent_reference: String,
    /// Who asked.
    pub user_email: Option<String>,
    /// The agent.
    pub agent_id: Option<String>,
    /// Unix seconds.
    pub expires_at: i64,
    /// Where the plan is.
    pub status: PlanStatus,
}

/// One audit row.
#[derive(Clone, Debug, Default, Serialize, PartialEq)]
pub struct AuditRow {
    /// Row id (set by the store; names the row for [`AuditStore::audit_update`]).
    pub id: i64,
    /// Position in the log (set by the store, inside the transaction that
    /// writes the row; strictly increasing in commit order). Pages follow it.
    pub seq: i64,
    /// Unix milliseconds.
    pub at_ms: i64,
    /// What was decided: allowed, blocked, held, mismatched, expired, invalid,
    /// mcp_error, minted, denied, ...
    pub outcome: String,
    /// The route (`invoke`, `token`, `enforce`, `report`).
    pub route: String,
    /// User email, if known.
    pub user_email: Option<String>,
    /// Agent id, if known.
    pub agent_id: Option<String>,
    /// Plan id, if known.
    pub plan_id: Option<String>,
    /// Step index, if matched.
    pub step: Option<i64>,
    /// MCP server.
    pub mcp: Option<String>,
    /// Tool.
    pub tool: Option<String>,
    /// Why (error variant, policy rule, MCP error text).
    pub reason: Option<String>,
    /// Time spent deciding, microseconds.
    pub latency_us: i64,
    /// `serve --device`: what the verifier device said (`accepted #N`,
    /// `refused: Kind: Error`, `timeout`, `queue_full`, `unreachable: …`);
    /// `None` when no device was asked.
    pub device_verdict: Option<String>,
    /// `serve --device`: the device's round trip (queueing included), µs.
    pub device_latency_us: Option<i64>,
    /// `serve --device`: the device's signed receipt (SPEC §7), lowercase hex.
    pub receipt: Option<String>,
    /// The gateway (node) that wrote the row: set by the store to its own
    /// node name (see [`open_store_as`]) when the caller leaves it `None`.
    /// Several gateways share one PostgreSQL log; this tells them apart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// Who made a person's decision (approve, reject, revoke, create a key,
    /// load a policy, rotate the signing key), as the surface knows them:
    /// the console's signed-in admin, the admin key's name and email on the
    /// JSON routes, the operator's `--by` on the CLI.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
}

impl AuditRow {
    /// This row about delegation `d`: its tool, server, plan, step and
    /// requester filled in, stamped `node` when it names none.
    pub fn for_delegation(&self, d: &Delegation, node: &str) -> Self {
        let mut row = self.clone();
        row.tool = Some(d.tool.clone());
        row.mcp.clone_from(&d.mcp);
        row.plan_id.clone_from(&d.plan_id);
        row.step = d.step;
        if row.user_email.is_none() {
            row.user_email.clone_from(&d.requester_email);
        }
        if row.node.is_none() {
            row.node = Some(node.to_owned());
        }
        row
    }
}

/// Where a page of the audit log starts: opaque to callers, who get it from
/// [`AuditPage::next`] (or [`AuditCursor::START`]) and may carry it as text
/// ([`std::fmt::Display`] / [`AuditCursor::parse`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct AuditCursor(i64);

impl AuditCursor {
    /// Before the first row.
    pub const START: Self = Self(0);

    /// The cursor's text form back.
    ///
    /// # Errors
    /// `None` when `s` is not a cursor this store handed out.
    pub fn parse(s: &str) -> Option<Self> {
        s.parse::<i64>().ok().filter(|n| *n >= 0).map(Self)
    }

    /// For backends: the last `seq` this cursor is past.
    pub fn after_seq(self) -> i64 {
        self.0
    }

    /// For backends: the cursor past the row with this `seq`.
    pub fn past_seq(seq: i64) -> Self {
        Self(seq)
    }
}

impl std::fmt::Display for AuditCursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// One page of the audit log, oldest first.
#[derive(Clone, Debug, PartialEq)]
pub struct AuditPage {
    /// The rows.
    pub rows: Vec<AuditRow>,
    /// Where the next page starts (unchanged when `rows` is empty, so a
    /// follower polls with it again).
    pub next: AuditCursor,
}

/// A delegation request (a held call waiting for a human).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct Delegation {
    /// `deleg_…`.
    pub id: String,
    /// Where it is (a pending one past its expiry reads as expired).
    pub status: DelegationStatus,
    /// The tool (action).
    pub tool: String,
    /// The MCP server (domain).
    pub mcp: Option<String>,
    /// Plan id.
    pub plan_id: Option<String>,
    /// Requester.
    pub requester_email: Option<String>,
    /// Arguments JSON.
    pub arguments: String,
    /// Amount, if any.
    pub amount: Option<f64>,
    /// Why it was held.
    pub reason: Option<String>,
    /// Approval requirements from the policy (JSON), if any.
    pub approval: Option<String>,
    /// The plan step the held call was (its index), when it was one.
    pub step: Option<i64>,
    /// That step's RFC 9162 leaf hash, lowercase hex.
    pub leaf_hash: Option<String>,
    /// SHA-256 of `arguments` (the canonical JSON, `armoriq` profile),
    /// lowercase hex. `None` on rows from before the binding (they cover no
    /// call).
    pub args_hash: Option<String>,
    /// Unix milliseconds.
    pub created_ms: i64,
    /// Unix milliseconds: while pending, until when it may be decided; once
    /// approved, until when it may be used.
    pub expires_ms: i64,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Unix milliseconds.
    pub executed_ms: Option<i64>,
}

/// A new delegation request. Its identity while pending is (tool, plan_id,
/// requester_email, step, arguments): one pending delegation per held call.
#[derive(Clone, Debug, Default)]
pub struct NewDelegation {
    /// The tool.
    pub tool: String,
    /// The MCP server.
    pub mcp: Option<String>,
    /// Plan id.
    pub plan_id: Option<String>,
    /// Requester (trimmed, lowercase).
    pub requester_email: Option<String>,
    /// The plan step the call is, when it is one.
    pub step: Option<i64>,
    /// That step's leaf hash, lowercase hex.
    pub leaf_hash: Option<String>,
    /// Arguments, canonical JSON (`armoriq` profile).
    pub arguments: String,
    /// SHA-256 of `arguments`, lowercase hex ([`args_hash`]).
    pub args_hash: String,
    /// Amount.
    pub amount: Option<f64>,
    /// Reason.
    pub reason: Option<String>,
    /// Approval JSON.
    pub approval: Option<String>,
    /// Lifetime.
    pub ttl_ms: i64,
}

/// The call that wants to use an approval: an approval covers a call only
/// when every field here equals the held call's (tool, plan, step and its
/// leaf hash, the arguments' canonical hash, requester).
#[derive(Clone, Debug, Default)]
pub struct ApprovedCall {
    /// The tool called.
    pub tool: String,
    /// The plan the call's token signed.
    pub plan_id: String,
    /// The caller (trimmed, lowercase), if known.
    pub requester_email: Option<String>,
    /// The delegation the caller names (`_delegation_id`), if any: then only
    /// that one.
    pub delegation_id: Option<String>,
    /// The verified step index.
    pub step: i64,
    /// That step's leaf hash, lowercase hex.
    pub leaf_hash: String,
    /// SHA-256 of the call's canonical arguments, lowercase hex.
    pub args_hash: String,
}

/// What the SDK's `check-approved` asks about.
#[derive(Clone, Debug, Default)]
pub struct ApprovedQuery {
    /// The tool.
    pub tool: String,
    /// The plan, if given.
    pub plan_id: Option<String>,
    /// The requester (trimmed, lowercase), if given.
    pub email: Option<String>,
    /// The amount, if given: then only a delegation for that amount.
    pub amount: Option<f64>,
}

/// A person's decision on a pending delegation.
#[derive(Clone, Debug, Default)]
pub struct DelegationDecision {
    /// `deleg_…`.
    pub id: String,
    /// Approve (else reject).
    pub approve: bool,
    /// Who decides, as recorded on the delegation.
    pub by: String,
    /// Why (required to reject in the console).
    pub reason: Option<String>,
    /// When. An approval may then be used for as long as the call could
    /// wait for it (`expires_ms - created_ms`, the gateway's
    /// `--approval-ttl` when it was held), counted from now.
    pub now_ms: i64,
}

/// SHA-256 hex of canonical arguments: what binds an approval to them.
pub fn args_hash(canonical_arguments: &str) -> String {
    hex::encode(Sha256::digest(canonical_arguments.as_bytes()))
}

/// An idempotent request's identity: (API key, route, `Idempotency-Key`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdemKey {
    /// The API key's row id.
    pub key_id: i64,
    /// The route (`token`).
    pub route: String,
    /// The client's `Idempotency-Key`.
    pub idem: String,
}

/// A stored answer: HTTP status and JSON body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAnswer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: String,
}

/// A reservation's fencing token: each holder of an `Idempotency-Key`
/// gets a larger one than the holder before it (a takeover bumps it), and
/// the store accepts the holder's renewal, completion and release only
/// while the reservation still carries its lease. A holder that was
/// presumed dead and taken over is fenced out: it can no longer store
/// anything for the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Lease(pub i64);

/// What [`IdempotencyStore::reserve_idempotency_key`] decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// This request holds the key under this lease: do the work (renewing
    /// the lease, [`IdempotencyStore::renew_idempotency_key`], while it
    /// lasts), then [`IdempotencyStore::complete_mint`] (or release it).
    Won(Lease),
    /// Another request with this key is being served right now (409).
    InFlight,
    /// The key was used: replay this answer.
    Replay(StoredAnswer),
}

/// API keys.
pub trait KeyStore: Send + Sync {
    /// Adds an API key (only its SHA-256 is kept); returns its row id.
    fn add_api_key<'a>(&'a self, key: &'a str, role: Role, label: &'a str) -> StoreFuture<'a, i64>;
    /// Looks a presented key up (revoked keys are not found).
    fn check_api_key<'a>(&'a self, key: &'a str) -> StoreFuture<'a, Option<KeyInfo>>;
    /// Number of usable keys.
    fn count_api_keys(&self) -> StoreFuture<'_, i64>;
}

/// Minted plans.
pub trait PlanStore: Send + Sync {
    /// Stores a minted plan (`Conflict` if its id exists).
    fn put_plan<'a>(&'a self, plan: &'a PlanRecord) -> StoreFuture<'a, ()>;
    /// A plan by id.
    fn get_plan<'a>(&'a self, plan_id: &'a str) -> StoreFuture<'a, Option<PlanRecord>>;
    /// Sets a plan's status; false if there is no such plan.
    fn set_plan_status<'a>(&'a self, plan_id: &'a str, status: PlanStatus)
    -> StoreFuture<'a, bool>;
}

/// Idempotent answers: reserve, renew while working, then complete or
/// release, the last three fenced by the reservation's [`Lease`].
pub trait IdempotencyStore: Send + Sync {
    /// Reserves `key` for this request, atomically: exactly one of several
    /// concurrent callers gets [`Reservation::Won`]; the others get
    /// [`Reservation::InFlight`] until the winner completes, then
    /// [`Reservation::Replay`] of its answer. A reservation whose heartbeat
    /// (set when won, moved on by each renewal) is older than
    /// `stale_after_ms` at `now_ms` (its holder died) is taken over: the
    /// taker gets a larger lease, and the old holder is fenced out.
    fn reserve_idempotency_key<'a>(
        &'a self,
        key: &'a IdemKey,
        now_ms: i64,
        stale_after_ms: i64,
    ) -> StoreFuture<'a, Reservation>;
    /// The holder of `lease` is alive at `now_ms`: moves the reservation's
    /// heartbeat on (never back). False when `key` is no longer in flight
    /// under `lease` (completed, released, or taken over).
    fn renew_idempotency_key<'a>(
        &'a self,
        key: &'a IdemKey,
        lease: Lease,
        now_ms: i64,
    ) -> StoreFuture<'a, bool>;
    /// The mint's effect and its answer, in one transaction: if `key` is
    /// still in flight under `lease`, stores `plan` (when the answer minted
    /// one) and the answer for replay, and returns true; otherwise (the
    /// holder was fenced out, or the key was completed or released) stores
    /// nothing and returns false. `Conflict` (nothing stored) if the plan's
    /// id exists.
    fn complete_mint<'a>(
        &'a self,
        key: &'a IdemKey,
        lease: Lease,
        plan: Option<&'a PlanRecord>,
        answer: &'a StoredAnswer,
    ) -> StoreFuture<'a, bool>;
    /// Gives an unfinished reservation up (the work failed: the next request
    /// with this key starts afresh), if it is still held under `lease`; a
    /// fenced-out holder releases nothing.
    fn release_idempotency_key<'a>(&'a self, key: &'a IdemKey, lease: Lease)
    -> StoreFuture<'a, ()>;
}

/// Delegations: held calls, their approval, their single use.
pub trait DelegationStore: Send + Sync {
    /// The pending delegation for this held call, created if there is none,
    /// atomically: concurrent callers with the same request get one id.
    fn get_or_create_pending<'a>(
        &'a self,
        d: &'a NewDelegation,
        now_ms: i64,
    ) -> StoreFuture<'a, Delegation>;
    /// A delegation by id.
    fn get_delegation<'a>(
        &'a self,
        id: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<Delegation>>;
    /// Approves or rejects a pending, unexpired delegation, and writes
    /// `audit` (its tool, server, plan, step and user filled in from the
    /// delegation) in the same transaction: one conditional update, so of
    /// concurrent deciders exactly one decides, and only that one's row is
    /// written. Returns the delegation as it now is and whether this call
    /// decided it; `None` when there is no such delegation.
    fn decide_delegation<'a>(
        &'a self,
        d: &'a DelegationDecision,
        audit: AuditRow,
    ) -> StoreFuture<'a, Option<(Delegation, bool)>>;
    /// Consumes the approved, unexpired, not yet executed delegation bound
    /// to exactly `call` (tool, plan, step, leaf hash, arguments' hash,
    /// requester), in one atomic statement: of concurrent claims on one
    /// approval exactly one gets it (marked executed at `now_ms`); the rest,
    /// and every call that differs in any bound field, get `None`.
    fn claim_approved<'a>(
        &'a self,
        call: &'a ApprovedCall,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<Delegation>>;
    /// Marks an approved delegation executed (the SDK's own report); false
    /// if it was not approved.
    fn mark_executed<'a>(&'a self, id: &'a str, now_ms: i64) -> StoreFuture<'a, bool>;
    /// An approved, unexpired, not yet executed delegation for this tool
    /// (and plan, requester and amount, if given), without consuming it.
    fn find_approved<'a>(
        &'a self,
        q: &'a ApprovedQuery,
        now_ms: i64,
    ) -> StoreFuture<'a, Option<Delegation>>;
    /// Delegations, newest first (at most 500), optionally of one status.
    fn list_delegations(
        &self,
        status: Option<DelegationStatus>,
        now_ms: i64,
    ) -> StoreFuture<'_, Vec<Delegation>>;
    /// How many held calls wait for a decision at `now_ms` (pending, not
    /// expired), all of them counted.
    fn count_pending_delegations(&self, now_ms: i64) -> StoreFuture<'_, u64>;
}

/// The audit log.
pub trait AuditStore: Send + Sync {
    /// Appends a row; resolves once it is durable. Returns its row id.
    fn audit(&self, row: AuditRow) -> StoreFuture<'_, i64>;
    /// Resolves once every row handed to [`AuditStore::audit`] before this
    /// call is durable (or has failed: then its error), so a gateway
    /// shutting down leaves nothing in the writer's queue.
    fn flush_audit(&self) -> StoreFuture<'_, ()>;
    /// Records what became of an allowed call (its forwarding failed);
    /// resolves once durable.
    fn audit_update<'a>(
        &'a self,
        id: i64,
        outcome: &'a str,
        reason: Option<&'a str>,
        latency_us: i64,
    ) -> StoreFuture<'a, ()>;
    /// Rows after `after`, oldest first (in `seq` order), at most `limit`.
    fn audit_page(&self, after: AuditCursor, limit: u32) -> StoreFuture<'_, AuditPage>;
}

/// The gateway's durable state: every area, plus the schema version.
pub trait Store:
    KeyStore
    + PlanStore
    + IdempotencyStore
    + DelegationStore
    + AuditStore
    + ConsoleStore
    + TrustStore
    + UsageStore
    + SigningKeyStore
    + PolicyStore
    + ChangeFeed
{
    /// The schema version in force (the last applied migration).
    fn schema_version(&self) -> StoreFuture<'_, u32>;
    /// The node name stamped on audit rows that carry none.
    fn node(&self) -> &str;
    /// One round trip to the database (readiness, `GET /ready`): the
    /// schema version it holds now. PostgreSQL answers within the query
    /// timeout or fails with `Unavailable`.
    fn ping(&self) -> StoreFuture<'_, u32>;
}
