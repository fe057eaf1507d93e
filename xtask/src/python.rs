//! Python tools from PyPI, each pinned in a virtualenv of its own under the target
//! folder, so no task depends on what the machine happens to have installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The virtualenv at `folder` holding `requirement` (`name==version`), created or
/// replaced when it is missing or holds another version. Returns `folder`.
pub(crate) fn virtualenv(folder: &Path, requirement: &str) -> anyhow::Result<PathBuf> {
    virtualenv_of(folder, &[requirement])
}

/// [`virtualenv`] for tools that share one virtualenv: every one of `requirements`.
pub(crate) fn virtualenv_of(folder: &Path, requirements: &[&str]) -> anyhow::Result<PathBuf> {
    if holds(folder, requirements) {
        return Ok(folder.to_owned());
    }
    let listed = requirements.join(" ");
    println!("xtask: installing {listed} into {}", folder.display());
    let status = Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(folder)
        .status()
        .context("cannot run python3; install Python 3 with its venv module")?;
    if !status.success() {
        bail!("python3 -m venv {} failed", folder.display());
    }
    let pip = folder.join("bin").join("pip");
    let status = Command::new(&pip)
        .args(["install", "--quiet", "--disable-pip-version-check"])
        .args(requirements)
        .status()
        .with_context(|| format!("cannot run {}", pip.display()))?;
    if !status.success() {
        bail!("pip could not install {listed}");
    }
    Ok(folder.to_owned())
}

/// Whether `pip freeze` of the virtualenv lists exactly each of `requirements`.
fn holds(folder: &Path, requirements: &[&str]) -> bool {
    let Ok(output) = Command::new(folder.join("bin").join("pip"))
        .args(["freeze", "--disable-pip-version-check"])
        .output()
    else {
        return false;
    };
    let frozen: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| line.trim().to_ascii_lowercase())
        .collect();
    output.status.success()
        && requirements
            .iter()
            .all(|requirement| frozen.contains(&requirement.to_ascii_lowercase()))
}
