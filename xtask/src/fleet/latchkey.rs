//! The `latchkey` binary as a task runs it: one environment for every command, the
//! `seed` command, and `serve` and `worker` processes, each logging to a file of its
//! own and stopped when dropped.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::http::HttpClient;

/// The first start migrates a new database and hashes the demo passwords.
const START_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How to run `latchkey`: the binary, the folder its logs go to, and the settings
/// every command of the task shares.
#[derive(Debug, Clone)]
pub(crate) struct Latchkey {
    binary: PathBuf,
    logs: PathBuf,
    environment: Vec<(String, OsString)>,
}

impl Latchkey {
    /// Nothing of the caller's own `LATCHKEY_*` settings or `RUST_LOG` reaches the
    /// processes: only what is set here.
    pub(crate) fn new(binary: &Path, logs: &Path) -> Self {
        Self {
            binary: binary.to_owned(),
            logs: logs.to_owned(),
            environment: Vec::new(),
        }
    }

    /// Sets `name` for every command, replacing an earlier value.
    pub(crate) fn env(mut self, name: &str, value: impl Into<OsString>) -> Self {
        self.environment.retain(|(earlier, _)| earlier != name);
        self.environment.push((name.to_owned(), value.into()));
        self
    }

    pub(crate) fn log_path(&self, name: &str) -> PathBuf {
        self.logs.join(format!("{name}.log"))
    }

    fn command(&self, subcommand: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command.args(subcommand);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("LATCHKEY_") {
                command.env_remove(name);
            }
        }
        command.env_remove("RUST_LOG");
        command.envs(self.environment.iter().map(|(name, value)| (name, value)));
        command
    }

    fn open_log(&self, name: &str) -> anyhow::Result<File> {
        let path = self.log_path(name);
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))
    }

    /// `latchkey migrate`: what a deployment runs once before its instances start.
    pub(crate) fn migrate(&self, name: &str) -> anyhow::Result<()> {
        let status = self
            .command(&["migrate"])
            .stdout(self.open_log(name)?)
            .stderr(self.open_log(name)?)
            .status()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        if !status.success() {
            bail!(
                "latchkey migrate exited with {status}\n{}",
                log_tail(&self.log_path(name))
            );
        }
        Ok(())
    }

    /// `latchkey seed`, each line of its progress handed to `progress`; returns how
    /// long it took. Its errors go to the log `name`.
    pub(crate) fn seed(
        &self,
        name: &str,
        firms: usize,
        contacts_per_firm: usize,
        mut progress: impl FnMut(&str),
    ) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut child = self
            .command(&[
                "seed",
                "--firms",
                &firms.to_string(),
                "--contacts-per-firm",
                &contacts_per_firm.to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(self.open_log(name)?)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("the seed command's output")?;
        for line in BufReader::new(stdout).lines() {
            progress(&line?);
        }
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "latchkey seed exited with {status}\n{}",
                log_tail(&self.log_path(name))
            );
        }
        Ok(started.elapsed())
    }

    /// `latchkey serve`, once `/readyz` answers 200. Bind it to port 0 (or a free
    /// port) through the environment; the ports it got are read from its banner.
    pub(crate) fn serve(&self, name: &str) -> anyhow::Result<Serving> {
        let (child, banner) = self.spawn(name, "serve", " is listening on http://")?;
        let (public, admin) = listening_addresses(&banner)?;
        let serving = Serving {
            process: child,
            name: name.to_owned(),
            public,
            admin,
        };
        serving.wait_until_ready(START_TIMEOUT)?;
        Ok(serving)
    }

    /// `latchkey worker`, once it says it is delivering.
    pub(crate) fn work(&self, name: &str) -> anyhow::Result<Working> {
        let (process, banner) = self.spawn(name, "worker", " is delivering email")?;
        let admin = address_after(&banner, "(admin http://")?;
        Ok(Working { process, admin })
    }

    /// Starts `subcommand` and waits for the line of its output holding `ready`.
    fn spawn(&self, name: &str, subcommand: &str, ready: &str) -> anyhow::Result<(Child, String)> {
        let log = self.open_log(name)?;
        let mut child = self
            .command(&[subcommand])
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("the process's output")?;
        let (announce, announced) = mpsc::channel();
        let ready = ready.to_owned();
        // Copies stdout to the log for the process's whole life, so its pipe never
        // fills up, and hands over the line that says it is ready.
        std::thread::spawn(move || {
            let mut log = log;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if line.contains(&ready) {
                    let _ = announce.send(line);
                }
            }
        });
        let mut guard = Starting(Some(child));
        let line = announced.recv_timeout(START_TIMEOUT).map_err(|_| {
            anyhow::anyhow!(
                "latchkey {subcommand} ({name}) was not ready within {} s\n{}",
                START_TIMEOUT.as_secs(),
                log_tail(&self.log_path(name))
            )
        })?;
        Ok((guard.0.take().expect("the child is still held"), line))
    }
}

