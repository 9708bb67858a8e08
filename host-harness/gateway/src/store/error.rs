//! The store's one error type: a conflict is not an outage, and neither is a
//! row the store cannot read back.

/// What went wrong in the store.
///
/// The gateway answers `Conflict` with 409, `Unavailable` with 503 and
/// `Corrupt` with 500 (see `crate::error`); none of them lets a call through.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// A uniqueness rule refused the write (the row exists, another request
    /// holds it). Retrying later may succeed.
    Conflict(String),
    /// The database could not be reached or did not do the work: I/O,
    /// locked past the busy timeout, a closed writer, a failed migration.
    Unavailable(String),
    /// A row the store wrote cannot be read back as what it should be (an
    /// unknown status, a wrong column type, a database newer than this code).
    Corrupt(String),
}

impl StoreError {
    /// The detail, for the log.
    pub fn detail(&self) -> &str {
        match self {
            Self::Conflict(m) | Self::Unavailable(m) | Self::Corrupt(m) => m,
        }
    }
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Conflict(m) => write!(f, "store conflict: {m}"),
            Self::Unavailable(m) => write!(f, "store unavailable: {m}"),
            Self::Corrupt(m) => write!(f, "store corrupt: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

/// Result of store calls.
pub type StoreResult<T> = Result<T, StoreError>;
