//! `cargo xtask bench`: the release `latchkey` under wrk, on SQLite and (with
//! `LATCHKEY_TEST_DATABASE_URL`) PostgreSQL, printed as markdown, held to the
//! performance targets, and kept as JSON and a chart under `<target>/bench/`.
//! `cargo xtask bench-chart` draws a kept JSON file again.

mod chart;
mod hashing;
mod report;
mod scenarios;
mod server;
mod staff_flows;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};

use self::hashing::HashingCeiling;
use self::report::{
    BenchReport, DatabaseFigures, ScaleFigures, ScenarioFigures, SideBySide, percent,
};
use self::scenarios::{
    CEILING, FORGOT_KNOWN, FORGOT_KNOWN_BESIDE, FORGOT_UNKNOWN, FORGOT_UNKNOWN_BESIDE, LOGIN_PAGE,
    LOGIN_PAGE_DURING_SIGN_IN, LoadFigures, RESET_LINK, RESET_PAGE, SCALE_FORGOT_KNOWN,
    SCALE_LOGIN_PAGE, SIGN_IN, Scenario, WrkRunner,
};
use self::server::{DatabaseKind, Drain, ScratchDatabase, ServerSettings, drain_queues};
use self::staff_flows::{
    DEMO_HOST, RESET_CONTACT_EMAIL, RESET_CONTACT_PASSWORD, StaffSession, add_contacts, csrf_pair,
    open_reset_link,
};
use crate::fleet::Serving;
use crate::http::form_encode;
use crate::server::{target_dir, workspace_root};

const USAGE: &str =
    "usage: cargo xtask bench [--duration SECS] [--skip-scale] [--only sqlite|postgres]";
const DEFAULT_DURATION_SECONDS: u64 = 10;
/// Start-up work settles before RSS is read: the demo data's password hashes, whose
/// hashing threads give their memory back after 10 s without work.
const IDLE_SETTLE: Duration = Duration::from_secs(15);
const CONTACTS_TO_ADD: usize = 1_000;
const STAFF_SESSIONS: usize = 8;
const SCALE_FIRMS: usize = 10_000;
const SCALE_CONTACTS_PER_FIRM: usize = 100;
const UNKNOWN_EMAIL: &str = "nobody.here@acme.test";

#[derive(Debug)]
struct BenchOptions {
    duration_seconds: u64,
    skip_scale: bool,
    only: Option<DatabaseKind>,
}

impl BenchOptions {
    fn parse(arguments: &[String]) -> anyhow::Result<Self> {
        let mut options = Self {
            duration_seconds: DEFAULT_DURATION_SECONDS,
            skip_scale: false,
            only: None,
        };
        let mut arguments = arguments.iter();
        while let Some(argument) = arguments.next() {
            let (flag, inline_value) = match argument.split_once('=') {
                Some((flag, value)) => (flag, Some(value.to_owned())),
                None => (argument.as_str(), None),
            };
            let mut value = || {
                inline_value
                    .clone()
                    .or_else(|| arguments.next().cloned())
                    .with_context(|| format!("{flag} needs a value; {USAGE}"))
            };
            match flag {
                "--duration" => {
                    let seconds = value()?;
                    options.duration_seconds = seconds
                        .parse()
                        .ok()
                        .filter(|seconds| *seconds > 0)
                        .with_context(|| {
                            format!("--duration takes whole seconds, not `{seconds}`")
                        })?;
                }
                "--skip-scale" => options.skip_scale = true,
                "--only" => {
                    options.only = Some(match value()?.as_str() {
                        "sqlite" => DatabaseKind::Sqlite,
                        "postgres" => DatabaseKind::Postgres,
                        other => bail!("--only takes sqlite or postgres, not `{other}`"),
                    });
                }
                other => bail!("unknown option `{other}`; {USAGE}"),
            }
        }
        Ok(options)
    }

