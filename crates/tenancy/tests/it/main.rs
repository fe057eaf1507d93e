//! The tenancy crate against a real database: SQLite by default, PostgreSQL when
//! `LATCHKEY_TEST_DATABASE_URL` is set.

mod directory;
mod resolution;
