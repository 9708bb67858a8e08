//! Plan validation and hashing: never panics, and an accepted plan's digest is
//! independent of whitespace added around its tokens.
#![no_main]
use armoriq_core::{PlanHasher, Profile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut h = PlanHasher::<16, 64, 64>::new();
    for profile in [Profile::ArmorIq, Profile::Jcs] {
        if let Ok(d) = h.digest(data, profile) {
            let mut padded = b" \n".to_vec();
            padded.extend_from_slice(data);
            padded.extend_from_slice(b"\t ");
            assert_eq!(h.digest(&padded, profile), Ok(d));
        }
    }
});
