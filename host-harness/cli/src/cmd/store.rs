//! Which store a command opens, the operator secret, and `armoriq store
//! status`.
//!
//! Every command that reads or writes gateway state takes `--store URL`
//! (env `ARMORIQ_STORE`): `postgres://…` is the database several gateways
//! share; a path (or `sqlite:PATH`) is a SQLite file; nothing is
//! `armoriq.db` in the state directory, as before. The commands that touch
//! the signing keys also take `--secret-file FILE` (else `ARMORIQ_SECRET`).

use crate::cmd::gateway::StateArgs;
use crate::cmd::{EXIT_BAD_INPUT, fail};
use armoriq_gateway::builder::open_state_store;
use armoriq_gateway::sealed::OperatorSecret;
use armoriq_gateway::store::{Store, StoreLocation, open_store};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// `--secret-file`: the operator secret that seals the signing keys.
#[derive(Args, Debug, Clone, Default)]
pub struct SecretArgs {
    /// File holding the operator secret that seals the IAP signing keys in
    /// the store (at least 16 bytes; the same on every gateway). Default:
    /// $ARMORIQ_SECRET. Required with a shared (postgres://) store.
    #[arg(long, value_name = "FILE")]
    pub secret_file: Option<PathBuf>,
}

impl SecretArgs {
    /// The secret from the file or the environment, if any.
    ///
    /// # Errors
    /// The file cannot be read, or the secret is too short.
    pub fn load(&self) -> Result<Option<Arc<OperatorSecret>>, String> {
        OperatorSecret::from_file_or_env(self.secret_file.as_deref()).map(|s| s.map(Arc::new))
    }
}

/// Runs one future to completion on one current-thread runtime, built at
/// the first call and kept for the command's life (`logs --follow` polls).
///
/// # Errors
/// The runtime cannot start, or the future's error.
pub fn block<T>(f: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    static RUNTIME: std::sync::OnceLock<Result<tokio::runtime::Runtime, String>> =
        std::sync::OnceLock::new();
    let rt = RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))
        })
        .as_ref()
        .map_err(Clone::clone)?;
    rt.block_on(f)
}

impl StateArgs {
    /// `--store`, or `armoriq.db` in the state directory.
    ///
    /// # Errors
    /// A `--store` value this gateway does not speak.
    pub fn location(&self) -> Result<StoreLocation, String> {
        StoreLocation::parse(self.store.as_deref(), &self.dir())
    }

    /// Opens the store (creating the state directory for the default one).
    ///
    /// # Errors
    /// A message naming the store (without its password).
    pub fn open(&self) -> Result<Arc<dyn Store>, String> {
        match (&self.store, self.location()?) {
            (None, _) => Ok(Arc::new(open_state_store(&self.dir())?)),
            (Some(_), loc) => block(open_store(&loc)),
        }
    }

    /// [`StateArgs::open`], or the exit code of its failure.
    ///
    /// # Errors
    /// The printed failure's exit code.
    pub fn open_or_fail(&self) -> Result<Arc<dyn Store>, ExitCode> {
        self.open()
            .map_err(|e| fail(format!("Configuration: {e}"), EXIT_BAD_INPUT))
    }
}

/// `armoriq store …`
#[derive(clap::Subcommand, Debug)]
pub enum StoreCommand {
    /// Show where the state lives (password redacted), the backend, its
    /// schema version and the signing-key generations (kids only).
    Status {
        #[command(flatten)]
        state: StateArgs,
    },
}

/// Runs `armoriq store …`.
pub fn run(c: &StoreCommand) -> ExitCode {
    match c {
        StoreCommand::Status { state } => status(state),
    }
}

fn status(state: &StateArgs) -> ExitCode {
    let loc = match state.location() {
        Ok(l) => l,
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let store = match state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let got = block(async {
        let schema = store.schema_version().await.map_err(|e| e.to_string())?;
        let keys = store.signing_keys().await.map_err(|e| e.to_string())?;
        let policy = store.current_policy().await.map_err(|e| e.to_string())?;
        Ok((schema, keys, policy))
    });
    let (schema, keys, policy) = match got {
        Ok(v) => v,
        Err(e) => return fail(format!("{}: {e}", loc.redacted()), EXIT_BAD_INPUT),
    };
    let backend = if loc.is_shared() {
        "postgres"
    } else {
        "sqlite"
    };
    let newest = keys.iter().map(|k| k.generation).max();
    if state.json {
        let gens: Vec<_> = keys
            .iter()
            .map(|k| {
                serde_json::json!({"generation": k.generation, "kid": k.kid,
                    "created_ms": k.created_ms, "signing": Some(k.generation) == newest})
            })
            .collect();
        println!(
            "{}",
            serde_json::json!({"store": loc.redacted(), "backend": backend, "shared": loc.is_shared(),
                "schema_version": schema, "signing_keys": gens,
                "policy_version": policy.as_ref().map(|p| p.version)})
        );
        return ExitCode::SUCCESS;
    }
    println!("store:          {}", loc.redacted());
    println!(
        "backend:        {backend}{}",
        if loc.is_shared() {
            " (shared by several gateways)"
        } else {
            ""
        }
    );
    println!("schema version: {schema}");
    match &policy {
        Some(p) => println!(
            "policy:         version {} (loaded by {} at {})",
            p.version,
            p.loaded_by,
            armoriq_gateway::policy::iso_time_ms(p.loaded_ms)
        ),
        None => println!("policy:         none in the store"),
    }
    if keys.is_empty() {
        println!("signing keys:   none in the store (the state directory's iap-ed25519.pem signs)");
    }
    for k in &keys {
        println!(
            "signing key:    generation {}  kid {}  created {}{}",
            k.generation,
            k.kid,
            armoriq_gateway::policy::iso_time_ms(k.created_ms),
            if Some(k.generation) == newest {
                "  (signs)"
            } else {
                ""
            }
        );
    }
    ExitCode::SUCCESS
}
