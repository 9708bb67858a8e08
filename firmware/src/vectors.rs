//! The requests of the `test-vectors` images: Wycheproof's ECDSA vectors
//! through the bare verify (a key carried by the request) and RFC 6979's
//! through `SignVector`. In other images neither exists.

use crate::es256;
use armoriq_frame::{self as frame, Response};

/// With the `test-vectors` feature (test images only): an ES256 bare verify
/// whose token is `b64url(key) "." msg "." b64url(sig)`, with `key` an
/// uncompressed P-256 point, brings its own key, so that Wycheproof's vectors
/// (one key per test group) run through the device's P-256 backend: the key
/// parsed as at boot (a key off the curve is refused), and the message and
/// signature as the bytes after the first dot. `None` for any other token (a
/// JWS header is JSON, never a point), and always without the feature.
pub fn vector_key(
    alg: frame::Alg,
    msg: &[u8],
) -> Option<(Result<es256::P256Key, armoriq_core::Error>, &[u8])> {
    if !cfg!(feature = "test-vectors") || alg != frame::Alg::Es256 {
        return None;
    }
    let dot = msg.iter().position(|&b| b == b'.')?;
    let (key64, rest) = msg.split_at(dot);
    let mut sec1 = [0u8; 65];
    let sec1 = armoriq_core::b64::decode(key64, &mut sec1, 0).ok()?;
    if sec1.len() != 65 || sec1.first() != Some(&0x04) {
        return None;
    }
    Some((es256::key(sec1), rest.get(1..).unwrap_or_default()))
}

/// An RFC 6979 ECDSA P-256 / SHA-256 signature of `msg` with the private
/// scalar `key`, through the receipt signer (`test-vectors` images with ES256
/// receipts: RFC 6979's A.2.5 vectors); `ticks` reads the time it took. Any
/// other image answers "unknown type", as a firmware that predates the request.
pub fn sign(key: &[u8; 32], msg: &[u8], ticks: impl Fn() -> u32) -> Response<'static> {
    #[cfg(all(
        feature = "test-vectors",
        any(armoriq_receipt = "es256-cm4", armoriq_receipt = "es256-rustcrypto")
    ))]
    {
        if let Some(signature) = crate::receipt::sign_vector(key, msg) {
            return Response::Signed {
                signature,
                ticks: ticks(),
            };
        }
        Response::Rejected(frame::Rejected {
            kind: frame::RejectKind::InvalidInput,
            error: armoriq_core::Error::KeyInvalid.name(),
            ticks: 0,
        })
    }
    #[cfg(not(all(
        feature = "test-vectors",
        any(armoriq_receipt = "es256-cm4", armoriq_receipt = "es256-rustcrypto")
    )))]
    {
        let _ = (key, msg, ticks);
        Response::FrameError(frame::FrameErrorCode::UnknownType(frame::TYPE_SIGN_VECTOR))
    }
}
