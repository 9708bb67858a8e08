//! The store suite's trust-record tests (part of [`super`]): delegate,
//! delegate_subtree and reanchor records, revocation, the reanchor race.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use super::{Harness, RACERS, fresh, plan, race};
use crate::store::{PlanStatus, StoreError};

fn trust(
    id: &str,
    kind: crate::store::TrustKind,
    plan_id: &str,
    from: Option<&str>,
    to: &str,
) -> crate::store::TrustRecord {
    crate::store::TrustRecord {
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
    use crate::store::TrustKind::{Delegate, DelegateSubtree, Reanchor};
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
                crate::store::TrustKind::Reanchor,
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
