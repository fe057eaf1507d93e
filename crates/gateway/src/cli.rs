//! The command line: `latchkey serve | migrate | tenant …`, each with `--config FILE`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, Parser, Subcommand};
use gateway::settings::{Environment, Settings};
use gateway::{database, server, telemetry};
use notification::{MessageFilter, OutboxMessageId};
use service::firms::{self, NewFirm};
use tenancy::{TenantSlug, TenantStatus};

#[derive(Debug, Parser)]
#[command(
    name = "latchkey",
    version,
    about = "Password resets and client portals for professional firms"
)]
struct Cli {
    /// A TOML file layered over the shipped configuration.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve firm pages, the platform page and the admin listener (the default).
    Serve,
    /// Deliver email (and handle reset requests) without serving pages.
    Worker,
    /// Apply every pending database migration.
    Migrate,
    /// Inspect and retry the email outbox.
    #[command(subcommand)]
    Outbox(OutboxCommand),
    /// Requests that failed every attempt ("Forgot your password?", "Find your firm",
    /// access requests), and putting them back.
    #[command(subcommand)]
    Requests(RequestsCommand),
    /// Provision and manage firms.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Fill the database with firms and contacts for benchmarks (not in production).
    Seed(Seed),
}

#[derive(Debug, Args)]
struct Seed {
    /// Firms `firm-00001` … to create (existing ones are kept).
    #[arg(long, default_value_t = 1)]
    firms: usize,
    /// Active contacts of each firm.
    #[arg(long, default_value_t = 100)]
    contacts_per_firm: usize,
}

#[derive(Debug, Subcommand)]
enum TenantCommand {
    /// Create a firm.
    Create(CreateTenant),
    /// List every firm.
    List,
    /// Take a firm's portal offline; its data stays.
    Suspend { slug: String },
    /// Bring a suspended firm's portal back.
    Resume { slug: String },
    /// Take a firm offline for good; its data is purged after `tenancy.purge_after_days`.
    Delete {
        slug: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// Remove the data of the firms deleted longer ago than the grace period now
    /// (`serve` and `worker` also do this every hour).
    Purge,
}

#[derive(Debug, Subcommand)]
enum OutboxCommand {
    /// List messages, newest first.
    List {
        /// Only the dead ones.
        #[arg(long)]
        dead: bool,
    },
    /// Send a dead message again.
    Retry { id: String },
}

#[derive(Debug, Subcommand)]
enum RequestsCommand {
    /// List the requests set aside, newest first.
    List,
    /// Put a set-aside request back in its queue.
    Retry { id: String },
}

#[derive(Debug, Args)]
struct CreateTenant {
    /// The subdomain: 1-63 of a-z, 0-9 and '-'.
    #[arg(long)]
    slug: String,
    /// The firm's display name.
    #[arg(long)]
    name: String,
    /// The email address of the firm's first administrator.
    #[arg(long)]
    admin_email: String,
}

pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let environment = Environment::from_env()?;
    let settings = Settings::load(environment, cli.config.as_deref())?;
    telemetry::init(&settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => server::serve(settings, server::shutdown_signal()).await?,
        Command::Migrate => {
            let db = database::open(&settings).await?;
            let applied = database::migrate(&db).await?;
            println!("applied {applied} migration(s); the database is up to date");
        }
        Command::Worker => server::work(settings, server::shutdown_signal()).await?,
        Command::Tenant(command) => run_tenant(command, settings).await?,
        Command::Outbox(command) => run_outbox(command, settings).await?,
        Command::Seed(seed) => run_seed(seed, settings).await?,
        Command::Requests(command) => run_requests(command, settings).await?,
    }
    Ok(())
}

/// The use cases over the configured database, its schema made ready as `serve`
/// would, for a command that runs once and closes it.
async fn open_services(settings: &Settings) -> anyhow::Result<service::Services> {
    let db = database::open(settings).await?;
    database::prepare_schema(&db, settings).await?;
    Ok(gateway::state::services_for(settings, db)?)
}

async fn run_requests(command: RequestsCommand, settings: Settings) -> anyhow::Result<()> {
    let services = open_services(&settings).await?;
    match command {
        RequestsCommand::List => {
            let set_aside = service::cross_firm::set_aside_requests(&services, 200).await?;
            println!(
                "{:<36} {:<16} {:<24} {:<20} {:>8} LAST ERROR",
                "ID", "QUEUE", "EMAIL DOMAIN", "REQUESTED", "ATTEMPTS"
            );
            for request in set_aside {
                println!(
                    "{:<36} {:<16} {:<24} {:<20} {:>8} {}",
                    request.id,
                    request.queue.as_str(),
                    request.email_domain,
                    request.requested_at.format("%Y-%m-%d %H:%M:%S"),
                    request.attempts,
                    request.last_error
                );
            }
        }
        RequestsCommand::Retry { id } => {
            let parsed = uuid::Uuid::parse_str(&id)
                .map_err(|_| anyhow::anyhow!("`{id}` is not a request id"))?;
            match service::processors::retry_request(&services, parsed).await? {
                Some(queue) => println!(
                    "request {parsed} is back in {}; a running `serve` or `worker` handles it within seconds",
                    queue.as_str()
                ),
                None => bail!("there is no set-aside request {parsed}"),
            }
        }
    }
    services.db.close().await.ok();
    Ok(())
}

