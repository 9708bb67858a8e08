//! `armoriq usage [--json] [--limit N]`: the LLM token usage the gateway
//! stored (`/dashboard/token-usage*`), newest hour first, one row per
//! (org, product, session, model, date, hour, device). Works while `serve`
//! runs.

use crate::cmd::gateway::StateArgs;
use crate::cmd::{EXIT_BAD_INPUT, fail};
use clap::Args;
use std::process::ExitCode;

/// `armoriq usage`.
#[derive(Args, Debug)]
pub struct UsageArgs {
    #[command(flatten)]
    state: StateArgs,
    /// At most this many rows.
    #[arg(long, default_value_t = 1000)]
    limit: u32,
}

/// Prints the stored usage.
pub fn usage(a: &UsageArgs) -> ExitCode {
    let store = match a.state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => return fail(format!("cannot start a runtime: {e}"), EXIT_BAD_INPUT),
    };
    let rows = match rt.block_on(store.list_usage(a.limit)) {
        Ok(r) => r,
        Err(e) => return fail(e.to_string(), EXIT_BAD_INPUT),
    };
    if a.state.json {
        for r in &rows {
            println!("{}", serde_json::to_string(r).unwrap_or_default());
        }
        return ExitCode::SUCCESS;
    }
    println!(
        "{:<10} {:>2}  {:<12} {:<20} {:<24} {:<12} {:>10} {:>10} {:>10} {:>10}",
        "date",
        "h",
        "product",
        "session",
        "model",
        "device",
        "input",
        "output",
        "cache_r",
        "cache_w"
    );
    for r in &rows {
        println!(
            "{:<10} {:>2}  {:<12} {:<20} {:<24} {:<12} {:>10} {:>10} {:>10} {:>10}",
            r.usage_date,
            r.usage_hour,
            r.product,
            r.session_id,
            r.model,
            if r.device.is_empty() { "-" } else { &r.device },
            r.input_tokens,
            r.output_tokens,
            r.cache_read_tokens,
            r.cache_write_tokens
        );
    }
    ExitCode::SUCCESS
}
