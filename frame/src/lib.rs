//! `armoriq-frame`: the framed request/response codec between a host and the
//! armoriq verifier firmware, shared by both sides.
//!
//! # Wire format
//!
//! Every message is one frame:
//!
//! ```text
//! +------+------+---------+------+-------------+---------+-----------+
//! | 'A'  | 'Q'  | version | type | len (u32LE) | payload | crc32(LE) |
//! +------+------+---------+------+-------------+---------+-----------+
//!   0      1       2        3      4..8          8..8+len  4 bytes
//! ```
//!
//! The CRC is CRC-32/ISO-HDLC (the zlib / Ethernet CRC) over `version`, `type`,
//! `len` and the payload. Integers are little-endian. Variable-length fields in
//! payloads are a `u16` length followed by the bytes.
//!
//! A **verify request** (type [`TYPE_VERIFY`]) carries, in order: `now` (i64),
//! the step's `index` and `tree_size` (u64 each), the token, the call's `mcp`
//! and `action` (UTF-8), a presence byte and then the call's params JSON, the
//! step JSON, and a count byte followed by that many 32-byte sibling hashes.
//!
//! A **verify-with-receipt request** (type [`TYPE_VERIFY_RECEIPT`]) has the
//! verify request's payload; an accepted call is answered with
//! [`Response::Receipted`]: the verdict and the device's signed receipt
//! ([`RECEIPT_LEN`] bytes, SPEC §7; [`RECEIPT_V1_LEN`] from a revision-2
//! firmware). A **device-info request** (type [`TYPE_DEVICE_INFO`], empty
//! payload) is answered with [`Response::DeviceInfo`]: the protocol
//! revision, the receipt algorithm (revision 3), the device's public key,
//! its id, its receipt counter and (revision 3) its boot number. A
//! **sign-vector request** (type [`TYPE_SIGN_VECTOR`], revision 3, served by
//! test images only) asks for an RFC 6979 ECDSA P-256 / SHA-256 signature of
//! a message with a key it carries, for the RFC's test vectors.
//!
//! **Versioning.** The frame `version` byte stays 1: new requests are new
//! frame types, and [`PROTOCOL_REVISION`] (carried by the device-info
//! answer) names the set a firmware serves. Firmware that predates a type
//! answers it with [`Response::FrameError`] ([`FrameErrorCode::UnknownType`]
//! with the type byte), never silence: revision 1 is verify, stats and bare
//! verify; revision 2 adds device info and verify-with-receipt; revision 3
//! adds the receipt's algorithm and boot to the device info, receipts of
//! body version 2, and the sign-vector request.
//!
//! A **response** (type [`TYPE_RESPONSE`]) starts with a status byte; see
//! [`Response`].
//!
//! Decoding never panics: any byte string either decodes or yields a typed
//! [`DecodeError`]. The largest payload a decoder accepts is an explicit const
//! generic (`MAX`), and [`Receiver`] reassembles frames from a byte stream into
//! a fixed buffer (`CAP` bytes, header and checksum included).
//!
//! `#![no_std]`, no `alloc`, `forbid(unsafe_code)`.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod crc;
mod wire;

pub use crc::crc32;
use wire::{Reader, Writer};

/// The two magic bytes every frame starts with.
pub const MAGIC: [u8; 2] = *b"AQ";
/// The wire-format version this crate speaks.
pub const VERSION: u8 = 1;
/// Bytes before the payload: magic, version, type, length.
pub const HEADER_LEN: usize = 8;
/// Bytes after the payload: the CRC-32.
pub const TRAILER_LEN: usize = 4;
/// Header plus trailer.
pub const OVERHEAD: usize = HEADER_LEN + TRAILER_LEN;
/// Length of one Merkle sibling hash.
pub const HASH_LEN: usize = 32;
/// Most sibling hashes a verify request can carry (a tree of 2^64 leaves).
pub const MAX_SIBLINGS: usize = 64;

