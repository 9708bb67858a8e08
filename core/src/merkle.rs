//! RFC 9162 §2.1 Merkle tree hashing and inclusion-proof verification.
//!
//! Names follow the RFC and transparency-dev/merkle: [`leaf_hash`] and
//! [`node_hash`] are `MTH` of one leaf and of two children (prefixes `0x00` and
//! `0x01`, §2.1.1), [`root_from_inclusion_proof`] is §2.1.3.2's algorithm and
//! [`verify_inclusion`] compares its result with the expected root. Nothing here
//! allocates; every function validates index, size and hash lengths before any
//! hashing and never panics.

use crate::error::Error;
use sha2::{Digest, Sha256};

/// Size of every hash in the tree (SHA-256).
pub const HASH_LEN: usize = 32;

/// `MTH({d})` = `SHA-256(0x00 ‖ d)` (RFC 9162 §2.1.1).
#[must_use]
pub fn leaf_hash(data: &[u8]) -> [u8; HASH_LEN] {
    let mut h = leaf_hasher();
    h.update(data);
    h.finalize().into()
}

/// A SHA-256 state already fed the leaf prefix `0x00`, for streaming a leaf's
/// bytes into it.
#[must_use]
pub fn leaf_hasher() -> Sha256 {
    let mut h = Sha256::new();
    h.update([0x00]);
    h
}

/// `SHA-256(0x01 ‖ left ‖ right)` (RFC 9162 §2.1.1).
#[must_use]
pub fn node_hash(left: &[u8; HASH_LEN], right: &[u8; HASH_LEN]) -> [u8; HASH_LEN] {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// `MTH({})` = `SHA-256("")`, the root of the empty tree.
#[must_use]
pub fn empty_root() -> [u8; HASH_LEN] {
    Sha256::digest([]).into()
}

/// Computes the root over leaf hashes pushed one at a time, in O(log n) memory:
/// a stack of the roots of the perfect subtrees seen so far, merged as in
/// RFC 9162 §2.1.1 (split at the largest power of two below n, no duplicated
/// odd node). `LEVELS` bounds the tree to `2^LEVELS - 1` leaves (32 levels:
/// 1 KiB of state).
#[derive(Clone, Debug)]
pub struct RootBuilder<const LEVELS: usize = 32> {
    stack: [[u8; HASH_LEN]; LEVELS],
    depth: usize,
    count: u64,
}

impl<const LEVELS: usize> Default for RootBuilder<LEVELS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const LEVELS: usize> RootBuilder<LEVELS> {
    const LEVELS_OK: () = assert!(LEVELS > 0 && LEVELS < 64, "1..=63 levels");

    /// An empty tree.
    #[must_use]
    pub const fn new() -> Self {
        let () = Self::LEVELS_OK;
        Self {
            stack: [[0; HASH_LEN]; LEVELS],
            depth: 0,
            count: 0,
        }
    }

    /// Number of leaves pushed.
    #[must_use]
    pub const fn len(&self) -> u64 {
        self.count
    }

    /// Whether no leaf was pushed.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Appends the next leaf hash.
    ///
    /// # Errors
    /// [`Error::StepLimit`] when the tree already holds `2^LEVELS - 1` leaves.
    pub fn push(&mut self, leaf: [u8; HASH_LEN]) -> Result<(), Error> {
        let max = 1u64
            .wrapping_shl(u32::try_from(LEVELS).unwrap_or(63))
            .wrapping_sub(1);
        if self.count >= max {
            return Err(Error::StepLimit {
                limit: usize::try_from(max).unwrap_or(usize::MAX),
            });
        }
        let slot = self
            .stack
            .get_mut(self.depth)
            .ok_or(Error::StepLimit { limit: LEVELS })?;
        *slot = leaf;
        self.depth = self.depth.saturating_add(1);
        self.count = self.count.saturating_add(1);
        // Each trailing zero bit of the new count closes one perfect subtree.
        let mut m = self.count;
        while m & 1 == 0 && self.depth >= 2 {
            let (Some(&l), Some(&r)) = (
                self.stack.get(self.depth.saturating_sub(2)),
                self.stack.get(self.depth.saturating_sub(1)),
            ) else {
                break;
            };
            self.depth = self.depth.saturating_sub(1);
            if let Some(top) = self.stack.get_mut(self.depth.saturating_sub(1)) {
                *top = node_hash(&l, &r);
            }
            m = m.wrapping_shr(1);
        }
        Ok(())
    }

    /// The root over the leaves pushed so far (the empty root when none).
    #[must_use]
    pub fn root(&self) -> [u8; HASH_LEN] {
        let mut it = self
            .stack
            .get(..self.depth)
            .unwrap_or_default()
            .iter()
            .rev();
        let Some(&last) = it.next() else {
            return empty_root();
        };
        it.fold(last, |acc, left| node_hash(left, &acc))
    }
}

/// Splits the proof length for `(index, size)` into the part inside the perfect
/// subtree holding the leaf and the border to its right (transparency-dev
/// `decompInclProof`). Requires `index < size`.
fn decomp_incl_proof(index: u64, size: u64) -> (usize, usize) {
    let inner = u64::BITS.saturating_sub((index ^ size.wrapping_sub(1)).leading_zeros());
    let border = index.checked_shr(inner).unwrap_or(0).count_ones();
    let widen = |v: u32| usize::try_from(v).unwrap_or(usize::MAX);
    (widen(inner), widen(border))
}

/// The number of hashes an inclusion proof for `index` in a tree of `size`
/// leaves has.
///
/// # Errors
/// [`Error::IndexOutOfRange`] when `index >= size`.
pub fn inclusion_proof_len(index: u64, size: u64) -> Result<usize, Error> {
    if index >= size {
        return Err(Error::IndexOutOfRange { index, size });
    }
    let (inner, border) = decomp_incl_proof(index, size);
    Ok(inner.saturating_add(border))
}

fn as_hash(h: &[u8]) -> Result<&[u8; HASH_LEN], Error> {
    h.try_into().map_err(|_| Error::HashLength { got: h.len() })
}

/// RFC 9162 §2.1.3.2: the root that `proof` leads to from `leaf_hash` at
/// `index` in a tree of `size` leaves. Checks, before any hashing, that
/// `index < size`, that the leaf and every sibling are 32 bytes and that the
/// proof has exactly the length the tree shape requires. Never panics.
///
/// # Errors
/// [`Error::IndexOutOfRange`], [`Error::HashLength`], [`Error::ProofLength`].
pub fn root_from_inclusion_proof<H: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[H],
) -> Result<[u8; HASH_LEN], Error> {
    let expected = inclusion_proof_len(index, size)?;
    let leaf = as_hash(leaf_hash)?;
    if proof.len() != expected {
        return Err(Error::ProofLength {
            expected,
            got: proof.len(),
        });
    }
    for p in proof {
        as_hash(p.as_ref())?;
    }
    let (inner, _) = decomp_incl_proof(index, size);
    let mut r = *leaf;
    for (i, p) in proof.iter().enumerate() {
        let p = as_hash(p.as_ref())?;
        r = if i < inner {
            // Inside the leaf's perfect subtree: the index bit says which side we are on.
            let bit = index
                .checked_shr(u32::try_from(i).unwrap_or(u32::MAX))
                .unwrap_or(0)
                & 1;
            if bit == 0 {
                node_hash(&r, p)
            } else {
                node_hash(p, &r)
            }
        } else {
            // The border: every remaining sibling is a left subtree.
            node_hash(p, &r)
        };
    }
    Ok(r)
}

