//! sea-orm entities of the outbox; private, so other crates see only the domain types.

pub(crate) mod outbox_message;
