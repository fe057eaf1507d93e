//! Real processes for the tasks that run more than one: `latchkey serve` and
//! `latchkey worker` instances, a PostgreSQL cluster of the task's own, an SMTP
//! server and nginx on loopback. Each is stopped however the task ends.

mod latchkey;
mod nginx;
mod postgres;
mod smtp;

pub(crate) use self::latchkey::{Latchkey, Serving, log_tail, stop_process};
pub(crate) use self::nginx::{Nginx, ROUTE_HEADER, SERVED_BY_HEADER};
pub(crate) use self::postgres::{PrivateCluster, psql};
pub(crate) use self::smtp::{ReceivedMessage, SmtpSink, decode_quoted_printable, reset_path};

/// Joins scoped threads that each return a result, in order; a thread that
/// panicked is an error of its own.
pub(crate) fn join_each<T>(
    handles: Vec<std::thread::ScopedJoinHandle<'_, anyhow::Result<T>>>,
) -> Vec<anyhow::Result<T>> {
    handles
        .into_iter()
        .map(|handle| {
            handle
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("a thread panicked")))
        })
        .collect()
}

/// Whether this task runs as root, as CI does: PostgreSQL refuses to, and nginx's
/// workers would switch to a user who cannot enter the task's folders.
pub(crate) fn is_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| String::from_utf8_lossy(&output.stdout).trim() == "0")
}
