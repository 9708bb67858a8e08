//! Unit tests and properties: round trips both ways, typed errors for
//! malformed, oversized and truncated frames, and no panics on any bytes.

extern crate std;

use super::*;
use proptest::prelude::*;
use std::string::String;
use std::vec;
use std::vec::Vec;

const MAX: usize = 4096;

fn sample_siblings() -> Vec<[u8; 32]> {
    (0..3u8).map(|i| [i; 32]).collect()
}

fn sample<'a>(sib: &'a [[u8; 32]]) -> Request<'a> {
    Request::Verify(VerifyRequest {
        now: 1_800_000_000,
        token: b"aaa.bbb.ccc",
        mcp: "weather-mcp",
        action: "get_weather",
        params: Some(br#"{"city":"Boston"}"#),
        step: br#"{"action":"get_weather","mcp":"weather-mcp"}"#,
        index: 1,
        tree_size: 3,
        siblings: sib,
    })
}

fn enc_req(r: &Request<'_>) -> Vec<u8> {
    let mut out = vec![0u8; MAX + OVERHEAD];
    let n = encode_request(r, &mut out).unwrap();
    out.truncate(n);
    out
}

fn enc_resp(r: &Response<'_>) -> Vec<u8> {
    let mut out = vec![0u8; 512];
    let n = encode_response(r, &mut out).unwrap();
    out.truncate(n);
    out
}

#[test]
fn request_round_trip() {
    let sib = sample_siblings();
    let req = sample(&sib);
    let bytes = enc_req(&req);
    assert_eq!(&bytes[..2], b"AQ");
    let (back, used) = decode_request::<MAX>(&bytes).unwrap();
    assert_eq!(back, req);
    assert_eq!(used, bytes.len());
    for r in [
        Request::Stats,
        Request::BareVerify {
            alg: Alg::EdDsa,
            token: b"x.y.z",
        },
    ] {
        let b = enc_req(&r);
        assert_eq!(decode_request::<MAX>(&b).unwrap(), (r, b.len()));
    }
}

#[test]
fn response_round_trip() {
    let all = [
        Response::Accepted(Accepted {
            index: 2,
            step_count: 3,
            exp: -5,
            plan_hash: [1; 32],
            merkle_root: [2; 32],
            leaf_hash: [3; 32],
            ticks: 77,
        }),
        Response::Rejected(Rejected {
            kind: RejectKind::TokenExpired,
            error: "Expired",
            ticks: 9,
        }),
        Response::FrameError(FrameErrorCode::Malformed(Field::Siblings)),
        Response::FrameError(FrameErrorCode::BadVersion(7)),
        Response::Stats(Stats {
            served: 1,
            frame_errors: 2,
            stack_peak: 3,
            stack_size: 4,
            keys: 5,
        }),
        Response::BareVerify {
            ok: true,
            ticks: 12,
        },
    ];
    for r in all {
        let b = enc_resp(&r);
        assert_eq!(decode_response::<256>(&b).unwrap(), (r, b.len()));
    }
}

#[test]
fn encode_errors() {
    let sib = sample_siblings();
    let req = sample(&sib);
    let full = enc_req(&req);
    let mut small = vec![0u8; full.len() - 1];
    assert_eq!(
        encode_request(&req, &mut small),
        Err(EncodeError::BufferTooSmall { need: full.len() })
    );
    let big = vec![b'a'; 70_000];
    let mut out = vec![0u8; 80_000];
    let r = Request::BareVerify {
        alg: Alg::Es256,
        token: &big,
    };
    assert_eq!(
        encode_request(&r, &mut out),
        Err(EncodeError::FieldTooLong {
            field: Field::Token
        })
    );
    let many = vec![[0u8; 32]; MAX_SIBLINGS + 1];
    let Request::Verify(v) = req else {
        unreachable!()
    };
    let r = Request::Verify(VerifyRequest {
        siblings: &many,
        ..v
    });
    assert_eq!(
        encode_request(&r, &mut out),
        Err(EncodeError::FieldTooLong {
            field: Field::Siblings
        })
    );
    let long_name = "x".repeat(MAX_ERROR_NAME + 1);
    let r = Response::Rejected(Rejected {
        kind: RejectKind::InvalidInput,
        error: &long_name,
        ticks: 0,
    });
    assert_eq!(
        encode_response(&r, &mut out),
        Err(EncodeError::FieldTooLong {
            field: Field::ErrorName
        })
    );
}

