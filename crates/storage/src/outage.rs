//! A PostgreSQL server that cannot be reached (stopped, restarting, the network
//! cut): recognising the errors that say so, and failing fast while it lasts.
//!
//! sqlx keeps retrying a refused connection until the pool's acquire timeout, so
//! without this every request of an outage would hang for that long before its
//! error page. Once one operation has found the server unreachable, the others fail
//! at once; one a second is let through to find out whether it is back, and the
//! first success ends the outage.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

/// How often, during an outage, one operation is let through to try the server.
const PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// Whether `error` says the database could not be reached, rather than that a
/// statement failed: no connection to be had, the connection broken, or the server
/// shutting down or not yet accepting connections (SQLSTATE classes 08 and 57P).
pub fn is_unreachable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) => true,
        DbErr::Conn(runtime) | DbErr::Exec(runtime) | DbErr::Query(runtime) => {
            runtime_unreachable(runtime)
        }
        _ => false,
    }
}

fn runtime_unreachable(error: &RuntimeErr) -> bool {
    let RuntimeErr::SqlxError(error) = error else {
        return false;
    };
    match error.as_ref() {
        sea_orm::sqlx::Error::Io(_)
        | sea_orm::sqlx::Error::PoolTimedOut
        | sea_orm::sqlx::Error::PoolClosed
        | sea_orm::sqlx::Error::WorkerCrashed => true,
        sea_orm::sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

/// Whether the server is known to be unreachable, and when it was last tried.
#[derive(Debug)]
pub(crate) struct Outage {
    /// `None` while the server answers; during an outage, when an operation was
    /// last let through.
    last_try: Mutex<Option<Instant>>,
    probe_interval: Duration,
}

impl Default for Outage {
    fn default() -> Self {
        Self::with_probe_interval(PROBE_INTERVAL)
    }
}

impl Outage {
    fn with_probe_interval(probe_interval: Duration) -> Self {
        Self {
            last_try: Mutex::new(None),
            probe_interval,
        }
    }

    /// `Ok` when an operation may try the server: always outside an outage, and
    /// once a probe interval during one. Otherwise the error an unreachable server
    /// would have given, without the wait.
    pub(crate) fn admit(&self) -> Result<(), DbErr> {
        let mut last_try = self.last_try.lock().unwrap_or_else(PoisonError::into_inner);
        match *last_try {
            None => Ok(()),
            Some(tried) if tried.elapsed() >= self.probe_interval => {
                *last_try = Some(Instant::now());
                Ok(())
            }
            Some(_) => Err(DbErr::ConnectionAcquire(ConnAcquireErr::ConnectionClosed)),
        }
    }

    /// Learns from an operation's result: an unreachable server starts (or goes on
    /// with) an outage; any answer from the server, even an error, ends it.
    pub(crate) fn observe<T>(&self, result: &Result<T, DbErr>) {
        let unreachable = result.as_ref().err().is_some_and(is_unreachable);
        let mut last_try = self.last_try.lock().unwrap_or_else(PoisonError::into_inner);
        match (unreachable, last_try.is_some()) {
            (true, false) => {
                tracing::warn!("the database cannot be reached; failing fast until it answers");
                *last_try = Some(Instant::now());
            }
            (false, true) => {
                tracing::info!("the database answers again");
                *last_try = None;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use sea_orm::{ConnAcquireErr, DbErr, RuntimeErr};

    use super::{Outage, is_unreachable};

    fn refused() -> DbErr {
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        DbErr::Conn(RuntimeErr::SqlxError(Arc::new(sea_orm::sqlx::Error::Io(
            io,
        ))))
    }

    #[test]
    fn tells_an_unreachable_server_from_a_failed_statement() {
        assert!(is_unreachable(&DbErr::ConnectionAcquire(
            ConnAcquireErr::Timeout
        )));
        assert!(is_unreachable(&refused()));
        let broken = DbErr::Exec(RuntimeErr::SqlxError(Arc::new(
            sea_orm::sqlx::Error::PoolClosed,
        )));
        assert!(is_unreachable(&broken));
        assert!(!is_unreachable(&DbErr::RecordNotFound("x".into())));
        assert!(!is_unreachable(&DbErr::Custom("constraint".into())));
        let not_sqlx = DbErr::Query(RuntimeErr::Internal("bad statement".into()));
        assert!(!is_unreachable(&not_sqlx));
    }

    #[test]
    fn fails_fast_during_an_outage_and_lets_a_probe_through_each_interval() {
        let outage = Outage::with_probe_interval(Duration::from_millis(50));
        assert!(outage.admit().is_ok());
        outage.observe::<()>(&Err(refused()));
        let refused_at_once = outage.admit().unwrap_err();
        assert!(is_unreachable(&refused_at_once), "{refused_at_once}");
        std::thread::sleep(Duration::from_millis(60));
        assert!(outage.admit().is_ok(), "the probe goes through");
        assert!(outage.admit().is_err(), "only one probe an interval");
        outage.observe::<()>(&Err(refused()));
        assert!(outage.admit().is_err(), "the probe failed: still out");
        std::thread::sleep(Duration::from_millis(60));
        assert!(outage.admit().is_ok());
        outage.observe(&Ok(()));
        assert!(outage.admit().is_ok() && outage.admit().is_ok(), "back");
    }

    #[test]
    fn a_failed_statement_ends_an_outage_and_does_not_start_one() {
        let outage = Outage::with_probe_interval(Duration::from_secs(60));
        outage.observe::<()>(&Err(DbErr::Custom("unique violation".into())));
        assert!(outage.admit().is_ok());
        outage.observe::<()>(&Err(refused()));
        assert!(outage.admit().is_err());
        outage.observe::<()>(&Err(DbErr::Custom("unique violation".into())));
        assert!(outage.admit().is_ok());
    }
}
