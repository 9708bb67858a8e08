//! The verifier device's signed receipts (SPEC §7).
//!
//! For every call it accepts, the device signs with its own Ed25519 key a
//! fixed 125-byte body:
//!
//! ```text
//! off len
//!   0   4  magic "AQR1"
//!   4  16  device id: SHA-256(device public key)[..16]
//!  20   8  counter, u64 little-endian: 1, 2, 3, … per receipt since provisioning
//!  28  32  SHA-256 of the token's `jti` (UTF-8, escapes decoded)
//!  60  32  the step's leaf hash, SHA-256(0x00 ‖ canonical(step))
//!  92  32  the call hash (see [`call_hash`])
//! 124   1  verdict: 1 = accepted
//! ```
//!
//! and the receipt is the body followed by the 64-byte signature (plain
//! Ed25519 over the body, RFC 8032). A host checks one with
//! [`Receipt::verify`] (through any [`Backend`], strict verification) and a
//! log's receipts in order with [`Sequence`]: a counter that skips values is a
//! missing receipt, one that does not grow a repeated one.
//!
//! Everything here is bounded and allocation-free; nothing panics.

use crate::b64;
use crate::canon::{Canonicalizer, Profile};
use crate::error::Error;
use crate::jws::Claims;
use crate::sig::Backend;
use sha2::{Digest, Sha256};

/// The body's first four bytes.
pub const MAGIC: [u8; 4] = *b"AQR1";
/// Length of the signed body.
pub const BODY_LEN: usize = 125;
/// Length of the signature.
pub const SIGNATURE_LEN: usize = 64;
/// Length of a whole receipt (body and signature).
pub const RECEIPT_LEN: usize = BODY_LEN + SIGNATURE_LEN;
/// Length of a device id.
pub const DEVICE_ID_LEN: usize = 16;
/// The verdict byte of an accepted call (the only verdict signed today).
pub const VERDICT_ACCEPTED: u8 = 1;

/// What a receipt says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReceiptBody {
    /// The signing device ([`device_id`] of its public key).
    pub device_id: [u8; DEVICE_ID_LEN],
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
    /// The signed bytes.
    #[must_use]
    pub fn to_bytes(&self) -> [u8; BODY_LEN] {
        let mut b = [0u8; BODY_LEN];
        put(&mut b, 0, &MAGIC);
        put(&mut b, 4, &self.device_id);
        put(&mut b, 20, &self.counter.to_le_bytes());
        put(&mut b, 28, &self.jti_hash);
        put(&mut b, 60, &self.leaf_hash);
        put(&mut b, 92, &self.call_hash);
        put(&mut b, 124, &[self.verdict]);
        b
    }

    /// Reads a body.
    ///
    /// # Errors
    /// [`Error::ReceiptMalformed`]: not [`BODY_LEN`] bytes, another magic, or
    /// a verdict other than [`VERDICT_ACCEPTED`].
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        if b.len() != BODY_LEN || take::<4>(b, 0)? != MAGIC {
            return Err(Error::ReceiptMalformed);
        }
        let body = Self {
            device_id: take(b, 4)?,
            counter: u64::from_le_bytes(take(b, 20)?),
            jti_hash: take(b, 28)?,
            leaf_hash: take(b, 60)?,
            call_hash: take(b, 92)?,
            verdict: u8::from_le_bytes(take(b, 124)?),
        };
        if body.verdict != VERDICT_ACCEPTED {
            return Err(Error::ReceiptMalformed);
        }
        Ok(body)
    }
}

/// A signed receipt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// What it says.
    pub body: ReceiptBody,
    /// The signed bytes (as received).
    pub signed: [u8; BODY_LEN],
    /// The Ed25519 signature over `signed`.
    pub signature: [u8; SIGNATURE_LEN],
}

