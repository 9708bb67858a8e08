//! The part of the store suite for what several gateways on one store
//! share: sealed signing keys (raced: nodes starting together agree on one
//! key), policy documents (raced: each load gets its own version) and the
//! change feed (a revoke is announced). A backend adds
//! `armoriq_gateway::shared_suite!(MyHarness::new());` beside its
//! `store_suite!` line.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use super::{Harness, RACERS};
use crate::store::{Change, PlanRecord, PlanStatus, Role, SealedSigningKey, Store};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Barrier;

/// The shared-state suite's functions.
#[macro_export]
macro_rules! shared_suite {
    ($harness:expr) => {
        $crate::shared_suite!(@each $harness;
            race_first_signing_key signing_key_rotation race_policy_versions
            changes_are_announced);
    };
    (@each $harness:expr; $($t:ident)*) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
        async fn $t() {
            $crate::store::suite::shared::$t(&$harness).await;
        }
    )*};
}

fn key(generation: i64, i: usize) -> SealedSigningKey {
    SealedSigningKey {
        generation,
        kid: format!("kid-{generation}-{i}"),
        public_raw: vec![i as u8; 32],
        sealed: vec![0xA5, i as u8, 1, 2, 3],
        created_ms: 1000 + i as i64,
    }
}

/// `n` handles on one fresh location, as `n` nodes would open it.
async fn nodes(h: &impl Harness, n: usize) -> Vec<Arc<dyn Store>> {
    let loc = h.fresh();
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(h.open(&loc).await.unwrap());
    }
    out
}

pub async fn race_first_signing_key(h: &impl Harness) {
    let nodes = Arc::new(nodes(h, 2).await);
    assert!(nodes[0].signing_keys().await.unwrap().is_empty());
    let gate = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (gate, nodes) = (gate.clone(), nodes.clone());
            tokio::spawn(async move {
                gate.wait().await;
                let s = &nodes[i % 2];
                let won = s.add_signing_key(&key(1, i)).await.unwrap();
                (won, s.signing_keys().await.unwrap())
            })
        })
        .collect();
    let mut winners = 0;
    let mut seen = BTreeSet::new();
    for t in tasks {
        let (won, keys) = t.await.unwrap();
        winners += usize::from(won);
        assert_eq!(keys.len(), 1, "every node reads back one key");
        seen.insert(keys[0].kid.clone());
    }
    assert_eq!(winners, 1, "exactly one node creates the first key");
    assert_eq!(seen.len(), 1, "every node agrees on it");
}

pub async fn signing_key_rotation(h: &impl Harness) {
    let nodes = nodes(h, 2).await;
    assert!(nodes[0].add_signing_key(&key(1, 0)).await.unwrap());
    assert!(!nodes[1].add_signing_key(&key(1, 1)).await.unwrap());
    assert!(nodes[1].add_signing_key(&key(2, 2)).await.unwrap());
    let keys = nodes[0].signing_keys().await.unwrap();
    assert_eq!(
        keys,
        vec![key(1, 0), key(2, 2)],
        "oldest first, bytes intact"
    );
}

pub async fn race_policy_versions(h: &impl Harness) {
    let nodes = Arc::new(nodes(h, 2).await);
    assert!(nodes[0].current_policy().await.unwrap().is_none());
    let gate = Arc::new(Barrier::new(RACERS));
    let tasks: Vec<_> = (0..RACERS)
        .map(|i| {
            let (gate, nodes) = (gate.clone(), nodes.clone());
            tokio::spawn(async move {
                gate.wait().await;
                let doc = format!("{{\"n\":{i}}}");
                nodes[i % 2].put_policy(&doc, "t", 5).await.unwrap()
            })
        })
        .collect();
    let mut versions = BTreeSet::new();
    for t in tasks {
        versions.insert(t.await.unwrap());
    }
    assert_eq!(
        versions,
        (1..=RACERS as i64).collect(),
        "one version per load"
    );
    let cur = nodes[1].current_policy().await.unwrap().unwrap();
    assert_eq!(cur.version, RACERS as i64);
    assert!(cur.json.starts_with("{\"n\":"));
    assert_eq!((cur.loaded_by.as_str(), cur.loaded_ms), ("t", 5));
}

/// Waits (at most `within`) for `want` on `rx`, skipping other changes.
pub async fn expect_change(
    rx: &mut tokio::sync::broadcast::Receiver<Change>,
    want: &Change,
    within: Duration,
) {
    let wait = async {
        loop {
            match rx.recv().await {
                Ok(c) if &c == want => return,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(e) => panic!("change feed closed: {e}"),
            }
        }
    };
    tokio::time::timeout(within, wait)
        .await
        .unwrap_or_else(|_| panic!("{want:?} was not announced within {within:?}"));
}

pub async fn changes_are_announced(h: &impl Harness) {
    let nodes = nodes(h, 2).await;
    let a = &nodes[0];
    // The node that made the change hears it; on a backend shared by
    // several nodes, so does another node.
    let b = if h.announces_across_handles() {
        &nodes[1]
    } else {
        a
    };
    let mut rx = b.subscribe();
    // Give a listening backend time to start listening.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let plan = PlanRecord {
        plan_id: "plan_feed".into(),
        plan_hash: "ab".repeat(32),
        merkle_root: "cd".repeat(32),
        plan_json: r#"{"steps":[]}"#.into(),
        step_count: 0,
        intent_reference: "intent_feed".into(),
        user_email: None,
        agent_id: None,
        expires_at: 1_900_000_000,
        status: PlanStatus::Active,
    };
    a.put_plan(&plan).await.unwrap();
    assert!(
        a.set_plan_status("plan_feed", PlanStatus::Revoked)
            .await
            .unwrap()
    );
    expect_change(
        &mut rx,
        &Change::Plan("plan_feed".into()),
        Duration::from_secs(5),
    )
    .await;
    let id = a
        .add_api_key("ak_test_feed", Role::Agent, "")
        .await
        .unwrap();
    assert!(a.revoke_api_key(id, 7).await.unwrap());
    expect_change(&mut rx, &Change::ApiKeys, Duration::from_secs(5)).await;
    a.put_policy("{}", "t", 8).await.unwrap();
    expect_change(&mut rx, &Change::Policy, Duration::from_secs(5)).await;
    assert!(a.add_signing_key(&key(1, 0)).await.unwrap());
    expect_change(&mut rx, &Change::SigningKeys, Duration::from_secs(5)).await;
}
