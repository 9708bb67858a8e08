//! Input helpers for the CLI.

use std::io::Read;
use std::path::Path;

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
