//! The verifier device's signed receipts (SPEC §7).
//!
//! For every call it accepts, the device signs with its own key a fixed
//! body. Two versions exist, told apart by the magic; a receipt of either
//! verifies:
//!
//! ```text
//! version 2 ("AQR2", 130 bytes)          version 1 ("AQR1", 125 bytes, Ed25519)
//! off len                                off len
//!   0   4  magic "AQR2"                    0   4  magic "AQR1"
//!   4   1  algorithm: 1 Ed25519, 2 ES256   4  16  device id
//!   5  16  device id                      20   8  counter
//!  21   4  boot, u32 LE (0: no lasting    28  32  SHA-256(jti)
//!          counter on this device)        60  32  leaf hash
//!  25   8  counter, u64 LE                92  32  call hash
//!  33  32  SHA-256 of the token's `jti`  124   1  verdict
//!  65  32  the step's leaf hash
//!  97  32  the call hash (see [`call_hash`])
//! 129   1  verdict: 1 = accepted
//! ```
//!
//! The receipt is the body followed by the 64-byte signature over it: Ed25519
//! (RFC 8032) or, for algorithm 2, ECDSA P-256 / SHA-256 as `r ‖ s` (the JWS
//! ES256 form, RFC 7518 §3.4). The algorithm is inside the signed bytes, so a
//! signature cannot be re-read under the other one. The device id is the first
//! 16 bytes of SHA-256 of the device's public key (32 raw Ed25519 bytes, or the
//! 65-byte uncompressed SEC1 P-256 point).
//!
//! A host checks one with [`Receipt::verify`] (through any [`Backend`]) and a
//! log's receipts in counter order with [`Sequence`]: within one boot a
//! counter that skips values is a missing receipt, one that does not grow a
//! repeated one; a new boot's first counter lands on a block boundary
//! ([`crate::counter`]), which tells a restart from removed rows.
//!
//! Everything here is bounded and allocation-free; nothing panics.

use crate::b64;
use crate::canon::{Canonicalizer, Profile};
use crate::counter::is_block_start;
use crate::error::Error;
use crate::jws::Claims;
use crate::sig::Backend;
use sha2::{Digest, Sha256};

/// The magic of a version-1 body (Ed25519 only, no boot field).
pub const MAGIC_V1: [u8; 4] = *b"AQR1";
/// The magic of a version-2 body (algorithm and boot fields).
pub const MAGIC: [u8; 4] = *b"AQR2";
/// Length of a version-2 body (what devices sign today).
pub const BODY_LEN: usize = 130;
/// Length of a version-1 body.
pub const BODY_V1_LEN: usize = 125;
/// Length of the signature (Ed25519, or ES256's `r ‖ s`).
pub const SIGNATURE_LEN: usize = 64;
/// Length of a whole version-2 receipt (body and signature).
pub const RECEIPT_LEN: usize = BODY_LEN + SIGNATURE_LEN;
/// Length of a whole version-1 receipt.
pub const RECEIPT_V1_LEN: usize = BODY_V1_LEN + SIGNATURE_LEN;
/// Length of a device id.
pub const DEVICE_ID_LEN: usize = 16;
/// The verdict byte of an accepted call (the only verdict signed today).
pub const VERDICT_ACCEPTED: u8 = 1;
/// Length of the longest device public key (uncompressed SEC1 P-256).
pub const MAX_KEY_LEN: usize = 65;

/// A receipt's signature algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReceiptAlg {
    /// Ed25519 (RFC 8032); every version-1 receipt.
    Ed25519,
    /// ECDSA P-256 / SHA-256, `r ‖ s` (ES256).
    Es256,
}

impl ReceiptAlg {
    /// The algorithm byte of a version-2 body.
    #[must_use]
    pub const fn to_u8(self) -> u8 {
        match self {
            Self::Ed25519 => 1,
            Self::Es256 => 2,
        }
    }

