//! Paired timing of the token check against its peer, robust to a machine
//! whose load drifts (criterion measures one function after the other, so a
//! build starting halfway biases the ratio): `rounds` times, each candidate
//! runs a batch in turn, in alternating order, and the report gives the
//! median of the per-round ratios to the peer.
//!
//! Candidates: the peer (`jsonwebtoken` on aws-lc-rs, typed claims, exp,
//! aud and iss checked), `verify_invocation` on each backend, and the bare
//! signature verifies. `PAIRED_STAGES=1` adds the token stages alone.
//!
//! ```text
//! cargo run --release -p armoriq-benches --example paired [rounds]
//! ```
use armoriq_benches::{IntentClaims, jwt_validation};
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Backend, Call, Profile, RustCrypto, StepProof, verify_invocation};
use armoriq_host::backend::{AwsLc, Host};
use armoriq_host::keys::SigningKey;
use armoriq_host::proofs::plan_hashes;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use std::hint::black_box;
use std::time::Instant;

const NOW: i64 = 1_800_000_000;
/// 2100-01-01T00:00:00Z: `jsonwebtoken` checks `exp` against the real clock.
const EXP: i64 = 4_102_444_800;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

type Candidate<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn ours<'a, B: Backend>(
    token: &'a str,
    step: &'a str,
    siblings: &'a [[u8; 32]],
    keys: &'a KeySet<B, 2>,
) -> impl FnMut() + 'a {
    move || {
        let proof = StepProof {
            step: step.as_bytes(),
            index: 0,
            tree_size: 4,
            siblings,
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
        black_box(
            verify_invocation(
                black_box(token.as_bytes()),
                &call,
                &proof,
                &expect,
                keys,
                &mut buf,
            )
            .unwrap(),
        );
    }
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(60, |r| r.parse().expect("rounds: a number"));
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
    let siblings: Vec<[u8; 32]> = h.step_proofs[0]
        .siblings
        .iter()
        .map(|s| unhex(s).try_into().unwrap())
        .collect();
    let step = plan["steps"][0].to_string();
    for alg in [Alg::Es256, Alg::EdDsa] {
        let (key, _) = SigningKey::generate(alg).unwrap();
        let token = key.sign_jwt(claims.to_string().as_bytes(), None).unwrap();
        let raw = key.public().raw;
        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        let (sig_r, sig_c) = (sig.clone(), sig.clone());
        let mut aws: KeySet<AwsLc, 2> = KeySet::new();
        let mut rc: KeySet<RustCrypto, 2> = KeySet::new();
        let mut host: KeySet<Host, 2> = KeySet::new();
        let (jalg, dk) = match alg {
            Alg::Es256 => {
                aws.add_es256(None, &raw).unwrap();
                rc.add_es256(None, &raw).unwrap();
                host.add_es256(None, &raw).unwrap();
                (
                    jsonwebtoken::Algorithm::ES256,
                    jsonwebtoken::DecodingKey::from_ec_components(
                        &URL_SAFE_NO_PAD.encode(&raw[1..33]),
                        &URL_SAFE_NO_PAD.encode(&raw[33..65]),
                    )
                    .unwrap(),
                )
            }
            Alg::EdDsa => {
                let r: [u8; 32] = raw.clone().try_into().unwrap();
                aws.add_ed25519(None, &r).unwrap();
                rc.add_ed25519(None, &r).unwrap();
                host.add_ed25519(None, &r).unwrap();
                (
                    jsonwebtoken::Algorithm::EdDSA,
                    jsonwebtoken::DecodingKey::from_ed_der(&raw),
                )
            }
        };
        let v = jwt_validation(jalg);
        let aws_alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
            Alg::Es256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &aws_lc_rs::signature::ED25519,
        };
        let unparsed = aws_lc_rs::signature::UnparsedPublicKey::new(aws_alg, raw.clone());
        let aws_key = aws.iter().next().unwrap().key().clone();
        let mut cands: Vec<Candidate<'_>> = vec![
            (
                "jsonwebtoken decode (peer)",
                Box::new(|| {
                    black_box(
                        jsonwebtoken::decode::<IntentClaims>(black_box(&token), &dk, &v).unwrap(),
                    );
                }),
            ),
            (
                "verify_invocation host (default)",
                Box::new(ours(&token, &step, &siblings, &host)),
            ),
            (
                "bare verify aws-lc-rs, parsed key",
                Box::new(|| aws_key.verify(black_box(input.as_bytes()), &sig).unwrap()),
            ),
            (
                "bare verify aws-lc-rs, unparsed key",
                Box::new(|| unparsed.verify(black_box(input.as_bytes()), &sig).unwrap()),
            ),
        ];
        let ring_alg: &'static dyn ring::signature::VerificationAlgorithm = match alg {
            Alg::Es256 => &ring::signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &ring::signature::ED25519,
        };
        let ring_key = ring::signature::UnparsedPublicKey::new(ring_alg, raw.clone());
        let rc_key = rc.iter().next().unwrap().key().clone();
        {
            cands.push((
                "bare verify ring",
                Box::new(move || {
                    ring_key
                        .verify(black_box(input.as_bytes()), &sig_r)
                        .unwrap()
                }),
            ));
            cands.push((
                "bare verify pure Rust (parsed key)",
                Box::new(move || rc_key.verify(black_box(input.as_bytes()), &sig_c).unwrap()),
            ));
        }
        if std::env::var_os("PAIRED_STAGES").is_some() {
            let (t, aws) = (token.clone(), &aws);
            cands.push((
                "stage: jws::verify",
                Box::new(move || {
                    let mut buf = [0u8; 1024];
                    black_box(
                        armoriq_core::jws::verify(black_box(t.as_bytes()), aws, &mut buf).unwrap(),
                    );
                }),
            ));
            let t = token.clone();
            cands.push((
                "stage: verify_token",
                Box::new(move || {
                    let mut buf = [0u8; 1024];
                    let e = Expect {
                        now: NOW,
                        leeway: 0,
                        audience: Some("armoriq-proxy"),
                        issuer: Some("armoriq-iap"),
                    };
                    black_box(
                        armoriq_core::verify_token(black_box(t.as_bytes()), &e, aws, &mut buf)
                            .unwrap(),
                    );
                }),
            ));
        }
        cands.push((
            "verify_invocation aws-lc-rs",
            Box::new(ours(&token, &step, &siblings, &aws)),
        ));
        cands.push((
            "verify_invocation pure Rust",
            Box::new(ours(&token, &step, &siblings, &rc)),
        ));
        // Batch size: about 2 ms of the peer.
        let t = Instant::now();
        (cands[0].1)();
        let once = t.elapsed().as_secs_f64().max(1e-6);
        let batch = ((2e-3 / once) as usize).clamp(5, 1000);
        let n = cands.len();
        let mut per: Vec<Vec<f64>> = vec![Vec::new(); n];
        for r in 0..rounds {
            for k in 0..n {
                let i = if r % 2 == 0 { k } else { n - 1 - k };
                let f = &mut cands[i].1;
                let t = Instant::now();
                for _ in 0..batch {
                    f();
                }
                per[i].push(t.elapsed().as_secs_f64() / batch as f64);
            }
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        println!("{} ({rounds} rounds of {batch} calls each):", alg.name());
        for i in 0..n {
            let ratios: Vec<f64> = per[i].iter().zip(&per[0]).map(|(a, b)| a / b).collect();
            println!(
                "  {:<38} {:>9.2} µs  {:.3}× the peer",
                cands[i].0,
                median(per[i].clone()) * 1e6,
                median(ratios)
            );
        }
    }
}
