//! `cargo xtask cluster`: the deployment of `deploy/` as real processes on this
//! machine, smoke-tested through nginx only.
//!
//! A PostgreSQL cluster of the run's own, `latchkey migrate`, three `latchkey serve`
//! instances started at the same moment, one `latchkey worker`, an SMTP server on
//! loopback, and Debian's nginx with `deploy/nginx/latchkey.conf` in front. Then, as
//! an operator and two firms would: two firms provisioned through the operator API;
//! each administrator's invitation, a contact's invitation, a staff Reset Password
//! and a "Forgot your password?" redeemed, each through another instance than the
//! one that issued it; every email delivered once; a suspended firm offline on every
//! instance within the cache's lifetime; one instance killed under load with no
//! request lost beyond those it held. It prints what it counted and stops everything.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::checks::{Report, Seconds};
use crate::fleet::{
    Latchkey, Nginx, PrivateCluster, ROUTE_HEADER, SERVED_BY_HEADER, Serving, SmtpSink, join_each,
};
use crate::http::{Answer, HttpClient, csrf_field};
use crate::pages::{LinkForm, open_link, sign_in};
use crate::server::{target_dir, workspace_root};

const RUN: &str = "cluster";
const INSTANCES: usize = 3;
const BASE_DOMAIN: &str = "example.com";
/// The test configuration's operator token.
const OPERATOR_TOKEN: &str = "test-operator-token-0123456789abcdef";
/// How long each instance caches a host's firm: a suspension elsewhere reaches it
/// within this long.
const CACHE_TTL_SECONDS: u64 = 5;
const MAIL_TIMEOUT: Duration = Duration::from_secs(60);
const LOAD_REQUESTS: usize = 600;
const LOAD_CLIENTS: usize = 4;

pub(crate) fn run() -> anyhow::Result<()> {
    crate::cargo(&["build", "--package", "gateway", "--bin", "latchkey"], &[])?;
    let binary = target_dir().join("debug").join("latchkey");
    let scratch = target_dir().join("cluster");
    if scratch.exists() {
        std::fs::remove_dir_all(&scratch)?;
    }
    std::fs::create_dir_all(&scratch)?;
    let started = Instant::now();
    println!("xtask: cluster: PostgreSQL, SMTP, migrations");
    let postgres = PrivateCluster::create()?;
    let database_url = postgres.create_database("latchkey")?;
    let smtp = SmtpSink::start(&scratch, RUN, Duration::ZERO)?;
    let latchkey = Latchkey::new(&binary, &scratch)
        .env("LATCHKEY_ENV", "test")
        .env("LATCHKEY__DATABASE__URL", &database_url)
        .env("LATCHKEY__SERVER__BIND", "127.0.0.1:0")
        .env("LATCHKEY__SERVER__ADMIN_BIND", "127.0.0.1:0")
        .env("LATCHKEY__SERVER__BASE_DOMAIN", BASE_DOMAIN)
        .env("LATCHKEY__SERVER__TRUSTED_PROXIES", "127.0.0.1")
        .env(
            "LATCHKEY__TENANCY__CACHE_TTL_SECONDS",
            CACHE_TTL_SECONDS.to_string(),
        )
        .env("LATCHKEY__MAIL__TRANSPORT", "smtp")
        .env("LATCHKEY__MAIL__SMTP_URL", smtp.url())
        .env("LATCHKEY__MAIL__RETRY_BASE_SECONDS", "1")
        .env("LATCHKEY__LOG__FILTER", "warn");
    latchkey.migrate("migrate")?;

    println!("xtask: cluster: {INSTANCES} instances started at once, and a worker");
    let mut instances = start_together(&latchkey)?;
    let mut worker = latchkey.work("worker")?;
    let upstreams: Vec<SocketAddr> = instances.iter().map(|instance| instance.public).collect();
    let nginx = Nginx::start(
        &scratch.join("nginx"),
        &workspace_root().join("deploy/nginx/latchkey.conf"),
        &upstreams,
    )?;
    println!("xtask: cluster: nginx on {}", nginx.address);

    let mut report = Report::default();
    let outcome = smoke(&mut report, &nginx, &smtp, &mut instances, &postgres);
    if let Err(error) = outcome {
        report.failed(RUN, &format!("{error:#}"));
        println!("xtask: cluster: nginx's error log:\n{}", nginx.error_log());
    }
    report.expect_eq(RUN, "the worker still running", worker.is_running(), true);
    let worker_ready = HttpClient::new(worker.admin, "localhost")
        .get("/readyz")
        .is_ok_and(|answer| answer.status == 200);
    report.expect_eq(
        RUN,
        "... and ready on its admin listener",
        worker_ready,
        true,
    );
    println!("\n{}", report.to_markdown());
    println!(
        "xtask: cluster: {} checks in {:.0} s",
        report.checks(),
        started.elapsed().as_secs_f64()
    );
    drop(nginx);
    drop(instances);
    drop(worker);
    if report.failures() > 0 {
        bail!(
            "{} cluster check(s) failed; the logs are in {}",
            report.failures(),
            scratch.display()
        );
    }
    println!("xtask: cluster passed");
    Ok(())
}

