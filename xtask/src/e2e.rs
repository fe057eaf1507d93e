//! `cargo xtask e2e`: starts `latchkey serve` with the development data on free ports
//! and a throw-away database, then runs the browser flows in `xtask/e2e/`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Stops the server however the flows end.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first, so the graceful shutdown path runs too.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
    }
}

pub(crate) fn run() -> anyhow::Result<()> {
    let root = workspace_root();
    crate::cargo(&["build", "--package", "gateway", "--bin", "latchkey"], &[])?;
    let binary = target_dir(&root).join("debug").join("latchkey");
    let scratch = std::env::temp_dir().join(format!("latchkey-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&scratch)?;
    let public_port = free_port()?;
    let admin_port = free_port()?;

    let server = Server(
        Command::new(&binary)
            .arg("serve")
            .env("LATCHKEY_ENV", "development")
            .env(
                "LATCHKEY__DATABASE__URL",
                format!("sqlite://{}/e2e.db?mode=rwc", scratch.display()),
            )
            .env("LATCHKEY__SERVER__BIND", format!("127.0.0.1:{public_port}"))
            .env(
                "LATCHKEY__SERVER__ADMIN_BIND",
                format!("127.0.0.1:{admin_port}"),
            )
            .env("LATCHKEY__SERVER__PUBLIC_PORT", public_port.to_string())
            .env("LATCHKEY__MAIL__DIR", scratch.join("mail"))
            .env("LATCHKEY__LOG__FILTER", "warn")
            .stdout(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?,
    );
    wait_until_ready(admin_port)?;

    let flows = root.join("xtask").join("e2e");
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
    let _ = std::fs::remove_dir_all(&scratch);
    if !status.success() {
        bail!("the end-to-end flows failed");
    }
    println!("xtask: end-to-end flows passed");
    Ok(())
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_owned()
}

fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), PathBuf::from)
}

/// A port nobody listens on right now.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_until_ready(admin_port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", admin_port)) {
            let _ = stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n");
            let mut answer = String::new();
            let _ = stream.read_to_string(&mut answer);
            if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                return Ok(());
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!("latchkey did not become ready within 30 s")
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