#[test]
fn truncated_frames_are_typed() {
    let sib = sample_siblings();
    let bytes = enc_req(&sample(&sib));
    for cut in 0..bytes.len() {
        let e = decode_request::<MAX>(&bytes[..cut]).unwrap_err();
        assert_eq!(
            e,
            DecodeError::Truncated {
                need: if cut < HEADER_LEN {
                    HEADER_LEN - cut
                } else {
                    bytes.len() - cut
                }
            },
            "cut at {cut}"
        );
    }
}

#[test]
fn header_errors() {
    let bytes = enc_req(&Request::Stats);
    let mut b = bytes.clone();
    b[0] = b'X';
    assert_eq!(decode_request::<MAX>(&b), Err(DecodeError::BadMagic));
    let mut b = bytes.clone();
    b[2] = 9;
    assert_eq!(
        decode_request::<MAX>(&b),
        Err(DecodeError::BadVersion { version: 9 })
    );
    let mut b = bytes.clone();
    b[4..8].copy_from_slice(&(MAX as u32 + 1).to_le_bytes());
    assert_eq!(
        decode_request::<MAX>(&b),
        Err(DecodeError::Oversized {
            len: MAX as u32 + 1,
            max: MAX as u32
        })
    );
    let mut b = bytes.clone();
    b[3] = 0x55;
    // The CRC covers the type: a changed type without a new CRC is a checksum error.
    assert!(matches!(
        decode_request::<MAX>(&b),
        Err(DecodeError::Checksum { .. })
    ));
}

/// Re-frames `payload` with a correct CRC, for testing payload errors.
fn reframe(ty: u8, payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&MAGIC);
    b.push(VERSION);
    b.push(ty);
    b.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    b.extend_from_slice(payload);
    let crc = crc32(&b[2..]);
    b.extend_from_slice(&crc.to_le_bytes());
    b
}

#[test]
fn payload_errors() {
    let sib = sample_siblings();
    let bytes = enc_req(&sample(&sib));
    let payload = &bytes[HEADER_LEN..bytes.len() - TRAILER_LEN];
    // Unknown type with a good CRC.
    assert_eq!(
        decode_request::<MAX>(&reframe(0x42, payload)),
        Err(DecodeError::UnknownType { ty: 0x42 })
    );
    // A response type is not a request, and vice versa.
    assert_eq!(
        decode_request::<MAX>(&reframe(TYPE_RESPONSE, payload)),
        Err(DecodeError::UnknownType { ty: TYPE_RESPONSE })
    );
    assert_eq!(
        decode_response::<MAX>(&bytes),
        Err(DecodeError::UnknownType { ty: TYPE_VERIFY })
    );
    // Trailing byte.
    let mut p = payload.to_vec();
    p.push(0);
    assert_eq!(
        decode_request::<MAX>(&reframe(TYPE_VERIFY, &p)),
        Err(DecodeError::Malformed {
            field: Field::Trailing
        })
    );
    // Every truncation of the payload is a Malformed field, never a panic.
    for cut in 0..payload.len() {
        let e = decode_request::<MAX>(&reframe(TYPE_VERIFY, &payload[..cut])).unwrap_err();
        assert!(matches!(e, DecodeError::Malformed { .. }), "{cut}: {e:?}");
    }
    // Non-UTF-8 mcp: offsets are now(8) index(8) tree(8) token(2+11) mcp len(2).
    let mut p = payload.to_vec();
    p[8 + 8 + 8 + 2 + 11 + 2] = 0xFF;
    assert_eq!(
        decode_request::<MAX>(&reframe(TYPE_VERIFY, &p)),
        Err(DecodeError::Malformed { field: Field::Mcp })
    );
    // Too many siblings announced.
    let mut p = payload.to_vec();
    let n_at = p.len() - 3 * 32 - 1;
    p[n_at] = 65;
    assert_eq!(
        decode_request::<MAX>(&reframe(TYPE_VERIFY, &p)),
        Err(DecodeError::Malformed {
            field: Field::Siblings
        })
    );
    // Bad params flag.
    let mut p = payload.to_vec();
    let flag_at = 8 + 8 + 8 + 2 + 11 + 2 + 11 + 2 + 11;
    assert_eq!(p[flag_at], 1);
    p[flag_at] = 2;
    assert_eq!(
        decode_request::<MAX>(&reframe(TYPE_VERIFY, &p)),
        Err(DecodeError::Malformed {
            field: Field::Params
        })
    );
}

