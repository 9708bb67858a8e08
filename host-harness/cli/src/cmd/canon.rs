//! `armoriq canon`: canonical bytes of a JSON document.

use crate::cmd::{EXIT_BAD_INPUT, ProfileArg, fail, fail_core};
use crate::io::read_input;
use armoriq_common::canonical::canonical_bytes;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `armoriq canon`.
#[derive(clap::Args, Debug)]
pub struct CanonArgs {
    /// Canonical form to produce.
    #[arg(long, value_enum, default_value_t = ProfileArg::Armoriq)]
    profile: ProfileArg,
    /// JSON file to read; `-` or nothing reads standard input.
    file: Option<PathBuf>,
}

/// Runs `armoriq canon`.
pub fn run(a: &CanonArgs) -> ExitCode {
    let input = match read_input(a.file.as_deref()) {
        Ok(b) => b,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    match canonical_bytes(&input, a.profile.into()) {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if let Err(e) = stdout.write_all(&out).and_then(|()| stdout.flush()) {
                return fail(e, EXIT_BAD_INPUT);
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail_core(&e, EXIT_BAD_INPUT),
    }
}
