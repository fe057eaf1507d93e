//! The first two acts: email delivery when the SMTP server goes away, and when the
//! process sending is killed.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;

use super::desk::{Mail, Presses, outbox, press_for_all, wait_for_resets};
use super::{DELIVERY_BATCH, LEASE_SECONDS, Seeded, Stage};
use crate::checks::Report;

const CONTACTS: usize = 1_000;
const DESKS: usize = 4;
/// The SMTP server goes away once this share of the presses is made...
const OUTAGE_AFTER_PRESSES: usize = CONTACTS / 4;
/// ...and comes back after at least this long, and after the last press.
const OUTAGE: Duration = Duration::from_secs(10);
/// Every email of an act arrives within this long of the fault's end.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(180);
/// The SMTP server of the kill act waits this long between keeping a message and
/// accepting it: delivery runs behind the presses, and a kill finds messages whose
/// sender never heard they arrived.
const SLOW_ACCEPT: Duration = Duration::from_millis(250);

/// SMTP stopped during 1,000 staff resets, then started: 1,000 delivered, 0 lost.
pub(crate) fn smtp_outage(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    const ACT: &str = "smtp-outage";
    let database = "chaos_smtp_outage";
    let Seeded {
        mut smtp,
        latchkey,
        contacts,
        addresses: expected,
    } = stage.seeded(ACT, database, 1, CONTACTS, Duration::ZERO)?;
    let server = latchkey.serve(ACT)?;

    let pressed = AtomicUsize::new(0);
    let mut outage = None;
    let presses = std::thread::scope(|scope| {
        let pressing = scope.spawn(|| press_for_all(&[server.public], &contacts, DESKS, &pressed));
        while pressed.load(Ordering::Relaxed) < OUTAGE_AFTER_PRESSES && !pressing.is_finished() {
            std::thread::sleep(Duration::from_millis(5));
        }
        smtp.halt();
        let halted = Instant::now();
        let pressed_before = pressed.load(Ordering::Relaxed);
        let presses = pressing.join();
        std::thread::sleep(OUTAGE.saturating_sub(halted.elapsed()));
        let resumed = smtp.resume();
        outage = Some((halted.elapsed(), pressed_before, resumed));
        presses
    });
    let presses = presses.map_err(|_| anyhow::anyhow!("the pressing thread panicked"))??;
    let (outage, pressed_before, resumed) = outage.context("the outage did not happen")?;
    resumed?;
    let delivered_during = smtp.count();
    let mail = wait_for_resets(&smtp, &expected, DELIVERY_TIMEOUT)?;

    presses_report(ACT, report, presses, CONTACTS);
    report.note(
        ACT,
        "presses made before the SMTP server stopped",
        pressed_before,
    );
    report.note(
        ACT,
        "seconds the SMTP server was away",
        format!("{:.1}", outage.as_secs_f64()),
    );
    report.note(
        ACT,
        "emails in the mailbox when it came back",
        delivered_during,
    );
    delivered_report(ACT, report, &mail, CONTACTS);
    report.expect_eq(ACT, "emails sent twice", mail.duplicates, 0);
    outbox_report(stage, database, ACT, report)?;
    Ok(())
}

/// SIGKILL during delivery, then a restart: every message at least once, and the
/// duplicates no more than the messages claimed at the kill.
pub(crate) fn kill_during_delivery(stage: &Stage, report: &mut Report) -> anyhow::Result<()> {
    const ACT: &str = "kill-during-delivery";
    let database = "chaos_kill";
    let Seeded {
        smtp,
        latchkey,
        contacts,
        addresses: expected,
    } = stage.seeded(ACT, database, 1, CONTACTS, SLOW_ACCEPT)?;
    let server = latchkey.serve(ACT)?;

    let presses = press_for_all(&[server.public], &contacts, DESKS, &AtomicUsize::new(0))?;
    // The kill must find messages in flight, or it tests nothing.
    let in_flight = "SELECT count(*) FROM outbox_messages WHERE status = 'sending'";
    let deadline = Instant::now() + Duration::from_secs(10);
    while stage.postgres().count(database, in_flight)? == 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    server.kill();
    let claimed = stage.postgres().count(database, in_flight)?;
    let delivered_at_kill = smtp.count();
    let restarted = Instant::now();
    let _server = latchkey.serve(&format!("{ACT}-restarted"))?;
    let mail = wait_for_resets(&smtp, &expected, DELIVERY_TIMEOUT)?;

    presses_report(ACT, report, presses, CONTACTS);
    report.note(ACT, "emails in the mailbox at the kill", delivered_at_kill);
    report.check(
        ACT,
        "messages claimed (in flight) at the kill",
        claimed,
        format!("1 to {DELIVERY_BATCH}"),
        (1..=DELIVERY_BATCH).contains(&claimed),
    );
    report.note(
        ACT,
        "seconds from restart to the last email",
        format!(
            "{:.1} (lease {LEASE_SECONDS} s)",
            restarted.elapsed().as_secs_f64()
        ),
    );
    delivered_report(ACT, report, &mail, CONTACTS);
    report.expect_at_most(ACT, "emails sent twice", mail.duplicates as u64, claimed);
    outbox_report(stage, database, ACT, report)?;
    Ok(())
}

/// Every press answered "queued" (and the first refusal, if any).
pub(crate) fn presses_report(act: &str, report: &mut Report, presses: Presses, wanted: usize) {
    report.expect_eq(
        act,
        "Reset Password presses answered queued",
        presses.queued,
        wanted,
    );
    if let Some(refusal) = presses.first_refusal {
        report.note(act, "first refused press", refusal);
    }
}

fn delivered_report(act: &str, report: &mut Report, mail: &Mail, contacts: usize) {
    report.expect_eq(
        act,
        "contacts whose reset email arrived",
        mail.reached,
        contacts,
    );
    report.expect_eq(act, "contacts whose reset email was lost", mail.missing, 0);
}

/// Dead messages (wanted none) and the most attempts one message took.
pub(crate) fn outbox_report(
    stage: &Stage,
    database: &str,
    act: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let outbox = outbox(stage, database)?;
    let count = |status: &str| outbox.get(status).map_or(0, |(count, _)| *count);
    report.expect_eq(act, "outbox messages dead", count("dead"), 0);
    report.expect_eq(
        act,
        "outbox messages not sent",
        count("queued") + count("sending"),
        0,
    );
    let most_attempts = outbox
        .values()
        .map(|(_, attempts)| *attempts)
        .max()
        .unwrap_or(0);
    report.note(act, "most attempts one message took", most_attempts);
    Ok(())
}
