//! The `latchkey` process under test: a throw-away database for it, starting and
//! stopping it with the benchmark's settings, and reading its memory and queues.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::http::HttpClient;

/// The first start migrates a new database and hashes the demo passwords.
const START_TIMEOUT: Duration = Duration::from_secs(120);
const STOP_GRACE: Duration = Duration::from_secs(10);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(120);
/// Without the queue gauge there is nothing to watch, so the background work gets
/// this long to catch up.
const DRAIN_FALLBACK_WAIT: Duration = Duration::from_secs(3);
const QUEUE_GAUGE: &str = "latchkey_queue_pending{";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DatabaseKind {
    Sqlite,
    Postgres,
}

impl DatabaseKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres => "PostgreSQL",
        }
    }
}

/// A database nobody else uses, removed again when this is dropped.
#[derive(Debug)]
pub(crate) struct ScratchDatabase {
    pub(crate) kind: DatabaseKind,
    pub(crate) url: String,
    schema: Option<PostgresSchema>,
}

impl ScratchDatabase {
    /// A new SQLite file in `folder`, which the caller removes.
    pub(crate) fn sqlite(folder: &Path) -> Self {
        Self {
            kind: DatabaseKind::Sqlite,
            url: format!("sqlite://{}/latchkey.db?mode=rwc", folder.display()),
            schema: None,
        }
    }

    /// A new schema in the database at `server_url`, first on the server's search
    /// path, so the migrations create every table in it.
    pub(crate) fn postgres(server_url: &str) -> anyhow::Result<Self> {
        let seconds = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs();
        let name = format!("bench_{seconds}_{}", std::process::id());
        psql(server_url, &format!("CREATE SCHEMA {name}"))?;
        let schema = PostgresSchema {
            server_url: server_url.to_owned(),
            name,
        };
        let separator = if server_url.contains('?') { '&' } else { '?' };
        Ok(Self {
            kind: DatabaseKind::Postgres,
            url: format!(
                "{server_url}{separator}options=-c%20search_path%3D{}",
                schema.name
            ),
            schema: Some(schema),
        })
    }
}

impl ScratchDatabase {
    /// What autovacuum does soon after a table grows: on PostgreSQL, `ANALYZE` of the
    /// scratch schema's tables. SQLite plans without statistics until asked.
    pub(crate) fn refresh_statistics(&self) -> anyhow::Result<()> {
        let Some(schema) = &self.schema else {
            return Ok(());
        };
        let statement = format!(
            "DO $$ DECLARE t text; BEGIN \
             FOR t IN SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = '{}' \
             LOOP EXECUTE 'ANALYZE {}.' || t; END LOOP; END $$",
            schema.name, schema.name
        );
        psql(&schema.server_url, &statement)
    }
}

#[derive(Debug)]
struct PostgresSchema {
    server_url: String,
    name: String,
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let statement = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name);
        if let Err(error) = psql(&self.server_url, &statement) {
            eprintln!("xtask: bench: cannot drop schema {}: {error:#}", self.name);
        }
    }
}

fn psql(url: &str, statement: &str) -> anyhow::Result<()> {
    let output = Command::new("psql")
        .args([url, "-v", "ON_ERROR_STOP=1", "-q", "-c", statement])
        .output()
        .context("cannot run psql; install postgresql-client")?;
    if !output.status.success() {
        bail!(
            "psql -c '{statement}' failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(())
}

/// What every `latchkey` command of one benchmark run shares.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    pub(crate) binary: PathBuf,
    pub(crate) database_url: String,
    /// Holds the mail folder and the server's log.
    pub(crate) scratch: PathBuf,
}

impl ServerSettings {
    pub(crate) fn mail_dir(&self) -> PathBuf {
        self.scratch.join("mail")
    }

    pub(crate) fn log_path(&self) -> PathBuf {
        self.scratch.join("server.log")
    }

    /// `latchkey COMMAND` with the development configuration and the benchmark's
    /// overrides, and nothing of the caller's own `LATCHKEY_*` settings.
    fn command(&self, subcommand: &[&str]) -> Command {
        let mut command = Command::new(&self.binary);
        command.args(subcommand);
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("LATCHKEY_") {
                command.env_remove(name);
            }
        }
        // Every request comes from 127.0.0.1, so the per-address limits would
        // measure the 429 page instead of the real one.
        let unlimited = "1000000000";
        command
            .env_remove("RUST_LOG")
            .env("LATCHKEY__DATABASE__URL", &self.database_url)
            .env("LATCHKEY__SERVER__BIND", "127.0.0.1:0")
            .env("LATCHKEY__SERVER__ADMIN_BIND", "127.0.0.1:0")
            .env("LATCHKEY__MAIL__TRANSPORT", "file")
            .env("LATCHKEY__MAIL__DIR", self.mail_dir())
            .env("LATCHKEY__BENCH__CEILING_ROUTE", "true")
            .env("LATCHKEY__LIMITS__FORGOT_PER_ADDRESS", unlimited)
            .env("LATCHKEY__LIMITS__SIGN_IN_PER_ADDRESS", unlimited)
            .env("LATCHKEY__LIMITS__SIGN_IN_PER_EMAIL", unlimited);
        command
    }

    fn open_log(&self) -> anyhow::Result<File> {
        let path = self.log_path();
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("cannot open {}", path.display()))
    }

    /// `latchkey seed`, echoing its progress; returns how long it took.
    pub(crate) fn seed(&self, firms: usize, contacts_per_firm: usize) -> anyhow::Result<Duration> {
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
            .stderr(self.open_log()?)
            .spawn()
            .with_context(|| format!("cannot start {}", self.binary.display()))?;
        let stdout = child.stdout.take().context("the seed command's output")?;
        for line in BufReader::new(stdout).lines() {
            println!("xtask: bench: seed: {}", line?);
        }
        let status = child.wait()?;
        if !status.success() {
            bail!(
                "latchkey seed exited with {status}\n{}",
                log_tail(&self.log_path())
            );
        }
        Ok(started.elapsed())
    }
}

