//! Device receipts (`armoriq_core::receipt`, SPEC §7) on arbitrary bytes:
//! parsing either body version never panics and a parsed receipt's body
//! re-encodes to the very bytes signed; verification of a receipt nobody
//! signed is refused under an Ed25519 and a P-256 key; the counter sequence
//! accepts, within one boot, exactly the runs that go up one at a time, and
//! across boots only a first counter that starts a block; the `jti` reader
//! never panics on any token bytes.
#![no_main]
use armoriq_core::RustCrypto;
use armoriq_core::counter::is_block_start;
use armoriq_core::receipt::{
    DeviceKey, Receipt, ReceiptAlg, ReceiptBody, Sequence, device_id, jti_hash,
};
use libfuzzer_sys::fuzz_target;

/// The Ed25519 base point's encoding: a valid key nobody signed these with.
const PK: [u8; 32] = [
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
];

/// The P-256 base point G, uncompressed: a valid key nobody signed these with.
const P256_G: [u8; 65] = [
    0x04, 0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
    0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98, 0xc2,
    0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c, 0x0f, 0x9e,
    0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68, 0x37, 0xbf, 0x51,
    0xf5,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Receipt::parse(data) {
        let signed = r.signed_bytes();
        if r.body.version == 2 {
            assert_eq!(&r.body.to_bytes()[..], signed, "body round trip");
        } else {
            assert_eq!(&r.body.to_v1_bytes()[..], signed, "v1 body round trip");
        }
        assert_eq!(ReceiptBody::parse(signed), Ok(r.body));
        for (alg, pk) in [
            (ReceiptAlg::Ed25519, &PK[..]),
            (ReceiptAlg::Es256, &P256_G[..]),
        ] {
            let key = DeviceKey::<RustCrypto>::parse(alg, pk).expect("a base point is a key");
            let mut forged = r.body;
            forged.version = 2;
            forged.alg = alg;
            forged.device_id = device_id(pk);
            let mut bytes = forged.to_bytes().to_vec();
            bytes.extend_from_slice(&r.signature);
            let forged = Receipt::parse(&bytes).expect("a re-encoded body parses");
            assert!(
                forged.verify(pk, &key).is_err(),
                "unsigned receipt accepted"
            );
        }
    }
    let _ = ReceiptBody::parse(data);
    // (boot, counter) pairs: 4 + 8 bytes each, boots kept small so that
    // restarts happen.
    let mut seq = Sequence::new();
    let mut last: Option<(u32, u64)> = None;
    for c in data.chunks_exact(12) {
        let boot = u32::from(c[0] % 4);
        let counter = u64::from_le_bytes(c[4..12].try_into().expect("8 bytes"));
        let want = match last {
            None => true,
            Some((b, p)) if boot == b => p.checked_add(1) == Some(counter),
            Some((b, p)) => boot > b && counter > p && is_block_start(counter),
        };
        assert_eq!(
            seq.next(boot, counter).is_ok(),
            want,
            "{last:?} then {boot} {counter}"
        );
        last = Some((boot, counter));
    }
    let mut buf = [0u8; 512];
    let _ = jti_hash(data, &mut buf);
});
