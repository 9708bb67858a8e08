//! Inclusion proofs for plan steps (SPEC §3), generated with RFC 9162 §2.1.3.1
//! `PATH(m, D[n])`, and their JSON form.

use armoriq_core::hex;
use armoriq_core::merkle::{HASH_LEN, empty_root, node_hash};
use armoriq_core::plan::{PlanDigest, PlanHasher, StepPath};
use armoriq_core::{Error, Profile};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

type Hash = [u8; HASH_LEN];

/// Which side a sibling sits on when it is hashed with the running value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Position {
    /// `node_hash(sibling, running)`.
    Left,
    /// `node_hash(running, sibling)`.
    Right,
}

/// One sibling in ArmorIQ's `proof` form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofEntry {
    /// Where the sibling sits.
    pub position: Position,
    /// Lowercase hex of the sibling hash.
    pub sibling_hash: String,
}

/// A step proof as SPEC §3 writes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepProof {
    /// `/steps/[i]`.
    pub path: String,
    /// Leaf index.
    pub index: u64,
    /// Number of leaves (steps).
    pub tree_size: u64,
    /// Lowercase hex of `SHA-256(0x00 ‖ canonical(step))` (optional on input:
    /// the verifier recomputes it from the step).
    #[serde(default)]
    pub leaf_hash: String,
    /// Sibling hashes, leaf to root.
    #[serde(default)]
    pub siblings: Vec<String>,
    /// The same siblings with their sides, for ArmorIQ consumers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proof: Vec<ProofEntry>,
}

/// Everything `armoriq plan hash` reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanHashes {
    /// Lowercase hex SHA-256 of the canonical plan.
    pub plan_hash: String,
    /// Lowercase hex RFC 9162 root over the canonical steps.
    pub merkle_root: String,
    /// `/steps/[0]`, `/steps/[1]`, …
    pub ordered_paths: Vec<String>,
    /// One proof per step, in order.
    pub step_proofs: Vec<StepProof>,
}

/// Lowercase hex of a digest.
#[must_use]
pub fn hex32(h: &Hash) -> String {
    String::from_utf8_lossy(&hex::encode32(h)).into_owned()
}

/// Merkle tree hashes over a list of leaf hashes, with subtree roots memoized
/// so that proofs for every leaf cost O(n log n) hashes in all.
#[derive(Debug)]
pub struct Tree<'l> {
    leaves: &'l [Hash],
    memo: HashMap<(usize, usize), Hash>,
}

impl<'l> Tree<'l> {
    /// A tree over `leaves` (already leaf-hashed).
    #[must_use]
    pub fn new(leaves: &'l [Hash]) -> Self {
        Self {
            leaves,
            memo: HashMap::new(),
        }
    }

    /// `MTH(D[lo:hi])` (RFC 9162 §2.1.1).
    pub fn mth(&mut self, lo: usize, hi: usize) -> Hash {
        match hi - lo {
            0 => empty_root(),
            1 => self.leaves[lo],
            n => {
                if let Some(h) = self.memo.get(&(lo, hi)) {
                    return *h;
                }
                let k = split(n);
                let h = node_hash(&self.mth(lo, lo + k), &self.mth(lo + k, hi));
                self.memo.insert((lo, hi), h);
                h
            }
        }
    }

    /// The root over all leaves.
    pub fn root(&mut self) -> Hash {
        self.mth(0, self.leaves.len())
    }

    /// `PATH(m, D[n])` (RFC 9162 §2.1.3.1): siblings leaf to root, with sides.
    ///
    /// # Panics
    /// If `m` is not below the number of leaves.
    pub fn path(&mut self, m: usize) -> Vec<(Position, Hash)> {
        assert!(m < self.leaves.len(), "leaf index out of range");
        let mut out = Vec::new();
        self.path_in(m, 0, self.leaves.len(), &mut out);
        out
    }

    fn path_in(&mut self, m: usize, lo: usize, hi: usize, out: &mut Vec<(Position, Hash)>) {
        let n = hi - lo;
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path_in(m, lo, lo + k, out);
            out.push((Position::Right, self.mth(lo + k, hi)));
        } else {
            self.path_in(m - k, lo + k, hi, out);
            out.push((Position::Left, self.mth(lo, lo + k)));
        }
    }
}

/// The largest power of two smaller than `n` (n ≥ 2).
fn split(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Validates and hashes a plan and builds every step's proof.
///
/// # Errors
/// The core's [`Error`] for an invalid plan.
pub fn plan_hashes(input: &[u8], profile: Profile) -> Result<(PlanDigest, PlanHashes), Error> {
    let mut hasher = PlanHasher::<32, 1024, { armoriq_core::plan::DEFAULT_MAX_STEPS }>::new();
    let mut leaves: Vec<Hash> = Vec::new();
    let digest = hasher.digest_with(input, profile, |_, leaf| leaves.push(*leaf))?;
    let mut tree = Tree::new(&leaves);
    debug_assert_eq!(tree.root(), digest.merkle_root);
    let n = leaves.len() as u64;
    let step_proofs = (0..leaves.len())
        .map(|i| {
            let path = tree.path(i);
            StepProof {
                path: StepPath(i).to_string(),
                index: i as u64,
                tree_size: n,
                leaf_hash: hex32(&leaves[i]),
                siblings: path.iter().map(|(_, h)| hex32(h)).collect(),
                proof: path
                    .iter()
                    .map(|(p, h)| ProofEntry {
                        position: *p,
                        sibling_hash: hex32(h),
                    })
                    .collect(),
            }
        })
        .collect();
    let hashes = PlanHashes {
        plan_hash: hex32(&digest.plan_hash),
        merkle_root: hex32(&digest.merkle_root),
        ordered_paths: (0..leaves.len()).map(|i| StepPath(i).to_string()).collect(),
        step_proofs,
    };
    Ok((digest, hashes))
}
