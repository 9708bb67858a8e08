//! The store suite's delegation tests (part of [`super`], run on
//! every backend by [`store_suite!`](crate::store_suite)): held calls,
//! approvals bound to exactly one call, their lifetimes, and the races on
//! each once-only rule.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use super::{Harness, fresh, race};
use crate::store::{
    ApprovedCall, ApprovedQuery, AuditCursor, AuditRow, DelegationDecision, DelegationStatus,
    NewDelegation, args_hash,
};
use std::collections::BTreeSet;

/// The leaf hash the suite's held calls are at (step 0).
const LEAF: &str = "11111111111111111111111111111111111111111111111111111111111111ff";

/// A held call: `tool` in plan `plan`, step 0, arguments `args`.
pub fn held(tool: &str, plan: &str, args: &str, ttl_ms: i64) -> NewDelegation {
    NewDelegation {
        tool: tool.into(),
        mcp: Some("m".into()),
        plan_id: Some(plan.into()),
        requester_email: Some("a@x".into()),
        step: Some(0),
        leaf_hash: Some(LEAF.into()),
        args_hash: args_hash(args),
        arguments: args.into(),
        amount: Some(5000.0),
        ttl_ms,
        ..Default::default()
    }
}

/// The call `tool(args)` at step 0 of `plan` by `a@x`, naming `named`.
fn call(tool: &str, plan: &str, args: &str, named: Option<&str>) -> ApprovedCall {
    ApprovedCall {
        tool: tool.into(),
        plan_id: plan.into(),
        requester_email: Some("a@x".into()),
        delegation_id: named.map(str::to_owned),
        step: 0,
        leaf_hash: LEAF.into(),
        args_hash: args_hash(args),
    }
}

fn decision(id: &str, approve: bool, by: &str, now_ms: i64) -> DelegationDecision {
    DelegationDecision {
        id: id.into(),
        approve,
        by: by.into(),
        reason: None,
        now_ms,
    }
}

fn decided_row(outcome: &str, actor: &str) -> AuditRow {
    AuditRow {
        route: "console".into(),
        outcome: outcome.into(),
        actor: Some(actor.into()),
        reason: Some(format!("{outcome} by {actor}")),
        at_ms: 1,
        ..Default::default()
    }
}

async fn decide(
    s: &std::sync::Arc<dyn crate::store::Store>,
    id: &str,
    approve: bool,
    now_ms: i64,
) -> (crate::store::Delegation, bool) {
    let outcome = if approve { "approved" } else { "rejected" };
    s.decide_delegation(
        &decision(id, approve, "boss", now_ms),
        decided_row(outcome, "boss"),
    )
    .await
    .unwrap()
    .unwrap()
}

fn query(tool: &str, plan: Option<&str>) -> ApprovedQuery {
    ApprovedQuery {
        tool: tool.into(),
        plan_id: plan.map(str::to_owned),
        ..Default::default()
    }
}

