//! The one error type of the core, and the kinds it maps to.
//!
//! Every defect found in untrusted input is its own variant, carrying the facts a
//! person needs to find it (byte offsets into the input, step indexes, limits).
//! Higher layers (gateway, SDK, CLI) map [`Error::kind`] to their own surfaces:
//! HTTP statuses, SDK exceptions and exit codes, each in one table.

use core::fmt;

/// Which surface-level class an [`Error`] belongs to.
///
/// The SDK exceptions `InvalidToken`, `TokenExpired` and `IntentMismatch` are the
/// kinds an invocation check can end in (SPEC §5); `InvalidInput` covers data a
/// caller handed in that is not a well-formed document or plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The JSON text or the plan given is malformed or outside the configured limits.
    InvalidInput,
    /// The call does not match the signed plan, or the step's proof does not verify.
    IntentMismatch,
    /// The token is malformed, badly signed, or signed by an untrusted key.
    InvalidToken,
    /// The token's validity window does not contain `now`.
    TokenExpired,
}

impl ErrorKind {
    /// The name used on every surface (CLI stderr, gateway JSON, SDK exception).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::IntentMismatch => "IntentMismatch",
            Self::InvalidToken => "InvalidToken",
            Self::TokenExpired => "TokenExpired",
        }
    }
}

