//! The ArmorIQ CSRG token object (`response.token`), as the official SDK's
//! `crypto_verify.verify_intent_token_signature` checks it: Ed25519 (RFC 8032)
//! over the `armoriq` canonical JSON of `plan_hash, issued_at, expires_at,
//! policy, identity, public_key, version` (a missing one signed as `null`),
//! plus `allowed_operations` and `resource_scope` when they are truthy in
//! Python's sense. Other members (`signature`, `token_id`, `step_proofs`, …)
//! are not signed. Key and signature are hex.

use crate::canon::{Canonicalizer, Profile, SliceSink};
use crate::decimal;
use crate::error::Error;
use crate::hex;
use crate::json::{Kind, Value};
use crate::sig::Backend;

const SIGNED: [&str; 7] = [
    "plan_hash",
    "issued_at",
    "expires_at",
    "policy",
    "identity",
    "public_key",
    "version",
];
const OPTIONAL: [&str; 2] = ["allowed_operations", "resource_scope"];

/// What a verified CSRG token says.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CsrgToken<'a> {
    /// `plan_hash` as the token states it (a string).
    pub plan_hash: &'a str,
    /// `expires_at`, seconds since the epoch.
    pub expires_at: f64,
    /// The embedded signer key.
    pub public_key: [u8; 32],
}

fn truthy(v: &Value<'_>) -> bool {
    match v.kind() {
        Kind::Null => false,
        Kind::Bool => v.bytes() == b"true",
        // Python's `bool(float)`: a literal that underflows to 0.0 is false.
        Kind::Number => decimal::to_bits(v.bytes()).is_some_and(|x| x << 1 != 0),
        Kind::String => v.bytes().len() > 2,
        Kind::Array => v.elements().next().is_some(),
        Kind::Object => v.members().next().is_some(),
    }
}

struct Writer<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl Writer<'_> {
    fn put(&mut self, b: &[u8]) -> Result<(), Error> {
        let capacity = self.buf.len();
        let end = self
            .len
            .checked_add(b.len())
            .ok_or(Error::OutputFull { capacity })?;
        self.buf
            .get_mut(self.len..end)
            .ok_or(Error::OutputFull { capacity })?
            .copy_from_slice(b);
        self.len = end;
        Ok(())
    }
}

/// Verifies a CSRG token object (its JSON text). `scratch` holds the signed
/// object and its canonical form (twice the token's size is always enough).
/// When `trusted` is given the embedded `public_key` must be that key: the
/// official SDK verifies with whatever key the token carries, which proves
/// only that *someone* signed it.
///
/// # Errors
/// [`Error::ClaimsMalformed`] for a token that is not an object with distinct
/// members; [`Error::InvalidClaim`] for a missing or malformed `signature` or
/// `public_key`; [`Error::UnknownKid`] for an untrusted key;
/// [`Error::BadSignature`]; [`Error::OutputFull`] when `scratch` is too small.
pub fn verify<'a, B: Backend>(
    token: &'a [u8],
    trusted: Option<&[u8; 32]>,
    scratch: &mut [u8],
) -> Result<CsrgToken<'a>, Error> {
    let v = Value::parse(token, 16).map_err(|_| Error::ClaimsMalformed)?;
    if v.kind() != Kind::Object {
        return Err(Error::ClaimsMalformed);
    }
    let get = |name: &str| -> Result<Option<Value<'a>>, Error> {
        let mut found = None;
        for (k, val) in v.members() {
            if k.eq_str(name) {
                if found.is_some() {
                    return Err(Error::ClaimsMalformed);
                }
                found = Some(val);
            }
        }
        Ok(found)
    };
    let hex_field = |name: &'static str| -> Result<&'a str, Error> {
        get(name)?
            .and_then(|x| x.as_str())
            .and_then(|s| s.as_unescaped())
            .map(str::trim)
            .ok_or(Error::InvalidClaim { claim: name })
    };
    let public_key = hex::decode::<32>(hex_field("public_key")?.as_bytes()).map_err(|_| {
        Error::InvalidClaim {
            claim: "public_key",
        }
    })?;
    let signature = hex::decode::<64>(hex_field("signature")?.as_bytes())
        .map_err(|_| Error::InvalidClaim { claim: "signature" })?;
    if trusted.is_some_and(|t| t != &public_key) {
        return Err(Error::UnknownKid);
    }

    // The signed object, then its canonical form, both in `scratch`.
    let half = scratch.len() / 2;
    let (obj_buf, canon_buf) = scratch.split_at_mut(half);
    let mut w = Writer {
        buf: obj_buf,
        len: 0,
    };
    w.put(b"{")?;
    let mut first = true;
    for name in SIGNED.iter().chain(OPTIONAL.iter()) {
        let val = get(name)?;
        let optional = OPTIONAL.contains(name);
        if optional && !val.as_ref().is_some_and(truthy) {
            continue;
        }
        if !first {
            w.put(b",")?;
        }
        first = false;
        w.put(b"\"")?;
        w.put(name.as_bytes())?;
        w.put(b"\":")?;
        w.put(val.map_or(&b"null"[..], |x| x.bytes()))?;
    }
    w.put(b"}")?;
    let obj = w.buf.get(..w.len).unwrap_or_default();
    let mut sink = SliceSink::new(canon_buf);
    Canonicalizer::<16, 64>::new().canonicalize(obj, Profile::ArmorIq, &mut sink)?;
    let key = B::ed25519_key(&public_key)?;
    B::verify_ed25519(&key, sink.written(), &signature)?;

    let plan_hash = get("plan_hash")?
        .and_then(|x| x.as_str())
        .and_then(|s| s.as_unescaped())
        .ok_or(Error::InvalidClaim { claim: "plan_hash" })?;
    let expires_at = get("expires_at")?
        .filter(|x| x.kind() == Kind::Number)
        .and_then(|x| decimal::to_f64(x.bytes()))
        .ok_or(Error::InvalidClaim {
            claim: "expires_at",
        })?;
    Ok(CsrgToken {
        plan_hash,
        expires_at,
        public_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_truthy_as_python_floats() {
        for (text, want) in [
            ("0", false),
            ("-0", false),
            ("0.0", false),
            ("-0.0e10", false),
            ("0e99999999999999999999", false),
            // Underflows to 0.0 in Python too.
            ("1e-400", false),
            ("1", true),
            ("-0.5", true),
            ("5e-324", true),
            ("1e-320", true),
            ("1e400", true),
        ] {
            let got = Value::parse(text.as_bytes(), 4).map(|v| truthy(&v));
            assert_eq!(got, Ok(want), "{text}");
        }
    }
}
