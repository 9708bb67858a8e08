//! `proxy.rs`'s unit tests: control members taken out of tool arguments.

use super::*;

#[test]
fn control_members_are_taken_out_and_values_kept_exactly() {
    let raw = RawValue::from_string(
        r#"{"a":12345678901234567890123,"_policy_context":{"x":1},"b":"é","_delegation_id":"d1","_approvals":999}"#
            .into(),
    )
    .unwrap();
    let c = clean_params(Some(&raw)).unwrap();
    assert_eq!(c.text, r#"{"a":12345678901234567890123,"b":"é"}"#);
    assert_eq!(c.delegation_id.as_deref(), Some("d1"));
    let bad = RawValue::from_string("[1]".into()).unwrap();
    assert!(matches!(
        clean_params(Some(&bad)),
        Err(GatewayError::BadRequest(_))
    ));
    assert_eq!(clean_params(None).unwrap().text, "{}");
}

#[test]
fn typescript_control_members_are_taken_out() {
    // The TypeScript SDK adds `_iam_context` and repeats its user_email.
    let raw = RawValue::from_string(
        r#"{"city":"Boston","_iam_context":{"email":"a@x.io","user_email":"a@x.io","user_id":"u"},"user_email":"a@x.io"}"#
            .into(),
    )
    .unwrap();
    let c = clean_params(Some(&raw)).unwrap();
    assert_eq!(c.text, r#"{"city":"Boston"}"#);
    assert_eq!(c.iam_email.as_deref(), Some("a@x.io"));
    // A tool's own user_email (not the SDK's repeat) is kept.
    let raw = RawValue::from_string(
        r#"{"user_email":"b@x.io","_iam_context":{"user_email":"a@x.io"}}"#.into(),
    )
    .unwrap();
    assert_eq!(
        clean_params(Some(&raw)).unwrap().text,
        r#"{"user_email":"b@x.io"}"#
    );
    let raw = RawValue::from_string(r#"{"user_email":"b@x.io"}"#.into()).unwrap();
    assert_eq!(
        clean_params(Some(&raw)).unwrap().text,
        r#"{"user_email":"b@x.io"}"#
    );
}
