//! `cargo xtask`: the project's automation, in Rust instead of scattered scripts.
//!
//! - `ci`: formatting, lints, then the tests on SQLite, and again on PostgreSQL when
//!   `LATCHKEY_TEST_DATABASE_URL` is set.
//! - `dev`: `latchkey serve` with the development configuration.
//! - `bench [--duration SECS] [--skip-scale] [--only sqlite|postgres]`: the release
//!   server under wrk, printed as tables, held to the performance targets and kept as
//!   JSON and a chart in `<target>/bench/`; never part of `ci`.
//! - `bench-chart [JSON] [OUT.png]`: draws a kept benchmark report, by default
//!   `<target>/bench/latest.json` into `docs/performance.png`.
//! - `e2e`: the real `latchkey` binary with the development data, delivering over SMTP
//!   to maildev, driven through headless Chromium by `xtask/e2e/*.test.mjs` on SQLite
//!   (writing `docs/screenshots/`) and again on PostgreSQL when
//!   `LATCHKEY_TEST_DATABASE_URL` is set.
//! - `api-contract [ST-RUN-OPTIONS…]`: the real binary's operator API checked against
//!   its own OpenAPI document by schemathesis, every check on.
//! - `fuzz [--seconds N] [TARGET...]`: the cargo-fuzz targets in `fuzz/` on nightly,
//!   5 minutes each (30 s when `CI=true`), failing on any crashing input.
//! - `chaos [--only ACT]`: faults caused on purpose to real processes (the SMTP server
//!   gone, a sender killed, PostgreSQL stopped, three instances racing), with what
//!   came of them counted; never part of `ci`.
//! - `deploy-check`: the files in `deploy/` checked by the tools that read them.
//! - `cluster`: the deployment as real processes (PostgreSQL, three instances, a
//!   worker, SMTP, nginx with `deploy/nginx/`), smoke-tested through nginx.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use anyhow::{Context, bail};

mod api_contract;
mod bench;
mod chaos;
mod checks;
mod cluster;
mod deploy_check;
mod e2e;
mod fleet;
mod fuzz;
mod http;
mod log_scan;
mod pages;
mod python;
mod server;

const TEST_DATABASE_URL_VAR: &str = "LATCHKEY_TEST_DATABASE_URL";

fn main() -> anyhow::Result<()> {
    let task = std::env::args().nth(1);
    match task.as_deref() {
        Some("ci") => ci(),
        Some("dev") => cargo(&["run", "--package", "gateway", "--", "serve"], &[]),
        Some("bench") => bench(),
        Some("bench-chart") => bench::chart(&task_arguments()),
        Some("e2e") => e2e::run(),
        Some("api-contract") => api_contract::run(&task_arguments()),
        Some("fuzz") => fuzz::run(&task_arguments()),
        Some("chaos") => chaos::run(&task_arguments()),
        Some("deploy-check") => deploy_check::run(),
        Some("cluster") => cluster::run(),
        Some(other) => {
            bail!(
                "unknown task `{other}`; tasks: ci, dev, bench, bench-chart, e2e, api-contract, fuzz, chaos, deploy-check, cluster"
            )
        }
        None => {
            bail!(
                "usage: cargo xtask <ci | dev | bench | bench-chart | e2e | api-contract | fuzz | chaos | deploy-check | cluster>"
            )
        }
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
    let mut totals = TestTotals::default();
    totals.add(tests("tests on SQLite", &[(TEST_DATABASE_URL_VAR, None)])?);
    match std::env::var(TEST_DATABASE_URL_VAR) {
        Ok(url) if !url.is_empty() => {
            totals.add(tests(
                "tests on PostgreSQL",
                &[(TEST_DATABASE_URL_VAR, Some(&url))],
            )?);
        }
        _ => println!("xtask: {TEST_DATABASE_URL_VAR} is not set; skipping the PostgreSQL run"),
    }
    if totals.passed == 0 {
        bail!("no test ran");
    }
    println!("xtask: ci passed");
    println!("xtask: {} passed, {} failed", totals.passed, totals.failed);
    Ok(())
}

#[derive(Debug, Default, Clone, Copy)]
struct TestTotals {
    passed: u64,
    failed: u64,
}

impl TestTotals {
    fn add(&mut self, other: TestTotals) {
        self.passed += other.passed;
        self.failed += other.failed;
    }

    /// Reads `test result: ok. 21 passed; 0 failed; …` as printed by libtest.
    fn read(&mut self, line: &str) {
        let Some(summary) = line.trim().strip_prefix("test result: ") else {
            return;
        };
        for part in summary.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(count)) = (words.next(), words.next()) else {
                continue;
            };
            let count: u64 = count.parse().unwrap_or(0);
            match label {
                "passed" => self.passed += count,
                "failed" => self.failed += count,
                _ => {}
            }
        }
    }
}

/// Runs the workspace's tests, echoing their output and adding up their results.
fn tests(name: &str, environment: &[(&str, Option<&str>)]) -> anyhow::Result<TestTotals> {
    println!("xtask: {name}: cargo test --workspace");
    let mut child = cargo_command(&["test", "--workspace"], environment)
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run cargo")?;
    let mut totals = TestTotals::default();
    let stdout = child.stdout.take().context("cargo's output")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        totals.read(&line);
    }
    let status = child.wait()?;
    if !status.success() {
        bail!(
            "{name} failed ({} passed, {} failed)",
            totals.passed,
            totals.failed
        );
    }
    Ok(totals)
}

fn bench() -> anyhow::Result<()> {
    bench::run(&task_arguments())
}

/// What follows the task's name on the command line.
fn task_arguments() -> Vec<String> {
    std::env::args().skip(2).collect()
}

fn step(name: &str, args: &[&str], environment: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    println!("xtask: {name}: cargo {}", args.join(" "));
    cargo(args, environment).with_context(|| format!("{name} failed"))
}

/// Cargo with `args`; each `(name, None)` removes a variable, `(name, Some(v))` sets it.
fn cargo_command(args: &[&str], environment: &[(&str, Option<&str>)]) -> Command {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = Command::new(cargo);
    command.args(args);
    for (name, value) in environment {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
    command
}

pub(crate) fn cargo(args: &[&str], environment: &[(&str, Option<&str>)]) -> anyhow::Result<()> {
    let status = cargo_command(args, environment)
        .status()
        .context("cannot run cargo")?;
    if !status.success() {
        bail!("cargo {} exited with {status}", args.join(" "));
    }
    Ok(())
}
