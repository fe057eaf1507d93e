//! `cargo xtask api-contract [ST-RUN-OPTIONS…]`: the operator API against its own
//! OpenAPI document. Starts `latchkey serve` on free ports with a throw-away database,
//! runs schemathesis with every check against `/api/v1/openapi.json`, and fails on
//! any failure. Options after the task's name go to `st run` (`--seed 1` replays a
//! run).

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

use crate::python::virtualenv;
use crate::server::{Server, target_dir};

/// The schemathesis this task was written against: its checks grow between
/// releases, and a new one should fail a change of ours, not an unrelated CI run.
const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// Generated cases per operation: about half a minute on two cores, and enough for
/// the stateful phase to create, change and delete firms.
const MAX_EXAMPLES: &str = "50";

/// Set for this run only; the server and schemathesis are both ours and on loopback.
const OPERATOR_TOKEN: &str = "api-contract-operator-token-0123456789abcdef";

pub(crate) fn run(arguments: &[String]) -> anyhow::Result<()> {
    let st = schemathesis()?;
    let server = Server::start(
        "api-contract",
        &[("LATCHKEY__SECURITY__OPERATOR_TOKEN", OPERATOR_TOKEN)],
    )?;
    let spec = format!("http://127.0.0.1:{}/api/v1/openapi.json", server.admin_port);
    println!(
        "xtask: api-contract: st run {spec} --checks all --max-examples {MAX_EXAMPLES} {}",
        arguments.join(" ")
    );
    let work = target_dir().join("api-contract");
    let status = Command::new(&st)
        // schemathesis keeps the failures it found in `.schemathesis/` of the current
        // folder, to try them first next time: there, not in the clone.
        .current_dir(&work)
        .args(["run", &spec, "--checks", "all"])
        .args(["--max-examples", MAX_EXAMPLES])
        .args([
            "--header",
            &format!("Authorization: Bearer {OPERATOR_TOKEN}"),
        ])
        .args(["--no-color", "--report", "junit"])
        .arg("--report-dir")
        .arg(work.join("report"))
        .args(arguments)
        .status()
        .with_context(|| format!("cannot run {}", st.display()))?;
    drop(server);
    if !status.success() {
        bail!("the operator API does not keep its contract (schemathesis: {status})");
    }
    println!("xtask: api-contract passed");
    Ok(())
}

/// `st` of the pinned schemathesis.
fn schemathesis() -> anyhow::Result<PathBuf> {
    let venv = virtualenv(
        &target_dir().join("api-contract").join("venv"),
        &format!("schemathesis=={SCHEMATHESIS_VERSION}"),
    )?;
    Ok(venv.join("bin").join("st"))
}