    /// The algorithm of a version-2 body's byte.
    #[must_use]
    pub const fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Ed25519),
            2 => Some(Self::Es256),
            _ => None,
        }
    }

    /// The length of a public key of this algorithm (32 raw Ed25519 bytes,
    /// 65 for an uncompressed P-256 point).
    #[must_use]
    pub const fn key_len(self) -> usize {
        match self {
            Self::Ed25519 => 32,
            Self::Es256 => 65,
        }
    }

    /// The JOSE name (`EdDSA`, `ES256`).
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Ed25519 => "EdDSA",
            Self::Es256 => "ES256",
        }
    }
}

/// What a receipt says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiptBody {
    /// The body's version: 1 (`AQR1`) or 2 (`AQR2`).
    pub version: u8,
    /// The signature algorithm (always Ed25519 in version 1).
    pub alg: ReceiptAlg,
    /// The signing device ([`device_id`] of its public key).
    pub device_id: [u8; DEVICE_ID_LEN],
    /// The device's boot number (0: the device keeps no lasting counter;
    /// always 0 in version 1).
    pub boot: u32,
    /// The receipt's number on that device.
    pub counter: u64,
    /// SHA-256 of the token's `jti` ([`jti_hash`]).
    pub jti_hash: [u8; 32],
    /// The step's leaf hash.
    pub leaf_hash: [u8; 32],
    /// The call's hash ([`call_hash`]).
    pub call_hash: [u8; 32],
    /// The verdict ([`VERDICT_ACCEPTED`]).
    pub verdict: u8,
}

/// Copies `src` into `out` at `at` (a no-op if it does not fit: callers
/// write fixed offsets inside fixed arrays).
fn put(out: &mut [u8], at: usize, src: &[u8]) {
    if let Some(dst) = at
        .checked_add(src.len())
        .and_then(|end| out.get_mut(at..end))
    {
        dst.copy_from_slice(src);
    }
}

/// `N` bytes of `b` at `at`.
fn take<const N: usize>(b: &[u8], at: usize) -> Result<[u8; N], Error> {
    at.checked_add(N)
        .and_then(|end| b.get(at..end))
        .and_then(|s| <[u8; N]>::try_from(s).ok())
        .ok_or(Error::ReceiptMalformed)
}

impl ReceiptBody {
    /// The signed bytes of a version-2 body (`version` is not consulted:
    /// devices sign version 2).
    #[must_use]
    pub fn to_bytes(&self) -> [u8; BODY_LEN] {
        let mut b = [0u8; BODY_LEN];
        self.write(&mut b);
        b
    }

    /// Writes the version-2 body into `b` (a signer's output buffer).
    pub fn write(&self, b: &mut [u8; BODY_LEN]) {
        put(b, 0, &MAGIC);
        put(b, 4, &[self.alg.to_u8()]);
        put(b, 5, &self.device_id);
        put(b, 21, &self.boot.to_le_bytes());
        put(b, 25, &self.counter.to_le_bytes());
        put(b, 33, &self.jti_hash);
        put(b, 65, &self.leaf_hash);
        put(b, 97, &self.call_hash);
        put(b, 129, &[self.verdict]);
    }

    /// The signed bytes of a version-1 body (Ed25519; `alg` and `boot` are
    /// not in it): what revision-2 firmware signed.
    #[must_use]
    pub fn to_v1_bytes(&self) -> [u8; BODY_V1_LEN] {
        let mut b = [0u8; BODY_V1_LEN];
        put(&mut b, 0, &MAGIC_V1);
        put(&mut b, 4, &self.device_id);
        put(&mut b, 20, &self.counter.to_le_bytes());
        put(&mut b, 28, &self.jti_hash);
        put(&mut b, 60, &self.leaf_hash);
        put(&mut b, 92, &self.call_hash);
        put(&mut b, 124, &[self.verdict]);
        b
    }

