//! The Latchkey gateway: the poem app that serves firm hosts, the platform host and
//! the admin listener; configuration; and the `latchkey` binary's building blocks.
//!
//! Architecture invariant: this is the only crate that knows HTTP. It resolves the
//! firm from `Host`, hands a `Tenant` to the use cases in `service`, and maps every
//! error to a status and a page in [`http::error`]. Each area (`portal`, `staff`,
//! `platform`, `admin`) owns its routes and handlers; areas share only [`http`] and
//! [`state`], never each other.

pub mod admin;
pub mod database;
pub mod demo;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod platform;
pub mod portal;
pub mod routes;
pub mod seed;
pub mod server;
pub mod settings;
pub mod staff;
pub mod state;
pub mod telemetry;
