//! Token verification, in one run: the bare signature verify of each backend
//! (p256 / ed25519-dalek, ring, aws-lc-rs), the full `verify_invocation`
//! (parse, signature, claims, Merkle proof, call = step) on the pure-Rust,
//! the aws-lc-rs and the default host backend, and the `jsonwebtoken` crate (aws-lc-rs backend)
//! decoding the same token into typed claims with exp, aud and iss checked.

use armoriq_benches::invocation::Fixture;
use armoriq_benches::jwt_validation;
use armoriq_common::backend::{AwsLc, Host};
use armoriq_core::{Alg, RustCrypto};
use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

fn bench(c: &mut Criterion) {
    for alg in [Alg::Es256, Alg::EdDsa] {
        let f = Fixture::new(alg);
        let (msg, sig) = f.signed_parts();
        let msg = msg.as_bytes();
        let mut g = c.benchmark_group(format!("token/{}", alg.name()));
        // Bare signature verification, per backend.
        let rc_keys = f.key_set::<RustCrypto>();
        let rc_key = rc_keys.iter().next().unwrap().key().clone();
        g.bench_function("bare verify/p256|ed25519-dalek", |b| {
            b.iter(|| rc_key.verify(black_box(msg), &sig).unwrap())
        });
        let ring_alg: &dyn ring::signature::VerificationAlgorithm = match alg {
            Alg::Es256 => &ring::signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &ring::signature::ED25519,
        };
        let ring_key = ring::signature::UnparsedPublicKey::new(ring_alg, f.public.clone());
        g.bench_function("bare verify/ring", |b| {
            b.iter(|| ring_key.verify(black_box(msg), &sig).unwrap())
        });
        let aws_alg: &'static dyn aws_lc_rs::signature::VerificationAlgorithm = match alg {
            Alg::Es256 => &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            Alg::EdDsa => &aws_lc_rs::signature::ED25519,
        };
        let aws_key = aws_lc_rs::signature::UnparsedPublicKey::new(aws_alg, f.public.clone());
        g.bench_function("bare verify/aws-lc-rs", |b| {
            b.iter(|| aws_key.verify(black_box(msg), &sig).unwrap())
        });
        // The full invocation check.
        g.bench_function("verify_invocation/pure-rust", |b| {
            b.iter(|| f.check(&rc_keys))
        });
        let aws_keys = f.key_set::<AwsLc>();
        g.bench_function("verify_invocation/aws-lc-rs", |b| {
            b.iter(|| f.check(&aws_keys))
        });
        // The default host backend: aws-lc-rs for ES256, pure Rust for EdDSA.
        let host_keys = f.key_set::<Host>();
        g.bench_function("verify_invocation/host", |b| b.iter(|| f.check(&host_keys)));
        // jsonwebtoken (aws-lc-rs): decode + verify + exp/aud/iss.
        let (jalg, dk) = f.jwt_key();
        let v = jwt_validation(jalg);
        // Decoded into typed claims, as a jsonwebtoken user writes it.
        g.bench_function("jsonwebtoken (aws-lc-rs) decode+verify", |b| {
            b.iter(|| f.jwt_decode(&dk, &v))
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
