//! Local verification at mint: a substituted plan or a forged signature is
//! refused before any call.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use armoriq_client::{ArmorIQClient, ArmorIqError};
use client_support::*;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[tokio::test]
async fn mint_rejects_a_substituted_plan_and_a_bad_signature() {
    use armoriq_common::keys::SigningKey;
    let (key, _) = SigningKey::generate(armoriq_core::Alg::EdDsa).unwrap();
    let public_hex = hex::encode(key.public().raw);
    let sent =
        json!({"steps": [{"action": "get_weather", "mcp": MCP, "params": {"city": "Paris"}}]});
    let other =
        json!({"steps": [{"action": "delete_records", "mcp": MCP, "params": {"table": "users"}}]});
    let sign_for = |plan: &Value, break_sig: bool| -> String {
        let (_, h) = armoriq_common::proofs::plan_hashes(
            plan.to_string().as_bytes(),
            armoriq_core::Profile::ArmorIq,
        )
        .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = json!({"iss": "armoriq-gateway", "aud": "armoriq-proxy", "sub": "u", "iat": now,
            "exp": now + 300, "jti": "i1", "plan_id": "p1", "plan_hash": h.plan_hash, "merkle_root": h.merkle_root,
            "step_count": 1});
        let canon = armoriq_common::canonical::canonical_bytes(
            claims.to_string().as_bytes(),
            armoriq_core::Profile::ArmorIq,
        )
        .unwrap();
        let mut jwt = key.sign_jwt(&canon, None).unwrap();
        if break_sig {
            jwt = flip_sig(&jwt);
        }
        json!({"success": true, "plan_id": "p1", "intent_reference": "i1", "plan_hash": h.plan_hash,
               "merkle_root": h.merkle_root, "jwt_token": jwt, "token": {}})
        .to_string()
    };
    let substituted = sign_for(&other, false);
    let forged = sign_for(&sent, true);
    let honest = sign_for(&sent, false);
    let which = Arc::new(Mutex::new(0u8));
    let w2 = which.clone();
    let pk = public_hex.clone();
    let route: Route = Arc::new(move |r: &Seen| {
        if r.path == "/iap/public-key" {
            return (
                200,
                "application/json".into(),
                json!({"public_key": pk}).to_string(),
            );
        }
        let body = match *w2.lock().unwrap() {
            0 => substituted.clone(),
            1 => forged.clone(),
            _ => honest.clone(),
        };
        (200, "application/json".into(), body)
    });
    let m = Mock::start(route);
    let c = ArmorIQClient::builder()
        .api_key("ak_test_v")
        .backend_endpoint(m.url())
        .proxy_endpoint(m.url())
        .credentials_path("/nonexistent/c.json")
        .build()
        .unwrap();
    let cap = c.capture_plan("l", "p", Some(&sent), None).unwrap();
    let e = c.get_intent_token(&cap, None, 300, None).await.unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(msg) if msg.contains("plan substituted")),
        "{e:?}"
    );
    *which.lock().unwrap() = 1;
    let e = c.get_intent_token(&cap, None, 300, None).await.unwrap_err();
    assert!(
        matches!(&e, ArmorIqError::InvalidToken(msg) if msg.contains("jwt_token")),
        "{e:?}"
    );
    *which.lock().unwrap() = 2;
    let tok = c.get_intent_token(&cap, None, 300, None).await.unwrap();
    assert_eq!(tok.plan_id.as_deref(), Some("p1"));
    // Neither refused token reached /invoke.
    assert!(m.take().iter().all(|s| s.path != "/invoke"));
}
