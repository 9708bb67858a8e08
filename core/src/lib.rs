//! `armoriq-core`: the allocation-free heart of the ArmorIQ intent-assurance loop.
//!
//! * [`canon`]: canonical JSON in the `armoriq` (Python `json.dumps`) and `jcs`
//!   (RFC 8785) profiles, streamed into a hasher.
//! * [`plan`]: the plan model, `plan_hash`, `merkle_root`, step leaves.
//! * [`merkle`]: RFC 9162 tree hashing and inclusion proofs.
//! * [`json`]: the strict RFC 8259 reader everything above is built on.
//! * [`hex`]: lowercase hex for digests.
//! * [`sig`], [`keys`], [`b64`], [`jws`]: signature backends, trusted keys,
//!   strict base64url and compact JWS/JWT verification (ES256, EdDSA).
//! * [`csrg`]: the ArmorIQ CSRG token object.
//! * [`verify`]: the one-call invocation check.
//! * [`receipt`]: the verifier device's signed receipts (SPEC §7).
//! * [`counter`]: the receipt counter that survives restarts (block reservations).
//!
//! `#![no_std]`, no `alloc` even behind a feature, `forbid(unsafe_code)`. Limits (depth,
//! members, steps) are const generics; exhausting one is an [`Error`] variant
//! of its own. No public function panics on any input.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::as_conversions,
        clippy::arithmetic_side_effects,
        clippy::missing_errors_doc
    )
)]

pub mod b64;
pub mod calendar;
pub mod canon;
pub mod counter;
pub mod csrg;
pub mod decimal;
pub mod error;
pub mod hex;
pub mod json;
pub mod jws;
pub mod keys;
pub mod merkle;
mod number;
pub mod plan;
pub mod receipt;
pub mod sig;
pub mod verify;

pub use canon::{Canonicalizer, Profile, Sink, SliceSink, canonical_sha256, canonicalize};
pub use error::{Error, ErrorKind};
pub use merkle::{leaf_hash, node_hash, root_from_inclusion_proof, verify_inclusion};
pub use plan::{Plan, PlanDigest, PlanHasher, StepPath};
pub use sig::{Alg, Backend, RustCrypto};
pub use verify::{
    Call, ClaimAt, SignedIntent, StepProof, VerifiedStep, verify_invocation, verify_step,
    verify_token,
};
