//! RFC 6962 / RFC 9162 conformance: transparency-dev's inclusion probes (valid
//! ones accepted, every mutation rejected) and the 8-leaf reference tree.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use armoriq_core::Error;
use armoriq_core::merkle::{
    RootBuilder, empty_root, leaf_hash, node_hash, root_from_inclusion_proof, verify_inclusion,
};
use base64::Engine;
use common::*;
use std::path::Path;

fn b64(v: &serde_json::Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap_or(""))
        .unwrap()
}

fn walk(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            walk(&p, out);
        } else if p.extension().is_some_and(|x| x == "json") {
            out.push(p);
        }
    }
}

#[test]
fn transparency_dev_inclusion_probes() {
    let mut files = Vec::new();
    walk(
        &shared().join("conformance/merkle/transparency-dev/testdata/inclusion"),
        &mut files,
    );
    files.sort();
    let (mut valid, mut invalid) = (0, 0);
    for f in &files {
        let t = read_json(f);
        // Go's zero value for an absent field; u64 unless negative.
        let int = |k: &str| -> Result<u64, i64> {
            match &t[k] {
                serde_json::Value::Null => Ok(0),
                x => x.as_u64().ok_or_else(|| x.as_i64().unwrap()),
            }
        };
        let proof: Vec<Vec<u8>> = t["proof"]
            .as_array()
            .map(|a| a.iter().map(b64).collect())
            .unwrap_or_default();
        let (leaf, root) = (b64(&t["leafHash"]), b64(&t["root"]));
        // Negative indexes or sizes cannot be expressed as u64: such a probe is
        // rejected before it reaches the verifier.
        let verdict = match (int("leafIdx"), int("treeSize")) {
            (Ok(i), Ok(n)) => verify_inclusion(&leaf, i, n, &proof, &root),
            _ => Err(Error::IndexOutOfRange { index: 0, size: 0 }),
        };
        if t["wantErr"] == true {
            assert!(verdict.is_err(), "{} ({}) accepted", f.display(), t["desc"]);
            invalid += 1;
        } else {
            verdict.unwrap_or_else(|e| panic!("{} ({}): {e}", f.display(), t["desc"]));
            valid += 1;
        }
    }
    assert_eq!((valid, invalid), (6, 92), "every probe file was read");
}

#[test]
fn empty_root_and_leaf_is_rejected_by_length() {
    // A verifier comparing only "recomputed == given" accepts this one.
    let t = read_json(&shared().join(
        "conformance/merkle/transparency-dev/testdata/inclusion/single-entry/empty-root-and-leaf.json",
    ));
    let r = verify_inclusion(
        &b64(&t["leafHash"]),
        0,
        1,
        &[] as &[&[u8]],
        &b64(&t["root"]),
    );
    assert_eq!(r, Err(Error::HashLength { got: 0 }));
}

#[test]
fn reference_tree() {
    let v = read_json(&shared().join("conformance/merkle/rfc6962_reference_tree.json"));
    let inputs: Vec<Vec<u8>> = v["leaf_inputs_hex"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| unhex(h.as_str().unwrap()))
        .collect();
    let leaves: Vec<[u8; 32]> = inputs.iter().map(|d| leaf_hash(d)).collect();
    for (l, want) in leaves.iter().zip(v["leaf_hashes_hex"].as_array().unwrap()) {
        assert_eq!(hex(l), want.as_str().unwrap());
    }
    for (n, want) in v["root_by_tree_size_hex"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        let mut b = RootBuilder::<8>::new();
        for l in &leaves[..n] {
            b.push(*l).unwrap();
        }
        assert_eq!(hex(&b.root()), want.as_str().unwrap(), "size {n}");
    }
    assert_eq!(
        hex(&empty_root()),
        v["hasher_checks"][0]["want"].as_str().unwrap()
    );
    assert_eq!(
        hex(&leaf_hash(b"L123456")),
        v["hasher_checks"][1]["want"].as_str().unwrap()
    );
    let _ = node_hash;

    let mut n = 0;
    let published = v["inclusion_proofs"].as_array().unwrap();
    let derived = v["derived_all_inclusion_proofs"]["cases"]
        .as_array()
        .unwrap();
    for p in published.iter().chain(derived) {
        let index = p["leaf_index_0based"].as_u64().unwrap();
        let size = p["tree_size"].as_u64().unwrap();
        let path: Vec<Vec<u8>> = p["audit_path_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| unhex(h.as_str().unwrap()))
            .collect();
        let leaf = unhex(p["leaf_hash_hex"].as_str().unwrap());
        let root = unhex(p["root_hex"].as_str().unwrap());
        verify_inclusion(&leaf, index, size, &path, &root).unwrap_or_else(|e| panic!("{p}: {e}"));
        assert_eq!(
            root_from_inclusion_proof(&leaf, index, size, &path)
                .unwrap()
                .to_vec(),
            root
        );
        n += 1;
    }
    assert_eq!(n, published.len() + 36);
    for p in v["inclusion_proofs_ct_merkle_extra"].as_array().unwrap() {
        let index = p["leaf_index_0based"].as_u64().unwrap();
        let size = p["tree_size"].as_u64().unwrap();
        let concat = unhex(p["audit_path_concat_hex"].as_str().unwrap());
        let path: Vec<&[u8]> = concat.chunks(32).collect();
        let leaf = leaves[usize::try_from(index).unwrap()];
        verify_inclusion(
            &leaf,
            index,
            size,
            &path,
            &unhex(p["root_hex"].as_str().unwrap()),
        )
        .unwrap();
    }
}