impl Receipt {
    /// Reads a receipt: body then signature.
    ///
    /// # Errors
    /// [`Error::ReceiptMalformed`].
    pub fn parse(b: &[u8]) -> Result<Self, Error> {
        if b.len() != RECEIPT_LEN {
            return Err(Error::ReceiptMalformed);
        }
        let signed: [u8; BODY_LEN] = take(b, 0)?;
        Ok(Self {
            body: ReceiptBody::parse(&signed)?,
            signed,
            signature: take(b, BODY_LEN)?,
        })
    }

    /// Checks that the receipt names the device of `public_key` and that
    /// `key` (the same key, parsed by the backend) signed it.
    ///
    /// # Errors
    /// [`Error::ReceiptDeviceMismatch`], [`Error::BadSignature`].
    pub fn verify<B: Backend>(
        &self,
        public_key: &[u8; 32],
        key: &B::Ed25519Key,
    ) -> Result<(), Error> {
        if self.body.device_id != device_id(public_key) {
            return Err(Error::ReceiptDeviceMismatch);
        }
        B::verify_ed25519(key, &self.signed, &self.signature)
    }
}

/// A device's id: the first 16 bytes of SHA-256 of its Ed25519 public key.
#[must_use]
pub fn device_id(public_key: &[u8; 32]) -> [u8; DEVICE_ID_LEN] {
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
    let mut h = Sha256::new();
    if let Some(raw) = jti.unescaped_bytes() {
        h.update(raw);
    } else {
        let mut utf8 = [0u8; 4];
        for c in jti.chars() {
            h.update(c.encode_utf8(&mut utf8).as_bytes());
        }
    }
    Ok(h.finalize().into())
}

/// The counters of one device's receipts, taken in counter order (a log's
/// rows may commit in another order than the device answered): each must be
/// the previous one plus one (the first may be any value: a log may start
/// after the device did).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Sequence {
    last: Option<u64>,
}

impl Sequence {
    /// No receipt seen yet.
    #[must_use]
    pub const fn new() -> Self {
        Self { last: None }
    }

    /// The last counter accepted.
    #[must_use]
    pub const fn last(&self) -> Option<u64> {
        self.last
    }

