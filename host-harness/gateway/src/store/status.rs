//! Typed statuses: what the store writes is one of these, and what it reads
//! back must parse as one (else [`StoreError::Corrupt`]).

use super::StoreError;
use serde::Serialize;

macro_rules! text_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $v),+
        }

        impl $name {
            /// Every value.
            pub const ALL: &'static [Self] = &[$(Self::$v),+];

            /// The text stored and shown.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$v => $s),+
                }
            }

            /// The value named `s`.
            ///
            /// # Errors
            /// `None` for any other text.
            pub fn parse(s: &str) -> Option<Self> {
                match s {
                    $($s => Some(Self::$v),)+
                    _ => None,
                }
            }

            /// Parses a stored value.
            pub(crate) fn read(s: &str) -> Result<Self, StoreError> {
                Self::parse(s).ok_or_else(|| {
                    StoreError::Corrupt(format!("unknown {} {s:?}", stringify!($name)))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum! {
    /// What an API key may do.
    Role {
        /// SDK calls.
        Agent => "agent",
        /// SDK calls plus the admin routes (approve / reject, audit).
        Admin => "admin",
    }
}

text_enum! {
    /// Where a minted plan is.
    PlanStatus {
        /// Usable.
        Active => "active",
        /// Reported done by the client.
        Completed => "completed",
        /// Reported failed by the client.
        Failed => "failed",
        /// Cancelled by the client.
        Cancelled => "cancelled",
        /// Revoked: its tokens stop working at the proxy.
        Revoked => "revoked",
    }
}

text_enum! {
    /// Where a delegation is.
    DelegationStatus {
        /// Waiting for a decision.
        Pending => "pending",
        /// Approved, not yet used.
        Approved => "approved",
        /// Rejected.
        Rejected => "rejected",
        /// Pending past its expiry (or superseded by a newer identical
        /// request), or approved and not used before its own expiry.
        Expired => "expired",
        /// Approved and used by one call.
        Executed => "executed",
    }
}

impl DelegationStatus {
    /// The status as it reads at `now_ms` for a row that expires at
    /// `expires_ms`: pending and approved rows past it are expired.
    pub fn at(self, now_ms: i64, expires_ms: i64) -> Self {
        match self {
            Self::Pending | Self::Approved if now_ms > expires_ms => Self::Expired,
            s => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_text_is_corrupt() {
        for s in DelegationStatus::ALL {
            assert_eq!(DelegationStatus::parse(s.as_str()), Some(*s));
        }
        for s in PlanStatus::ALL {
            assert_eq!(PlanStatus::parse(s.as_str()), Some(*s));
        }
        for s in Role::ALL {
            assert_eq!(Role::parse(s.as_str()), Some(*s));
        }
        assert!(matches!(
            DelegationStatus::read("Approved"),
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            serde_json::to_string(&DelegationStatus::Executed)
                .ok()
                .as_deref(),
            Some("\"executed\"")
        );
    }
}