#[test]
fn receiver_reassembles_and_resyncs() {
    let sib = sample_siblings();
    let a = enc_req(&sample(&sib));
    let b = enc_req(&Request::Stats);
    let mut stream = Vec::new();
    stream.extend_from_slice(b"garbage!!");
    stream.extend_from_slice(&a);
    stream.extend_from_slice(b"\x00\x01");
    stream.extend_from_slice(&b);
    let mut corrupt = a.clone();
    let last = corrupt.len() - 5;
    corrupt[last] ^= 0x40;
    stream.extend_from_slice(&corrupt);
    stream.extend_from_slice(&b);
    let mut rx = Receiver::<{ MAX + OVERHEAD }>::new();
    let mut events = Vec::new();
    for &byte in &stream {
        match rx.push(byte) {
            Progress::Pending => {}
            Progress::Frame => events.push(Ok(decode_request::<MAX>(rx.frame())
                .map(|(r, _)| matches!(r, Request::Stats))
                .unwrap())),
            Progress::Error(e) => events.push(Err(e)),
        }
    }
    assert_eq!(events.len(), 6, "{events:?}");
    assert_eq!(events[0], Err(DecodeError::BadMagic));
    assert_eq!(events[1], Ok(false));
    assert_eq!(events[2], Err(DecodeError::BadMagic));
    assert_eq!(events[3], Ok(true));
    assert!(matches!(events[4], Err(DecodeError::Checksum { .. })));
    assert_eq!(events[5], Ok(true));
}

#[test]
fn receiver_refuses_oversized_and_aborts_partial() {
    let sib = sample_siblings();
    let a = enc_req(&sample(&sib));
    let mut rx = Receiver::<64>::new();
    let mut got = None;
    for &byte in &a {
        if let Progress::Error(e) = rx.push(byte) {
            got = Some(e);
            break;
        }
    }
    assert_eq!(
        got,
        Some(DecodeError::Oversized {
            len: (a.len() - OVERHEAD) as u32,
            max: 52
        })
    );
    let mut rx = Receiver::<{ MAX + OVERHEAD }>::new();
    assert_eq!(rx.abort(), None);
    for &byte in &a[..20] {
        assert_eq!(rx.push(byte), Progress::Pending);
    }
    assert!(rx.is_partial());
    assert_eq!(
        rx.abort(),
        Some(DecodeError::Truncated { need: a.len() - 20 })
    );
    // And it serves the next whole frame.
    let b = enc_req(&Request::Stats);
    let last = b.iter().map(|&x| rx.push(x)).last();
    assert_eq!(last, Some(Progress::Frame));
    // A frame handed out is not a partial one: nothing to abort.
    assert!(!rx.is_partial());
    assert_eq!(rx.abort(), None);
    assert_eq!(rx.frame(), &b[..]);
}

/// now, index, tree_size, token, mcp, action, params, step, siblings.
type Parts = (
    i64,
    u64,
    u64,
    Vec<u8>,
    String,
    String,
    Option<Vec<u8>>,
    Vec<u8>,
    Vec<[u8; 32]>,
);