async fn run_seed(seed: Seed, settings: Settings) -> anyhow::Result<()> {
    if settings.environment == Environment::Production {
        bail!(
            "`latchkey seed` creates accounts with a published password; it never runs in production"
        );
    }
    let services = open_services(&settings).await?;
    let started = std::time::Instant::now();
    let created =
        gateway::seed::seed_firms(&services, seed.firms, seed.contacts_per_firm, |number| {
            if number % 1000 == 0 || number == seed.firms {
                println!(
                    "{number} of {} firms ready ({:.0?})",
                    seed.firms,
                    started.elapsed()
                );
            }
        })
        .await?;
    println!(
        "created {created} firm(s) of {} contacts in {:.1?}; every seeded account's password is {}",
        seed.contacts_per_firm,
        started.elapsed(),
        gateway::seed::SEED_PASSWORD
    );
    services.db.close().await.ok();
    Ok(())
}

async fn run_tenant(command: TenantCommand, settings: Settings) -> anyhow::Result<()> {
    // The same service functions as the operator API, so both follow the same rules.
    let services = open_services(&settings).await?;
    match command {
        TenantCommand::Create(create) => {
            let new = NewFirm {
                slug: &create.slug,
                name: &create.name,
                admin_email: &create.admin_email,
                admin_name: None,
            };
            let tenant = firms::provision_firm(&services, new).await?;
            println!(
                "created firm {} ({}) at {}/",
                tenant.slug,
                tenant.display_name,
                services.firm_url(&tenant, "")
            );
            println!(
                "an invitation for {} is in the outbox; a running `serve` or `worker` sends it",
                tenant.admin_email
            );
        }
        TenantCommand::List => {
            let tenants = service::cross_firm::all_firms(&services).await?;
            println!("{:<24} {:<10} {:<32} HOST", "SLUG", "STATUS", "NAME");
            for tenant in tenants {
                println!(
                    "{:<24} {:<10} {:<32} {}",
                    tenant.slug,
                    tenant.status,
                    tenant.display_name,
                    tenant.canonical_host(&services.config.links.base_domain)
                );
            }
        }
        TenantCommand::Suspend { slug } => {
            let tenant = firms::set_firm_status(&services, &slug, TenantStatus::Suspended).await?;
            println!("suspended firm {}", tenant.slug);
        }
        TenantCommand::Resume { slug } => {
            let tenant = firms::set_firm_status(&services, &slug, TenantStatus::Active).await?;
            println!("resumed firm {}", tenant.slug);
        }
        TenantCommand::Delete { slug, yes } => {
            let tenant = firms::find_firm(&services, &slug).await?;
            if !yes {
                confirm_deletion(&tenant.slug)?;
            }
            let deleted = firms::delete_firm(&services, &slug).await?;
            let purge = firms::purge_due(&services, &deleted)
                .map(|at| at.format("%Y-%m-%d %H:%M UTC").to_string())
                .unwrap_or_default();
            println!(
                "deleted firm {}; its data is purged after {purge}",
                deleted.slug
            );
        }
        TenantCommand::Purge => {
            let purged = firms::purge_deleted_firms(&services, chrono::Utc::now()).await?;
            if purged.is_empty() {
                println!("no deleted firm is past its grace period");
            }
            for slug in purged {
                println!("purged firm {slug} and all its data");
            }
        }
    }
    services.db.close().await.ok();
    Ok(())
}

async fn run_outbox(command: OutboxCommand, settings: Settings) -> anyhow::Result<()> {
    let services = open_services(&settings).await?;
    match command {
        OutboxCommand::List { dead } => {
            let filter = if dead {
                MessageFilter::dead()
            } else {
                MessageFilter::all()
            };
            let messages = service::cross_firm::outbox_messages(&services, filter, 200).await?;
            println!(
                "{:<36} {:<8} {:<20} {:>8} {:<20} LAST ERROR",
                "ID", "STATUS", "KIND", "ATTEMPTS", "CREATED"
            );
            for message in messages {
                println!(
                    "{:<36} {:<8} {:<20} {:>8} {:<20} {}",
                    message.id,
                    message.status,
                    message.kind,
                    message.attempts,
                    message.created_at.format("%Y-%m-%d %H:%M:%S"),
                    message.last_error.as_deref().unwrap_or("")
                );
            }
        }
        OutboxCommand::Retry { id } => {
            let id: OutboxMessageId = id
                .parse()
                .map_err(|_| anyhow::anyhow!("`{id}` is not a message id"))?;
            // Re-issuing a credential renders and queues a new email, as the pages do.
            let sent = service::emails::retry_dead_message(&services, id).await?;
            if sent.id == id {
                println!("message {id} is queued again; a running worker sends it within seconds");
            } else {
                println!(
                    "message {id} carried a credential, which is never sent twice: a new {} \
                     email ({}) is queued instead; a running worker sends it within seconds",
                    sent.kind, sent.id
                );
            }
        }
    }
    services.db.close().await.ok();
    Ok(())
}

/// Deleting takes the portal offline and, after the grace period, removes its data
/// for good, so the operator types the slug again.
fn confirm_deletion(slug: &TenantSlug) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to delete firm `{slug}` without confirmation; pass --yes to confirm");
    }
    print!(
        "This takes firm `{slug}` offline and later removes all its data. Type the slug to confirm: "
    );
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != slug.as_str() {
        bail!("not confirmed; firm `{slug}` was not deleted");
    }
    Ok(())
}
