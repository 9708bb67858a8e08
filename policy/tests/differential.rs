//! Differential test against the reference `armoriq-policy-ir` 0.1.3 through
//! `scripts/py/policy_oracle.py` (one Python process for every case).
//!
//! Thousands of seeded, deterministic documents and calls: exact and glob rule
//! keys (`*`, `**`, `?`), every condition op, portable and non-portable
//! patterns, ISO and bad timestamps, subjects, layers, expiries (missing too),
//! capability tags and schema bindings. Both sides must give the same
//! decision (verdict, floorVerdict, approval, obligations, provenance), or the
//! same exception class.
//!
//! Python: `$ARMORIQ_PYTHON`, else `<workspace>/.venv/bin/python`. Without it
//! the test is skipped, unless `CI=true`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use armoriq_policy::evaluate_json;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const CASES: usize = 4000;
const FOCUSED: usize = 2000;
const SEED: u64 = 0x00A2_0105_1CE0_0001;

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TOOLS: &[&str] = &[
    "create_payment",
    "read_file",
    "read_secret",
    "fs.read",
    "fs.write",
    "fs/write",
    "github.create_issue",
    "github.list",
    "a",
    "ab",
    "😀x",
    "é",
    "x\ny",
    "",
];
const GLOB_KEYS: &[&str] = &[
    "*",
    "**",
    "?",
    "??",
    "read_*",
    "fs.*",
    "fs*",
    "fs/**",
    "*/*",
    "*.create_*",
    "read_?ile",
    "😀?",
    "?x",
    "*x",
    "a*",
    "**write",
    "github.**",
    "*e*",
    "***",
    "x?y",
    "x**y",
];
const CAPS: &[&str] = &["network", "fs", "exec", "pay"];
const TIMES: &[&str] = &[
    "2026-10-16T12:00:00.000Z",
    "2020-01-01T00:00:00.000Z",
    "2030-01-01T00:00:00Z",
    "2026-10-16T12:00:00.001Z",
    "2026-10-16T11:59:59.999Z",
    "2026-10-16T13:00+01:00",
    "2026-10-16T12:00:00-00:30",
    "2026-10-16T12:00:00",
    "2026-10-16T12:00",
    "2026-10-16",
    "2026-10",
    "2027",
    "+002027-01-01T00:00:00Z",
    "-000001-01-01T00:00:00Z",
    "-000000",
    "+000000-01-01",
    "2026-02-31",
    "2026-13-01",
    "2026-10-16T24:00",
    "2026-10-16T24:00:01",
    "2026-10-16T25:00",
    "2026-10-16T12:60",
    "2026-10-16T12:00:00+24:00",
    "2026-10-16T12:00:00+23:59",
    "٢٠٣٠-01-01",
    "𝟐𝟎𝟑𝟎-01-01T00:00Z",
    "2026-10-16T12:00:00.5Z",
    "2026-10-16T12:00:00.123456Z",
    "9999-12-31T24:00",
    "9999-12-31T23:59:59.999",
    "0001-01-01T12:00",
    "0001-01-02T00:00",
    "0000-06-01T00:00",
    "+275760-09-13T00:00:00Z",
    "+275760-09-13T00:00:00.001Z",
    "-271821-04-20T00:00:00Z",
    "soon",
    "16/10/2026",
    "2026-10-16 12:00",
    "2026-1-1",
    "2026-10-16T12:00:00.Z",
    "2026-10-16T12Z",
    "",
];
const REGEXES: &[&str] = &[
    "^/etc/",
    "(?=x)",
    "(?!x)",
    "(?<n>x)",
    "a{2,3}",
    "^a{2,3}$",
    "[a-z]+",
    "\\d{3}",
    "^.$",
    "^..$",
    "[^a]",
    "\\bfoo",
    "\\B",
    "^\\B$",
    "(a|b)*c",
    "a{3,1}",
    "[z-a]",
    "[a-",
    "\\",
    "a**",
    "(?:x)+?",
    "\\u00e9",
    "\\x41",
    "\\x4",
    "[\\d-z]",
    "[a-\\d]",
    "a{٣}",
    "a{1,٣}?",
    "$",
    "^$",
    "x{1,}?",
    "[😀]",
    "😀+",
    "\\p{L}",
    "a{4294967295}",
    "a{4294967294}",
    "a{,3}",
    "\\s\\S",
    "[\\w.-]+@",
    "\\/",
    "a|",
    "()",
    "(",
    ")",
    "]",
    "{",
    "}",
    "[]",
    "[^]",
    "[\\b]",
    "\\cA",
    "\\0",
    "\\1",
    "[\\u0041-\\u005a]+",
    "[\\t-\\r]",
    "\\v\\f",
    "x$|^y",
    "(?:a|)*b",
    "^(\\d+)*$",
    "(^)*",
    "(\\b)+",
    "(?:$)?",
    "()*",
    "(?:)+",
    "(a|^)*b",
    "(?:\\b)*x",
    "a{0}",
    "(?:a*)*",
    "(?:a*)+b",
    "(a?){3,5}c",
    "[\\-]",
    "(|a)+",
    "a{1000}",
    "(?:a{40}){40}",
    "",
];
const REGEX_TOKENS: &[&str] = &[
    "a", "b", ".", "*", "+", "?", "(", ")", "[", "]", "^", "$", "|", "\\d", "\\w", "\\s", "\\W",
    "\\b", "\\B", "{2}", "{1,3}", "{2,}", "-", "\\x4", "1", "\\u00", "😀", "é", "\n", "\\", "(?:",
    "(?=", "[^", "{", "}", "0", "\\.", "\\-", "z", "*?", "\\u00e9", "{3,1}", "{0}", "\\xZZ", "(?",
    "\\u{41}", "[a-c]", "[c-a]", "\\t", "\\v", "[\\s\\d]", "{1,٣}", "\\/", ",", "\\b+", "$*",
];
const STRING_ATOMS: &[&str] = &[
    "a", "b", "c", "0", "1", " ", "\n", "/", "é", "😀", "_", "-", ".", "{", "}", "x", "٣", "foo",
    "/etc/", "A", "aa", "\u{2028}", "\t",
];

