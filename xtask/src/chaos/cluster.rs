//! The third act: three instances on one PostgreSQL. Resets spread over all three,
//! limits that must hold whichever instance a request reaches, links redeemed by
//! many posts at once, and the database going away under them.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::Barrier;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use anyhow::bail;

use super::delivery::{outbox_report, presses_report};
use super::desk::{Contact, Desk, firm_host, press_for_all, wait_for_resets};
use super::{Seeded, Stage};
use crate::checks::{Report, Seconds};
use crate::fleet::{ReceivedMessage, Serving, SmtpSink, join_each};
use crate::http::{HttpClient, csrf_field};
use crate::pages::{open_link, post_sign_in};

const ACT: &str = "three-instances";
const DATABASE: &str = "chaos_cluster";
const INSTANCES: usize = 3;
const FIRMS: usize = 3;
const CONTACTS_PER_FIRM: usize = 1_000;
const DESKS_PER_FIRM: usize = 2;
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(180);
/// The test configuration's `limits.forgot_per_address` and
/// `limits.sign_in_per_address`.
const FORGOT_PER_ADDRESS: usize = 10;
const SIGN_IN_PER_ADDRESS: usize = 30;
const LINKS: usize = 100;
const POSTS_PER_LINK: usize = 100;
const DATABASE_OUTAGE: Duration = Duration::from_secs(20);
/// After PostgreSQL is back, every instance is ready again within this long.
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(60);

pub(crate) fn three_instances(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    let seeded = stage.seeded(ACT, DATABASE, FIRMS, CONTACTS_PER_FIRM, Duration::ZERO)?;
    let Seeded {
        smtp,
        latchkey,
        contacts,
        ..
    } = &seeded;
    let mut instances = Vec::with_capacity(INSTANCES);
    for number in 1..=INSTANCES {
        instances.push(latchkey.serve(&format!("{ACT}-{number}"))?);
    }
    let servers: Vec<SocketAddr> = instances.iter().map(|instance| instance.public).collect();

    let mail = resets_over_instances(stage, report, &seeded, &servers)?;
    limits_across_instances(report, &servers)?;
    concurrent_redemptions(report, &servers, &mail)?;
    database_outage(stage, report, smtp, &mut instances, contacts)?;
    let panics = instances
        .iter()
        .map(|instance| {
            let log = std::fs::read_to_string(latchkey.log_path(&instance.name))?;
            Ok(log.matches("panicked").count())
        })
        .sum::<anyhow::Result<usize>>()?;
    report.expect_eq(ACT, "panics in the instances' logs", panics, 0);
    Ok(())
}

/// 3,000 resets spread over the instances: each email sent once.
fn resets_over_instances(
    stage: &Stage,
    report: &mut Report,
    seeded: &Seeded,
    servers: &[SocketAddr],
) -> anyhow::Result<Vec<ReceivedMessage>> {
    let (smtp, contacts, expected) = (&seeded.smtp, &seeded.contacts, &seeded.addresses);
    let started = Instant::now();
    let presses = press_for_all(servers, contacts, DESKS_PER_FIRM, &AtomicUsize::new(0))?;
    let pressing = started.elapsed();
    let mail = wait_for_resets(smtp, expected, DELIVERY_TIMEOUT)?;
    presses_report(ACT, report, presses, FIRMS * CONTACTS_PER_FIRM);
    report.note(
        ACT,
        "seconds to press them all; to the last email",
        format!(
            "{:.1}; {:.1}",
            pressing.as_secs_f64(),
            started.elapsed().as_secs_f64()
        ),
    );
    report.expect_eq(
        ACT,
        "contacts whose reset email arrived",
        mail.reached,
        FIRMS * CONTACTS_PER_FIRM,
    );
    report.expect_eq(ACT, "emails sent twice", mail.duplicates, 0);
    outbox_report(stage, DATABASE, ACT, report)?;
    Ok(mail.messages)
}

