//! Property tests: canonical form is idempotent and independent of key order
//! and whitespace; bad input is a typed error, never a panic; every proof
//! verifies and any one-bit change of leaf, sibling, index or size fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use armoriq_core::canon::{Canonicalizer, Profile};
use armoriq_core::merkle::{RootBuilder, leaf_hash, node_hash, verify_inclusion};
use armoriq_core::{Error, PlanHasher};
use common::*;
use proptest::prelude::*;

/// A JSON document model with distinct keys, rendered in several textual forms.
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Int(String),
    Float(f64),
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z_]{0,6}",
        "\\PC{0,4}",
        Just("😀".to_owned()),
        Just("\u{FF61}".to_owned()),
        Just("\u{E000}".to_owned()),
    ]
}

fn json() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Null),
        any::<bool>().prop_map(J::Bool),
        "-?(0|[1-9][0-9]{0,40})".prop_map(J::Int),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(J::Float),
        "\\PC{0,12}".prop_map(J::Str),
        "[\\x00-\\x1f\"\\\\/\\x7f]{0,6}".prop_map(J::Str),
    ];
    leaf.prop_recursive(5, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(J::Arr),
            prop::collection::btree_map(key(), inner, 0..6)
                .prop_map(|m| J::Obj(m.into_iter().collect())),
        ]
    })
}

/// Writes `j` as JSON text; `rev` reverses member order, `ws` puts whitespace
/// between tokens, `esc` writes every non-ASCII char as a `\u` escape.
fn render(j: &J, rev: bool, ws: &str, esc: bool, out: &mut String) {
    match j {
        J::Null => out.push_str("null"),
        J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        J::Int(s) => out.push_str(s),
        J::Float(x) => out.push_str(&format!("{x:e}")),
        J::Str(s) => render_str(s, esc, out),
        J::Arr(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(ws);
                    out.push(',');
                }
                out.push_str(ws);
                render(x, rev, ws, esc, out);
            }
            out.push_str(ws);
            out.push(']');
        }
        J::Obj(m) => {
            out.push('{');
            let items: Vec<&(String, J)> = if rev {
                m.iter().rev().collect()
            } else {
                m.iter().collect()
            };
            for (i, (k, v)) in items.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(ws);
                render_str(k, esc, out);
                out.push_str(ws);
                out.push(':');
                out.push_str(ws);
                render(v, rev, ws, esc, out);
            }
            out.push_str(ws);
            out.push('}');
        }
    }
}

fn render_str(s: &str, esc: bool, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c if esc && !c.is_ascii() => {
                let mut buf = [0u16; 2];
                for u in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

fn text(j: &J, rev: bool, ws: &str, esc: bool) -> String {
    let mut s = String::new();
    render(j, rev, ws, esc, &mut s);
    s
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn canonical_form_is_idempotent_and_independent_of_layout(j in json(), ws in "[ \t\r\n]{0,3}") {
        for profile in [Profile::ArmorIq, Profile::Jcs] {
            let base = canon(text(&j, false, "", false).as_bytes(), profile).unwrap();
            prop_assert_eq!(&canon(&base, profile).unwrap(), &base, "idempotent");
            let other = canon(text(&j, true, &ws, true).as_bytes(), profile).unwrap();
            prop_assert_eq!(&other, &base, "key order, whitespace and escapes do not matter");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let mut c = Canonicalizer::<8, 16>::new();
        for profile in [Profile::ArmorIq, Profile::Jcs] {
            let mut s = VecSink(Vec::new());
            let _ = c.canonicalize(&bytes, profile, &mut s);
        }
        let _ = PlanHasher::<8, 16, 8>::new().digest(&bytes, Profile::ArmorIq);
    }

    #[test]
    fn every_truncation_of_a_document_is_an_error(j in json()) {
        let t = text(&j, false, "", false);
        let bytes = t.as_bytes();
        // Documents that are a number can be cut to a shorter valid number.
        prop_assume!(!matches!(j, J::Int(_) | J::Float(_)));
        for cut in 0..bytes.len() {
            if !t.is_char_boundary(cut) { continue; }
            let r = canon(&bytes[..cut], Profile::ArmorIq);
            prop_assert!(r.is_err(), "prefix {:?} accepted", &t[..cut]);
        }
    }

    #[test]
    fn every_proof_verifies_and_any_bit_flip_fails(n in 1usize..300, pick in any::<prop::sample::Index>(), bit in 0usize..256) {
        let leaves: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&(i as u64).to_le_bytes())).collect();
        let mut b = RootBuilder::<16>::new();
        for l in &leaves { b.push(*l).unwrap(); }
        let root = b.root();
        let i = pick.index(n);
        let proof = path(i, &leaves);
        prop_assert_eq!(verify_inclusion(&leaves[i], i as u64, n as u64, &proof, &root), Ok(()));
        // One bit of the leaf.
        let mut leaf = leaves[i];
        leaf[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(verify_inclusion(&leaf, i as u64, n as u64, &proof, &root).is_err());
        // One bit of a sibling.
        if !proof.is_empty() {
            let mut p = proof.clone();
            let k = bit % p.len();
            p[k][(bit / 8) % 32] ^= 1 << (bit % 8);
            prop_assert!(verify_inclusion(&leaves[i], i as u64, n as u64, &p, &root).is_err());
        }
        // One bit of the index (within or beyond the tree).
        let j = (i as u64) ^ (1 << (bit % 10));
        prop_assert!(verify_inclusion(&leaves[i], j, n as u64, &proof, &root).is_err());
        // One bit of the size: rejected unless the path is the same for both
        // sizes (RFC 9162 paths do not bind the size), in which case the
        // leaf's root for the other size must be this very root.
        let m = (n as u64) ^ (1 << (bit % 10));
        if let Ok(()) = verify_inclusion(&leaves[i], i as u64, m, &proof, &root) {
            prop_assert!((i as u64) < m);
            prop_assert_eq!(path(i, &leaves[..(m as usize).min(n)]).len(), proof.len());
        }
    }
}

/// RFC 9162 §2.1.3.1 PATH(m, D[n]), written from the RFC for the test.
fn path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    fn mth(d: &[[u8; 32]]) -> [u8; 32] {
        if d.len() == 1 {
            return d[0];
        }
        let k = split(d.len());
        node_hash(&mth(&d[..k]), &mth(&d[k..]))
    }
    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut p = path(m, &leaves[..k]);
        p.push(mth(&leaves[k..]));
        p
    } else {
        let mut p = path(m - k, &leaves[k..]);
        p.push(mth(&leaves[..k]));
        p
    }
}

