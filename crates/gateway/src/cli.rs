//! The command line: `latchkey serve | migrate | tenant …`, each with `--config FILE`.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use gateway::settings::{Environment, Settings};
use gateway::{database, server, telemetry};
use notification::{MessageFilter, OutboxMessageId};
use tenancy::{NewTenant, TenantSlug, TenantStatus};

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
    /// Provision and manage firms.
    #[command(subcommand)]
    Tenant(TenantCommand),
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
    /// Delete a firm and all its data.
    Delete {
        slug: String,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
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
        Command::Tenant(command) => run_tenant(command, &settings).await?,
        Command::Outbox(command) => run_outbox(command, &settings).await?,
    }
    Ok(())
}

async fn run_tenant(command: TenantCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = database::open(settings).await?;
    database::prepare_schema(&db, settings).await?;
    let now = chrono::Utc::now();
    let base_domain = &settings.server.base_domain;
    match command {
        TenantCommand::Create(create) => {
            let slug = TenantSlug::parse(&create.slug)
                .with_context(|| format!("`{}` cannot be a slug", create.slug))?;
            let new = NewTenant::new(slug, &create.name, &create.admin_email)?;
            let tenant = tenancy::create_tenant(&db, new, now).await?;
            println!(
                "created firm {} ({}) at {}/",
                tenant.slug,
                tenant.display_name,
                settings
                    .server
                    .public_origin(&tenant.canonical_host(base_domain))
            );
        }
        TenantCommand::List => {
            let tenants = tenancy::list_tenants(&db).await?;
            println!("{:<24} {:<10} {:<32} HOST", "SLUG", "STATUS", "NAME");
            for tenant in tenants {
                println!(
                    "{:<24} {:<10} {:<32} {}",
                    tenant.slug,
                    tenant.status,
                    tenant.display_name,
                    tenant.canonical_host(base_domain)
                );
            }
        }
        TenantCommand::Suspend { slug } => {
            let tenant =
                tenancy::set_tenant_status(&db, &parse_slug(&slug)?, TenantStatus::Suspended, now)
                    .await?;
            println!("suspended firm {}", tenant.slug);
        }
        TenantCommand::Resume { slug } => {
            let tenant =
                tenancy::set_tenant_status(&db, &parse_slug(&slug)?, TenantStatus::Active, now)
                    .await?;
            println!("resumed firm {}", tenant.slug);
        }
        TenantCommand::Delete { slug, yes } => {
            let slug = parse_slug(&slug)?;
            if !yes {
                confirm_deletion(&slug)?;
            }
            tenancy::delete_tenant(&db, &slug).await?;
            println!("deleted firm {slug} and all its data");
        }
    }
    db.close().await.ok();
    Ok(())
}

async fn run_outbox(command: OutboxCommand, settings: &Settings) -> anyhow::Result<()> {
    let db = database::open(settings).await?;
    database::prepare_schema(&db, settings).await?;
    match command {
        OutboxCommand::List { dead } => {
            let filter = if dead {
                MessageFilter::dead()
            } else {
                MessageFilter::all()
            };
            let messages = notification::list_messages(&db, filter, 200).await?;
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
            notification::retry_message(&db, id, chrono::Utc::now()).await?;
            println!("message {id} is queued again; a running worker sends it within seconds");
        }
    }
    db.close().await.ok();
    Ok(())
}

/// A slug to look up: an invalid one names no firm.
fn parse_slug(raw: &str) -> anyhow::Result<TenantSlug> {
    TenantSlug::parse(raw).map_err(|_| anyhow::anyhow!("no firm has the slug `{raw}`"))
}

/// Deleting is permanent, so the operator types the slug again.
fn confirm_deletion(slug: &TenantSlug) -> anyhow::Result<()> {
    if !std::io::stdin().is_terminal() {
        bail!("refusing to delete firm `{slug}` without confirmation; pass --yes to confirm");
    }
    print!("This deletes firm `{slug}` and all its data. Type the slug to confirm: ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    if answer.trim() != slug.as_str() {
        bail!("not confirmed; firm `{slug}` was not deleted");
    }
    Ok(())
}