/// The instances, started at the same moment on one migrated database: start-up
/// must be safe when they race.
fn start_together(latchkey: &Latchkey) -> anyhow::Result<Vec<Serving>> {
    std::thread::scope(|scope| {
        let handles: Vec<_> = (1..=INSTANCES)
            .map(|number| scope.spawn(move || latchkey.serve(&format!("{RUN}-{number}"))))
            .collect();
        join_each(handles).into_iter().collect()
    })
}

/// Everything through nginx, but the operator API on an instance's admin listener
/// (which a deployment keeps off the internet).
fn smoke(
    report: &mut Report,
    nginx: &Nginx,
    smtp: &SmtpSink,
    instances: &mut Vec<Serving>,
    postgres: &PrivateCluster,
) -> anyhow::Result<()> {
    let routes = Routes::discover(nginx, instances)?;
    report.note(RUN, "route keys found, one per instance", routes.keys.len());
    let mut operator = HttpClient::new(instances[0].admin, "localhost")
        .with_header("Authorization", &format!("Bearer {OPERATOR_TOKEN}"));
    let mut redeemed_elsewhere = 0;
    let mut links = 0;
    for slug in ["alpha", "bravo"] {
        let mut firm = Firm::provision(&mut operator, nginx, &routes, smtp, slug)?;
        let (elsewhere, total) = firm.walk(nginx, &routes, smtp)?;
        redeemed_elsewhere += elsewhere;
        links += total;
    }
    report.expect_eq(RUN, "links redeemed (2 firms × 4)", links, 8);
    report.expect_eq(
        RUN,
        "... each through another instance than the one that issued it",
        redeemed_elsewhere,
        8,
    );
    // The last redemption's "password changed" email may still be on its way.
    let unsent_query = "SELECT count(*) FROM outbox_messages WHERE status <> 'sent'";
    let deadline = Instant::now() + MAIL_TIMEOUT;
    let mut unsent = postgres.count("latchkey", unsent_query)?;
    while unsent > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        unsent = postgres.count("latchkey", unsent_query)?;
    }
    report.expect_eq(RUN, "outbox messages not sent", unsent, 0);
    let messages = smtp.messages()?;
    let mut by_link: BTreeMap<&str, usize> = BTreeMap::new();
    for link in messages
        .iter()
        .filter_map(|message| message.reset_path.as_deref())
    {
        *by_link.entry(link).or_default() += 1;
    }
    let twice = by_link.values().filter(|count| **count > 1).count();
    report.note(RUN, "emails delivered", messages.len());
    report.expect_eq(RUN, "emails with a link delivered more than once", twice, 0);

    suspension(report, &mut operator, nginx, &routes)?;
    kill_under_load(report, nginx, instances)?;
    Ok(())
}

/// A value of the route header for each instance, found by asking nginx.
struct Routes {
    /// By instance number (0-based): a value nginx sends to it.
    keys: BTreeMap<usize, String>,
    /// By upstream address: the instance number.
    instances: BTreeMap<String, usize>,
}

