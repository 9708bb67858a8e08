//! The invocation check on arbitrary token, step, params and proof shapes:
//! never panics, and never accepts (no valid token can be forged here).
#![no_main]
use armoriq_core::jws::Expect;
use armoriq_core::keys::KeySet;
use armoriq_core::{Call, RustCrypto, StepProof, verify_invocation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |&b| b == 0xff);
    let (Some(token), Some(step), Some(params), rest) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return;
    };
    let siblings: Vec<&[u8]> = rest.unwrap_or_default().chunks(32).collect();
    let mut keys = KeySet::<RustCrypto, 1>::new();
    let _ = keys.add_ed25519(
        None,
        &[
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ],
    );
    let call = Call {
        mcp: "m",
        action: "a",
        params: Some(params),
    };
    let proof = StepProof {
        step,
        index: u64::from(data.len() as u8 % 8),
        tree_size: 4,
        siblings: &siblings,
    };
    let mut buf = [0u8; 1024];
    let r = verify_invocation(token, &call, &proof, &Expect::default(), &keys, &mut buf);
    assert!(r.is_err());
});
