//! Shared helpers for the integration tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use armoriq_core::Error;
use armoriq_core::canon::{Canonicalizer, Profile, Sink};
use std::path::PathBuf;

/// `shared/` beside the checkout, or `$ARMORIQ_SHARED`.
pub fn shared() -> PathBuf {
    let p = std::env::var_os("ARMORIQ_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")));
    assert!(
        p.join("conformance").is_dir(),
        "conformance suites not found at {} (set ARMORIQ_SHARED)",
        p.display()
    );
    p
}

pub struct VecSink(pub Vec<u8>);

impl Sink for VecSink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Canonical bytes with generous limits.
pub fn canon(input: &[u8], profile: Profile) -> Result<Vec<u8>, Error> {
    let mut s = VecSink(Vec::new());
    Canonicalizer::<64, 4096>::new().canonicalize(input, profile, &mut s)?;
    Ok(s.0)
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

pub fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

pub fn sha256_hex(b: &[u8]) -> String {
    use sha2::Digest;
    hex(&sha2::Sha256::digest(b))
}

pub fn read_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}