    /// The databases to measure, with PostgreSQL's server URL.
    fn databases(&self) -> anyhow::Result<Vec<(DatabaseKind, Option<String>)>> {
        let postgres_url = std::env::var(crate::TEST_DATABASE_URL_VAR)
            .ok()
            .filter(|url| !url.is_empty());
        Ok(match (self.only, postgres_url) {
            (Some(DatabaseKind::Sqlite), _) => vec![(DatabaseKind::Sqlite, None)],
            (Some(DatabaseKind::Postgres), None) => bail!(
                "--only postgres needs {} (e.g. postgres://postgres@127.0.0.1:5432/test)",
                crate::TEST_DATABASE_URL_VAR
            ),
            (Some(DatabaseKind::Postgres), Some(url)) => vec![(DatabaseKind::Postgres, Some(url))],
            (None, None) => {
                println!(
                    "xtask: bench: {} is not set; measuring SQLite only",
                    crate::TEST_DATABASE_URL_VAR
                );
                vec![(DatabaseKind::Sqlite, None)]
            }
            (None, Some(url)) => vec![
                (DatabaseKind::Sqlite, None),
                (DatabaseKind::Postgres, Some(url)),
            ],
        })
    }
}

pub(crate) fn run(arguments: &[String]) -> anyhow::Result<()> {
    let options = BenchOptions::parse(arguments)?;
    let databases = options.databases()?;
    let target = target_dir();
    crate::cargo(
        &[
            "build",
            "--release",
            "--package",
            "gateway",
            "--bin",
            "latchkey",
        ],
        &[],
    )?;
    let binary = target.join("release").join("latchkey");
    scenarios::ensure_wrk()?;
    // Before any server runs, so nothing else competes for the cores.
    println!("xtask: bench: timing argon2id");
    let hashing = hashing::measure()?;
    let mut report = BenchReport {
        unix_time: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_secs(),
        duration_seconds: options.duration_seconds,
        hashing,
        databases: Vec::new(),
    };
    for (kind, postgres_url) in databases {
        let figures = bench_database(kind, postgres_url.as_deref(), &binary, &options, &hashing)?;
        report.databases.push(figures);
    }
    println!("\n{}", report::markdown(&report));
    let folder = target.join("bench");
    let saved = report::save(&report, &folder)?;
    let chart_path = folder.join("latest.png");
    chart::render(&report, &chart_path)?;
    println!(
        "xtask: bench: figures in {} (and latest.json beside it), chart in {}",
        saved.display(),
        chart_path.display()
    );
    Ok(())
}

/// `cargo xtask bench-chart [JSON] [OUT.png]`
pub(crate) fn chart(arguments: &[String]) -> anyhow::Result<()> {
    if arguments.len() > 2 {
        bail!("usage: cargo xtask bench-chart [JSON] [OUT.png]");
    }
    let root = workspace_root();
    let json = arguments.first().map_or_else(
        || target_dir().join("bench").join("latest.json"),
        PathBuf::from,
    );
    let out = arguments
        .get(1)
        .map_or_else(|| root.join("docs").join("performance.png"), PathBuf::from);
    let report = report::load(&json)?;
    chart::render(&report, &out)?;
    println!(
        "xtask: bench-chart: drew {} into {}",
        json.display(),
        out.display()
    );
    Ok(())
}

/// One database from a fresh start; its scratch folder (database file, mail, log
/// and scripts) is kept only if something failed.
fn bench_database(
    kind: DatabaseKind,
    postgres_url: Option<&str>,
    binary: &Path,
    options: &BenchOptions,
    hashing: &HashingCeiling,
) -> anyhow::Result<DatabaseFigures> {
    println!("xtask: bench: {}", kind.label());
    let mut scratch = tempfile::Builder::new()
        .prefix("latchkey-bench-")
        .tempdir()
        .context("cannot create a scratch folder")?;
    let database = match (kind, postgres_url) {
        (DatabaseKind::Postgres, Some(url)) => ScratchDatabase::postgres(url)?,
        _ => ScratchDatabase::sqlite(scratch.path()),
    };
    let settings = ServerSettings {
        binary: binary.to_owned(),
        database_url: database.url.clone(),
        scratch: scratch.path().to_owned(),
    };
    let outcome = measure_database(&database, &settings, options, hashing);
    if outcome.is_err() {
        scratch.disable_cleanup(true);
        eprintln!(
            "xtask: bench: {} failed; its log, mail and scripts stay in {}",
            kind.label(),
            scratch.path().display()
        );
    }
    outcome
}