/// Frame type: verify one invocation (host → device).
pub const TYPE_VERIFY: u8 = 0x01;
/// Frame type: ask for the device's counters (host → device).
pub const TYPE_STATS: u8 = 0x02;
/// Frame type: verify only a token's signature, for benchmarks (host → device).
pub const TYPE_BARE_VERIFY: u8 = 0x03;
/// Frame type: report the device's identity and receipt key (host → device;
/// protocol revision 2).
pub const TYPE_DEVICE_INFO: u8 = 0x04;
/// Frame type: verify one invocation and sign a receipt when it is accepted
/// (host → device; protocol revision 2).
pub const TYPE_VERIFY_RECEIPT: u8 = 0x05;
/// Frame type: sign a message with a key the request carries, ECDSA P-256 /
/// SHA-256 with an RFC 6979 nonce (host → device; revision 3, test images
/// only: RFC 6979's vectors).
pub const TYPE_SIGN_VECTOR: u8 = 0x06;
/// The request set this crate speaks: 1 (verify, stats, bare verify), 2
/// (adds device info and verify-with-receipt), 3 (receipt algorithm and boot
/// in the device info, version-2 receipts, sign-vector).
pub const PROTOCOL_REVISION: u8 = 3;
/// Length of a signed receipt of body version 2 (SPEC §7) with its 64-byte
/// signature (Ed25519, or ES256's `r ‖ s`).
pub const RECEIPT_LEN: usize = RECEIPT_BODY_LEN + 64;
/// Length of a version-2 receipt's signed body (SPEC §7).
pub const RECEIPT_BODY_LEN: usize = 130;
/// Length of a version-1 receipt (revision-2 firmware: 125-byte body and an
/// Ed25519 signature).
pub const RECEIPT_V1_LEN: usize = 125 + 64;
/// Length of the longest device public key (an uncompressed P-256 point).
pub const MAX_DEVICE_KEY_LEN: usize = 65;
/// Length of a device id.
pub const DEVICE_ID_LEN: usize = 16;
/// Frame type: any answer (device → host).
pub const TYPE_RESPONSE: u8 = 0x81;

/// Why bytes did not decode to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended before the frame did; `need` more bytes are required at least.
    Truncated {
        /// Bytes missing.
        need: usize,
    },
    /// The frame does not start with [`MAGIC`].
    BadMagic,
    /// A version this crate does not speak.
    BadVersion {
        /// The version byte found.
        version: u8,
    },
    /// A frame type that is not defined, or not expected here.
    UnknownType {
        /// The type byte found.
        ty: u8,
    },
    /// The declared payload is longer than the decoder's maximum.
    Oversized {
        /// Declared payload length.
        len: u32,
        /// The maximum accepted.
        max: u32,
    },
    /// The CRC does not match the frame's contents.
    Checksum {
        /// CRC carried by the frame.
        stated: u32,
        /// CRC computed over the frame.
        computed: u32,
    },
    /// The payload's structure is wrong: a field runs past the end, a length
    /// or tag is out of range, text is not UTF-8, or bytes are left over.
    Malformed {
        /// The field at which decoding failed.
        field: Field,
    },
}

/// Fields of the payloads, named in [`DecodeError::Malformed`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum Field {
    /// `now`.
    Now = 1,
    /// The step index.
    Index = 2,
    /// The tree size.
    TreeSize = 3,
    /// The token.
    Token = 4,
    /// The call's MCP server.
    Mcp = 5,
    /// The call's action.
    Action = 6,
    /// The call's params.
    Params = 7,
    /// The step JSON.
    Step = 8,
    /// The sibling hashes.
    Siblings = 9,
    /// The response status byte.
    Status = 10,
    /// A rejection kind.
    Kind = 11,
    /// An error name.
    ErrorName = 12,
    /// Fixed-size numbers or hashes of a response.
    Body = 13,
    /// The algorithm byte of a bare-verify request.
    Alg = 14,
    /// Bytes after the last field.
    Trailing = 15,
}

impl Field {
    fn from_u8(b: u8) -> Option<Self> {
        Some(match b {
            1 => Self::Now,
            2 => Self::Index,
            3 => Self::TreeSize,
            4 => Self::Token,
            5 => Self::Mcp,
            6 => Self::Action,
            7 => Self::Params,
            8 => Self::Step,
            9 => Self::Siblings,
            10 => Self::Status,
            11 => Self::Kind,
            12 => Self::ErrorName,
            13 => Self::Body,
            14 => Self::Alg,
            15 => Self::Trailing,
            _ => return None,
        })
    }
}

