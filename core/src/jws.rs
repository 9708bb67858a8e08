//! Compact JWS / JWT verification without a heap (RFC 7515 §5.2, RFC 7519 §7.2).
//!
//! Order of work: split into exactly three segments; decode and parse the
//! protected header strictly (distinct members, `alg` a string, `crit`
//! understood); choose the trusted key (by `kid`, else by algorithm; the key
//! decides the algorithm); decode the signature; verify it over the ASCII
//! `header.payload`; only then decode the payload into the caller's buffer.
//! Nothing from the payload is read before its signature has verified.
//!
//! Header and claims are read with the core's strict JSON reader rather than
//! `serde-json-core`: the latter cannot report a repeated member and cannot
//! borrow strings that hold escapes, and both matter here (RFC 7515 §4 lets a
//! parser take the last of two `alg` members; an attacker relies on that).

use crate::b64;
use crate::decimal;
use crate::error::Error;
use crate::hex;
use crate::json::{JsonStr, Kind, Value, pick_members};
use crate::keys::KeySet;
use crate::sig::{Alg, Backend};

/// Largest decoded protected header accepted (bytes); ours are ~40.
pub const MAX_HEADER: usize = 512;
/// Nesting limit for headers and claims: flat objects with small arrays.
const DEPTH: usize = 4;
/// Most members a header or claim set may have (the pairwise duplicate
/// check is quadratic, so it is bounded).
const MAX_MEMBERS: usize = 32;

/// What verifying the signature established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified<'p> {
    /// The algorithm the trusted key (and the header) named.
    pub alg: Alg,
    /// The decoded payload (the JWT claims set's JSON text).
    pub payload: &'p [u8],
}

/// Verifies a compact JWS against the trusted keys and returns its payload,
/// decoded into `payload_buf`. Never panics.
///
/// # Errors
/// [`Error::TokenMalformed`], [`Error::Base64`], [`Error::TokenTooLarge`],
/// [`Error::HeaderMalformed`], [`Error::DuplicateHeaderMember`],
/// [`Error::AlgNone`], [`Error::AlgUnsupported`], [`Error::CritMalformed`],
/// [`Error::CritUnsupported`], [`Error::UnknownKid`], [`Error::AlgMismatch`],
/// [`Error::NoMatchingKey`], [`Error::BadSignature`].
pub fn verify<'p, B: Backend, const N: usize>(
    token: &[u8],
    keys: &KeySet<B, N>,
    payload_buf: &'p mut [u8],
) -> Result<Verified<'p>, Error> {
    let mut parts = token.split(|&b| b == b'.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Error::TokenMalformed);
    };
    if h64.is_empty() || p64.is_empty() {
        return Err(Error::TokenMalformed);
    }
    let p_at = h64.len().saturating_add(1);
    let s_at = p_at.saturating_add(p64.len()).saturating_add(1);
    let signing_input = token
        .get(..s_at.saturating_sub(1))
        .ok_or(Error::TokenMalformed)?;

    // Header.
    let mut hbuf = [0u8; MAX_HEADER];
    let header = b64::decode(h64, &mut hbuf, 0)?;
    let h = Value::parse(header, DEPTH).map_err(|_| Error::HeaderMalformed)?;
    if h.kind() != Kind::Object {
        return Err(Error::HeaderMalformed);
    }
    let [alg, crit, kid] =
        pick_members::<3, MAX_MEMBERS>(&h, ["alg", "crit", "kid"], Error::DuplicateHeaderMember)?;
    let alg = alg.and_then(|v| v.as_str()).ok_or(Error::HeaderMalformed)?;
    let alg = if alg.eq_str("ES256") {
        Alg::Es256
    } else if alg.eq_str("EdDSA") {
        Alg::EdDsa
    } else if alg.eq_str("none") {
        return Err(Error::AlgNone);
    } else {
        return Err(Error::AlgUnsupported);
    };
    if let Some(crit) = crit {
        // RFC 7515 §4.1.11: a non-empty array of names; we implement no
        // extension, so any name in it is one we do not understand.
        if crit.kind() != Kind::Array {
            return Err(Error::CritMalformed);
        }
        let mut n = 0usize;
        for e in crit.elements() {
            if e.kind() != Kind::String {
                return Err(Error::CritMalformed);
            }
            n = n.saturating_add(1);
        }
        return Err(if n == 0 {
            Error::CritMalformed
        } else {
            Error::CritUnsupported
        });
    }
    let kid = match kid {
        None => None,
        Some(v) => Some(
            v.as_str()
                .and_then(|s| s.as_unescaped())
                .ok_or(Error::HeaderMalformed)?,
        ),
    };
    let key = keys.select(kid.map(str::as_bytes), alg)?;
    if s64.is_empty() {
        return Err(Error::TokenMalformed);
    }

    // Signature: both algorithms sign 64 bytes.
    let mut sbuf = [0u8; 64];
    if b64::decoded_len(s64.len()) != Some(64) {
        // Wrong size (or undecodable): still reject canonical-encoding errors as such.
        let mut big = [0u8; 96];
        b64::decode(s64, &mut big, s_at).map_err(|e| match e {
            Error::TokenTooLarge { .. } => Error::BadSignature,
            e => e,
        })?;
        return Err(Error::BadSignature);
    }
    let sig = b64::decode(s64, &mut sbuf, s_at)?;
    key.verify(signing_input, sig)?;

    let payload = b64::decode(p64, payload_buf, p_at)?;
    Ok(Verified { alg, payload })
}