fn measure_database(
    database: &ScratchDatabase,
    settings: &ServerSettings,
    options: &BenchOptions,
    hashing: &HashingCeiling,
) -> anyhow::Result<DatabaseFigures> {
    let server = settings.start()?;
    println!(
        "xtask: bench: latchkey (pid {}) is serving {} on {}",
        server.pid(),
        database.kind.label(),
        server.public
    );
    std::thread::sleep(IDLE_SETTLE);
    let rss_idle_mib = server.rss_mib()?;
    let (contact_seeding, first_failure) =
        add_contacts(server.public, CONTACTS_TO_ADD, STAFF_SESSIONS)?;
    let mut run = DatabaseRun {
        runner: WrkRunner {
            address: server.public,
            duration_seconds: options.duration_seconds,
            scripts: settings.scratch.clone(),
        },
        server: Some(server),
        notes: Vec::new(),
        gauge_missing_noted: false,
        scenarios: Vec::new(),
        ceiling_requests_per_second: 0.0,
    };
    if let Some(failure) = first_failure {
        run.note(format!(
            "adding contacts: {} failed, the first: {failure}",
            contact_seeding.errors
        ));
    }
    // The firm grew from one contact to a thousand in seconds. A server that runs
    // for a minute has had PostgreSQL's autovacuum analyse that; the benchmark
    // measures that steady state rather than the planner's first guess.
    database.refresh_statistics()?;

    let ceiling = Scenario::get(
        CEILING,
        "ceiling: GET /_bench/ceiling",
        DEMO_HOST,
        "/_bench/ceiling",
    );
    run.ceiling_requests_per_second = run.measure(&ceiling)?.requests_per_second;
    run.measure(&Scenario::get(
        LOGIN_PAGE,
        "GET /login",
        DEMO_HOST,
        "/login",
    ))?;
    let forgot_csrf = csrf_pair(run.server().public, DEMO_HOST, "/forgot-password")?;
    let forgot = |key, name, email| {
        let body = format!(
            "email={}&csrf_token={}",
            form_encode(email),
            form_encode(&forgot_csrf.token)
        );
        Scenario::post_form(key, name, DEMO_HOST, "/forgot-password", body)
            .with_cookie(format!("latchkey_csrf={}", forgot_csrf.cookie))
    };
    let known = forgot(
        FORGOT_KNOWN,
        "POST /forgot-password, known address",
        RESET_CONTACT_EMAIL,
    );
    let unknown = forgot(
        FORGOT_UNKNOWN,
        "POST /forgot-password, unknown address",
        UNKNOWN_EMAIL,
    );
    run.measure(&known)?;
    run.measure(&unknown)?;
    // Whether an address is known must not show in the time of the answer; only
    // requests answered side by side meet the same background work.
    run.drain("the forgot-password floods")?;
    let (known_beside, unknown_beside) = run.runner.measure_side_by_side(
        &forgot(FORGOT_KNOWN_BESIDE, "known address", RESET_CONTACT_EMAIL),
        &forgot(FORGOT_UNKNOWN_BESIDE, "unknown address", UNKNOWN_EMAIL),
    )?;
    let forgot_side_by_side = Some(SideBySide {
        known: known_beside,
        unknown: unknown_beside,
    });

    // Only now: each reset that the forgot-password floods sent superseded the
    // contact's older links, so a link taken earlier would be dead by here.
    run.drain("the forgot-password floods")?;
    let mut staff = StaffSession::sign_in(run.server().public)?;
    let client_id = staff.demo_client_id()?;
    let reset_path = staff.send_reset_email(&client_id, &settings.mail_dir())?;
    let reset_cookie = open_reset_link(run.server().public, &reset_path)?;
    run.measure(
        &Scenario::get(RESET_LINK, "GET /reset/{token}", DEMO_HOST, &reset_path).expecting(303),
    )?;
    run.measure(
        &Scenario::get(RESET_PAGE, "GET /reset, valid token", DEMO_HOST, "/reset")
            .with_cookie(format!("latchkey_reset={reset_cookie}")),
    )?;

    let login_csrf = csrf_pair(run.server().public, DEMO_HOST, "/login")?;
    let body = format!(
        "email={}&password={}&csrf_token={}",
        form_encode(RESET_CONTACT_EMAIL),
        form_encode(RESET_CONTACT_PASSWORD),
        form_encode(&login_csrf.token)
    );
    let sign_in = Scenario::post_form(
        SIGN_IN,
        "POST /login, right password",
        DEMO_HOST,
        "/login",
        body,
    )
    .with_cookie(format!("latchkey_csrf={}", login_csrf.cookie))
    .expecting(303);
    // People opening the sign-in page while the flood goes on: two connections,
    // each pausing 20 ms between pages (about 100 pages a second), not a second
    // flood competing with hashing for the two cores.
    let bystander = Scenario::get(
        LOGIN_PAGE_DURING_SIGN_IN,
        "GET /login during the sign-in flood",
        DEMO_HOST,
        "/login",
    )
    .paced(20);
    let login_page_during_sign_in = run.measure_beside(&sign_in, &bystander)?;
    let rss_after_sign_in_mib = run.server().rss_mib()?;
    if let Some(figures) = run
        .scenarios
        .iter_mut()
        .find(|figures| figures.key == SIGN_IN)
    {
        figures.percent_of_hashing_ceiling = Some(percent(
            figures.load.requests_per_second,
            hashing.sign_ins_per_second,
        ));
    }

    let scale = if options.skip_scale {
        None
    } else {
        Some(run.measure_scale(settings)?)
    };
    let mut figures = DatabaseFigures {
        database: database.kind.label().to_owned(),
        ceiling_requests_per_second: run.ceiling_requests_per_second,
        scenarios: run.scenarios,
        login_page_during_sign_in,
        forgot_side_by_side,
        rss_idle_mib,
        rss_after_sign_in_mib,
        contact_seeding,
        scale,
        targets: Vec::new(),
        notes: run.notes,
    };
    figures.check_targets();
    Ok(figures)
}