fn random_string(r: &mut Rng) -> String {
    let n = r.below(6);
    (0..n).map(|_| *r.pick(STRING_ATOMS)).collect()
}

fn random_regex(r: &mut Rng) -> String {
    if r.chance(60) {
        return (*r.pick(REGEXES)).to_owned();
    }
    let n = 1 + r.below(10);
    (0..n).map(|_| *r.pick(REGEX_TOKENS)).collect()
}

fn random_glob(r: &mut Rng) -> String {
    if r.chance(40) {
        return (*r.pick(GLOB_KEYS)).to_owned();
    }
    let atoms = ["*", "**", "?", "a", "b", "/", "😀", "\n", ".", "x"];
    let n = r.below(5);
    (0..n).map(|_| *r.pick(&atoms)).collect()
}

fn random_number(r: &mut Rng) -> Value {
    match r.below(9) {
        0 => json!(r.below(20000) as i64 - 5),
        1 => json!(r.below(5) as f64 + 0.5),
        2 => json!(1e21),
        3 => json!(-0.0),
        4 => json!(1.0),
        5 => json!(9_007_199_254_740_993u64),
        6 => json!(1000),
        7 => json!(r.below(3)),
        _ => json!(-(r.below(100) as i64)),
    }
}

fn random_scalar(r: &mut Rng) -> Value {
    match r.below(6) {
        0 | 1 => random_number(r),
        2 | 3 => Value::String(random_string(r)),
        4 => Value::Bool(r.chance(50)),
        _ => Value::Null,
    }
}

fn random_value(r: &mut Rng, depth: usize) -> Value {
    if depth == 0 || r.chance(70) {
        return random_scalar(r);
    }
    if r.chance(50) {
        let n = r.below(4);
        Value::Array((0..n).map(|_| random_value(r, depth - 1)).collect())
    } else {
        let mut m = Map::new();
        for _ in 0..r.below(3) {
            m.insert(
                r.pick(&["x", "y", "a"]).to_string(),
                random_value(r, depth - 1),
            );
        }
        Value::Object(m)
    }
}

const FIELDS: &[&str] = &[
    "args.amount",
    "args.path",
    "args.tags",
    "args.tags.length",
    "args.tags.0",
    "args.tags.1",
    "args.tags.01",
    "args.tags.x",
    "args.nested.x",
    "args.nested.x.length",
    "args",
    "args.flag",
    "args.missing",
    "args.name",
    "risk",
    "risk.level",
    "labels.0",
    "",
    "args.",
];
const OPS: &[&str] = &[
    "exists",
    "eq",
    "ne",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "notIn",
    "glob",
    "regex",
    "notRegex",
    "startsWith",
];
const HASHES: &[&str] = &["sha256:a", "sha256:b"];

