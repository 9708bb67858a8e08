//! Messages to frames: `encode_request`, `encode_response`.

use crate::message::*;
use crate::wire::Writer;
use crate::*;

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
