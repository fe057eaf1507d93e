//! The gateway's integration tests: one binary, one module per area.

mod access;
mod admin;
mod cli;
mod flow;
mod forgot;
mod helpers;
mod hosts;
mod portal;
mod reset;
