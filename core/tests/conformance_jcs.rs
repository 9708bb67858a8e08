//! RFC 8785 conformance: every suite under `shared/conformance/jcs/` that
//! applies to a strict canonicalizer, walked whole.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use armoriq_core::{Error, Profile};
use common::*;
use std::path::Path;

fn jcs(input: &[u8]) -> Result<Vec<u8>, Error> {
    canon(input, Profile::Jcs)
}

/// Every `input/X.json` against `output/X.json` in a directory pair.
fn pairs(dir: &Path, strip_newline: bool) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir.join("input")).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap();
        let input = std::fs::read(&path).unwrap();
        let mut want = std::fs::read(dir.join("output").join(name)).unwrap();
        if strip_newline && want.last() == Some(&b'\n') {
            want.pop();
        }
        let got = jcs(&input).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(&want),
            "{}",
            path.display()
        );
        n += 1;
    }
    n
}

#[test]
fn cyberphone_reference_data() {
    let dir = shared().join("conformance/jcs/cyberphone");
    assert_eq!(pairs(&dir, false), 6);
    // outhex/ holds the same bytes as hex.
    for e in std::fs::read_dir(dir.join("outhex")).unwrap() {
        let path = e.unwrap().path();
        let hex_text = std::fs::read_to_string(&path).unwrap();
        let want: Vec<u8> = hex_text
            .split_whitespace()
            .map(|h| u8::from_str_radix(h, 16).unwrap())
            .collect();
        let stem = path.file_stem().unwrap().to_str().unwrap();
        let input = std::fs::read(dir.join("input").join(format!("{stem}.json"))).unwrap();
        assert_eq!(jcs(&input).unwrap(), want, "{stem}");
    }
}

#[test]
fn erdtman_variant() {
    assert_eq!(
        pairs(&shared().join("conformance/jcs/erdtman_variant"), true),
        6
    );
}

#[test]
fn rfc8785_examples_and_fixtures() {
    let base = shared().join("conformance/jcs");
    let mut n = 0;
    for (dir, strip) in [
        ("rfc8785_examples", false),
        ("serde_jcs_fixtures", true),
        ("gowebpki_extra", true),
    ] {
        for e in std::fs::read_dir(base.join(dir)).unwrap() {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            let Some(stem) = name.strip_suffix(".input.json") else {
                continue;
            };
            let input = std::fs::read(&path).unwrap();
            let out_name = if dir == "rfc8785_examples" {
                format!("{stem}.expected.json")
            } else {
                format!("{stem}.output.json")
            };
            let mut want = std::fs::read(base.join(dir).join(out_name)).unwrap();
            if strip {
                while want.last() == Some(&b'\n') {
                    want.pop();
                }
            }
            let got = jcs(&input).unwrap_or_else(|e| panic!("{dir}/{name}: {e}"));
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(&want),
                "{dir}/{name}"
            );
            n += 1;
        }
    }
    assert_eq!(n, 2 + 3 + 4);
}

#[test]
fn aps_agent_passport() {
    let v =
        read_json(&shared().join("conformance/jcs/aps_agent_passport/canonical-bytes-jcs-v2.json"));
    let vectors = v["vectors"].as_array().unwrap();
    assert_eq!(vectors.len(), 10);
    for t in vectors {
        // `input` is a JSON value; serde_json (arbitrary_precision) writes it back with
        // its numbers' original text.
        let input = serde_json::to_vec(&t["input"]).unwrap();
        let got = jcs(&input).unwrap();
        assert_eq!(
            hex(&got),
            t["canonical_bytes_hex"].as_str().unwrap(),
            "{}",
            t["name"]
        );
        assert_eq!(
            String::from_utf8(got.clone()).unwrap(),
            t["canonical"].as_str().unwrap()
        );
        assert_eq!(
            sha256_hex(&got),
            t["canonical_sha256"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        );
    }
}

/// lattice-substrate cases that are that suite's own profile policy, not RFC 8785.
fn lattice_policy_skip(id: &str) -> Option<&'static str> {
    Some(match id {
        "VEC-REJ-0001" | "VEC-REJ-0002" | "VEC-REJ-0003" => {
            "rejects -0; RFC 8785 §3.2.2.3 serializes it as 0 (asserted below)"
        }
        "VEC-REJ-0016" | "VEC-REJ-0017" | "VEC-REJ-0018" => {
            "rejects noncharacters (I-JSON policy); RFC 8785 keeps them (asserted below)"
        }
        "VEC-REJ-0021" => "rejects underflow to zero; RFC 8785 parses 1e-400 as the double 0",
        "VEC-REJ-0022" => "a CLI-usage case of that tool",
        _ => return None,
    })
}

