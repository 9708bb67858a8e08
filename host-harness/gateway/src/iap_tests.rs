//! `POST /iap/sdk/token` with an `Idempotency-Key` and a slow mint: one
//! key never stores two plans nor answers two tokens, whether its holder is
//! slow (it renews its lease: others get 409, then its answer) or was
//! taken over (it is fenced out: it stores nothing and answers 409).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::AppState;
use crate::builder::GatewayBuilder;
use crate::now_ms;
use crate::store::{IdemKey, Reservation, Role, StoredAnswer};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

const KEY: &str = "ak_test_0123456789abcdef0123456789abcdef";
const PLAN: &str = r#"{"plan": {"steps": [{"mcp": "x", "action": "y"}]}}"#;

/// One mint over a fresh connection: the status and the body.
fn mint(port: u16, idem: &str) -> (u16, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let req = format!(
        "POST /iap/sdk/token HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nX-API-Key: {KEY}\r\nIdempotency-Key: {idem}\r\n\
         Content-Length: {}\r\n\r\n{PLAN}",
        PLAN.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.split(' ').nth(1).unwrap().parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap();
    (status, body)
}

async fn mint_async(port: u16, idem: &'static str) -> (u16, String) {
    tokio::task::spawn_blocking(move || mint(port, idem))
        .await
        .unwrap()
}

/// A gateway with these idempotency settings, serving on a free port.
async fn serve(stale: Duration, mint_delay: Duration) -> (AppState, u16, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "armoriq-idem-test-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut b = GatewayBuilder::new()
        .state_dir(&dir)
        .no_config()
        .first_api_key(KEY, Role::Agent);
    b.settings_mut().idempotency_stale = stale;
    b.settings_mut().mint_delay = mint_delay;
    let gw = b.build().await.unwrap().gateway;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(axum::serve(listener, crate::app(gw.clone())).into_future());
    (gw, port, dir)
}

/// Plans stored, read from the database file itself.
fn plans_stored(dir: &std::path::Path) -> i64 {
    let c = rusqlite::Connection::open(dir.join("armoriq.db")).unwrap();
    c.query_row("SELECT COUNT(*) FROM plans", [], |r| r.get(0))
        .unwrap()
}

fn plan_id(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    v["plan_id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_slow_mint_keeps_its_idempotency_key_past_the_stale_time() {
    // Stale after 300 ms; the mint takes 1.5 s (five stale times).
    let (_gw, port, dir) = serve(Duration::from_millis(300), Duration::from_millis(1500)).await;
    let first = tokio::spawn(mint_async(port, "slow-1"));
    // Well past the stale time: the holder is slow, not dead; it renews.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let (status, body) = mint_async(port, "slow-1").await;
    assert_eq!(status, 409, "a second mint while the first runs: {body}");
    let (status, body) = first.await.unwrap();
    assert_eq!(status, 200, "{body}");
    // Once done, the key replays the one answer: the same token.
    let (status, replay) = mint_async(port, "slow-1").await;
    assert_eq!((status, &replay), (200, &body));
    assert_eq!(plans_stored(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_mint_taken_over_stores_nothing_and_answers_409() {
    let (gw, port, dir) = serve(Duration::from_secs(60), Duration::from_millis(1000)).await;
    let first = tokio::spawn(mint_async(port, "fenced-1"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Another node presumes the holder dead (here: its clock is two stale
    // times ahead) and takes the key over.
    let key_id = gw.store.check_api_key(KEY).await.unwrap().unwrap().id;
    let k = IdemKey {
        key_id,
        route: "token".into(),
        idem: "fenced-1".into(),
    };
    let taken = gw
        .store
        .reserve_idempotency_key(&k, now_ms() + 120_000, 60_000)
        .await
        .unwrap();
    let Reservation::Won(lease) = taken else {
        panic!("no takeover: {taken:?}");
    };
    let (status, body) = first.await.unwrap();
    assert_eq!(status, 409, "the fenced-out holder answered: {body}");
    assert!(body.contains("taken over"), "{body}");
    assert_eq!(
        plans_stored(&dir),
        0,
        "the fenced-out holder stored its plan"
    );
    // Meanwhile a request gets 409; once the taker answers, its answer.
    assert_eq!(mint_async(port, "fenced-1").await.0, 409);
    let answer = StoredAnswer {
        status: 200,
        body: r#"{"minted_by":"the taker"}"#.into(),
    };
    assert!(
        gw.store
            .complete_mint(&k, lease, None, &answer)
            .await
            .unwrap()
    );
    assert_eq!(
        mint_async(port, "fenced-1").await,
        (200, answer.body.clone())
    );
    // A key of its own mints as usual, and stores its plan.
    let (status, body) = mint_async(port, "fresh-1").await;
    assert_eq!(status, 200, "{body}");
    assert!(gw.store.get_plan(&plan_id(&body)).await.unwrap().is_some());
    assert_eq!(plans_stored(&dir), 1);
    let _ = std::fs::remove_dir_all(&dir);
}
