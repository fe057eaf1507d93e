//! The notification crate against a real database (SQLite by default, PostgreSQL
//! when `LATCHKEY_TEST_DATABASE_URL` is set) and real SMTP servers started here.

mod delivery;
mod mailbox;
mod migration;
mod observer;
mod outbox;
mod platform;
mod render;
mod support;
