//! Input and output helpers for the CLI and tests.

use armoriq_core::{Error, Sink};
use std::io::Read;
use std::path::Path;

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

/// Reads a whole file, or standard input for `-` or no path.
///
/// # Errors
/// The I/O error, with the path in its message.
pub fn read_input(path: Option<&Path>) -> std::io::Result<Vec<u8>> {
    match path {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read(p)
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", p.display()))),
    }
}

fn read_stdin() -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    std::io::stdin().lock().read_to_end(&mut buf)?;
    Ok(buf)
}
