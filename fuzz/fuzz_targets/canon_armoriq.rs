//! armoriq profile: never panics; the output is canonical (idempotent) and
//! valid JSON that serde_json reads back to the same value as the input.
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
    if c.canonicalize(data, Profile::ArmorIq, &mut out).is_ok() {
        let mut again = V(Vec::new());
        c.canonicalize(&out.0, Profile::ArmorIq, &mut again)
            .expect("canonical output re-parses");
        assert_eq!(out.0, again.0, "not idempotent");
        assert!(
            out.0.iter().all(|b| (0x20..0x7F).contains(b)),
            "armoriq output is ASCII"
        );
        // serde_json (f64 numbers) rejects integers beyond a double's range,
        // which Python and this profile keep exactly; compare where it can read.
        let a = serde_json::from_slice::<serde_json::Value>(data);
        let b = serde_json::from_slice::<serde_json::Value>(&out.0);
        assert_eq!(
            a.is_ok(),
            b.is_ok(),
            "serde_json reads only one of input and output"
        );
        if let (Ok(a), Ok(b)) = (a, b) {
            assert!(same(&a, &b), "canonical form changed the value: {a} vs {b}");
        }
    }
});

/// Equality where numbers compare as doubles (serde_json reads `-0` as a float
/// and `0` as an integer; both are the value zero).
fn same(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value as V;
    match (a, b) {
        (V::Number(x), V::Number(y)) => x.as_f64() == y.as_f64(),
        (V::Array(x), V::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (V::Object(x), V::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}