/// The measurements of one database so far, and the server they are taken from.
#[derive(Debug)]
struct DatabaseRun {
    /// `None` only while the server is restarted.
    server: Option<Serving>,
    runner: WrkRunner,
    notes: Vec<String>,
    gauge_missing_noted: bool,
    scenarios: Vec<ScenarioFigures>,
    ceiling_requests_per_second: f64,
}

impl DatabaseRun {
    fn server(&self) -> &Serving {
        self.server
            .as_ref()
            .expect("the server runs between restarts")
    }

    fn note(&mut self, note: String) {
        println!("xtask: bench: note: {note}");
        self.notes.push(note);
    }

    /// Lets the background queues empty, so one scenario's leftovers do not slow
    /// the next.
    fn drain(&mut self, after: &str) -> anyhow::Result<()> {
        match drain_queues(self.server())? {
            Drain::Empty(waited) if waited > Duration::from_secs(1) => {
                println!("xtask: bench: the queues took {waited:.1?} to empty after {after}");
            }
            Drain::Empty(_) => {}
            Drain::GaugeMissing if !self.gauge_missing_noted => {
                self.gauge_missing_noted = true;
                self.note(
                    "the server exports no latchkey_queue_pending gauge, so each scenario waited 3 s instead of for empty queues".to_owned(),
                );
            }
            Drain::GaugeMissing => {}
            Drain::TimedOut { pending } => self.note(format!(
                "{pending} jobs were still queued 120 s after {after}; measuring anyway"
            )),
        }
        Ok(())
    }