/// The registered and ArmorIQ claims of an intent token (SPEC §4).
#[derive(Clone, Copy, Debug)]
pub struct Claims<'a> {
    /// `iss`.
    pub iss: Option<JsonStr<'a>>,
    /// `sub`: the user id or email.
    pub sub: Option<JsonStr<'a>>,
    /// `aud`: a string or an array of strings.
    pub aud: Option<Value<'a>>,
    /// `exp`, seconds since the epoch; a non-integer NumericDate rounded
    /// up, which keeps the whole-second checks exact (see [`Claims::parse`]).
    pub exp: Option<i64>,
    /// `nbf`, rounded up as `exp` is.
    pub nbf: Option<i64>,
    /// `iat`, rounded up as `exp` is.
    pub iat: Option<i64>,
    /// `jti`: the intent reference.
    pub jti: Option<JsonStr<'a>>,
    /// `plan_id`.
    pub plan_id: Option<JsonStr<'a>>,
    /// `agent_id`.
    pub agent_id: Option<JsonStr<'a>>,
    /// `plan_hash`, decoded from 64 hex characters.
    pub plan_hash: Option<[u8; 32]>,
    /// `merkle_root`, decoded from 64 hex characters.
    pub merkle_root: Option<[u8; 32]>,
    /// `step_count`.
    pub step_count: Option<u64>,
}

/// What the caller expects of a token's claims.
#[derive(Clone, Copy, Debug, Default)]
pub struct Expect<'e> {
    /// The caller's clock, seconds since the epoch (the core has no clock).
    pub now: i64,
    /// Allowed clock skew in seconds, applied to `exp`, `nbf` and `iat`.
    pub leeway: u64,
    /// The audience this verifier is (`aud` must contain it), if checked.
    pub audience: Option<&'e str>,
    /// The issuer expected in `iss`, if checked.
    pub issuer: Option<&'e str>,
}

/// An RFC 7519 §2 NumericDate as whole seconds: the integer itself, or for
/// a number with a fraction or an exponent (`1700000000.5`, `1.7e9`: valid
/// JSON numbers, and RFC 7519 allows non-integer values), the double
/// nearest the literal (as JSON parsers such as PyJWT's read it) rounded
/// **up**. Every time check compares the date with a whole `now` (and a
/// whole leeway), and for a whole `n`:
/// `n >= x ⇔ n >= ⌈x⌉`, `n < x ⇔ n < ⌈x⌉`, `x > n ⇔ ⌈x⌉ > n`, so the
/// ceiling keeps `exp`, `nbf` and `iat` exact: a token with `exp`
/// `1700000000.5` is still valid at `now` `1700000000` and expired at
/// `1700000001` (leeway 0); with `nbf` `1700000000.5` it becomes valid at
/// `1700000001`. Negative dates (before 1970) are NumericDates too.
///
/// # Errors
/// [`Error::InvalidClaim`] for a non-number, or a non-integer whose double
/// is not within `[-9e15, 9e15)` (infinite ones included).
fn numeric_date(v: Value<'_>, claim: &'static str) -> Result<i64, Error> {
    let text = core::str::from_utf8(v.bytes()).map_err(|_| Error::InvalidClaim { claim })?;
    if v.kind() != Kind::Number {
        return Err(Error::InvalidClaim { claim });
    }
    if let Ok(i) = text.parse::<i64>() {
        return Ok(i);
    }
    let bits = decimal::to_bits(v.bytes()).ok_or(Error::InvalidClaim { claim })?;
    ceil_seconds(bits).ok_or(Error::InvalidClaim { claim })
}

