//! `cargo xtask`: the project's automation, in Rust instead of scattered scripts.
//!
//! - `ci`: formatting, lints, then the tests on SQLite, and again on PostgreSQL when
//!   `LATCHKEY_TEST_DATABASE_URL` is set.
//! - `dev`: `latchkey serve` with the development configuration.
//! - `bench`: benchmarks, printed as a table; never part of `ci`.

use std::process::Command;

use anyhow::{Context, bail};

const TEST_DATABASE_URL_VAR: &str = "LATCHKEY_TEST_DATABASE_URL";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => ci(),
        Some("dev") => cargo(&["run", "--package", "gateway", "--", "serve"], &[]),
        Some("bench") => bench(),
        Some(other) => bail!("unknown task `{other}`; tasks: ci, dev, bench"),
        None => bail!("usage: cargo xtask <ci | dev | bench>"),
    }
}

fn ci() -> anyhow::Result<()> {
    step("formatting", &["fmt", "--all", "--", "--check"], &[])?;
    step(
        "lints",
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    step(
        "tests on SQLite",
        &["test", "--workspace"],
        &[(TEST_DATABASE_URL_VAR, None)],
    )?;
    match std::env::var(TEST_DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => {
            step(
                "tests on PostgreSQL",
                &["test", "--workspace"],
                &[(TEST_DATABASE_URL_VAR, Some(&url))],
            )?;
        }
        _ => println!("xtask: {TEST_DATABASE_URL_VAR} is not set; skipping the PostgreSQL run"),
    }
    println!("xtask: ci passed");
    Ok(())
}

fn bench() -> anyhow::Result<()> {
    cargo(
        &[
            "run",
            "--release",
            "--package",
            "tenancy",
            "--example",
            "resolution_bench",
        ],
        &[(TEST_DATABASE_URL_VAR, None)],
    )
}

fn step(name: &str, args: &[&str], environment: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    println!("xtask: {name}: cargo {}", args.join(" "));
    cargo(args, environment).with_context(|| format!("{name} failed"))
}

/// Runs cargo with `args`; each `(name, None)` removes a variable, `(name, Some(v))` sets it.
fn cargo(args: &[&str], environment: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(args);
    for (name, value) in environment {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    let status = command.status().context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo {} exited with {status}", args.join(" "));
    }
    Ok(())
}
