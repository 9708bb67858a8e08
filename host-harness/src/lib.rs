//! `armoriq-host`: the std side of armoriq-rs.
//!
//! * [`proofs`]: RFC 9162 inclusion-proof generation for plan steps, and the
//!   JSON shapes of SPEC §3 (`step_proofs`).
//! * [`keys`]: key generation, signing, public-key loading in every encoding
//!   the official SDK accepts.
//! * [`backend`]: the aws-lc-rs signature backend used on hosts by default.
//! * [`io`]: small helpers shared by the CLI (input reading, output sinks).
//!
//! Verification lives in `armoriq-core`; this crate adds what needs a heap.

pub mod backend;
pub mod client;
pub mod device;
pub mod gateway;
pub mod io;
pub mod keys;
pub mod proofs;
pub mod time;
