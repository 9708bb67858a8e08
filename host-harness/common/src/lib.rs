//! `armoriq-common`: what the client and the gateway share, and nothing else.
//!
//! * [`keys`]: key generation, signing, public-key loading in every encoding
//!   the official SDK accepts, PEM files.
//! * [`backend`]: the host signature backend (aws-lc-rs for ES256).
//! * [`proofs`]: RFC 9162 inclusion-proof generation for plan steps, and the
//!   JSON shapes of SPEC §3 (`step_proofs`).
//! * [`canonical`]: canonical bytes into a `Vec`.
//! * [`time`]: the clock and UTC timestamps as the protocol writes them.
//! * [`yaml`]: `armoriq.yaml` in the official layout, and `$VAR` references.
//!
//! Verification lives in `armoriq-core`; this crate adds what needs a heap.

pub mod backend;
pub mod canonical;
pub mod keys;
pub mod proofs;
pub mod time;
pub mod yaml;
