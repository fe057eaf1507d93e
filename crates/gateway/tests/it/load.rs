//! A busy Monday in one process: several staff members adding contacts at once while
//! the delivery worker sends their invitations and the processors handle "Forgot your
//! password?" and "Find your firm" requests. Nothing may fail because something else
//! is writing, on SQLite as on PostgreSQL.

use std::sync::Arc;
use std::time::Duration;

use identity::StaffRole;
use notification::{OutboxStatus, Transport};
use poem::http::StatusCode;
use tokio::sync::watch;

use crate::fixture::{STAFF_PASSWORD, attempts};
use crate::helpers::{Browser, TestApp, location, spawn_app_with};

const STAFF_SESSIONS: usize = 8;
const CONTACTS_EACH: usize = 200;
const FORGOT_REQUESTS: usize = 100;

/// Answers that were not what a person expects, with what was asked.
type Failures = Vec<String>;

async fn add_contacts(app: Arc<TestApp>, session: usize, client_id: tenancy::ClientId) -> Failures {
    // Eight people at eight machines: one machine's sign-ins in flight at once count
    // against its limit, since each is counted before its hash.
    let address = format!("192.0.2.{}", session + 1);
    let browser = Browser::from_address(&app, "acme.localhost", &address);
    let signed_in = browser
        .sign_in_staff("admin@acme.test", STAFF_PASSWORD)
        .await;
    if signed_in.0.status() != StatusCode::SEE_OTHER {
        return vec![format!(
            "session {session}: sign-in {}",
            signed_in.0.status()
        )];
    }
    let form = format!("/staff/clients/{client_id}/contacts/new");
    let token = browser.csrf_token(&form).await;
    let mut failures = Failures::new();
    for n in 0..CONTACTS_EACH {
        let name = format!("Contact {session}-{n}");
        let email = format!("contact.{session}.{n}@client.test");
        let response = browser
            .post(
                &form,
                &[
                    ("name", name.as_str()),
                    ("email", email.as_str()),
                    ("locale", "en"),
                    ("csrf_token", token.as_str()),
                ],
            )
            .await;
        if response.0.status() != StatusCode::SEE_OTHER
            || !location(&response).ends_with("/contacts")
        {
            failures.push(format!("{email}: {}", response.0.status()));
        }
    }
    failures
}

async fn ask_for_links(app: Arc<TestApp>) -> Failures {
    let firm = Browser::new(&app, "acme.localhost");
    let platform = Browser::new(&app, "localhost");
    let firm_token = firm.csrf_token("/forgot-password").await;
    let platform_token = platform.csrf_token("/find-your-firm").await;
    let mut failures = Failures::new();
    for n in 0..FORGOT_REQUESTS {
        // Known and unknown addresses alike.
        let email = format!("contact.{}.{}@client.test", n % STAFF_SESSIONS, n);
        let forms = [
            ("forgot", &firm, "/forgot-password", &firm_token),
            ("find", &platform, "/find-your-firm", &platform_token),
        ];
        for (form, browser, path, token) in forms {
            let fields = [("email", email.as_str()), ("csrf_token", token.as_str())];
            let answer = browser.post(path, &fields).await;
            if answer.0.status() != StatusCode::OK {
                failures.push(format!("{form} {email}: {}", answer.0.status()));
            }
        }
    }
    failures
}

async fn every_message_leaves_the_queue(app: &TestApp, expected_at_least: usize) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let messages = app.queued_emails().await;
        let sent = messages
            .iter()
            .filter(|message| message.status == OutboxStatus::Sent)
            .count();
        let stuck: Vec<_> = messages
            .iter()
            .filter(|message| message.status == OutboxStatus::Dead)
            .collect();
        assert!(stuck.is_empty(), "dead messages: {stuck:?}");
        if sent == messages.len() && sent >= expected_at_least {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{sent} of {} messages sent",
            messages.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_staff_sessions_add_contacts_while_the_queues_run() {
    // Every request comes from one test address: its limits are not what is tested.
    let app = Arc::new(
        spawn_app_with(&[
            ("LATCHKEY__LIMITS__FORGOT_PER_ADDRESS", "100000"),
            ("LATCHKEY__LIMITS__SIGN_IN_PER_ADDRESS", "100000"),
        ])
        .await,
    );
    let firm = app.firm_named("acme", "ACME Corporation").await;
    app.add_staff(&firm, StaffRole::Admin).await;
    let client = &firm.client;

    let (stop, stopped) = watch::channel(false);
    let until_stopped = |mut receiver: watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    let worker = app.delivery_worker(Transport::Log, attempts(3));
    let background = [
        tokio::spawn(worker.run(until_stopped(stopped.clone()))),
        app.run_processors(until_stopped(stopped.clone())),
    ];

    let mut sessions: Vec<_> = (0..STAFF_SESSIONS)
        .map(|session| tokio::spawn(add_contacts(app.clone(), session, client.id)))
        .collect();
    sessions.push(tokio::spawn(ask_for_links(app.clone())));
    let mut failures = Failures::new();
    for session in sessions {
        failures.extend(session.await.unwrap());
    }
    assert!(
        failures.is_empty(),
        "{} failed answers, the first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    let contacts = identity::list_contacts(&app.state.services.db, firm.tenant.id, client.id)
        .await
        .unwrap();
    // Body Boom was there before the sessions began.
    assert_eq!(contacts.len(), STAFF_SESSIONS * CONTACTS_EACH + 1);

    // Every invitation goes out, and every request is handled.
    every_message_leaves_the_queue(&app, STAFF_SESSIONS * CONTACTS_EACH).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !reset_token::pending_reset_requests(&app.state.services.db, chrono::Utc::now(), 1)
        .await
        .unwrap()
        .is_empty()
    {
        assert!(tokio::time::Instant::now() < deadline, "requests left");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = stop.send(true);
    for task in background {
        task.await.unwrap();
    }
}