    /// Reads a body of either version.
    ///
    /// # Errors
    /// [`Error::ReceiptMalformed`]: not [`BODY_LEN`] bytes after `AQR2` (or
    /// [`BODY_V1_LEN`] after `AQR1`), another magic, an unknown algorithm, or
    /// a verdict other than [`VERDICT_ACCEPTED`].
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let magic = take::<4>(b, 0)?;
        let body = if magic == MAGIC && b.len() == BODY_LEN {
            Self {
                version: 2,
                alg: ReceiptAlg::from_u8(u8::from_le_bytes(take(b, 4)?))
                    .ok_or(Error::ReceiptMalformed)?,
                device_id: take(b, 5)?,
                boot: u32::from_le_bytes(take(b, 21)?),
                counter: u64::from_le_bytes(take(b, 25)?),
                jti_hash: take(b, 33)?,
                leaf_hash: take(b, 65)?,
                call_hash: take(b, 97)?,
                verdict: u8::from_le_bytes(take(b, 129)?),
            }
        } else if magic == MAGIC_V1 && b.len() == BODY_V1_LEN {
            Self {
                version: 1,
                alg: ReceiptAlg::Ed25519,
                device_id: take(b, 4)?,
                boot: 0,
                counter: u64::from_le_bytes(take(b, 20)?),
                jti_hash: take(b, 28)?,
                leaf_hash: take(b, 60)?,
                call_hash: take(b, 92)?,
                verdict: u8::from_le_bytes(take(b, 124)?),
            }
        } else {
            return Err(Error::ReceiptMalformed);
        };
        if body.verdict != VERDICT_ACCEPTED {
            return Err(Error::ReceiptMalformed);
        }
        Ok(body)
    }
}

/// A device's receipt key, parsed by a [`Backend`].
#[derive(Clone, Debug)]
pub enum DeviceKey<B: Backend> {
    /// An Ed25519 key.
    Ed25519(B::Ed25519Key),
    /// A P-256 key.
    Es256(B::P256Key),
}

impl<B: Backend> DeviceKey<B> {
    /// Parses a device public key of `alg`: 32 raw bytes (Ed25519) or the
    /// 65-byte uncompressed SEC1 point (P-256).
    ///
    /// # Errors
    /// [`Error::KeyInvalid`]: another length, or not a key.
    pub fn parse(alg: ReceiptAlg, public_key: &[u8]) -> Result<Self, Error> {
        if public_key.len() != alg.key_len() {
            return Err(Error::KeyInvalid);
        }
        match alg {
            ReceiptAlg::Ed25519 => {
                let raw: &[u8; 32] = public_key.try_into().map_err(|_| Error::KeyInvalid)?;
                B::ed25519_key(raw).map(Self::Ed25519)
            }
            ReceiptAlg::Es256 => B::p256_key(public_key).map(Self::Es256),
        }
    }

    /// The key's algorithm.
    #[must_use]
    pub const fn alg(&self) -> ReceiptAlg {
        match self {
            Self::Ed25519(_) => ReceiptAlg::Ed25519,
            Self::Es256(_) => ReceiptAlg::Es256,
        }
    }
}

/// A signed receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// What it says.
    pub body: ReceiptBody,
    /// The signed bytes (as received), [`Receipt::signed_len`] of them.
    pub signed: [u8; BODY_LEN],
    /// How many bytes of `signed` are the body (125 or 130).
    pub signed_len: usize,
    /// The signature over the signed bytes.
    pub signature: [u8; SIGNATURE_LEN],
}

