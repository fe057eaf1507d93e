//! What the benchmark does through the pages, as a person would: staff sign-ins,
//! adding contacts, sending a reset email and opening its link, and picking up the
//! CSRF cookie and token that the load scenarios replay.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::fleet::{decode_quoted_printable, reset_path};
use crate::http::{HttpClient, csrf_field, unescape_html};
use crate::pages::sign_in;

/// The development data that `latchkey serve` creates.
pub(crate) const DEMO_HOST: &str = "acme.localhost";
const DEMO_ADMIN_EMAIL: &str = "admin@acme.test";
const DEMO_ADMIN_PASSWORD: &str = "acme-demo-admin-2026";
const DEMO_CLIENT: &str = "John A. Teague";
const RESET_CONTACT_NAME: &str = "Body Boom";
pub(crate) const RESET_CONTACT_EMAIL: &str = "body.boom@acme.test";
pub(crate) const RESET_CONTACT_PASSWORD: &str = "body-boom-demo-2026";

/// The delivery worker writes a message within seconds; this allows for a busy one.
const MAIL_TIMEOUT: Duration = Duration::from_secs(30);

/// A staff member signed in to the demo firm.
#[derive(Debug, Clone)]
pub(crate) struct StaffSession {
    client: HttpClient,
}

impl StaffSession {
    pub(crate) fn sign_in(address: SocketAddr) -> anyhow::Result<Self> {
        let mut client = HttpClient::new(address, DEMO_HOST);
        sign_in(
            &mut client,
            "/staff/login",
            DEMO_ADMIN_EMAIL,
            DEMO_ADMIN_PASSWORD,
        )?;
        Ok(Self { client })
    }

    /// The id of the demo client, from its link on the client list.
    pub(crate) fn demo_client_id(&mut self) -> anyhow::Result<String> {
        let page = self.client.get("/staff/clients")?;
        if page.status != 200 {
            bail!("GET /staff/clients answered {}", page.status);
        }
        linked_ids(&page.body, "/staff/clients/", "/contacts")
            .into_iter()
            .find(|(_, name)| name == DEMO_CLIENT)
            .map(|(id, _)| id)
            .with_context(|| format!("the client list has no link to {DEMO_CLIENT}"))
    }

    /// A CSRF token of this session, from the page where contacts are added.
    fn contact_form_token(&mut self, client_id: &str) -> anyhow::Result<String> {
        let page = self
            .client
            .get(&format!("/staff/clients/{client_id}/contacts/new"))?;
        if page.status != 200 {
            bail!("the new contact page answered {}", page.status);
        }
        csrf_field(&page.body)
    }

    /// Sends the demo contact a reset email from the client's contact list, and
    /// returns that email's link, read from the mail folder.
    pub(crate) fn send_reset_email(
        &mut self,
        client_id: &str,
        mail_dir: &Path,
    ) -> anyhow::Result<String> {
        let contacts_path = format!("/staff/clients/{client_id}/contacts");
        let page = self.client.get(&contacts_path)?;
        if page.status != 200 {
            bail!("GET {contacts_path} answered {}", page.status);
        }
        let contact_prefix = format!("{contacts_path}/");
        let contact_id = linked_ids(&page.body, &contact_prefix, "")
            .into_iter()
            .find(|(_, name)| name == RESET_CONTACT_NAME)
            .map(|(id, _)| id)
            .with_context(|| format!("the contact list has no link to {RESET_CONTACT_NAME}"))?;
        let action = format!("{contacts_path}/{contact_id}/reset-password");
        if !page.body.contains(&format!("action=\"{action}\"")) {
            bail!("the contact list has no reset form for {RESET_CONTACT_NAME}");
        }
        let token = csrf_field(&page.body)?;
        let mail_before = file_names(mail_dir);
        let answer = self.client.post_form(&action, &[("csrf_token", &token)])?;
        if !matches!(answer.status, 200 | 303) {
            bail!("POST {action} answered {}", answer.status);
        }
        wait_for_reset_link(mail_dir, &mail_before)
    }
}

