//! One test suite for every [`Store`] backend, written against the trait
//! only, races included. A backend provides a [`Harness`] (fresh locations,
//! open, an old-schema database) and adds one line to its tests:
//!
//! ```ignore
//! armoriq_gateway::store_suite!(MyHarness::new());
//! ```
//!
//! which expands to one `#[tokio::test]` (multi-thread runtime) per suite
//! function below.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

pub use super::delegation_suite::*;
pub use super::suite_idempotency::{
    idempotency, idempotency_fencing, idempotency_heartbeat, race_idempotency_key,
    race_idempotency_mint, race_takeover_and_completion,
};
use super::{
    AuditCursor, AuditRow, DelegationStatus, IdemKey, NewDelegation, PlanRecord, PlanStatus,
    Reservation, Role, Store, StoreError, StoreFuture, StoredAnswer, migrations,
};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::Barrier;

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

pub async fn audit_paging(h: &impl Harness) {
    let s = fresh(h).await;
    let tasks: Vec<_> = (0..25)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.audit(row(&format!("o{i}"))).await.unwrap() })
        })
        .collect();
    let mut ids = BTreeSet::new();
    for t in tasks {
        assert!(ids.insert(t.await.unwrap()));
    }
    let mut cursor = AuditCursor::START;
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    loop {
        let page = s.audit_page(cursor, 10).await.unwrap();
        if page.rows.is_empty() {
            assert_eq!(page.next, cursor, "an empty page keeps the cursor");
            break;
        }
        sizes.push(page.rows.len());
        // The text form round-trips.
        cursor = AuditCursor::parse(&page.next.to_string()).unwrap();
        seen.extend(page.rows);
    }
    assert_eq!(sizes, [10, 10, 5]);
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq), "seq order");
    let outcomes: BTreeSet<_> = seen.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(outcomes, (0..25).map(|i| format!("o{i}")).collect());
    assert_eq!(seen.iter().map(|r| r.id).collect::<BTreeSet<_>>(), ids);
    // A follower's cursor sees only what comes after it.
    let last = s.audit(row("late")).await.unwrap();
    let page = s.audit_page(cursor, 10).await.unwrap();
    assert_eq!(
        page.rows
            .iter()
            .map(|r| r.outcome.as_str())
            .collect::<Vec<_>>(),
        ["late"]
    );
    // An allowed call whose forwarding failed.
    s.audit_update(last, "mcp_error", Some("down"), 7)
        .await
        .unwrap();
    let page = s.audit_page(cursor, 10).await.unwrap();
    let r = &page.rows[0];
    assert_eq!(
        (r.outcome.as_str(), r.reason.as_deref(), r.latency_us),
        ("mcp_error", Some("down"), 7)
    );
    assert!(AuditCursor::parse("-1").is_none() && AuditCursor::parse("x").is_none());
}

pub async fn audit_durable_across_reopen(h: &impl Harness) {
    let loc = h.fresh();
    let s = h.open(&loc).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let s = s.clone();
            tokio::spawn(async move { s.audit(row(&format!("d{i}"))).await.unwrap() })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let before = s.audit_page(AuditCursor::START, 100).await.unwrap();
    drop(s);
    let s = h.open(&loc).await.unwrap();
    let after = s.audit_page(AuditCursor::START, 100).await.unwrap();
    assert_eq!(after.rows.len(), 8);
    assert_eq!(after, before);
    s.audit(row("next")).await.unwrap();
    let more = s.audit_page(after.next, 100).await.unwrap();
    assert_eq!(more.rows.len(), 1);
    assert!(more.rows[0].seq > before.rows[7].seq);
}

