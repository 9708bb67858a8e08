//! One test suite for every [`Store`] backend, written against the trait
//! only, races included. A backend provides a [`Harness`] (fresh locations,
//! open, an old-schema database) and adds one line to its tests:
//!
//! ```ignore
//! armoriq_gateway::store_suite!(MyHarness::new());
//! ```
//!
//! which expands to one `#[tokio::test]` (multi-thread runtime) per suite
//! function (here and in the area files beside this one).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

pub mod audit;
pub mod console;
pub mod delegations;
pub mod idempotency;
pub mod shared;
pub mod trust;
pub mod usage;

use crate::store::{
    AuditCursor, AuditRow, DelegationStatus, IdemKey, NewDelegation, PlanRecord, PlanStatus,
    Reservation, Role, Store, StoreError, StoreFuture, StoredAnswer, migrations,
};
pub use audit::*;
pub use delegations::*;
pub use idempotency::{
    idempotency, idempotency_fencing, idempotency_heartbeat, race_idempotency_key,
    race_idempotency_mint, race_takeover_and_completion,
};
use std::sync::Arc;
use tokio::sync::Barrier;
pub use trust::*;
pub use usage::*;

/// Concurrent tasks in each race.
pub const RACERS: usize = 8;

/// What the suite needs from a backend.
pub trait Harness: Send + Sync + 'static {
    /// A new location (file, schema, database) no store has used.
    fn fresh(&self) -> String;
    /// Opens (creating and migrating) the store at `loc`.
    fn open<'a>(&'a self, loc: &'a str) -> StoreFuture<'a, Arc<dyn Store>>;
    /// Writes at `loc` a database as the gateway left it before schema
    /// versioning: key `ak_legacy` (agent), plan `plan_legacy` (active), two
    /// audit rows (outcomes `legacy1`, `legacy2`), a stored idempotent answer
    /// (key id 1, route `token`, key `legacy`, 200, `{"legacy":true}`), and
    /// the same request pending twice (tool `pay`, plan `plan_legacy`,
    /// requester `a@x`, arguments `{}`, expiring far in the future; ids
    /// `deleg_old` then `deleg_new`).
    fn create_legacy(&self, loc: &str);
    /// Whether a change made through one handle is announced to another
    /// handle's subscribers (several nodes on one database: PostgreSQL), or
    /// only to its own (one gateway per file: SQLite).
    fn announces_across_handles(&self) -> bool {
        false
    }
    /// The newest schema version the backend's code knows (each backend
    /// numbers its own migrations).
    fn latest_version(&self) -> u32 {
        migrations::latest()
    }
}

/// The suite's functions, for [`store_suite!`](crate::store_suite).
#[macro_export]
macro_rules! store_suite {
    ($harness:expr) => {
        $crate::store_suite!(@each $harness;
            keys plans idempotency delegation_lifecycle audit_paging
            audit_durable_across_reopen migrations_adopt_old_schema
            race_claim_approved race_idempotency_key race_get_or_create_pending
            approval_binding approval_lifetimes race_decide_audited
            trust_records race_reanchor_plan usage_rows race_put_usage
            race_usage_snapshots ping audit_flush);
        $crate::store_suite!(@each $harness;
            idempotency_fencing idempotency_heartbeat race_idempotency_mint
            race_takeover_and_completion);
    };
    (@each $harness:expr; $($t:ident)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $t() {
            $crate::store::suite::$t(&$harness).await;
        }
    )*};
}

pub(super) async fn fresh(h: &impl Harness) -> Arc<dyn Store> {
    h.open(&h.fresh()).await.unwrap()
}

pub(super) fn plan(id: &str) -> PlanRecord {
    PlanRecord {
        plan_id: id.into(),
        plan_hash: "ab".repeat(32),
        merkle_root: "cd".repeat(32),
        plan_json: r#"{"steps":[{"mcp":"m","action":"pay"}]}"#.into(),
        step_count: 1,
        intent_reference: format!("intent_{id}"),
        user_email: Some("a@x".into()),
        agent_id: None,
        expires_at: 1_900_000_000,
        status: PlanStatus::Active,
    }
}

pub(super) fn row(outcome: &str) -> AuditRow {
    AuditRow {
        route: "invoke".into(),
        outcome: outcome.into(),
        at_ms: 1,
        ..Default::default()
    }
}