impl Routes {
    fn discover(nginx: &Nginx, instances: &[Serving]) -> anyhow::Result<Self> {
        let by_address: BTreeMap<String, usize> = instances
            .iter()
            .enumerate()
            .map(|(number, instance)| (instance.public.to_string(), number))
            .collect();
        let mut keys = BTreeMap::new();
        for candidate in 0..500 {
            let key = format!("route-{candidate}");
            let mut client =
                HttpClient::new(nginx.address, BASE_DOMAIN).with_header(ROUTE_HEADER, &key);
            let answer = client.get("/")?;
            let served_by = answer.header(SERVED_BY_HEADER).unwrap_or_default();
            if let Some(number) = by_address.get(served_by) {
                keys.entry(*number).or_insert(key);
            }
            if keys.len() == instances.len() {
                return Ok(Self {
                    keys,
                    instances: by_address,
                });
            }
        }
        bail!("nginx sent no request to some instance; upstreams: {by_address:?}")
    }

    /// A browser on `host` whose requests nginx sends to instance `number`.
    fn client(&self, nginx: &Nginx, host: &str, number: usize) -> HttpClient {
        HttpClient::new(nginx.address, host).with_header(ROUTE_HEADER, &self.keys[&number])
    }

    /// Which instance answered.
    fn served_by(&self, answer: &Answer) -> anyhow::Result<usize> {
        let address = answer.header(SERVED_BY_HEADER).unwrap_or_default();
        self.instances
            .get(address)
            .copied()
            .with_context(|| format!("answered by `{address}`, no instance of ours"))
    }

    /// Another instance than `number`.
    fn other_than(&self, number: usize) -> usize {
        (number + 1) % self.keys.len()
    }
}

/// A firm provisioned for the smoke run, its administrator signed in.
struct Firm {
    slug: String,
    host: String,
    staff: HttpClient,
}

