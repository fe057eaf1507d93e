//! `cargo xtask e2e`: every flow in headless Chromium against the real `latchkey`
//! binary, which delivers its email over SMTP to maildev; the flows read each email
//! from maildev's HTTP API. The whole suite runs on SQLite, then again on a fresh
//! PostgreSQL database when `LATCHKEY_TEST_DATABASE_URL` is set. The SQLite run
//! writes the pictures in `docs/screenshots/`.

mod database;
mod maildev;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use self::database::FreshDatabase;
use self::maildev::Maildev;
use crate::server::{Server, workspace_root};

/// The passwords the flows and the demo data use: none may reach a log line. The
/// flows add the ones they make up or receive by email in the secrets file.
const PASSWORDS: &[&str] = &[
    "acme-demo-admin-2026",
    "body-boom-demo-2026",
    "john-teague-demo-2026",
];

/// The development configuration's operator token: public, like the demo data.
const OPERATOR_TOKEN: &str = "insecure-development-operator-token";

/// Scenario files run side by side, each with its own browser; more than this
/// starves the server's password hashing on a small machine.
const FILES_AT_ONCE: usize = 3;

enum Store {
    Sqlite,
    Postgres(FreshDatabase),
}

impl Store {
    fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

pub(crate) fn run() -> anyhow::Result<()> {
    let flows = workspace_root().join("xtask").join("e2e");
    install_packages(&flows)?;
    let mut timings = Vec::new();
    timings.push(("SQLite", run_on(&flows, &Store::Sqlite)?));
    if let Some(server) = std::env::var("LATCHKEY_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
    {
        let store = Store::Postgres(FreshDatabase::create(&server)?);
        timings.push(("PostgreSQL", run_on(&flows, &store)?));
    }
    for (store, took) in timings {
        println!(
            "xtask: e2e on {store}: passed in {:.0} s",
            took.as_secs_f64()
        );
    }
    Ok(())
}

/// One whole run of the suite on `store`: maildev, the server, every scenario file,
/// then the log scan. Returns how long it took.
fn run_on(flows: &Path, store: &Store) -> anyhow::Result<Duration> {
    let started = Instant::now();
    println!("xtask: e2e on {}", store.name());
    let scratch = tempfile::Builder::new()
        .prefix("latchkey-e2e-")
        .tempdir()
        .context("cannot create a scratch folder")?;
    let maildev = Maildev::start(flows, scratch.path())?;
    let database_url = match store {
        Store::Sqlite => format!(
            "sqlite://{}?mode=rwc",
            scratch.path().join("latchkey.db").display()
        ),
        Store::Postgres(database) => database.url.clone(),
    };
    let smtp_url = maildev.smtp_url();
    // Every level of our own code, as JSON lines, so the log can be checked after.
    let server = Server::start(
        "e2e",
        &[
            ("LATCHKEY__DATABASE__URL", database_url.as_str()),
            ("LATCHKEY__MAIL__TRANSPORT", "smtp"),
            ("LATCHKEY__MAIL__SMTP_URL", smtp_url.as_str()),
            // A failed send is retried within the flows' patience, not 30 s later.
            ("LATCHKEY__MAIL__RETRY_BASE_SECONDS", "1"),
            ("LATCHKEY__LOG__FORMAT", "json"),
            (
                "LATCHKEY__LOG__FILTER",
                "debug,sqlx=warn,sea_orm=warn,sea_orm_migration=warn,hyper=warn,h2=warn,lettre=warn,rustls=warn",
            ),
        ],
    )?;
    let port = server.public_port;
    let secrets = scratch.path().join("secrets.txt");
    std::fs::write(&secrets, "")?;
    let mut node = Command::new("node");
    node.arg("--test")
        .arg(format!("--test-concurrency={FILES_AT_ONCE}"))
        .args(scenario_files(flows)?)
        .current_dir(flows)
        .env("LATCHKEY_E2E_PORT", port.to_string())
        .env(
            "LATCHKEY_E2E_ORIGIN",
            format!("http://acme.localhost:{port}"),
        )
        .env("LATCHKEY_E2E_PLATFORM", format!("http://localhost:{port}"))
        .env(
            "LATCHKEY_E2E_ADMIN",
            format!("http://127.0.0.1:{}", server.admin_port),
        )
        .env("LATCHKEY_E2E_OPERATOR_TOKEN", OPERATOR_TOKEN)
        .env("LATCHKEY_E2E_MAILDEV", maildev.api_origin())
        .env("LATCHKEY_E2E_DATABASE", &database_url)
        .env("LATCHKEY_E2E_SECRETS", &secrets)
        .env_remove("LATCHKEY_E2E_SCREENSHOTS");
    // One run writes the pictures, so the committed files do not flap between runs.
    if matches!(store, Store::Sqlite) {
        let pictures = workspace_root().join("docs").join("screenshots");
        clear_pictures(&pictures)?;
        node.env("LATCHKEY_E2E_SCREENSHOTS", &pictures);
    }
    let status = node
        .status()
        .context("cannot run node; install Node.js 20 or newer")?;
    let log = server.log()?;
    drop(server);
    drop(maildev);
    if !status.success() {
        bail!("the end-to-end flows failed on {}", store.name());
    }
    scan_log(&log, &std::fs::read_to_string(&secrets)?, store)?;
    Ok(started.elapsed())
}

/// The flows' secrets file holds one password a line: those they typed and those
/// they received by email.
fn scan_log(log: &str, secrets: &str, store: &Store) -> anyhow::Result<()> {
    let mut passwords: Vec<&str> = PASSWORDS.to_vec();
    passwords.extend(secrets.lines().filter(|line| !line.is_empty()));
    let lines = log.lines().filter(|line| line.starts_with('{')).count();
    let leaks = crate::log_scan::leaks(log, &passwords);
    for leak in &leaks {
        let text = log.lines().nth(leak.line - 1).unwrap_or_default();
        println!("xtask: log line {} holds {}: {text}", leak.line, leak.what);
    }
    if !leaks.is_empty() {
        bail!(
            "{} log line(s) of the browser run on {} hold a secret or an address",
            leaks.len(),
            store.name()
        );
    }
    println!(
        "xtask: end-to-end flows passed on {}; {lines} log lines hold no token, password or address",
        store.name()
    );
    Ok(())
}

/// `*.test.mjs` in `flows`, in a stable order.
fn scenario_files(flows: &Path) -> anyhow::Result<Vec<String>> {
    let mut files: Vec<String> = std::fs::read_dir(flows)?
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .collect();
    files.sort();
    if files.is_empty() {
        bail!("no *.test.mjs in {}", flows.display());
    }
    Ok(files)
}

/// Removes the pictures of an earlier run, so a renamed or dropped step leaves none
/// behind.
fn clear_pictures(folder: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(folder)?;
    for entry in std::fs::read_dir(folder)? {
        let path = entry?.path();
        if path.extension().is_some_and(|extension| extension == "png") {
            std::fs::remove_file(&path)?;
        }
    }
    Ok(())
}

/// The flows' packages: `npm ci` into the target folder unless every pinned package
/// is there at its pinned version, and `xtask/e2e/node_modules` a link to them. The
/// target folder outlives a CI clone, so a run installs nothing that has not changed.
fn install_packages(flows: &Path) -> anyhow::Result<()> {
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(flows.join("package.json"))?)?;
    let pinned = manifest["dependencies"]
        .as_object()
        .context("xtask/e2e/package.json has no dependencies")?;
    let packages = crate::server::target_dir().join("e2e-packages");
    let modules = packages.join("node_modules");
    let installed = pinned.iter().all(|(name, version)| {
        installed_version(&modules.join(name)).as_deref() == version.as_str()
    });
    if !installed {
        std::fs::create_dir_all(&packages)?;
        for file in ["package.json", "package-lock.json"] {
            std::fs::copy(flows.join(file), packages.join(file))
                .with_context(|| format!("cannot copy xtask/e2e/{file}"))?;
        }
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(&packages)
            .status()
            .context("cannot run npm; install Debian's npm")?;
        if !status.success() {
            bail!("npm ci in {} failed", packages.display());
        }
    }
    link_packages(&flows.join("node_modules"), &modules)
}

/// Points `link` at `modules`, replacing whatever stood there (an older install).
fn link_packages(link: &Path, modules: &Path) -> anyhow::Result<()> {
    if std::fs::read_link(link).is_ok_and(|target| target == modules) {
        return Ok(());
    }
    match std::fs::symlink_metadata(link) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(link)?,
        Ok(_) => std::fs::remove_file(link)?,
        Err(_) => {}
    }
    std::os::unix::fs::symlink(modules, link)
        .with_context(|| format!("cannot link {} to {}", link.display(), modules.display()))
}

fn installed_version(package: &Path) -> Option<String> {
    let text = std::fs::read_to_string(package.join("package.json")).ok()?;
    let manifest: serde_json::Value = serde_json::from_str(&text).ok()?;
    manifest["version"].as_str().map(str::to_owned)
}