    /// Takes the next receipt's counter. The counter is recorded even when
    /// it is refused, so one missing receipt is reported once.
    ///
    /// # Errors
    /// [`Error::ReceiptCounterRepeat`] when it does not grow,
    /// [`Error::ReceiptCounterGap`] when it skips values.
    pub fn next(&mut self, counter: u64) -> Result<(), Error> {
        let previous = self.last.replace(counter);
        match previous {
            None => Ok(()),
            Some(p) if counter <= p => Err(Error::ReceiptCounterRepeat {
                previous: p,
                found: counter,
            }),
            Some(p) if Some(counter) != p.checked_add(1) => Err(Error::ReceiptCounterGap {
                expected: p.saturating_add(1),
                found: counter,
            }),
            Some(_) => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RustCrypto;
    use ed25519_dalek::{Signer, SigningKey};

    fn body(counter: u64) -> ReceiptBody {
        ReceiptBody {
            device_id: [7; 16],
            counter,
            jti_hash: [1; 32],
            leaf_hash: [2; 32],
            call_hash: [3; 32],
            verdict: VERDICT_ACCEPTED,
        }
    }

    #[test]
    fn body_round_trips_and_refuses_other_bytes() {
        let b = body(42);
        let bytes = b.to_bytes();
        assert_eq!(&bytes[..4], b"AQR1");
        assert_eq!(&bytes[20..28], &42u64.to_le_bytes());
        assert_eq!(ReceiptBody::parse(&bytes), Ok(b));
        assert_eq!(
            ReceiptBody::parse(&bytes[..124]),
            Err(Error::ReceiptMalformed)
        );
        let mut bad = bytes;
        bad[0] = b'X';
        assert_eq!(ReceiptBody::parse(&bad), Err(Error::ReceiptMalformed));
        let mut bad = bytes;
        bad[124] = 0;
        assert_eq!(ReceiptBody::parse(&bad), Err(Error::ReceiptMalformed));
    }

    #[test]
    fn signed_receipts_verify_and_altered_ones_do_not() {
        let sk = SigningKey::from_bytes(&[9; 32]);
        let pk = sk.verifying_key().to_bytes();
        let mut b = body(1);
        b.device_id = device_id(&pk);
        let signed = b.to_bytes();
        let sig = sk.sign(&signed).to_bytes();
        let mut whole = [0u8; RECEIPT_LEN];
        whole[..BODY_LEN].copy_from_slice(&signed);
        whole[BODY_LEN..].copy_from_slice(&sig);
        let key = RustCrypto::ed25519_key(&pk).unwrap();
        let r = Receipt::parse(&whole).unwrap();
        assert_eq!(r.verify::<RustCrypto>(&pk, &key), Ok(()));
        for at in [5, 25, 40, 70, 100, 130] {
            let mut bad = whole;
            bad[at] ^= 1;
            let got = Receipt::parse(&bad).and_then(|r| r.verify::<RustCrypto>(&pk, &key));
            assert!(got.is_err(), "byte {at} altered");
        }
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        let other_key = RustCrypto::ed25519_key(&other).unwrap();
        assert_eq!(
            r.verify::<RustCrypto>(&other, &other_key),
            Err(Error::ReceiptDeviceMismatch)
        );
    }

    #[test]
    fn sequence_reports_gaps_and_repeats() {
        let mut s = Sequence::new();
        assert_eq!(s.next(5), Ok(()));
        assert_eq!(s.next(6), Ok(()));
        assert_eq!(
            s.next(8),
            Err(Error::ReceiptCounterGap {
                expected: 7,
                found: 8
            })
        );
        assert_eq!(s.next(9), Ok(()));
        assert_eq!(
            s.next(9),
            Err(Error::ReceiptCounterRepeat {
                previous: 9,
                found: 9
            })
        );
        assert_eq!(
            s.next(u64::MAX),
            Err(Error::ReceiptCounterGap {
                expected: 10,
                found: u64::MAX
            })
        );
        assert!(s.next(0).is_err());
    }

    #[test]
    fn call_hash_is_canonical_and_binds_every_part() {
        let mut c = Canonicalizer::<8, 16>::new();
        let a = call_hash(&mut c, "m", "a", Some(br#"{"b":1,"a":2}"#)).unwrap();
        let b = call_hash(&mut c, "m", "a", Some(br#"{ "a":2, "b":1.0e0 }"#)).unwrap();
        assert_ne!(a, b, "1 and 1.0 are different canonical numbers");
        let b = call_hash(&mut c, "m", "a", Some(br#"{ "a":2, "b":1 }"#)).unwrap();
        assert_eq!(a, b);
        assert_ne!(
            a,
            call_hash(&mut c, "ma", "", Some(br#"{"a":2,"b":1}"#)).unwrap()
        );
        assert_eq!(
            call_hash(&mut c, "m", "a", None).unwrap(),
            call_hash(&mut c, "m", "a", Some(b"{}")).unwrap()
        );
        let mut h = Sha256::new();
        h.update([1, 0, b'm', 1, 0, b'a']);
        h.update(br#"{"a":2,"b":1}"#);
        assert_eq!(a, <[u8; 32]>::from(h.finalize()));
    }

    #[test]
    fn jti_hash_reads_the_claim() {
        use base64::Engine as _;
        let claims = br#"{"jti":"ab\u0063","exp":1}"#;
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
        let token = [b"e30.".as_slice(), enc.as_bytes(), b".c2k"].concat();
        let mut buf = [0u8; 128];
        let got = jti_hash(&token, &mut buf).unwrap();
        assert_eq!(got, jti_text_hash("abc"));
        assert_eq!(
            jti_hash(b"e30.e30.c2k", &mut buf),
            Err(Error::MissingClaim { claim: "jti" })
        );
        assert_eq!(jti_hash(b"e30.e30", &mut buf), Err(Error::TokenMalformed));
    }
}
