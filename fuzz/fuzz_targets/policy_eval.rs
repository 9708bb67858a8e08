//! Armor Policy v2 (`armoriq-policy`) on arbitrary JSON: the input is either
//! `{"bound"|"policy": <bound or document>, "call": <call>}` or a bound /
//! document alone (then a few fixed calls are evaluated against it).
//! `Bound::from_json_or_doc`, `Call::from_json`, `evaluate` and
//! `evaluate_json_or_block` never panic, and a decision always serializes.
#![no_main]
use armoriq_policy::{Bound, Call, evaluate, evaluate_json_or_block};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(v) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let bound_v = v.get("bound").or_else(|| v.get("policy")).unwrap_or(&v);
    let calls = match v.get("call") {
        Some(c) => vec![c.clone()],
        None => vec![
            json!({"tool": "create_payment", "arguments": {"amount": 900},
                   "timestamp": "2026-10-16T12:00:00.000Z"}),
            json!({"tool": "stripe-mcp.create_refund",
                   "arguments": {"order_id": "ord_1", "amount": 12000, "currency": "EUR"},
                   "timestamp": "2026-10-16T23:59:59.000Z",
                   "member": {"id": "alice", "groups": ["finance"]},
                   "capabilities": ["payments"]}),
            json!({"tool": "read_file", "arguments": {"path": "/etc/passwd"}}),
        ],
    };
    let bound = Bound::from_json_or_doc(bound_v);
    for c in &calls {
        let _ = evaluate_json_or_block(c, bound_v);
        if let (Ok(b), Ok(call)) = (&bound, Call::from_json(c)) {
            if let Ok(d) = evaluate(&call, b) {
                let _ = d.to_json();
            }
        }
    }
});
