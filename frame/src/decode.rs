//! Frames to messages: headers, payloads and their typed errors.

use crate::message::*;
use crate::wire::Reader;
use crate::*;

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

// `Receiver` knows its maximum only as a value (`CAP - OVERHEAD` cannot be a
// const generic argument on stable), so it uses these value-checked twins.
pub(crate) fn parse_header_cap(bytes: &[u8], max: usize) -> Result<Header, DecodeError> {
    let h = parse_header::<{ usize::MAX }>(bytes)?;
    if h.len > max {
        return Err(DecodeError::Oversized {
            len: u32::try_from(h.len).unwrap_or(u32::MAX),
            max: u32::try_from(max).unwrap_or(u32::MAX),
        });
    }
    Ok(h)
}

pub(crate) fn open_frame_cap(
    bytes: &[u8],
    max: usize,
) -> Result<(Header, &[u8], usize), DecodeError> {
    parse_header_cap(bytes, max)?;
    open_frame::<{ usize::MAX }>(bytes)
}
