//! A development SMTP server with an HTTP API on loopback (npm `maildev`, pinned in
//! `xtask/e2e/package.json`): `latchkey serve` delivers to it over SMTP, and the
//! browser flows read every email from its API.

use std::fs::File;
use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::HttpClient;

/// A first start on a busy machine takes a few seconds (node loads its UI bundle).
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A running maildev, stopped when dropped.
#[derive(Debug)]
pub(crate) struct Maildev {
    process: Child,
    pub(crate) smtp_port: u16,
    pub(crate) web_port: u16,
}

impl Maildev {
    /// Starts maildev from `flows/node_modules` on free loopback ports, keeping its
    /// messages in `folder` (otherwise it writes them to a shared temporary folder).
    pub(crate) fn start(flows: &Path, folder: &Path) -> anyhow::Result<Self> {
        let script = flows.join("node_modules/maildev/dist/bin/maildev.js");
        std::fs::create_dir_all(folder.join("maildev"))?;
        // A port found free can be taken before maildev binds it; it then exits at
        // once, and other ports are worth a try.
        for _ in 0..3 {
            let (smtp_port, web_port) = free_ports()?;
            let log = File::create(folder.join("maildev.log"))?;
            let process = Command::new("node")
                .arg(&script)
                .args(["--ip", "127.0.0.1", "--web-ip", "127.0.0.1"])
                .args(["--smtp", &smtp_port.to_string()])
                .args(["--web", &web_port.to_string()])
                .arg("--mail-directory")
                .arg(folder.join("maildev"))
                .stdout(Stdio::from(log.try_clone()?))
                .stderr(Stdio::from(log))
                .spawn()
                .context("cannot run node; install Node.js 20 or newer")?;
            let mut maildev = Self {
                process,
                smtp_port,
                web_port,
            };
            if maildev.wait_until_ready()? {
                return Ok(maildev);
            }
            println!("xtask: maildev could not start; trying other ports");
        }
        let log = std::fs::read_to_string(folder.join("maildev.log")).unwrap_or_default();
        bail!("maildev did not start:\n{log}")
    }

    /// `mail.smtp_url`: plain SMTP, as to a relay on the same machine.
    pub(crate) fn smtp_url(&self) -> String {
        format!("smtp://127.0.0.1:{}?tls=none", self.smtp_port)
    }

    pub(crate) fn api_origin(&self) -> String {
        format!("http://127.0.0.1:{}", self.web_port)
    }

    /// `true` once its API answers, `false` if it exited first.
    fn wait_until_ready(&mut self) -> anyhow::Result<bool> {
        let deadline = Instant::now() + START_TIMEOUT;
        let address = SocketAddr::from(([127, 0, 0, 1], self.web_port));
        while Instant::now() < deadline {
            if self.process.try_wait()?.is_some() {
                return Ok(false);
            }
            let answer = HttpClient::new(address, "127.0.0.1").get("/api/healthz");
            if answer.is_ok_and(|answer| answer.status == 200) {
                return Ok(true);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!(
            "maildev did not answer within {} s",
            START_TIMEOUT.as_secs()
        )
    }
}

impl Drop for Maildev {
    fn drop(&mut self) {
        crate::fleet::stop_process(&mut self.process, "TERM", Duration::from_secs(5));
    }
}

/// Two different ports nobody listens on right now.
fn free_ports() -> anyhow::Result<(u16, u16)> {
    let smtp = TcpListener::bind("127.0.0.1:0")?;
    let web = TcpListener::bind("127.0.0.1:0")?;
    Ok((smtp.local_addr()?.port(), web.local_addr()?.port()))
}
