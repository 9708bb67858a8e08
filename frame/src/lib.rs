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
mod decode;
mod encode;
mod error;
mod message;
mod receiver;
mod wire;

pub use crc::crc32;
pub use decode::{
    Header, decode_request, decode_response, open_frame, parse_header, request_payload,
    response_payload,
};
pub use encode::{encode_request, encode_response};
pub use error::{DecodeError, EncodeError, Field, FrameErrorCode};
pub use message::*;
pub use receiver::{Progress, Receiver};

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

#[cfg(test)]
mod tests;
