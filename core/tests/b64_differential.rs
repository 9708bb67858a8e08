//! The strict base64url decoder against the `base64` crate's URL-safe,
//! no-padding engine (which also refuses non-zero trailing bits): the same
//! strings are accepted, with the same bytes.
#![allow(clippy::unwrap_used)]

use armoriq_core::b64;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;

fn ours(s: &[u8]) -> Option<Vec<u8>> {
    let mut buf = vec![0u8; s.len()];
    b64::decode(s, &mut buf, 0).ok().map(<[u8]>::to_vec)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn round_trip(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let text = URL_SAFE_NO_PAD.encode(&bytes);
        prop_assert_eq!(ours(text.as_bytes()), Some(bytes));
    }

    #[test]
    fn same_verdict_as_base64(s in "[A-Za-z0-9_+/=.-]{0,40}") {
        let theirs = URL_SAFE_NO_PAD.decode(s.as_bytes()).ok();
        prop_assert_eq!(ours(s.as_bytes()), theirs, "{:?}", s);
    }

    #[test]
    fn any_bytes_same_verdict(s in prop::collection::vec(any::<u8>(), 0..24)) {
        let theirs = URL_SAFE_NO_PAD.decode(&s).ok();
        prop_assert_eq!(ours(&s), theirs);
    }
}

#[test]
fn every_last_character_of_short_tails() {
    // Each possible final character after 1 and 2 decoded bytes: only the
    // canonical ones (zero trailing bits) are accepted.
    for prefix in ["", "QUJD"] {
        for body in ["Q", "QU"] {
            for c in (0u8..=255).filter(u8::is_ascii_graphic) {
                let s = format!("{prefix}{body}{}", c as char);
                assert_eq!(ours(s.as_bytes()), URL_SAFE_NO_PAD.decode(&s).ok(), "{s:?}");
            }
        }
    }
}
