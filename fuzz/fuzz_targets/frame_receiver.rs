//! The firmware's streaming frame receiver (`armoriq_frame::Receiver`) fed an
//! arbitrary byte stream: never panics; every frame it hands out opens (good
//! header, length and CRC) and is exactly one frame long; and after an idle
//! timeout (`abort`) a well-formed frame sent next is received whole.
#![no_main]
use armoriq_frame::{
    Alg, OVERHEAD, Progress, Receiver, Request, decode_request, decode_response, encode_request,
    open_frame,
};
use libfuzzer_sys::fuzz_target;

const CAP: usize = 512;
const MAX: usize = CAP - OVERHEAD;

fuzz_target!(|data: &[u8]| {
    let mut rx = Receiver::<CAP>::new();
    for &b in data {
        if rx.push(b) == Progress::Frame {
            let f = rx.frame();
            let (_, payload, used) = open_frame::<MAX>(f).expect("a received frame opens");
            assert_eq!(used, f.len(), "the receiver hands out exactly one frame");
            assert!(payload.len() <= MAX);
            let _ = decode_request::<MAX>(f);
            let _ = decode_response::<MAX>(f);
        }
    }
    // Idle timeout, then one good frame (its token taken from the input).
    let _ = rx.abort();
    let token = &data[..data.len().min(MAX - 3)];
    let mut frame = [0u8; CAP];
    let n = encode_request(
        &Request::BareVerify {
            alg: Alg::EdDsa,
            token,
        },
        &mut frame,
    )
    .expect("fits");
    for (i, &b) in frame[..n].iter().enumerate() {
        match rx.push(b) {
            Progress::Pending => assert!(i + 1 < n, "frame not completed"),
            Progress::Frame => {
                assert_eq!(i + 1, n, "frame completed early");
                assert_eq!(rx.frame(), &frame[..n]);
            }
            Progress::Error(e) => panic!("good frame refused at byte {i}: {e:?}"),
        }
    }
});