/// `flush_audit` resolves only once every row handed over before it is
/// durable: each row's call is started (its row queued) but not awaited,
/// and after the flush every one of them can be read back.
pub async fn audit_flush(h: &impl Harness) {
    use std::task::Poll;
    let s = fresh(h).await;
    let mut started = Vec::new();
    for i in 0..50 {
        let mut f = s.audit(row(&format!("f{i}")));
        // One poll hands the row to the writer (and may already find it
        // written: then it is not polled again).
        let first = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
        started.push(match first {
            Poll::Ready(id) => (Some(id), None),
            Poll::Pending => (None, Some(f)),
        });
    }
    s.flush_audit().await.unwrap();
    let page = s.audit_page(AuditCursor::START, 100).await.unwrap();
    assert_eq!(
        page.rows.len(),
        50,
        "every queued row is durable after the flush"
    );
    for (done, pending) in started {
        let id = match (done, pending) {
            (Some(id), _) => id,
            (None, Some(f)) => f.await,
            (None, None) => unreachable!("one or the other"),
        };
        assert!(id.unwrap() > 0);
    }
    // Nothing queued: the flush returns at once.
    s.flush_audit().await.unwrap();
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

fn trust(
    id: &str,
    kind: super::TrustKind,
    plan_id: &str,
    from: Option<&str>,
    to: &str,
) -> super::TrustRecord {
    super::TrustRecord {
        id: id.into(),
        kind,
        plan_id: plan_id.into(),
        record_json: format!(r#"{{"id":"{id}"}}"#),
        signature: "00".repeat(64),
        previous_plan_hash: from.map(str::to_owned),
        plan_hash: to.into(),
        created_ms: 1000,
        expires_at: Some(1_900_000_000),
        revoked_ms: None,
    }
}

pub async fn trust_records(h: &impl Harness) {
    use super::TrustKind::{Delegate, DelegateSubtree, Reanchor};
    let s = fresh(h).await;
    s.put_plan(&plan("p1")).await.unwrap();
    s.put_plan(&plan("p2")).await.unwrap();
    let d1 = trust("t1", Delegate, "p1", None, &"ab".repeat(32));
    s.put_trust_record(&d1).await.unwrap();
    assert!(matches!(
        s.put_trust_record(&d1).await,
        Err(StoreError::Conflict(_))
    ));
    s.put_trust_record(&trust("t2", DelegateSubtree, "p1", None, &"ab".repeat(32)))
        .await
        .unwrap();
    s.put_trust_record(&trust("t3", Delegate, "p2", None, &"ab".repeat(32)))
        .await
        .unwrap();
    assert_eq!(s.get_trust_record("t1").await.unwrap(), Some(d1));
    assert_eq!(s.get_trust_record("nope").await.unwrap(), None);
    // Re-anchor p1: only from the hash it has.
    let mut new = plan("p1");
    new.plan_hash = "ef".repeat(32);
    new.step_count = 2;
    let r = trust(
        "t4",
        Reanchor,
        "p1",
        Some(&"ab".repeat(32)),
        &"ef".repeat(32),
    );
    assert!(!s.reanchor_plan(&"00".repeat(32), &new, &r).await.unwrap());
    assert!(s.reanchor_plan(&"ab".repeat(32), &new, &r).await.unwrap());
    assert_eq!(
        s.get_plan("p1").await.unwrap().unwrap().plan_hash,
        "ef".repeat(32)
    );
    let ids: Vec<_> = s
        .plan_trust_records("p1")
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["t1", "t2", "t4"]);
    // One delegation alone: once.
    assert!(s.revoke_trust_record("t3", 4000).await.unwrap());
    assert!(!s.revoke_trust_record("t3", 4001).await.unwrap());
    assert!(
        !s.revoke_trust_record("t4", 4001).await.unwrap(),
        "not a delegation"
    );
    assert_eq!(
        s.get_trust_record("t3").await.unwrap().unwrap().revoked_ms,
        Some(4000)
    );
    // Revoking p1 revokes its two delegations, not p2's; twice counts 0.
    assert_eq!(s.revoke_plan_cascade("p1", 5000).await.unwrap(), Some(2));
    assert_eq!(
        s.get_plan("p1").await.unwrap().unwrap().status,
        PlanStatus::Revoked
    );
    assert_eq!(
        s.get_trust_record("t1").await.unwrap().unwrap().revoked_ms,
        Some(5000)
    );
    assert_eq!(
        s.get_trust_record("t4").await.unwrap().unwrap().revoked_ms,
        None
    );
    // p2's delegation keeps the time it was revoked alone.
    assert_eq!(
        s.get_trust_record("t3").await.unwrap().unwrap().revoked_ms,
        Some(4000)
    );
    assert_eq!(s.revoke_plan_cascade("p1", 6000).await.unwrap(), Some(0));
    assert_eq!(s.revoke_plan_cascade("nope", 6000).await.unwrap(), None);
    // A revoked plan is not re-anchored.
    let mut again = new.clone();
    again.plan_hash = "11".repeat(32);
    let r2 = trust(
        "t5",
        Reanchor,
        "p1",
        Some(&"ef".repeat(32)),
        &"11".repeat(32),
    );
    assert!(
        !s.reanchor_plan(&"ef".repeat(32), &again, &r2)
            .await
            .unwrap()
    );
    assert_eq!(s.get_trust_record("t5").await.unwrap(), None);
}

pub async fn race_reanchor_plan(h: &impl Harness) {
    let s = fresh(h).await;
    s.put_plan(&plan("p1")).await.unwrap();
    let s2 = s.clone();
    let got = race(move |i| {
        let s = s2.clone();
        async move {
            let mut new = plan("p1");
            new.plan_hash = format!("{i:02}").repeat(32);
            let r = trust(
                &format!("t{i}"),
                super::TrustKind::Reanchor,
                "p1",
                Some(&"ab".repeat(32)),
                &new.plan_hash,
            );
            s.reanchor_plan(&"ab".repeat(32), &new, &r).await.unwrap()
        }
    })
    .await;
    let winners: Vec<usize> = (0..RACERS).filter(|i| got[*i]).collect();
    assert_eq!(winners.len(), 1, "{got:?}");
    let w = winners[0];
    assert_eq!(
        s.get_plan("p1").await.unwrap().unwrap().plan_hash,
        format!("{w:02}").repeat(32)
    );
    let records = s.plan_trust_records("p1").await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].id, format!("t{w}"));
}

