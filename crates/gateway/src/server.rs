//! `latchkey serve`: both listeners, until SIGTERM or SIGINT.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use notification::DeliveryWorker;
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use service::{emails, firms, processors};
use tokio::sync::watch;

use crate::database::{self, DatabaseError};
use crate::routes::{admin_endpoint, public_endpoint};
use crate::settings::{Environment, Settings};
use crate::state::AppState;
use crate::{demo, mail};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot create the demo firm: {0}")]
    Demo(#[from] demo::DemoError),
    #[error("cannot set up password hashing: {0}")]
    Identity(#[from] identity::IdentityError),
    #[error("email: {0}")]
    Mail(notification::NotificationError),
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}

/// Serves until `shutdown` completes, then lets requests in flight finish for up to
/// `server.shutdown_grace_seconds`.
pub async fn serve(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let grace = Duration::from_secs(settings.server.shutdown_grace_seconds);
    let public_address = settings.server.bind;
    let admin_address = settings.server.admin_bind;
    let state = start_up(settings).await?;

    let public = bind(public_address).await?;
    let admin = bind(admin_address).await?;
    let public_bound = first_address(&public, public_address);
    let admin_bound = first_address(&admin, admin_address);
    announce(&state, public_bound, admin_bound);

    let (stop_sender, stop_receiver) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down; finishing requests in flight");
        let _ = stop_sender.send(true);
    });
    let stopped = |mut receiver: watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };

    let background = start_background(&state, stop_receiver.clone())?;
    let public_server = Server::new_with_acceptor(public).run_with_graceful_shutdown(
        public_endpoint(&state),
        stopped(stop_receiver.clone()),
        Some(grace),
    );
    let admin_server = Server::new_with_acceptor(admin).run_with_graceful_shutdown(
        admin_endpoint(&state),
        stopped(stop_receiver),
        Some(grace),
    );
    let (public_result, admin_result) = tokio::join!(public_server, admin_server);
    public_result?;
    admin_result?;
    for task in background {
        let _ = task.await;
    }
    state.services.db.close().await.ok();
    tracing::info!("stopped");
    Ok(())
}

/// Everything `serve` does before it listens: opens the database, brings the schema
/// up to date (development) or checks it, and creates the demo firm (development).
/// Instances that start together on one database each get through it.
pub async fn start_up(settings: Settings) -> Result<AppState, ServeError> {
    let state = open_state(settings).await?;
    if state.settings.environment == Environment::Development {
        demo::ensure_demo_firm(&state.services.db, &state.services.hasher).await?;
    }
    Ok(state)
}

/// The database opened, its schema brought up to date or checked, and the state
/// every process of the binary shares.
async fn open_state(settings: Settings) -> Result<AppState, ServeError> {
    let db = database::open(&settings).await?;
    database::prepare_schema(&db, &settings).await?;
    Ok(AppState::new(settings, db)?)
}

/// The delivery worker, the reset-request processor and the purge of deleted firms,
/// as tasks of this process.
fn start_background(
    state: &AppState,
    stop: watch::Receiver<bool>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, ServeError> {
    let stopped = |mut receiver: watch::Receiver<bool>| async move {
        let _ = receiver.wait_for(|stop| *stop).await;
    };
    let transport = mail::transport(&state.settings).map_err(ServeError::Mail)?;
    let settings = mail::delivery_settings(&state.settings).map_err(ServeError::Mail)?;
    let worker = DeliveryWorker::new(
        state.services.db.clone(),
        transport,
        settings,
        state.services.waker.clone(),
    )
    .with_observer(std::sync::Arc::new(emails::AuditTrailObserver));
    Ok(vec![
        tokio::spawn(worker.run(stopped(stop.clone()))),
        tokio::spawn(processors::run(
            state.services.clone(),
            stopped(stop.clone()),
        )),
        tokio::spawn(firms::run_purge(state.services.clone(), stopped(stop))),
    ])
}

/// `latchkey worker`: only the background work, for deployments that run it apart
/// from the web servers.
pub async fn work(
    settings: Settings,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let grace = Duration::from_secs(settings.server.shutdown_grace_seconds);
    let admin_address = settings.server.admin_bind;
    let state = open_state(settings).await?;
    // Health, readiness and metrics, as `serve` has them: an orchestrator probes a
    // worker like any other process, and its queue gauges are scraped from it.
    let admin = bind(admin_address).await?;
    let admin_bound = first_address(&admin, admin_address);
    let (stop_sender, stop_receiver) = watch::channel(false);
    let tasks = start_background(&state, stop_receiver.clone())?;
    println!(
        "Latchkey worker ({}) is delivering email (admin http://{admin_bound})",
        state.settings.environment
    );
    let mut stopped = stop_receiver;
    let admin_server = Server::new_with_acceptor(admin).run_with_graceful_shutdown(
        admin_endpoint(&state),
        async move {
            let _ = stopped.wait_for(|stop| *stop).await;
        },
        Some(grace),
    );
    let stop = async move {
        shutdown.await;
        let _ = stop_sender.send(true);
    };
    let (admin_result, ()) = tokio::join!(admin_server, stop);
    admin_result?;
    for task in tasks {
        let _ = task.await;
    }
    Ok(())
}

async fn bind(address: SocketAddr) -> Result<impl Acceptor, ServeError> {
    TcpListener::bind(address)
        .into_acceptor()
        .await
        .map_err(|source| ServeError::Bind { address, source })
}

fn first_address(acceptor: &impl Acceptor, configured: SocketAddr) -> SocketAddr {
    acceptor
        .local_addr()
        .into_iter()
        .find_map(|address| address.as_socket_addr().copied())
        .unwrap_or(configured)
}

/// Tells the person at the terminal where to go. Printed, not logged, so it reads well
/// and scripts (the end-to-end suite) can find the bound ports.
fn announce(state: &AppState, public: SocketAddr, admin: SocketAddr) {
    let server = &state.settings.server;
    println!(
        "Latchkey ({}) is listening on http://{public} (admin http://{admin})",
        state.settings.environment
    );
    if state.settings.environment == Environment::Development {
        let firm_host = format!("{}.{}", demo::DEMO_SLUG, server.base_domain);
        println!(
            "  {} portal:  {}/",
            demo::DEMO_NAME,
            server.public_origin(&firm_host)
        );
        println!(
            "  platform page:        {}/",
            server.public_origin(server.base_domain.as_str())
        );
        println!("  health:               http://{admin}/healthz");
        println!(
            "  staff sign-in:        {}/staff/login  as {} / {}",
            server.public_origin(&firm_host),
            demo::DEMO_ADMIN_EMAIL,
            demo::DEMO_ADMIN_PASSWORD
        );
        for (name, email, password) in demo::DEMO_CONTACTS {
            println!(
                "  contact sign-in:      {}/login  as {email} / {password}  ({name})",
                server.public_origin(&firm_host)
            );
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
}