impl Receipt {
    /// Reads a receipt of either version: body then signature.
    ///
    /// # Errors
    /// [`Error::ReceiptMalformed`].
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        let body_len = b
            .len()
            .checked_sub(SIGNATURE_LEN)
            .ok_or(Error::ReceiptMalformed)?;
        let (head, sig) = b.split_at(body_len);
        let body = ReceiptBody::parse(head)?;
        let mut signed = [0u8; BODY_LEN];
        put(&mut signed, 0, head);
        Ok(Self {
            body,
            signed,
            signed_len: body_len,
            signature: take(sig, 0)?,
        })
    }

    /// The signed bytes.
    #[must_use]
    pub fn signed_bytes(&self) -> &[u8] {
        self.signed.get(..self.signed_len).unwrap_or_default()
    }

    /// Checks that the receipt names the device of `public_key` and that
    /// `key` (the same key, parsed by the backend) signed it with the
    /// receipt's algorithm.
    ///
    /// # Errors
    /// [`Error::ReceiptDeviceMismatch`]; [`Error::BadSignature`], also when
    /// the receipt's algorithm is not the key's.
    pub fn verify<B: Backend>(&self, public_key: &[u8], key: &DeviceKey<B>) -> Result<(), Error> {
        if self.body.device_id != device_id(public_key) {
            return Err(Error::ReceiptDeviceMismatch);
        }
        match (self.body.alg, key) {
            (ReceiptAlg::Ed25519, DeviceKey::Ed25519(k)) => {
                B::verify_ed25519(k, self.signed_bytes(), &self.signature)
            }
            (ReceiptAlg::Es256, DeviceKey::Es256(k)) => {
                B::verify_es256(k, self.signed_bytes(), &self.signature)
            }
            _ => Err(Error::BadSignature),
        }
    }
}

/// A device's id: the first 16 bytes of SHA-256 of its public key (32 raw
/// Ed25519 bytes, or the 65-byte uncompressed SEC1 P-256 point).
#[must_use]
pub fn device_id(public_key: &[u8]) -> [u8; DEVICE_ID_LEN] {
    let d: [u8; 32] = Sha256::digest(public_key).into();
    take(&d, 0).unwrap_or_default()
}

/// The call hash: SHA-256 of `u16le(len mcp) ‖ mcp ‖ u16le(len action) ‖
/// action ‖ canonical(params)` (the `armoriq` profile; absent params are
/// `{}`), so that two calls the check treats as equal hash the same.
///
/// # Errors
/// [`Error::StepMalformed`] when `mcp` or `action` is longer than 65,535
/// bytes; the canonicalizer's error when the params are not JSON within its
/// limits.
pub fn call_hash<const D: usize, const M: usize>(
    canon: &mut Canonicalizer<D, M>,
    mcp: &str,
    action: &str,
    params: Option<&[u8]>,
) -> Result<[u8; 32], Error> {
    let mut h = Sha256::new();
    for part in [mcp, action] {
        let n = u16::try_from(part.len()).map_err(|_| Error::StepMalformed)?;
        h.update(n.to_le_bytes());
        h.update(part.as_bytes());
    }
    canon.canonicalize(params.unwrap_or(b"{}"), Profile::ArmorIq, &mut h)?;
    Ok(h.finalize().into())
}

/// SHA-256 of a `jti` given as text.
#[must_use]
pub fn jti_text_hash(jti: &str) -> [u8; 32] {
    Sha256::digest(jti.as_bytes()).into()
}

/// SHA-256 of the `jti` claim of a compact JWS (UTF-8, escapes decoded).
/// The token is not verified here: call it on a token the check accepted.
/// `buf` receives the decoded claims.
///
/// # Errors
/// `TokenMalformed`, `Base64`, `TokenTooLarge`, `ClaimsMalformed`, or
/// `MissingClaim { claim: "jti" }`.
pub fn jti_hash(token: &[u8], buf: &mut [u8]) -> Result<[u8; 32], Error> {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::TokenMalformed);
    };
    let claims = b64::decode(payload, buf, 0)?;
    let jti = Claims::parse(claims)?
        .jti
        .ok_or(Error::MissingClaim { claim: "jti" })?;
    Ok(hash_jti(jti))
}

