//! Latchkey's use cases, without HTTP: the firm lifecycle, accounts, resets, sign-in,
//! the composition of every email, the processors of what public forms record, and
//! the periodic jobs.
//!
//! Architecture invariant: nothing here knows a request, a cookie, a template of a
//! page or a CSRF key. The gateway's pages, the operator API and the CLI call the same
//! functions with a [`Services`] and plain values (a `Tenant`, an `Option<IpAddr>`),
//! and map the one [`ServiceError`] to a status once. Every read or write of a firm's
//! data takes its `TenantId`; the few that span firms live in [`cross_firm`].

pub mod accounts;
pub mod attempts;
pub mod cross_firm;
pub mod emails;
pub mod error;
pub mod firms;
pub mod intake;
mod policy;
pub mod processors;
pub mod requests;
pub mod resets;
mod services;
pub mod sign_in;

pub use error::ServiceError;
pub use policy::FirmPolicy;
pub use services::{
    FirmLinks, Ingredients, LimitSettings, Parts, PublicScheme, ServiceConfig, Services,
};