fn random_condition(r: &mut Rng) -> Value {
    let op = *r.pick(OPS);
    let mut c = Map::new();
    let stringy = matches!(op, "regex" | "notRegex" | "glob" | "startsWith") && r.chance(70);
    let field = if stringy {
        *r.pick(&["args.path", "args.name"])
    } else {
        *r.pick(FIELDS)
    };
    c.insert("field".into(), json!(field));
    c.insert("op".into(), json!(op));
    let value = match op {
        "regex" | "notRegex" if r.chance(90) => Some(Value::String(random_regex(r))),
        "glob" if r.chance(90) => Some(Value::String(random_glob(r))),
        "startsWith" if r.chance(80) => Some(Value::String(random_string(r))),
        "in" | "notIn" if r.chance(80) => {
            let n = r.below(4);
            Some(Value::Array((0..n).map(|_| random_scalar(r)).collect()))
        }
        "gt" | "gte" | "lt" | "lte" if r.chance(80) => Some(random_number(r)),
        "exists" if r.chance(50) => None,
        _ if r.chance(10) => None,
        _ => Some(random_value(r, 2)),
    };
    if let Some(v) = value {
        c.insert("value".into(), v);
    }
    if r.chance(25) {
        let binding = match r.below(4) {
            0 => Value::Null,
            1 => json!({}),
            2 => json!({"schemaHash": null}),
            _ => json!({"schemaHash": *r.pick(HASHES)}),
        };
        c.insert("schemaBinding".into(), binding);
    }
    Value::Object(c)
}

fn random_expiry(r: &mut Rng, map: &mut Map<String, Value>) {
    match r.below(20) {
        0..=12 => {
            map.insert("expiresAt".into(), json!("never"));
        }
        13 => {}
        14 => {
            map.insert("expiresAt".into(), Value::Null);
        }
        15 | 16 => {
            map.insert(
                "expiresAt".into(),
                json!(*r.pick(&["2030-01-01T00:00:00Z", "2020-01-01T00:00:00Z"])),
            );
        }
        _ => {
            map.insert("expiresAt".into(), json!(*r.pick(TIMES)));
        }
    }
}

fn random_subject(r: &mut Rng) -> Value {
    let mut m = Map::new();
    let keys = if r.chance(85) { 1 } else { 2 };
    for _ in 0..keys {
        match r.below(4) {
            0 => m.insert(
                "membershipId".into(),
                r.pick(&[json!("m1"), json!("m2"), json!(1), Value::Null])
                    .clone(),
            ),
            1 => m.insert(
                "email".into(),
                json!(*r.pick(&[
                    "cfo@example.com",
                    "CFO@Example.COM",
                    "x@y",
                    "ΣΑΣ@x",
                    "σας@x",
                    "\u{1C89}@x",
                    "ᲊ@x",
                    "AΣ\u{1C89}@X"
                ])),
            ),
            2 => m.insert(
                "group".into(),
                r.pick(&[json!("g1"), json!("g2"), json!(1), json!(1.0)])
                    .clone(),
            ),
            _ => m.insert(
                "product".into(),
                r.pick(&[json!("p1"), json!("p2"), Value::Null]).clone(),
            ),
        };
    }
    Value::Object(m)
}

fn random_statement(r: &mut Rng, id: usize) -> Value {
    let mut s = Map::new();
    s.insert("id".into(), json!(format!("s{id}")));
    s.insert("effect".into(), json!(*r.pick(&["allow", "hold", "block"])));
    let mut m = Map::new();
    let kind = r.below(10);
    if kind < 7 || kind == 9 {
        let key = if r.chance(50) {
            (*r.pick(TOOLS)).to_owned()
        } else {
            random_glob(r)
        };
        m.insert("tool".into(), json!(key));
        let order = match r.below(5) {
            0 => json!(r.below(4) as f64 + 0.5),
            1 => json!(-(r.below(3) as i64)),
            2 => json!(-0.0),
            _ => json!(r.below(4)),
        };
        m.insert("order".into(), order);
    }
    if kind >= 7 {
        m.insert("capability".into(), json!(*r.pick(CAPS)));
    }
    s.insert("match".into(), Value::Object(m));
    let n = match r.below(10) {
        0..=3 => 0,
        4..=7 => 1,
        8 => 2,
        _ => 3,
    };
    if n > 0 || r.chance(70) {
        s.insert(
            "conditions".into(),
            Value::Array((0..n).map(|_| random_condition(r)).collect()),
        );
    }
    random_expiry(r, &mut s);
    if r.chance(25) {
        s.insert("subject".into(), random_subject(r));
    }
    if r.chance(15) {
        s.insert("approval".into(), random_value(r, 2));
    }
    s.insert(
        "provenance".into(),
        json!({"ruleKey": format!("tools.k{}", r.below(5)), "variant": r.below(3)}),
    );
    Value::Object(s)
}