pub async fn delegation_lifecycle(h: &impl Harness) {
    let s = fresh(h).await;
    let nd = held("pay", "p1", "{}", 60_000);
    let d = s.get_or_create_pending(&nd, 1000).await.unwrap();
    assert_eq!(d.status, DelegationStatus::Pending);
    assert!(d.id.starts_with("deleg_"));
    assert_eq!(
        (d.step, d.leaf_hash.as_deref(), d.args_hash.clone()),
        (Some(0), Some(LEAF), Some(args_hash("{}")))
    );
    // The same pending request is not duplicated; another one is.
    assert_eq!(s.get_or_create_pending(&nd, 1001).await.unwrap().id, d.id);
    let other = s
        .get_or_create_pending(&held("pay", "p1", r#"{"amount":1}"#, 60_000), 1001)
        .await
        .unwrap();
    assert_ne!(other.id, d.id);
    let at_step_1 = NewDelegation {
        step: Some(1),
        ..held("pay", "p1", "{}", 60_000)
    };
    assert_ne!(
        s.get_or_create_pending(&at_step_1, 1001).await.unwrap().id,
        d.id,
        "the same arguments at another step are another call"
    );
    // Nothing to claim before approval.
    assert!(
        s.claim_approved(&call("pay", "p1", "{}", None), 1002)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.find_approved(&query("pay", Some("p1")), 1002)
            .await
            .unwrap()
            .is_none()
    );
    let (d2, won) = decide(&s, &d.id, true, 1003).await;
    assert!(won);
    assert_eq!(
        (d2.status, d2.decided_by.as_deref()),
        (DelegationStatus::Approved, Some("boss"))
    );
    // Deciding twice does not flip it.
    let (d3, won) = decide(&s, &d.id, false, 1004).await;
    assert!(!won);
    assert_eq!(d3.status, DelegationStatus::Approved);
    assert!(
        s.decide_delegation(
            &decision("deleg_none", true, "x", 1004),
            decided_row("approved", "x")
        )
        .await
        .unwrap()
        .is_none()
    );
    // find_approved reads without consuming.
    assert!(
        s.find_approved(
            &ApprovedQuery {
                email: Some("a@x".into()),
                amount: Some(5000.0),
                ..query("pay", Some("p1"))
            },
            1005
        )
        .await
        .unwrap()
        .is_some()
    );
    assert!(
        s.find_approved(
            &ApprovedQuery {
                amount: Some(9000.0),
                ..query("pay", Some("p1"))
            },
            1005
        )
        .await
        .unwrap()
        .is_none(),
        "another amount"
    );
    let claimed = s
        .claim_approved(&call("pay", "p1", "{}", None), 1006)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (claimed.id.as_str(), claimed.status),
        (d.id.as_str(), DelegationStatus::Executed)
    );
    assert_eq!(claimed.executed_ms, Some(1006));
    // Single use.
    assert!(
        s.claim_approved(&call("pay", "p1", "{}", None), 1007)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.claim_approved(&call("pay", "p1", "{}", Some(&d.id)), 1007)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!s.mark_executed(&d.id, 1007).await.unwrap());
    // A named claim, and the SDK's own mark-executed.
    let n = s
        .get_or_create_pending(&held("pay", "p1", "{}", 60_000), 1008)
        .await
        .unwrap();
    assert_ne!(
        n.id, d.id,
        "the executed one no longer holds the request's place"
    );
    decide(&s, &n.id, true, 1009).await;
    let got = s
        .claim_approved(&call("pay", "p1", "{}", Some(&n.id)), 1010)
        .await
        .unwrap();
    assert_eq!(got.map(|g| g.id), Some(n.id.clone()));
    let m = s
        .get_or_create_pending(&held("pay", "p1", "{}", 60_000), 1011)
        .await
        .unwrap();
    decide(&s, &m.id, true, 1012).await;
    assert!(s.mark_executed(&m.id, 1013).await.unwrap());
    assert_eq!(
        s.get_delegation(&m.id, 1014).await.unwrap().unwrap().status,
        DelegationStatus::Executed
    );
    // Rejection.
    decide(&s, &other.id, false, 1015).await;
    assert_eq!(
        s.get_delegation(&other.id, 1016)
            .await
            .unwrap()
            .unwrap()
            .status,
        DelegationStatus::Rejected
    );
    // Listing, newest first, by status.
    let all = s.list_delegations(None, 1017).await.unwrap();
    assert_eq!(all.len(), 5);
    let executed = s
        .list_delegations(Some(DelegationStatus::Executed), 1017)
        .await
        .unwrap();
    assert_eq!(executed.len(), 3);
}

/// An approval covers exactly the call it was given for: any other tool,
/// plan, step, leaf, arguments or requester gets nothing, named or not,
/// and the approval stays for its own call.
pub async fn approval_binding(h: &impl Harness) {
    let s = fresh(h).await;
    let acme = r#"{"amount":5000,"recipient":"acme"}"#;
    let mallory = r#"{"amount":9000,"recipient":"mallory"}"#;
    let d = s
        .get_or_create_pending(&held("send_payment", "p1", acme, 60_000), 1000)
        .await
        .unwrap();
    decide(&s, &d.id, true, 1001).await;
    let good = call("send_payment", "p1", acme, Some(&d.id));
    let others = [
        call("send_payment", "p1", mallory, Some(&d.id)),
        call("send_payment", "p1", mallory, None),
        call("refund", "p1", acme, Some(&d.id)),
        call("send_payment", "p2", acme, Some(&d.id)),
        ApprovedCall {
            step: 1,
            ..good.clone()
        },
        ApprovedCall {
            leaf_hash: "22".repeat(32),
            ..good.clone()
        },
        ApprovedCall {
            requester_email: Some("b@x".into()),
            ..good.clone()
        },
        ApprovedCall {
            requester_email: None,
            ..good.clone()
        },
    ];
    for c in &others {
        assert!(s.claim_approved(c, 1002).await.unwrap().is_none(), "{c:?}");
    }
    assert_eq!(
        s.get_delegation(&d.id, 1003).await.unwrap().unwrap().status,
        DelegationStatus::Approved,
        "the refused claims left the approval unspent"
    );
    let got = s.claim_approved(&good, 1004).await.unwrap().unwrap();
    assert_eq!(got.id, d.id);
    assert!(s.claim_approved(&good, 1005).await.unwrap().is_none());
    // Unnamed, it finds the same binding.
    let e = s
        .get_or_create_pending(&held("send_payment", "p1", acme, 60_000), 2000)
        .await
        .unwrap();
    decide(&s, &e.id, true, 2001).await;
    let got = s
        .claim_approved(&call("send_payment", "p1", acme, None), 2002)
        .await
        .unwrap();
    assert_eq!(got.map(|g| g.id), Some(e.id));
}

/// A pending delegation expires `ttl` after it was held; an approved one
/// may be used for as long again, counted from the decision.
pub async fn approval_lifetimes(h: &impl Harness) {
    let s = fresh(h).await;
    // Pending past its TTL: reads as expired, cannot be approved, and a
    // new hold of the same call gets a new delegation.
    let e = s
        .get_or_create_pending(&held("pay", "p1", "{}", 10), 0)
        .await
        .unwrap();
    assert_eq!(
        s.get_delegation(&e.id, 11).await.unwrap().unwrap().status,
        DelegationStatus::Expired
    );
    let (late, won) = decide(&s, &e.id, true, 11).await;
    assert!(!won);
    assert_eq!(late.status, DelegationStatus::Expired);
    let e2 = s
        .get_or_create_pending(&held("pay", "p1", "{}", 10), 11)
        .await
        .unwrap();
    assert_ne!(e2.id, e.id);
    // Approved at 15: usable until 15 + 10.
    let (a, won) = decide(&s, &e2.id, true, 15).await;
    assert!(won);
    assert_eq!(a.expires_ms, 25);
    assert_eq!(
        s.get_delegation(&a.id, 26).await.unwrap().unwrap().status,
        DelegationStatus::Expired
    );
    assert!(
        s.claim_approved(&call("pay", "p1", "{}", Some(&a.id)), 26)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.claim_approved(&call("pay", "p1", "{}", None), 26)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        s.find_approved(&query("pay", None), 26)
            .await
            .unwrap()
            .is_none()
    );
    assert!(!s.mark_executed(&a.id, 26).await.unwrap());
    assert!(
        s.claim_approved(&call("pay", "p1", "{}", Some(&a.id)), 25)
            .await
            .unwrap()
            .is_some(),
        "on its last millisecond it is still good"
    );
}

/// Of concurrent deciders exactly one decides, and exactly one audit row
/// (the winner's, naming them) is written with the decision.
pub async fn race_decide_audited(h: &impl Harness) {
    let s = fresh(h).await;
    let d = s
        .get_or_create_pending(&held("pay", "p1", "{}", 60_000), 1000)
        .await
        .unwrap();
    let before = s.audit_page(AuditCursor::START, 1000).await.unwrap();
    let (s2, id) = (s.clone(), d.id.clone());
    let got = race(move |i| {
        let (s, id) = (s2.clone(), id.clone());
        async move {
            let approve = i % 2 == 0;
            let who = format!("admin{i}@x");
            let outcome = if approve { "approved" } else { "rejected" };
            let (d, won) = s
                .decide_delegation(
                    &decision(&id, approve, &who, 1001),
                    decided_row(outcome, &who),
                )
                .await
                .unwrap()
                .unwrap();
            (won, who, d.status, d.decided_by)
        }
    })
    .await;
    let winners: Vec<_> = got.iter().filter(|g| g.0).collect();
    assert_eq!(winners.len(), 1, "{got:?}");
    let (_, who, status, _) = winners[0];
    // Every loser saw the winner's decision.
    for g in &got {
        assert_eq!((g.2, g.3.as_deref()), (*status, Some(who.as_str())));
    }
    let rows = s.audit_page(before.next, 1000).await.unwrap().rows;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].actor.as_deref(), Some(who.as_str()));
    assert_eq!(rows[0].outcome, status.as_str());
    // The store filled in what the row is about.
    assert_eq!(
        (
            rows[0].tool.as_deref(),
            rows[0].plan_id.as_deref(),
            rows[0].step,
            rows[0].user_email.as_deref()
        ),
        (Some("pay"), Some("p1"), Some(0), Some("a@x"))
    );
}