/// Compares two hashes without an early exit.
#[must_use]
pub fn ct_eq(a: &[u8; HASH_LEN], b: &[u8; HASH_LEN]) -> bool {
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}

/// RFC 9162 §2.1.3.2: verifies that `leaf_hash` is the leaf at `index` of the
/// tree of `size` leaves whose root is `root`. Never panics.
///
/// # Errors
/// As [`root_from_inclusion_proof`], plus [`Error::HashLength`] for a root
/// that is not 32 bytes and [`Error::RootMismatch`] when the proof leads
/// elsewhere.
pub fn verify_inclusion<H: AsRef<[u8]>>(
    leaf_hash: &[u8],
    index: u64,
    size: u64,
    proof: &[H],
    root: &[u8],
) -> Result<(), Error> {
    let root = as_hash(root)?;
    let got = root_from_inclusion_proof(leaf_hash, index, size, proof)?;
    if ct_eq(&got, root) {
        Ok(())
    } else {
        Err(Error::RootMismatch)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
    use super::*;

    /// Recursive RFC 9162 MTH, the definition itself.
    fn mth(leaves: &[[u8; 32]]) -> [u8; 32] {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
                node_hash(&mth(&leaves[..k]), &mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn builder_matches_definition() {
        let leaves: [[u8; 32]; 70] = core::array::from_fn(|i| leaf_hash(&[i as u8]));
        for n in 0..leaves.len() {
            let mut b = RootBuilder::<8>::new();
            for l in &leaves[..n] {
                assert_eq!(b.push(*l), Ok(()));
            }
            assert_eq!(b.root(), mth(&leaves[..n]), "n={n}");
        }
    }

    #[test]
    fn builder_limit() {
        let mut b = RootBuilder::<2>::new();
        for _ in 0..3 {
            assert_eq!(b.push([0; 32]), Ok(()));
        }
        assert_eq!(b.push([0; 32]), Err(Error::StepLimit { limit: 3 }));
    }
}