/// Pairs of `(id, link text)` of links `{prefix}{id}{suffix}` whose id is a single
/// path segment.
fn linked_ids(html: &str, prefix: &str, suffix: &str) -> Vec<(String, String)> {
    let opening = format!("<a href=\"{prefix}");
    let mut links = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find(&opening) {
        rest = &rest[start + opening.len()..];
        let Some(href_end) = rest.find('"') else {
            break;
        };
        let Some(id) = rest[..href_end].strip_suffix(suffix) else {
            continue;
        };
        if id.is_empty() || id.contains('/') {
            continue;
        }
        let Some(text) = rest[href_end..]
            .strip_prefix("\">")
            .and_then(|after| after.split_once("</a>"))
            .map(|(text, _)| text)
        else {
            continue;
        };
        links.push((id.to_owned(), unescape_html(text.trim())));
    }
    links
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub(crate) struct ContactSeeding {
    pub(crate) contacts: usize,
    pub(crate) sessions: usize,
    /// Answers other than 303, and requests that got no answer at all.
    pub(crate) errors: usize,
    pub(crate) seconds: f64,
}

/// Adds `contacts` contacts to the demo client through the staff pages, from
/// `sessions` staff sessions at once, each signed in on its own.
pub(crate) fn add_contacts(
    address: SocketAddr,
    contacts: usize,
    sessions: usize,
) -> anyhow::Result<(ContactSeeding, Option<String>)> {
    println!("xtask: bench: adding {contacts} contacts from {sessions} staff sessions");
    let mut signed_in = Vec::with_capacity(sessions);
    for _ in 0..sessions {
        signed_in.push(StaffSession::sign_in(address)?);
    }
    let client_id = signed_in[0].demo_client_id()?;
    let mut workers = Vec::with_capacity(sessions);
    for mut session in signed_in {
        let token = session.contact_form_token(&client_id)?;
        workers.push((session, token));
    }
    let path = format!("/staff/clients/{client_id}/contacts/new");
    let started = Instant::now();
    let outcomes: Vec<(usize, Option<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = workers
            .into_iter()
            .enumerate()
            .map(|(number, (mut session, token))| {
                let path = &path;
                // Session `number` adds every `sessions`th contact, so the shares
                // differ by one at most.
                let share = (number..contacts).step_by(sessions).count();
                scope.spawn(move || session.add_contact_share(path, &token, number, share))
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| {
                handle
                    .join()
                    .unwrap_or_else(|_| (0, Some("a seeding thread panicked".to_owned())))
            })
            .collect()
    });
    let seconds = started.elapsed().as_secs_f64();
    let errors = outcomes.iter().map(|(errors, _)| errors).sum();
    let first_error = outcomes.into_iter().find_map(|(_, example)| example);
    Ok((
        ContactSeeding {
            contacts,
            sessions,
            errors,
            seconds,
        },
        first_error,
    ))
}

impl StaffSession {
    /// Returns the number of failures and a description of the first.
    fn add_contact_share(
        &mut self,
        path: &str,
        token: &str,
        session: usize,
        count: usize,
    ) -> (usize, Option<String>) {
        let mut errors = 0;
        let mut first_error = None;
        for number in 1..=count {
            let name = format!("Bench Contact {session}.{number}");
            let email = format!("bench.{session}.{number}@client.test");
            let fields = [
                ("name", name.as_str()),
                ("email", email.as_str()),
                ("locale", "en"),
                ("csrf_token", token),
            ];
            let failure = match self.client.post_form(path, &fields) {
                Ok(answer) if answer.status == 303 => None,
                Ok(answer) => Some(format!("adding {email} answered {}", answer.status)),
                Err(error) => Some(format!("adding {email}: {error:#}")),
            };
            if let Some(failure) = failure {
                errors += 1;
                first_error.get_or_insert(failure);
            }
        }
        (errors, first_error)
    }
}

/// The CSRF cookie and the form's token of a page, for scenarios that post forms.
#[derive(Debug, Clone)]
pub(crate) struct CsrfPair {
    pub(crate) cookie: String,
    pub(crate) token: String,
}

pub(crate) fn csrf_pair(address: SocketAddr, host: &str, path: &str) -> anyhow::Result<CsrfPair> {
    let mut client = HttpClient::new(address, host);
    let page = client.get(path)?;
    if page.status != 200 {
        bail!("GET {path} on {host} answered {}", page.status);
    }
    let token = csrf_field(&page.body)?;
    let cookie = client
        .cookie("latchkey_csrf")
        .with_context(|| format!("GET {path} set no latchkey_csrf cookie"))?
        .to_owned();
    Ok(CsrfPair { cookie, token })
}

/// Opens an emailed reset link the way a browser does: the answer moves the token
/// into the `latchkey_reset` cookie, whose value is returned.
pub(crate) fn open_reset_link(address: SocketAddr, path: &str) -> anyhow::Result<String> {
    let mut client = HttpClient::new(address, DEMO_HOST);
    let answer = client.get(path)?;
    if answer.status != 303 {
        bail!("GET /reset/… answered {} instead of 303", answer.status);
    }
    client
        .cookie("latchkey_reset")
        .map(str::to_owned)
        .context("GET /reset/… set no latchkey_reset cookie")
}

fn file_names(folder: &Path) -> BTreeSet<String> {
    std::fs::read_dir(folder)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The path `/reset/TOKEN` of the newest new message to the demo contact.
fn wait_for_reset_link(mail_dir: &Path, seen_before: &BTreeSet<String>) -> anyhow::Result<String> {
    let deadline = Instant::now() + MAIL_TIMEOUT;
    while Instant::now() < deadline {
        let mut new_files: Vec<String> = file_names(mail_dir)
            .difference(seen_before)
            .cloned()
            .collect();
        // The mailbox names files so that they sort by time, newest last. The `.eml`
        // first: the `.json` beside each holds the same text, JSON-escaped.
        new_files.sort_unstable_by_key(|name| {
            (!name.ends_with(".eml"), std::cmp::Reverse(name.clone()))
        });
        for name in new_files {
            let Ok(content) = std::fs::read_to_string(mail_dir.join(&name)) else {
                continue;
            };
            let text = decode_quoted_printable(&content);
            if !text.contains(RESET_CONTACT_EMAIL) {
                continue;
            }
            if let Some(path) = reset_path(&text) {
                return Ok(path);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    bail!(
        "no reset email to {RESET_CONTACT_EMAIL} arrived in {} within {} s",
        mail_dir.display(),
        MAIL_TIMEOUT.as_secs()
    )
}

#[cfg(test)]
mod tests {
    use super::linked_ids;

    #[test]
    fn reads_ids_and_names_of_links() {
        let html = r#"<td><a href="/staff/clients/1f/contacts">John A. Teague</a></td>
            <a href="/staff/clients/2e/contacts/9">Other</a>"#;
        assert_eq!(
            linked_ids(html, "/staff/clients/", "/contacts"),
            vec![("1f".to_owned(), "John A. Teague".to_owned())]
        );
    }
}