impl Firm {
    /// Through the operator API; the administrator's invitation is redeemed through
    /// another instance than the first (whose admin listener took the request).
    fn provision(
        operator: &mut HttpClient,
        nginx: &Nginx,
        routes: &Routes,
        smtp: &SmtpSink,
        slug: &str,
    ) -> anyhow::Result<Self> {
        let admin = format!("admin@{slug}.test");
        let answer = operator.post_json(
            "/api/v1/tenants",
            &format!(r#"{{"slug":"{slug}","name":"{slug} LLP","admin_email":"{admin}"}}"#),
        )?;
        if answer.status != 201 {
            bail!(
                "provisioning {slug} answered {}: {}",
                answer.status,
                answer.body
            );
        }
        let host = format!("{slug}.{BASE_DOMAIN}");
        let invitation = wait_for_link(smtp, &admin, &BTreeSet::new())?;
        let password = format!("{slug}-Administrator-2026");
        let mut browser = routes.client(nginx, &host, routes.other_than(0));
        set_password(&mut browser, &invitation, &password)?;
        let mut staff = routes.client(nginx, &host, 0);
        sign_in(&mut staff, "/staff/login", &admin, &password)?;
        Ok(Self {
            slug: slug.to_owned(),
            host,
            staff,
        })
    }

    /// A client and a contact added by staff (the contact's invitation), a staff
    /// Reset Password, then "Forgot your password?": each link redeemed through
    /// another instance than the one whose page issued it. Returns how many were,
    /// of how many.
    fn walk(
        &mut self,
        nginx: &Nginx,
        routes: &Routes,
        smtp: &SmtpSink,
    ) -> anyhow::Result<(usize, usize)> {
        let contact = format!("pat.doe@{}-client.test", self.slug);
        let seen = self.links_to(smtp, &contact)?;
        let page = self.staff.get("/staff/clients/new")?;
        let created = self.staff.post_form(
            "/staff/clients/new",
            &[
                ("name", "Doe Holdings"),
                ("csrf_token", &csrf_field(&page.body)?),
            ],
        )?;
        let contacts_path = location(&created)?;
        let form_path = format!("{contacts_path}/new");
        let page = self.staff.get(&form_path)?;
        let added = self.staff.post_form(
            &form_path,
            &[
                ("name", "Pat Doe"),
                ("email", &contact),
                ("locale", "en"),
                ("csrf_token", &csrf_field(&page.body)?),
            ],
        )?;
        let mut issued_by = vec![routes.served_by(&added)?];
        let invitation = wait_for_link(smtp, &contact, &seen)?;
        let mut redeemed_by =
            vec![self.redeem(nginx, routes, &invitation, issued_by[0], "Invited")?];

        let list = self.staff.get(&contacts_path)?;
        let action =
            reset_action(&list.body).context("the contact list has no Reset Password form")?;
        let seen = self.links_to(smtp, &contact)?;
        let mut script = self.staff.clone().with_header("X-Requested-With", "fetch");
        let pressed = script.post_form(&action, &[("csrf_token", &csrf_field(&list.body)?)])?;
        if pressed.status != 200 || !pressed.body.contains(r#""status":"queued""#) {
            bail!(
                "Reset Password answered {}: {}",
                pressed.status,
                pressed.body
            );
        }
        issued_by.push(routes.served_by(&pressed)?);
        let reset = wait_for_link(smtp, &contact, &seen)?;
        redeemed_by.push(self.redeem(nginx, routes, &reset, issued_by[1], "Staff-Reset")?);

        let seen = self.links_to(smtp, &contact)?;
        let mut visitor = routes.client(nginx, &self.host, 1);
        let page = visitor.get("/forgot-password")?;
        let asked = visitor.post_form(
            "/forgot-password",
            &[
                ("email", &contact),
                ("csrf_token", &csrf_field(&page.body)?),
            ],
        )?;
        if asked.status != 200 {
            bail!("\"Forgot your password?\" answered {}", asked.status);
        }
        issued_by.push(routes.served_by(&asked)?);
        let forgot = wait_for_link(smtp, &contact, &seen)?;
        redeemed_by.push(self.redeem(nginx, routes, &forgot, issued_by[2], "Forgot")?);

        let elsewhere = issued_by
            .iter()
            .zip(&redeemed_by)
            .filter(|(issued, redeemed)| issued != redeemed)
            .count();
        // The administrator's invitation: issued on instance 0's admin listener,
        // redeemed through another (see `provision`).
        Ok((elsewhere + 1, issued_by.len() + 1))
    }

    fn links_to(&self, smtp: &SmtpSink, address: &str) -> anyhow::Result<BTreeSet<String>> {
        Ok(smtp
            .messages()?
            .into_iter()
            .filter(|message| message.to == address)
            .filter_map(|message| message.reset_path)
            .collect())
    }

    /// Redeems `link` through another instance than `issued_by`; returns which
    /// instance took the new password.
    fn redeem(
        &self,
        nginx: &Nginx,
        routes: &Routes,
        link: &str,
        issued_by: usize,
        purpose: &str,
    ) -> anyhow::Result<usize> {
        let mut browser = routes.client(nginx, &self.host, routes.other_than(issued_by));
        let answer = set_password(&mut browser, link, &format!("{}-{purpose}-2026", self.slug))?;
        routes.served_by(&answer)
    }
}

/// Opens `link` and sets `password` through its form: the answer, a 303.
fn set_password(browser: &mut HttpClient, link: &str, password: &str) -> anyhow::Result<Answer> {
    let form: LinkForm = open_link(browser, link)?;
    let fields = form.fields(password);
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(name, value)| (*name, value.as_str()))
        .collect();
    let answer = browser.post_form("/reset", &fields)?;
    if answer.status != 303 {
        bail!(
            "setting a password through {link} answered {}",
            answer.status
        );
    }
    Ok(answer)
}