fn random_doc(r: &mut Rng, layer: &str, next_id: &mut usize) -> Value {
    if r.chance(5) {
        return json!({});
    }
    let mut d = Map::new();
    d.insert(
        "policyId".into(),
        json!(format!("pol-{layer}-{}", r.below(3))),
    );
    d.insert("layer".into(), json!(layer));
    random_expiry(r, &mut d);
    d.insert(
        "defaults".into(),
        json!({"tools": *r.pick(&["allow", "hold", "block"])}),
    );
    let n = r.below(9);
    let statements: Vec<Value> = (0..n)
        .map(|_| {
            *next_id += 1;
            random_statement(r, *next_id)
        })
        .collect();
    if !statements.is_empty() || r.chance(80) {
        d.insert("statements".into(), Value::Array(statements));
    }
    Value::Object(d)
}

fn random_call(r: &mut Rng) -> Value {
    let mut c = Map::new();
    c.insert("tool".into(), json!(*r.pick(TOOLS)));
    if r.chance(90) {
        let mut a = Map::new();
        if r.chance(70) {
            a.insert(
                "amount".into(),
                if r.chance(80) {
                    random_number(r)
                } else {
                    random_scalar(r)
                },
            );
        }
        if r.chance(60) {
            a.insert("path".into(), json!(random_string(r)));
        }
        if r.chance(50) {
            let n = r.below(4);
            a.insert(
                "tags".into(),
                Value::Array((0..n).map(|_| random_scalar(r)).collect()),
            );
        }
        if r.chance(30) {
            a.insert("nested".into(), json!({"x": random_value(r, 2)}));
        }
        if r.chance(30) {
            a.insert("flag".into(), random_scalar(r));
        }
        if r.chance(40) {
            a.insert("name".into(), json!(random_string(r)));
        }
        c.insert("arguments".into(), Value::Object(a));
    } else if r.chance(50) {
        c.insert("arguments".into(), random_value(r, 1));
    }
    match r.below(20) {
        0..=16 => {
            c.insert("timestamp".into(), json!("2026-10-16T12:00:00.000Z"));
        }
        17 => {}
        _ => {
            c.insert("timestamp".into(), json!(*r.pick(TIMES)));
        }
    }
    if r.chance(40) {
        let mut m = Map::new();
        if r.chance(50) {
            m.insert(
                "email".into(),
                r.pick(&[
                    json!("cfo@example.com"),
                    json!("CFO@EXAMPLE.COM"),
                    json!("σας@X"),
                    json!("\u{1C89}@x"),
                    json!("ᲊ@X"),
                    json!("aς\u{1C89}@x"),
                    json!(5),
                ])
                .clone(),
            );
        }
        if r.chance(40) {
            m.insert(
                "membershipId".into(),
                r.pick(&[json!("m1"), json!("m2"), json!(1.0), Value::Null])
                    .clone(),
            );
        }
        if r.chance(40) {
            m.insert(
                "groups".into(),
                Value::Array(
                    [json!("g1"), json!(1), json!("g3")]
                        .into_iter()
                        .take(r.below(4))
                        .collect(),
                ),
            );
        }
        if r.chance(30) {
            m.insert(
                "product".into(),
                r.pick(&[json!("p1"), json!("p2"), Value::Null]).clone(),
            );
        }
        c.insert("member".into(), Value::Object(m));
    }
    if r.chance(40) {
        let tags: Vec<&str> = CAPS.iter().copied().filter(|_| r.chance(40)).collect();
        c.insert("capabilities".into(), json!(tags));
    }
    if r.chance(30) {
        c.insert(
            "schemaHash".into(),
            r.pick(&[json!("sha256:a"), json!("sha256:b"), Value::Null])
                .clone(),
        );
    }
    if r.chance(40) {
        c.insert(
            "derived".into(),
            json!({"risk": random_value(r, 1), "labels": ["l1", random_scalar(r)]}),
        );
    }
    Value::Object(c)
}

