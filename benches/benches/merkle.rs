//! RFC 9162 Merkle roots and one inclusion-proof verification: armoriq-core
//! (streaming, no heap) against ct-merkle (same RFC 6962 tree, in memory) and
//! rs_merkle (its own tree shape), in one run. Every library hashes the same
//! 32-byte leaf values with SHA-256.

use armoriq_core::merkle::{RootBuilder, leaf_hash, verify_inclusion};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ct_merkle::mem_backed_tree::MemoryBackedTree;
use rs_merkle::{Hasher, MerkleTree, algorithms::Sha256 as RsSha256};
use sha2::Sha256;
use std::hint::black_box;

fn values(n: usize) -> Vec<[u8; 32]> {
    (0..n as u64)
        .map(|i| {
            let mut v = [0u8; 32];
            v[..8].copy_from_slice(&i.to_le_bytes());
            v
        })
        .collect()
}

fn roots(c: &mut Criterion) {
    let mut g = c.benchmark_group("merkle_root");
    for n in [8usize, 1024, 1 << 20] {
        let vals = values(n);
        g.throughput(Throughput::Elements(n as u64));
        if n > 1024 {
            g.sample_size(10);
        }
        g.bench_with_input(BenchmarkId::new("armoriq-core", n), &vals, |b, vals| {
            b.iter(|| {
                let mut t = RootBuilder::<32>::new();
                for v in vals {
                    t.push(leaf_hash(v)).unwrap();
                }
                t.root()
            })
        });
        g.bench_with_input(BenchmarkId::new("ct-merkle", n), &vals, |b, vals| {
            b.iter(|| {
                let mut t = MemoryBackedTree::<Sha256, [u8; 32]>::new();
                for v in vals {
                    t.push(*v);
                }
                t.root()
            })
        });
        g.bench_with_input(BenchmarkId::new("rs_merkle", n), &vals, |b, vals| {
            b.iter(|| {
                let leaves: Vec<[u8; 32]> = vals.iter().map(|v| RsSha256::hash(v)).collect();
                MerkleTree::<RsSha256>::from_leaves(&leaves).root()
            })
        });
    }
    g.finish();
}

fn verify(c: &mut Criterion) {
    let n = 1024usize;
    let idx = 517usize;
    let vals = values(n);
    let mut g = c.benchmark_group("merkle_verify_1024");

    let leaves: Vec<[u8; 32]> = vals.iter().map(|v| leaf_hash(v)).collect();
    let mut ct = MemoryBackedTree::<Sha256, [u8; 32]>::new();
    for v in &vals {
        ct.push(*v);
    }
    let ct_root = ct.root();
    let ct_proof = ct.prove_inclusion(idx);
    // Our proof has the same sibling hashes as ct-merkle's (same RFC tree).
    let siblings: Vec<[u8; 32]> = ct_proof
        .as_bytes()
        .chunks(32)
        .map(|c| c.try_into().unwrap())
        .collect();
    let mut t = RootBuilder::<32>::new();
    for l in &leaves {
        t.push(*l).unwrap();
    }
    let root = t.root();
    verify_inclusion(&leaves[idx], idx as u64, n as u64, &siblings, &root).unwrap();
    g.bench_function("armoriq-core", |b| {
        b.iter(|| {
            let leaf = leaf_hash(black_box(&vals[idx]));
            verify_inclusion(&leaf, idx as u64, n as u64, black_box(&siblings), &root)
        })
    });
    g.bench_function("ct-merkle", |b| {
        b.iter(|| ct_root.verify_inclusion(black_box(&vals[idx]), idx as u64, black_box(&ct_proof)))
    });
    let rs_leaves: Vec<[u8; 32]> = vals.iter().map(|v| RsSha256::hash(v)).collect();
    let rs = MerkleTree::<RsSha256>::from_leaves(&rs_leaves);
    let rs_root = rs.root().unwrap();
    let rs_proof = rs.proof(&[idx]);
    g.bench_function("rs_merkle", |b| {
        b.iter(|| {
            let leaf = RsSha256::hash(black_box(&vals[idx]));
            rs_proof.verify(rs_root, &[idx], &[leaf], n)
        })
    });
    g.finish();
}

criterion_group!(benches, roots, verify);
criterion_main!(benches);
