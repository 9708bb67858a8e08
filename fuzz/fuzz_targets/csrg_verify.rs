//! The CSRG token object: never panics on any JSON or bytes.
#![no_main]
use armoriq_core::{RustCrypto, csrg};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut scratch = [0u8; 8192];
    let _ = csrg::verify::<RustCrypto>(data, None, &mut scratch);
    let mut small = [0u8; 64];
    let _ = csrg::verify::<RustCrypto>(data, None, &mut small);
});
