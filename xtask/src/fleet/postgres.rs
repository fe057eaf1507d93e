//! A PostgreSQL cluster of the task's own (`initdb` in a scratch folder, a free
//! loopback port), which the task may stop and start as it likes without touching
//! the machine's own PostgreSQL.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{Context, bail};

use super::is_root;

/// A cluster in `data`, served on `port` while started; removed when dropped.
#[derive(Debug)]
pub(crate) struct PrivateCluster {
    binaries: PathBuf,
    data: PathBuf,
    /// Holds `data`; outside any home folder, which the postgres user cannot enter.
    _folder: tempfile::TempDir,
    pub(crate) port: u16,
    /// PostgreSQL refuses to run as root; then it runs as the `postgres` user.
    run_as_postgres: bool,
}

impl PrivateCluster {
    /// Creates a cluster in a new temporary folder (trust authentication on
    /// loopback, superuser `postgres`) and starts it.
    pub(crate) fn create() -> anyhow::Result<Self> {
        let binaries = postgres_binaries()?;
        let folder = tempfile::Builder::new()
            .prefix("latchkey-postgres-")
            .tempdir()
            .context("cannot create a folder for PostgreSQL")?;
        let data = folder.path().join("data");
        std::fs::create_dir_all(&data)?;
        let run_as_postgres = is_root();
        if run_as_postgres {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(folder.path())
                .status()
                .context("cannot run chown")?;
            if !status.success() {
                bail!("cannot give {} to the postgres user", data.display());
            }
        }
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let cluster = Self {
            binaries,
            data,
            _folder: folder,
            port,
            run_as_postgres,
        };
        cluster.run(
            "initdb",
            &[
                "--username=postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--no-instructions",
            ],
        )?;
        cluster.start()?;
        Ok(cluster)
    }

    /// Starts the server and waits until it accepts connections.
    pub(crate) fn start(&self) -> anyhow::Result<()> {
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories={}",
            self.port,
            self.data.display()
        );
        let log = self.data.join("server.log");
        self.run(
            "pg_ctl",
            &[
                "start",
                "--wait",
                "--silent",
                "-o",
                &options,
                "-l",
                &log.to_string_lossy(),
            ],
        )
        .map(drop)
    }

    /// Stops the server the way an operator or a failing machine would: `fast`
    /// ends every connection at once.
    pub(crate) fn stop(&self) -> anyhow::Result<()> {
        self.run("pg_ctl", &["stop", "--wait", "--silent", "-m", "fast"])
            .map(drop)
    }

    /// The URL of `database` on this cluster.
    pub(crate) fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    pub(crate) fn create_database(&self, name: &str) -> anyhow::Result<String> {
        self.query("postgres", &format!("CREATE DATABASE {name}"))?;
        Ok(self.url(name))
    }

    /// Runs `sql` in `database` and returns its rows, one a line, columns joined by
    /// `|`.
    pub(crate) fn query(&self, database: &str, sql: &str) -> anyhow::Result<String> {
        psql(&self.url(database), sql)
    }

    /// One number, e.g. of `SELECT count(*) …`.
    pub(crate) fn count(&self, database: &str, sql: &str) -> anyhow::Result<u64> {
        let text = self.query(database, sql)?;
        text.parse()
            .with_context(|| format!("`{sql}` gave `{text}`, not a number"))
    }

    /// `binary` of the cluster's PostgreSQL version with `arguments`, on this
    /// cluster's folder.
    fn run(&self, binary: &str, arguments: &[&str]) -> anyhow::Result<Output> {
        let program = self.binaries.join(binary);
        let mut command = if self.run_as_postgres {
            let mut command = Command::new("runuser");
            command.args(["-u", "postgres", "--"]).arg(&program);
            command
        } else {
            Command::new(&program)
        };
        let output = command
            .arg("-D")
            .arg(&self.data)
            .args(arguments)
            // The cluster's own folder, readable by the postgres user.
            .current_dir(&self.data)
            .output()
            .with_context(|| format!("cannot run {}", program.display()))?;
        if !output.status.success() {
            bail!(
                "{binary} {} failed: {}{}",
                arguments.join(" "),
                String::from_utf8_lossy(&output.stdout).trim(),
                String::from_utf8_lossy(&output.stderr).trim()
            );
        }
        Ok(output)
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = self.run("pg_ctl", &["stop", "--wait", "--silent", "-m", "immediate"]);
    }
}

/// The folder of `initdb` and `pg_ctl`: Debian keeps them out of `PATH`, one
/// folder a version; the newest is taken.
fn postgres_binaries() -> anyhow::Result<PathBuf> {
    let versions = Path::new("/usr/lib/postgresql");
    let newest = std::fs::read_dir(versions)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_string_lossy().parse().ok()?;
            let binaries = entry.path().join("bin");
            binaries
                .join("initdb")
                .exists()
                .then_some((version, binaries))
        })
        .max_by_key(|(version, _)| *version)
        .map(|(_, binaries)| binaries);
    newest.with_context(|| {
        format!(
            "no PostgreSQL server under {}; install Debian's postgresql",
            versions.display()
        )
    })
}

/// Runs `sql` on the database at `url` with psql; returns its rows, one a line,
/// columns joined by `|`.
pub(crate) fn psql(url: &str, sql: &str) -> anyhow::Result<String> {
    let output = Command::new("psql")
        .arg(url)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-A", "-t", "-c", sql])
        .output()
        .context("cannot run psql; install postgresql-client")?;
    if !output.status.success() {
        bail!(
            "psql -c '{sql}' failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
