//! LLM token usage (`/dashboard/token-usage*`), one row per
//! (org, product, session, model, date, hour, device). Contracts of
//! [`UsageStore`] (for every backend):
//! * [`UsageStore::put_usage`] replaces each row's counts (an upsert on the
//!   row's key, all rows of one call in one transaction): posting the same
//!   hour again is idempotent, concurrent identical posts leave one row;
//! * [`UsageStore::apply_usage_snapshot`] replaces a session-hour's rows
//!   only if the snapshot's revision is newer than the stored one, in one
//!   transaction: of concurrent snapshots of one session-hour the newest
//!   revision ends up stored, and each learns whether it was `applied`,
//!   already `present` (same revision) or `superseded` (older).

use super::StoreFuture;
use serde::Serialize;

/// The counts of one model in one hour of one session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct UsageRow {
    /// The organisation: the API key's id on a self-hosted gateway.
    pub org: i64,
    /// `product` (e.g. the coding tool).
    pub product: String,
    /// `sessionId`.
    pub session_id: String,
    /// `model`.
    pub model: String,
    /// `usageDate`, `YYYY-MM-DD` (UTC).
    pub usage_date: String,
    /// `usageHour`, 0–23 (UTC).
    pub usage_hour: u8,
    /// `deviceId` (empty: unknown device).
    pub device: String,
    /// `deviceName`.
    pub device_name: Option<String>,
    /// `repo`.
    pub repo: Option<String>,
    /// `armored`.
    pub armored: Option<bool>,
    /// `inputTokens`.
    pub input_tokens: i64,
    /// `outputTokens`.
    pub output_tokens: i64,
    /// `cacheReadTokens`.
    pub cache_read_tokens: i64,
    /// `cacheWriteTokens`.
    pub cache_write_tokens: i64,
    /// The snapshot revision that wrote it (0 for `record_token_usage`).
    pub revision: i64,
    /// When it was written (ms).
    pub updated_ms: i64,
}

/// What became of a snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// Its rows are now stored.
    Applied,
    /// The same revision was stored already.
    Present,
    /// A newer revision is stored.
    Superseded,
}

impl SnapshotStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Present => "present",
            Self::Superseded => "superseded",
        }
    }
}

/// Token usage.
pub trait UsageStore: Send + Sync {
    /// Replaces the counts of each row (keyed by org, product, session,
    /// model, date, hour, device), all in one transaction; returns how many.
    fn put_usage<'a>(&'a self, rows: &'a [UsageRow]) -> StoreFuture<'a, u64>;
    /// Replaces the rows of one session-hour (the key of `rows[0]` without
    /// the model; every row shares it and `revision`) if `revision` is newer
    /// than the one stored for it.
    fn apply_usage_snapshot<'a>(&'a self, rows: &'a [UsageRow]) -> StoreFuture<'a, SnapshotStatus>;
    /// Rows, newest hour first, at most `limit`.
    fn list_usage(&self, limit: u32) -> StoreFuture<'_, Vec<UsageRow>>;
    /// The org's usage stream generation, created as `fresh` if it has none.
    fn open_usage_stream<'a>(&'a self, org: i64, fresh: &'a str) -> StoreFuture<'a, String>;
    /// Replaces the org's generation `current` by `fresh`; the generation in
    /// force afterwards (`fresh`, or the one another reset put in).
    fn reset_usage_stream<'a>(
        &'a self,
        org: i64,
        current: &'a str,
        fresh: &'a str,
    ) -> StoreFuture<'a, String>;
    /// Stores a run report (replacing the run's last one); true if it changed.
    fn put_usage_run<'a>(
        &'a self,
        org: i64,
        run_id: &'a str,
        report: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, bool>;
}