impl DecodeError {
    /// A compact code for sending the error back in a [`Response::FrameError`]:
    /// `(class, detail)`.
    #[must_use]
    pub const fn code(&self) -> (u8, u8) {
        match *self {
            Self::Truncated { .. } => (1, 0),
            Self::BadMagic => (2, 0),
            Self::BadVersion { version } => (3, version),
            Self::UnknownType { ty } => (4, ty),
            Self::Oversized { .. } => (5, 0),
            Self::Checksum { .. } => (6, 0),
            Self::Malformed { field } => (7, field as u8),
        }
    }

    /// The stable name of the error class.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Truncated { .. } => "Truncated",
            Self::BadMagic => "BadMagic",
            Self::BadVersion { .. } => "BadVersion",
            Self::UnknownType { .. } => "UnknownType",
            Self::Oversized { .. } => "Oversized",
            Self::Checksum { .. } => "Checksum",
            Self::Malformed { .. } => "Malformed",
        }
    }
}

/// A [`DecodeError`] as it travels in a [`Response::FrameError`] (the counts
/// and CRCs stay on the device).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameErrorCode {
    /// [`DecodeError::Truncated`].
    Truncated,
    /// [`DecodeError::BadMagic`].
    BadMagic,
    /// [`DecodeError::BadVersion`].
    BadVersion(u8),
    /// [`DecodeError::UnknownType`].
    UnknownType(u8),
    /// [`DecodeError::Oversized`].
    Oversized,
    /// [`DecodeError::Checksum`].
    Checksum,
    /// [`DecodeError::Malformed`].
    Malformed(Field),
}

impl From<DecodeError> for FrameErrorCode {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Truncated { .. } => Self::Truncated,
            DecodeError::BadMagic => Self::BadMagic,
            DecodeError::BadVersion { version } => Self::BadVersion(version),
            DecodeError::UnknownType { ty } => Self::UnknownType(ty),
            DecodeError::Oversized { .. } => Self::Oversized,
            DecodeError::Checksum { .. } => Self::Checksum,
            DecodeError::Malformed { field } => Self::Malformed(field),
        }
    }
}

impl FrameErrorCode {
    /// The stable name of the error class.
    #[must_use]
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Truncated => "Truncated",
            Self::BadMagic => "BadMagic",
            Self::BadVersion(_) => "BadVersion",
            Self::UnknownType(_) => "UnknownType",
            Self::Oversized => "Oversized",
            Self::Checksum => "Checksum",
            Self::Malformed(_) => "Malformed",
        }
    }

    const fn to_bytes(self) -> [u8; 2] {
        match self {
            Self::Truncated => [1, 0],
            Self::BadMagic => [2, 0],
            Self::BadVersion(v) => [3, v],
            Self::UnknownType(t) => [4, t],
            Self::Oversized => [5, 0],
            Self::Checksum => [6, 0],
            Self::Malformed(f) => [7, f as u8],
        }
    }

    /// Reads a (class, detail) pair. Classes without a detail require a zero
    /// detail byte, so every accepted byte string has one meaning and
    /// re-encodes to itself.
    fn from_bytes(class: u8, detail: u8) -> Option<Self> {
        Some(match (class, detail) {
            (1, 0) => Self::Truncated,
            (2, 0) => Self::BadMagic,
            (3, v) => Self::BadVersion(v),
            (4, t) => Self::UnknownType(t),
            (5, 0) => Self::Oversized,
            (6, 0) => Self::Checksum,
            (7, f) => Self::Malformed(Field::from_u8(f)?),
            _ => return None,
        })
    }
}