/// Per-address limits hold however requests are spread: three times the limit of
/// posts from one client address, all at once, round the instances.
fn limits_across_instances(report: &mut Report, servers: &[SocketAddr]) -> anyhow::Result<()> {
    let host = firm_host("firm-00001");
    let forgot = from_one_address(
        servers,
        &host,
        "198.51.100.10",
        3 * FORGOT_PER_ADDRESS,
        |number| {
            (
                "/forgot-password",
                vec![("email", format!("nobody-{number}@nowhere.test"))],
            )
        },
    )?;
    report.expect_eq(
        ACT,
        "\"Forgot your password?\" posts from one address accepted (30 at once)",
        forgot.get(&200).copied().unwrap_or(0),
        FORGOT_PER_ADDRESS,
    );
    report.expect_eq(
        ACT,
        "... refused with 429",
        forgot.get(&429).copied().unwrap_or(0),
        2 * FORGOT_PER_ADDRESS,
    );
    let sign_in = from_one_address(
        servers,
        &host,
        "198.51.100.11",
        2 * SIGN_IN_PER_ADDRESS,
        |number| {
            (
                "/staff/login",
                vec![
                    ("email", format!("guess-{number}@firm-00001.test")),
                    ("password", "not-the-password".to_owned()),
                ],
            )
        },
    )?;
    let refused = sign_in.get(&429).copied().unwrap_or(0);
    report.expect_eq(
        ACT,
        "failed sign-ins from one address checked (60 at once)",
        2 * SIGN_IN_PER_ADDRESS - refused,
        SIGN_IN_PER_ADDRESS,
    );
    report.note(ACT, "... answers by status", statuses(&sign_in));
    Ok(())
}

/// `count` clients from `address`, each opening the form of `form(n)` on the first
/// instance, then all posting it together, the nth to instance n mod 3. Returns
/// how many answers had each status.
fn from_one_address(
    servers: &[SocketAddr],
    host: &str,
    address: &str,
    count: usize,
    form: impl Fn(usize) -> (&'static str, Vec<(&'static str, String)>),
) -> anyhow::Result<BTreeMap<u16, usize>> {
    let mut posts = Vec::with_capacity(count);
    for number in 0..count {
        let (path, mut fields) = form(number);
        let mut client = HttpClient::new(servers[0], host).with_header("X-Forwarded-For", address);
        let page = client.get(path)?;
        fields.push(("csrf_token", csrf_field(&page.body)?));
        client.set_address(servers[number % servers.len()]);
        posts.push(Post {
            client,
            path: path.to_owned(),
            fields,
        });
    }
    let mut statuses = BTreeMap::new();
    for answer in post_all_at_once(posts) {
        *statuses.entry(answer?).or_default() += 1;
    }
    Ok(statuses)
}

/// A form post prepared to be sent.
struct Post {
    client: HttpClient,
    path: String,
    fields: Vec<(&'static str, String)>,
}

/// Sends every post at the same moment, each from a thread of its own; returns
/// their statuses in order.
fn post_all_at_once(posts: Vec<Post>) -> Vec<anyhow::Result<u16>> {
    let barrier = Barrier::new(posts.len());
    std::thread::scope(|scope| {
        let handles: Vec<_> = posts
            .into_iter()
            .map(|mut post| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let fields: Vec<(&str, &str)> = post
                        .fields
                        .iter()
                        .map(|(name, value)| (*name, value.as_str()))
                        .collect();
                    barrier.wait();
                    Ok(post.client.post_form(&post.path, &fields)?.status)
                })
            })
            .collect();
        join_each(handles)
    })
}