    fn measure(&mut self, scenario: &Scenario) -> anyhow::Result<LoadFigures> {
        self.drain("the previous step")?;
        let load = self.runner.measure(scenario)?;
        self.keep(scenario, load);
        Ok(load)
    }

    /// Measures `flood` with `bystander` beside it; returns the bystander's figures.
    fn measure_beside(
        &mut self,
        flood: &Scenario,
        bystander: &Scenario,
    ) -> anyhow::Result<LoadFigures> {
        self.drain("the previous step")?;
        let (flooded, beside) = self.runner.measure_beside(flood, bystander)?;
        self.keep(flood, flooded);
        self.warn_about_statuses(bystander, &beside);
        Ok(beside)
    }

    fn keep(&mut self, scenario: &Scenario, load: LoadFigures) {
        self.warn_about_statuses(scenario, &load);
        // The ceiling scenario is measured before there is a ceiling: it is its own.
        let ceiling = if self.ceiling_requests_per_second > 0.0 {
            self.ceiling_requests_per_second
        } else {
            load.requests_per_second
        };
        self.scenarios
            .push(ScenarioFigures::new(scenario, load, ceiling));
    }

    fn warn_about_statuses(&mut self, scenario: &Scenario, load: &LoadFigures) {
        if load.unexpected_status > 0 || load.socket_errors > 0 {
            self.note(format!(
                "{}: {} of {} answers were not {}, and {} socket errors",
                scenario.name,
                load.unexpected_status,
                load.requests,
                scenario.expected_status,
                load.socket_errors
            ));
        }
    }

    /// Seeds many firms with the server stopped, starts it again, and measures the
    /// host-resolving pages with each request to a random firm.
    fn measure_scale(&mut self, settings: &ServerSettings) -> anyhow::Result<ScaleFigures> {
        if let Some(server) = self.server.take() {
            server.stop();
        }
        println!("xtask: bench: seeding {SCALE_FIRMS} firms of {SCALE_CONTACTS_PER_FIRM} contacts");
        let seed_seconds = settings
            .seed(SCALE_FIRMS, SCALE_CONTACTS_PER_FIRM)?
            .as_secs_f64();
        let server = settings.start()?;
        self.runner.address = server.public;
        self.server = Some(server);
        let one_firm_scenarios = self.scenarios.len();

        let login_page = Scenario::get(
            SCALE_LOGIN_PAGE,
            &format!("GET /login, {SCALE_FIRMS} firms"),
            DEMO_HOST,
            "/login",
        )
        .across_seeded_firms(SCALE_FIRMS);
        self.measure(&login_page)?;
        // The CSRF key is the platform's, so a pair from one firm works on all.
        let csrf = csrf_pair(self.server().public, DEMO_HOST, "/forgot-password")?;
        let forgot = Scenario::post_form(
            SCALE_FORGOT_KNOWN,
            &format!("POST /forgot-password, known address, {SCALE_FIRMS} firms"),
            DEMO_HOST,
            "/forgot-password",
            format!("csrf_token={}", form_encode(&csrf.token)),
        )
        .with_cookie(format!("latchkey_csrf={}", csrf.cookie))
        .across_seeded_firms(SCALE_FIRMS)
        .with_random_seeded_contact(SCALE_CONTACTS_PER_FIRM);
        self.measure(&forgot)?;
        Ok(ScaleFigures {
            firms: SCALE_FIRMS,
            contacts_per_firm: SCALE_CONTACTS_PER_FIRM,
            seed_seconds,
            scenarios: self.scenarios.split_off(one_firm_scenarios),
        })
    }
}