pub async fn race_claim_approved(h: &impl Harness) {
    let s = fresh(h).await;
    for named in [false, true] {
        let d = s
            .get_or_create_pending(&held("pay", "p1", "{}", 60_000), 1000)
            .await
            .unwrap();
        decide(&s, &d.id, true, 1001).await;
        let (s2, id) = (s.clone(), d.id.clone());
        let got = race(move |_| {
            let s = s2.clone();
            let c = call("pay", "p1", "{}", named.then_some(id.as_str()));
            async move { s.claim_approved(&c, 1002).await.unwrap() }
        })
        .await;
        let winners: Vec<_> = got.iter().flatten().collect();
        assert_eq!(winners.len(), 1, "named={named}: {got:?}");
        assert_eq!(winners[0].id, d.id);
        assert_eq!(
            s.get_delegation(&d.id, 1003).await.unwrap().unwrap().status,
            DelegationStatus::Executed
        );
    }
}

pub async fn race_get_or_create_pending(h: &impl Harness) {
    let s = fresh(h).await;
    let s2 = s.clone();
    let got = race(move |_| {
        let s = s2.clone();
        async move {
            s.get_or_create_pending(&held("pay", "p1", r#"{"amount":5000}"#, 60_000), 1000)
                .await
                .unwrap()
                .id
        }
    })
    .await;
    let ids: BTreeSet<_> = got.into_iter().collect();
    assert_eq!(ids.len(), 1, "{ids:?}");
    let pending = s
        .list_delegations(Some(DelegationStatus::Pending), 1000)
        .await
        .unwrap();
    assert_eq!(pending.len(), 1);
}