fn arb_request_parts() -> impl Strategy<Value = Parts> {
    (
        any::<i64>(),
        any::<u64>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..600),
        ".{0,40}",
        ".{0,40}",
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(any::<[u8; 32]>(), 0..=MAX_SIBLINGS),
    )
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = decode_request::<MAX>(&bytes);
        let _ = decode_response::<MAX>(&bytes);
        let _ = decode_request::<16>(&bytes);
        let mut rx = Receiver::<64>::new();
        for &b in &bytes {
            let _ = rx.push(b);
        }
    }

    #[test]
    fn arbitrary_payloads_with_good_crc_never_panic(
        ty in prop_oneof![Just(TYPE_VERIFY), Just(TYPE_STATS), Just(TYPE_BARE_VERIFY), Just(TYPE_RESPONSE), any::<u8>()],
        payload in proptest::collection::vec(any::<u8>(), 0..400),
    ) {
        let f = reframe(ty, &payload);
        let _ = decode_request::<MAX>(&f);
        let _ = decode_response::<MAX>(&f);
    }

    #[test]
    fn requests_round_trip(parts in arb_request_parts()) {
        let (now, index, tree_size, token, mcp, action, params, step, sib) = parts;
        let req = Request::Verify(VerifyRequest {
            now, token: &token, mcp: &mcp, action: &action, params: params.as_deref(),
            step: &step, index, tree_size, siblings: &sib,
        });
        let bytes = enc_req(&req);
        prop_assert_eq!(decode_request::<MAX>(&bytes).unwrap(), (req, bytes.len()));
        // The streaming receiver reassembles the same frame byte by byte.
        let mut rx = Receiver::<{ MAX + OVERHEAD }>::new();
        let last = bytes.iter().map(|&b| rx.push(b)).last();
        prop_assert_eq!(last, Some(Progress::Frame));
    }

    #[test]
    fn single_bit_flips_are_detected(seed in any::<u64>(), bit in any::<usize>()) {
        let sib = vec![[seed as u8; 32]; (seed % 5) as usize];
        let tok = seed.to_le_bytes();
        let req = Request::Verify(VerifyRequest {
            now: seed as i64, token: &tok, mcp: "m", action: "a", params: None,
            step: b"{}", index: seed, tree_size: seed.rotate_left(7), siblings: &sib,
        });
        let mut bytes = enc_req(&req);
        let bit = bit % (bytes.len() * 8);
        bytes[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(decode_request::<MAX>(&bytes).is_err());
    }

    #[test]
    fn responses_round_trip(
        status in 0u8..8, a in any::<u64>(), b in any::<u64>(), c in any::<i64>(),
        h in any::<[u8; 32]>(), t in any::<u32>(), name in "[A-Za-z]{0,64}", kind in 1u8..=4,
    ) {
        let receipt = [h[9]; RECEIPT_LEN];
        let resp = match status {
            0 => Response::Accepted(Accepted { index: a, step_count: b, exp: c, plan_hash: h, merkle_root: [h[0]; 32], leaf_hash: [h[1]; 32], ticks: t }),
            1 => Response::Rejected(Rejected { kind: RejectKind::from_u8(kind).unwrap(), error: &name, ticks: t }),
            2 => Response::FrameError(FrameErrorCode::from_bytes(kind, h[0]).unwrap_or(FrameErrorCode::Checksum)),
            3 => Response::Stats(Stats { served: t, frame_errors: t / 2, stack_peak: t / 3, stack_size: t / 4, keys: t / 5 }),
            4 => Response::BareVerify { ok: t % 2 == 0, ticks: t },
            5 => {
                let alg = if h[5] % 2 == 0 { DeviceKeyAlg::Ed25519 } else { DeviceKeyAlg::Es256 };
                let mut public_key = [0u8; MAX_DEVICE_KEY_LEN];
                public_key[..alg.key_len()].fill(h[6]);
                Response::DeviceInfo(DeviceInfo { revision: 3 + h[2] % 4, alg, public_key, device_id: [h[3]; DEVICE_ID_LEN], counter: a, boot: t })
            }
            6 => Response::Signed { signature: [h[7]; 64], ticks: t },
            _ => Response::Receipted {
                accepted: Accepted { index: a, step_count: b, exp: c, plan_hash: h, merkle_root: h, leaf_hash: h, ticks: t },
                receipt: if h[8] % 2 == 0 { &receipt[..] } else { &receipt[..RECEIPT_V1_LEN] },
                sign_ticks: t / 7,
            },
        };
        let bytes = enc_resp(&resp);
        prop_assert_eq!(decode_response::<MAX>(&bytes).unwrap(), (resp, bytes.len()));
    }
}

/// Found by the `frame_codec` fuzz target (`fuzz/regressions/frame_codec/`):
/// a frame error of a class without a detail must carry a zero detail byte,
/// or two byte strings would decode to one message.
#[test]
fn frame_error_without_detail_refuses_a_nonzero_detail() {
    assert!(response_payload(TYPE_RESPONSE, &[0x02, 0x01, 0x5e]).is_err());
    for class in [1u8, 2, 5, 6] {
        assert!(response_payload(TYPE_RESPONSE, &[0x02, class, 1]).is_err());
        let payload = [0x02, class, 0];
        let ok = response_payload(TYPE_RESPONSE, &payload).unwrap();
        let mut buf = [0u8; 64];
        let n = encode_response(&ok, &mut buf).unwrap();
        assert_eq!(&buf[HEADER_LEN..n - TRAILER_LEN], &[0x02, class, 0]);
    }
}

