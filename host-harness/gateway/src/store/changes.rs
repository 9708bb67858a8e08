//! What one node changed that every node's caches must drop: the change
//! feed. A backend publishes from the methods that make the change (on
//! PostgreSQL with `pg_notify` inside the same transaction, so a change is
//! announced exactly when it commits; on SQLite to this process only, since
//! one gateway owns the file). A subscriber that may have missed changes
//! (its listening connection dropped) gets [`Change::Resync`] and must drop
//! every cache.

use tokio::sync::broadcast;

/// One change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A plan's status changed (revoked): drop it from the plan cache.
    Plan(String),
    /// A trust record (delegation) was revoked.
    Trust(String),
    /// An API key was revoked: drop cached key checks.
    ApiKeys,
    /// A signing key was added: reload the key set.
    SigningKeys,
    /// A policy document was loaded: reload the policy.
    Policy,
    /// Changes may have been missed: drop every cache.
    Resync,
}

impl Change {
    /// The text form sent between nodes (`plan:ID`, `trust:ID`, `keys`,
    /// `signing`, `policy`, `resync`).
    pub fn encode(&self) -> String {
        match self {
            Self::Plan(id) => format!("plan:{id}"),
            Self::Trust(id) => format!("trust:{id}"),
            Self::ApiKeys => "keys".into(),
            Self::SigningKeys => "signing".into(),
            Self::Policy => "policy".into(),
            Self::Resync => "resync".into(),
        }
    }

    /// The change back from [`Change::encode`]'s text; an unknown text is a
    /// [`Change::Resync`] (a newer node's change this one cannot name: drop
    /// everything, which is always safe).
    pub fn decode(s: &str) -> Self {
        match s.split_once(':') {
            Some(("plan", id)) => Self::Plan(id.to_owned()),
            Some(("trust", id)) => Self::Trust(id.to_owned()),
            _ => match s {
                "keys" => Self::ApiKeys,
                "signing" => Self::SigningKeys,
                "policy" => Self::Policy,
                _ => Self::Resync,
            },
        }
    }
}

/// Where changes are announced.
pub trait ChangeFeed: Send + Sync {
    /// Changes from now on, this node's own included.
    fn subscribe(&self) -> broadcast::Receiver<Change>;
}

#[cfg(test)]
mod tests {
    use super::Change;

    #[test]
    fn every_change_round_trips_and_unknown_text_resyncs() {
        for c in [
            Change::Plan("plan_1:x".into()),
            Change::Trust("deleg_2".into()),
            Change::ApiKeys,
            Change::SigningKeys,
            Change::Policy,
            Change::Resync,
        ] {
            assert_eq!(Change::decode(&c.encode()), c);
        }
        assert_eq!(Change::decode("future:thing"), Change::Resync);
    }
}
