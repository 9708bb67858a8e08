//! Which store a command opens: `--store URL` (env `ARMORIQ_STORE`).
//! `postgres://…` (or `postgresql://…`) is PostgreSQL, shared by several
//! gateways; anything else, or nothing, is the embedded default: SQLite in
//! the state directory (`sqlite:PATH` or a plain path names another file).

#[cfg(feature = "postgres")]
use super::PgStore;
use super::{SqliteStore, Store};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// `--pg-query-timeout`'s default: long enough for any statement the
/// gateway makes on a healthy server (they take milliseconds), short
/// enough that a stalled server is noticed within a few seconds.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(5);

/// Where the gateway's state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// A SQLite file (one gateway).
    Sqlite(PathBuf),
    /// A PostgreSQL connection URL (several gateways).
    Postgres(String),
}

impl std::fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl StoreLocation {
    /// The embedded default: `armoriq.db` in `state_dir`.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Self::Sqlite(state_dir.join("armoriq.db"))
    }

    /// `--store`'s value, or the default in `state_dir` when there is none.
    ///
    /// # Errors
    /// An empty value, or a URL of a database this gateway does not speak.
    pub fn parse(value: Option<&str>, state_dir: &Path) -> Result<Self, String> {
        let Some(v) = value.map(str::trim) else {
            return Ok(Self::in_state_dir(state_dir));
        };
        if v.is_empty() {
            return Err("--store is empty: give postgres://… or a SQLite file".into());
        }
        if v.starts_with("postgres://") || v.starts_with("postgresql://") {
            return Ok(Self::Postgres(v.to_owned()));
        }
        if let Some(path) = v.strip_prefix("sqlite:") {
            return Ok(Self::Sqlite(PathBuf::from(path.trim_start_matches("//"))));
        }
        if let Some((scheme, _)) = v.split_once("://") {
            return Err(format!(
                "--store {scheme}://…: not a store this gateway speaks \
                 (postgres://… for PostgreSQL, or a SQLite file path)"
            ));
        }
        Ok(Self::Sqlite(PathBuf::from(v)))
    }

    /// Whether several gateways may share it (their caches must then follow
    /// the store's change feed and their signing key must be in the store).
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Postgres(_))
    }

    /// For messages and logs: the URL without its password.
    pub fn redacted(&self) -> String {
        match self {
            Self::Sqlite(p) => format!("sqlite:{}", p.display()),
            Self::Postgres(url) => redact_password(url),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db` (and
/// a `password=` query parameter → `password=***`).
pub fn redact_password(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let base = match base.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((auth, host)) => match auth.split_once(':') {
                Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
                None => base.to_owned(),
            },
            None => base.to_owned(),
        },
        None => base.to_owned(),
    };
    match query {
        Some(q) => {
            let q: Vec<String> = q
                .split('&')
                .map(|p| match p.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => p.to_owned(),
                })
                .collect();
            format!("{base}?{}", q.join("&"))
        }
        None => base,
    }
}

/// This process's node name (audit rows say which gateway wrote them):
/// `ARMORIQ_NODE` when set (give each gateway behind a load balancer its
/// own), else `"{hostname}:{pid}"`.
pub fn default_node() -> String {
    if let Ok(n) = std::env::var("ARMORIQ_NODE")
        && !n.trim().is_empty()
    {
        return n.trim().to_owned();
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Opens (creating and migrating) the store at `loc`, as node
/// [`default_node`].
///
/// # Errors
/// The store cannot be reached or migrated; the message names it (without
/// its password).
pub async fn open_store(loc: &StoreLocation) -> Result<Arc<dyn Store>, String> {
    open_store_as(loc, &default_node()).await
}

/// Opens (creating and migrating) the store at `loc`; audit rows written
/// without a node are stamped `node` (e.g. `serve --node NAME`).
///
/// # Errors
/// The store cannot be reached or migrated; the message names it (without
/// its password).
pub async fn open_store_as(loc: &StoreLocation, node: &str) -> Result<Arc<dyn Store>, String> {
    open_store_with(loc, node, DEFAULT_QUERY_TIMEOUT).await
}

/// As [`open_store_as`]; on PostgreSQL every statement is bounded by
/// `query_timeout` (`serve --pg-query-timeout`, see `PgStore::open_with`).
///
/// # Errors
/// As [`open_store_as`]; a PostgreSQL location in a build without the
/// `postgres` feature.
pub async fn open_store_with(
    loc: &StoreLocation,
    node: &str,
    query_timeout: Duration,
) -> Result<Arc<dyn Store>, String> {
    match loc {
        StoreLocation::Sqlite(path) => {
            let (path, node) = (path.clone(), node.to_owned());
            let s = tokio::task::spawn_blocking(move || SqliteStore::open_as(&path, &node))
                .await
                .map_err(|e| format!("store: {e}"))?
                .map_err(|e| format!("{}: {e}", loc.redacted()))?;
            Ok(Arc::new(s))
        }
        #[cfg(feature = "postgres")]
        StoreLocation::Postgres(url) => {
            // PgStore's errors name the server (without its password).
            let s = PgStore::open_with(url, node, query_timeout)
                .await
                .map_err(|e| e.to_string())?;
            Ok(Arc::new(s))
        }
        #[cfg(not(feature = "postgres"))]
        StoreLocation::Postgres(_) => {
            let _ = query_timeout;
            Err(format!(
                "{}: this build has no PostgreSQL support (feature `postgres`)",
                loc.redacted()
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_values_select_the_backend() {
        let dir = Path::new("/var/lib/armoriq");
        assert_eq!(
            StoreLocation::parse(None, dir).unwrap(),
            StoreLocation::Sqlite(dir.join("armoriq.db"))
        );
        for url in [
            "postgres://u@h/db",
            "postgresql://u:p@h:5432/db?sslmode=verify-full",
        ] {
            assert_eq!(
                StoreLocation::parse(Some(url), dir).unwrap(),
                StoreLocation::Postgres(url.into())
            );
        }
        assert_eq!(
            StoreLocation::parse(Some("sqlite:/tmp/a.db"), dir).unwrap(),
            StoreLocation::Sqlite("/tmp/a.db".into())
        );
        assert_eq!(
            StoreLocation::parse(Some("./b.db"), dir).unwrap(),
            StoreLocation::Sqlite("./b.db".into())
        );
        assert!(StoreLocation::parse(Some("mysql://h/db"), dir).is_err());
        assert!(StoreLocation::parse(Some(" "), dir).is_err());
        assert!(
            StoreLocation::parse(Some("postgres://h/db"), dir)
                .unwrap()
                .is_shared()
        );
    }

    #[cfg(not(feature = "postgres"))]
    #[tokio::test]
    async fn without_the_postgres_feature_a_postgres_store_is_refused() {
        let l = StoreLocation::Postgres("postgres://app:s3cret@h/db".into());
        let e = open_store(&l).await.err().unwrap();
        assert!(
            e.contains("no PostgreSQL support (feature `postgres`)"),
            "{e}"
        );
        assert!(!e.contains("s3cret"), "{e}");
    }

    #[test]
    fn passwords_never_show() {
        let l = StoreLocation::Postgres("postgres://app:s3cret@db.internal:5432/armoriq".into());
        assert_eq!(l.redacted(), "postgres://app:***@db.internal:5432/armoriq");
        assert!(!format!("{l:?}").contains("s3cret"));
        assert_eq!(
            redact_password("postgres://app@h/db"),
            "postgres://app@h/db"
        );
        assert_eq!(
            redact_password("postgres://app@h/db?sslmode=require&password=s3cret"),
            "postgres://app@h/db?sslmode=require&password=***"
        );
    }
}
