//! A node of a plan's Merkle tree named by a step range (`subtree_path`),
//! and its inclusion proof to the plan's root: what `delegate_subtree`
//! answers. The tree over the nodes of one level (blocks of `2^k` steps, the
//! last one possibly shorter) is the RFC 9162 tree over the steps (its split
//! points are multiples of `2^k`), so the core's `verify_inclusion(node,
//! index, count, siblings, root)` checks a node as it checks a leaf.

use crate::error::{GatewayError, GwResult};
use armoriq_common::proofs::Tree;

/// `/steps/[i]` or `/steps/[lo..hi]` (inclusive) as `(lo, hi)`.
///
/// # Errors
/// `BadRequest` for any other text.
pub fn parse_subtree_path(p: &str) -> GwResult<(u64, u64)> {
    let bad = || {
        GatewayError::BadRequest(format!(
            "subtreePath must be /steps/[i] or /steps/[lo..hi], not {p:?}"
        ))
    };
    let inner = p
        .strip_prefix("/steps/[")
        .and_then(|r| r.strip_suffix(']'))
        .ok_or_else(bad)?;
    let num = |s: &str| -> GwResult<u64> {
        if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        s.parse().map_err(|_| bad())
    };
    let (lo, hi) = match inner.split_once("..") {
        Some((a, b)) => (num(a)?, num(b)?),
        None => {
            let i = num(inner)?;
            (i, i)
        }
    };
    if lo > hi {
        return Err(bad());
    }
    Ok((lo, hi))
}

/// A node of the plan's Merkle tree covering steps `lo..=hi`, and its
/// inclusion proof to the root.
#[derive(Debug, PartialEq, Eq)]
pub struct SubtreeNode {
    /// The node's hash.
    pub hash: [u8; 32],
    /// Its index among the nodes of its level.
    pub index: u64,
    /// The number of nodes of its level (the tree size to verify with).
    pub count: u64,
    /// Sibling hashes, node to root.
    pub siblings: Vec<[u8; 32]>,
}

/// The node of the RFC 9162 tree over `leaves` that covers exactly
/// `lo..=hi`: `2^k` leaves from a multiple of `2^k` (or the last, shorter
/// block), where `2^k` is the least power of two not below the range's
/// size. The tree over a level's nodes is the tree over the leaves, so the
/// node's path verifies with `verify_inclusion(hash, index, count, …)`.
///
/// # Errors
/// `BadRequest` for a range that is not one node.
pub fn subtree_node(leaves: &[[u8; 32]], lo: u64, hi: u64) -> GwResult<SubtreeNode> {
    let n = leaves.len() as u64;
    if hi >= n {
        return Err(GatewayError::BadRequest(format!(
            "subtree /steps/[{lo}..{hi}] is outside the plan's {n} steps"
        )));
    }
    let size = hi - lo + 1;
    let block = size.next_power_of_two();
    if !lo.is_multiple_of(block) || (size != block && hi != n - 1) {
        return Err(GatewayError::BadRequest(format!(
            "/steps/[{lo}..{hi}] is not one node of the plan's Merkle tree \
             (a node covers 2^k steps from a multiple of 2^k, or the last ones)"
        )));
    }
    let count = n.div_ceil(block);
    let mut full = Tree::new(leaves);
    let blocks: Vec<[u8; 32]> = (0..count)
        .map(|b| {
            let from = (b * block) as usize;
            let to = ((b + 1) * block).min(n) as usize;
            full.mth(from, to)
        })
        .collect();
    let index = lo / block;
    let mut tree = Tree::new(&blocks);
    let siblings = tree
        .path(index as usize)
        .into_iter()
        .map(|(_, h)| h)
        .collect();
    Ok(SubtreeNode {
        hash: blocks[index as usize],
        index,
        count,
        siblings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: usize) -> Vec<[u8; 32]> {
        (0..n)
            .map(|i| armoriq_core::leaf_hash(format!("{{\"i\":{i}}}").as_bytes()))
            .collect()
    }

    #[test]
    fn every_subtree_node_verifies_with_the_core_against_the_root() {
        for n in 1..=13usize {
            let l = leaves(n);
            let root = Tree::new(&l).root();
            let mut nodes = 0;
            for lo in 0..n as u64 {
                for hi in lo..n as u64 {
                    let Ok(node) = subtree_node(&l, lo, hi) else {
                        continue;
                    };
                    nodes += 1;
                    armoriq_core::verify_inclusion(
                        &node.hash,
                        node.index,
                        node.count,
                        &node.siblings,
                        &root,
                    )
                    .unwrap();
                    // The node is the MTH of exactly its steps.
                    let part = &l[lo as usize..=hi as usize];
                    assert_eq!(node.hash, Tree::new(part).root());
                    // A wrong index does not verify.
                    if node.count > 1 {
                        assert!(
                            armoriq_core::verify_inclusion(
                                &node.hash,
                                (node.index + 1) % node.count,
                                node.count,
                                &node.siblings,
                                &root,
                            )
                            .is_err()
                        );
                    }
                }
            }
            assert!(nodes >= n, "n={n}: every leaf is a node");
        }
        assert!(subtree_node(&leaves(4), 1, 2).is_err());
        assert!(subtree_node(&leaves(4), 0, 4).is_err());
    }

    #[test]
    fn subtree_paths_parse_strictly() {
        assert_eq!(parse_subtree_path("/steps/[3]").unwrap(), (3, 3));
        assert_eq!(parse_subtree_path("/steps/[0..3]").unwrap(), (0, 3));
        for bad in [
            "/steps/[3..1]",
            "/steps/[]",
            "/steps/[a]",
            "steps/[1]",
            "/steps/[-1]",
            "/steps/[1..]",
        ] {
            assert!(parse_subtree_path(bad).is_err(), "{bad}");
        }
    }
}
