//! Files shared with the official SDK: `credentials.json` and
//! `armoriq.yaml` written by it are read by ours, and ours by it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod client_support;
mod common;

use armoriq_client::ArmorIQClient;
use client_support::*;
use common::python;

#[test]
fn credentials_and_config_files_interoperate_with_the_official_sdk() {
    use armoriq_client::credentials::{Credentials, LoginProfile};
    let Some(py) = python() else { return };
    let home = temp_dir("client-home");
    let path = home.join(".armoriq").join("credentials.json");

    // The official SDK saves two profiles and removes one; ours reads them.
    run_py(
        &py,
        &home,
        "from armoriq_sdk.credentials import LoginProfile, save_login_profile, remove_profile\n\
         save_login_profile(LoginProfile(backend='https://api.armoriq.ai', product='ArmorClaude', apiKey='ak_live_py', email='p@x.io', userId='u-1', orgId='o-1'))\n\
         n = save_login_profile(LoginProfile(backend='http://127.0.0.1:3000/', product='', apiKey='ak_test_gone', email='g@x.io', userId='u-2', orgId='o-2'))\n\
         remove_profile(n)\n",
    );
    let creds = Credentials::at(&path);
    let p = creds
        .load_profile("https://api.armoriq.ai", "armorclaude")
        .unwrap();
    assert_eq!(p.login.api_key, "ak_live_py");
    assert!(creds.load_profile("http://127.0.0.1:3000", "").is_none());

    // Ours saves one (same file, same lock); the official SDK reads both.
    let name = creds
        .save_login_profile(&LoginProfile {
            backend: "http://127.0.0.1:3000".into(),
            product: String::new(),
            api_key: "ak_test_rs".into(),
            email: "r@x.io".into(),
            user_id: "u-3".into(),
            org_id: "o-3".into(),
        })
        .unwrap();
    assert_eq!(name, "default@127.0.0.1:3000");
    let got = run_py(
        &py,
        &home,
        "import json\nfrom armoriq_sdk.credentials import load_profile, active_profile\n\
         a = load_profile('http://127.0.0.1:3000'); b = load_profile('https://api.armoriq.ai', 'armorclaude')\n\
         print(json.dumps([a.apiKey if a else None, b.apiKey if b else None, active_profile().apiKey]))\n",
    );
    assert_eq!(got.trim(), r#"["ak_test_rs", "ak_live_py", "ak_test_rs"]"#);
    // Our bytes are what json.dumps(indent=2, ensure_ascii=False) gives for that document.
    let ours = std::fs::read_to_string(&path).unwrap();
    let theirs = run_py(
        &py,
        &home,
        "import json,pathlib,sys\np = pathlib.Path.home()/'.armoriq'/'credentials.json'\n\
         sys.stdout.write(json.dumps(json.loads(p.read_text()), indent=2, ensure_ascii=False) + '\\n')\n",
    );
    assert_eq!(ours, theirs);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(!home.join(".armoriq/credentials.json.lock").exists());
    }
    // A client with no key anywhere else uses the saved profile for its backend.
    let c = ArmorIQClient::builder()
        .backend_endpoint("http://127.0.0.1:3000")
        .credentials_path(&path)
        .build();
    if std::env::var_os("ARMORIQ_API_KEY").is_none()
        && std::env::var_os("ARMORIQ_PROFILE").is_none()
    {
        assert_eq!(c.unwrap().api_key(), "ak_test_rs");
    }
    // Ours removes it; the official SDK no longer sees it.
    assert!(creds.remove_profile(&name).unwrap());
    let got = run_py(
        &py,
        &home,
        "from armoriq_sdk.credentials import load_profile\nprint(load_profile('http://127.0.0.1:3000'))\n",
    );
    assert_eq!(got.trim(), "None");

    // Both writers at once: the lock protocol loses no update.
    let home2 = temp_dir("client-home-race");
    let path2 = home2.join(".armoriq").join("credentials.json");
    let py2 = py.clone();
    let h2 = home2.clone();
    let writer = std::thread::spawn(move || {
        run_py(
            &py2,
            &h2,
            "from armoriq_sdk.credentials import LoginProfile, save_login_profile\n\
             for i in range(15):\n    save_login_profile(LoginProfile(backend=f'http://py{i}.test', product='', apiKey=f'ak_test_py{i}', email='', userId='u', orgId=''))\n",
        )
    });
    let ours2 = Credentials::at(&path2);
    for i in 0..15 {
        ours2
            .save_login_profile(&LoginProfile {
                backend: format!("http://rs{i}.test"),
                product: String::new(),
                api_key: format!("ak_test_rs{i}"),
                email: String::new(),
                user_id: "u".into(),
                org_id: String::new(),
            })
            .unwrap();
    }
    writer.join().unwrap();
    assert_eq!(ours2.read().1.len(), 30);
    let n = run_py(
        &py,
        &home2,
        "from armoriq_sdk.credentials import _read\nprint(len(_read()[1]))\n",
    );
    assert_eq!(n.trim(), "30");
    let _ = std::fs::remove_dir_all(&home2);

    // armoriq.yaml: theirs → ours, ours → theirs (byte-identical re-save).
    let theirs_yaml = home.join("theirs.yaml");
    run_py(
        &py,
        &home,
        &format!(
            "from armoriq_sdk.config import *\n\
             c = ArmorIQConfig(identity=IdentityConfig(api_key='ak_test_yaml', user_id='u', agent_id='my-agent'),\n\
               proxy=ProxyConfig(url='http://127.0.0.1:3001'),\n\
               mcp_servers=[MCPServerConfig(id='weather-mcp', url='http://127.0.0.1:9/mcp', description='Weather: tools', auth=MCPAuthConfig(type='bearer', token='$TOK'))],\n\
               policy=PolicyConfig(allow=['weather-mcp.get_weather', 'weather-mcp.*'], deny=['true']))\n\
             save_armoriq_config(c, {:?})\n",
            theirs_yaml.display().to_string()
        ),
    );
    let text = std::fs::read_to_string(&theirs_yaml).unwrap();
    let cfg = armoriq_common::yaml::ArmorIqYaml::parse(&text).unwrap();
    assert_eq!(armoriq_client::config::to_yaml(&cfg), text);
    let c = ArmorIQClient::from_config(&theirs_yaml).unwrap();
    assert_eq!(c.api_key(), "ak_test_yaml");
    assert_eq!(c.default_proxy_endpoint().unwrap(), "http://127.0.0.1:3001");
    let ours_yaml = home.join("ours.yaml");
    std::fs::write(&ours_yaml, armoriq_client::config::to_yaml(&cfg)).unwrap();
    let back = run_py(
        &py,
        &home,
        &format!(
            "import io,yaml\nfrom armoriq_sdk.config import load_armoriq_config\n\
             c = load_armoriq_config({:?})\nprint(c.identity.agent_id, c.mcp_servers[0].auth.token, c.policy.deny[0], c.mcp_servers[0].description)\n",
            ours_yaml.display().to_string()
        ),
    );
    assert_eq!(back.trim(), "my-agent $TOK true Weather: tools");
    let _ = std::fs::remove_dir_all(&home);
}
