//! The staff side of the chaos run: seeded firms and their contacts, staff members
//! pressing Reset Password from several desks at once, and what reached the mailbox.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::Stage;
use crate::fleet::{ReceivedMessage, SmtpSink};
use crate::http::{HttpClient, csrf_field};
use crate::pages::sign_in;

/// The password `latchkey seed` gives every account.
pub(crate) const SEEDED_PASSWORD: &str = "seeded-password-2026";

/// The host of the `number`th seeded firm (`firm-00001` …) under the default
/// `server.base_domain`.
pub(crate) fn firm_host(slug: &str) -> String {
    format!("{slug}.localhost")
}

/// A seeded contact, as the staff pages address it.
#[derive(Debug, Clone)]
pub(crate) struct Contact {
    pub(crate) firm: String,
    pub(crate) client_id: String,
    pub(crate) contact_id: String,
    pub(crate) email: String,
}

/// Every contact of the seeded firms in `database`, by firm, then address.
pub(crate) fn seeded_contacts(stage: &Stage, database: &str) -> anyhow::Result<Vec<Contact>> {
    let rows = stage.postgres().query(
        database,
        "SELECT t.slug, c.client_id, c.id, c.email FROM contacts c \
         JOIN tenants t ON t.id = c.tenant_id ORDER BY t.slug, c.email",
    )?;
    rows.lines()
        .map(|row| {
            let fields: Vec<&str> = row.split('|').collect();
            let [firm, client_id, contact_id, email] = fields[..] else {
                bail!("an unexpected row of contacts: {row}");
            };
            Ok(Contact {
                firm: firm.to_owned(),
                client_id: client_id.to_owned(),
                contact_id: contact_id.to_owned(),
                email: email.to_owned(),
            })
        })
        .collect()
}

/// A staff member of one firm, signed in, with a CSRF token of the session: the
/// Reset Password button's request, as the page's script sends it.
#[derive(Debug, Clone)]
pub(crate) struct Desk {
    /// The pages, as the browser opens them.
    browser: HttpClient,
    /// The button's background request, which asks for JSON answers.
    script: HttpClient,
    token: String,
}

impl Desk {
    pub(crate) fn sign_in(server: SocketAddr, firm: &str) -> anyhow::Result<Self> {
        let mut client = HttpClient::new(server, &firm_host(firm));
        sign_in(
            &mut client,
            "/staff/login",
            &format!("admin@{firm}.test"),
            SEEDED_PASSWORD,
        )?;
        let page = client.get("/staff/clients")?;
        if page.status != 200 {
            bail!("GET /staff/clients of {firm} answered {}", page.status);
        }
        let token = csrf_field(&page.body)?;
        Ok(Self {
            script: client.clone().with_header("X-Requested-With", "fetch"),
            browser: client,
            token,
        })
    }

    /// Presses Reset Password beside `contact` on `server`: `Ok(())` once the
    /// answer says the email is queued.
    pub(crate) fn press(&mut self, server: SocketAddr, contact: &Contact) -> anyhow::Result<()> {
        self.script.set_address(server);
        let path = format!(
            "/staff/clients/{}/contacts/{}/reset-password",
            contact.client_id, contact.contact_id
        );
        let answer = self
            .script
            .post_form(&path, &[("csrf_token", &self.token)])?;
        if answer.status == 200 && answer.body.contains(r#""status":"queued""#) {
            Ok(())
        } else {
            bail!(
                "Reset Password for {} answered {}: {}",
                contact.email,
                answer.status,
                answer.body.chars().take(200).collect::<String>()
            )
        }
    }

    /// Gets the page at `path` on `server` with this staff member's session.
    pub(crate) fn get(
        &mut self,
        server: SocketAddr,
        path: &str,
    ) -> anyhow::Result<crate::http::Answer> {
        self.browser.set_address(server);
        self.browser.get(path)
    }
}

/// How the presses went.
#[derive(Debug, Default)]
pub(crate) struct Presses {
    pub(crate) queued: usize,
    pub(crate) refused: usize,
    pub(crate) first_refusal: Option<String>,
}

