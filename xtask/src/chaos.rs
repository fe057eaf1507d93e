//! `cargo xtask chaos [--only ACT]`: the faults a deployment meets, caused on purpose
//! to real processes, with what came of them counted and held to the guarantees.
//!
//! Everything runs on this machine and is stopped at the end: a PostgreSQL cluster
//! of the run's own (so it may be stopped), an SMTP server on loopback (aiosmtpd),
//! and `latchkey serve` processes with the test configuration. Three acts:
//!
//! - `smtp-outage`: the SMTP server goes away during 1,000 staff resets and comes
//!   back; every email arrives.
//! - `kill-during-delivery`: the process sending email is killed (SIGKILL) with
//!   messages in flight and started again; every email arrives at least once, and
//!   no more arrive twice than were claimed at the kill.
//! - `three-instances`: three instances on one database: 3,000 resets spread over
//!   them, each email once; per-address limits held across instances; 100 links each
//!   redeemed by 100 concurrent posts; PostgreSQL stopped for 20 s and started again.

mod cluster;
mod delivery;
mod desk;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::checks::Report;
use crate::fleet::{Latchkey, PrivateCluster, SmtpSink};
use crate::server::target_dir;

const USAGE: &str =
    "usage: cargo xtask chaos [--only smtp-outage|kill-during-delivery|three-instances]";
const ACTS: [&str; 3] = ["smtp-outage", "kill-during-delivery", "three-instances"];

/// How long a message being sent belongs to its process: short, so the run does not
/// wait five minutes for the messages a killed process held.
const LEASE_SECONDS: u64 = 10;
/// The delivery worker's batch: the most messages one process has in flight.
const DELIVERY_BATCH: u64 = 16;

pub(crate) fn run(arguments: &[String]) -> anyhow::Result<()> {
    let acts = chosen_acts(arguments)?;
    crate::cargo(&["build", "--package", "gateway", "--bin", "latchkey"], &[])?;
    let stage = Stage::new()?;
    let started = Instant::now();
    let mut report = Report::default();
    for act in acts {
        println!("xtask: chaos: {act}");
        let act_started = Instant::now();
        let outcome = match act {
            "smtp-outage" => delivery::smtp_outage(&stage, &mut report),
            "kill-during-delivery" => delivery::kill_during_delivery(&stage, &mut report),
            _ => cluster::three_instances(&stage, &mut report),
        };
        if let Err(error) = outcome {
            report.failed(act, &format!("{error:#}"));
        }
        report.note(
            act,
            "seconds the act took",
            format!("{:.0}", act_started.elapsed().as_secs_f64()),
        );
    }
    println!("\n{}", report.to_markdown());
    println!(
        "xtask: chaos: {} checks in {:.0} s",
        report.checks(),
        started.elapsed().as_secs_f64()
    );
    let failures = report.failures();
    if failures > 0 {
        bail!(
            "{failures} chaos check(s) failed; the logs are in {}",
            stage.logs().display()
        );
    }
    println!("xtask: chaos passed");
    Ok(())
}

fn chosen_acts(arguments: &[String]) -> anyhow::Result<Vec<&'static str>> {
    match arguments {
        [] => Ok(ACTS.to_vec()),
        [flag, act] if flag == "--only" => ACTS
            .iter()
            .find(|known| *known == act)
            .map(|known| vec![*known])
            .with_context(|| format!("unknown act `{act}`; {USAGE}")),
        _ => bail!("{USAGE}"),
    }
}

/// An act's seeded database: how to run `latchkey` on it, its SMTP server, and its
/// contacts.
pub(crate) struct Seeded {
    pub(crate) smtp: SmtpSink,
    pub(crate) latchkey: Latchkey,
    pub(crate) contacts: Vec<desk::Contact>,
    /// Every contact's address.
    pub(crate) addresses: BTreeSet<String>,
}

/// What every act shares: the binary, a scratch folder for logs and mail, and the
/// run's own PostgreSQL.
pub(crate) struct Stage {
    // First, so it is stopped before anything else goes.
    postgres: PrivateCluster,
    binary: PathBuf,
    scratch: PathBuf,
}

impl Stage {
    fn new() -> anyhow::Result<Self> {
        let binary = target_dir().join("debug").join("latchkey");
        // Kept after the run, so its logs can be read; the next run starts afresh.
        let scratch = target_dir().join("chaos");
        if scratch.exists() {
            std::fs::remove_dir_all(&scratch)
                .with_context(|| format!("cannot clear {}", scratch.display()))?;
        }
        std::fs::create_dir_all(&scratch)?;
        println!("xtask: chaos: starting a PostgreSQL cluster of the run's own");
        let postgres = PrivateCluster::create()?;
        Ok(Self {
            binary,
            scratch,
            postgres,
        })
    }

    pub(crate) fn logs(&self) -> &Path {
        &self.scratch
    }

    pub(crate) fn postgres(&self) -> &PrivateCluster {
        &self.postgres
    }

    /// A new, empty database of the run's cluster.
    pub(crate) fn database(&self, name: &str) -> anyhow::Result<String> {
        self.postgres.create_database(name)
    }

    /// An SMTP server of the act's own.
    pub(crate) fn smtp(&self, act: &str, pause: Duration) -> anyhow::Result<SmtpSink> {
        SmtpSink::start(&self.scratch, act, pause)
    }

    /// A new database `database`, migrated and seeded with `firms` firms of
    /// `contacts_per_firm` contacts, with an SMTP server of the act's own that waits
    /// `pause` before accepting each message.
    pub(crate) fn seeded(
        &self,
        act: &str,
        database: &str,
        firms: usize,
        contacts_per_firm: usize,
        pause: Duration,
    ) -> anyhow::Result<Seeded> {
        let url = self.database(database)?;
        let smtp = self.smtp(act, pause)?;
        let latchkey = self.latchkey(&url, &smtp);
        latchkey.migrate(act)?;
        latchkey.seed(act, firms, contacts_per_firm, |_| {})?;
        let contacts = desk::seeded_contacts(self, database)?;
        let addresses = contacts
            .iter()
            .map(|contact| contact.email.clone())
            .collect();
        Ok(Seeded {
            smtp,
            latchkey,
            contacts,
            addresses,
        })
    }

    /// `latchkey` with the test configuration on `database_url`, sending through
    /// `smtp`, believing `X-Forwarded-For` from loopback (so each simulated client
    /// has an address of its own), and retrying failed email after 1 s, doubling.
    pub(crate) fn latchkey(&self, database_url: &str, smtp: &SmtpSink) -> Latchkey {
        Latchkey::new(&self.binary, &self.scratch)
            .env("LATCHKEY_ENV", "test")
            .env("LATCHKEY__DATABASE__URL", database_url)
            .env("LATCHKEY__SERVER__BIND", "127.0.0.1:0")
            .env("LATCHKEY__SERVER__ADMIN_BIND", "127.0.0.1:0")
            .env("LATCHKEY__SERVER__TRUSTED_PROXIES", "127.0.0.1")
            .env("LATCHKEY__MAIL__TRANSPORT", "smtp")
            .env("LATCHKEY__MAIL__SMTP_URL", smtp.url())
            .env("LATCHKEY__MAIL__RETRY_BASE_SECONDS", "1")
            .env("LATCHKEY__MAIL__LEASE_SECONDS", LEASE_SECONDS.to_string())
            .env("LATCHKEY__LOG__FILTER", "warn")
    }
}