/// `⌈x⌉` for the double `x` with these `bits` if `-9e15 ≤ x < 9e15`, else
/// `None`; read off the bits, no floating-point arithmetic (the firmware
/// has no double-precision FPU).
fn ceil_seconds(bits: u64) -> Option<i64> {
    const LIMIT: u64 = 9.0e15_f64.to_bits();
    const FRACTION_BITS: u32 = 52;
    let negative = bits >> 63 != 0;
    let magnitude = bits & !(1 << 63);
    // Magnitudes order like their bit patterns; infinity lies above.
    if magnitude > LIMIT || (magnitude == LIMIT && !negative) {
        return None;
    }
    let biased = magnitude >> FRACTION_BITS;
    let fraction = magnitude & ((1 << FRACTION_BITS) - 1);
    // |x| = mant × 2^-shift, and shift ≥ 0 as |x| < 2^53.
    let (mant, shift) = if biased == 0 {
        (fraction, 1074)
    } else {
        (
            fraction | (1 << FRACTION_BITS),
            1075u64.saturating_sub(biased),
        )
    };
    let shift = u32::try_from(shift).unwrap_or(u32::MAX);
    // ⌊|x|⌋, and whether |x| has a fraction.
    let whole = i64::try_from(mant.checked_shr(shift).unwrap_or(0)).ok()?;
    let below = mant
        .checked_shl(64u32.saturating_sub(shift))
        .unwrap_or(mant);
    let has_fraction = shift != 0 && below != 0;
    // ⌈x⌉ = ⌊x⌋ + 1 for x ≥ 0 with a fraction; ⌈-y⌉ = -⌊y⌋.
    Some(if negative {
        whole.saturating_neg()
    } else {
        whole.saturating_add(i64::from(has_fraction))
    })
}

fn digest(v: Value<'_>, claim: &'static str) -> Result<[u8; 32], Error> {
    let s = v
        .as_str()
        .and_then(|s| s.as_unescaped())
        .ok_or(Error::InvalidClaim { claim })?;
    hex::decode::<32>(s.as_bytes()).map_err(|_| Error::InvalidClaim { claim })
}

fn string<'a>(v: Value<'a>, claim: &'static str) -> Result<JsonStr<'a>, Error> {
    v.as_str().ok_or(Error::InvalidClaim { claim })
}

