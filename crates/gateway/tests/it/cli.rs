//! The `latchkey` binary's operator commands, run as a person would run them.

use std::process::{Command, Output, Stdio};

use migrations::testing::{TestDatabase, empty_database};

struct Cli {
    database: TestDatabase,
}

impl Cli {
    async fn new() -> Self {
        Self {
            database: empty_database().await,
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_latchkey"))
            .args(args)
            .env("LATCHKEY_ENV", "test")
            .env("LATCHKEY__DATABASE__URL", &self.database.url)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("the latchkey binary runs")
    }

    fn succeeds(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "latchkey {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Runs a command that must fail, returning its one-line error.
    fn fails(&self, args: &[&str]) -> String {
        let output = self.run(args);
        assert!(
            !output.status.success(),
            "latchkey {args:?} should have failed"
        );
        let stderr = String::from_utf8(output.stderr).unwrap();
        let lines: Vec<&str> = stderr
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        assert_eq!(lines.len(), 1, "one line of error, got: {stderr}");
        assert!(lines[0].starts_with("latchkey: error: "), "{stderr}");
        lines[0].to_owned()
    }
}

#[tokio::test]
async fn the_tenant_lifecycle_from_the_command_line() {
    let cli = Cli::new().await;
    assert!(
        cli.fails(&["tenant", "list"])
            .contains("run `latchkey migrate`")
    );
    assert!(cli.succeeds(&["migrate"]).contains("up to date"));

    let created = cli.succeeds(&[
        "tenant",
        "create",
        "--slug",
        "acme",
        "--name",
        "ACME Corporation",
        "--admin-email",
        "admin@acme.test",
    ]);
    assert!(created.contains("acme.localhost"), "{created}");
    let listed = cli.succeeds(&["tenant", "list"]);
    assert!(
        listed.contains("acme") && listed.contains("ACME Corporation") && listed.contains("active"),
        "{listed}"
    );

    assert!(
        cli.succeeds(&["tenant", "suspend", "acme"])
            .contains("suspended")
    );
    assert!(cli.succeeds(&["tenant", "list"]).contains("suspended"));
    assert!(
        cli.succeeds(&["tenant", "resume", "acme"])
            .contains("resumed")
    );
    assert!(cli.succeeds(&["tenant", "list"]).contains("active"));

    assert!(cli.fails(&["tenant", "delete", "acme"]).contains("--yes"));
    assert!(
        cli.succeeds(&["tenant", "list"]).contains("acme"),
        "nothing deleted without confirmation"
    );
    let deleted = cli.succeeds(&["tenant", "delete", "acme", "--yes"]);
    assert!(
        deleted.contains("deleted") && deleted.contains("purged after"),
        "{deleted}"
    );
    let listed = cli.succeeds(&["tenant", "list"]);
    assert!(
        listed.contains("acme") && listed.contains("deleted"),
        "{listed}"
    );
    assert!(
        cli.fails(&["tenant", "resume", "acme"]).contains("deleted"),
        "a deleted firm stays deleted"
    );
    assert!(
        cli.succeeds(&["tenant", "purge"])
            .contains("no deleted firm"),
        "the grace period holds"
    );
}

#[tokio::test]
async fn mistakes_are_one_line_errors() {
    let cli = Cli::new().await;
    cli.succeeds(&["migrate"]);
    let create = |slug: &str| {
        [
            "tenant",
            "create",
            &format!("--slug={slug}"),
            "--name",
            "Firm",
            "--admin-email",
            "admin@firm.test",
        ]
        .map(str::to_owned)
    };
    let args = create("acme");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    cli.succeeds(&args);
    assert!(cli.fails(&args).contains("already exists"));

    for bad in ["ACME", "-acme", "www", "acme_tax"] {
        let args = create(bad);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let error = cli.fails(&args);
        assert!(error.contains("slug"), "{error}");
    }
    assert!(
        cli.fails(&["tenant", "suspend", "nope"])
            .contains("no firm has the slug `nope`")
    );
    assert!(
        cli.fails(&["tenant", "resume", "nope"])
            .contains("no firm has the slug `nope`")
    );
    assert!(
        cli.fails(&["tenant", "delete", "nope", "--yes"])
            .contains("no firm has the slug `nope`")
    );
    assert!(
        cli.fails(&["tenant", "suspend", "NOT A SLUG"])
            .contains("no firm")
    );
    let error = cli.fails(&[
        "tenant",
        "create",
        "--slug",
        "other",
        "--name",
        "Other",
        "--admin-email",
        "not-an-email",
    ]);
    assert!(error.contains("not an email address"), "{error}");
}

#[tokio::test]
async fn a_bad_config_file_is_a_one_line_error_naming_the_key() {
    let cli = Cli::new().await;
    let folder = tempfile::tempdir().unwrap();
    let path = folder.path().join("latchkey.toml");
    std::fs::write(&path, "[server]\nbnd = \"127.0.0.1:1\"\n").unwrap();
    let error = cli.fails(&["migrate", "--config", path.to_str().unwrap()]);
    assert!(error.contains("bnd"), "{error}");
}

#[tokio::test]
async fn the_outbox_from_the_command_line() {
    let cli = Cli::new().await;
    cli.succeeds(&["migrate"]);
    let listed = cli.succeeds(&["outbox", "list", "--dead"]);
    assert!(listed.starts_with("ID"), "{listed}");
    assert_eq!(listed.lines().count(), 1, "nothing dead yet");
    assert!(
        cli.fails(&["outbox", "retry", "not-an-id"])
            .contains("not a message id")
    );
    let missing = uuid::Uuid::now_v7().to_string();
    assert!(
        cli.fails(&["outbox", "retry", &missing])
            .contains("no such outbox message")
    );
}

#[tokio::test]
async fn seed_fills_firms_with_contacts_and_continues_where_it_stopped() {
    let cli = Cli::new().await;
    cli.succeeds(&["migrate"]);
    let first = cli.succeeds(&["seed", "--firms", "2", "--contacts-per-firm", "30"]);
    assert!(
        first.contains("created 2 firm(s) of 30 contacts"),
        "{first}"
    );
    let again = cli.succeeds(&["seed", "--firms", "3", "--contacts-per-firm", "30"]);
    assert!(again.contains("created 1 firm(s)"), "{again}");
    let list = cli.succeeds(&["tenant", "list"]);
    for slug in ["firm-00001", "firm-00002", "firm-00003"] {
        assert!(list.contains(slug), "{list}");
    }
    let db = &cli.database.connection;
    let slug = tenancy::TenantSlug::parse("firm-00003").unwrap();
    let firm = tenancy::find_tenant_by_slug(db, &slug)
        .await
        .unwrap()
        .unwrap();
    let last = identity::EmailAddress::parse("contact-30@firm-00003.test").unwrap();
    let contact = identity::find_contact_by_email(db, firm.id, &last)
        .await
        .unwrap()
        .expect("the last seeded contact");
    assert_eq!(contact.status, identity::ContactStatus::Active);

    let production = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["seed"])
        .env("LATCHKEY_ENV", "production")
        .env("LATCHKEY__DATABASE__URL", &cli.database.url)
        .env(
            "LATCHKEY__SECURITY__TOKEN_KEY",
            "a-production-token-key-of-enough-length",
        )
        .env(
            "LATCHKEY__SECURITY__OPERATOR_TOKEN",
            "a-production-operator-token-long-enough",
        )
        .env("LATCHKEY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!production.status.success());
    assert!(
        String::from_utf8_lossy(&production.stderr).contains("never runs in production"),
        "{}",
        String::from_utf8_lossy(&production.stderr)
    );
}

#[tokio::test]
async fn requests_set_aside_are_listed_and_unknown_ones_refused() {
    let cli = Cli::new().await;
    cli.succeeds(&["migrate"]);
    let listed = cli.succeeds(&["requests", "list"]);
    assert!(listed.starts_with("ID "), "{listed}");
    assert_eq!(listed.lines().count(), 1, "nothing set aside: {listed}");
    let unknown = uuid::Uuid::now_v7().to_string();
    let error = cli.fails(&["requests", "retry", &unknown]);
    assert!(error.contains("no set-aside request"), "{error}");
    let error = cli.fails(&["requests", "retry", "not-an-id"]);
    assert!(error.contains("not a request id"), "{error}");
}

/// The development configuration's keys are public: the binary will not serve them
/// beyond this machine.
#[test]
fn development_keys_never_serve_a_public_address() {
    let output = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .args(["serve"])
        .env_remove("LATCHKEY_ENV")
        .env("LATCHKEY__SERVER__BIND", "0.0.0.0:0")
        .env("LATCHKEY__DATABASE__URL", "sqlite::memory:")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("server.bind = 0.0.0.0:0 serves beyond this machine"),
        "{stderr}"
    );
}

/// `latchkey worker` has the admin listener too, so an orchestrator can probe it and
/// Prometheus scrape its queues; SIGTERM stops it cleanly.
#[tokio::test]
async fn a_worker_answers_probes_and_metrics_and_stops_on_sigterm() {
    use std::io::{BufRead, BufReader, Read, Write};

    let cli = Cli::new().await;
    cli.succeeds(&["migrate"]);
    let mut worker = Command::new(env!("CARGO_BIN_EXE_latchkey"))
        .arg("worker")
        .env("LATCHKEY_ENV", "test")
        .env("LATCHKEY__DATABASE__URL", &cli.database.url)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut banner = String::new();
    BufReader::new(worker.stdout.take().unwrap())
        .read_line(&mut banner)
        .unwrap();
    let admin = banner
        .split("(admin http://")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .unwrap_or_else(|| panic!("no admin address in {banner:?}"))
        .to_owned();
    let get = |path: &str| {
        let mut stream = std::net::TcpStream::connect(&admin).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    };
    assert!(get("/healthz").starts_with("HTTP/1.0 200"));
    assert!(get("/readyz").starts_with("HTTP/1.0 200"));
    let metrics = get("/metrics");
    assert!(metrics.contains("latchkey_queue_pending{"), "{metrics}");

    Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(status) = worker.try_wait().unwrap() {
            break status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the worker ignored SIGTERM"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(status.success(), "{status}");
}
