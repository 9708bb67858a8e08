//! Canonical bytes into a growable buffer (the core streams into a [`Sink`];
//! std callers want a `Vec`).

use armoriq_core::{Error, Sink};

/// A growable sink for canonical bytes.
#[derive(Debug, Default, Clone)]
pub struct VecSink(pub Vec<u8>);

impl Sink for VecSink {
    fn write(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.0.extend_from_slice(bytes);
        Ok(())
    }
}

/// Canonical bytes of `input` in `profile`, with the core's default limits.
///
/// # Errors
/// The core's [`Error`] for any defect of the input.
pub fn canonical_bytes(input: &[u8], profile: armoriq_core::Profile) -> Result<Vec<u8>, Error> {
    let mut sink = VecSink(Vec::with_capacity(input.len()));
    armoriq_core::canonicalize(input, profile, &mut sink)?;
    Ok(sink.0)
}