/// Every way the core can reject its input.
///
/// Offsets (`at`) are byte offsets into the input buffer handed to the function
/// that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Error {
    // ----- JSON text (RFC 8259, parsed strictly) -----
    /// The input ended inside a value.
    UnexpectedEnd {
        /// Offset of the end of input.
        at: usize,
    },
    /// A byte that cannot start or continue the value being read.
    UnexpectedByte {
        /// Offset of the byte.
        at: usize,
    },
    /// Non-whitespace bytes after the top-level value.
    TrailingData {
        /// Offset of the first trailing byte.
        at: usize,
    },
    /// A string holds bytes that are not UTF-8 (RFC 3629: overlong forms,
    /// encoded surrogates and code points above U+10FFFF included).
    InvalidUtf8 {
        /// Offset of the first byte of the bad sequence.
        at: usize,
    },
    /// A raw control character (U+0000..U+001F) inside a string (RFC 8259 §7).
    ControlInString {
        /// Offset of the control byte.
        at: usize,
    },
    /// A backslash escape that RFC 8259 §7 does not define.
    InvalidEscape {
        /// Offset of the backslash.
        at: usize,
    },
    /// A `\uD800`–`\uDFFF` escape that is not half of a valid surrogate pair.
    LoneSurrogate {
        /// Offset of the backslash of the unpaired escape.
        at: usize,
    },
    /// A number that does not follow the RFC 8259 §6 grammar (leading zeros,
    /// a bare `.` or `e`, a `+` sign).
    InvalidNumber {
        /// Offset of the first byte of the number.
        at: usize,
    },
    /// `NaN`, `Infinity` or `-Infinity`: not JSON, though Python writes them.
    NonFiniteNumber {
        /// Offset of the literal.
        at: usize,
    },
    /// A number whose value overflows an IEEE 754 double (e.g. `1e400`), so it
    /// has no canonical form.
    NumberOutOfRange {
        /// Offset of the first byte of the number.
        at: usize,
    },
    /// The same key twice in one object (RFC 8785 §3.1 requires rejecting it;
    /// Python keeps the last one silently).
    DuplicateKey {
        /// Offset of the second occurrence's opening quote.
        at: usize,
    },
    /// Arrays and objects nested deeper than the configured limit.
    DepthLimit {
        /// Offset of the `[` or `{` that went over the limit.
        at: usize,
        /// The limit in force.
        limit: usize,
    },
    /// More object members held at once than the configured scratch allows.
    MemberLimit {
        /// Offset of the member's key that did not fit.
        at: usize,
        /// The limit in force.
        limit: usize,
    },
    /// The input is longer than the core's offsets can address.
    InputTooLarge {
        /// The input's length.
        len: usize,
        /// The largest length accepted.
        limit: usize,
    },
    /// The caller's output buffer is too small for the canonical bytes.
    OutputFull {
        /// The buffer's capacity.
        capacity: usize,
    },

    // ----- Plans (SPEC §2) -----
    /// The plan is not a JSON object.
    PlanNotObject,
    /// The plan has no `steps` member.
    StepsMissing,
    /// `steps` is not an array.
    StepsNotArray,
    /// `steps` is an empty array.
    StepsEmpty,
    /// More steps than the configured limit.
    StepLimit {
        /// The limit in force.
        limit: usize,
    },
    /// A step is not a JSON object.
    StepNotObject {
        /// Index of the step.
        step: usize,
    },
    /// A required step field is absent.
    StepFieldMissing {
        /// Index of the step.
        step: usize,
        /// Name of the field (`action` or `mcp`).
        field: &'static str,
    },
    /// A step field that must be a string is not one.
    StepFieldNotString {
        /// Index of the step.
        step: usize,
        /// Name of the field.
        field: &'static str,
    },
    /// A step field that must be a non-empty string is empty.
    StepFieldEmpty {
        /// Index of the step.
        step: usize,
        /// Name of the field.
        field: &'static str,
    },
    /// A step's `params` is present but not an object.
    ParamsNotObject {
        /// Index of the step.
        step: usize,
    },

    // ----- Merkle proofs (RFC 9162 §2.1.3) -----
    /// `index >= tree_size`: no such leaf (RFC 9162 §2.1.3.2 step 1).
    IndexOutOfRange {
        /// The leaf index given.
        index: u64,
        /// The tree size given.
        size: u64,
    },
    /// The proof has the wrong number of hashes for `(index, tree_size)`.
    ProofLength {
        /// The number of hashes the tree shape requires.
        expected: usize,
        /// The number of hashes given.
        got: usize,
    },
    /// A leaf, sibling or root hash is not exactly 32 bytes.
    HashLength {
        /// The length given.
        got: usize,
    },
    /// The root recomputed from the proof differs from the expected root.
    RootMismatch,
    /// A hex string is not lowercase or uppercase hex of the expected length.
    InvalidHex,

    // ----- Tokens (RFC 7515 JWS, RFC 7519 JWT, the ArmorIQ CSRG token) -----
    /// Not base64url as RFC 7515 §2 uses it: padding, a character outside the
    /// alphabet, an impossible length, or non-zero trailing bits.
    Base64 {
        /// Offset in the token of the segment holding the defect.
        at: usize,
    },
    /// Not three non-empty dot-separated segments (RFC 7515 §7.1).
    TokenMalformed,
    /// A decoded segment exceeds its configured limit.
    TokenTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The protected header is not a strict JSON object with string `alg`.
    HeaderMalformed,
    /// A member appears twice in the protected header (RFC 7515 §4 says such
    /// a header must be rejected or only the last taken; we reject).
    DuplicateHeaderMember,
    /// `alg` is `none` (RFC 7518 §3.6): never accepted.
    AlgNone,
    /// `alg` names an algorithm this verifier does not implement.
    AlgUnsupported,
    /// `alg` differs from the algorithm of the key that verifies the token:
    /// the key decides, the header only has to agree.
    AlgMismatch,
    /// `crit` lists an extension this verifier does not understand (RFC 7515 §4.1.11).
    CritUnsupported,
    /// `crit` is present but empty or not an array of strings (RFC 7515 §4.1.11).
    CritMalformed,
    /// The header's `kid` names no trusted key.
    UnknownKid,
    /// No trusted key can verify this algorithm.
    NoMatchingKey,
    /// The signature does not verify. Deliberately says nothing more.
    BadSignature,
    /// The claims are not a strict JSON object, or a claim repeats.
    ClaimsMalformed,
    /// A required claim is absent.
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// A claim has the wrong type or form (e.g. `exp` not a number, a digest
    /// not 64 hex characters).
    InvalidClaim {
        /// The claim's name.
        claim: &'static str,
    },
    /// `now` is past `exp` plus leeway.
    Expired {
        /// The caller's time.
        now: i64,
        /// The token's `exp`.
        exp: i64,
    },
    /// `now` is before `nbf` minus leeway.
    NotYetValid {
        /// The caller's time.
        now: i64,
        /// The token's `nbf`.
        nbf: i64,
    },
    /// `iat` is further in the future than the leeway allows.
    IssuedInFuture {
        /// The caller's time.
        now: i64,
        /// The token's `iat`.
        iat: i64,
    },
    /// `aud` does not contain the expected audience.
    AudienceMismatch,
    /// `iss` is not the expected issuer.
    IssuerMismatch,
    /// A key could not be parsed (bad JWK, wrong length, point not on the curve).
    KeyInvalid,
    /// The fixed-capacity key set is full.
    KeySetFull {
        /// Its capacity.
        capacity: usize,
    },
    /// The proof is for a tree of another size than the token's `step_count`.
    StepCountMismatch {
        /// `step_count` signed in the token.
        signed: u64,
        /// `tree_size` of the proof.
        proof: u64,
    },
    /// The invoked call differs from the signed step in one field.
    CallMismatch {
        /// `mcp`, `action` or `params`.
        field: &'static str,
    },
    /// The invoked call or the step is not usable JSON of the right shape.
    StepMalformed,

    // ----- Device receipts (SPEC §7) -----
    /// A receipt is not [`crate::receipt::RECEIPT_LEN`] (or, version 1,
    /// [`crate::receipt::RECEIPT_V1_LEN`]) bytes or its body's magic,
    /// algorithm or verdict byte is wrong.
    ReceiptMalformed,
    /// A receipt names another device than the enrolled key's.
    ReceiptDeviceMismatch,
    /// A receipt's counter skips values: receipts are missing in between.
    ReceiptCounterGap {
        /// The counter that was due.
        expected: u64,
        /// The counter found.
        found: u64,
    },
    /// A receipt's counter is not above the previous one: a replayed or
    /// repeated receipt (or a device whose counter went back).
    ReceiptCounterRepeat {
        /// The previous counter.
        previous: u64,
        /// The counter found.
        found: u64,
    },
    /// The device's lasting receipt counter cannot go on: its reservation
    /// records are used up or unreadable ([`crate::counter`]).
    ReceiptCounterExhausted,
}

