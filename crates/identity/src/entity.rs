//! sea-orm entities of the identity tables; private to the crate.

pub(crate) mod access_request;
pub(crate) mod audit_event;
pub(crate) mod client;
pub(crate) mod contact;
pub(crate) mod firm_lookup;
pub(crate) mod rate_limit_counter;
pub(crate) mod session;
pub(crate) mod staff_user;
