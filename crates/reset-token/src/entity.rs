//! The `reset_tokens` table; private to the crate.

pub(crate) mod reset_request;
pub(crate) mod reset_token;
