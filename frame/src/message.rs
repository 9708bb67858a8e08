//! The messages: requests, responses and what they carry.

use crate::{DEVICE_ID_LEN, FrameErrorCode, HASH_LEN, MAX_DEVICE_KEY_LEN};

/// One invocation to check: the token, the call and the step with its proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifyRequest<'a> {
    /// The verifier's clock, seconds since the Unix epoch.
    pub now: i64,
    /// The compact JWS intent token.
    pub token: &'a [u8],
    /// The MCP server the call goes to.
    pub mcp: &'a str,
    /// The tool invoked.
    pub action: &'a str,
    /// The call's params (JSON object text), if any.
    pub params: Option<&'a [u8]>,
    /// The step's JSON text.
    pub step: &'a [u8],
    /// The step's index in the plan.
    pub index: u64,
    /// The tree size the proof is for.
    pub tree_size: u64,
    /// Sibling hashes, leaf to root.
    pub siblings: &'a [[u8; HASH_LEN]],
}

/// The signature algorithm of a [`Request::BareVerify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alg {
    /// ES256 (P-256).
    Es256,
    /// EdDSA (Ed25519).
    EdDsa,
}

/// A host → device message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// Check one invocation.
    Verify(VerifyRequest<'a>),
    /// Report the device's counters.
    Stats,
    /// Verify only the signature of `token` with the first trusted key of
    /// `alg` (no parsing of header or claims): the baseline of the benchmark.
    BareVerify {
        /// Which trusted key to use.
        alg: Alg,
        /// A compact JWS.
        token: &'a [u8],
    },
    /// Report the device's identity and receipt key (revision 2).
    DeviceInfo,
    /// Check one invocation and sign a receipt when it is accepted
    /// (revision 2).
    VerifyReceipt(VerifyRequest<'a>),
    /// Sign `msg` with `key` (ECDSA P-256 / SHA-256, RFC 6979 nonce): test
    /// images only (revision 3).
    SignVector {
        /// The private scalar, big-endian.
        key: [u8; 32],
        /// The message (hashed by the device).
        msg: &'a [u8],
    },
}

/// The surface class of a rejection (SPEC §5 exceptions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum RejectKind {
    /// The input was not usable.
    InvalidInput = 1,
    /// The call does not match the signed plan, or the proof does not verify.
    IntentMismatch = 2,
    /// The token is malformed, badly signed or untrusted.
    InvalidToken = 3,
    /// The token's validity window does not contain `now`.
    TokenExpired = 4,
}

impl RejectKind {
    /// The name used on every surface.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::InvalidInput => "InvalidInput",
            Self::IntentMismatch => "IntentMismatch",
            Self::InvalidToken => "InvalidToken",
            Self::TokenExpired => "TokenExpired",
        }
    }

    pub(crate) fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::InvalidInput,
            2 => Self::IntentMismatch,
            3 => Self::InvalidToken,
            4 => Self::TokenExpired,
            _ => return None,
        })
    }
}

/// What an accepted call was verified against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The step's index.
    pub index: u64,
    /// The signed step count.
    pub step_count: u64,
    /// The token's expiry.
    pub exp: i64,
    /// The signed plan hash.
    pub plan_hash: [u8; HASH_LEN],
    /// The signed Merkle root.
    pub merkle_root: [u8; HASH_LEN],
    /// The step's leaf hash.
    pub leaf_hash: [u8; HASH_LEN],
    /// SysTick ticks the check took (instruction-proportional under QEMU `-icount`).
    pub ticks: u32,
}

/// A refused call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected<'a> {
    /// The surface class.
    pub kind: RejectKind,
    /// The precise error's stable name (`BadSignature`, `RootMismatch`, …).
    pub error: &'a str,
    /// SysTick ticks the check took.
    pub ticks: u32,
}

/// The device's counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stats {
    /// Frames answered so far (this one excluded).
    pub served: u32,
    /// Of those, frames that did not decode.
    pub frame_errors: u32,
    /// Deepest stack use seen since boot, in bytes (stack painting).
    pub stack_peak: u32,
    /// Stack bytes available (painted at boot).
    pub stack_size: u32,
    /// Number of trusted keys provisioned.
    pub keys: u32,
}

/// A device → host message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// The call passed every check.
    Accepted(Accepted),
    /// The call was refused.
    Rejected(Rejected<'a>),
    /// The request frame did not decode.
    FrameError(FrameErrorCode),
    /// Answer to [`Request::Stats`].
    Stats(Stats),
    /// Answer to [`Request::BareVerify`].
    BareVerify {
        /// Whether the signature verified.
        ok: bool,
        /// SysTick ticks the verification took.
        ticks: u32,
    },
    /// Answer to [`Request::DeviceInfo`].
    DeviceInfo(DeviceInfo),
    /// Answer to an accepted [`Request::VerifyReceipt`]: the verdict and the
    /// signed receipt (a refusal is [`Response::Rejected`]).
    Receipted {
        /// The verdict.
        accepted: Accepted,
        /// The receipt: body and signature (SPEC §7), [`RECEIPT_LEN`] or
        /// (revision 2) [`RECEIPT_V1_LEN`] bytes.
        receipt: &'a [u8],
        /// SysTick ticks the receipt took (hashes and signature).
        sign_ticks: u32,
    },
    /// Answer to [`Request::SignVector`]: the signature `r ‖ s`.
    Signed {
        /// `r ‖ s`, big-endian.
        signature: [u8; 64],
        /// SysTick ticks signing took.
        ticks: u32,
    },
}

/// A device's receipt-signing algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceKeyAlg {
    /// Ed25519: a 32-byte public key.
    Ed25519,
    /// ECDSA P-256: a 65-byte uncompressed SEC1 public key.
    Es256,
}

impl DeviceKeyAlg {
    /// Length of a public key of this algorithm.
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Self::Ed25519 => 32,
            Self::Es256 => 65,
        }
    }
}

/// The device's identity (answer to [`Request::DeviceInfo`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeviceInfo {
    /// The request set the firmware serves ([`PROTOCOL_REVISION`]).
    pub revision: u8,
    /// The receipt algorithm (Ed25519 before revision 3).
    pub alg: DeviceKeyAlg,
    /// The device's receipt public key: its first [`DeviceKeyAlg::key_len`]
    /// bytes ([`DeviceInfo::key`]), zeros after.
    pub public_key: [u8; MAX_DEVICE_KEY_LEN],
    /// The device id: the first 16 bytes of SHA-256 of the public key.
    pub device_id: [u8; DEVICE_ID_LEN],
    /// The counter of the last receipt signed (0: none yet).
    pub counter: u64,
    /// The device's boot number (0: no lasting counter; before revision 3).
    pub boot: u32,
}

impl DeviceInfo {
    /// The public key's bytes.
    #[must_use]
    pub fn key(&self) -> &[u8] {
        self.public_key
            .get(..self.alg.key_len())
            .unwrap_or_default()
    }
}

pub(crate) const STATUS_ACCEPTED: u8 = 0;
pub(crate) const STATUS_REJECTED: u8 = 1;
pub(crate) const STATUS_FRAME_ERROR: u8 = 2;
pub(crate) const STATUS_STATS: u8 = 3;
pub(crate) const STATUS_BARE: u8 = 4;
pub(crate) const STATUS_DEVICE_INFO: u8 = 5;
pub(crate) const STATUS_RECEIPTED: u8 = 6;
pub(crate) const STATUS_SIGNED: u8 = 7;

/// Longest error name a [`Rejected`] carries.
pub const MAX_ERROR_NAME: usize = 64;
