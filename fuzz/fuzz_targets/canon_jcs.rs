//! jcs profile: never panics; idempotent; equal to serde_json + serde_jcs (a
//! reference RFC 8785 implementation) on every input we accept.
#![no_main]
use armoriq_core::canon::{Canonicalizer, Profile, Sink};
use libfuzzer_sys::fuzz_target;

struct V(Vec<u8>);
impl Sink for V {
    fn write(&mut self, b: &[u8]) -> Result<(), armoriq_core::Error> {
        self.0.extend_from_slice(b);
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut c = Canonicalizer::<16, 64>::new();
    let mut out = V(Vec::new());
    if c.canonicalize(data, Profile::Jcs, &mut out).is_ok() {
        let mut again = V(Vec::new());
        c.canonicalize(&out.0, Profile::Jcs, &mut again)
            .expect("canonical output re-parses");
        assert_eq!(out.0, again.0, "not idempotent");
        let v: serde_json::Value =
            serde_json::from_slice(data).expect("serde_json reads input we accept");
        let reference = serde_jcs::to_vec(&v).expect("serde_jcs serializes");
        assert_eq!(out.0, reference, "differs from serde_jcs");
    }
});