/// Presses Reset Password beside every one of `contacts`, from `desks_per_firm`
/// desks of each firm at once, the presses of each desk going round `servers`.
/// `pressed` counts the presses made so far, for a watcher to act on.
pub(crate) fn press_for_all(
    servers: &[SocketAddr],
    contacts: &[Contact],
    desks_per_firm: usize,
    pressed: &AtomicUsize,
) -> anyhow::Result<Presses> {
    let mut by_firm: BTreeMap<&str, Vec<&Contact>> = BTreeMap::new();
    for contact in contacts {
        by_firm.entry(&contact.firm).or_default().push(contact);
    }
    let mut shares = Vec::new();
    for (firm, firm_contacts) in by_firm {
        for desk_number in 0..desks_per_firm {
            let desk = Desk::sign_in(servers[shares.len() % servers.len()], firm)?;
            let share: Vec<&Contact> = firm_contacts
                .iter()
                .skip(desk_number)
                .step_by(desks_per_firm)
                .copied()
                .collect();
            shares.push((desk, share));
        }
    }
    let outcomes: Vec<Presses> = std::thread::scope(|scope| {
        let handles: Vec<_> = shares
            .into_iter()
            .enumerate()
            .map(|(desk_number, (mut desk, share))| {
                scope.spawn(move || {
                    let mut presses = Presses::default();
                    for (number, contact) in share.into_iter().enumerate() {
                        let server = servers[(desk_number + number) % servers.len()];
                        match desk.press(server, contact) {
                            Ok(()) => presses.queued += 1,
                            Err(error) => {
                                presses.refused += 1;
                                presses.first_refusal.get_or_insert(format!("{error:#}"));
                            }
                        }
                        pressed.fetch_add(1, Ordering::Relaxed);
                    }
                    presses
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle.join().unwrap_or_else(|_| Presses {
                    refused: 1,
                    first_refusal: Some("a pressing thread panicked".to_owned()),
                    ..Presses::default()
                })
            })
            .collect()
    });
    Ok(outcomes
        .into_iter()
        .fold(Presses::default(), |mut total, presses| {
            total.queued += presses.queued;
            total.refused += presses.refused;
            if total.first_refusal.is_none() {
                total.first_refusal = presses.first_refusal;
            }
            total
        }))
}

/// What reached the mailbox of the reset emails to `expected` addresses.
#[derive(Debug)]
pub(crate) struct Mail {
    pub(crate) messages: Vec<ReceivedMessage>,
    /// Expected addresses with at least one reset email.
    pub(crate) reached: usize,
    /// Expected addresses with none.
    pub(crate) missing: usize,
    /// Reset emails beyond the first of the same link.
    pub(crate) duplicates: usize,
}

/// Waits until every one of `expected` has a reset email, or `timeout` passes.
pub(crate) fn wait_for_resets(
    smtp: &SmtpSink,
    expected: &BTreeSet<String>,
    timeout: Duration,
) -> anyhow::Result<Mail> {
    let deadline = Instant::now() + timeout;
    loop {
        let ready = smtp.count() >= expected.len();
        if ready || Instant::now() >= deadline {
            let mail = tally(smtp.messages()?, expected);
            if mail.missing == 0 || Instant::now() >= deadline {
                return Ok(mail);
            }
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn tally(messages: Vec<ReceivedMessage>, expected: &BTreeSet<String>) -> Mail {
    let mut links: BTreeMap<&str, usize> = BTreeMap::new();
    let mut reached = BTreeSet::new();
    for message in &messages {
        if let Some(link) = &message.reset_path {
            *links.entry(link).or_default() += 1;
            if expected.contains(&message.to) {
                reached.insert(message.to.as_str());
            }
        }
    }
    let duplicates = links.values().map(|count| count - 1).sum();
    let reached = reached.len();
    Mail {
        reached,
        missing: expected.len() - reached,
        duplicates,
        messages,
    }
}

/// The outbox of `database` by status, with the most attempts any message took.
pub(crate) fn outbox(
    stage: &Stage,
    database: &str,
) -> anyhow::Result<BTreeMap<String, (u64, u64)>> {
    let rows = stage.postgres().query(
        database,
        "SELECT status, count(*), max(attempts) FROM outbox_messages GROUP BY status",
    )?;
    rows.lines()
        .map(|row| {
            let mut fields = row.split('|');
            let status = fields.next().unwrap_or_default().to_owned();
            let count = fields.next().unwrap_or_default().parse()?;
            let attempts = fields.next().unwrap_or_default().parse()?;
            Ok((status, (count, attempts)))
        })
        .collect::<Result<_, std::num::ParseIntError>>()
        .with_context(|| format!("an unexpected outbox row in {rows:?}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::tally;
    use crate::fleet::ReceivedMessage;

    fn message(to: &str, link: Option<&str>) -> ReceivedMessage {
        ReceivedMessage {
            to: to.to_owned(),
            subject: String::new(),
            reset_path: link.map(str::to_owned),
        }
    }

    #[test]
    fn counts_reached_missing_and_twice_sent_links() {
        let expected: BTreeSet<String> = ["a@x.test", "b@x.test", "c@x.test"]
            .map(str::to_owned)
            .into();
        let mail = tally(
            vec![
                message("a@x.test", Some("/reset/1")),
                message("a@x.test", Some("/reset/1")),
                message("b@x.test", Some("/reset/2")),
                message("c@x.test", None),
                message("stranger@x.test", Some("/reset/3")),
            ],
            &expected,
        );
        assert_eq!((mail.reached, mail.missing, mail.duplicates), (2, 1, 1));
    }
}
