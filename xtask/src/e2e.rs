//! `cargo xtask e2e`: starts `latchkey serve` with the development data on free ports
//! and a throw-away database, then runs the browser flows in `xtask/e2e/`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, bail};

use crate::server::{Server, workspace_root};

pub(crate) fn run() -> anyhow::Result<()> {
    let server = Server::start("e2e", &[])?;
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
    drop(server);
    if !status.success() {
        bail!("the end-to-end flows failed");
    }
    println!("xtask: end-to-end flows passed");
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
