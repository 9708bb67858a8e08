//! `armoriq keygen`, `armoriq token mint`, `armoriq token verify`.

use crate::cmd::{EXIT_BAD_INPUT, EXIT_REJECTED, fail};
use crate::io::read_input;
use armoriq_common::backend::HostBackend;
use armoriq_common::canonical::canonical_bytes;
use armoriq_common::keys::{SigningKey, parse_public_key, pem};
use armoriq_core::jws::{self, Claims, Expect};
use armoriq_core::keys::KeySet;
use armoriq_core::{Alg, Profile};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Largest token payload `token verify` accepts.
const MAX_PAYLOAD: usize = 16 * 1024;

/// `--alg` values.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum AlgArg {
    /// ECDSA P-256 / SHA-256.
    #[value(name = "ES256")]
    Es256,
    /// Ed25519.
    #[value(name = "EdDSA")]
    EdDsa,
}

/// Arguments of `armoriq keygen`.
#[derive(clap::Args, Debug)]
pub struct KeygenArgs {
    /// Signature algorithm.
    #[arg(long, value_enum)]
    alg: AlgArg,
    /// Directory to write private.pem (mode 0600), public.jwk and public.pem into.
    #[arg(long)]
    out: PathBuf,
    /// Key id to put in the JWK.
    #[arg(long)]
    kid: Option<String>,
    /// Replace an existing key in --out.
    #[arg(long)]
    force: bool,
}

/// `armoriq token …`
#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Sign a claims set (JSON object) and print the compact JWT.
    Mint {
        /// PKCS#8 PEM private key (from `armoriq keygen`).
        #[arg(long)]
        key: PathBuf,
        /// Claims JSON file; `-` reads standard input.
        #[arg(long)]
        claims: PathBuf,
        /// `kid` header value.
        #[arg(long)]
        kid: Option<String>,
    },
    /// Verify a token: exit 0 and the claims on stdout, or exit 1 and one
    /// `error: <kind>: <detail>` line on stderr.
    Verify {
        /// Public key: JWK, PEM, hex or base64.
        #[arg(long)]
        key: PathBuf,
        /// Expected audience.
        #[arg(long)]
        aud: Option<String>,
        /// Expected issuer.
        #[arg(long)]
        iss: Option<String>,
        /// Verification time, seconds since the epoch (default: now).
        #[arg(long)]
        now: Option<i64>,
        /// Allowed clock skew in seconds.
        #[arg(long, default_value_t = 0)]
        leeway: u64,
        /// The token; `-` or nothing reads standard input.
        token: Option<String>,
    },
}

/// Runs `armoriq keygen`.
pub fn keygen(a: &KeygenArgs) -> ExitCode {
    let alg = match a.alg {
        AlgArg::Es256 => Alg::Es256,
        AlgArg::EdDsa => Alg::EdDsa,
    };
    let private = a.out.join("private.pem");
    if private.exists() && !a.force {
        return fail(
            format!("{} exists (use --force to replace it)", private.display()),
            EXIT_BAD_INPUT,
        );
    }
    let (key, pkcs8) = match SigningKey::generate(alg) {
        Ok(k) => k,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let mut public = key.public();
    public.kid.clone_from(&a.kid);
    let written = std::fs::create_dir_all(&a.out)
        .and_then(|()| write_private(&private, pem("PRIVATE KEY", &pkcs8).as_bytes()))
        .and_then(|()| std::fs::write(a.out.join("public.jwk"), format!("{:#}\n", public.jwk())))
        .and_then(|()| std::fs::write(a.out.join("public.pem"), public.pem()));
    if let Err(e) = written {
        return fail(format!("{}: {e}", a.out.display()), EXIT_BAD_INPUT);
    }
    eprintln!(
        "wrote {} (0600), public.jwk and public.pem ({})",
        private.display(),
        alg.name()
    );
    ExitCode::SUCCESS
}

/// Creates the private key file readable by its owner only, from the start.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let mut f = opts.open(path)?;
        f.set_permissions(std::fs::Permissions::from_mode(0o600))?;
        f.write_all(bytes)
    }
    #[cfg(not(unix))]
    {
        opts.open(path)?.write_all(bytes)
    }
}

