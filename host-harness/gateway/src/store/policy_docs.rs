//! Policy documents kept in the store: `armoriq policy load --store URL` on
//! one node puts a new version, and every node on that store puts the newest
//! version in force (it is told at once, see [`ChangeFeed`](super::ChangeFeed),
//! and polls as a backstop).

use super::StoreFuture;

/// One loaded policy document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDocument {
    /// 1, 2, … (strictly increasing; the newest is in force).
    pub version: i64,
    /// The document (a bound `{floor?, agent?, group?}` or one policy), JSON.
    pub json: String,
    /// Who loaded it (CLI user, console key label).
    pub loaded_by: String,
    /// Unix milliseconds.
    pub loaded_ms: i64,
}

/// Policy documents.
pub trait PolicyStore: Send + Sync {
    /// Stores `json` as the newest version, atomically (two loads at once
    /// get two versions); returns its version. Tells every node.
    fn put_policy<'a>(
        &'a self,
        json: &'a str,
        loaded_by: &'a str,
        now_ms: i64,
    ) -> StoreFuture<'a, i64>;
    /// The newest document, if one was ever loaded.
    fn current_policy(&self) -> StoreFuture<'_, Option<PolicyDocument>>;
}
