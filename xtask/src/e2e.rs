//! `cargo xtask e2e`: starts `latchkey serve` with the development data on free ports
//! and a throw-away database, then runs the browser flows in `xtask/e2e/`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::server::{Server, workspace_root};

/// The passwords the flows and the demo data use: none may reach a log line.
const PASSWORDS: &[&str] = &[
    "not the password",
    "a fresh e2e passphrase",
    "acme-demo-admin-2026",
    "body-boom-demo-2026",
    "john-teague-demo-2026",
];

pub(crate) fn run() -> anyhow::Result<()> {
    // Every level of our own code, as JSON lines, so the log can be checked after.
    let server = Server::start(
        "e2e",
        &[
            ("LATCHKEY__LOG__FORMAT", "json"),
            (
                "LATCHKEY__LOG__FILTER",
                "debug,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,hyper=warn,h2=warn,lettre=warn,rustls=warn",
            ),
        ],
    )?;
    let public_port = server.public_port;

    let flows = workspace_root().join("xtask").join("e2e");
    if !flows.join("node_modules").join("playwright-core").exists() {
        run_in(&flows, "npm", &["ci", "--no-audit", "--no-fund"])?;
    }
    let status = Command::new("node")
        .args(["--test", "flows.test.mjs"])
        .current_dir(&flows)
        .env(
            "LATCHKEY_E2E_ORIGIN",
            format!("http://acme.localhost:{public_port}"),
        )
        .env(
            "LATCHKEY_E2E_PLATFORM",
            format!("http://localhost:{public_port}"),
        )
        .status()
        .context("cannot run node; install Node.js 20 or newer")?;
    let log = server.log()?;
    drop(server);
    if !status.success() {
        bail!("the end-to-end flows failed");
    }
    let lines = log.lines().filter(|line| line.starts_with('{')).count();
    let leaks = crate::log_scan::leaks(&log, PASSWORDS);
    for leak in &leaks {
        let text = log.lines().nth(leak.line - 1).unwrap_or_default();
        println!("xtask: log line {} holds {}: {text}", leak.line, leak.what);
    }
    if !leaks.is_empty() {
        bail!(
            "{} log line(s) of the browser run hold a secret or an address",
            leaks.len()
        );
    }
    println!(
        "xtask: end-to-end flows passed; {lines} log lines hold no token, password or address"
    );
    Ok(())
}

fn run_in(folder: &Path, program: &str, args: &[&str]) -> anyhow::Result<()> {
    let status = Command::new(program)
        .args(args)
        .current_dir(folder)
        .status()
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        bail!("{program} {} failed", args.join(" "));
    }
    Ok(())
}
