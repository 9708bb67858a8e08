//! The gateway's hot path, in one run:
//! * `gateway_token_check`: the proxy's token check on a cache hit (hash the
//!   token, look it up, re-check the time window) against a full check
//!   (`verify_token`: EdDSA signature on aws-lc-rs, claims) and the bare
//!   Ed25519 verify.
//! * `gateway_invoke_loopback`: one `tools/call` to the same MCP server (the
//!   official Python `mcp` SDK's streamable-HTTP server, `scripts/py/mcp_test_server.py`)
//!   made directly with `rmcp`, and through `armoriq serve` (in process, on
//!   loopback) with and without the verified-token cache. Needs the project's
//!   `.venv` (`bash scripts/setup-python.sh`); skipped with a message without it.

use armoriq_core::jws::Expect;
use armoriq_gateway::builder::{GatewayBuilder, Running};
use armoriq_gateway::now_secs;
use armoriq_gateway::store::Role;
use armoriq_gateway::tokens::{Signer, TokenCache};
use criterion::{Criterion, criterion_group, criterion_main};
use rmcp::ServiceExt;
use rmcp::model::CallToolRequestParams;
use rmcp::transport::StreamableHttpClientTransport;
use std::hint::black_box;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

fn temp_dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("armoriq-bench-{}", std::process::id()));
    let d = d.join(format!("{}", rand_suffix()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn claims(signer_plan: (&str, &str)) -> serde_json::Value {
    let now = now_secs();
    serde_json::json!({
        "iss": "armoriq-gateway", "aud": "armoriq-proxy", "sub": "alice@example.com",
        "iat": now, "nbf": now, "exp": now + 3600, "jti": "intent_1", "plan_id": "plan_1",
        "plan_hash": signer_plan.0, "merkle_root": signer_plan.1, "step_count": 2,
    })
}

fn token_check(c: &mut Criterion) {
    let dir = temp_dir();
    let signer = Signer::load_or_create(&dir).unwrap();
    let h = "ab".repeat(32);
    let token = signer.sign_jwt(&claims((&h, &h))).unwrap();
    let expect = Expect {
        now: now_secs(),
        leeway: 0,
        audience: Some("armoriq-proxy"),
        issuer: Some("armoriq-gateway"),
    };
    let cached = TokenCache::new(10_000);
    cached.verify(&token, &signer, &expect).unwrap();
    let uncached = TokenCache::new(0);
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, sig).unwrap();
    let pk = aws_lc_rs::signature::ParsedPublicKey::new(
        &aws_lc_rs::signature::ED25519,
        hex_decode(&signer.public_hex()),
    )
    .unwrap();

    let mut g = c.benchmark_group("gateway_token_check");
    g.bench_function("cache_hit", |b| {
        b.iter(|| cached.verify(black_box(&token), &signer, &expect).unwrap())
    });
    g.bench_function("full_verify_token_aws_lc", |b| {
        b.iter(|| {
            uncached
                .verify(black_box(&token), &signer, &expect)
                .unwrap()
        })
    });
    g.bench_function("bare_ed25519_verify_aws_lc", |b| {
        b.iter(|| pk.verify_sig(black_box(input.as_bytes()), &sig).unwrap())
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

fn hex_decode(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

struct Kill(Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn python() -> Option<PathBuf> {
    let p = std::env::var_os("ARMORIQ_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.venv/bin/python"))
        });
    p.exists().then_some(p)
}

/// `armoriq serve` in process, started the way the CLI starts it
/// ([`GatewayBuilder`]), on a free loopback port. The returned guard keeps it
/// serving.
async fn start_gateway(mcp_url: &str, cache: usize) -> (u16, String, Running) {
    let dir = temp_dir().join(format!("cache-{cache}"));
    std::fs::create_dir_all(&dir).unwrap();
    let key = format!("ak_test_{cache:032}");
    let yaml = dir.join("armoriq.yaml");
    std::fs::write(
        &yaml,
        format!(
            "version: v1\nidentity: {{api_key: k, user_id: u, agent_id: bench}}\n\
             mcp_servers:\n- id: weather-mcp\n  url: {mcp_url}\n"
        ),
    )
    .unwrap();
    let addr: std::net::SocketAddr = "127.0.0.1:0".parse().unwrap();
    let mut builder = GatewayBuilder::new()
        .state_dir(&dir)
        .listen(addr, addr)
        .config(Some(yaml))
        .first_api_key(&key, Role::Agent);
    builder.settings_mut().token_cache_entries = cache;
    let running = builder.build().await.unwrap().start().await.unwrap();
    (running.backend_addr.port(), key, running)
}

fn invoke_loopback(c: &mut Criterion) {
    let Some(py) = python() else {
        eprintln!(
            "gateway_invoke_loopback: skipped (no .venv; run `bash scripts/setup-python.sh`)"
        );
        return;
    };
    let port = free_port();
    let _mcp = Kill(
        Command::new(py)
            .arg(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../scripts/py/mcp_test_server.py"
            ))
            .args(["weather-mcp", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(50));
    }
    let url = format!("http://127.0.0.1:{port}/mcp");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let args = serde_json::json!({"city": "Boston", "units": "metric"});
    let args_map = args.as_object().unwrap().clone();
    let direct = rt.block_on(async {
        // The same pooled, TCP_NODELAY client the gateway forwards with.
        let http = reqwest::Client::builder()
            .tcp_nodelay(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let cfg =
            rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig::with_uri(
                url.clone(),
            );
        ().serve(StreamableHttpClientTransport::with_client(http, cfg))
            .await
            .unwrap()
    });
    let http = reqwest::Client::new();
    let gateways: Vec<(&str, u16, String, String, Running)> =
        [("gateway_cached", 10_000), ("gateway_uncached", 0)]
            .into_iter()
            .map(|(name, cache)| {
                // `running` is kept with the gateway's entry: dropping it stops the gateway.
                let (gport, key, running) = rt.block_on(start_gateway(&url, cache));
                let plan = serde_json::json!({"steps": [
                {"mcp": "weather-mcp", "action": "get_weather", "params": args},
                {"mcp": "weather-mcp", "action": "send_email", "params": {"to": "x"}}]});
                let minted: serde_json::Value = rt.block_on(async {
                    http.post(format!("http://127.0.0.1:{gport}/iap/sdk/token"))
                        .header("x-api-key", &key)
                        .json(&serde_json::json!({"plan": plan, "expires_in": 3600}))
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap()
                });
                let body =
            serde_json::json!({"mcp": "weather-mcp", "action": "get_weather", "params": args,
                "intent_token": {"jwt_token": minted["jwt_token"], "plan_id": minted["plan_id"]},
                "user_email": "alice@example.com"})
            .to_string();
                (name, gport, key, body, running)
            })
            .collect();

    let mut g = c.benchmark_group("gateway_invoke_loopback");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("direct_mcp_rmcp", |b| {
        b.iter(|| {
            rt.block_on(async {
                let p = CallToolRequestParams::new("get_weather").with_arguments(args_map.clone());
                direct.call_tool(p).await.unwrap()
            })
        })
    });
    for (name, gport, key, body, _running) in &gateways {
        let url = format!("http://127.0.0.1:{gport}/invoke");
        g.bench_function(*name, |b| {
            b.iter(|| {
                rt.block_on(async {
                    let r = http
                        .post(&url)
                        .header("x-api-key", key)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .unwrap();
                    assert_eq!(r.status(), 200);
                    r.bytes().await.unwrap()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(benches, token_check, invoke_loopback);
criterion_main!(benches);
