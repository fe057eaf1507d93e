//! The `reset_tokens` table; private to the crate.

pub(crate) mod reset_token;
