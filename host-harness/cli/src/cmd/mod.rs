//! Subcommands. Exit codes are one table for the whole CLI:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success (the document was canonicalized, the step is in the tree, the token is valid) |
//! | 1 | a well-formed check said no (step not in the tree, token rejected) |
//! | 2 | unusable input or arguments (bad JSON, invalid plan, unreadable file) |

pub mod canon;
pub mod client;
pub mod demo;
pub mod device;
pub mod gateway;
pub mod init;
pub mod keys;
pub mod plan;
pub mod policy;
pub mod store;
pub mod token;
pub mod usage;

use armoriq_core::Error;
use std::process::ExitCode;

/// Exit code for a check that said no.
pub const EXIT_REJECTED: u8 = 1;
/// Exit code for unusable input or arguments.
pub const EXIT_BAD_INPUT: u8 = 2;

/// Prints a core error as one line, `error: <kind>: <Variant>: <message>`, and
/// returns `code`.
pub fn fail_core(e: &Error, code: u8) -> ExitCode {
    eprintln!("error: {}: {}: {e}", e.kind().as_str(), e.name());
    ExitCode::from(code)
}

/// Prints any other failure as one line and returns `code`.
pub fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(code)
}

/// The `--profile` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default)]
pub enum ProfileArg {
    /// Python json.dumps(sort_keys=True, separators=(",",":"), ensure_ascii=True).
    #[default]
    Armoriq,
    /// RFC 8785 JSON Canonicalization Scheme.
    Jcs,
}

impl From<ProfileArg> for armoriq_core::Profile {
    fn from(p: ProfileArg) -> Self {
        match p {
            ProfileArg::Armoriq => Self::ArmorIq,
            ProfileArg::Jcs => Self::Jcs,
        }
    }
}
