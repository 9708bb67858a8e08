//! Deterministic instruction counts of the invocation check (run under
//! `valgrind --tool=callgrind`, then compare the inclusive cost of
//! `verify_invocation_with` with that of the backend's signature verify
//! inside it): `verify_count es256|eddsa`. To count only the check:
//! `valgrind --tool=callgrind --toggle-collect='verify_count::check' …`.
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Call, Profile, RustCrypto, StepProof, verify_invocation};
use armoriq_host::keys::SigningKey;
use armoriq_host::proofs::plan_hashes;

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
    let now = 1_800_000_000i64;
    let claims = serde_json::json!({
        "iss": "armoriq-iap", "aud": "armoriq-proxy", "sub": "alice@example.com",
        "iat": now - 10, "exp": now + 300, "jti": "intent-42", "plan_id": "plan-1",
        "plan_hash": h.plan_hash, "merkle_root": h.merkle_root, "step_count": 4,
    });
    let (key, _) = SigningKey::generate(alg).unwrap();
    let token = key.sign_jwt(claims.to_string().as_bytes(), None).unwrap();
    let p = key.public();
    let mut keys = KeySet::<RustCrypto, 2>::new();
    match alg {
        Alg::Es256 => keys.add_es256(None, &p.raw).unwrap(),
        Alg::EdDsa => keys
            .add_ed25519(None, &p.raw.clone().try_into().unwrap())
            .unwrap(),
    }
    let sib: Vec<[u8; 32]> = h.step_proofs[0]
        .siblings
        .iter()
        .map(|s| {
            (0..32)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap())
                .collect::<Vec<u8>>()
                .try_into()
                .unwrap()
        })
        .collect();
    let step = plan["steps"][0].to_string();
    let proof = StepProof {
        step: step.as_bytes(),
        index: 0,
        tree_size: 4,
        siblings: &sib,
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
    let v = check(
        std::hint::black_box(token.as_bytes()),
        &call,
        &proof,
        &expect,
        &keys,
        &mut buf,
    );
    println!("{:?}", v.map(|s| s.index));
}

/// The measured call, kept out of line so callgrind can collect it alone.
#[inline(never)]
fn check(
    token: &[u8],
    call: &Call<'_>,
    proof: &StepProof<'_, [u8; 32]>,
    expect: &Expect<'_>,
    keys: &KeySet<RustCrypto, 2>,
    buf: &mut [u8],
) -> Result<armoriq_core::VerifiedStep, armoriq_core::Rejection> {
    verify_invocation(token, call, proof, expect, keys, buf)
}
