//! The `latchkey` process under test: a throw-away database for it, starting it
//! with the benchmark's settings, and waiting for its queues.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::fleet::{Latchkey, Serving, psql};
use crate::http::HttpClient;

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
        psql(&schema.server_url, &statement).map(drop)
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

/// What every `latchkey` command of one benchmark run shares.
#[derive(Debug, Clone)]
pub(crate) struct ServerSettings {
    pub(crate) binary: PathBuf,
    pub(crate) database_url: String,
    /// Holds the mail folder and the server's log.
    pub(crate) scratch: PathBuf,
}

/// The log every command of a benchmark run appends to.
const LOG: &str = "server";

impl ServerSettings {
    pub(crate) fn mail_dir(&self) -> PathBuf {
        self.scratch.join("mail")
    }

    /// `latchkey` with the development configuration and the benchmark's overrides.
    fn latchkey(&self) -> Latchkey {
        // Every request comes from 127.0.0.1, so the per-address limits would
        // measure the 429 page instead of the real one.
        let unlimited = "1000000000";
        Latchkey::new(&self.binary, &self.scratch)
            .env("LATCHKEY__DATABASE__URL", &self.database_url)
            .env("LATCHKEY__SERVER__BIND", "127.0.0.1:0")
            .env("LATCHKEY__SERVER__ADMIN_BIND", "127.0.0.1:0")
            .env("LATCHKEY__MAIL__TRANSPORT", "file")
            .env("LATCHKEY__MAIL__DIR", self.mail_dir())
            .env("LATCHKEY__BENCH__CEILING_ROUTE", "true")
            .env("LATCHKEY__LIMITS__FORGOT_PER_ADDRESS", unlimited)
            .env("LATCHKEY__LIMITS__SIGN_IN_PER_ADDRESS", unlimited)
            .env("LATCHKEY__LIMITS__SIGN_IN_PER_EMAIL", unlimited)
    }

    /// `latchkey seed`, echoing its progress; returns how long it took.
    pub(crate) fn seed(&self, firms: usize, contacts_per_firm: usize) -> anyhow::Result<Duration> {
        self.latchkey().seed(LOG, firms, contacts_per_firm, |line| {
            println!("xtask: bench: seed: {line}");
        })
    }

    /// `latchkey serve`, ready.
    pub(crate) fn start(&self) -> anyhow::Result<Serving> {
        self.latchkey().serve(LOG)
    }
}

/// Waits until the background queues of `server` are empty, so that one scenario's
/// leftovers do not slow the next.
pub(crate) fn drain_queues(server: &Serving) -> anyhow::Result<Drain> {
    let started = Instant::now();
    let mut admin = HttpClient::new(server.admin, "localhost");
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

#[derive(Debug, Clone, Copy)]
pub(crate) enum Drain {
    Empty(Duration),
    GaugeMissing,
    TimedOut { pending: u64 },
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

#[cfg(test)]
mod tests {
    use super::pending_jobs;

    #[test]
    fn adds_up_the_queues() {
        let metrics = "# TYPE latchkey_queue_pending gauge\nlatchkey_queue_pending{queue=\"outbox\"} 3\nlatchkey_queue_pending{queue=\"reset_requests\"} 0\nlatchkey_http_requests_total 9\n";
        assert_eq!(pending_jobs(metrics), Some(3));
        assert_eq!(pending_jobs("latchkey_http_requests_total 9\n"), None);
    }
}
