//! `armoriq keys create|list|revoke|rotate-signing`: API keys, and the
//! IAP's signing keys in the store.
//!
//! API keys are stored as hashes (a key is shown once, at creation).
//! Signing keys live in the store sealed under the operator secret
//! (`--secret-file` or `ARMORIQ_SECRET`; see `armoriq_gateway::sealed`), so
//! rotating needs that secret; running gateways reload on the store's
//! change feed.

use crate::cmd::gateway::{StateArgs, run};
use crate::cmd::store::{SecretArgs, block};
use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, fail};
use armoriq_gateway::builder::new_api_key;
use armoriq_gateway::now_ms;
use armoriq_gateway::ops::{self, Actor, Surface};
use armoriq_gateway::store::{NewApiKey, Role};
use std::process::ExitCode;

/// The operator at this shell, as the audit log names them (`cli:$USER`).
pub fn cli_actor() -> Actor {
    let name = std::env::var("USER").map_or_else(|_| "cli".to_owned(), |u| format!("cli:{u}"));
    Actor::new(&name, Surface::Cli)
}

/// `armoriq keys`.
#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Create an API key; prints it once (only its hash is stored).
    Create {
        #[command(flatten)]
        state: StateArgs,
        /// An admin key (may approve and reject delegations over HTTP).
        #[arg(long)]
        admin: bool,
        /// `ak_live_` instead of `ak_test_`.
        #[arg(long)]
        live: bool,
        /// A label for your records.
        #[arg(long, default_value = "")]
        label: String,
        /// The person's name (shown in the console as who decided).
        #[arg(long)]
        name: Option<String>,
        /// The person's email (matched against a policy's approvers).
        #[arg(long)]
        email: Option<String>,
    },
    /// List API keys (ids, roles, labels; never the keys).
    List {
        #[command(flatten)]
        state: StateArgs,
    },
    /// Revoke an API key by id (see `keys list`); every gateway on the
    /// store refuses it at once (within 2 s if a notification is lost).
    Revoke {
        /// The key's id.
        id: i64,
        #[command(flatten)]
        state: StateArgs,
    },
    /// Add a new IAP signing key (generation max+1) to the store; running
    /// gateways sign with it from now on, and tokens signed before keep
    /// verifying until they expire. Needs the operator secret.
    RotateSigning {
        #[command(flatten)]
        state: StateArgs,
        #[command(flatten)]
        secret: SecretArgs,
    },
}

/// Runs `armoriq keys …`.
pub fn keys(c: &KeysCommand) -> ExitCode {
    match c {
        KeysCommand::List { state } => list(state),
        KeysCommand::Revoke { id, state } => revoke(*id, state),
        KeysCommand::RotateSigning { state, secret } => rotate_signing(state, secret),
        KeysCommand::Create {
            state,
            admin,
            live,
            label,
            name,
            email,
        } => {
            let store = match state.open_or_fail() {
                Ok(s) => s,
                Err(code) => return code,
            };
            let key = match new_api_key(if *live { "ak_live_" } else { "ak_test_" }) {
                Ok(k) => k,
                Err(e) => return fail(e, EXIT_BAD_INPUT),
            };
            let role = if *admin { Role::Admin } else { Role::Agent };
            let email = email.as_deref().map(|e| e.trim().to_lowercase());
            if email.as_deref().is_some_and(|e| !e.contains('@')) {
                return fail(
                    format!("Configuration: --email {email:?} is not an email address"),
                    EXIT_BAD_INPUT,
                );
            }
            let new = NewApiKey {
                key: key.clone(),
                role,
                label: label.clone(),
                name: name.clone(),
                email,
            };
            match block(async {
                ops::create_key(store.as_ref(), &cli_actor(), &new, now_ms())
                    .await
                    .map_err(|e| e.reason())
            }) {
                Ok(id) => {
                    if state.json {
                        println!(
                            "{}",
                            serde_json::json!({"id": id, "api_key": key, "role": role})
                        );
                    } else {
                        println!("{key}");
                        eprintln!("armoriq: key #{id} ({role:?}) created; it is not shown again.");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e, EXIT_BAD_INPUT),
            }
        }
    }
}

fn list(state: &StateArgs) -> ExitCode {
    let store = match state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
    };
    match run(store.list_api_keys()) {
        Ok(keys) => {
            for k in keys {
                if state.json {
                    println!(
                        "{}",
                        serde_json::json!({"id": k.id, "role": k.role, "label": k.label,
                            "name": k.name, "email": k.email, "created_ms": k.created_ms,
                            "revoked_ms": k.revoked_ms})
                    );
                } else {
                    println!(
                        "{:>4}  {:<6} {:<8} {:<20} {}",
                        k.id,
                        format!("{:?}", k.role).to_lowercase(),
                        if k.revoked_ms.is_some() {
                            "revoked"
                        } else {
                            "active"
                        },
                        k.label,
                        k.email.as_deref().unwrap_or("")
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, EXIT_BAD_INPUT),
    }
}

fn revoke(id: i64, state: &StateArgs) -> ExitCode {
    let store = match state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
    };
    let revoked = block(async {
        Ok(ops::revoke_key(store.as_ref(), &cli_actor(), id, now_ms())
            .await
            .map_err(|e| {
                (
                    matches!(e, armoriq_gateway::error::GatewayError::NotFound(_)),
                    e.reason(),
                )
            }))
    })
    .unwrap_or_else(|e| Err((false, e)));
    match revoked {
        Ok(()) => {
            eprintln!("armoriq: key #{id} revoked");
            ExitCode::SUCCESS
        }
        Err((true, _)) => fail(
            format!("Key: no active key #{id} (see `armoriq keys list`)"),
            EXIT_REJECTED,
        ),
        Err((false, e)) => fail(e, EXIT_BAD_INPUT),
    }
}

fn rotate_signing(state: &StateArgs, secret: &SecretArgs) -> ExitCode {
    let secret = match secret.load() {
        Ok(Some(s)) => s,
        Ok(None) => {
            return fail(
                "Configuration: rotating the signing key needs the operator secret that seals \
                 it: set ARMORIQ_SECRET or pass --secret-file FILE (the gateways' secret)",
                EXIT_BAD_INPUT,
            );
        }
        Err(e) => return fail(format!("Configuration: {e}"), EXIT_BAD_INPUT),
    };
    let store = match state.open_or_fail() {
        Ok(s) => s,
        Err(code) => return code,
    };
    match block(async {
        ops::rotate_signing_key(store.as_ref(), &cli_actor(), &secret, now_ms())
            .await
            .map_err(|e| e.reason())
    }) {
        Ok(k) => {
            if state.json {
                println!(
                    "{}",
                    serde_json::json!({"generation": k.generation, "kid": k.kid})
                );
            } else {
                println!("{}", k.kid);
                eprintln!(
                    "armoriq: signing key generation {} (kid {}) added; running gateways sign \
                     with it from now on",
                    k.generation, k.kid
                );
            }
            ExitCode::SUCCESS
        }
        Err(e) => fail(format!("Signing key: {e}"), EXIT_BAD_INPUT),
    }
}
