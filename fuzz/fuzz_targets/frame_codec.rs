//! The firmware frame codec (`armoriq-frame`) on arbitrary bytes: decoding
//! never panics, and whatever decodes (as a whole frame or as a payload of
//! any frame type) encodes back to the very same bytes and decodes again to
//! the same message.
//!
//! This target found that a `FrameError` of a class without a detail
//! (Truncated, BadMagic, Oversized, Checksum) decoded with any detail byte
//! and re-encoded it as 0; the decoder now refuses a non-zero detail there
//! (reproducer in `fuzz/regressions/frame_codec/`, regression test in
//! `frame/src/lib.rs`).
#![no_main]
use armoriq_frame::{
    HEADER_LEN, OVERHEAD, TRAILER_LEN, TYPE_BARE_VERIFY, TYPE_DEVICE_INFO, TYPE_RESPONSE,
    TYPE_STATS, TYPE_VERIFY, TYPE_VERIFY_RECEIPT, decode_request, decode_response, encode_request,
    encode_response, request_payload, response_payload,
};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let mut buf = vec![0u8; MAX + OVERHEAD];
    // Whole frames.
    if let Ok((req, used)) = decode_request::<MAX>(data) {
        let n = encode_request(&req, &mut buf).expect("a decoded request re-encodes");
        assert_eq!(&buf[..n], &data[..used], "request frame round trip");
        let (again, m) = decode_request::<MAX>(&buf[..n]).expect("re-encoded request decodes");
        assert_eq!((again, m), (req, n));
    }
    if let Ok((resp, used)) = decode_response::<MAX>(data) {
        let n = encode_response(&resp, &mut buf).expect("a decoded response re-encodes");
        assert_eq!(&buf[..n], &data[..used], "response frame round trip");
        let (again, m) = decode_response::<MAX>(&buf[..n]).expect("re-encoded response decodes");
        assert_eq!((again, m), (resp, n));
    }
    // Payloads (the CRC is what keeps the fuzzer out of the frame decoder's
    // payload parsing, so feed payloads directly too).
    if data.len() > MAX {
        return;
    }
    for ty in [
        TYPE_VERIFY,
        TYPE_STATS,
        TYPE_BARE_VERIFY,
        TYPE_DEVICE_INFO,
        TYPE_VERIFY_RECEIPT,
    ] {
        if let Ok(req) = request_payload(ty, data) {
            let n = encode_request(&req, &mut buf).expect("a decoded request re-encodes");
            assert_eq!(buf[3], ty);
            assert_eq!(
                &buf[HEADER_LEN..n - TRAILER_LEN],
                data,
                "request payload round trip"
            );
        }
    }
    if let Ok(resp) = response_payload(TYPE_RESPONSE, data) {
        let n = encode_response(&resp, &mut buf).expect("a decoded response re-encodes");
        let payload = &buf[HEADER_LEN..n - TRAILER_LEN];
        assert_eq!(payload, data, "response payload round trip");
        let again = response_payload(TYPE_RESPONSE, &buf[HEADER_LEN..n - TRAILER_LEN]).unwrap();
        assert_eq!(again, resp);
    }
});
