//! The 15 reference cases in `shared/vectors/armoriq/policy_ir_evaluate.json`,
//! produced by `armoriq_policy_ir.evaluate` 0.1.3.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use armoriq_policy::{Bound, Call, evaluate_json, evaluate_json_or_block, evaluate_or_block};
use serde_json::Value;
use std::path::PathBuf;

/// `shared/` beside the checkout, or `$ARMORIQ_SHARED`.
fn shared() -> PathBuf {
    std::env::var_os("ARMORIQ_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared")))
}

#[test]
fn reference_cases() {
    let path = shared().join("vectors/armoriq/policy_ir_evaluate.json");
    let doc: Value = serde_json::from_slice(
        &std::fs::read(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (set ARMORIQ_SHARED)", path.display())),
    )
    .unwrap();
    let cases = doc["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 15);
    for case in cases {
        let name = case["name"].as_str().unwrap();
        let expected = &case["evaluate_by_policy_ir"];
        let got = evaluate_json(&case["call"], &case["bound"]);
        match (expected.get("ok"), expected.get("error"), got) {
            (Some(ok), None, Ok(v)) => assert_eq!(&v, ok, "{name}"),
            (None, Some(Value::String(err)), Err(e)) => {
                assert_eq!(&e.to_string(), err, "{name}");
                // Callers block, keeping the reason.
                let call = Call::from_json(&case["call"]).unwrap();
                let bound = Bound::from_json(&case["bound"]).unwrap();
                let d = evaluate_or_block(&call, &bound);
                assert_eq!(d.verdict.as_str(), "block", "{name}");
                assert_eq!(
                    d.error.as_ref().map(ToString::to_string).as_deref(),
                    Some(err.as_str())
                );
                let j = evaluate_json_or_block(&case["call"], &case["bound"]);
                assert_eq!(j["verdict"], "block");
                assert_eq!(j["error"], Value::String(err.clone()));
            }
            (_, _, got) => panic!("{name}: expected {expected}, got {got:?}"),
        }
    }
}