fn usage_row(model: &str, input: i64, revision: i64) -> super::UsageRow {
    super::UsageRow {
        org: 1,
        product: "claude-code".into(),
        session_id: "s1".into(),
        model: model.into(),
        usage_date: "2026-12-02".into(),
        usage_hour: 21,
        device: "dev1".into(),
        input_tokens: input,
        output_tokens: 2 * input,
        revision,
        updated_ms: 1,
        ..Default::default()
    }
}

pub async fn usage_rows(h: &impl Harness) {
    use super::SnapshotStatus::{Applied, Present, Superseded};
    let s = fresh(h).await;
    assert_eq!(
        s.put_usage(&[usage_row("a", 10, 0), usage_row("b", 5, 0)])
            .await
            .unwrap(),
        2
    );
    // The same hour again replaces (idempotent); zero counts zero the row.
    s.put_usage(&[usage_row("a", 10, 0), usage_row("b", 0, 0)])
        .await
        .unwrap();
    let rows = s.list_usage(100).await.unwrap();
    assert_eq!(rows.len(), 2);
    let a = rows.iter().find(|r| r.model == "a").unwrap();
    assert_eq!((a.input_tokens, a.output_tokens), (10, 20));
    assert_eq!(
        rows.iter().find(|r| r.model == "b").unwrap().input_tokens,
        0
    );
    // Another device or hour is another row.
    let mut other = usage_row("a", 1, 0);
    other.device = String::new();
    s.put_usage(&[other]).await.unwrap();
    assert_eq!(s.list_usage(100).await.unwrap().len(), 3);
    // Snapshots of another session: newer applies, same is present, older superseded.
    let snap = |rev: i64, models: &[&str]| -> Vec<super::UsageRow> {
        models
            .iter()
            .map(|m| {
                let mut r = usage_row(m, rev * 100, rev);
                r.session_id = "s2".into();
                r
            })
            .collect()
    };
    assert_eq!(
        s.apply_usage_snapshot(&snap(2, &["a", "b"])).await.unwrap(),
        Applied
    );
    assert_eq!(
        s.apply_usage_snapshot(&snap(2, &["a", "b"])).await.unwrap(),
        Present
    );
    assert_eq!(
        s.apply_usage_snapshot(&snap(1, &["a"])).await.unwrap(),
        Superseded
    );
    assert_eq!(
        s.apply_usage_snapshot(&snap(3, &["a"])).await.unwrap(),
        Applied
    );
    let s2: Vec<_> = s
        .list_usage(100)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.session_id == "s2")
        .collect();
    assert_eq!(s2.len(), 1, "the snapshot is the session-hour: b is gone");
    assert_eq!((s2[0].input_tokens, s2[0].revision), (300, 3));
    // Streams: one generation per org; a reset from a stale one changes nothing.
    assert_eq!(s.open_usage_stream(1, "g1").await.unwrap(), "g1");
    assert_eq!(s.open_usage_stream(1, "g2").await.unwrap(), "g1");
    assert_eq!(s.reset_usage_stream(1, "g1", "g3").await.unwrap(), "g3");
    assert_eq!(s.reset_usage_stream(1, "g1", "g4").await.unwrap(), "g3");
    assert!(s.put_usage_run(1, "r1", "{}", 1).await.unwrap());
    assert!(!s.put_usage_run(1, "r1", "{}", 2).await.unwrap());
    assert!(s.put_usage_run(1, "r1", r#"{"x":1}"#, 3).await.unwrap());
}

pub async fn race_put_usage(h: &impl Harness) {
    let s = fresh(h).await;
    let s2 = s.clone();
    let got = race(move |_| {
        let s = s2.clone();
        async move {
            s.put_usage(&[usage_row("a", 7, 0), usage_row("b", 9, 0)])
                .await
                .unwrap()
        }
    })
    .await;
    assert!(got.iter().all(|n| *n == 2), "{got:?}");
    let rows = s.list_usage(100).await.unwrap();
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows.iter().map(|r| r.input_tokens).sum::<i64>(), 16);
}

pub async fn race_usage_snapshots(h: &impl Harness) {
    use super::SnapshotStatus::{Applied, Present};
    let s = fresh(h).await;
    let s2 = s.clone();
    // Revisions 1..=8 of one session-hour, and the same revision 8 twice
    // more (racers 0 and 1 send revision 8 as well).
    let got = race(move |i| {
        let s = s2.clone();
        let rev = if i < 2 { 8 } else { i as i64 };
        async move {
            (
                rev,
                s.apply_usage_snapshot(&[usage_row("a", rev, rev)])
                    .await
                    .unwrap(),
            )
        }
    })
    .await;
    let rows = s.list_usage(100).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(
        rows[0].revision, 8,
        "the newest revision is stored: {got:?}"
    );
    let eights: Vec<_> = got
        .iter()
        .filter(|(r, _)| *r == 8)
        .map(|(_, st)| *st)
        .collect();
    assert_eq!(
        eights.iter().filter(|st| **st == Applied).count(),
        1,
        "{got:?}"
    );
    assert_eq!(
        eights.iter().filter(|st| **st == Present).count(),
        1,
        "{got:?}"
    );
}
