//! The messages the product sends, one typed struct per kind, and what rendering
//! one of them produces.

use std::fmt;

use serde::Serialize;

/// Every kind of email the product sends; its name is stored in the outbox and
/// used as a metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EmailKind {
    PasswordReset,
    TemporaryPassword,
    PasswordChanged,
    Invitation,
    FindYourFirm,
    AccessRequest,
}

impl EmailKind {
    pub const ALL: [EmailKind; 6] = [
        Self::PasswordReset,
        Self::TemporaryPassword,
        Self::PasswordChanged,
        Self::Invitation,
        Self::FindYourFirm,
        Self::AccessRequest,
    ];

    /// The name in the outbox, in metrics and in template file names.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::PasswordReset => "password_reset",
            Self::TemporaryPassword => "temporary_password",
            Self::PasswordChanged => "password_changed",
            Self::Invitation => "invitation",
            Self::FindYourFirm => "find_your_firm",
            Self::AccessRequest => "access_request",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == raw)
    }

    /// Whether the body holds a credential (a link that sets a password, or a
    /// password): such a body is wiped as soon as it is no longer going to be sent,
    /// and never sent again, since by then its credential may have been superseded.
    pub fn carries_credential(&self) -> bool {
        matches!(
            self,
            Self::PasswordReset | Self::TemporaryPassword | Self::Invitation
        )
    }
}

impl fmt::Display for EmailKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// "Password Reset": a single-use link to choose a new password.
#[derive(Debug, Clone)]
pub struct PasswordReset {
    /// The recipient's name as the firm knows it.
    pub name: String,
    /// The link, built by the caller from the firm's canonical domain.
    pub url: String,
    pub expires_in_minutes: i64,
}

/// A new temporary password, for firms that chose to send one instead of a link.
///
/// `Debug` hides the password so that it never reaches a log.
#[derive(Clone)]
pub struct TemporaryPassword {
    pub name: String,
    pub password: String,
    pub sign_in_url: String,
}

impl fmt::Debug for TemporaryPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TemporaryPassword")
            .field("name", &self.name)
            .field("password", &"<hidden>")
            .field("sign_in_url", &self.sign_in_url)
            .finish()
    }
}

/// The notice that an account's password was changed.
#[derive(Debug, Clone)]
pub struct PasswordChanged {
    pub name: String,
    /// Where to go if the change was not the recipient's doing.
    pub reset_url: String,
}

/// An invitation to set the password of a new account.
#[derive(Debug, Clone)]
pub struct Invitation {
    pub name: String,
    pub url: String,
    pub expires_in_hours: i64,
}

/// A firm the find-your-firm email lists.
#[derive(Debug, Clone, Serialize)]
pub struct FirmLink {
    pub name: String,
    /// The firm's sign-in page.
    pub url: String,
}

/// The list of firms where an address has an account.
#[derive(Debug, Clone)]
pub struct FindYourFirm {
    pub firms: Vec<FirmLink>,
}

/// Tells a firm's staff that someone asked for an account.
#[derive(Debug, Clone)]
pub struct AccessRequestReceived {
    pub requester_name: String,
    pub requester_email: String,
    pub company: String,
    pub message: String,
    /// The staff page listing access requests.
    pub review_url: String,
}

/// Any one message, for code that handles every kind alike.
#[derive(Debug, Clone)]
pub enum Email {
    PasswordReset(PasswordReset),
    TemporaryPassword(TemporaryPassword),
    PasswordChanged(PasswordChanged),
    Invitation(Invitation),
    FindYourFirm(FindYourFirm),
    AccessRequestReceived(AccessRequestReceived),
}

impl Email {
    pub fn kind(&self) -> EmailKind {
        match self {
            Self::PasswordReset(_) => EmailKind::PasswordReset,
            Self::TemporaryPassword(_) => EmailKind::TemporaryPassword,
            Self::PasswordChanged(_) => EmailKind::PasswordChanged,
            Self::Invitation(_) => EmailKind::Invitation,
            Self::FindYourFirm(_) => EmailKind::FindYourFirm,
            Self::AccessRequestReceived(_) => EmailKind::AccessRequest,
        }
    }
}

macro_rules! email_from {
    ($($variant:ident),*) => {
        $(impl From<$variant> for Email {
            fn from(message: $variant) -> Self {
                Self::$variant(message)
            }
        })*
    };
}

email_from!(
    PasswordReset,
    TemporaryPassword,
    PasswordChanged,
    Invitation,
    FindYourFirm,
    AccessRequestReceived
);

/// A rendered message, ready for the outbox.
///
/// `Debug` leaves the bodies out: they hold reset links and temporary passwords.
#[derive(Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    pub kind: EmailKind,
    pub locale: &'static str,
    pub subject: String,
    pub html: String,
    pub text: String,
}

impl fmt::Debug for RenderedEmail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RenderedEmail")
            .field("kind", &self.kind)
            .field("locale", &self.locale)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}