#[test]
fn typed_errors_for_bad_input() {
    let small = |input: &[u8]| {
        let mut s = VecSink(Vec::new());
        Canonicalizer::<4, 3>::new().canonicalize(input, Profile::ArmorIq, &mut s)
    };
    assert_eq!(
        small(b"[[[[[1]]]]]"),
        Err(Error::DepthLimit { at: 4, limit: 4 })
    );
    assert_eq!(small(b"[[[[1]]]]"), Ok(()));
    assert_eq!(
        small(br#"{"a":{"b":[{"c":[1]}]}}"#),
        Err(Error::DepthLimit { at: 16, limit: 4 })
    );
    assert_eq!(
        small(br#"{"a":1,"b":2,"c":3,"d":4}"#),
        Err(Error::MemberLimit { at: 19, limit: 3 })
    );
    // Members held at once count across the open path.
    assert_eq!(
        small(br#"{"a":1,"b":{"c":1,"d":2}}"#),
        Err(Error::MemberLimit { at: 18, limit: 3 })
    );
    let c = |input: &[u8]| canon(input, Profile::ArmorIq);
    assert_eq!(c(b""), Err(Error::UnexpectedEnd { at: 0 }));
    assert_eq!(c(br#"{"a":"#), Err(Error::UnexpectedEnd { at: 5 }));
    assert_eq!(c(br#"{"a" 1}"#), Err(Error::UnexpectedByte { at: 5 }));
    assert_eq!(c(b"[1,]"), Err(Error::UnexpectedByte { at: 3 }));
    assert_eq!(c(b"\"\xc3\x28\""), Err(Error::InvalidUtf8 { at: 1 }));
    assert_eq!(
        c(b"\"\xed\xa0\x80\""),
        Err(Error::InvalidUtf8 { at: 1 }),
        "UTF-8 encoded surrogate"
    );
    assert_eq!(
        c(b"\"\xc0\xaf\""),
        Err(Error::InvalidUtf8 { at: 1 }),
        "overlong"
    );
    assert_eq!(
        c(b"\"\xf4\x90\x80\x80\""),
        Err(Error::InvalidUtf8 { at: 1 }),
        "above U+10FFFF"
    );
    assert_eq!(c(b"\"a\nb\""), Err(Error::ControlInString { at: 2 }));
    assert_eq!(c(br#""\x""#), Err(Error::InvalidEscape { at: 1 }));
    assert_eq!(c(br#""\u12G4""#), Err(Error::InvalidEscape { at: 1 }));
    assert_eq!(c(br#""\udc00""#), Err(Error::LoneSurrogate { at: 1 }));
    assert_eq!(c(br#""\ud800\u0041""#), Err(Error::LoneSurrogate { at: 1 }));
    assert_eq!(c(b"[NaN]"), Err(Error::NonFiniteNumber { at: 1 }));
    assert_eq!(c(b"-Infinity"), Err(Error::NonFiniteNumber { at: 0 }));
    assert_eq!(c(b"1e309"), Err(Error::NumberOutOfRange { at: 0 }));
    assert_eq!(c(b"01"), Err(Error::InvalidNumber { at: 0 }));
    assert_eq!(c(b"1."), Err(Error::UnexpectedEnd { at: 2 }));
    assert_eq!(c(b"-"), Err(Error::UnexpectedEnd { at: 1 }));
    assert_eq!(c(b"+1"), Err(Error::UnexpectedByte { at: 0 }));
    assert_eq!(
        c(br#"{"a":1,"b":2,"a":3}"#),
        Err(Error::DuplicateKey { at: 13 })
    );
    assert_eq!(
        c(br#"{"\u0061":1,"a":2}"#),
        Err(Error::DuplicateKey { at: 12 }),
        "same key, escaped"
    );
    assert_eq!(c(b"{} {}"), Err(Error::TrailingData { at: 3 }));
    assert_eq!(
        c(b"\xef\xbb\xbf{}"),
        Err(Error::UnexpectedByte { at: 0 }),
        "BOM"
    );
    assert_eq!(c(b"tru"), Err(Error::UnexpectedEnd { at: 3 }));
    // Output buffer too small: its own error.
    let mut buf = [0u8; 4];
    let mut sink = armoriq_core::SliceSink::new(&mut buf);
    assert_eq!(
        armoriq_core::canonicalize(br#"{"abc":1}"#, Profile::ArmorIq, &mut sink),
        Err(Error::OutputFull { capacity: 4 })
    );
}

#[test]
fn plan_validation_errors_name_step_and_field() {
    let p = |input: &[u8]| {
        PlanHasher::<32, 64, 4>::new()
            .digest(input, Profile::ArmorIq)
            .map(|_| ())
    };
    assert_eq!(p(b"[]"), Err(Error::PlanNotObject));
    assert_eq!(p(b"{}"), Err(Error::StepsMissing));
    assert_eq!(p(br#"{"steps":"x"}"#), Err(Error::StepsNotArray));
    assert_eq!(p(br#"{"steps":[]}"#), Err(Error::StepsEmpty));
    assert_eq!(
        p(br#"{"steps":[{"action":"a","mcp":"m"},[]]}"#),
        Err(Error::StepNotObject { step: 1 })
    );
    assert_eq!(
        p(br#"{"steps":[{"mcp":"m"}]}"#),
        Err(Error::StepFieldMissing {
            step: 0,
            field: "action"
        })
    );
    assert_eq!(
        p(br#"{"steps":[{"action":"a"}]}"#),
        Err(Error::StepFieldMissing {
            step: 0,
            field: "mcp"
        })
    );
    assert_eq!(
        p(br#"{"steps":[{"action":null,"mcp":"m"}]}"#),
        Err(Error::StepFieldNotString {
            step: 0,
            field: "action"
        })
    );
    assert_eq!(
        p(br#"{"steps":[{"action":"","mcp":"m"}]}"#),
        Err(Error::StepFieldEmpty {
            step: 0,
            field: "action"
        })
    );
    assert_eq!(
        p(br#"{"steps":[{"action":"a","mcp":"m","params":1}]}"#),
        Err(Error::ParamsNotObject { step: 0 })
    );
    assert_eq!(
        p(br#"{"steps":[{"action":"a","mcp":"m"},{"action":"a","mcp":"m"},{"action":"a","mcp":"m"},{"action":"a","mcp":"m"},{"action":"a","mcp":"m"}]}"#),
        Err(Error::StepLimit { limit: 4 })
    );
    assert_eq!(
        p(br#"{"steps":[],"steps":[]}"#),
        Err(Error::DuplicateKey { at: 20 })
    );
    // Extra fields are kept and hashed.
    let h = |input: &[u8]| {
        PlanHasher::<32, 64, 4>::new()
            .digest(input, Profile::ArmorIq)
            .unwrap()
    };
    let a = h(br#"{"steps":[{"action":"a","mcp":"m"}]}"#);
    let b = h(br#"{"steps":[{"action":"a","mcp":"m","extra":1}]}"#);
    assert_ne!(a.plan_hash, b.plan_hash);
    assert_ne!(a.merkle_root, b.merkle_root);
    // plan_hash is SHA-256 of the canonical plan; one step's root is its leaf.
    let plan = br#"{ "steps" : [ {"mcp":"m", "action":"a"} ] }"#;
    let d = h(plan);
    assert_eq!(
        hex(&d.plan_hash),
        sha256_hex(&canon(plan, Profile::ArmorIq).unwrap())
    );
    let mut leaf_input = vec![0u8];
    leaf_input.extend(canon(br#"{"mcp":"m","action":"a"}"#, Profile::ArmorIq).unwrap());
    assert_eq!(hex(&d.merkle_root), sha256_hex(&leaf_input));
    assert_eq!(d.step_count, 1);
}
