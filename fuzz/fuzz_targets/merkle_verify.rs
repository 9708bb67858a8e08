//! Inclusion-proof verification: never panics on any shape of input, and never
//! accepts a proof whose recomputed root differs from the given one.
#![no_main]
use armoriq_core::merkle::{root_from_inclusion_proof, verify_inclusion};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 18 {
        return;
    }
    let (head, rest) = data.split_at(18);
    let index = u64::from_le_bytes(head[..8].try_into().unwrap()) % 4096;
    let size = u64::from_le_bytes(head[8..16].try_into().unwrap()) % 4096;
    let leaf_len = usize::from(head[16] % 40);
    let root_len = usize::from(head[17] % 40);
    let (leaf, rest) = rest.split_at(leaf_len.min(rest.len()));
    let (root, rest) = rest.split_at(root_len.min(rest.len()));
    let proof: Vec<&[u8]> = rest.chunks(32).collect();
    let verdict = verify_inclusion(leaf, index, size, &proof, root);
    if verdict.is_ok() {
        let r = root_from_inclusion_proof(leaf, index, size, &proof).unwrap();
        assert_eq!(&r[..], root);
    }
});
