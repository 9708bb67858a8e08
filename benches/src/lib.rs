//! Inputs shared by the benchmarks: deterministic plans of a chosen size.

/// A plan of roughly `target_bytes` of JSON: realistic steps (action, mcp,
/// params with strings, numbers, a nested object and a little non-ASCII),
/// written with keys out of order so canonicalization has sorting to do.
#[must_use]
pub fn plan_of_size(target_bytes: usize) -> String {
    let mut steps = Vec::new();
    let mut len = 64;
    let mut i = 0u64;
    while len < target_bytes {
        let step = format!(
            concat!(
                r#"{{"params":{{"order_id":"ord_{i}","amount":{amt},"currency":"EUR","#,
                r#""note":"Rückerstattung für Bestellung {i} ✓","ratio":{ratio},"#,
                r#""tags":["refund","priority-{p}"],"meta":{{"z":{i},"a":true,"m":null}}}},"#,
                r#""mcp":"stripe-mcp","description":"Call create_refund on stripe-mcp","#,
                r#""action":"create_refund","tool":"create_refund"}}"#
            ),
            i = i,
            amt = 1000 + i * 37,
            ratio = 0.25 + (i as f64) / 8.0,
            p = i % 5
        );
        len += step.len() + 1;
        steps.push(step);
        i += 1;
    }
    format!(
        r#"{{"steps":[{}],"metadata":{{"source":"bench","version":2}},"goal":"Refund the flagged orders"}}"#,
        steps.join(",")
    )
}