/// Why a message could not be encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// The output buffer is too small; `need` bytes are required.
    BufferTooSmall {
        /// Bytes the whole frame needs.
        need: usize,
    },
    /// A field is longer than its length prefix (65 535 bytes) or, for
    /// siblings, more than [`MAX_SIBLINGS`].
    FieldTooLong {
        /// The field.
        field: Field,
    },
}

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

    fn from_u8(b: u8) -> Option<Self> {
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

const STATUS_ACCEPTED: u8 = 0;
const STATUS_REJECTED: u8 = 1;
const STATUS_FRAME_ERROR: u8 = 2;
const STATUS_STATS: u8 = 3;
const STATUS_BARE: u8 = 4;
const STATUS_DEVICE_INFO: u8 = 5;
const STATUS_RECEIPTED: u8 = 6;
const STATUS_SIGNED: u8 = 7;

/// Longest error name a [`Rejected`] carries.
pub const MAX_ERROR_NAME: usize = 64;

fn frame(out: &mut [u8], ty: u8, body: impl Fn(&mut Writer<'_>)) -> Result<usize, EncodeError> {
    // First pass: measure; second: write. Both run the same closure, so the
    // sizes agree by construction.
    let mut sizer = Writer::sizer();
    body(&mut sizer);
    sizer.error()?;
    let len = sizer.len();
    let need = len + OVERHEAD;
    let Some(dst) = out.get_mut(..need) else {
        return Err(EncodeError::BufferTooSmall { need });
    };
    let len32 = u32::try_from(len).map_err(|_| EncodeError::BufferTooSmall { need })?;
    let mut w = Writer::new(dst);
    w.bytes(&MAGIC);
    w.u8(VERSION);
    w.u8(ty);
    w.u32(len32);
    body(&mut w);
    let crc = crc32(w.written().get(2..).unwrap_or_default());
    w.u32(crc);
    w.error()?;
    Ok(need)
}

/// Encodes `req` as one frame into `out`; returns the frame's length.
///
/// # Errors
/// [`EncodeError`] when `out` is too small or a field is too long.
pub fn encode_request(req: &Request<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    match req {
        Request::Verify(v) => frame(out, TYPE_VERIFY, |w| verify_body(w, v)),
        Request::VerifyReceipt(v) => frame(out, TYPE_VERIFY_RECEIPT, |w| verify_body(w, v)),
        Request::DeviceInfo => frame(out, TYPE_DEVICE_INFO, |_| {}),
        Request::SignVector { key, msg } => frame(out, TYPE_SIGN_VECTOR, |w| {
            w.bytes(key);
            w.field(Field::Token, msg);
        }),
        Request::Stats => frame(out, TYPE_STATS, |_| {}),
        Request::BareVerify { alg, token } => frame(out, TYPE_BARE_VERIFY, |w| {
            w.u8(match alg {
                Alg::Es256 => 1,
                Alg::EdDsa => 2,
            });
            w.field(Field::Token, token);
        }),
    }
}

/// The payload of a verify (or verify-with-receipt) request.
fn verify_body(w: &mut Writer<'_>, v: &VerifyRequest<'_>) {
    w.i64(v.now);
    w.u64(v.index);
    w.u64(v.tree_size);
    w.field(Field::Token, v.token);
    w.field(Field::Mcp, v.mcp.as_bytes());
    w.field(Field::Action, v.action.as_bytes());
    match v.params {
        None => w.u8(0),
        Some(p) => {
            w.u8(1);
            w.field(Field::Params, p);
        }
    }
    w.field(Field::Step, v.step);
    if v.siblings.len() > MAX_SIBLINGS {
        w.fail(Field::Siblings);
    }
    w.u8(u8::try_from(v.siblings.len()).unwrap_or(u8::MAX));
    for s in v.siblings {
        w.bytes(s);
    }
}

/// Encodes `resp` as one frame into `out`; returns the frame's length.
///
/// # Errors
/// [`EncodeError`] when `out` is too small or the error name is longer than
/// [`MAX_ERROR_NAME`].
pub fn encode_response(resp: &Response<'_>, out: &mut [u8]) -> Result<usize, EncodeError> {
    frame(out, TYPE_RESPONSE, |w| match resp {
        Response::Accepted(a) => {
            w.u8(STATUS_ACCEPTED);
            accepted_body(w, a);
        }
        Response::Rejected(r) => {
            w.u8(STATUS_REJECTED);
            w.u8(r.kind as u8);
            if r.error.len() > MAX_ERROR_NAME {
                w.fail(Field::ErrorName);
            }
            w.field(Field::ErrorName, r.error.as_bytes());
            w.u32(r.ticks);
        }
        Response::FrameError(code) => {
            w.u8(STATUS_FRAME_ERROR);
            w.bytes(&code.to_bytes());
        }
        Response::Stats(s) => {
            w.u8(STATUS_STATS);
            w.u32(s.served);
            w.u32(s.frame_errors);
            w.u32(s.stack_peak);
            w.u32(s.stack_size);
            w.u32(s.keys);
        }
        Response::BareVerify { ok, ticks } => {
            w.u8(STATUS_BARE);
            w.u8(u8::from(*ok));
            w.u32(*ticks);
        }
        Response::DeviceInfo(d) => {
            w.u8(STATUS_DEVICE_INFO);
            w.u8(d.revision);
            if d.revision >= 3 {
                w.u8(match d.alg {
                    DeviceKeyAlg::Ed25519 => 1,
                    DeviceKeyAlg::Es256 => 2,
                });
                w.bytes(d.key());
            } else {
                w.bytes(d.public_key.get(..32).unwrap_or_default());
            }
            w.bytes(&d.device_id);
            w.u64(d.counter);
            if d.revision >= 3 {
                w.u32(d.boot);
            }
        }
        Response::Receipted {
            accepted: a,
            receipt,
            sign_ticks,
        } => {
            w.u8(STATUS_RECEIPTED);
            accepted_body(w, a);
            w.bytes(receipt);
            w.u32(*sign_ticks);
        }
        Response::Signed { signature, ticks } => {
            w.u8(STATUS_SIGNED);
            w.bytes(signature);
            w.u32(*ticks);
        }
    })
}

fn accepted_body(w: &mut Writer<'_>, a: &Accepted) {
    w.u64(a.index);
    w.u64(a.step_count);
    w.i64(a.exp);
    w.bytes(&a.plan_hash);
    w.bytes(&a.merkle_root);
    w.bytes(&a.leaf_hash);
    w.u32(a.ticks);
}

fn read_accepted(r: &mut Reader<'_>) -> Result<Accepted, DecodeError> {
    Ok(Accepted {
        index: r.u64(Field::Body)?,
        step_count: r.u64(Field::Body)?,
        exp: r.i64(Field::Body)?,
        plan_hash: r.hash(Field::Body)?,
        merkle_root: r.hash(Field::Body)?,
        leaf_hash: r.hash(Field::Body)?,
        ticks: r.u32(Field::Body)?,
    })
}

/// A frame's header, read before its payload has arrived.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// The frame type.
    pub ty: u8,
    /// The payload length (at most the decoder's `MAX`).
    pub len: usize,
}

impl Header {
    /// The whole frame's length: header, payload and checksum.
    #[must_use]
    pub const fn frame_len(&self) -> usize {
        HEADER_LEN + self.len + TRAILER_LEN
    }
}

/// Reads a frame header from the start of `bytes` (which may hold less than
/// a whole frame), accepting payloads of at most `MAX` bytes.
///
/// # Errors
/// [`DecodeError::Truncated`] when fewer than [`HEADER_LEN`] bytes are given,
/// [`DecodeError::BadMagic`], [`DecodeError::BadVersion`],
/// [`DecodeError::Oversized`].
pub fn parse_header<const MAX: usize>(bytes: &[u8]) -> Result<Header, DecodeError> {
    let Some(h) = bytes.first_chunk::<HEADER_LEN>() else {
        return Err(DecodeError::Truncated {
            need: HEADER_LEN - bytes.len(),
        });
    };
    let [m0, m1, version, ty, l0, l1, l2, l3] = *h;
    if [m0, m1] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    if version != VERSION {
        return Err(DecodeError::BadVersion { version });
    }
    let len = u32::from_le_bytes([l0, l1, l2, l3]);
    let max = u32::try_from(MAX).unwrap_or(u32::MAX);
    match usize::try_from(len) {
        Ok(n) if len <= max && n <= MAX => Ok(Header { ty, len: n }),
        _ => Err(DecodeError::Oversized { len, max }),
    }
}

/// Checks one whole frame at the start of `bytes`: header, length, CRC.
/// Returns the header, the payload and the number of bytes the frame took.
///
/// # Errors
/// As [`parse_header`], plus [`DecodeError::Truncated`] and
/// [`DecodeError::Checksum`].
pub fn open_frame<const MAX: usize>(bytes: &[u8]) -> Result<(Header, &[u8], usize), DecodeError> {
    let h = parse_header::<MAX>(bytes)?;
    let total = h.frame_len();
    let Some(whole) = bytes.get(..total) else {
        return Err(DecodeError::Truncated {
            need: total - bytes.len(),
        });
    };
    let (covered, crc) = whole.split_at(total - TRAILER_LEN);
    let stated = u32::from_le_bytes(
        crc.try_into()
            .map_err(|_| DecodeError::Truncated { need: 0 })?,
    );
    let computed = crc32(covered.get(2..).unwrap_or_default());
    if stated != computed {
        return Err(DecodeError::Checksum { stated, computed });
    }
    let payload = covered.get(HEADER_LEN..).unwrap_or_default();
    Ok((h, payload, total))
}

/// Decodes one request frame from the start of `bytes`; returns it and the
/// number of bytes it took. Payloads over `MAX` bytes are refused.
///
/// # Errors
/// [`DecodeError`]; never panics.
pub fn decode_request<const MAX: usize>(bytes: &[u8]) -> Result<(Request<'_>, usize), DecodeError> {
    let (h, payload, total) = open_frame::<MAX>(bytes)?;
    Ok((request_payload(h.ty, payload)?, total))
}

/// Decodes a request from a frame type and its (already checked) payload.
///
/// # Errors
/// [`DecodeError::UnknownType`], [`DecodeError::Malformed`].
pub fn request_payload(ty: u8, payload: &[u8]) -> Result<Request<'_>, DecodeError> {
    let mut r = Reader::new(payload);
    let req = match ty {
        TYPE_VERIFY => Request::Verify(read_verify(&mut r)?),
        TYPE_VERIFY_RECEIPT => Request::VerifyReceipt(read_verify(&mut r)?),
        TYPE_DEVICE_INFO => Request::DeviceInfo,
        TYPE_SIGN_VECTOR => Request::SignVector {
            key: r.array(Field::Body)?,
            msg: r.field(Field::Token)?,
        },
        TYPE_STATS => Request::Stats,
        TYPE_BARE_VERIFY => {
            let alg = match r.u8(Field::Alg)? {
                1 => Alg::Es256,
                2 => Alg::EdDsa,
                _ => return Err(DecodeError::Malformed { field: Field::Alg }),
            };
            Request::BareVerify {
                alg,
                token: r.field(Field::Token)?,
            }
        }
        ty => return Err(DecodeError::UnknownType { ty }),
    };
    r.finish()?;
    Ok(req)
}

