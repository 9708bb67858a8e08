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
use armoriq_benches::invocation::{EXPECT, Fixture};
use armoriq_benches::jwt_validation;
use armoriq_common::backend::{AwsLc, Host};
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, RustCrypto};
use std::hint::black_box;
use std::time::Instant;

type Candidate<'a> = (&'static str, Box<dyn FnMut() + 'a>);

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(60, |r| r.parse().expect("rounds: a number"));
    for alg in [Alg::Es256, Alg::EdDsa] {
        let f = Fixture::new(alg);
        let (input, sig) = f.signed_parts();
        let raw = f.public.clone();
        let (sig_r, sig_c) = (sig.clone(), sig.clone());
        let aws: KeySet<AwsLc, 2> = f.key_set();
        let rc: KeySet<RustCrypto, 2> = f.key_set();
        let host: KeySet<Host, 2> = f.key_set();
        let (jalg, dk) = f.jwt_key();
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
                    black_box(f.jwt_decode(&dk, &v));
                }),
            ),
            (
                "verify_invocation host (default)",
                Box::new(|| {
                    black_box(f.check(&host));
                }),
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
            let (t, aws) = (f.token.clone(), &aws);
            cands.push((
                "stage: jws::verify",
                Box::new(move || {
                    let mut buf = [0u8; 1024];
                    black_box(
                        armoriq_core::jws::verify(black_box(t.as_bytes()), aws, &mut buf).unwrap(),
                    );
                }),
            ));
            let t = f.token.clone();
            cands.push((
                "stage: verify_token",
                Box::new(move || {
                    let mut buf = [0u8; 1024];
                    black_box(
                        armoriq_core::verify_token(black_box(t.as_bytes()), &EXPECT, aws, &mut buf)
                            .unwrap(),
                    );
                }),
            ));
        }
        cands.push((
            "verify_invocation aws-lc-rs",
            Box::new(|| {
                black_box(f.check(&aws));
            }),
        ));
        cands.push((
            "verify_invocation pure Rust",
            Box::new(|| {
                black_box(f.check(&rc));
            }),
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