/// Protocol revision 2: device info and verify-with-receipt, both ways.
#[test]
fn revision_2_messages_round_trip() {
    let sib = sample_siblings();
    let Request::Verify(v) = sample(&sib) else {
        unreachable!()
    };
    let msg = b"sample";
    for r in [
        Request::DeviceInfo,
        Request::VerifyReceipt(v),
        Request::SignVector { key: [3; 32], msg },
    ] {
        let b = enc_req(&r);
        assert_eq!(decode_request::<MAX>(&b).unwrap(), (r, b.len()));
    }
    // The receipt request is the verify request's payload under its own type.
    let plain = enc_req(&Request::Verify(v));
    let with = enc_req(&Request::VerifyReceipt(v));
    assert_eq!(
        plain[HEADER_LEN..plain.len() - 4],
        with[HEADER_LEN..with.len() - 4]
    );
    assert_eq!((plain[3], with[3]), (TYPE_VERIFY, TYPE_VERIFY_RECEIPT));
    let accepted = Accepted {
        index: 1,
        step_count: 2,
        exp: 3,
        plan_hash: [4; 32],
        merkle_root: [5; 32],
        leaf_hash: [6; 32],
        ticks: 7,
    };
    let mut receipt = [0u8; RECEIPT_LEN];
    for (i, b) in receipt.iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut ed = [0u8; MAX_DEVICE_KEY_LEN];
    ed[..32].fill(9);
    for r in [
        // Revision 2 (a firmware that predates revision 3): Ed25519, no boot.
        Response::DeviceInfo(DeviceInfo {
            revision: 2,
            alg: DeviceKeyAlg::Ed25519,
            public_key: ed,
            device_id: [8; DEVICE_ID_LEN],
            counter: u64::MAX,
            boot: 0,
        }),
        Response::DeviceInfo(DeviceInfo {
            revision: PROTOCOL_REVISION,
            alg: DeviceKeyAlg::Es256,
            public_key: [4; MAX_DEVICE_KEY_LEN],
            device_id: [8; DEVICE_ID_LEN],
            counter: 3,
            boot: 7,
        }),
        Response::Receipted {
            accepted,
            receipt: &receipt,
            sign_ticks: 11,
        },
        Response::Receipted {
            accepted,
            receipt: &receipt[..RECEIPT_V1_LEN],
            sign_ticks: 11,
        },
        Response::Signed {
            signature: [5; 64],
            ticks: 12,
        },
    ] {
        let b = enc_resp(&r);
        assert_eq!(decode_response::<512>(&b).unwrap(), (r, b.len()));
        // One byte short of its body is malformed, never a panic.
        let payload = &b[HEADER_LEN..b.len() - TRAILER_LEN];
        assert!(response_payload(TYPE_RESPONSE, &payload[..payload.len() - 1]).is_err());
    }
}

/// What a revision-1 decoder (the old firmware's) makes of a revision-2
/// request: a typed `UnknownType` naming the type byte, which the firmware
/// answers as a frame error (never silence).
#[test]
fn unknown_request_types_are_a_typed_error() {
    for ty in [
        TYPE_DEVICE_INFO,
        TYPE_VERIFY_RECEIPT,
        TYPE_SIGN_VECTOR,
        0x07,
        0x7f,
    ] {
        let payload: &[u8] = if ty == TYPE_VERIFY_RECEIPT { &[1] } else { &[] };
        let got = request_payload(ty, payload);
        if ty == TYPE_SIGN_VECTOR {
            assert_eq!(got, Err(DecodeError::Malformed { field: Field::Body }));
        } else if ty == TYPE_DEVICE_INFO {
            assert_eq!(got, Ok(Request::DeviceInfo));
        } else if ty == TYPE_VERIFY_RECEIPT {
            assert_eq!(got, Err(DecodeError::Malformed { field: Field::Now }));
        } else {
            assert_eq!(got, Err(DecodeError::UnknownType { ty }));
            assert_eq!(
                FrameErrorCode::from(DecodeError::UnknownType { ty }),
                FrameErrorCode::UnknownType(ty)
            );
        }
    }
}
