//! Compact JWS parsing and verification, and claims parsing: never panic.
#![no_main]
use armoriq_core::RustCrypto;
use armoriq_core::jws::{self, Claims, Expect};
use armoriq_core::keys::KeySet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut keys = KeySet::<RustCrypto, 2>::new();
    // RFC 8032 §7.1 TEST 1 public key, and the RFC 7515 A.3 P-256 key.
    let _ = keys.add_ed25519(
        Some(b"k1"),
        &[
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ],
    );
    let _ = keys.add_jwk(br#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#);
    let mut buf = [0u8; 2048];
    if let Ok(v) = jws::verify(data, &keys, &mut buf) {
        if let Ok(c) = Claims::parse(v.payload) {
            let _ = c.check(&Expect {
                now: 0,
                leeway: 0,
                audience: Some("a"),
                issuer: Some("i"),
            });
        }
    }
    if let Ok(c) = Claims::parse(data) {
        let _ = c.check(&Expect::default());
    }
    let _ = keys.add_jwk(data);
});
