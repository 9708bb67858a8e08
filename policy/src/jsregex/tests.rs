//! Unit tests of the portable-regex engine.

use super::*;

fn s(p: &str, v: &str) -> bool {
    JsRegex::new(p)
        .and_then(|r| r.search(v))
        .unwrap_or_else(|e| panic!("{p}: {e}"))
}

#[test]
fn basics() {
    assert!(s("^/etc/", "/etc/shadow"));
    assert!(!s("^/etc/", "/x/etc/"));
    assert!(s("a{2,3}$", "xaaa"));
    assert!(!s("^a{2,3}$", "aaaa"));
    assert!(s("^.$", "é"));
    assert!(!s("^.$", "😀"));
    assert!(s("^..$", "😀"));
    assert!(s("\\bfoo\\b", "a foo b"));
    assert!(s("\\B", ""));
    assert!(s("[^a]", "\n"));
    assert!(s("(?:ab|cd)+e", "xxcdabe"));
    assert!(s("a{٣}", "a{٣}"));
    assert!(s("\\u00e9", "é"));
}

/// `js_search(p, "ab")`, `js_search(p, "")` as the reference answers them.
#[test]
fn zero_width_and_empty_loops() {
    for (p, ab, empty) in [
        ("(^)*", true, true),
        ("(\\b)+", true, false),
        ("(?:$)?", true, true),
        ("()*", true, true),
        ("(a|^)*b", true, false),
        ("(?:\\b)*x", false, false),
        ("a{0}", true, true),
        ("(?:a*)+b", true, false),
        ("(a?){3,5}c", false, false),
        ("x{1,}?", false, false),
        ("(|a)+", true, true),
    ] {
        assert_eq!((s(p, "ab"), s(p, "")), (ab, empty), "{p}");
    }
}

#[test]
fn huge_counts_are_capped_per_input() {
    assert!(!s("a{4294967294}", ""));
    assert!(!s("^a{100000}$", "aaa"));
    assert!(s("(?:a?){100000}b", "aab"));
    assert!(s("a{0,100000}b", "xb"));
}

#[test]
fn errors() {
    let class = |p: &str| JsRegex::new(p).err().map(|e| e.to_string());
    assert_eq!(
        class("(?=x)").as_deref(),
        Some("NotPortable: pattern outside the portable subset at 1")
    );
    assert!(matches!(JsRegex::new("[a-"), Err(EvalError::TypeError(_))));
    assert!(matches!(JsRegex::new("a{3,1}"), Err(EvalError::ReError(_))));
    assert!(matches!(JsRegex::new("[z-a]"), Err(EvalError::ReError(_))));
    assert!(matches!(
        JsRegex::new("a{4294967295}"),
        Err(EvalError::OverflowError(_))
    ));
    assert!(matches!(
        JsRegex::new("a**"),
        Err(EvalError::NotPortable(_))
    ));
    assert!(matches!(JsRegex::new("\\"), Err(EvalError::NotPortable(_))));
}
