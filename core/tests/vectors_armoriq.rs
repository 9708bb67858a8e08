//! The official SDK's own outputs (`shared/vectors/armoriq/`), byte for byte,
//! through the `armoriq` profile.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
use armoriq_core::{Error, Profile};
use common::*;

/// Inputs the SDK (Python `json`) accepts and we reject on purpose (SPEC §1),
/// with the error each must give.
fn rejected_by_design(input: &str) -> Option<Error> {
    Some(match input {
        "NaN" => Error::NonFiniteNumber { at: 0 },
        "Infinity" => Error::NonFiniteNumber { at: 0 },
        "-Infinity" => Error::NonFiniteNumber { at: 0 },
        "1e400" => Error::NumberOutOfRange { at: 0 },
        "-1e400" => Error::NumberOutOfRange { at: 0 },
        r#""\ud800""# => Error::LoneSurrogate { at: 1 },
        r#"{"a":1,"a":2}"# => Error::DuplicateKey { at: 7 },
        _ => return None,
    })
}

#[test]
fn canonical_json_edge_cases() {
    let v = read_json(&shared().join("vectors/armoriq/canonical_json_edge_cases.json"));
    let cases = v["cases"].as_array().unwrap();
    let (mut matched, mut rejected) = (0, 0);
    for c in cases {
        let input = c["input_json_text"].as_str().unwrap();
        let want = c["canonical_json_by_sdk"].as_str().unwrap();
        let got = canon(input.as_bytes(), Profile::ArmorIq);
        if let Some(err) = rejected_by_design(input) {
            assert_eq!(got, Err(err), "{input}");
            rejected += 1;
            continue;
        }
        let got = got.unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(
            String::from_utf8(got.clone()).unwrap(),
            want,
            "input {input}"
        );
        assert_eq!(sha256_hex(&got), c["sha256_hex"].as_str().unwrap());
        matched += 1;
    }
    assert_eq!(
        rejected, 7,
        "every by-design rejection is present in the vectors"
    );
    assert_eq!(matched + rejected, cases.len());
    assert_eq!(matched, 50, "every other case is byte-identical");
}

#[test]
fn plans_and_tool_call_hashes() {
    let v = read_json(&shared().join("vectors/armoriq/plans_and_tool_call_hashes.json"));
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 10);
    for c in cases {
        let name = c["name"].as_str().unwrap();
        let built = &c["build_plan_from_tool_calls_by_sdk"];
        let want = built["plan_canonical_json_by_sdk"].as_str().unwrap();
        for key in ["plan_python_repr_json", "httpx_request_body_plan_fragment"] {
            let text = built[key].as_str().unwrap();
            let got = canon(text.as_bytes(), Profile::ArmorIq).unwrap();
            assert_eq!(String::from_utf8(got).unwrap(), want, "{name}: {key}");
        }
        // The canonical form is a fixed point.
        assert_eq!(
            canon(want.as_bytes(), Profile::ArmorIq).unwrap(),
            want.as_bytes(),
            "{name}"
        );
        // hash_tool_calls: the hashed bytes are canonical and hash to the SDK's digest.
        let h = &c["hash_tool_calls"];
        let bytes = h["hashed_bytes_utf8"].as_str().unwrap();
        let got = canon(bytes.as_bytes(), Profile::ArmorIq).unwrap();
        assert_eq!(got, bytes.as_bytes(), "{name}");
        assert_eq!(
            sha256_hex(&got),
            h["sha256_hex_by_sdk"].as_str().unwrap(),
            "{name}"
        );
        // The old SDK's /steps/[i]/action value digest: SHA-256 of canonical(action).
        for leaf in c["csrg_leaf_candidates"].as_array().unwrap() {
            let action = serde_json::to_string(&leaf["action"]).unwrap();
            let got = canon(action.as_bytes(), Profile::ArmorIq).unwrap();
            assert_eq!(
                String::from_utf8(got.clone()).unwrap(),
                leaf["derived_value_canonical"].as_str().unwrap()
            );
            assert_eq!(
                sha256_hex(&got),
                leaf["derived_value_digest_sha256_hex"].as_str().unwrap()
            );
        }
    }
}

#[test]
fn empty_tool_call_list_hash() {
    // hash_tool_calls([]) as recorded in hash_tool_calls_edge_cases.json.
    let v = read_json(&shared().join("vectors/armoriq/hash_tool_calls_edge_cases.json"));
    let c = v["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["case"] == "empty_list")
        .unwrap();
    let got = canon(b"[]", Profile::ArmorIq).unwrap();
    assert_eq!(sha256_hex(&got), c["sha256_hex_by_sdk"].as_str().unwrap());
}

#[test]
fn intent_token_signed_bytes_are_canonical() {
    // The CSRG token's signed payloads (recorded as exact bytes) are fixed points.
    let v = read_json(&shared().join("vectors/armoriq/intent_token_signatures.json"));
    let mut n = 0;
    let mut stack = vec![&v];
    while let Some(x) = stack.pop() {
        match x {
            serde_json::Value::Object(m) => {
                for (k, val) in m {
                    if (k.starts_with("signed_bytes") || k.starts_with("canonical"))
                        && let Some(s) = val.as_str().filter(|s| s.starts_with('{'))
                    {
                        let got = canon(s.as_bytes(), Profile::ArmorIq).unwrap();
                        assert_eq!(String::from_utf8(got).unwrap(), s, "{k}");
                        n += 1;
                    }
                    stack.push(val);
                }
            }
            serde_json::Value::Array(a) => stack.extend(a.iter()),
            _ => {}
        }
    }
    assert!(n > 0, "no signed payloads found");
}
