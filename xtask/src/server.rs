//! `latchkey serve` for a task: the development configuration on free loopback ports,
//! with a throw-away database and mailbox, stopped however the task ends.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// A running server and its scratch folder.
pub(crate) struct Server {
    child: Child,
    scratch: PathBuf,
    pub(crate) public_port: u16,
    pub(crate) admin_port: u16,
}

impl Server {
    /// Builds the binary and starts it with `environment` on top of the development
    /// configuration; returns once it is ready. `name` tells scratch folders apart.
    pub(crate) fn start(name: &str, environment: &[(&str, &str)]) -> anyhow::Result<Self> {
        crate::cargo(&["build", "--package", "gateway", "--bin", "latchkey"], &[])?;
        let binary = target_dir().join("debug").join("latchkey");
        let scratch = std::env::temp_dir().join(format!("latchkey-{name}-{}", std::process::id()));
        // A port found free can be taken before the server binds it; the server then
        // exits at once, and other ports are worth a try.
        for _ in 0..3 {
            let mut server = Self::spawn(&binary, &scratch, name, environment)?;
            if server.wait_until_ready()? {
                return Ok(server);
            }
            println!("xtask: latchkey could not start; trying other ports");
        }
        bail!("latchkey did not start; its error is above")
    }

    fn spawn(
        binary: &Path,
        scratch: &Path,
        name: &str,
        environment: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        // A failed attempt's drop removed the folder.
        std::fs::create_dir_all(scratch)?;
        let (public_port, admin_port) = free_ports()?;
        let log = std::fs::File::create(scratch.join("server.log"))?;
        let child = Command::new(binary)
            .arg("serve")
            .env("LATCHKEY_ENV", "development")
            .env(
                "LATCHKEY__DATABASE__URL",
                format!("sqlite://{}/{name}.db?mode=rwc", scratch.display()),
            )
            .env("LATCHKEY__SERVER__BIND", format!("127.0.0.1:{public_port}"))
            .env(
                "LATCHKEY__SERVER__ADMIN_BIND",
                format!("127.0.0.1:{admin_port}"),
            )
            .env("LATCHKEY__SERVER__PUBLIC_PORT", public_port.to_string())
            .env("LATCHKEY__MAIL__DIR", scratch.join("mail"))
            .env("LATCHKEY__LOG__FILTER", "warn")
            .envs(environment.iter().copied())
            .stdout(Stdio::from(log.try_clone()?))
            .stderr(Stdio::from(log))
            .spawn()
            .with_context(|| format!("cannot start {}", binary.display()))?;
        Ok(Self {
            child,
            scratch: scratch.to_owned(),
            public_port,
            admin_port,
        })
    }

    /// `true` once `/readyz` answers 200, `false` if the server exited first.
    fn wait_until_ready(&mut self) -> anyhow::Result<bool> {
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait()?.is_some() {
                return Ok(false);
            }
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.admin_port)) {
                let _ = stream.write_all(b"GET /readyz HTTP/1.0\r\nHost: localhost\r\n\r\n");
                let mut answer = String::new();
                let _ = stream.read_to_string(&mut answer);
                if answer.starts_with("HTTP/1.0 200") || answer.starts_with("HTTP/1.1 200") {
                    return Ok(true);
                }
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("latchkey did not become ready within 30 s")
    }
}

impl Server {
    /// What the server has written so far: the start-up banner and every log line.
    pub(crate) fn log(&self) -> anyhow::Result<String> {
        Ok(std::fs::read_to_string(self.scratch.join("server.log"))?)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // SIGTERM first, so the graceful shutdown path runs too.
        crate::fleet::stop_process(&mut self.child, "TERM", Duration::from_secs(10));
        let _ = std::fs::remove_dir_all(&self.scratch);
    }
}

pub(crate) fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask sits in the workspace")
        .to_owned()
}

pub(crate) fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| workspace_root().join("target"), PathBuf::from)
}

/// Two different ports nobody listens on right now: both are held until both are
/// chosen, so they cannot be the same.
fn free_ports() -> anyhow::Result<(u16, u16)> {
    let public = TcpListener::bind("127.0.0.1:0")?;
    let admin = TcpListener::bind("127.0.0.1:0")?;
    Ok((public.local_addr()?.port(), admin.local_addr()?.port()))
}