/// A running `latchkey serve`, stopped when dropped, however the task ends.
#[derive(Debug)]
pub(crate) struct Serving {
    process: Child,
    pub(crate) name: String,
    pub(crate) public: SocketAddr,
    pub(crate) admin: SocketAddr,
}

impl Serving {
    /// Waits until `/readyz` answers 200; returns how long that took.
    pub(crate) fn wait_until_ready(&self, timeout: Duration) -> anyhow::Result<Duration> {
        let started = Instant::now();
        let mut admin = HttpClient::new(self.admin, "localhost");
        while started.elapsed() < timeout {
            if admin
                .get("/readyz")
                .is_ok_and(|answer| answer.status == 200)
            {
                return Ok(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!(
            "latchkey serve ({}) was not ready within {} s",
            self.name,
            timeout.as_secs()
        )
    }

    pub(crate) fn pid(&self) -> u32 {
        self.process.id()
    }

    /// `true` while the process runs.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }

    /// Resident memory now, from `/proc/PID/status`.
    pub(crate) fn rss_mib(&self) -> anyhow::Result<f64> {
        let path = format!("/proc/{}/status", self.pid());
        let status =
            std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
        let kib: f64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|number| number.parse().ok())
            .with_context(|| format!("{path} has no VmRSS line"))?;
        Ok(kib / 1024.0)
    }

    /// SIGTERM, then SIGKILL after the grace period: the graceful path runs.
    pub(crate) fn stop(mut self) {
        terminate(&mut self.process);
    }

    /// SIGKILL: no graceful path, as when a machine dies.
    pub(crate) fn kill(mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        terminate(&mut self.process);
    }
}

/// A running `latchkey worker`, stopped when dropped.
#[derive(Debug)]
pub(crate) struct Working {
    process: Child,
    pub(crate) admin: SocketAddr,
}

impl Working {
    /// `true` while the process runs.
    pub(crate) fn is_running(&mut self) -> bool {
        matches!(self.process.try_wait(), Ok(None))
    }
}

impl Drop for Working {
    fn drop(&mut self) {
        terminate(&mut self.process);
    }
}

/// Holds the child until it is ready, so a failed start still stops it.
struct Starting(Option<Child>);

impl Drop for Starting {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            terminate(child);
        }
    }
}

fn terminate(child: &mut Child) {
    stop_process(child, "TERM", STOP_GRACE);
}

/// Sends `signal` (`TERM`, or `QUIT` for nginx: their graceful stops), waits up to
/// `grace` for the process to exit, then kills it.
pub(crate) fn stop_process(child: &mut Child, signal: &str, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Reads `… is listening on http://127.0.0.1:PORT (admin http://127.0.0.1:PORT)`.
fn listening_addresses(line: &str) -> anyhow::Result<(SocketAddr, SocketAddr)> {
    Ok((
        address_after(line, "listening on http://")?,
        address_after(line, "(admin http://")?,
    ))
}

/// The address written after `marker` in `line`.
fn address_after(line: &str, marker: &str) -> anyhow::Result<SocketAddr> {
    let start = line
        .find(marker)
        .with_context(|| format!("no `{marker}` in {line:?}"))?
        + marker.len();
    let text: String = line[start..]
        .chars()
        .take_while(|character| !character.is_whitespace() && *character != ')')
        .collect();
    text.parse()
        .with_context(|| format!("`{text}` is not an address, in {line:?}"))
}

/// The end of a log, for an error message.
pub(crate) fn log_tail(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return format!("(no log at {})", path.display());
    };
    let lines: Vec<&str> = text.lines().collect();
    let tail = lines[lines.len().saturating_sub(20)..].join("\n");
    format!("last lines of {}:\n{tail}", path.display())
}

#[cfg(test)]
mod tests {
    use super::listening_addresses;

    #[test]
    fn reads_the_announced_ports() {
        let line = "Latchkey (development) is listening on http://127.0.0.1:41234 (admin http://127.0.0.1:41235)";
        let (public, admin) = listening_addresses(line).unwrap();
        assert_eq!(public.port(), 41234);
        assert_eq!(admin.port(), 41235);
    }
}
