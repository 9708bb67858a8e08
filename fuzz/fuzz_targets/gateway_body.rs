//! The gateway's request-body parsing on arbitrary bytes: `parse_json` (the
//! `JsonBody` extractor's parser) into the mint (`/iap/sdk/token`), invoke (`/invoke`) and enforce
//! (`/iap/sdk/enforce`) request structs, and `clean_params` on the params /
//! arguments found in a body or on the whole input. Never panics; cleaned
//! params are a JSON object without the SDK's control members.
#![no_main]
use armoriq_gateway::extract::parse_json;
use armoriq_gateway::iap::MintRequest;
use armoriq_gateway::proxy::{CONTROL_MEMBERS, EnforceRequest, InvokeRequest, clean_params};
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use serde_json::value::RawValue;

/// The members of the invoke / enforce bodies that go to `clean_params`.
#[derive(Deserialize)]
struct Params {
    #[serde(default)]
    params: Option<Box<RawValue>>,
    #[serde(default)]
    arguments: Option<Box<RawValue>>,
}

const LIMIT: usize = 1 << 20;

fn check(raw: Option<&RawValue>) {
    if let Ok(c) = clean_params(raw) {
        let v: serde_json::Value =
            serde_json::from_str(&c.text).expect("cleaned params text is JSON");
        let obj = v.as_object().expect("cleaned params are an object");
        for k in CONTROL_MEMBERS {
            assert!(!obj.contains_key(k), "control member {k} left in text");
            assert!(!c.map.contains_key(k), "control member {k} left in map");
        }
        assert_eq!(obj, &c.map);
    }
}

fuzz_target!(|data: &[u8]| {
    let body = Bytes::copy_from_slice(data);
    let _ = parse_json::<MintRequest>(Ok(body.clone()), LIMIT);
    let _ = parse_json::<InvokeRequest>(Ok(body.clone()), LIMIT);
    let _ = parse_json::<EnforceRequest>(Ok(body.clone()), LIMIT);
    if let Ok(p) = parse_json::<Params>(Ok(body), LIMIT) {
        check(p.params.as_deref());
        check(p.arguments.as_deref());
    }
    if let Ok(raw) = serde_json::from_slice::<Box<RawValue>>(data) {
        check(Some(&raw));
    }
});
