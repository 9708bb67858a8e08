//! The credentials file against the official SDK's examples.

use super::*;

#[test]
fn origins_and_names() {
    assert_eq!(
        url_origin("https://API.armoriq.ai/x").as_deref(),
        Some("https://api.armoriq.ai")
    );
    assert_eq!(
        url_origin("https://api.armoriq.ai:443").as_deref(),
        Some("https://api.armoriq.ai")
    );
    assert_eq!(
        url_origin("http://127.0.0.1:3000/").as_deref(),
        Some("http://127.0.0.1:3000")
    );
    assert_eq!(url_origin("http://u:p@h"), None);
    assert_eq!(url_origin("ftp://h"), None);
    assert_eq!(url_origin("http://h:99999"), None);
    assert_eq!(
        profile_name("http://127.0.0.1:3000", "").as_deref(),
        Some("default@127.0.0.1:3000")
    );
    assert_eq!(
        profile_name("https://api.armoriq.ai", " ArmorClaude ").as_deref(),
        Some("armorclaude@api.armoriq.ai")
    );
    assert_eq!(format_instant(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(
        format_instant(1_795_348_064_956),
        "2026-11-22T11:47:44.956Z"
    );
    assert!(canonical_instant("2024-02-29T23:59:59.999Z"));
    assert!(!canonical_instant("2023-02-29T23:59:59.999Z"));
}

#[test]
fn the_official_example_reads_and_rewrites_identically() {
    let dir = std::env::temp_dir().join(format!("aq-cred-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("credentials.json");
    let example = format!(
        "{}/../../../shared/vectors/armoriq/credentials.example.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let Ok(text) = std::fs::read_to_string(&example) else {
        return;
    };
    std::fs::write(&path, &text).unwrap();
    let c = Credentials::at(&path);
    let p = c
        .load_profile("https://api.armoriq.ai", "ArmorClaude")
        .unwrap();
    assert_eq!(p.login.api_key, "ak_live_example");
    assert!(c.load_profile("http://127.0.0.1:3000", "").is_none());
    // A rewrite with no change is byte-identical.
    let ctx = c.read_context();
    assert_eq!(render(None, &ctx), text);
    std::fs::remove_dir_all(&dir).unwrap();
}