/// A running `latchkey serve`, stopped when dropped, however the benchmark ends.
#[derive(Debug)]
pub(crate) struct RunningServer {
    child: Child,
    pub(crate) public: SocketAddr,
    pub(crate) admin: SocketAddr,
}

impl RunningServer {
    pub(crate) fn start(settings: &ServerSettings) -> anyhow::Result<Self> {
        let log = settings.open_log()?;
        let mut child = settings
            .command(&["serve"])
            .stdout(Stdio::piped())
            .stderr(log.try_clone()?)
            .spawn()
            .with_context(|| format!("cannot start {}", settings.binary.display()))?;
        let stdout = child.stdout.take().context("the server's output")?;
        let (listening, announced) = mpsc::channel();
        // Copies stdout to the log for the server's whole life, so its pipe never
        // fills up, and hands over the line with the bound ports.
        std::thread::spawn(move || {
            let mut log = log;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = writeln!(log, "{line}");
                if line.contains(" is listening on http://") {
                    let _ = listening.send(line);
                }
            }
        });
        let mut guard = StartingServer(Some(child));
        let line = announced.recv_timeout(START_TIMEOUT).map_err(|_| {
            anyhow::anyhow!(
                "latchkey serve did not announce its ports within {} s\n{}",
                START_TIMEOUT.as_secs(),
                log_tail(&settings.log_path())
            )
        })?;
        let (public, admin) = listening_addresses(&line)?;
        let server = Self {
            child: guard.0.take().expect("the child is still held"),
            public,
            admin,
        };
        server.wait_until_ready()?;
        Ok(server)
    }

    fn wait_until_ready(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        let mut admin = HttpClient::new(self.admin, "localhost");
        while Instant::now() < deadline {
            if admin
                .get("/readyz")
                .is_ok_and(|answer| answer.status == 200)
            {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        bail!("latchkey serve did not become ready")
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
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

    /// Waits until the background queues are empty, so that one scenario's leftovers
    /// do not slow the next.
    pub(crate) fn drain_queues(&self) -> anyhow::Result<Drain> {
        let started = Instant::now();
        let mut admin = HttpClient::new(self.admin, "localhost");
        loop {
            let metrics = admin.get("/metrics")?;
            let Some(pending) = pending_jobs(&metrics.body) else {
                std::thread::sleep(DRAIN_FALLBACK_WAIT);
                return Ok(Drain::GaugeMissing);
            };
            if pending == 0 {
                return Ok(Drain::Empty(started.elapsed()));
            }
            if started.elapsed() > DRAIN_TIMEOUT {
                return Ok(Drain::TimedOut { pending });
            }
            std::thread::sleep(Duration::from_millis(250));
        }
    }

    /// Stops the server now rather than when it goes out of scope.
    pub(crate) fn stop(mut self) {
        terminate(&mut self.child);
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// Holds the child until its ports are known, so a failed start still stops it.
struct StartingServer(Option<Child>);

impl Drop for StartingServer {
    fn drop(&mut self) {
        if let Some(child) = &mut self.0 {
            terminate(child);
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Drain {
    Empty(Duration),
    GaugeMissing,
    TimedOut { pending: u64 },
}

fn terminate(child: &mut Child) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    // SIGTERM first, so the graceful shutdown path runs too.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + STOP_GRACE;
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
    let address_after = |marker: &str| -> anyhow::Result<SocketAddr> {
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
    };
    Ok((
        address_after("listening on http://")?,
        address_after("(admin http://")?,
    ))
}

/// The sum of every `latchkey_queue_pending{queue="…"} N`, or `None` if the server
/// does not export the gauge.
fn pending_jobs(metrics: &str) -> Option<u64> {
    let mut seen = false;
    let mut pending = 0.0;
    for line in metrics.lines().filter(|line| line.starts_with(QUEUE_GAUGE)) {
        seen = true;
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|value| value.parse().ok())
            .unwrap_or(f64::INFINITY);
        pending += value;
    }
    // Gauges are floats in the text format; a queue holds whole jobs, and `as`
    // saturates an unreadable (infinite) value.
    seen.then_some(pending as u64)
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
    use super::{listening_addresses, pending_jobs};

    #[test]
    fn reads_the_announced_ports() {
        let line = "Latchkey (development) is listening on http://127.0.0.1:41234 (admin http://127.0.0.1:41235)";
        let (public, admin) = listening_addresses(line).unwrap();
        assert_eq!(public.port(), 41234);
        assert_eq!(admin.port(), 41235);
    }

    #[test]
    fn adds_up_the_queues() {
        let metrics = "# TYPE latchkey_queue_pending gauge\nlatchkey_queue_pending{queue=\"outbox\"} 3\nlatchkey_queue_pending{queue=\"reset_requests\"} 0\nlatchkey_http_requests_total 9\n";
        assert_eq!(pending_jobs(metrics), Some(3));
        assert_eq!(pending_jobs("latchkey_http_requests_total 9\n"), None);
    }
}
