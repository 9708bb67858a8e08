//! `armoriq plan hash` and `armoriq plan verify-step`.

use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, ProfileArg, fail, fail_core};
use crate::io::read_input;
use armoriq_common::proofs::{Position, StepProof, plan_hashes};
use armoriq_core::plan::PlanHasher;
use armoriq_core::{hex, merkle};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `armoriq plan …`
#[derive(clap::Subcommand, Debug)]
pub enum PlanCommand {
    /// Print {"plan_hash","merkle_root","ordered_paths","step_proofs"} of a plan.
    Hash {
        /// Canonical form the hashes are taken over.
        #[arg(long, value_enum, default_value_t = ProfileArg::Armoriq)]
        profile: ProfileArg,
        /// Plan JSON file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Check that a step is in the plan whose Merkle root is given:
    /// exit 0 when it is, 1 when it is not, 2 on bad input.
    VerifyStep {
        /// Lowercase hex Merkle root (64 characters).
        #[arg(long)]
        merkle_root: String,
        /// A step proof as `plan hash` prints it.
        #[arg(long)]
        proof: PathBuf,
        /// The step's JSON.
        #[arg(long)]
        step: PathBuf,
        /// The tree size the plan was signed with (the token's `step_count`);
        /// a proof for another size is rejected. RFC 9162 paths alone do not
        /// bind the size (index 0 of 3 and of 4 leaves share a path).
        #[arg(long)]
        tree_size: Option<u64>,
        /// Canonical form the tree was built over.
        #[arg(long, value_enum, default_value_t = ProfileArg::Armoriq)]
        profile: ProfileArg,
    },
}

/// Runs `armoriq plan …`.
pub fn run(c: PlanCommand) -> ExitCode {
    match c {
        PlanCommand::Hash { profile, file } => hash(profile, file),
        PlanCommand::VerifyStep {
            merkle_root,
            proof,
            step,
            tree_size,
            profile,
        } => verify_step(&merkle_root, &proof, &step, tree_size, profile),
    }
}

fn hash(profile: ProfileArg, file: Option<PathBuf>) -> ExitCode {
    let input = match read_input(file.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    match plan_hashes(&input, profile.into()) {
        Ok((_, hashes)) => match serde_json::to_string(&hashes) {
            Ok(s) => {
                println!("{s}");
                ExitCode::SUCCESS
            }
            Err(e) => fail(e, EXIT_BAD_INPUT),
        },
        Err(e) => fail_core(&e, EXIT_BAD_INPUT),
    }
}

fn decode_hash(what: &str, text: &str) -> Result<[u8; 32], String> {
    hex::decode::<32>(text.as_bytes())
        .map_err(|_| format!("{what} must be 64 hex characters, got {text:?}"))
}

fn verify_step(
    root: &str,
    proof: &Path,
    step: &Path,
    tree_size: Option<u64>,
    profile: ProfileArg,
) -> ExitCode {
    let root = match decode_hash("--merkle-root", root) {
        Ok(r) => r,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let proof_bytes = match read_input(Some(proof)) {
        Ok(b) => b,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let proof: StepProof = match serde_json::from_slice(&proof_bytes) {
        Ok(p) => p,
        Err(e) => {
            return fail(
                format!("{}: not a step proof: {e}", proof.display()),
                EXIT_BAD_INPUT,
            );
        }
    };
    if let Some(n) = tree_size
        && n != proof.tree_size
    {
        eprintln!(
            "not in tree: the proof is for {} steps, the plan has {n}",
            proof.tree_size
        );
        return ExitCode::from(EXIT_REJECTED);
    }
    let step_bytes = match read_input(Some(step)) {
        Ok(b) => b,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let leaf = match PlanHasher::<32, 1024, 1024>::new().leaf_hash(&step_bytes, profile.into()) {
        Ok(l) => l,
        Err(e) => return fail_core(&e, EXIT_BAD_INPUT),
    };
    // The siblings, from either form; when both are given they must agree.
    let mut siblings = Vec::with_capacity(proof.siblings.len());
    for s in &proof.siblings {
        match decode_hash("a sibling", s) {
            Ok(h) => siblings.push(h),
            Err(e) => return fail(e, EXIT_BAD_INPUT),
        }
    }
    if !proof.proof.is_empty() {
        let mut from_entries = Vec::with_capacity(proof.proof.len());
        for e in &proof.proof {
            match decode_hash("a sibling_hash", &e.sibling_hash) {
                Ok(h) => from_entries.push((e.position, h)),
                Err(e) => return fail(e, EXIT_BAD_INPUT),
            }
        }
        if siblings.is_empty() {
            siblings = from_entries.iter().map(|(_, h)| *h).collect();
        } else if from_entries
            .iter()
            .map(|(_, h)| *h)
            .ne(siblings.iter().copied())
        {
            return fail("proof: 'siblings' and 'proof' disagree", EXIT_BAD_INPUT);
        }
        // Sides are implied by (index, tree_size); a proof whose stated sides
        // contradict them does not prove this leaf.
        let implied = implied_positions(proof.index, proof.tree_size, siblings.len());
        if let Some(implied) = implied
            && implied.iter().ne(from_entries.iter().map(|(p, _)| p))
        {
            eprintln!("not in tree: sibling positions contradict index and tree_size");
            return ExitCode::from(EXIT_REJECTED);
        }
    }
    if !proof.leaf_hash.is_empty() {
        match decode_hash("leaf_hash", &proof.leaf_hash) {
            Ok(h) if h == leaf => {}
            Ok(_) => {
                eprintln!("not in tree: the step's leaf hash differs from the proof's leaf_hash");
                return ExitCode::from(EXIT_REJECTED);
            }
            Err(e) => return fail(e, EXIT_BAD_INPUT),
        }
    }
    match merkle::verify_inclusion(&leaf, proof.index, proof.tree_size, &siblings, &root) {
        Ok(()) => {
            println!(
                "ok: {} is step {} of {}",
                proof.path, proof.index, proof.tree_size
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail_core(&e, EXIT_REJECTED),
    }
}

/// Sibling sides that `(index, size)` implies, when the proof has the right length.
fn implied_positions(index: u64, size: u64, len: usize) -> Option<Vec<Position>> {
    let expected = merkle::inclusion_proof_len(index, size).ok()?;
    if expected != len {
        return None;
    }
    let inner = (u64::BITS - (index ^ (size - 1)).leading_zeros()) as usize;
    Some(
        (0..len)
            .map(|i| {
                if i < inner && (index >> i) & 1 == 0 {
                    Position::Right
                } else {
                    Position::Left
                }
            })
            .collect(),
    )
}
