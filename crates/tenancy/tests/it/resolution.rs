//! Host -> firm resolution and its cache.

use std::time::Duration;

use chrono::Utc;
use migrations::testing::fresh_database;
use sea_orm::ConnectionTrait;
use storage::Database;
use tenancy::{
    HostName, NewTenant, Resolution, TenantResolver, TenantSlug, add_tenant_domain, create_tenant,
    mark_tenant_domain_verified,
};

fn host(raw: &str) -> HostName {
    HostName::from_header(raw).unwrap()
}

fn firm_slug(resolution: &Resolution) -> Option<String> {
    match resolution {
        Resolution::Firm(tenant) => Some(tenant.slug.to_string()),
        Resolution::Platform | Resolution::Unknown => None,
    }
}

async fn create_acme(db: &Database) {
    let new = NewTenant::new(
        TenantSlug::parse("acme").unwrap(),
        "ACME",
        "admin@acme.test",
    )
    .unwrap();
    create_tenant(db, new, Utc::now()).await.unwrap();
}

/// A resolver under `example.com` that keeps answers for `ttl`.
fn resolver(db: &Database, ttl: Duration) -> TenantResolver {
    TenantResolver::new(
        db.clone(),
        HostName::parse("example.com").unwrap(),
        ttl,
        1000,
    )
}

async fn setup() -> (migrations::testing::TestDatabase, TenantResolver) {
    let database = fresh_database().await;
    create_acme(&database.connection).await;
    let resolver = resolver(&database.connection, Duration::from_secs(300));
    (database, resolver)
}

#[tokio::test]
async fn subdomains_resolve_to_their_firm() {
    let (_database, resolver) = setup().await;
    let cases = [
        ("acme.example.com", Some("acme")),
        ("ACME.Example.COM.:443", Some("acme")),
        ("nope.example.com", None),
        ("www.example.com", None),
        ("x.acme.example.com", None),
        ("acme.example.org", None),
        ("acmeexample.com", None),
    ];
    for (raw, expected) in cases {
        let resolution = resolver.resolve(&host(raw)).await.unwrap();
        assert_eq!(firm_slug(&resolution).as_deref(), expected, "{raw}");
    }
    assert_eq!(
        resolver.resolve(&host("example.com:8080")).await.unwrap(),
        Resolution::Platform
    );
}

#[tokio::test]
async fn only_verified_custom_domains_resolve() {
    let (database, resolver) = setup().await;
    let db = &database.connection;
    let acme = tenancy::find_tenant_by_slug(db, &TenantSlug::parse("acme").unwrap())
        .await
        .unwrap()
        .unwrap();
    let domain = HostName::parse("portal.acme-tax.test").unwrap();
    add_tenant_domain(
        db,
        acme.id,
        domain.clone(),
        resolver.base_domain(),
        Utc::now(),
    )
    .await
    .unwrap();
    assert_eq!(
        resolver.resolve(&domain).await.unwrap(),
        Resolution::Unknown
    );

    mark_tenant_domain_verified(db, acme.id, &domain, Utc::now())
        .await
        .unwrap();
    assert_eq!(
        resolver.resolve(&domain).await.unwrap(),
        Resolution::Unknown,
        "the negative answer is cached until invalidated"
    );
    resolver.invalidate_tenant(acme.id);
    assert_eq!(
        firm_slug(&resolver.resolve(&domain).await.unwrap()).as_deref(),
        Some("acme")
    );
}

#[tokio::test]
async fn steady_state_resolution_makes_no_query() {
    let (database, resolver) = setup().await;
    let acme_host = host("acme.example.com");
    let first = resolver.resolve(&acme_host).await.unwrap();
    assert_eq!(firm_slug(&first).as_deref(), Some("acme"));

    // With the table gone, any query would fail: a cached answer cannot need one.
    database
        .connection
        .execute_unprepared("DELETE FROM tenants")
        .await
        .unwrap();
    for _ in 0..100 {
        assert_eq!(resolver.resolve(&acme_host).await.unwrap(), first);
    }

    resolver.invalidate_all();
    assert_eq!(
        resolver.resolve(&acme_host).await.unwrap(),
        Resolution::Unknown
    );
}

#[tokio::test]
async fn invalidating_a_firm_forgets_it() {
    let (database, resolver) = setup().await;
    let db = &database.connection;
    let acme_host = host("acme.example.com");
    let Resolution::Firm(acme) = resolver.resolve(&acme_host).await.unwrap() else {
        panic!("acme resolves");
    };
    tenancy::set_tenant_status(db, &acme.slug, tenancy::TenantStatus::Suspended, Utc::now())
        .await
        .unwrap();
    let cached = resolver.resolve(&acme_host).await.unwrap();
    assert!(
        matches!(&cached, Resolution::Firm(t) if t.is_active()),
        "served from the cache"
    );
    resolver.invalidate_tenant(acme.id);
    let fresh = resolver.resolve(&acme_host).await.unwrap();
    assert!(matches!(&fresh, Resolution::Firm(t) if !t.is_active()));
}

#[tokio::test]
async fn entries_expire_after_the_ttl() {
    let database = fresh_database().await;
    let resolver = resolver(&database.connection, Duration::from_millis(200));
    let acme_host = host("acme.example.com");
    assert_eq!(
        resolver.resolve(&acme_host).await.unwrap(),
        Resolution::Unknown
    );
    create_acme(&database.connection).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        firm_slug(&resolver.resolve(&acme_host).await.unwrap()).as_deref(),
        Some("acme")
    );
}
