//! `cargo xtask bench`: how long resolving a host takes, parsed and cached, on an
//! embedded SQLite database with many firms. Prints a table.

use std::time::{Duration, Instant};

use chrono::Utc;
use migrations::testing::fresh_database;
use tenancy::{HostName, NewTenant, Resolution, TenantResolver, TenantSlug, create_tenant};

const FIRMS: usize = 1_000;
const ROUNDS: usize = 100_000;

#[tokio::main]
async fn main() {
    let database = fresh_database().await;
    for index in 0..FIRMS {
        let slug = TenantSlug::parse(&format!("firm{index}")).expect("a valid slug");
        let new = NewTenant::new(slug, &format!("Firm {index}"), "admin@firm.test").expect("valid");
        create_tenant(&database.connection, new, Utc::now())
            .await
            .expect("created");
    }
    let resolver = TenantResolver::new(
        database.connection.clone(),
        HostName::parse("example.com").expect("valid"),
        Duration::from_secs(300),
        100_000,
    );
    let hosts: Vec<String> = (0..FIRMS)
        .map(|i| format!("firm{i}.example.com:443"))
        .collect();

    let parse = measure(ROUNDS, |i| {
        let _ = HostName::from_header(&hosts[i % FIRMS]);
    });
    let cold_started = Instant::now();
    for raw in &hosts {
        let host = HostName::from_header(raw).expect("valid");
        assert!(matches!(
            resolver.resolve(&host).await,
            Ok(Resolution::Firm(_))
        ));
    }
    let cold = cold_started.elapsed() / FIRMS as u32;
    let parsed: Vec<HostName> = hosts
        .iter()
        .map(|h| HostName::from_header(h).expect("valid"))
        .collect();
    let warm_started = Instant::now();
    for i in 0..ROUNDS {
        let _ = resolver.resolve(&parsed[i % FIRMS]).await;
    }
    let warm = warm_started.elapsed() / ROUNDS as u32;

    println!("| operation                        | per call     |");
    println!("|----------------------------------|--------------|");
    println!("| parse a Host header              | {:>12?} |", parse);
    println!("| resolve, cache miss (SQLite)     | {:>12?} |", cold);
    println!("| resolve, cache hit               | {:>12?} |", warm);
}

fn measure(rounds: usize, mut work: impl FnMut(usize)) -> Duration {
    let started = Instant::now();
    for i in 0..rounds {
        work(i);
    }
    started.elapsed() / rounds as u32
}
