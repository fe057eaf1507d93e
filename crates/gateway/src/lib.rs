//! The Latchkey gateway: the poem app that serves firm hosts, the platform host and
//! the admin listener; configuration; and the `latchkey` binary's building blocks.
//!
//! Architecture invariant: this is the only crate that knows HTTP. It resolves the
//! firm from `Host`, hands a `TenantId` to the domain crates, composes work that spans
//! them inside one transaction, and maps every error to a status and a page here.

pub mod access_pages;
pub mod admin;
pub mod app;
pub mod attempts;
pub mod auth;
pub mod contact_pages;
pub mod csrf;
pub mod database;
pub mod demo;
pub mod dev_mailbox;
pub mod emails;
pub mod error;
pub mod find_firm_pages;
pub mod firms;
pub mod forgot_pages;
pub mod forms;
pub mod host_dispatch;
pub mod intake;
pub mod metrics;
pub mod operator_api;
pub mod pages;
pub mod processors;
pub mod request_context;
pub mod reset_pages;
pub mod seed;
pub mod server;
pub mod settings;
pub mod settings_pages;
pub mod sign_in;
pub mod staff_pages;
pub mod telemetry;
pub mod templates;