fn random_case(r: &mut Rng) -> (Value, Value) {
    let mut next_id = 0;
    let mut bound = Map::new();
    for (layer, p) in [("floor", 35), ("agent", 80), ("group", 40)] {
        if r.chance(p) {
            bound.insert(layer.into(), random_doc(r, layer, &mut next_id));
        }
    }
    (random_call(r), Value::Object(bound))
}

/// Deeply nested groups around the reference's recursion limit.
fn recursion_case(r: &mut Rng) -> (Value, Value) {
    let depth = 318 + r.below(14);
    let inner = *r.pick(&[
        "", "a", "[a]", "[a-b]", "\\x41", "\\d", "a*", "a{2}", ".", "^", "|", "(?=", "\\b",
        "[\\x41]", "a|b",
    ]);
    let pattern = format!("{}{inner}{}", "(".repeat(depth), ")".repeat(depth));
    let layer = *r.pick(&["floor", "agent", "group"]);
    let capability = r.chance(50);
    let m = if capability {
        json!({"capability": "fs"})
    } else {
        json!({"tool": "x", "order": 1})
    };
    let doc = json!({
        "policyId": "p", "layer": layer, "expiresAt": "never", "defaults": {"tools": "hold"},
        "statements": [{"id": "r", "effect": "allow", "match": m,
            "conditions": [{"field": "args.a", "op": "regex", "value": pattern}],
            "expiresAt": "never", "provenance": {"ruleKey": "k", "variant": 0}}]
    });
    let call =
        json!({"tool": "x", "arguments": {"a": "q"}, "capabilities": ["fs"], "timestamp": "2026"});
    (call, json!({ layer: doc }))
}

fn single_condition_case(condition: Value, call_args: Value, timestamp: &str) -> (Value, Value) {
    let doc = json!({
        "policyId": "p", "layer": "agent", "expiresAt": "never", "defaults": {"tools": "block"},
        "statements": [{"id": "c", "effect": "allow", "match": {"tool": "t", "order": 0},
            "conditions": [condition], "expiresAt": "never",
            "provenance": {"ruleKey": "tools.t", "variant": 0}}]
    });
    let call = json!({"tool": "t", "arguments": call_args, "timestamp": timestamp});
    (call, json!({"agent": doc}))
}

/// One regex / glob / startsWith condition on a string: pattern translation,
/// `re` errors and matching on UTF-16 code units.
fn pattern_case(r: &mut Rng) -> (Value, Value) {
    let op = *r.pick(&["regex", "notRegex", "regex", "glob", "startsWith"]);
    let value = match op {
        "glob" => random_glob(r),
        "startsWith" => random_string(r),
        _ => random_regex(r),
    };
    let subject = if r.chance(30) && op != "startsWith" {
        // Strings built from the pattern's own pieces match more often.
        value.replace(['*', '?', '\\', '^', '$', '(', ')', '[', ']', '|', '+'], "")
    } else {
        random_string(r)
    };
    single_condition_case(
        json!({"field": "args.s", "op": op, "value": value}),
        json!({"s": subject}),
        "2026-10-16T12:00:00.000Z",
    )
}

/// Liveness: a statement expiry against the call time, both from `TIMES`.
fn time_case(r: &mut Rng) -> (Value, Value) {
    let now = TIMES[r.below(TIMES.len())];
    let (call, mut bound) = single_condition_case(
        json!({"field": "args.s", "op": "exists"}),
        json!({"s": 1}),
        now,
    );
    bound["agent"]["statements"][0]["expiresAt"] = json!(*r.pick(TIMES));
    if r.chance(30) {
        bound["agent"]["expiresAt"] = json!(*r.pick(TIMES));
    }
    (call, bound)
}

