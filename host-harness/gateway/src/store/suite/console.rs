//! The [`ConsoleStore`](crate::store::ConsoleStore) part of the store suite: named
//! keys, sessions (expiry, revocation), decisions with a reason (raced:
//! two admins deciding at once, one wins), audit searches. A backend adds
//! `armoriq_gateway::console_suite!(MyHarness::new());` beside its
//! `store_suite!` line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use super::Harness;
use crate::store::{
    AuditFilter, AuditRow, DelegationDecision, DelegationStatus, NewApiKey, NewDelegation, Role,
    Store,
};
use std::sync::Arc;
use tokio::sync::Barrier;

/// The console suite's functions.
#[macro_export]
macro_rules! console_suite {
    ($harness:expr) => {
        $crate::console_suite!(@each $harness;
            console_named_keys_and_sessions race_console_decisions console_audit_search);
    };
    (@each $harness:expr; $($t:ident)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $t() {
            $crate::store::suite::console::$t(&$harness).await;
        }
    )*};
}

async fn fresh(h: &impl Harness) -> Arc<dyn Store> {
    h.open(&h.fresh()).await.unwrap()
}

fn admin(key: &str, name: &str, email: &str) -> NewApiKey {
    NewApiKey {
        key: key.into(),
        role: Role::Admin,
        label: String::new(),
        name: Some(name.into()),
        email: Some(email.into()),
    }
}

pub async fn console_named_keys_and_sessions(h: &impl Harness) {
    let s = fresh(h).await;
    let cfo = s
        .add_named_api_key(&admin("ak_test_cfo", "Chris CFO", "cfo@example.com"))
        .await
        .unwrap();
    let agent = s
        .add_api_key("ak_test_agent", Role::Agent, "a")
        .await
        .unwrap();
    // A named key is an ordinary key to the SDK routes.
    let k = s.check_api_key("ak_test_cfo").await.unwrap().unwrap();
    assert_eq!((k.id, k.role), (cfo, Role::Admin));
    let rec = s.get_api_key(cfo).await.unwrap().unwrap();
    assert_eq!(rec.name.as_deref(), Some("Chris CFO"));
    assert_eq!(rec.email.as_deref(), Some("cfo@example.com"));
    assert_eq!(rec.revoked_ms, None);
    let all = s.list_api_keys().await.unwrap();
    assert_eq!(all.iter().map(|k| k.id).collect::<Vec<_>>(), [cfo, agent]);

    s.create_session("h1", cfo, "csrf1", 1000, 2000)
        .await
        .unwrap();
    let got = s.get_session("h1", 1500).await.unwrap().unwrap();
    assert_eq!((got.key.id, got.csrf.as_str()), (cfo, "csrf1"));
    assert_eq!(got.key.name.as_deref(), Some("Chris CFO"));
    assert!(
        s.get_session("h1", 2001).await.unwrap().is_none(),
        "expired"
    );
    assert!(s.get_session("nope", 1500).await.unwrap().is_none());
    // An agent key's session is no admin session.
    s.create_session("h2", agent, "c", 1000, 2000)
        .await
        .unwrap();
    assert!(s.get_session("h2", 1500).await.unwrap().is_none());
    // Signing out ends it.
    s.create_session("h3", cfo, "c3", 1000, 9000).await.unwrap();
    s.delete_session("h3", 1500).await.unwrap();
    assert!(s.get_session("h3", 1500).await.unwrap().is_none());
    // Revoking the key ends its sessions and its SDK access; twice is false.
    s.create_session("h4", cfo, "c4", 1000, 9000).await.unwrap();
    assert!(s.revoke_api_key(cfo, 1600).await.unwrap());
    assert!(!s.revoke_api_key(cfo, 1700).await.unwrap());
    assert!(!s.revoke_api_key(999_999, 1700).await.unwrap());
    assert!(s.get_session("h4", 1650).await.unwrap().is_none());
    assert!(s.check_api_key("ak_test_cfo").await.unwrap().is_none());
    assert_eq!(
        s.get_api_key(cfo).await.unwrap().unwrap().revoked_ms,
        Some(1600)
    );
}

