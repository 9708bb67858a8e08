//! Object members come out sorted whatever their number: the short objects
//! (insertion sort) and the long ones (heapsort) of the canonicalizer.
#![allow(clippy::unwrap_used)]

use armoriq_core::{Error, Profile, SliceSink, canonicalize};
use proptest::prelude::*;

fn canon(text: &str) -> Result<String, Error> {
    let mut buf = vec![0u8; text.len() * 2 + 16];
    let mut sink = SliceSink::new(&mut buf);
    canonicalize(text.as_bytes(), Profile::ArmorIq, &mut sink)?;
    Ok(String::from_utf8(sink.written().to_vec()).unwrap())
}

proptest! {
    #[test]
    fn members_sorted_at_every_size(
        keys in prop::collection::btree_set("[a-z]{1,3}", 0..80),
        order in any::<prop::sample::Index>(),
    ) {
        let sorted: Vec<String> = keys.into_iter().collect();
        // The same members in a rotated, then reversed order.
        let mut shuffled = sorted.clone();
        if !shuffled.is_empty() {
            let k = order.index(shuffled.len());
            shuffled.rotate_left(k);
        }
        shuffled.reverse();
        let member = |k: &String| format!("\"{k}\":{}", k.len());
        let input = format!("{{{}}}", shuffled.iter().map(member).collect::<Vec<_>>().join(", "));
        let want = format!("{{{}}}", sorted.iter().map(member).collect::<Vec<_>>().join(","));
        prop_assert_eq!(canon(&input).unwrap(), want);
    }

    #[test]
    fn a_repeated_key_is_found_at_every_size(
        keys in prop::collection::btree_set("[a-z]{1,3}", 1..80),
        dup in any::<prop::sample::Index>(),
    ) {
        let keys: Vec<String> = keys.into_iter().rev().collect();
        let again = &keys[dup.index(keys.len())];
        let mut members: Vec<String> = keys.iter().map(|k| format!("\"{k}\":0")).collect();
        members.push(format!("\"{again}\":1"));
        let r = canon(&format!("{{{}}}", members.join(",")));
        prop_assert!(matches!(r, Err(Error::DuplicateKey { .. })), "{:?}", r);
    }
}