/// Every op against every kind of operand (JS `===`, doubles, SameValueZero).
fn operand_case(r: &mut Rng) -> (Value, Value) {
    let op = *r.pick(OPS);
    let mut condition =
        json!({"field": *r.pick(&["args.v", "args.v.length", "args.v.0", "args.w"]), "op": op});
    if r.chance(85) {
        condition["value"] = if matches!(op, "in" | "notIn") && r.chance(70) {
            Value::Array((0..r.below(4)).map(|_| random_scalar(r)).collect())
        } else {
            random_value(r, 2)
        };
    }
    single_condition_case(
        condition,
        json!({"v": random_value(r, 2)}),
        "2026-10-16T12:00:00.000Z",
    )
}

/// Numbers as doubles (integers kept exact when they fit), so the comparison
/// does not depend on serde_json's `arbitrary_precision` (a feature another
/// workspace member may switch on) or on Python's float formatting.
fn normalize(v: &Value) -> Value {
    match v {
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => json!(i),
            (_, Some(u), _) => json!(u),
            (_, _, Some(f)) => json!(f),
            _ => v.clone(),
        },
        Value::Array(a) => Value::Array(a.iter().map(normalize).collect()),
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, x)| (k.clone(), normalize(x))).collect())
        }
        other => other.clone(),
    }
}

/// Member scope: subject statements on the called tool, a random member.
fn member_case(r: &mut Rng) -> (Value, Value) {
    let statements: Vec<Value> = (0..1 + r.below(5))
        .map(|i| {
            let mut s = json!({
                "id": format!("m{i}"), "effect": *r.pick(&["allow", "hold", "block"]),
                "match": {"tool": "t", "order": r.below(3)}, "conditions": [], "expiresAt": "never",
                "provenance": {"ruleKey": "tools.t", "variant": i}
            });
            if r.chance(80) {
                s["subject"] = random_subject(r);
            }
            s
        })
        .collect();
    let doc = json!({"policyId": "p", "layer": "agent", "expiresAt": "never",
        "defaults": {"tools": "block"}, "statements": statements});
    let mut call = random_call(r);
    call["tool"] = json!("t");
    if call.get("member").is_none() && r.chance(80) {
        call["member"] = json!({"email": *r.pick(&["cfo@example.com", "σας@x", "\u{1C89}@x", "ᲊ@X", "aς\u{1C89}@x"])});
    }
    (call, json!({"agent": doc}))
}

fn python() -> Option<PathBuf> {
    let py = std::env::var_os("ARMORIQ_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python"))
        });
    let ok = Command::new(&py)
        .args(["-c", "import armoriq_policy_ir"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(py);
    }
    let msg = format!(
        "{} cannot import armoriq_policy_ir (set ARMORIQ_PYTHON)",
        py.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{msg}");
    }
    eprintln!("SKIPPED differential test: {msg}");
    None
}

fn oracle(py: &PathBuf, cases: &[(Value, Value)]) -> Vec<Value> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../scripts/py/policy_oracle.py"
    );
    let mut child = Command::new(py)
        .arg(script)
        .env("TZ", "UTC")
        .env("PYTHONUTF8", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn oracle");
    let mut input = String::new();
    for (call, bound) in cases {
        input.push_str(&json!({"call": call, "bound": bound}).to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let out = child.wait_with_output().expect("oracle output");
    writer.join().unwrap().expect("write oracle input");
    assert!(out.status.success(), "oracle failed");
    let text = String::from_utf8(out.stdout).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn agrees_with_reference() {
    let Some(py) = python() else { return };
    // Deterministic by default; ARMORIQ_POLICY_SEED / ARMORIQ_POLICY_CASES explore further.
    let env = |k: &str| std::env::var(k).ok().and_then(|v| v.parse::<u64>().ok());
    let mut r = Rng(env("ARMORIQ_POLICY_SEED").unwrap_or(SEED));
    let n = env("ARMORIQ_POLICY_CASES").map_or(CASES, |n| n as usize);
    let mut cases: Vec<(Value, Value)> = (0..n).map(|_| random_case(&mut r)).collect();
    cases.extend((0..200).map(|_| recursion_case(&mut r)));
    let focused = env("ARMORIQ_POLICY_FOCUSED").map_or(FOCUSED, |n| n as usize);
    cases.extend((0..focused).map(|_| pattern_case(&mut r)));
    cases.extend((0..focused / 2).map(|_| time_case(&mut r)));
    cases.extend((0..focused / 2).map(|_| operand_case(&mut r)));
    cases.extend((0..focused / 2).map(|_| member_case(&mut r)));
    let expected = oracle(&py, &cases);
    assert_eq!(expected.len(), cases.len(), "oracle answered every case");
    let mut outcomes: BTreeMap<String, usize> = BTreeMap::new();
    let mut disagreements = Vec::new();
    for ((call, bound), want) in cases.iter().zip(&expected) {
        let got = evaluate_json(call, bound);
        let (label, agree) = match (want.get("error"), &got) {
            (Some(Value::String(class)), Err(e)) => {
                (format!("error {class}"), e.class_name() == class)
            }
            (None, Ok(v)) => (
                format!("verdict {}", v["verdict"].as_str().unwrap_or("?")),
                normalize(v) == normalize(want),
            ),
            (Some(class), _) => (format!("error {class}"), false),
            (None, Err(_)) => ("rust-only error".to_owned(), false),
        };
        *outcomes.entry(label).or_default() += 1;
        if !agree {
            disagreements.push(format!(
                "call={call}\nbound={bound}\nreference={want}\nrust={:?}\n",
                got.map(|v| v.to_string())
            ));
        }
    }
    let run = cases.len();
    let agreed = run - disagreements.len();
    println!("differential: {run} cases run, {agreed} agreed");
    for (k, v) in &outcomes {
        println!("  {k}: {v}");
    }
    for d in disagreements.iter().take(5) {
        println!("DISAGREEMENT\n{d}");
    }
    assert!(
        disagreements.is_empty(),
        "{} of {run} cases disagree",
        disagreements.len()
    );
}

fn paths(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let p = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                paths(x, p, out);
            }
        }
        _ => {}
    }
}