pub async fn race_console_decisions(h: &impl Harness) {
    let s = fresh(h).await;
    for approve_first in [true, false] {
        let d = s
            .get_or_create_pending(
                &NewDelegation {
                    tool: "pay".into(),
                    plan_id: Some(format!("p-{approve_first}")),
                    arguments: "{}".into(),
                    ttl_ms: 60_000,
                    ..Default::default()
                },
                1000,
            )
            .await
            .unwrap();
        let gate = Arc::new(Barrier::new(8));
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let (s, gate, id) = (s.clone(), gate.clone(), d.id.clone());
                // Half approve, half reject, each as another admin.
                let approve = (i % 2 == 0) == approve_first;
                tokio::spawn(async move {
                    gate.wait().await;
                    let by = format!("admin{i}@x");
                    let r = s
                        .decide_delegation(
                            &DelegationDecision {
                                id,
                                approve,
                                by: by.clone(),
                                reason: Some("why".into()),
                                now_ms: 1001,
                            },
                            AuditRow::default(),
                        )
                        .await
                        .unwrap()
                        .unwrap();
                    (r, by, approve)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut finals = Vec::new();
        for t in tasks {
            let ((d, won), by, approve) = t.await.unwrap();
            finals.push(d.status);
            if won {
                winners.push((d, by, approve));
            }
        }
        assert_eq!(winners.len(), 1, "exactly one decision: {finals:?}");
        let (w, by, approve) = &winners[0];
        assert_eq!(w.decided_by.as_deref(), Some(by.as_str()));
        let want = if *approve {
            DelegationStatus::Approved
        } else {
            DelegationStatus::Rejected
        };
        assert_eq!(w.status, want);
        let now = s.get_delegation(&d.id, 1002).await.unwrap().unwrap();
        assert_eq!(
            (now.status, now.decided_by.clone()),
            (want, Some(by.clone()))
        );
        assert_eq!(
            s.decision_reason(&d.id).await.unwrap().as_deref(),
            Some("why")
        );
    }
    // Past its expiry nothing decides it.
    let d = s
        .get_or_create_pending(
            &NewDelegation {
                tool: "pay".into(),
                arguments: "{}".into(),
                ttl_ms: 10,
                ..Default::default()
            },
            1000,
        )
        .await
        .unwrap();
    let late_decision = |id: &str, now_ms| DelegationDecision {
        id: id.into(),
        approve: true,
        by: "a@x".into(),
        reason: None,
        now_ms,
    };
    let (late, won) = s
        .decide_delegation(&late_decision(&d.id, 5000), AuditRow::default())
        .await
        .unwrap()
        .unwrap();
    assert!(!won);
    assert_eq!(late.status, DelegationStatus::Expired);
    assert!(
        s.decide_delegation(&late_decision("deleg_none", 1), AuditRow::default())
            .await
            .unwrap()
            .is_none()
    );
}

pub async fn console_audit_search(h: &impl Harness) {
    let s = fresh(h).await;
    let row = |outcome: &str, user: &str, tool: &str, plan: &str, at_ms: i64| AuditRow {
        route: "invoke".into(),
        outcome: outcome.into(),
        user_email: Some(user.into()),
        agent_id: Some("agent-1".into()),
        tool: Some(tool.into()),
        plan_id: Some(plan.into()),
        at_ms,
        ..Default::default()
    };
    for r in [
        row("allowed", "a@x", "pay", "p1", 100),
        row("held", "b@x", "pay", "p2", 200),
        row("allowed", "b@x", "mail", "p2", 300),
        row("blocked", "a@x", "pay", "p1", 400),
    ] {
        s.audit(r).await.unwrap();
    }
    let search = |f: AuditFilter, after: Option<i64>| {
        let s = s.clone();
        async move {
            s.audit_search(&f, after, 100)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.at_ms)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        search(AuditFilter::default(), None).await,
        [400, 300, 200, 100]
    );
    let by = |f: fn(&mut AuditFilter)| {
        let mut a = AuditFilter::default();
        f(&mut a);
        a
    };
    assert_eq!(
        search(by(|f| f.outcome = Some("allowed".into())), None).await,
        [300, 100]
    );
    assert_eq!(
        search(by(|f| f.user = Some("b@x".into())), None).await,
        [300, 200]
    );
    assert_eq!(
        search(by(|f| f.tool = Some("pay".into())), None).await,
        [400, 200, 100]
    );
    assert_eq!(
        search(by(|f| f.plan = Some("p1".into())), None).await,
        [400, 100]
    );
    assert_eq!(
        search(by(|f| f.agent = Some("other".into())), None).await,
        Vec::<i64>::new()
    );
    assert_eq!(
        search(
            by(|f| {
                f.from_ms = Some(200);
                f.to_ms = Some(400);
            }),
            None
        )
        .await,
        [300, 200]
    );
    // Live updates: only rows past a seq.
    let all = s
        .audit_search(&AuditFilter::default(), None, 100)
        .await
        .unwrap();
    let third = all[1].seq;
    assert_eq!(search(AuditFilter::default(), Some(third)).await, [400]);
    assert_eq!(
        s.audit_search(&AuditFilter::default(), None, 2)
            .await
            .unwrap()
            .len(),
        2
    );
}