impl Error {
    /// The surface-level class of this error.
    #[must_use]
    pub const fn kind(&self) -> ErrorKind {
        match self {
            Self::IndexOutOfRange { .. }
            | Self::ProofLength { .. }
            | Self::HashLength { .. }
            | Self::RootMismatch
            | Self::StepCountMismatch { .. }
            | Self::CallMismatch { .. }
            | Self::StepMalformed => ErrorKind::IntentMismatch,
            Self::Expired { .. } => ErrorKind::TokenExpired,
            Self::Base64 { .. }
            | Self::TokenMalformed
            | Self::TokenTooLarge { .. }
            | Self::HeaderMalformed
            | Self::DuplicateHeaderMember
            | Self::AlgNone
            | Self::AlgUnsupported
            | Self::AlgMismatch
            | Self::CritUnsupported
            | Self::CritMalformed
            | Self::UnknownKid
            | Self::NoMatchingKey
            | Self::BadSignature
            | Self::ClaimsMalformed
            | Self::MissingClaim { .. }
            | Self::InvalidClaim { .. }
            | Self::NotYetValid { .. }
            | Self::IssuedInFuture { .. }
            | Self::AudienceMismatch
            | Self::IssuerMismatch
            | Self::KeyInvalid
            | Self::KeySetFull { .. } => ErrorKind::InvalidToken,
            _ => ErrorKind::InvalidInput,
        }
    }