fn lattice_class(e: &Error) -> &'static str {
    match e {
        Error::LoneSurrogate { .. } => "LONE_SURROGATE",
        Error::DuplicateKey { .. } => "DUPLICATE_KEY",
        Error::NumberOutOfRange { .. } => "NUMBER_OVERFLOW",
        _ => "INVALID_GRAMMAR",
    }
}

#[test]
fn lattice_substrate_core_and_reject() {
    let dir = shared().join("conformance/jcs/lattice-substrate/vectors");
    let (mut ok, mut rejected, mut skipped) = (0, 0, 0);
    for file in ["core.jsonl", "reject.jsonl"] {
        for line in std::fs::read_to_string(dir.join(file)).unwrap().lines() {
            let t: serde_json::Value = serde_json::from_str(line).unwrap();
            let id = t["id"].as_str().unwrap();
            if lattice_policy_skip(id).is_some() {
                skipped += 1;
                continue;
            }
            if t.get("args").is_some() || t["mode"] != "canonicalize" {
                skipped += 1;
                continue;
            }
            let input = t["input"].as_str().unwrap();
            let got = jcs(input.as_bytes());
            if t["want_exit"] == 0 {
                let got = got.unwrap_or_else(|e| panic!("{id}: {e}"));
                assert_eq!(
                    String::from_utf8(got).unwrap(),
                    t["want_stdout"].as_str().unwrap(),
                    "{id}"
                );
                ok += 1;
            } else {
                let e = got.expect_err(id);
                assert_eq!(
                    lattice_class(&e),
                    t["want_stderr_contains"].as_str().unwrap(),
                    "{id}: {e:?}"
                );
                rejected += 1;
            }
        }
    }
    assert_eq!(
        (ok, rejected, skipped),
        (35, 14, 8),
        "ok, rejected, skipped (only the listed policy cases)"
    );
    // What RFC 8785 says where that profile differs.
    assert_eq!(jcs(b"-0").unwrap(), b"0");
    assert_eq!(jcs(b"-0.0").unwrap(), b"0");
    assert_eq!(jcs(b"1e-400").unwrap(), b"0");
    assert_eq!(jcs(br#""\uFFFE""#).unwrap(), "\"\u{FFFE}\"".as_bytes());
}

/// A number's canonical JCS text, through the canonicalizer: the double is
/// written in Rust's shortest round-trip `{:e}` form and canonicalized.
fn number_via_canon(bits: u64) -> Option<String> {
    let x = f64::from_bits(bits);
    if !x.is_finite() {
        return None;
    }
    let text = format!("{x:e}");
    Some(String::from_utf8(jcs(text.as_bytes()).unwrap()).unwrap())
}

#[test]
fn rfc8785_appendix_b() {
    let csv = std::fs::read_to_string(
        shared().join("conformance/jcs/lattice-substrate/rfc8785/appendix_b.csv"),
    )
    .unwrap();
    let mut n = 0;
    for line in csv.lines().skip(1) {
        let mut cols = line.splitn(3, ',');
        let (hex_bits, want) = (cols.next().unwrap(), cols.next().unwrap());
        let bits = u64::from_str_radix(hex_bits, 16).unwrap();
        let got = number_via_canon(bits).unwrap_or_else(|| panic!("{line}: not finite"));
        assert_eq!(got, want, "{line}");
        n += 1;
    }
    assert_eq!(n, 24);
}

#[test]
fn v8_golden_numbers() {
    let csv = std::fs::read_to_string(
        shared().join("conformance/jcs/lattice-substrate/golden_vectors_v8_54445.csv"),
    )
    .unwrap();
    let (mut n, mut non_finite) = (0, 0);
    for line in csv.lines() {
        let (hex_bits, want) = line.split_once(',').unwrap();
        let bits = u64::from_str_radix(hex_bits, 16).unwrap();
        match number_via_canon(bits) {
            Some(got) => assert_eq!(got, want, "{line}"),
            None => non_finite += 1,
        }
        n += 1;
    }
    assert_eq!(n, 54_445);
    assert!(non_finite < 10, "{non_finite}");
}