/// A device-info answer: revision 2 (Ed25519 key, no boot) or 3.
fn read_device_info(r: &mut Reader<'_>) -> Result<DeviceInfo, DecodeError> {
    let revision = r.u8(Field::Body)?;
    let alg = if revision >= 3 {
        match r.u8(Field::Body)? {
            1 => DeviceKeyAlg::Ed25519,
            2 => DeviceKeyAlg::Es256,
            _ => return Err(DecodeError::Malformed { field: Field::Body }),
        }
    } else {
        DeviceKeyAlg::Ed25519
    };
    let mut public_key = [0u8; MAX_DEVICE_KEY_LEN];
    let key = r.take(alg.key_len(), Field::Body)?;
    if let Some(dst) = public_key.get_mut(..key.len()) {
        dst.copy_from_slice(key);
    }
    let device_id = r.array(Field::Body)?;
    let counter = r.u64(Field::Body)?;
    let boot = if revision >= 3 {
        r.u32(Field::Body)?
    } else {
        0
    };
    Ok(DeviceInfo {
        revision,
        alg,
        public_key,
        device_id,
        counter,
        boot,
    })
}

/// The payload of a verify (or verify-with-receipt) request.
fn read_verify<'a>(r: &mut Reader<'a>) -> Result<VerifyRequest<'a>, DecodeError> {
    let now = r.i64(Field::Now)?;
    let index = r.u64(Field::Index)?;
    let tree_size = r.u64(Field::TreeSize)?;
    let token = r.field(Field::Token)?;
    let mcp = r.str_field(Field::Mcp)?;
    let action = r.str_field(Field::Action)?;
    let params = match r.u8(Field::Params)? {
        0 => None,
        1 => Some(r.field(Field::Params)?),
        _ => {
            return Err(DecodeError::Malformed {
                field: Field::Params,
            });
        }
    };
    let step = r.field(Field::Step)?;
    let n = usize::from(r.u8(Field::Siblings)?);
    if n > MAX_SIBLINGS {
        return Err(DecodeError::Malformed {
            field: Field::Siblings,
        });
    }
    let raw = r.take(n * HASH_LEN, Field::Siblings)?;
    let (siblings, rest) = raw.as_chunks::<HASH_LEN>();
    if !rest.is_empty() {
        return Err(DecodeError::Malformed {
            field: Field::Siblings,
        });
    }
    Ok(VerifyRequest {
        now,
        token,
        mcp,
        action,
        params,
        step,
        index,
        tree_size,
        siblings,
    })
}

