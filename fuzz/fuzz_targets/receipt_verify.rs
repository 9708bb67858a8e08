//! Device receipts (`armoriq_core::receipt`, SPEC §7) on arbitrary bytes:
//! parsing never panics and a parsed receipt's body re-encodes to the very
//! bytes signed; verification of a receipt nobody signed is refused; the
//! counter sequence accepts exactly the runs that go up one at a time; the
//! `jti` reader never panics on any token bytes.
#![no_main]
use armoriq_core::RustCrypto;
use armoriq_core::receipt::{Receipt, ReceiptBody, Sequence, device_id, jti_hash};
use armoriq_core::sig::Backend;
use libfuzzer_sys::fuzz_target;

/// The Ed25519 base point's encoding: a valid key nobody signed these with.
const PK: [u8; 32] = [
    0x58, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
    0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66,
];

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = Receipt::parse(data) {
        assert_eq!(r.body.to_bytes(), r.signed, "body round trip");
        assert_eq!(ReceiptBody::parse(&r.signed), Ok(r.body));
        let key = RustCrypto::ed25519_key(&PK).expect("the base point is a key");
        let mut forged = r;
        forged.body.device_id = device_id(&PK);
        forged.signed = forged.body.to_bytes();
        assert!(
            forged.verify::<RustCrypto>(&PK, &key).is_err(),
            "unsigned receipt accepted"
        );
    }
    let _ = ReceiptBody::parse(data);
    let mut seq = Sequence::new();
    let mut last: Option<u64> = None;
    for c in data.chunks_exact(8) {
        let c = u64::from_le_bytes(c.try_into().expect("8 bytes"));
        let want = last.is_none_or(|l| l.checked_add(1) == Some(c));
        assert_eq!(seq.next(c).is_ok(), want, "{last:?} then {c}");
        last = Some(c);
    }
    let mut buf = [0u8; 512];
    let _ = jti_hash(data, &mut buf);
});
