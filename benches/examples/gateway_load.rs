//! Load through one or more running `armoriq serve` nodes: mints one token
//! per node (on that node), then keeps `--concurrency` requests in flight
//! for `--seconds`, spread over the nodes' proxies round-robin, and prints
//! one JSON line: requests, errors by status, requests per second, p50/p99.
//! Used by `scripts/bench-nodes.sh` (BENCHMARKS.md, "Several gateways").
//!
//! ```text
//! gateway_load --key ak_… --node http://B1,http://P1 [--node …] \
//!     [--mcp weather-mcp] [--seconds 20] [--concurrency 32] [--warmup 3]
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Args {
    key: String,
    nodes: Vec<(String, String)>,
    mcp: String,
    seconds: u64,
    warmup: u64,
    concurrency: usize,
}

fn args() -> Args {
    let mut a = Args {
        key: String::new(),
        nodes: Vec::new(),
        mcp: "weather-mcp".into(),
        seconds: 20,
        warmup: 3,
        concurrency: 32,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let v = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--key" => a.key = v,
            "--node" => {
                let (b, p) = v.split_once(',').expect("--node BACKEND,PROXY");
                a.nodes.push((b.to_owned(), p.to_owned()));
            }
            "--mcp" => a.mcp = v,
            "--seconds" => a.seconds = v.parse().expect("--seconds N"),
            "--warmup" => a.warmup = v.parse().expect("--warmup N"),
            "--concurrency" => a.concurrency = v.parse().expect("--concurrency N"),
            _ => panic!("unknown flag {flag}"),
        }
    }
    assert!(
        !a.key.is_empty() && !a.nodes.is_empty(),
        "--key and --node are required"
    );
    a
}

async fn mint(http: &reqwest::Client, a: &Args, backend: &str, i: usize) -> String {
    let params = json!({"city": format!("Bench{i}"), "units": "metric"});
    let plan = json!({"steps": [{"mcp": a.mcp, "action": "get_weather", "params": params}]});
    let r = http
        .post(format!("{backend}/iap/sdk/token"))
        .header("X-API-Key", &a.key)
        .json(&json!({"plan": plan, "expires_in": 3600, "user_email": "bench@example.com"}))
        .send()
        .await
        .expect("mint");
    let status = r.status();
    let minted: Value = r.json().await.expect("mint answer");
    assert!(status.is_success(), "mint on {backend}: {status} {minted}");
    json!({"mcp": a.mcp, "action": "get_weather", "params": params,
           "intent_token": {"jwt_token": minted["jwt_token"], "plan_id": minted["plan_id"]},
           "user_email": "bench@example.com"})
    .to_string()
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let a = Arc::new(args());
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(a.concurrency)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut calls = Vec::new();
    for (i, (backend, proxy)) in a.nodes.iter().enumerate() {
        calls.push((format!("{proxy}/invoke"), mint(&http, &a, backend, i).await));
    }
    let calls = Arc::new(calls);
    let start = Instant::now();
    let measure_from = start + Duration::from_secs(a.warmup);
    let end = measure_from + Duration::from_secs(a.seconds);
    let next = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (http, a, calls, next) = (http.clone(), a.clone(), calls.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let t0 = Instant::now();
                if t0 >= end {
                    break;
                }
                let (url, body) = &calls[next.fetch_add(1, Ordering::Relaxed) % calls.len()];
                let r = http
                    .post(url)
                    .header("X-API-Key", &a.key)
                    .header("Content-Type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                let outcome = match r {
                    Ok(r) => {
                        let s = r.status();
                        let _ = r.bytes().await;
                        if s.is_success() {
                            None
                        } else {
                            Some(s.as_u16().to_string())
                        }
                    }
                    Err(e) => Some(if e.is_timeout() {
                        "timeout".into()
                    } else {
                        "io".into()
                    }),
                };
                if t0 >= measure_from {
                    match outcome {
                        None => lat.push(t0.elapsed()),
                        Some(e) => *errors.entry(e).or_default() += 1,
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut lat = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    for t in tasks {
        let (l, e) = t.await.unwrap();
        lat.extend(l);
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() as f64 * p).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[i].as_secs_f64() * 1000.0
    };
    let out = json!({
        "nodes": a.nodes.len(),
        "concurrency": a.concurrency,
        "seconds": a.seconds,
        "ok": lat.len(),
        "errors": errors,
        "rps": lat.len() as f64 / a.seconds as f64,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    });
    println!("{out}");
}
