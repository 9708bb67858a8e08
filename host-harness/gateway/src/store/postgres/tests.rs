//! PostgreSQL-only tests beside the shared suites: migrations under the
//! advisory lock, the change feed's resync, TLS. (Stopping the server under
//! load is `tests/pg_outage.rs`: it must not run beside these.)

use super::{PgHarness, connect};
use crate::store::pg_latest;
use crate::store::suite::Harness;
use crate::store::{Change, PgStore, PlanRecord, PlanStatus, StoreError};
use std::time::Duration;

crate::store_suite!(pg_or_skip!());
crate::console_suite!(pg_or_skip!());
crate::shared_suite!(pg_or_skip!());

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_database_newer_than_this_code_is_refused() {
    let h = pg_or_skip!();
    let loc = h.fresh();
    drop(h.open(&loc).await.unwrap());
    let c = connect(&loc).await;
    c.execute(
        "INSERT INTO schema_version (version, name, applied_ms) VALUES ($1, 'future', 0)",
        &[&i64::from(pg_latest() + 1)],
    )
    .await
    .unwrap();
    match h.open(&loc).await {
        Err(StoreError::Corrupt(m)) => assert!(m.contains("newer"), "{m}"),
        Err(e) => panic!("expected Corrupt, got {e}"),
        Ok(_) => panic!("a newer database was opened"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_opens_migrate_once() {
    let h = pg_or_skip!();
    let loc = h.fresh();
    let opens: Vec<_> = (0..6)
        .map(|_| {
            let loc = loc.clone();
            tokio::spawn(async move { PgStore::open(&loc).await.map(|s| s.node().to_owned()) })
        })
        .collect();
    for o in opens {
        o.await.unwrap().unwrap();
    }
    let c = connect(&loc).await;
    let rows: i64 = c
        .query_one("SELECT COUNT(*) FROM schema_version", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(rows, i64::from(pg_latest()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audit_rows_carry_the_node_that_wrote_them() {
    let h = pg_or_skip!();
    let loc = h.fresh();
    let a = PgStore::open_as(&loc, "node-a").await.unwrap();
    let b = PgStore::open_as(&loc, "node-b").await.unwrap();
    use crate::store::{AuditCursor, AuditRow, AuditStore};
    let row = |o: &str| AuditRow {
        route: "invoke".into(),
        outcome: o.into(),
        ..Default::default()
    };
    a.audit(row("a")).await.unwrap();
    b.audit(row("b")).await.unwrap();
    b.audit(AuditRow {
        node: Some("explicit".into()),
        ..row("c")
    })
    .await
    .unwrap();
    // open_store_as (what `serve` calls) opens PostgreSQL for a postgres:// URL.
    let c = crate::store::open_store_as(
        &crate::store::StoreLocation::Postgres(loc.clone()),
        "node-c",
    )
    .await
    .unwrap();
    c.audit(row("d")).await.unwrap();
    let page = a.audit_page(AuditCursor::START, 10).await.unwrap();
    let nodes: Vec<_> = page.rows.iter().map(|r| r.node.clone().unwrap()).collect();
    assert_eq!(nodes, ["node-a", "node-b", "explicit", "node-c"]);
}

/// Seq is handed out in commit order: many writers on several nodes, and
/// a follower paging by seq meanwhile never sees a gap filled later.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_paging_by_seq_never_skips_a_row() {
    use crate::store::{AuditCursor, AuditRow, AuditStore};
    let h = pg_or_skip!();
    let loc = h.fresh();
    let nodes = [
        PgStore::open_as(&loc, "n1").await.unwrap(),
        PgStore::open_as(&loc, "n2").await.unwrap(),
        PgStore::open_as(&loc, "n3").await.unwrap(),
    ];
    const PER: usize = 60;
    let writers: Vec<_> = (0..12)
        .map(|i| {
            let s = nodes[i % 3].clone();
            tokio::spawn(async move {
                for j in 0..PER {
                    s.audit(AuditRow {
                        route: "invoke".into(),
                        outcome: format!("w{i}-{j}"),
                        ..Default::default()
                    })
                    .await
                    .unwrap();
                }
            })
        })
        .collect();
    let follower = nodes[0].clone();
    let mut cursor = AuditCursor::START;
    let mut seen = Vec::new();
    while seen.len() < 12 * PER {
        let page = follower.audit_page(cursor, 37).await.unwrap();
        for r in &page.rows {
            seen.push(r.seq);
        }
        cursor = page.next;
        if page.rows.is_empty() {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    for w in writers {
        w.await.unwrap();
    }
    let expected: Vec<i64> = (1..=i64::try_from(12 * PER).unwrap()).collect();
    assert_eq!(seen, expected, "the follower saw every seq, in order, once");
}

/// [`crate::store::shared_suite::expect_change`], with room for a reconnect.
async fn expect(rx: &mut tokio::sync::broadcast::Receiver<Change>, want: &Change) {
    crate::store::shared_suite::expect_change(rx, want, Duration::from_secs(10)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_change_feed_resyncs_after_its_connection_is_killed() {
    use crate::store::PlanStore;
    let h = pg_or_skip!();
    let loc = h.fresh();
    let a = PgStore::open(&loc).await.unwrap();
    let b = PgStore::open(&loc).await.unwrap();
    let mut rx = crate::store::ChangeFeed::subscribe(&b);
    let killed: i64 = connect(&loc)
        .await
        .query_one(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN %'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(killed, 2, "both stores' listening connections");
    // At once (changes may be lost from now on), then again once listening.
    expect(&mut rx, &Change::Resync).await;
    expect(&mut rx, &Change::Resync).await;
    let plan = PlanRecord {
        plan_id: "plan_resync".into(),
        plan_hash: "ab".repeat(32),
        merkle_root: "cd".repeat(32),
        plan_json: "{}".into(),
        step_count: 0,
        intent_reference: "i".into(),
        user_email: None,
        agent_id: None,
        expires_at: 1_900_000_000,
        status: PlanStatus::Active,
    };
    a.put_plan(&plan).await.unwrap();
    assert!(
        a.set_plan_status("plan_resync", PlanStatus::Revoked)
            .await
            .unwrap()
    );
    expect(&mut rx, &Change::Plan("plan_resync".into())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_listener_stops_with_the_last_handle() {
    let h = pg_or_skip!();
    let loc = h.fresh();
    let s = PgStore::open(&loc).await.unwrap();
    let s2 = s.clone();
    let c = connect(&loc).await;
    let listening = || async {
        let n: i64 = c
            .query_one(
                "SELECT COUNT(*) FROM pg_stat_activity \
                 WHERE datname = current_database() AND query LIKE 'LISTEN %'",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        n
    };
    assert_eq!(listening().await, 1);
    drop(s);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(listening().await, 1, "a clone still holds the store");
    drop(s2);
    let mut n = 1;
    for _ in 0..50 {
        n = listening().await;
        if n == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(n, 0, "the listening connection closed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_conflict_is_a_conflict_and_a_dead_server_is_unavailable_fast() {
    use crate::store::{KeyStore, Role};
    let h = pg_or_skip!();
    let s = PgStore::open(&h.fresh()).await.unwrap();
    s.add_api_key("ak_dup", Role::Agent, "").await.unwrap();
    assert!(matches!(
        s.add_api_key("ak_dup", Role::Agent, "").await,
        Err(StoreError::Conflict(_))
    ));
    // Nothing listens on port 1: refused at once, named without password.
    let t = std::time::Instant::now();
    match PgStore::open("postgres://u:s3cret@127.0.0.1:1/db").await {
        Err(StoreError::Unavailable(m)) => {
            assert!(m.contains("127.0.0.1:1"), "{m}");
            assert!(!m.contains("s3cret"), "{m}");
        }
        Err(e) => panic!("expected Unavailable, got {e}"),
        Ok(_) => panic!("opened a store on a closed port"),
    }
    assert!(t.elapsed() < Duration::from_secs(5));
}

/// A slow statement is cancelled by the server (`statement_timeout`, set
/// below the client's deadline), so the client keeps its connection: the
/// error is the server's 57014, not the stream giving the connection up,
/// and the next statement on the same pooled connection works.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_statement_is_cancelled_by_the_server_first() {
    let h = pg_or_skip!();
    let s = PgStore::open_with(&h.fresh(), "slow", Duration::from_secs(1))
        .await
        .unwrap();
    let c = s.client().await.unwrap();
    let shown: String = c
        .query_one("SHOW statement_timeout", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(shown, "900ms");
    let t = std::time::Instant::now();
    let e = c.query_one("SELECT pg_sleep(3)", &[]).await.unwrap_err();
    let e = s.err(e);
    assert!(
        matches!(&e, StoreError::Unavailable(m) if m.contains("57014")),
        "cancelled by the server: {e}"
    );
    // Well before pg_sleep's 3 s (not a timing test: the 57014 above is the
    // proof; a loaded machine may take a little past the 1 s deadline to
    // deliver the server's answer).
    assert!(
        t.elapsed() < Duration::from_millis(2500),
        "{:?}",
        t.elapsed()
    );
    assert!(!c.is_closed(), "the connection is kept");
    let one: i32 = c.query_one("SELECT 1", &[]).await.unwrap().get(0);
    assert_eq!(one, 1);
}

fn tls_dir() -> Option<String> {
    match std::env::var("ARMORIQ_TEST_PG_TLS_DIR") {
        Ok(d) if !d.is_empty() => Some(d),
        _ => {
            let msg = "ARMORIQ_TEST_PG_TLS_DIR is not set (run under bash scripts/pg.sh)";
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true but {msg}");
            }
            eprintln!("SKIPPED: {msg}");
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tls_verify_full_checks_the_chain_and_the_host_name() {
    let h = pg_or_skip!();
    let Some(dir) = tls_dir() else { return };
    let loc = h.fresh();
    let db = PgHarness::db_of(&loc);
    let port = loc
        .split("127.0.0.1:")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap()
        .to_owned();
    let url = |host: &str, extra: &str, mode: &str, ca: &str| {
        format!(
            "postgres://postgres@{host}:{port}/{db}?{extra}sslmode={mode}&sslrootcert={dir}/{ca}"
        )
    };
    // The right CA and a name the certificate has: TLS, verified.
    let ok = PgStore::open(&url("localhost", "", "verify-full", "ca.crt")).await;
    assert!(ok.is_ok(), "{:?}", ok.err());
    drop(ok);
    let ok = PgStore::open(&url("127.0.0.1", "", "verify-full", "ca.crt")).await;
    assert!(ok.is_ok(), "{:?}", ok.err());
    let c = connect(&url("localhost", "", "verify-full", "ca.crt")).await;
    let ssl: bool = c
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ssl, "the connection is encrypted");
    // The right server under a name its certificate does not have.
    let wrong = url(
        "wrong.invalid",
        "hostaddr=127.0.0.1&",
        "verify-full",
        "ca.crt",
    );
    match PgStore::open(&wrong).await {
        Err(StoreError::Unavailable(m)) => assert!(
            m.to_lowercase().contains("certificate") || m.contains("name"),
            "{m}"
        ),
        Err(e) => panic!("expected Unavailable, got {e}"),
        Ok(_) => panic!("verify-full accepted a certificate for another name"),
    }
    // verify-ca does not check the name.
    let ca_only = url(
        "wrong.invalid",
        "hostaddr=127.0.0.1&",
        "verify-ca",
        "ca.crt",
    );
    assert!(PgStore::open(&ca_only).await.is_ok());
    // A CA that did not sign the server's certificate.
    for mode in ["verify-full", "verify-ca"] {
        match PgStore::open(&url("localhost", "", mode, "other-ca.crt")).await {
            Err(StoreError::Unavailable(m)) => {
                assert!(m.to_lowercase().contains("certificate"), "{m}")
            }
            Err(e) => panic!("expected Unavailable, got {e}"),
            Ok(_) => panic!("{mode} accepted a certificate from another CA"),
        }
    }
    // require: encrypted, unchecked (as libpq).
    assert!(
        PgStore::open(&url(
            "wrong.invalid",
            "hostaddr=127.0.0.1&",
            "require",
            "other-ca.crt"
        ))
        .await
        .is_ok()
    );
}

/// The once-only rules across nodes: three stores (three gateways) on one
/// database race for one approval, one idempotency key and one pending
/// delegation; each is won once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn once_only_rules_hold_across_nodes() {
    use crate::store::{
        ApprovedCall, DelegationStore, IdemKey, IdempotencyStore, NewDelegation, Reservation,
    };
    let h = pg_or_skip!();
    let loc = h.fresh();
    let mut nodes = Vec::new();
    for i in 0..3 {
        nodes.push(PgStore::open_as(&loc, &format!("n{i}")).await.unwrap());
    }
    for round in 0..5 {
        let arguments = format!("{{\"round\":{round}}}");
        let held = NewDelegation {
            tool: "pay".into(),
            plan_id: Some("p1".into()),
            requester_email: Some("a@x".into()),
            step: Some(0),
            leaf_hash: Some("ab".repeat(32)),
            args_hash: crate::store::args_hash(&arguments),
            arguments: arguments.clone(),
            ttl_ms: 60_000,
            ..Default::default()
        };
        let gate = std::sync::Arc::new(tokio::sync::Barrier::new(12));
        let pend: Vec<_> = (0..12)
            .map(|i| {
                let (s, d, gate) = (nodes[i % 3].clone(), held.clone(), gate.clone());
                tokio::spawn(async move {
                    gate.wait().await;
                    s.get_or_create_pending(&d, 1000).await.unwrap().id
                })
            })
            .collect();
        let mut ids = std::collections::BTreeSet::new();
        for p in pend {
            ids.insert(p.await.unwrap());
        }
        assert_eq!(ids.len(), 1, "one pending delegation: {ids:?}");
        let id = ids.into_iter().next().unwrap();
        nodes[1]
            .decide_delegation(
                &crate::store::DelegationDecision {
                    id: id.clone(),
                    approve: true,
                    by: "boss".into(),
                    reason: None,
                    now_ms: 1001,
                },
                crate::store::AuditRow::default(),
            )
            .await
            .unwrap();
        let key = IdemKey {
            key_id: 1,
            route: "token".into(),
            idem: format!("k{round}"),
        };
        let gate = std::sync::Arc::new(tokio::sync::Barrier::new(12));
        let races: Vec<_> = (0..12)
            .map(|i| {
                let (s, gate, key) = (nodes[i % 3].clone(), gate.clone(), key.clone());
                let args_hash = held.args_hash.clone();
                tokio::spawn(async move {
                    gate.wait().await;
                    let call = ApprovedCall {
                        tool: "pay".into(),
                        plan_id: "p1".into(),
                        requester_email: Some("a@x".into()),
                        delegation_id: None,
                        step: 0,
                        leaf_hash: "ab".repeat(32),
                        args_hash,
                    };
                    let claimed = s.claim_approved(&call, 1002).await.unwrap().is_some();
                    let won = matches!(
                        s.reserve_idempotency_key(&key, 5, 60_000).await.unwrap(),
                        Reservation::Won(_)
                    );
                    (claimed, won)
                })
            })
            .collect();
        let (mut claims, mut wins) = (0, 0);
        for r in races {
            let (c, w) = r.await.unwrap();
            claims += usize::from(c);
            wins += usize::from(w);
        }
        assert_eq!((claims, wins), (1, 1), "round {round}");
    }
}
