//! `doc_from_allow_deny`: the armoriq.yaml lists as a v2 document.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use armoriq_policy::{Bound, Call, Doc, doc_from_allow_deny, evaluate};
use serde_json::json;

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_owned()).collect()
}

fn verdict(doc: &serde_json::Value, tool: &str) -> (String, Option<String>) {
    let bound = Bound {
        agent: Some(Doc::from_json(doc, "doc").unwrap()),
        ..Bound::default()
    };
    let call = Call::from_json(
        &json!({"tool": tool, "arguments": {}, "timestamp": "2026-10-16T12:00:00Z"}),
    )
    .unwrap();
    let d = evaluate(&call, &bound).unwrap();
    (d.verdict.as_str().to_owned(), d.provenance.statement_id)
}

#[test]
fn lists_map_to_effects_and_default() {
    let doc = doc_from_allow_deny(
        &s(&["github.create_issue", "fs.*", "slack.**"]),
        &s(&["fs.delete", "shell.*"]),
        &s(&["github.merge_pr"]),
    );
    assert_eq!(doc["defaults"]["tools"], "block");
    assert_eq!(doc["layer"], "agent");
    assert_eq!(verdict(&doc, "github.create_issue").0, "allow");
    assert_eq!(verdict(&doc, "github.merge_pr").0, "hold");
    assert_eq!(verdict(&doc, "fs.read").0, "allow");
    assert_eq!(verdict(&doc, "fs.delete").0, "block");
    assert_eq!(verdict(&doc, "shell.exec").0, "block");
    assert_eq!(verdict(&doc, "slack.post/thread").0, "allow");
    // `*` does not cross `/`.
    assert_eq!(verdict(&doc, "fs.a/b").0, "block");
    // Not listed: the default.
    let (v, id) = verdict(&doc, "jira.create");
    assert_eq!((v.as_str(), id), ("block", None));
}

#[test]
fn empty_allow_list_defaults_to_allow() {
    let doc = doc_from_allow_deny(&[], &s(&["fs.rm"]), &[]);
    assert_eq!(doc["defaults"]["tools"], "allow");
    assert_eq!(verdict(&doc, "anything.at_all").0, "allow");
    assert_eq!(verdict(&doc, "fs.rm").0, "block");
}

#[test]
fn strictest_list_wins_for_one_ref_and_deny_globs_cover_exact_refs() {
    let doc = doc_from_allow_deny(
        &s(&["a.b", "fs.write", "x.*"]),
        &s(&["a.b", "fs.*"]),
        &s(&["x.*"]),
    );
    assert_eq!(
        verdict(&doc, "a.b"),
        ("block".into(), Some("deny:a.b".into()))
    );
    assert_eq!(
        verdict(&doc, "fs.write"),
        ("block".into(), Some("deny:fs.write".into()))
    );
    assert_eq!(
        verdict(&doc, "x.y"),
        ("hold".into(), Some("hold:x.*".into()))
    );
    // One statement per distinct ref.
    assert_eq!(doc["statements"].as_array().unwrap().len(), 4);
}
