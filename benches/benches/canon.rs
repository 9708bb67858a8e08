//! Canonical hash of a plan: armoriq-core (both profiles) against
//! serde_json + serde_jcs + sha2 (the peer), and against raw SHA-256 of the
//! same bytes (the limit), in one run.

use armoriq_benches::plan_of_size;
use armoriq_core::canon::{Canonicalizer, Profile};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha2::{Digest, Sha256};
use std::hint::black_box;

fn canonical_hash(c: &mut Criterion) {
    for (name, size) in [("2KiB", 2 * 1024), ("64KiB", 64 * 1024)] {
        let plan = plan_of_size(size);
        let bytes = plan.as_bytes();
        let mut g = c.benchmark_group(format!("canonical_hash/{name}"));
        g.throughput(Throughput::Bytes(bytes.len() as u64));
        let mut canon = Canonicalizer::<32, 256>::new();
        g.bench_function("armoriq-core/armoriq", |b| {
            b.iter(|| canon.sha256(black_box(bytes), Profile::ArmorIq).unwrap())
        });
        g.bench_function("armoriq-core/jcs", |b| {
            b.iter(|| canon.sha256(black_box(bytes), Profile::Jcs).unwrap())
        });
        g.bench_function("serde_json+serde_jcs+sha2", |b| {
            b.iter(|| {
                let v: serde_json::Value = serde_json::from_slice(black_box(bytes)).unwrap();
                let s = serde_jcs::to_vec(&v).unwrap();
                let d: [u8; 32] = Sha256::digest(&s).into();
                d
            })
        });
        g.bench_function("raw_sha256", |b| {
            b.iter(|| {
                let d: [u8; 32] = Sha256::digest(black_box(bytes)).into();
                d
            })
        });
        g.finish();
    }
}

criterion_group!(benches, canonical_hash);
criterion_main!(benches);
