//! Deterministic instruction counts, for the host backend against the
//! `jsonwebtoken` crate (aws-lc-rs) on an equivalent token. Run under
//! `valgrind --tool=callgrind --toggle-collect='vs_jsonwebtoken::ours'` and
//! again with `…::theirs`: `vs_jsonwebtoken es256|eddsa`.
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Call, Profile, StepProof, verify_invocation};
use armoriq_host::backend::AwsLc;
use armoriq_host::keys::SigningKey;
use armoriq_host::proofs::plan_hashes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn main() {
    let alg = if std::env::args().nth(1).as_deref() == Some("es256") {
        Alg::Es256
    } else {
        Alg::EdDsa
    };
    let plan = serde_json::json!({"goal": "weather", "steps": [
        {"action": "get_weather", "mcp": "weather-mcp", "params": {"city": "Boston", "units": "metric"}},
        {"action": "send_email", "mcp": "mail-mcp", "params": {"to": "team@example.com"}},
        {"action": "log", "mcp": "audit"},
        {"action": "notify", "mcp": "chat", "params": {"channel": "ops"}},
    ]});
    let (_, h) = plan_hashes(plan.to_string().as_bytes(), Profile::ArmorIq).unwrap();
    let now = 4_000_000_000i64;
    let claims = serde_json::json!({
        "iss": "armoriq-iap", "aud": "armoriq-proxy", "sub": "alice@example.com",
        "iat": 1_700_000_000, "exp": now + 300, "jti": "intent-42", "plan_id": "plan-1",
        "plan_hash": h.plan_hash, "merkle_root": h.merkle_root, "step_count": 4,
    });
    let (key, _) = SigningKey::generate(alg).unwrap();
    let token = key.sign_jwt(claims.to_string().as_bytes(), None).unwrap();
    let raw = key.public().raw;
    let mut keys = KeySet::<AwsLc, 2>::new();
    match alg {
        Alg::Es256 => keys.add_es256(None, &raw).unwrap(),
        Alg::EdDsa => keys
            .add_ed25519(None, &raw.clone().try_into().unwrap())
            .unwrap(),
    }
    let sib: Vec<[u8; 32]> = h.step_proofs[0]
        .siblings
        .iter()
        .map(|s| {
            let v: Vec<u8> = (0..32)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
                .collect();
            v.try_into().unwrap()
        })
        .collect();
    let step = plan["steps"][0].to_string();
    let (jalg, dk) = match alg {
        Alg::Es256 => (
            jsonwebtoken::Algorithm::ES256,
            jsonwebtoken::DecodingKey::from_ec_components(
                &URL_SAFE_NO_PAD.encode(&raw[1..33]),
                &URL_SAFE_NO_PAD.encode(&raw[33..65]),
            )
            .unwrap(),
        ),
        Alg::EdDsa => (
            jsonwebtoken::Algorithm::EdDSA,
            jsonwebtoken::DecodingKey::from_ed_der(&raw),
        ),
    };
    let mut v = jsonwebtoken::Validation::new(jalg);
    v.set_audience(&["armoriq-proxy"]);
    v.set_issuer(&["armoriq-iap"]);
    // Warm both paths once (lazy initialisation inside aws-lc), then measure.
    for _ in 0..2 {
        ours(&token, &step, &sib, &keys, now);
        theirs(&token, &dk, &v);
    }
}

#[inline(never)]
fn ours(token: &str, step: &str, sib: &[[u8; 32]], keys: &KeySet<AwsLc, 2>, now: i64) {
    let proof = StepProof {
        step: step.as_bytes(),
        index: 0,
        tree_size: 4,
        siblings: sib,
    };
    let call = Call {
        mcp: "weather-mcp",
        action: "get_weather",
        params: Some(br#"{"units":"metric","city":"Boston"}"#),
    };
    let expect = Expect {
        now,
        leeway: 0,
        audience: Some("armoriq-proxy"),
        issuer: Some("armoriq-iap"),
    };
    let mut buf = [0u8; 1024];
    verify_invocation(token.as_bytes(), &call, &proof, &expect, keys, &mut buf).unwrap();
}

#[inline(never)]
fn theirs(token: &str, dk: &jsonwebtoken::DecodingKey, v: &jsonwebtoken::Validation) {
    jsonwebtoken::decode::<serde_json::Value>(token, dk, v).unwrap();
}
