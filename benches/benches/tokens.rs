//! Token verification, in one run: the bare signature verify of each backend
//! (p256 / ed25519-dalek, ring, aws-lc-rs), the full `verify_invocation`
//! (parse, signature, claims, Merkle proof, call = step) on the pure-Rust,
//! the aws-lc-rs and the default host backend, and the `jsonwebtoken` crate (aws-lc-rs backend)
//! decoding the same token into typed claims with exp, aud and iss checked.

use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Backend, Call, Profile, RustCrypto, StepProof, verify_invocation};
use armoriq_host::backend::{AwsLc, Host};
use armoriq_host::keys::SigningKey;
use armoriq_host::proofs::plan_hashes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

const NOW: i64 = 1_800_000_000;
/// 2100-01-01T00:00:00Z: `jsonwebtoken` checks `exp` against the real clock.
const EXP: i64 = 4_102_444_800;

struct Fixture {
    token: String,
    step: String,
    siblings: Vec<[u8; 32]>,
    key: SigningKey,
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn fixture(alg: Alg) -> Fixture {
    let plan = serde_json::json!({"goal": "weather", "steps": [
        {"action": "get_weather", "mcp": "weather-mcp", "params": {"city": "Boston", "units": "metric"}},
        {"action": "send_email", "mcp": "mail-mcp", "params": {"to": "team@example.com"}},
        {"action": "log", "mcp": "audit"},
        {"action": "notify", "mcp": "chat", "params": {"channel": "ops"}},
    ]});
    let (_, h) = plan_hashes(plan.to_string().as_bytes(), Profile::ArmorIq).unwrap();
    let claims = serde_json::json!({
        "iss": "armoriq-iap", "aud": "armoriq-proxy", "sub": "alice@example.com",
        "iat": NOW - 10, "exp": EXP, "jti": "intent-42", "plan_id": "plan-1",
        "plan_hash": h.plan_hash, "merkle_root": h.merkle_root, "step_count": 4,
    });
    let (key, _) = SigningKey::generate(alg).unwrap();
    let token = key.sign_jwt(claims.to_string().as_bytes(), None).unwrap();
    let siblings = h.step_proofs[0]
        .siblings
        .iter()
        .map(|s| unhex(s).try_into().unwrap())
        .collect();
    Fixture {
        token,
        step: plan["steps"][0].to_string(),
        siblings,
        key,
    }
}

fn keys<B: Backend>(f: &Fixture) -> KeySet<B, 2> {
    let p = f.key.public();
    let mut ks = KeySet::<B, 2>::new();
    match p.alg {
        Alg::Es256 => ks.add_es256(None, &p.raw).unwrap(),
        Alg::EdDsa => ks
            .add_ed25519(None, &p.raw.clone().try_into().unwrap())
            .unwrap(),
    }
    ks
}

fn invocation<B: Backend>(f: &Fixture, ks: &KeySet<B, 2>) {
    let proof = StepProof {
        step: f.step.as_bytes(),
        index: 0,
        tree_size: 4,
        siblings: &f.siblings,
    };
    let call = Call {
        mcp: "weather-mcp",
        action: "get_weather",
        params: Some(br#"{"units":"metric","city":"Boston"}"#),
    };
    let expect = Expect {
        now: NOW,
        leeway: 0,
        audience: Some("armoriq-proxy"),
        issuer: Some("armoriq-iap"),
    };
    let mut buf = [0u8; 1024];
    verify_invocation(
        black_box(f.token.as_bytes()),
        &call,
        &proof,
        &expect,
        ks,
        &mut buf,
    )
    .unwrap();
}

fn bench(c: &mut Criterion) {
    for alg in [Alg::Es256, Alg::EdDsa] {
        let f = fixture(alg);
        let (input, sig) = f.token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let msg = input.as_bytes();
        let raw = f.key.public().raw;
        let mut g = c.benchmark_group(format!("token/{}", alg.name()));
        // Bare signature verification, per backend.
        let rc_keys = keys::<RustCrypto>(&f);
        let rc_key = rc_keys.iter().next().unwrap().key().clone();
        g.bench_function("bare verify/p256|ed25519-dalek", |b| {
            b.iter(|| rc_key.verify(black_box(msg), &sig).unwrap())
        });
        let ring_alg: &dyn ring::signature::VerificationAlgorithm = match alg {
            Alg::Es256 => &ring::signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &ring::signature::ED25519,
        };
        let ring_key = ring::signature::UnparsedPublicKey::new(ring_alg, raw.clone());
        g.bench_function("bare verify/ring", |b| {
            b.iter(|| ring_key.verify(black_box(msg), &sig).unwrap())
        });
        let aws_alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
            Alg::Es256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &aws_lc_rs::signature::ED25519,
        };
        let aws_key = aws_lc_rs::signature::UnparsedPublicKey::new(aws_alg, raw.clone());
        g.bench_function("bare verify/aws-lc-rs", |b| {
            b.iter(|| aws_key.verify(black_box(msg), &sig).unwrap())
        });
        // The full invocation check.
        g.bench_function("verify_invocation/pure-rust", |b| {
            b.iter(|| invocation(&f, &rc_keys))
        });
        let aws_keys = keys::<AwsLc>(&f);
        g.bench_function("verify_invocation/aws-lc-rs", |b| {
            b.iter(|| invocation(&f, &aws_keys))
        });
        // The default host backend: aws-lc-rs for ES256, pure Rust for EdDSA.
        let host_keys = keys::<Host>(&f);
        g.bench_function("verify_invocation/host", |b| {
            b.iter(|| invocation(&f, &host_keys))
        });
        // jsonwebtoken (aws-lc-rs): decode + verify + exp/aud/iss.
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
        let v = armoriq_benches::jwt_validation(jalg);
        // Decoded into typed claims, as a jsonwebtoken user writes it.
        g.bench_function("jsonwebtoken (aws-lc-rs) decode+verify", |b| {
            b.iter(|| {
                jsonwebtoken::decode::<armoriq_benches::IntentClaims>(black_box(&f.token), &dk, &v)
                    .unwrap()
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