    /// A short stable name for the variant, as printed by the CLI.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::UnexpectedEnd { .. } => "UnexpectedEnd",
            Self::UnexpectedByte { .. } => "UnexpectedByte",
            Self::TrailingData { .. } => "TrailingData",
            Self::InvalidUtf8 { .. } => "InvalidUtf8",
            Self::ControlInString { .. } => "ControlInString",
            Self::InvalidEscape { .. } => "InvalidEscape",
            Self::LoneSurrogate { .. } => "LoneSurrogate",
            Self::InvalidNumber { .. } => "InvalidNumber",
            Self::NonFiniteNumber { .. } => "NonFiniteNumber",
            Self::NumberOutOfRange { .. } => "NumberOutOfRange",
            Self::DuplicateKey { .. } => "DuplicateKey",
            Self::DepthLimit { .. } => "DepthLimit",
            Self::MemberLimit { .. } => "MemberLimit",
            Self::InputTooLarge { .. } => "InputTooLarge",
            Self::OutputFull { .. } => "OutputFull",
            Self::PlanNotObject => "PlanNotObject",
            Self::StepsMissing => "StepsMissing",
            Self::StepsNotArray => "StepsNotArray",
            Self::StepsEmpty => "StepsEmpty",
            Self::StepLimit { .. } => "StepLimit",
            Self::StepNotObject { .. } => "StepNotObject",
            Self::StepFieldMissing { .. } => "StepFieldMissing",
            Self::StepFieldNotString { .. } => "StepFieldNotString",
            Self::StepFieldEmpty { .. } => "StepFieldEmpty",
            Self::ParamsNotObject { .. } => "ParamsNotObject",
            Self::IndexOutOfRange { .. } => "IndexOutOfRange",
            Self::ProofLength { .. } => "ProofLength",
            Self::HashLength { .. } => "HashLength",
            Self::RootMismatch => "RootMismatch",
            Self::InvalidHex => "InvalidHex",
            Self::Base64 { .. } => "Base64",
            Self::TokenMalformed => "TokenMalformed",
            Self::TokenTooLarge { .. } => "TokenTooLarge",
            Self::HeaderMalformed => "HeaderMalformed",
            Self::DuplicateHeaderMember => "DuplicateHeaderMember",
            Self::AlgNone => "AlgNone",
            Self::AlgUnsupported => "AlgUnsupported",
            Self::AlgMismatch => "AlgMismatch",
            Self::CritUnsupported => "CritUnsupported",
            Self::CritMalformed => "CritMalformed",
            Self::UnknownKid => "UnknownKid",
            Self::NoMatchingKey => "NoMatchingKey",
            Self::BadSignature => "BadSignature",
            Self::ClaimsMalformed => "ClaimsMalformed",
            Self::MissingClaim { .. } => "MissingClaim",
            Self::InvalidClaim { .. } => "InvalidClaim",
            Self::Expired { .. } => "Expired",
            Self::NotYetValid { .. } => "NotYetValid",
            Self::IssuedInFuture { .. } => "IssuedInFuture",
            Self::AudienceMismatch => "AudienceMismatch",
            Self::IssuerMismatch => "IssuerMismatch",
            Self::KeyInvalid => "KeyInvalid",
            Self::KeySetFull { .. } => "KeySetFull",
            Self::StepCountMismatch { .. } => "StepCountMismatch",
            Self::CallMismatch { .. } => "CallMismatch",
            Self::StepMalformed => "StepMalformed",
            Self::ReceiptMalformed => "ReceiptMalformed",
            Self::ReceiptDeviceMismatch => "ReceiptDeviceMismatch",
            Self::ReceiptCounterGap { .. } => "ReceiptCounterGap",
            Self::ReceiptCounterRepeat { .. } => "ReceiptCounterRepeat",
            Self::ReceiptCounterExhausted => "ReceiptCounterExhausted",
        }
    }

    /// The byte offset into the input at which a JSON defect was found, if the
    /// error is one of those.
    #[must_use]
    pub const fn offset(&self) -> Option<usize> {
        match *self {
            Self::UnexpectedEnd { at }
            | Self::UnexpectedByte { at }
            | Self::TrailingData { at }
            | Self::InvalidUtf8 { at }
            | Self::ControlInString { at }
            | Self::InvalidEscape { at }
            | Self::LoneSurrogate { at }
            | Self::InvalidNumber { at }
            | Self::NonFiniteNumber { at }
            | Self::NumberOutOfRange { at }
            | Self::DuplicateKey { at }
            | Self::DepthLimit { at, .. }
            | Self::MemberLimit { at, .. } => Some(at),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::UnexpectedEnd { at } => write!(f, "input ends inside a value at byte {at}"),
            Self::UnexpectedByte { at } => write!(f, "unexpected byte at byte {at}"),
            Self::TrailingData { at } => write!(f, "trailing data after the value at byte {at}"),
            Self::InvalidUtf8 { at } => write!(f, "invalid UTF-8 at byte {at}"),
            Self::ControlInString { at } => {
                write!(f, "raw control character in a string at byte {at}")
            }
            Self::InvalidEscape { at } => write!(f, "invalid escape at byte {at}"),
            Self::LoneSurrogate { at } => write!(f, "lone surrogate escape at byte {at}"),
            Self::InvalidNumber { at } => write!(f, "malformed number at byte {at}"),
            Self::NonFiniteNumber { at } => {
                write!(f, "NaN or Infinity is not JSON, at byte {at}")
            }
            Self::NumberOutOfRange { at } => {
                write!(f, "number overflows an IEEE 754 double at byte {at}")
            }
            Self::DuplicateKey { at } => write!(f, "duplicate object key at byte {at}"),
            Self::DepthLimit { at, limit } => {
                write!(f, "nesting deeper than {limit} at byte {at}")
            }
            Self::MemberLimit { at, limit } => {
                write!(
                    f,
                    "more than {limit} object members held at once, at byte {at}"
                )
            }
            Self::InputTooLarge { len, limit } => {
                write!(f, "input of {len} bytes exceeds the limit of {limit}")
            }
            Self::OutputFull { capacity } => {
                write!(f, "output buffer of {capacity} bytes is too small")
            }
            Self::PlanNotObject => f.write_str("plan must be a JSON object"),
            Self::StepsMissing => f.write_str("plan must contain a 'steps' member"),
            Self::StepsNotArray => f.write_str("plan 'steps' must be an array"),
            Self::StepsEmpty => f.write_str("plan 'steps' must not be empty"),
            Self::StepLimit { limit } => write!(f, "plan has more than {limit} steps"),
            Self::StepNotObject { step } => write!(f, "steps[{step}] must be an object"),
            Self::StepFieldMissing { step, field } => {
                write!(f, "steps[{step}] has no '{field}'")
            }
            Self::StepFieldNotString { step, field } => {
                write!(f, "steps[{step}].{field} must be a string")
            }
            Self::StepFieldEmpty { step, field } => {
                write!(f, "steps[{step}].{field} must not be empty")
            }
            Self::ParamsNotObject { step } => {
                write!(f, "steps[{step}].params must be an object")
            }
            Self::IndexOutOfRange { index, size } => {
                write!(f, "leaf index {index} is not below tree size {size}")
            }
            Self::ProofLength { expected, got } => {
                write!(f, "proof has {got} hashes, the tree shape needs {expected}")
            }
            Self::HashLength { got } => write!(f, "hash of {got} bytes, expected 32"),
            Self::RootMismatch => f.write_str("proof does not lead to the expected root"),
            Self::InvalidHex => f.write_str("invalid hex string"),
            Self::Base64 { at } => write!(f, "invalid base64url in the segment at byte {at}"),
            Self::TokenMalformed => {
                f.write_str("token is not three non-empty dot-separated segments")
            }
            Self::TokenTooLarge { limit } => write!(f, "token segment exceeds {limit} bytes"),
            Self::HeaderMalformed => {
                f.write_str("protected header is not a JSON object with a string alg")
            }
            Self::DuplicateHeaderMember => f.write_str("protected header repeats a member"),
            Self::AlgNone => f.write_str("alg none is never accepted"),
            Self::AlgUnsupported => f.write_str("alg is not supported"),
            Self::AlgMismatch => f.write_str("alg does not match the key's algorithm"),
            Self::CritUnsupported => f.write_str("crit names an unsupported extension"),
            Self::CritMalformed => f.write_str("crit must be a non-empty array of strings"),
            Self::UnknownKid => f.write_str("kid names no trusted key"),
            Self::NoMatchingKey => f.write_str("no trusted key for this algorithm"),
            Self::BadSignature => f.write_str("bad signature"),
            Self::ClaimsMalformed => {
                f.write_str("claims are not a JSON object with distinct members")
            }
            Self::MissingClaim { claim } => write!(f, "missing claim '{claim}'"),
            Self::InvalidClaim { claim } => write!(f, "claim '{claim}' has the wrong type or form"),
            Self::Expired { now, exp } => write!(f, "token expired at {exp} (now {now})"),
            Self::NotYetValid { now, nbf } => write!(f, "token not valid before {nbf} (now {now})"),
            Self::IssuedInFuture { now, iat } => {
                write!(f, "token issued in the future at {iat} (now {now})")
            }
            Self::AudienceMismatch => f.write_str("audience does not match"),
            Self::IssuerMismatch => f.write_str("issuer does not match"),
            Self::KeyInvalid => f.write_str("key is not a valid public key"),
            Self::KeySetFull { capacity } => write!(f, "key set is full ({capacity} keys)"),
            Self::StepCountMismatch { signed, proof } => {
                write!(f, "proof is for {proof} steps, the token signed {signed}")
            }
            Self::CallMismatch { field } => {
                write!(f, "invoked {field} differs from the signed step")
            }
            Self::StepMalformed => f.write_str("step or invoked call is not usable JSON"),
            Self::ReceiptMalformed => {
                f.write_str("receipt is malformed (length, magic or verdict)")
            }
            Self::ReceiptDeviceMismatch => {
                f.write_str("receipt names another device than the enrolled key's")
            }
            Self::ReceiptCounterGap { expected, found } => write!(
                f,
                "receipt counter {found} where {expected} was due: receipts are missing"
            ),
            Self::ReceiptCounterRepeat { previous, found } => write!(
                f,
                "receipt counter {found} is not above the previous {previous}: repeated receipt"
            ),
            Self::ReceiptCounterExhausted => {
                f.write_str("the device's receipt counter cannot go on (reservations used up)")
            }
        }
    }
}

impl core::error::Error for Error {}