pub async fn keys(h: &impl Harness) {
    let s = fresh(h).await;
    assert_eq!(s.count_api_keys().await.unwrap(), 0);
    let a = s
        .add_api_key("ak_test_abc", Role::Agent, "t")
        .await
        .unwrap();
    let b = s.add_api_key("ak_test_adm", Role::Admin, "").await.unwrap();
    assert_ne!(a, b);
    let k = s.check_api_key("ak_test_abc").await.unwrap().unwrap();
    assert_eq!((k.id, k.role), (a, Role::Agent));
    assert_eq!(
        s.check_api_key("ak_test_adm").await.unwrap().unwrap().role,
        Role::Admin
    );
    assert!(s.check_api_key("ak_test_abd").await.unwrap().is_none());
    assert_eq!(s.count_api_keys().await.unwrap(), 2);
    // The same key twice is a conflict, not an outage.
    assert!(matches!(
        s.add_api_key("ak_test_abc", Role::Agent, "again").await,
        Err(StoreError::Conflict(_))
    ));
}

/// A ping is a round trip that reads the schema version the database
/// holds, the one this code migrated it to.
pub async fn ping(h: &impl Harness) {
    let s = fresh(h).await;
    assert_eq!(s.ping().await.unwrap(), h.latest_version());
    assert_eq!(s.ping().await.unwrap(), s.schema_version().await.unwrap());
}

pub async fn plans(h: &impl Harness) {
    let s = fresh(h).await;
    s.put_plan(&plan("p1")).await.unwrap();
    assert_eq!(s.get_plan("p1").await.unwrap(), Some(plan("p1")));
    assert_eq!(s.get_plan("p2").await.unwrap(), None);
    assert!(matches!(
        s.put_plan(&plan("p1")).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(s.set_plan_status("p1", PlanStatus::Revoked).await.unwrap());
    assert!(!s.set_plan_status("p2", PlanStatus::Revoked).await.unwrap());
    assert_eq!(
        s.get_plan("p1").await.unwrap().unwrap().status,
        PlanStatus::Revoked
    );
}
pub async fn migrations_adopt_old_schema(h: &impl Harness) {
    let loc = h.fresh();
    h.create_legacy(&loc);
    let s = h.open(&loc).await.unwrap();
    assert_eq!(s.schema_version().await.unwrap(), h.latest_version());
    let k = s.check_api_key("ak_legacy").await.unwrap().unwrap();
    assert_eq!(k.role, Role::Agent);
    let p = s.get_plan("plan_legacy").await.unwrap().unwrap();
    assert_eq!(p.status, PlanStatus::Active);
    let page = s.audit_page(AuditCursor::START, 10).await.unwrap();
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.outcome.as_str())
            .collect::<Vec<_>>(),
        ["legacy1", "legacy2"]
    );
    s.audit(row("new")).await.unwrap();
    let more = s.audit_page(page.next, 10).await.unwrap();
    assert_eq!(more.rows.len(), 1);
    assert!(more.rows[0].seq > page.rows[1].seq);
    let legacy_key = IdemKey {
        key_id: 1,
        route: "token".into(),
        idem: "legacy".into(),
    };
    assert_eq!(
        s.reserve_idempotency_key(&legacy_key, 0, 60_000)
            .await
            .unwrap(),
        Reservation::Replay(StoredAnswer {
            status: 200,
            body: r#"{"legacy":true}"#.into()
        })
    );
    // The duplicate pending requests the old code could leave are one now:
    // the newer one holds the request's place.
    let pending = s
        .list_delegations(Some(DelegationStatus::Pending), 0)
        .await
        .unwrap();
    assert_eq!(
        pending.iter().map(|d| d.id.as_str()).collect::<Vec<_>>(),
        ["deleg_new"]
    );
    let d = s
        .get_or_create_pending(
            &NewDelegation {
                step: None,
                leaf_hash: None,
                ..held("pay", "plan_legacy", "{}", 60_000)
            },
            0,
        )
        .await
        .unwrap();
    assert_eq!(d.id, "deleg_new");
    drop(s);
    // Opening again applies nothing more.
    let s = h.open(&loc).await.unwrap();
    assert_eq!(s.schema_version().await.unwrap(), h.latest_version());
    assert_eq!(
        s.audit_page(AuditCursor::START, 10)
            .await
            .unwrap()
            .rows
            .len(),
        3
    );
}

/// Runs `f(i)` on `RACERS` tasks released together.
pub(super) async fn race<T, F, Fut>(f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let gate = Arc::new(Barrier::new(RACERS));
    let f = Arc::new(f);
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (gate, f) = (gate.clone(), f.clone());
            tokio::spawn(async move {
                gate.wait().await;
                f(i).await
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}
