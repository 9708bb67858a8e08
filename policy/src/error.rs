//! Evaluation errors. Each variant is named after the exception class the
//! reference (`armoriq-policy-ir` 0.1.3) raises for the same problem.

use std::fmt;

/// Why a policy could not be evaluated. Callers must treat every error as
/// `block` ([`crate::evaluate_or_block`] does that and keeps the reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EvalError {
    /// A `regex` / `notRegex` pattern outside the JS-portable subset
    /// (reference: `armoriq_policy_ir.jsregex.NotPortable`).
    NotPortable(String),
    /// A time that is not the strict ISO-8601 form the reference accepts
    /// (reference: `armoriq_policy_ir.jstime.UnsupportedTime`).
    UnsupportedTime(String),
    /// No document is bound, or a local time falls just outside the
    /// representable range (reference: `ValueError`).
    ValueError(String),
    /// A required field is missing, or an effect / op is not one of the known
    /// names (reference: `KeyError` from a dictionary look-up).
    KeyError(String),
    /// A field has the wrong JSON type (reference: `TypeError` /
    /// `AttributeError`, raised lazily there, at load time here).
    TypeError(String),
    /// A portable pattern that Python's `re` still rejects: a reversed
    /// character range or `{n,m}` with `n > m` (reference: `re.error`).
    ReError(String),
    /// A repetition count of 2^32-1 or more, or a local time past year 9999
    /// (reference: `OverflowError`).
    OverflowError(String),
    /// A pattern nested too deeply for the reference's recursive translator
    /// (reference: `RecursionError`).
    RecursionError(String),
    /// Rust-only: a pattern whose compiled form would exceed the evaluator's
    /// size budget (huge `{n}` counts). The reference would evaluate it; this
    /// evaluator fails closed instead of allocating without bound.
    ResourceLimit(String),
}

impl EvalError {
    /// The reference's exception class name (`"NotPortable"`, `"re.error"`, ...).
    pub fn class_name(&self) -> &'static str {
        match self {
            Self::NotPortable(_) => "NotPortable",
            Self::UnsupportedTime(_) => "UnsupportedTime",
            Self::ValueError(_) => "ValueError",
            Self::KeyError(_) => "KeyError",
            Self::TypeError(_) => "TypeError",
            Self::ReError(_) => "re.error",
            Self::OverflowError(_) => "OverflowError",
            Self::RecursionError(_) => "RecursionError",
            Self::ResourceLimit(_) => "ResourceLimit",
        }
    }

    /// The human-readable reason.
    pub fn reason(&self) -> &str {
        match self {
            Self::NotPortable(r)
            | Self::UnsupportedTime(r)
            | Self::ValueError(r)
            | Self::KeyError(r)
            | Self::TypeError(r)
            | Self::ReError(r)
            | Self::OverflowError(r)
            | Self::RecursionError(r)
            | Self::ResourceLimit(r) => r,
        }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.class_name(), self.reason())
    }
}

impl std::error::Error for EvalError {}
