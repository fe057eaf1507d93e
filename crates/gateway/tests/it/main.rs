//! The gateway's integration tests: one binary, one module per area.

mod access;
mod admin;
mod cli;
mod csrf;
mod find_firm;
mod firm_settings;
mod fixture;
mod flow;
mod forgot;
mod helpers;
mod hostile;
mod hosts;
mod load;
mod operator;
mod portal;
mod queues;
mod reset;
mod startup;
