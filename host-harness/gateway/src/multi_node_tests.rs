//! Several gateways on one store, on SQLite within one process (the
//! store's change feed reaches every gateway built over the same store
//! handle): signing keys agreed and rotated, a revoke reaching another
//! gateway's plan cache, a policy load reaching every gateway, and the
//! refusals a misconfigured node must give. PostgreSQL runs the same
//! through `open_store_as` once it lands.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::builder::{GatewayBuilder, Running};
use crate::intent::{csrg, jwt, plan};
use crate::sealed::OperatorSecret;
use crate::store::{Role, SqliteStore, Store, StoreLocation, TrustStore};
use crate::{AppState, signer};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

const ADMIN: &str = "ak_test_00000000000000000000000000000001";
const SECRET: &[u8] = b"the operator secret of this test";

struct Cluster {
    dir: PathBuf,
    store: Arc<dyn Store>,
    secret: Arc<OperatorSecret>,
}

impl Cluster {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(format!("armoriq-nodes-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.join("armoriq.db")).unwrap());
        Self {
            dir,
            store,
            secret: Arc::new(OperatorSecret::new(SECRET).unwrap()),
        }
    }

    fn loc(&self) -> StoreLocation {
        StoreLocation::Sqlite(self.dir.join("armoriq.db"))
    }

    /// Node `n`: its own state directory, the shared store, the secret.
    fn builder(&self, n: u32) -> GatewayBuilder {
        let any = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
        GatewayBuilder::new()
            .state_dir(self.dir.join(format!("node{n}")))
            .no_config()
            .listen(any, any)
            .first_api_key(ADMIN, Role::Admin)
            .store(self.loc())
            .secret(Some(self.secret.clone()))
    }

    async fn node(&self, n: u32) -> Running {
        self.builder(n)
            .build_with_store(self.store.clone())
            .await
            .unwrap()
            .start()
            .await
            .unwrap()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn post(url: &str, body: &Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header("X-API-Key", ADMIN)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let s = r.status().as_u16();
    let text = r.text().await.unwrap();
    (s, serde_json::from_str(&text).unwrap_or(Value::Null))
}

async fn mint(node: &Running) -> Value {
    let (s, v) = post(
        &format!("{}/iap/sdk/token", node.backend_url()),
        &json!({"plan": {"steps": [{"mcp": "m", "action": "a", "params": {}}]},
                "user_email": "a@example.com", "agent_id": "agent"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    v
}

fn jwt_kid(jwt: &str) -> String {
    use base64_url_decode as b64;
    let head = jwt.split('.').next().unwrap();
    let v: Value = serde_json::from_slice(&b64(head)).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

/// Base64url without padding (RFC 7515 §2), for reading a JWS header.
fn base64_url_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'-' => 62,
            b'_' => 63,
            _ => panic!("not base64url: {c}"),
        }
    };
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        acc = (acc << 6) | val(c);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

/// Waits until `cond` holds, at most `within`.
async fn eventually(within: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !cond() {
        assert!(t0.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn invoke_status(node: &Running, body: &Value) -> (u16, Value) {
    post(&format!("{}/invoke", node.proxy_url()), body).await
}

fn not_a_token_refusal((s, v): &(u16, Value)) -> bool {
    *s != 401 && v["error"] != "InvalidToken" && v["error"] != "TokenExpired"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_agree_on_one_key_and_rotation_keeps_old_tokens_valid() {
    let c = Cluster::new();
    let (a, b) = tokio::join!(c.node(1), c.node(2));
    let (ga, gb) = (a.gateway.clone(), b.gateway.clone());
    assert_eq!(ga.signer.current().kid, gb.signer.current().kid);
    assert_eq!(ga.signer.current().generation, Some(1));
    // Not the state directory's file.
    assert!(!c.dir.join("node1").join("iap-ed25519.pem").exists());

    let old = mint(&a).await;
    let old_kid = ga.signer.current().kid.clone();
    assert_eq!(jwt_kid(old["jwt_token"].as_str().unwrap()), old_kid);

    // `armoriq keys rotate-signing` on another node.
    let added = signer::rotate(c.store.as_ref(), &c.secret).await.unwrap();
    assert_eq!(added.generation, 2);
    for g in [&ga, &gb] {
        eventually(
            Duration::from_secs(1),
            "rotation reaches every node",
            || g.signer.current().kid == added.kid,
        )
        .await;
    }

    // Tokens signed before the rotation still verify, JWT and CSRG alike,
    // on the node that minted them and on the other.
    let jwt = old["jwt_token"].as_str().unwrap();
    let csrg_raw = serde_json::value::to_raw_value(&old["token"]).unwrap();
    for g in [&ga, &gb] {
        g.token_cache.clear();
        jwt::check_token(g, jwt).unwrap();
        csrg::verify(g, &csrg_raw).unwrap();
    }
    let plan_id = old["plan_id"].as_str().unwrap();
    let jwt_call = json!({"mcp": "m", "action": "a", "params": {},
        "intent_token": {"jwt_token": jwt, "plan_id": plan_id}});
    let csrg_call = json!({"mcp": "m", "action": "a", "params": {}, "token": old["token"]});
    for node in [&a, &b] {
        let r = invoke_status(node, &jwt_call).await;
        assert!(not_a_token_refusal(&r), "JWT after rotation: {r:?}");
        let r = invoke_status(node, &csrg_call).await;
        assert!(not_a_token_refusal(&r), "CSRG-only after rotation: {r:?}");
    }

    // New tokens carry the new kid and key; the public key endpoint (the
    // one key the official SDK trusts) is the new one.
    let new = mint(&b).await;
    assert_eq!(jwt_kid(new["jwt_token"].as_str().unwrap()), added.kid);
    assert_eq!(
        new["token"]["public_key"].as_str().unwrap(),
        hex::encode(&added.public_raw)
    );
    let pk: Value = reqwest::get(format!("{}/iap/public-key", a.backend_url()))
        .await
        .unwrap()
        .json_text()
        .await;
    assert_eq!(pk["kid"], added.kid.as_str());

    // A token under a key the IAP never had is still refused.
    let mut forged = old["token"].clone();
    forged["public_key"] = json!(hex::encode([7u8; 32]));
    let raw = serde_json::value::to_raw_value(&forged).unwrap();
    let e = csrg::verify(&ga, &raw).unwrap_err();
    assert!(e.reason().contains("UnknownKid"), "{}", e.reason());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_on_one_node_reaches_the_others_cached_plan_within_a_second() {
    let c = Cluster::new();
    let (a, b) = tokio::join!(c.node(1), c.node(2));
    let gb: AppState = b.gateway.clone();
    let minted = mint(&a).await;
    let plan_id = minted["plan_id"].as_str().unwrap().to_owned();
    // Node B has the plan cached.
    plan::load_plan(&gb, &plan_id).await.unwrap();
    assert!(gb.plans.get(&plan_id).is_some());

    // Revoked through node A's route.
    let (s, v) = post(
        &format!("{}/iap/trust/revoke", a.backend_url()),
        &json!({"planId": plan_id, "reason": "test"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let t0 = Instant::now();
    eventually(Duration::from_secs(1), "node B drops the plan", || {
        gb.plans.get(&plan_id).is_none()
    })
    .await;
    let e = plan::load_plan(&gb, &plan_id).await.unwrap_err();
    assert!(e.reason().contains("revoked"), "{}", e.reason());
    assert!(t0.elapsed() < Duration::from_secs(1));
    let r = invoke_status(
        &b,
        &json!({"mcp": "m", "action": "a", "params": {},
            "intent_token": {"jwt_token": minted["jwt_token"], "plan_id": plan_id}}),
    )
    .await;
    assert_eq!(r.0, 401, "{r:?}");
    assert!(
        c.store.get_plan(&plan_id).await.unwrap().unwrap().status
            == crate::store::PlanStatus::Revoked
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_load_reaches_every_node_and_a_bad_one_changes_nothing() {
    let c = Cluster::new();
    let (a, b) = tokio::join!(c.node(1), c.node(2));
    let before = [a.gateway.policy(), b.gateway.policy()];
    let doc = json!({"agent": {"policyId": "block-a", "layer": "agent", "expiresAt": "never",
        "defaults": {"tools": "allow"},
        "statements": [{"id": "no-a", "effect": "block", "match": {"tool": "a", "order": 1},
            "conditions": [], "expiresAt": "never",
            "provenance": {"ruleKey": "tools.a", "variant": 0}}]}});
    c.store
        .put_policy(&doc.to_string(), "test", crate::now_ms())
        .await
        .unwrap();
    for (n, g) in [&a.gateway, &b.gateway].into_iter().enumerate() {
        let was = before[n].clone();
        eventually(Duration::from_secs(2), "policy reaches every node", || {
            !Arc::ptr_eq(&g.policy(), &was)
        })
        .await;
    }
    // A document that does not load leaves the policy in force alone.
    let now = [a.gateway.policy(), b.gateway.policy()];
    c.store
        .put_policy("{\"statements\": 5}", "test", crate::now_ms())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(Arc::ptr_eq(&a.gateway.policy(), &now[0]));
    assert!(Arc::ptr_eq(&b.gateway.policy(), &now[1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_shared_store_a_lost_notification_keeps_a_revoked_plan_usable_two_seconds_at_most() {
    let c = Cluster::new();
    // A node that believes its store is shared (the location decides the
    // backstop), over the cluster's SQLite file.
    let node = c
        .builder(1)
        .store(StoreLocation::Postgres("postgres://gw@db/armoriq".into()))
        .build_with_store(c.store.clone())
        .await
        .unwrap()
        .start()
        .await
        .unwrap();
    let g = node.gateway.clone();
    let minted = mint(&node).await;
    let plan_id = minted["plan_id"].as_str().unwrap().to_owned();
    plan::load_plan(&g, &plan_id).await.unwrap();
    // Revoked through another handle on the file: its feed never reaches
    // this node, as when a notification is lost.
    let other = SqliteStore::open(&c.dir.join("armoriq.db")).unwrap();
    other
        .revoke_plan_cascade(&plan_id, crate::now_ms())
        .await
        .unwrap()
        .unwrap();
    let t0 = Instant::now();
    loop {
        match plan::load_plan(&g, &plan_id).await {
            Err(e) => {
                assert!(e.reason().contains("revoked"), "{}", e.reason());
                break;
            }
            Ok(_) => {
                assert!(
                    t0.elapsed() < crate::SHARED_PLAN_CACHE_TTL + Duration::from_millis(500),
                    "a revoked plan stayed usable past the backstop"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resync_drops_every_cache() {
    let c = Cluster::new();
    let node = c.node(1).await;
    let g = node.gateway.clone();
    let minted = mint(&node).await;
    let plan_id = minted["plan_id"].as_str().unwrap();
    plan::load_plan(&g, plan_id).await.unwrap();
    jwt::check_token(&g, minted["jwt_token"].as_str().unwrap()).unwrap();
    assert!(!g.plans.is_empty() && !g.token_cache.is_empty() && g.cached_api_keys() > 0);
    let mut version = None;
    crate::sync::apply(&g, &crate::store::Change::Resync, &mut version).await;
    assert!(g.plans.is_empty() && g.token_cache.is_empty());
    assert_eq!(g.cached_api_keys(), 0);
    // And the node still serves (keys reloaded, not lost).
    mint(&node).await;
}

#[tokio::test]
async fn misconfigured_nodes_refuse_to_start_with_a_clear_error() {
    let c = Cluster::new();
    c.node(1).await;
    // Another secret.
    let e = c
        .builder(2)
        .secret(Some(Arc::new(
            OperatorSecret::new(b"not the cluster's secret!").unwrap(),
        )))
        .build_with_store(c.store.clone())
        .await
        .err()
        .unwrap();
    assert!(
        e.contains("is not the secret the other gateways use"),
        "{e}"
    );
    // Sealed keys in the store, no secret.
    let e = c
        .builder(3)
        .secret(None)
        .build_with_store(c.store.clone())
        .await
        .err()
        .unwrap();
    assert!(e.contains("ARMORIQ_SECRET"), "{e}");
    // A shared store without a secret (the location is what decides).
    let e = c
        .builder(4)
        .secret(None)
        .store(StoreLocation::Postgres(
            "postgres://gw:pw123@db/armoriq".into(),
        ))
        .build_with_store(c.store.clone())
        .await
        .err()
        .unwrap();
    assert!(
        e.contains("ARMORIQ_SECRET") && e.contains("--secret-file"),
        "{e}"
    );
    assert!(!e.contains("pw123"), "{e}");
    assert_eq!(c.store.signing_keys().await.unwrap().len(), 1);
}

/// Reads a response body as JSON without reqwest's `json` feature.
trait JsonText {
    async fn json_text(self) -> Value;
}

impl JsonText for reqwest::Response {
    async fn json_text(self) -> Value {
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}
