//! `armoriq policy eval` and `armoriq policy check`: Armor Policy v2
//! (armoriq-policy-ir 0.1.3 semantics, crate `armoriq-policy`).

use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, fail};
use crate::io::read_input;
use armoriq_policy::{Bound, Call, EvalError, evaluate};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `armoriq policy …`
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Decide a call: print the decision JSON (`verdict`, `floorVerdict`,
    /// `approval`, `obligations`, `provenance`), exit 0. An evaluation error
    /// prints `error: <ErrorClass>: <reason>` and exits 2 (callers block).
    Eval {
        /// A bound `{floor?, agent?, group?}`, or one document (the agent layer).
        #[arg(long)]
        policy: PathBuf,
        /// The call `{tool, arguments, timestamp, member?, capabilities?, schemaHash?, derived?}`;
        /// `-` reads standard input.
        #[arg(long)]
        call: PathBuf,
    },
    /// Validate a bound or a document: exit 0 and print a summary when it
    /// loads and every pattern and expiry is usable, 1 when a pattern or
    /// expiry would fail at evaluation time, 2 when it does not load.
    Check {
        /// A bound `{floor?, agent?, group?}`, or one document.
        file: PathBuf,
    },
    /// Install a bound or document as the gateway's policy; running
    /// gateways put it in force within two seconds. Refuses a file that
    /// does not load. Without --store: `<state-dir>/policy.json` (one
    /// gateway). With --store (or $ARMORIQ_STORE): a new version in the
    /// store, for every gateway started with that --store.
    Load {
        /// A bound `{floor?, agent?, group?}`, or one document.
        file: PathBuf,
        /// The gateway's state directory.
        #[arg(long, value_name = "DIR")]
        state_dir: Option<PathBuf>,
        /// The store (postgres://… or a SQLite file) the gateways share.
        #[arg(long, value_name = "URL", env = "ARMORIQ_STORE")]
        store: Option<String>,
    },
}

/// Runs `armoriq policy …`.
pub fn run(c: PolicyCommand) -> ExitCode {
    match c {
        PolicyCommand::Eval { policy, call } => eval(&policy, &call),
        PolicyCommand::Check { file } => check(&file),
        PolicyCommand::Load {
            file,
            state_dir,
            store,
        } => load(&file, state_dir, store.as_deref()),
    }
}

fn load(file: &Path, state_dir: Option<PathBuf>, store: Option<&str>) -> ExitCode {
    let doc = match read_json(file) {
        Ok(v) => v,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    if let Err(e) = Bound::from_json_or_doc(&doc) {
        return fail_eval(&e);
    }
    let dir = state_dir.unwrap_or_else(armoriq_gateway::settings::default_state_dir);
    if let Some(url) = store {
        return load_into_store(file, &doc, url, &dir);
    }
    if let Err(e) = std::fs::create_dir_all(&dir) {
        return fail(
            format!("cannot create {}: {e}", dir.display()),
            EXIT_BAD_INPUT,
        );
    }
    // Write beside, then rename: a running gateway never reads half a file.
    let tmp = dir.join(".policy.json.tmp");
    let dest = dir.join("policy.json");
    let text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    if let Err(e) = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &dest)) {
        return fail(
            format!("cannot write {}: {e}", dest.display()),
            EXIT_BAD_INPUT,
        );
    }
    eprintln!("policy: installed {} as {}", file.display(), dest.display());
    ExitCode::SUCCESS
}

/// `policy load --store`: a new version in the store (the gateways on it
/// are told at once and poll every second).
fn load_into_store(file: &Path, doc: &Value, url: &str, dir: &Path) -> ExitCode {
    use armoriq_gateway::store::{StoreLocation, open_store};
    let loc = match StoreLocation::parse(Some(url), dir) {
        Ok(l) => l,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let text = doc.to_string();
    let from = file.display().to_string();
    let put = crate::cmd::store::block(async {
        let store = open_store(&loc).await?;
        let actor = crate::cmd::keys::cli_actor();
        armoriq_gateway::ops::load_policy(
            store.as_ref(),
            &actor,
            &text,
            &from,
            armoriq_gateway::now_ms(),
        )
        .await
        .map_err(|e| e.reason())
    });
    match put {
        Ok(version) => {
            eprintln!(
                "policy: loaded {} as version {version} in {}",
                file.display(),
                loc.redacted()
            );
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("{}: {e}", loc.redacted()), EXIT_BAD_INPUT),
    }
}

fn read_json(path: &Path) -> Result<Value, String> {
    let bytes = read_input(Some(path)).map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("{}: invalid JSON: {e}", path.display()))
}

fn fail_eval(e: &EvalError) -> ExitCode {
    fail(e, EXIT_BAD_INPUT)
}

fn eval(policy: &Path, call: &Path) -> ExitCode {
    let (policy, call) = match (read_json(policy), read_json(call)) {
        (Ok(p), Ok(c)) => (p, c),
        (Err(e), _) | (_, Err(e)) => return fail(e, EXIT_BAD_INPUT),
    };
    let bound = match Bound::from_json_or_doc(&policy) {
        Ok(b) => b,
        Err(e) => return fail_eval(&e),
    };
    let call = match Call::from_json(&call) {
        Ok(c) => c,
        Err(e) => return fail_eval(&e),
    };
    match evaluate(&call, &bound) {
        Ok(d) => {
            println!("{}", d.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => fail_eval(&e),
    }
}

fn check(file: &Path) -> ExitCode {
    let doc = match read_json(file) {
        Ok(v) => v,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let bound = match Bound::from_json_or_doc(&doc) {
        Ok(b) => b,
        Err(e) => return fail_eval(&e),
    };
    let latent = bound.latent_errors();
    if !latent.is_empty() {
        for (path, e) in &latent {
            eprintln!("error: {}: {path}: {}", e.class_name(), e.reason());
        }
        return ExitCode::from(EXIT_REJECTED);
    }
    let layers: Vec<Value> = [
        ("floor", &bound.floor),
        ("agent", &bound.agent),
        ("group", &bound.group),
    ]
    .into_iter()
    .filter_map(|(slot, d)| {
        d.as_ref().map(|d| {
            serde_json::json!({
                "slot": slot,
                "policyId": d.policy_id,
                "layer": d.layer,
                "statements": d.statements.len(),
            })
        })
    })
    .collect();
    println!("{}", serde_json::json!({ "ok": true, "documents": layers }));
    ExitCode::SUCCESS
}