impl<'a> Claims<'a> {
    /// Parses a claims set strictly: a JSON object with distinct members, each
    /// known claim of the right type. A NumericDate (`exp`, `nbf`, `iat`)
    /// with a fraction or an exponent is read as the nearest double rounded
    /// up to whole seconds, which keeps [`Claims::check`]'s whole-second
    /// comparisons exactly RFC 7519's (`1700000000.5` is valid at
    /// `1700000000`, expired at `1700000001`).
    ///
    /// # Errors
    /// [`Error::ClaimsMalformed`], [`Error::InvalidClaim`].
    pub fn parse(payload: &'a [u8]) -> Result<Self, Error> {
        let v = Value::parse(payload, DEPTH).map_err(|_| Error::ClaimsMalformed)?;
        if v.kind() != Kind::Object {
            return Err(Error::ClaimsMalformed);
        }
        let mut seen: [Option<JsonStr<'a>>; MAX_MEMBERS] = [None; MAX_MEMBERS];
        let mut c = Self {
            iss: None,
            sub: None,
            aud: None,
            exp: None,
            nbf: None,
            iat: None,
            jti: None,
            plan_id: None,
            agent_id: None,
            plan_hash: None,
            merkle_root: None,
            step_count: None,
        };
        for (i, (k, val)) in v.members().enumerate() {
            // Distinct names, checked in the same pass.
            if seen
                .get(..i)
                .unwrap_or_default()
                .iter()
                .flatten()
                .any(|p| p.same(&k))
            {
                return Err(Error::ClaimsMalformed);
            }
            *seen.get_mut(i).ok_or(Error::ClaimsMalformed)? = Some(k);
            // A name with an escape is no claim we know (ours are plain ASCII).
            let Some(name) = k.unescaped_bytes() else {
                continue;
            };
            match name {
                b"iss" => c.iss = Some(string(val, "iss")?),
                b"sub" => c.sub = Some(string(val, "sub")?),
                b"jti" => c.jti = Some(string(val, "jti")?),
                b"plan_id" => c.plan_id = Some(string(val, "plan_id")?),
                b"agent_id" => c.agent_id = Some(string(val, "agent_id")?),
                b"aud" => {
                    let ok = match val.kind() {
                        Kind::String => true,
                        Kind::Array => val.elements().all(|e| e.kind() == Kind::String),
                        _ => false,
                    };
                    if !ok {
                        return Err(Error::InvalidClaim { claim: "aud" });
                    }
                    c.aud = Some(val);
                }
                b"exp" => c.exp = Some(numeric_date(val, "exp")?),
                b"nbf" => c.nbf = Some(numeric_date(val, "nbf")?),
                b"iat" => c.iat = Some(numeric_date(val, "iat")?),
                b"plan_hash" => c.plan_hash = Some(digest(val, "plan_hash")?),
                b"merkle_root" => c.merkle_root = Some(digest(val, "merkle_root")?),
                b"step_count" => {
                    let t = core::str::from_utf8(val.bytes()).unwrap_or("");
                    let n = t.parse::<u64>().ok().filter(|&n| n > 0);
                    c.step_count = Some(n.ok_or(Error::InvalidClaim {
                        claim: "step_count",
                    })?);
                }
                _ => {}
            }
        }
        Ok(c)
    }

    /// The time checks (RFC 7519 §4.1.4–4.1.6, with `leeway`), `aud` and
    /// `iss` when expected, and the presence of the intent claims
    /// `exp`, `jti`, `plan_hash`, `merkle_root`, `step_count`.
    ///
    /// # Errors
    /// [`Error::MissingClaim`], [`Error::Expired`], [`Error::NotYetValid`],
    /// [`Error::IssuedInFuture`], [`Error::AudienceMismatch`], [`Error::IssuerMismatch`].
    pub fn check(&self, e: &Expect<'_>) -> Result<(), Error> {
        let leeway = i64::try_from(e.leeway).unwrap_or(i64::MAX);
        let exp = self.exp.ok_or(Error::MissingClaim { claim: "exp" })?;
        // RFC 7519 §4.1.4: the token must not be accepted "on or after" `exp`.
        if e.now >= exp.saturating_add(leeway) {
            return Err(Error::Expired { now: e.now, exp });
        }
        if let Some(nbf) = self.nbf
            && e.now < nbf.saturating_sub(leeway)
        {
            return Err(Error::NotYetValid { now: e.now, nbf });
        }
        if let Some(iat) = self.iat
            && iat > e.now.saturating_add(leeway)
        {
            return Err(Error::IssuedInFuture { now: e.now, iat });
        }
        if let Some(want) = e.audience {
            let ok = match self.aud {
                Some(v) if v.kind() == Kind::String => v.as_str().is_some_and(|s| s.eq_str(want)),
                Some(v) => v
                    .elements()
                    .any(|x| x.as_str().is_some_and(|s| s.eq_str(want))),
                None => false,
            };
            if !ok {
                return Err(Error::AudienceMismatch);
            }
        }
        if let Some(want) = e.issuer
            && !self.iss.is_some_and(|s| s.eq_str(want))
        {
            return Err(Error::IssuerMismatch);
        }
        self.jti.ok_or(Error::MissingClaim { claim: "jti" })?;
        self.plan_hash
            .ok_or(Error::MissingClaim { claim: "plan_hash" })?;
        self.merkle_root.ok_or(Error::MissingClaim {
            claim: "merkle_root",
        })?;
        self.step_count.ok_or(Error::MissingClaim {
            claim: "step_count",
        })?;
        Ok(())
    }
}