/// Decodes one response frame from the start of `bytes`; returns it and the
/// number of bytes it took. Payloads over `MAX` bytes are refused.
///
/// # Errors
/// [`DecodeError`]; never panics.
pub fn decode_response<const MAX: usize>(
    bytes: &[u8],
) -> Result<(Response<'_>, usize), DecodeError> {
    let (h, payload, total) = open_frame::<MAX>(bytes)?;
    Ok((response_payload(h.ty, payload)?, total))
}

/// Decodes a response from a frame type and its (already checked) payload.
///
/// # Errors
/// [`DecodeError::UnknownType`], [`DecodeError::Malformed`].
pub fn response_payload(ty: u8, payload: &[u8]) -> Result<Response<'_>, DecodeError> {
    if ty != TYPE_RESPONSE {
        return Err(DecodeError::UnknownType { ty });
    }
    let mut r = Reader::new(payload);
    let resp = match r.u8(Field::Status)? {
        STATUS_ACCEPTED => Response::Accepted(read_accepted(&mut r)?),
        STATUS_DEVICE_INFO => Response::DeviceInfo(read_device_info(&mut r)?),
        STATUS_RECEIPTED => {
            let accepted = read_accepted(&mut r)?;
            let n = r.remaining().saturating_sub(4);
            if n != RECEIPT_LEN && n != RECEIPT_V1_LEN {
                return Err(DecodeError::Malformed { field: Field::Body });
            }
            Response::Receipted {
                accepted,
                receipt: r.take(n, Field::Body)?,
                sign_ticks: r.u32(Field::Body)?,
            }
        }
        STATUS_SIGNED => Response::Signed {
            signature: r.array(Field::Body)?,
            ticks: r.u32(Field::Body)?,
        },
        STATUS_REJECTED => {
            let kind = RejectKind::from_u8(r.u8(Field::Kind)?)
                .ok_or(DecodeError::Malformed { field: Field::Kind })?;
            let error = r.str_field(Field::ErrorName)?;
            if error.len() > MAX_ERROR_NAME {
                return Err(DecodeError::Malformed {
                    field: Field::ErrorName,
                });
            }
            Response::Rejected(Rejected {
                kind,
                error,
                ticks: r.u32(Field::Body)?,
            })
        }
        STATUS_FRAME_ERROR => {
            let class = r.u8(Field::Body)?;
            let detail = r.u8(Field::Body)?;
            Response::FrameError(
                FrameErrorCode::from_bytes(class, detail)
                    .ok_or(DecodeError::Malformed { field: Field::Body })?,
            )
        }
        STATUS_STATS => Response::Stats(Stats {
            served: r.u32(Field::Body)?,
            frame_errors: r.u32(Field::Body)?,
            stack_peak: r.u32(Field::Body)?,
            stack_size: r.u32(Field::Body)?,
            keys: r.u32(Field::Body)?,
        }),
        STATUS_BARE => {
            let ok = match r.u8(Field::Body)? {
                0 => false,
                1 => true,
                _ => return Err(DecodeError::Malformed { field: Field::Body }),
            };
            Response::BareVerify {
                ok,
                ticks: r.u32(Field::Body)?,
            }
        }
        _ => {
            return Err(DecodeError::Malformed {
                field: Field::Status,
            });
        }
    };
    r.finish()?;
    Ok(resp)
}

