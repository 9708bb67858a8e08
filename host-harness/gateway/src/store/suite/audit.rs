//! The store suite's audit tests (part of [`super`]): pages in `seq` order,
//! rows durable across a reopen, the flush.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use super::{Harness, fresh, row};
use crate::store::AuditCursor;
use std::collections::BTreeSet;

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