/// A valid case with one field deleted or replaced by a value of another kind.
fn malformed_case(r: &mut Rng) -> (Value, Value) {
    let (call, bound) = random_case(r);
    let mut both = json!({"call": call, "bound": bound});
    let mut all = Vec::new();
    paths(&both, String::new(), &mut all);
    let all: Vec<String> = all
        .into_iter()
        .filter(|p| p.matches('/').count() >= 2)
        .collect();
    if !all.is_empty() {
        let target = all[r.below(all.len())].clone();
        let (parent, key) = target.rsplit_once('/').unwrap();
        let replacement = match r.below(6) {
            0 => None,
            1 => Some(json!([1, "x"])),
            2 => Some(json!({"x": 1})),
            3 => Some(json!(7)),
            4 => Some(json!("deny")),
            _ => Some(Value::Null),
        };
        match (both.pointer_mut(parent), replacement) {
            (Some(Value::Object(m)), None) => {
                m.shift_remove(key);
            }
            (Some(Value::Array(a)), None) => {
                let i: usize = key.parse().unwrap();
                a.remove(i);
            }
            (Some(_), Some(v)) => {
                *both.pointer_mut(&target).unwrap() = v;
            }
            _ => {}
        }
    }
    (both["call"].take(), both["bound"].take())
}

/// Malformed documents and calls: this evaluator may refuse a document the
/// reference would still evaluate (it checks types at load time, the
/// reference when it reaches the field), but it must never decide where the
/// reference raises, nor decide differently.
#[test]
fn malformed_input_is_never_more_permissive() {
    let Some(py) = python() else { return };
    let mut r = Rng(SEED ^ 0xBAD);
    let cases: Vec<(Value, Value)> = (0..3000).map(|_| malformed_case(&mut r)).collect();
    let expected = oracle(&py, &cases);
    assert_eq!(expected.len(), cases.len());
    let (mut same, mut stricter, mut other_class) = (0, 0, 0);
    let mut bad = Vec::new();
    for ((call, bound), want) in cases.iter().zip(&expected) {
        match (want.get("error"), evaluate_json(call, bound)) {
            (None, Ok(v)) if normalize(&v) == normalize(want) => same += 1,
            (Some(Value::String(c)), Err(e)) if e.class_name() == c => same += 1,
            (Some(_), Err(_)) => other_class += 1,
            (None, Err(_)) => stricter += 1,
            (_, got) => bad.push(format!(
                "call={call}\nbound={bound}\nreference={want}\nrust={got:?}\n"
            )),
        }
    }
    println!(
        "malformed: {} cases; {same} identical, {stricter} refused by Rust only, {other_class} errors of another class, {} more permissive",
        cases.len(),
        bad.len()
    );
    for b in bad.iter().take(5) {
        println!("MORE PERMISSIVE\n{b}");
    }
    assert!(bad.is_empty());
}