/// What [`Receiver::push`] made of one more byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// The frame is not complete yet.
    Pending,
    /// A whole frame with a good header and CRC is in [`Receiver::frame`].
    Frame,
    /// The bytes so far cannot be a frame. The receiver has dropped them and
    /// hunts for the next [`MAGIC`]; a run of garbage is reported once.
    Error(DecodeError),
}

/// Reassembles frames from a byte stream into a fixed `CAP`-byte buffer;
/// payloads over `CAP - OVERHEAD` bytes are refused as they are announced.
#[derive(Clone, Debug)]
pub struct Receiver<const CAP: usize> {
    buf: [u8; CAP],
    fill: usize,
    /// The frame's whole length once its header is in; 0 before (so that a
    /// new receiver is all zeros and can live in `.bss`).
    frame_len: usize,
    in_garbage: bool,
}

impl<const CAP: usize> Default for Receiver<CAP> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CAP: usize> Receiver<CAP> {
    /// The largest payload accepted.
    pub const MAX_PAYLOAD: usize = CAP.saturating_sub(OVERHEAD);

    /// An empty receiver.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; CAP],
            fill: 0,
            frame_len: 0,
            in_garbage: false,
        }
    }

    /// Bytes the current frame needs in all, as far as known.
    const fn need(&self) -> usize {
        if self.frame_len == 0 {
            HEADER_LEN
        } else {
            self.frame_len
        }
    }

    /// Forgets any partial frame (keeps the garbage state).
    pub fn reset(&mut self) {
        self.fill = 0;
        self.frame_len = 0;
    }

    /// Whether part of a frame has been received (a frame already handed
    /// out by [`Progress::Frame`] does not count).
    #[must_use]
    pub const fn is_partial(&self) -> bool {
        self.fill > 0 && self.fill < self.need()
    }

    /// Gives up on a partial frame (e.g. after an idle timeout): returns
    /// [`DecodeError::Truncated`] if there was one.
    pub fn abort(&mut self) -> Option<DecodeError> {
        if !self.is_partial() {
            return None;
        }
        let need = self.need().saturating_sub(self.fill);
        self.reset();
        Some(DecodeError::Truncated { need })
    }

    /// The frame completed by the last [`Progress::Frame`].
    #[must_use]
    pub fn frame(&self) -> &[u8] {
        self.buf.get(..self.fill).unwrap_or_default()
    }

    /// Feeds one byte.
    pub fn push(&mut self, b: u8) -> Progress {
        if self.fill >= self.need() {
            // The previous frame was handed out; start a new one.
            self.reset();
        }
        // Hunting for the magic.
        let magic_pos = self.fill.min(2);
        if let Some(&m) = MAGIC.get(magic_pos)
            && b != m
        {
            self.reset();
            // "AA": the second 'A' may start the magic.
            if let Some(&m0) = MAGIC.first()
                && b == m0
            {
                if let Some(slot) = self.buf.get_mut(0) {
                    *slot = b;
                    self.fill = 1;
                }
                return Progress::Pending;
            }
            if self.in_garbage {
                return Progress::Pending;
            }
            self.in_garbage = true;
            return Progress::Error(DecodeError::BadMagic);
        }
        let Some(slot) = self.buf.get_mut(self.fill) else {
            self.reset();
            return Progress::Error(DecodeError::Oversized {
                len: u32::try_from(self.need()).unwrap_or(u32::MAX),
                max: u32::try_from(Self::MAX_PAYLOAD).unwrap_or(u32::MAX),
            });
        };
        *slot = b;
        self.fill += 1;
        if self.fill == HEADER_LEN {
            match parse_header_cap(&self.buf, Self::MAX_PAYLOAD) {
                Ok(h) => self.frame_len = h.frame_len(),
                Err(e) => {
                    self.reset();
                    self.in_garbage = true;
                    return Progress::Error(e);
                }
            }
        }
        if self.fill < self.need() {
            return Progress::Pending;
        }
        self.in_garbage = false;
        match open_frame_cap(self.frame(), Self::MAX_PAYLOAD) {
            Ok(_) => Progress::Frame,
            Err(e) => {
                self.reset();
                Progress::Error(e)
            }
        }
    }
}

// `Receiver` knows its maximum only as a value (`CAP - OVERHEAD` cannot be a
// const generic argument on stable), so it uses these value-checked twins.
fn parse_header_cap(bytes: &[u8], max: usize) -> Result<Header, DecodeError> {
    let h = parse_header::<{ usize::MAX }>(bytes)?;
    if h.len > max {
        return Err(DecodeError::Oversized {
            len: u32::try_from(h.len).unwrap_or(u32::MAX),
            max: u32::try_from(max).unwrap_or(u32::MAX),
        });
    }
    Ok(h)
}

fn open_frame_cap(bytes: &[u8], max: usize) -> Result<(Header, &[u8], usize), DecodeError> {
    parse_header_cap(bytes, max)?;
    open_frame::<{ usize::MAX }>(bytes)
}

#[cfg(test)]
mod tests;
