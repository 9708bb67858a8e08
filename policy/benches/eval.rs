//! Evaluation cost per call against a 50-statement policy (criterion).
//!
//! `cargo bench -p armoriq-policy`
//!
//! * `evaluate_loaded`: `evaluate` on an already-loaded policy (what the
//!   gateway does per call: the policy is parsed once at start or reload);
//! * `evaluate_json`: parse the call and the policy, then evaluate.

use armoriq_policy::{Bound, Call, evaluate, evaluate_json};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;

/// A floor of 5 statements and an agent document of 45: exact and glob keys
/// with ordered variants (numeric, regex, glob, `in` conditions), capability
/// statements and member-scoped statements.
fn fifty_statements() -> Value {
    let mut agent = Vec::new();
    let servers = ["github", "fs", "slack", "stripe", "jira"];
    let actions = ["read", "write", "delete"];
    let mut n = 0;
    let mut push = |v: &mut Vec<Value>,
                    effect: &str,
                    m: Value,
                    conditions: Value,
                    extra: Option<(&str, Value)>| {
        n += 1;
        let mut s = json!({
            "id": format!("s{n}"), "effect": effect, "match": m, "conditions": conditions,
            "expiresAt": "never", "provenance": {"ruleKey": format!("tools.k{n}"), "variant": 0}
        });
        if let Some((k, val)) = extra {
            s[k] = val;
        }
        v.push(s);
    };
    for server in servers {
        for (i, action) in actions.iter().enumerate() {
            let tool = format!("{server}.{action}");
            push(
                &mut agent,
                "allow",
                json!({"tool": tool, "order": 1}),
                json!([
                    {"field": "args.amount", "op": "lte", "value": 1000},
                    {"field": "args.path", "op": "notRegex", "value": "^/(etc|root)/"}
                ]),
                None,
            );
            push(
                &mut agent,
                "hold",
                json!({"tool": tool, "order": 2}),
                json!([
                    {"field": "args.amount", "op": "lte", "value": 10000}
                ]),
                None,
            );
            if i == 0 {
                push(
                    &mut agent,
                    "block",
                    json!({"tool": tool, "order": 3}),
                    json!([]),
                    None,
                );
            }
        }
        push(
            &mut agent,
            "hold",
            json!({"tool": format!("{server}.*"), "order": 1}),
            json!([
                {"field": "args.path", "op": "glob", "value": "/tmp/**"}
            ]),
            None,
        );
    }
    for cap in ["network", "exec"] {
        push(
            &mut agent,
            "hold",
            json!({"capability": cap}),
            json!([{"field": "args.env", "op": "in", "value": ["prod", "staging"]}]),
            None,
        );
    }
    push(
        &mut agent,
        "allow",
        json!({"tool": "stripe.write", "order": 1}),
        json!([]),
        Some(("subject", json!({"email": "cfo@example.com"}))),
    );
    push(
        &mut agent,
        "allow",
        json!({"tool": "github.delete", "order": 1}),
        json!([]),
        Some(("subject", json!({"group": "admins"}))),
    );
    while agent.len() < 45 {
        let tool = format!("legacy.tool{}", agent.len());
        push(
            &mut agent,
            "block",
            json!({"tool": tool, "order": 1}),
            json!([]),
            None,
        );
    }
    let floor: Vec<Value> = (0..5)
        .map(|i| json!({
            "id": format!("f{i}"), "effect": "block", "match": {"tool": format!("danger.op{i}"), "order": 1},
            "conditions": [], "expiresAt": "never", "provenance": {"ruleKey": format!("floor.{i}"), "variant": 0}
        }))
        .collect();
    json!({
        "floor": {"policyId": "org", "layer": "floor", "expiresAt": "never", "defaults": {"tools": "allow"}, "statements": floor},
        "agent": {"policyId": "agent-1", "layer": "agent", "expiresAt": "2030-01-01T00:00:00Z", "defaults": {"tools": "block"}, "statements": agent},
    })
}

fn bench(c: &mut Criterion) {
    let bound_json = fifty_statements();
    let statements: usize = ["floor", "agent"]
        .iter()
        .map(|k| bound_json[k]["statements"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(statements, 50);
    let bound = Bound::from_json(&bound_json).expect("policy loads");
    let call_json = json!({
        "tool": "stripe.write",
        "arguments": {"amount": 5000, "path": "/var/data/x", "env": "prod"},
        "timestamp": "2026-10-16T12:00:00.000Z",
        "member": {"email": "dev@example.com", "groups": ["eng"]},
        "capabilities": ["network"],
    });
    let call = Call::from_json(&call_json).expect("call loads");
    // The decision exercised: a hold from the ordered variants of stripe.write.
    let d = evaluate(&call, &bound).expect("evaluates").to_json();
    assert_eq!(d["verdict"], "hold", "{d}");
    let mut g = c.benchmark_group("policy_50_statements");
    g.bench_function("evaluate_loaded", |b| {
        b.iter(|| evaluate(black_box(&call), black_box(&bound)).ok())
    });
    g.bench_function("evaluate_json", |b| {
        b.iter(|| evaluate_json(black_box(&call_json), black_box(&bound_json)).ok())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
