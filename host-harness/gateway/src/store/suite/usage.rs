//! The store suite's token-usage tests (part of [`super`]): rows by
//! revision, snapshots of a stream, and the races on both.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use super::{Harness, fresh, race};

fn usage_row(model: &str, input: i64, revision: i64) -> crate::store::UsageRow {
    crate::store::UsageRow {
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
    use crate::store::SnapshotStatus::{Applied, Present, Superseded};
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
    let snap = |rev: i64, models: &[&str]| -> Vec<crate::store::UsageRow> {
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
    use crate::store::SnapshotStatus::{Applied, Present};
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
