//! The keys of a firm and of its accounts. Each is its own type, so a contact's id
//! cannot be passed where a client's or a staff user's is expected. They live here,
//! below identity and reset-token, so both speak of the same accounts without depending
//! on each other.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(Uuid);

        impl $name {
            /// A new, time-ordered id (UUIDv7), so inserts land at the end of the index.
            pub fn generate() -> Self {
                Self(Uuid::now_v7())
            }

            pub fn from_uuid(id: Uuid) -> Self {
                Self(id)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;

            fn from_str(raw: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(raw).map(Self)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self.0)
            }
        }
    };
}

key! {
    /// The key of a firm. Every function that touches firm data takes one, so no
    /// contact, client, session or token can be loaded without saying whose it is.
    TenantId
}

key! {
    /// A contact: a person at a client who signs in to the portal.
    ContactId
}

key! {
    /// A client of a firm: the company or household its contacts belong to.
    ClientId
}

key! {
    /// A member of a firm's staff.
    StaffUserId
}

/// Which kind of account a session, a reset link or an audit event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountKind {
    Staff,
    Contact,
}

impl AccountKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Contact => "contact",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "staff" => Some(Self::Staff),
            "contact" => Some(Self::Contact),
            _ => None,
        }
    }
}

/// One account of a firm, of either kind: what a session signs in, what a reset link
/// resets. The kind and the id travel together, so neither can be paired with the
/// other kind's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AccountRef {
    Staff(StaffUserId),
    Contact(ContactId),
}

impl AccountRef {
    pub fn kind(&self) -> AccountKind {
        match self {
            Self::Staff(_) => AccountKind::Staff,
            Self::Contact(_) => AccountKind::Contact,
        }
    }

    /// The id as the tables store it, beside [`AccountKind::as_str`].
    pub fn as_uuid(&self) -> Uuid {
        match self {
            Self::Staff(id) => id.as_uuid(),
            Self::Contact(id) => id.as_uuid(),
        }
    }

    /// Rebuilds a reference from a kind and the id stored beside it.
    pub fn from_parts(kind: AccountKind, id: Uuid) -> Self {
        match kind {
            AccountKind::Staff => Self::Staff(StaffUserId::from_uuid(id)),
            AccountKind::Contact => Self::Contact(ContactId::from_uuid(id)),
        }
    }

    /// Rebuilds a reference from its stored kind and id; `None` for a kind no version
    /// of the schema wrote.
    pub fn from_stored(kind: &str, id: Uuid) -> Option<Self> {
        Some(Self::from_parts(AccountKind::parse(kind)?, id))
    }

    pub fn staff(&self) -> Option<StaffUserId> {
        match self {
            Self::Staff(id) => Some(*id),
            Self::Contact(_) => None,
        }
    }

    pub fn contact(&self) -> Option<ContactId> {
        match self {
            Self::Contact(id) => Some(*id),
            Self::Staff(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_account_reference_survives_its_stored_form() {
        let id = Uuid::now_v7();
        for account in [
            AccountRef::Staff(StaffUserId::from_uuid(id)),
            AccountRef::Contact(ContactId::from_uuid(id)),
        ] {
            let stored = AccountRef::from_stored(account.kind().as_str(), account.as_uuid());
            assert_eq!(stored, Some(account));
        }
        assert_eq!(AccountRef::from_stored("robot", id), None);
    }

    #[test]
    fn keys_print_their_kind_when_debugged_and_only_the_uuid_when_displayed() {
        let id = Uuid::now_v7();
        assert_eq!(
            format!("{:?}", ContactId::from_uuid(id)),
            format!("ContactId({id})")
        );
        assert_eq!(ClientId::from_uuid(id).to_string(), id.to_string());
    }
}