fn statuses(counts: &BTreeMap<u16, usize>) -> String {
    counts
        .iter()
        .map(|(status, count)| format!("{count}× {status}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// 100 links, each posted by 100 clients at once (each from an address of its own,
/// so no limit interferes), round the instances: exactly one sets the password.
fn concurrent_redemptions(
    report: &mut Report,
    servers: &[SocketAddr],
    messages: &[ReceivedMessage],
) -> anyhow::Result<()> {
    let links: Vec<(&str, &str)> = messages
        .iter()
        .filter(|message| message.to.ends_with("@firm-00001.test"))
        .filter_map(|message| Some((message.to.as_str(), message.reset_path.as_deref()?)))
        .take(LINKS)
        .collect();
    if links.len() < LINKS {
        bail!("only {} reset links of firm-00001 arrived", links.len());
    }
    let host = firm_host("firm-00001");
    let mut exactly_one = 0;
    let mut signed_in_with_winner = 0;
    let mut other_answers: BTreeMap<u16, usize> = BTreeMap::new();
    let started = Instant::now();
    for (link_number, (email, path)) in links.iter().enumerate() {
        let posts = redemption_posts(servers, &host, link_number, path)?;
        let passwords: Vec<String> = posts.iter().map(|post| post.fields[0].1.clone()).collect();
        let mut winners = Vec::new();
        for (number, answer) in post_all_at_once(posts).into_iter().enumerate() {
            match answer? {
                303 => winners.push(number),
                status => *other_answers.entry(status).or_default() += 1,
            }
        }
        if let [winner] = winners[..] {
            exactly_one += 1;
            let mut client = HttpClient::new(servers[link_number % servers.len()], &host)
                .with_header(
                    "X-Forwarded-For",
                    &format!("10.250.0.{}", link_number % 250),
                );
            if post_sign_in(&mut client, "/login", email, &passwords[winner])?.status == 303 {
                signed_in_with_winner += 1;
            }
        }
    }
    report.expect_eq(
        ACT,
        "links redeemed exactly once (100 posts each, at once)",
        exactly_one,
        LINKS,
    );
    report.expect_eq(
        ACT,
        "... whose winning post's password then signs in",
        signed_in_with_winner,
        LINKS,
    );
    report.expect_eq(
        ACT,
        "... other posts answered 410 \"already used\"",
        other_answers.get(&410).copied().unwrap_or(0),
        LINKS * (POSTS_PER_LINK - 1),
    );
    report.note(
        ACT,
        "... answers other than 303 by status",
        statuses(&other_answers),
    );
    report.note(
        ACT,
        "seconds for the 10,000 posts",
        format!("{:.1}", started.elapsed().as_secs_f64()),
    );
    Ok(())
}

/// Opens the link once, as its recipient's browser would, and prepares 100 posts of
/// its form with that browser's cookies, each with a password of its own (the
/// first field) and from an address of its own, round the instances.
fn redemption_posts(
    servers: &[SocketAddr],
    host: &str,
    link_number: usize,
    path: &str,
) -> anyhow::Result<Vec<Post>> {
    let mut opener = HttpClient::new(servers[0], host);
    let form = open_link(&mut opener, path)?;
    Ok((0..POSTS_PER_LINK)
        .map(|number| {
            let password = format!("Chaos-{link_number}-Password-{number}");
            let mut client = opener.clone().with_header(
                "X-Forwarded-For",
                &format!("10.{}.{}.1", link_number + 1, number + 1),
            );
            client.set_address(servers[number % servers.len()]);
            Post {
                client,
                path: "/reset".to_owned(),
                fields: form.fields(&password),
            }
        })
        .collect())
}

/// PostgreSQL stopped for 20 s under three running instances: readable 503 pages,
/// `/readyz` failing, every process alive, then ready again and sending email
/// without a restart.
fn database_outage(
    stage: &Stage,
    report: &mut Report,
    smtp: &SmtpSink,
    instances: &mut [Serving],
    contacts: &[Contact],
) -> anyhow::Result<()> {
    let firm = "firm-00002";
    let mut desk = Desk::sign_in(instances[0].public, firm)?;
    let before: BTreeSet<u32> = instances.iter().map(Serving::pid).collect();

    stage.postgres().stop()?;
    let stopped = Instant::now();
    let mut probes = OutageProbes::default();
    while stopped.elapsed() < DATABASE_OUTAGE {
        for instance in instances.iter() {
            probes.probe(instance, &mut desk)?;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    stage.postgres().start()?;
    let restarted = Instant::now();

    let mut recovery = Vec::new();
    for instance in instances.iter() {
        recovery.push(instance.wait_until_ready(RECOVERY_TIMEOUT)?);
    }
    let alive = instances
        .iter_mut()
        .map(|instance| instance.is_running())
        .filter(|running| *running)
        .count();
    let same = instances
        .iter()
        .filter(|instance| before.contains(&instance.pid()))
        .count();

    report.expect_eq(
        ACT,
        "/readyz answers 503 while PostgreSQL is down",
        probes.readyz_unready,
        probes.rounds,
    );
    report.expect_eq(
        ACT,
        "/healthz answers 200 while PostgreSQL is down",
        probes.healthz_ok,
        probes.rounds,
    );
    report.expect_eq(
        ACT,
        "staff pages answer a readable 503 page while PostgreSQL is down",
        probes.readable_503,
        probes.rounds,
    );
    report.note(
        ACT,
        "... staff page answers by status",
        statuses(&probes.page_statuses),
    );
    report.expect_eq(
        ACT,
        "Reset Password presses answered 503 while PostgreSQL is down",
        probes.press_503,
        probes.rounds,
    );
    report.note(
        ACT,
        "... press answers by status",
        statuses(&probes.press_statuses),
    );
    report.expect_at_most(
        ACT,
        "slowest answer while PostgreSQL is down, seconds",
        Seconds::from(probes.slowest),
        Seconds(12.0),
    );
    report.note(
        ACT,
        "... answers slower than 1 s (4 probes a round)",
        probes.slow,
    );
    report.expect_eq(
        ACT,
        "instances still running, unrestarted",
        alive.min(same),
        INSTANCES,
    );
    let slowest_recovery = recovery.iter().max().copied().unwrap_or_default();
    report.expect_at_most(
        ACT,
        "seconds until every instance is ready again",
        Seconds::from(slowest_recovery),
        Seconds::from(RECOVERY_TIMEOUT),
    );

    // Email flows again: one reset pressed on each instance arrives.
    let fresh: Vec<&Contact> = contacts
        .iter()
        .filter(|contact| contact.firm == firm)
        .take(INSTANCES)
        .collect();
    let before_count = smtp.count();
    let mut pressed = 0;
    for (instance, contact) in instances.iter().zip(&fresh) {
        if desk.press(instance.public, contact).is_ok() {
            pressed += 1;
        }
    }
    let arrived = smtp.wait_for(before_count + INSTANCES, Duration::from_secs(60)) - before_count;
    report.expect_eq(
        ACT,
        "resets pressed after the outage, one per instance",
        pressed,
        INSTANCES,
    );
    report.expect_eq(ACT, "... whose emails arrived", arrived, INSTANCES);
    report.note(
        ACT,
        "seconds from PostgreSQL's restart to those emails",
        format!("{:.1}", restarted.elapsed().as_secs_f64()),
    );
    Ok(())
}

#[derive(Debug, Default)]
struct OutageProbes {
    rounds: usize,
    readyz_unready: usize,
    healthz_ok: usize,
    readable_503: usize,
    press_503: usize,
    page_statuses: BTreeMap<u16, usize>,
    press_statuses: BTreeMap<u16, usize>,
    slowest: Duration,
    /// Answers that took over a second: those that waited for the pool before the
    /// outage was known.
    slow: usize,
}

impl OutageProbes {
    /// One round on `instance`: its readiness and liveness, a staff page, a press.
    fn probe(&mut self, instance: &Serving, desk: &mut Desk) -> anyhow::Result<()> {
        self.rounds += 1;
        let mut admin = HttpClient::new(instance.admin, "localhost");
        if self.timed(|| admin.get("/readyz"))?.status == 503 {
            self.readyz_unready += 1;
        }
        if self.timed(|| admin.get("/healthz"))?.status == 200 {
            self.healthz_ok += 1;
        }
        let page = self.timed(|| desk.get(instance.public, "/staff/clients"))?;
        *self.page_statuses.entry(page.status).or_default() += 1;
        if page.status == 503
            && page.body.contains("Temporarily unavailable")
            && page.body.contains("<html")
        {
            self.readable_503 += 1;
        }
        let contact = Contact {
            firm: String::new(),
            client_id: "00000000-0000-0000-0000-000000000000".to_owned(),
            contact_id: "00000000-0000-0000-0000-000000000000".to_owned(),
            email: "unreachable@nowhere.test".to_owned(),
        };
        let press = self.timed(|| Ok(desk.press(instance.public, &contact)))?;
        let status = match &press {
            Ok(()) => 200,
            Err(error) => status_in(&format!("{error:#}")),
        };
        *self.press_statuses.entry(status).or_default() += 1;
        if status == 503 {
            self.press_503 += 1;
        }
        Ok(())
    }

    fn timed<T>(&mut self, request: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        let started = Instant::now();
        let answer = request();
        let took = started.elapsed();
        self.slowest = self.slowest.max(took);
        if took > Duration::from_secs(1) {
            self.slow += 1;
        }
        answer
    }
}

/// The status in a refused press's message "… answered NNN: …", 0 without one.
fn status_in(message: &str) -> u16 {
    message
        .split("answered ")
        .nth(1)
        .and_then(|rest| rest.get(..3))
        .and_then(|digits| digits.parse().ok())
        .unwrap_or(0)
}
