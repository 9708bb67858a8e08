//! The shared suite's idempotency tests ([`super`]): reservations as
//! leases with a fencing token. A holder keeps its reservation while it
//! renews it; one that stops renewing is taken over with a larger lease,
//! and from then on its completion (plan and answer, one transaction) and
//! its release change nothing. Races included.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use super::{Harness, RACERS, fresh, plan, race};
use crate::store::{IdemKey, Lease, Reservation, StoreError, StoredAnswer};
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::Barrier;

fn key(key_id: i64, idem: &str) -> IdemKey {
    IdemKey {
        key_id,
        route: "token".into(),
        idem: idem.into(),
    }
}

fn answer(by: &str) -> StoredAnswer {
    StoredAnswer {
        status: 200,
        body: format!(r#"{{"minted_by":"{by}"}}"#),
    }
}

fn won(r: Reservation) -> Lease {
    match r {
        Reservation::Won(l) => l,
        other => panic!("expected Won, got {other:?}"),
    }
}

pub async fn idempotency(h: &impl Harness) {
    let s = fresh(h).await;
    let k = key(1, "k1");
    let refused = StoredAnswer {
        status: 403,
        body: r#"{"success":false}"#.into(),
    };
    let l = won(s.reserve_idempotency_key(&k, 1000, 60_000).await.unwrap());
    assert_eq!(
        s.reserve_idempotency_key(&k, 1001, 60_000).await.unwrap(),
        Reservation::InFlight
    );
    // A refusal is an answer without a plan.
    assert!(s.complete_mint(&k, l, None, &refused).await.unwrap());
    // Completed once: a second completion, a renewal and a release change
    // nothing.
    assert!(!s.complete_mint(&k, l, None, &refused).await.unwrap());
    assert!(!s.renew_idempotency_key(&k, l, 2000).await.unwrap());
    s.release_idempotency_key(&k, l).await.unwrap();
    assert_eq!(
        s.reserve_idempotency_key(&k, 1_000_000, 1).await.unwrap(),
        Reservation::Replay(refused.clone())
    );
    // Keys are per API key and route.
    let other = key(2, "k1");
    let l = won(s
        .reserve_idempotency_key(&other, 1000, 60_000)
        .await
        .unwrap());
    // A released reservation starts afresh.
    s.release_idempotency_key(&other, l).await.unwrap();
    let l2 = won(s
        .reserve_idempotency_key(&other, 1001, 60_000)
        .await
        .unwrap());
    // A reservation whose holder died is taken over once stale.
    assert_eq!(
        s.reserve_idempotency_key(&other, 2000, 60_000)
            .await
            .unwrap(),
        Reservation::InFlight
    );
    let l3 = won(s
        .reserve_idempotency_key(&other, 70_000, 60_000)
        .await
        .unwrap());
    assert!(l3 > l2, "{l3:?} after {l2:?}");
}

/// A wins, stops renewing, B takes over with a larger lease: A's
/// completion stores no plan and no answer, A's release frees nothing,
/// B's completion stores its plan and its answer.
pub async fn idempotency_fencing(h: &impl Harness) {
    let s = fresh(h).await;
    let k = key(3, "fenced");
    let a = won(s.reserve_idempotency_key(&k, 1000, 60_000).await.unwrap());
    // Not stale yet (the heartbeat is 59.999 s old).
    assert_eq!(
        s.reserve_idempotency_key(&k, 60_999, 60_000).await.unwrap(),
        Reservation::InFlight
    );
    let b = won(s.reserve_idempotency_key(&k, 61_001, 60_000).await.unwrap());
    assert!(b > a, "{b:?} after {a:?}");
    // A is fenced out of every write.
    assert!(!s.renew_idempotency_key(&k, a, 61_002).await.unwrap());
    assert!(
        !s.complete_mint(&k, a, Some(&plan("plan_a")), &answer("a"))
            .await
            .unwrap()
    );
    assert_eq!(s.get_plan("plan_a").await.unwrap(), None);
    s.release_idempotency_key(&k, a).await.unwrap();
    assert_eq!(
        s.reserve_idempotency_key(&k, 61_003, 60_000).await.unwrap(),
        Reservation::InFlight,
        "A's release freed B's reservation"
    );
    // B's lease holds: renewals, then its mint.
    assert!(s.renew_idempotency_key(&k, b, 61_004).await.unwrap());
    assert!(
        s.complete_mint(&k, b, Some(&plan("plan_b")), &answer("b"))
            .await
            .unwrap()
    );
    assert_eq!(s.get_plan("plan_b").await.unwrap(), Some(plan("plan_b")));
    assert_eq!(
        s.reserve_idempotency_key(&k, 10_000_000, 1).await.unwrap(),
        Reservation::Replay(answer("b"))
    );
    // A's late completion after B's changes nothing either.
    assert!(
        !s.complete_mint(&k, a, Some(&plan("plan_a")), &answer("a"))
            .await
            .unwrap()
    );
    assert_eq!(s.get_plan("plan_a").await.unwrap(), None);
}

/// A holder that renews keeps its lease however long it works; the
/// heartbeat never moves back; a plan id that exists fails the completion
/// and stores nothing (the key stays reserved).
pub async fn idempotency_heartbeat(h: &impl Harness) {
    let s = fresh(h).await;
    let k = key(4, "slow");
    let a = won(s.reserve_idempotency_key(&k, 1000, 60_000).await.unwrap());
    for t in [50_000, 100_000, 150_000, 200_000] {
        assert!(s.renew_idempotency_key(&k, a, t).await.unwrap());
        // Long past the first reservation, but renewed just now.
        assert_eq!(
            s.reserve_idempotency_key(&k, t + 59_000, 60_000)
                .await
                .unwrap(),
            Reservation::InFlight,
            "taken over at {t}"
        );
    }
    // A renewal with an older clock (another node's) is no step back.
    assert!(s.renew_idempotency_key(&k, a, 10).await.unwrap());
    assert_eq!(
        s.reserve_idempotency_key(&k, 259_999, 60_000)
            .await
            .unwrap(),
        Reservation::InFlight
    );
    // The plan's id exists: nothing of the mint is stored.
    s.put_plan(&plan("taken")).await.unwrap();
    assert!(matches!(
        s.complete_mint(&k, a, Some(&plan("taken")), &answer("a"))
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(
        s.reserve_idempotency_key(&k, 200_001, 60_000)
            .await
            .unwrap(),
        Reservation::InFlight
    );
    // Same lease, another plan: done.
    assert!(
        s.complete_mint(&k, a, Some(&plan("plan_slow")), &answer("a"))
            .await
            .unwrap()
    );
    assert_eq!(
        s.get_plan("plan_slow").await.unwrap(),
        Some(plan("plan_slow"))
    );
    assert_eq!(
        s.reserve_idempotency_key(&k, 10_000_000, 60_000)
            .await
            .unwrap(),
        Reservation::Replay(answer("a"))
    );
}

pub async fn race_idempotency_key(h: &impl Harness) {
    let s = fresh(h).await;
    let reserved = Arc::new(Barrier::new(RACERS));
    let completed = Arc::new(Barrier::new(RACERS));
    let s2 = s.clone();
    let got = race(move |i| {
        let (s, reserved, completed) = (s2.clone(), reserved.clone(), completed.clone());
        async move {
            let k = key(7, "same");
            let first = s.reserve_idempotency_key(&k, 1000, 60_000).await.unwrap();
            reserved.wait().await;
            // No assertion before the last barrier: a failing racer must not
            // leave the others waiting.
            let completed_ok = if let Reservation::Won(l) = first {
                s.complete_mint(&k, l, None, &answer(&i.to_string()))
                    .await
                    .ok()
            } else {
                None
            };
            completed.wait().await;
            let then = s.reserve_idempotency_key(&k, 1001, 60_000).await.unwrap();
            assert_ne!(completed_ok, Some(false), "a winner could not complete");
            (first, then)
        }
    })
    .await;
    let winners = got
        .iter()
        .filter(|(f, _)| matches!(f, Reservation::Won(_)))
        .count();
    let in_flight = got
        .iter()
        .filter(|(f, _)| *f == Reservation::InFlight)
        .count();
    assert_eq!((winners, in_flight), (1, RACERS - 1), "{got:?}");
    let answers: BTreeSet<_> = got.iter().map(|(_, t)| format!("{t:?}")).collect();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(matches!(got[0].1, Reservation::Replay(_)), "{got:?}");
}

/// A holder died (stale); `RACERS` requests take over at once, then each
/// completes its mint at once: the taker with its lease, the rest with the
/// dead holder's (as if it woke up, several times over). Exactly one plan
/// is stored, the taker's, and every later request replays its answer.
pub async fn race_idempotency_mint(h: &impl Harness) {
    let s = fresh(h).await;
    let k = key(8, "mint");
    let dead = won(s.reserve_idempotency_key(&k, 0, 60_000).await.unwrap());
    let reserved = Arc::new(Barrier::new(RACERS));
    let s2 = s.clone();
    let got = race(move |i| {
        let (s, reserved) = (s2.clone(), reserved.clone());
        async move {
            let k = key(8, "mint");
            let r = s.reserve_idempotency_key(&k, 100_000, 60_000).await;
            reserved.wait().await;
            let lease = match &r {
                Ok(Reservation::Won(l)) => *l,
                _ => dead,
            };
            let id = format!("plan_{i}");
            let done = s
                .complete_mint(&k, lease, Some(&plan(&id)), &answer(&id))
                .await;
            (r.unwrap(), done.unwrap())
        }
    })
    .await;
    let winners: Vec<usize> = (0..RACERS)
        .filter(|i| matches!(got[*i].0, Reservation::Won(_)))
        .collect();
    assert_eq!(winners.len(), 1, "{got:?}");
    let w = winners[0];
    assert!(won(got[w].0.clone()) > dead);
    let completed: Vec<usize> = (0..RACERS).filter(|i| got[*i].1).collect();
    assert_eq!(completed, vec![w], "{got:?}");
    for i in 0..RACERS {
        let stored = s.get_plan(&format!("plan_{i}")).await.unwrap();
        assert_eq!(stored.is_some(), i == w, "plan_{i}");
    }
    assert_eq!(
        s.reserve_idempotency_key(&k, 10_000_000, 60_000)
            .await
            .unwrap(),
        Reservation::Replay(answer(&format!("plan_{w}")))
    );
}

/// The stale holder completes at the very moment the others take over:
/// either its completion lands (then nobody takes over: they replay it) or
/// one takeover does (then the holder is fenced out and the taker mints).
/// Either way exactly one plan is stored and one answer kept, every round.
pub async fn race_takeover_and_completion(h: &impl Harness) {
    let s = fresh(h).await;
    for round in 0..4 {
        let idem = format!("round{round}");
        let k = key(9, &idem);
        let old = won(s.reserve_idempotency_key(&k, 0, 60_000).await.unwrap());
        let s2 = s.clone();
        let got = race(move |i| {
            let (s, k) = (s2.clone(), key(9, &idem));
            async move {
                let id = format!("plan_{}_{i}", k.idem);
                if i == 0 {
                    // The old holder, late but alive.
                    let done = s
                        .complete_mint(&k, old, Some(&plan(&id)), &answer(&id))
                        .await
                        .unwrap();
                    return (None, done);
                }
                let r = s
                    .reserve_idempotency_key(&k, 100_000, 60_000)
                    .await
                    .unwrap();
                let done = match r {
                    Reservation::Won(l) => s
                        .complete_mint(&k, l, Some(&plan(&id)), &answer(&id))
                        .await
                        .unwrap(),
                    _ => false,
                };
                (Some(r), done)
            }
        })
        .await;
        let completed: Vec<usize> = (0..RACERS).filter(|i| got[*i].1).collect();
        assert_eq!(completed.len(), 1, "round {round}: {got:?}");
        let takers = got
            .iter()
            .filter(|(r, _)| matches!(r, Some(Reservation::Won(_))))
            .count();
        // The old holder completed, or exactly one took over (and completed).
        assert!(
            (completed[0] == 0 && takers == 0) || (completed[0] != 0 && takers == 1),
            "round {round}: {got:?}"
        );
        let mut stored = 0;
        for i in 0..RACERS {
            let id = format!("plan_round{round}_{i}");
            if s.get_plan(&id).await.unwrap().is_some() {
                assert_eq!(i, completed[0], "round {round}");
                stored += 1;
            }
        }
        assert_eq!(stored, 1, "round {round}");
        let w = completed[0];
        assert_eq!(
            s.reserve_idempotency_key(&k, 10_000_000, 60_000)
                .await
                .unwrap(),
            Reservation::Replay(answer(&format!("plan_round{round}_{w}")))
        );
    }
}