/// The first link to `address` not in `seen`, waiting for it.
fn wait_for_link(
    smtp: &SmtpSink,
    address: &str,
    seen: &BTreeSet<String>,
) -> anyhow::Result<String> {
    let deadline = Instant::now() + MAIL_TIMEOUT;
    while Instant::now() < deadline {
        let fresh = smtp
            .messages()?
            .into_iter()
            .filter(|message| message.to == address)
            .find_map(|message| message.reset_path.filter(|link| !seen.contains(link)));
        if let Some(link) = fresh {
            return Ok(link);
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "no new link to {address} within {} s",
        MAIL_TIMEOUT.as_secs()
    )
}

fn location(answer: &Answer) -> anyhow::Result<String> {
    if answer.status != 303 {
        bail!(
            "expected 303, got {}: {}",
            answer.status,
            answer.body.chars().take(200).collect::<String>()
        );
    }
    answer
        .header("Location")
        .map(str::to_owned)
        .context("a 303 without Location")
}

/// The action of the first Reset Password form on a contact list.
fn reset_action(html: &str) -> Option<String> {
    let end = html.find("/reset-password\"")?;
    let start = html[..end].rfind("action=\"")? + "action=\"".len();
    Some(format!("{}/reset-password", &html[start..end]))
}

/// The operator suspends bravo on one instance; every instance shows it offline
/// within the cache's lifetime.
fn suspension(
    report: &mut Report,
    operator: &mut HttpClient,
    nginx: &Nginx,
    routes: &Routes,
) -> anyhow::Result<()> {
    let host = format!("bravo.{BASE_DOMAIN}");
    // Every instance has the firm in its cache before the suspension.
    for number in routes.keys.keys() {
        routes.client(nginx, &host, *number).get("/login")?;
    }
    let answer = operator.post_json("/api/v1/tenants/bravo/suspend", "{}")?;
    if !(200..300).contains(&answer.status) {
        bail!(
            "suspending bravo answered {}: {}",
            answer.status,
            answer.body
        );
    }
    let suspended = Instant::now();
    let mut offline: BTreeMap<usize, Duration> = BTreeMap::new();
    while offline.len() < routes.keys.len()
        && suspended.elapsed() < Duration::from_secs(CACHE_TTL_SECONDS * 4)
    {
        for number in routes.keys.keys() {
            if offline.contains_key(number) {
                continue;
            }
            if routes.client(nginx, &host, *number).get("/login")?.status == 403 {
                offline.insert(*number, suspended.elapsed());
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    report.expect_eq(
        RUN,
        "instances showing the suspended firm offline",
        offline.len(),
        INSTANCES,
    );
    let slowest = offline.values().max().copied().unwrap_or(Duration::MAX);
    report.expect_at_most(
        RUN,
        "seconds until the last one did (cache lifetime + 1)",
        Seconds::from(slowest),
        Seconds((CACHE_TTL_SECONDS + 1) as f64),
    );
    Ok(())
}

/// Pages requested through nginx from several clients while one instance is
/// killed: nginx sends what it cannot deliver to another instance, so nothing is
/// lost but what the dead instance held.
fn kill_under_load(
    report: &mut Report,
    nginx: &Nginx,
    instances: &mut Vec<Serving>,
) -> anyhow::Result<()> {
    let host = format!("alpha.{BASE_DOMAIN}");
    let sent = AtomicUsize::new(0);
    let failed = AtomicUsize::new(0);
    let killed = AtomicBool::new(false);
    let victim = instances.pop().context("no instance to kill")?;
    let mut victim = Some(victim);
    std::thread::scope(|scope| {
        for client_number in 0..LOAD_CLIENTS {
            let (sent, failed, host) = (&sent, &failed, &host);
            scope.spawn(move || {
                loop {
                    let number = sent.fetch_add(1, Ordering::Relaxed);
                    if number >= LOAD_REQUESTS {
                        break;
                    }
                    // A key of its own each request: spread over every instance.
                    let mut client = HttpClient::new(nginx.address, host)
                        .with_header(ROUTE_HEADER, &format!("load-{client_number}-{number}"));
                    let ok = client
                        .get("/login")
                        .is_ok_and(|answer| answer.status == 200);
                    if !ok {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
        while sent.load(Ordering::Relaxed) < LOAD_REQUESTS / 3 {
            std::thread::sleep(Duration::from_millis(2));
        }
        if let Some(victim) = victim.take() {
            victim.kill();
            killed.store(true, Ordering::Relaxed);
        }
    });
    report.expect_eq(
        RUN,
        "an instance killed (SIGKILL) under load",
        killed.load(Ordering::Relaxed),
        true,
    );
    report.note(
        RUN,
        "pages requested through nginx meanwhile",
        LOAD_REQUESTS,
    );
    report.expect_at_most(
        RUN,
        "... lost (at most those in flight)",
        failed.load(Ordering::Relaxed),
        LOAD_CLIENTS,
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::reset_action;

    #[test]
    fn finds_the_reset_password_form() {
        let html = r#"<form method="post" action="/staff/clients/c1/contacts/k9/reset-password">"#;
        assert_eq!(
            reset_action(html).as_deref(),
            Some("/staff/clients/c1/contacts/k9/reset-password")
        );
        assert_eq!(reset_action("<p>none</p>"), None);
    }
}