/// [`jti_hash`] from where [`crate::verify_invocation_with`] found the `jti`
/// ([`VerifiedStep::jti`](crate::VerifiedStep::jti)) in the claims it
/// decoded into `claims`, which must still hold them: no second decoding or
/// parse. Never panics.
///
/// # Errors
/// `MissingClaim { claim: "jti" }` without a `jti`, or a place outside
/// `claims`.
pub fn jti_hash_at(claims: &[u8], at: Option<crate::verify::ClaimAt>) -> Result<[u8; 32], Error> {
    let missing = Error::MissingClaim { claim: "jti" };
    let at = at.ok_or(missing)?;
    let end = at.start.checked_add(at.len).ok_or(missing)?;
    let raw = claims.get(at.start..end).ok_or(missing)?;
    Ok(hash_jti(crate::json::JsonStr::from_raw_parts(
        raw, at.escaped,
    )))
}

/// SHA-256 of the `jti`'s decoded text.
fn hash_jti(jti: crate::json::JsonStr<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    if let Some(raw) = jti.unescaped_bytes() {
        h.update(raw);
    } else {
        let mut utf8 = [0u8; 4];
        for c in jti.chars() {
            h.update(c.encode_utf8(&mut utf8).as_bytes());
        }
    }
    h.finalize().into()
}

/// What [`Sequence::next`] saw in a receipt that it accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// The first receipt, or the next counter of the same boot.
    Next,
    /// The device restarted: the receipt is of a later boot and its counter
    /// is the first of a block above the previous one ([`crate::counter`]);
    /// counters `from..to` were never signed.
    Restart {
        /// The first counter skipped.
        from: u64,
        /// The receipt's counter.
        to: u64,
    },
}

/// The counters of one device's receipts, taken in counter order (a log's
/// rows may commit in another order than the device answered): within a
/// boot each must be the previous one plus one; a later boot's first one
/// must be the first counter of a block ([`crate::counter::BLOCK`]) above
/// the previous counter (the first receipt may be any value: a log may start
/// after the device did). Version-1 receipts, and devices without a lasting
/// counter, are boot 0: there, every receipt is the previous plus one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sequence {
    last: Option<(u32, u64)>,
}

impl Sequence {
    /// No receipt seen yet.
    #[must_use]
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// The last counter accepted.
    #[must_use]
    pub fn last(&self) -> Option<u64> {
        self.last.map(|(_, c)| c)
    }

    /// Takes the next receipt's boot and counter. The pair is recorded even
    /// when it is refused, so one missing receipt is reported once.
    ///
    /// # Errors
    /// [`Error::ReceiptCounterRepeat`] when the counter does not grow (or the
    /// boot goes back), [`Error::ReceiptCounterGap`] when it skips values
    /// within a boot, or a new boot's counter is not a block's first.
    pub fn next(&mut self, boot: u32, counter: u64) -> Result<Step, Error> {
        let previous = self.last.replace((boot, counter));
        let Some((pb, p)) = previous else {
            return Ok(Step::Next);
        };
        if counter <= p || boot < pb {
            return Err(Error::ReceiptCounterRepeat {
                previous: p,
                found: counter,
            });
        }
        let expected = p.saturating_add(1);
        if counter == expected && (boot == pb || is_block_start(counter)) {
            // A new boot's block may start right after the previous counter.
            return Ok(if boot == pb {
                Step::Next
            } else {
                Step::Restart {
                    from: expected,
                    to: counter,
                }
            });
        }
        if boot > pb && is_block_start(counter) {
            return Ok(Step::Restart {
                from: expected,
                to: counter,
            });
        }
        Err(Error::ReceiptCounterGap {
            expected: if boot > pb {
                crate::counter::next_block_start(p)
            } else {
                expected
            },
            found: counter,
        })
    }
}

#[cfg(test)]
#[path = "receipt_tests.rs"]
mod tests;