/// Runs `armoriq token …`.
pub fn run(c: TokenCommand) -> ExitCode {
    match c {
        TokenCommand::Mint { key, claims, kid } => mint(&key, &claims, kid.as_deref()),
        TokenCommand::Verify {
            key,
            aud,
            iss,
            now,
            leeway,
            token,
        } => verify(
            &key,
            aud.as_deref(),
            iss.as_deref(),
            now,
            leeway,
            token.as_deref(),
        ),
    }
}

fn mint(key: &Path, claims: &Path, kid: Option<&str>) -> ExitCode {
    let text = match std::fs::read_to_string(key) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", key.display()), EXIT_BAD_INPUT),
    };
    let key = match SigningKey::from_pem(&text) {
        Ok(k) => k,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    let raw = match read_input(Some(claims)) {
        Ok(b) => b,
        Err(e) => return fail(e, EXIT_BAD_INPUT),
    };
    if raw.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return fail("claims must be a JSON object", EXIT_BAD_INPUT);
    }
    // The payload is the claims' canonical form: deterministic bytes, and
    // strict JSON (duplicate claims rejected here, not at every verifier).
    let payload = match canonical_bytes(&raw, Profile::ArmorIq) {
        Ok(p) => p,
        Err(e) => return fail(format!("claims: {}: {e}", e.name()), EXIT_BAD_INPUT),
    };
    match key.sign_jwt(&payload, kid) {
        Ok(jwt) => {
            println!("{jwt}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(e, EXIT_BAD_INPUT),
    }
}

fn verify(
    key: &Path,
    aud: Option<&str>,
    iss: Option<&str>,
    now: Option<i64>,
    leeway: u64,
    token: Option<&str>,
) -> ExitCode {
    let text = match std::fs::read_to_string(key) {
        Ok(t) => t,
        Err(e) => return fail(format!("{}: {e}", key.display()), EXIT_BAD_INPUT),
    };
    let public = match parse_public_key(&text) {
        Ok(k) => k,
        Err(e) => return fail(format!("{}: {e}", key.display()), EXIT_BAD_INPUT),
    };
    let mut keys = KeySet::<HostBackend, 1>::new();
    let added = match public.alg {
        Alg::Es256 => keys.add_es256(public.kid.as_deref().map(str::as_bytes), &public.raw),
        Alg::EdDsa => match <[u8; 32]>::try_from(public.raw.as_slice()) {
            Ok(raw) => keys.add_ed25519(public.kid.as_deref().map(str::as_bytes), &raw),
            Err(_) => Err(armoriq_core::Error::KeyInvalid),
        },
    };
    if let Err(e) = added {
        return fail(format!("{}: {e}", key.display()), EXIT_BAD_INPUT);
    }
    let token = match token {
        Some(t) if t != "-" => t.as_bytes().to_vec(),
        _ => match read_input(None) {
            Ok(b) => b,
            Err(e) => return fail(e, EXIT_BAD_INPUT),
        },
    };
    let token = token.trim_ascii();
    let now = now.unwrap_or_else(armoriq_common::time::now_secs);
    let mut buf = vec![0u8; MAX_PAYLOAD];
    let checked = jws::verify(token, &keys, &mut buf).and_then(|v| {
        let claims = Claims::parse(v.payload)?;
        claims.check(&Expect {
            now,
            leeway,
            audience: aud,
            issuer: iss,
        })?;
        Ok(v.payload)
    });
    match checked {
        Ok(payload) => {
            println!("{}", String::from_utf8_lossy(payload));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {}: {}: {e}", e.kind().as_str(), e.name());
            ExitCode::from(EXIT_REJECTED)
        }
    }
}
