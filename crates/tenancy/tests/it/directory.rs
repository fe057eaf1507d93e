//! Creating, changing and deleting firms and their domains.

use chrono::Utc;
use migrations::testing::fresh_database;
use tenancy::{
    HostName, NewTenant, TenancyError, Tenant, TenantSlug, TenantStatus, add_tenant_domain,
    create_tenant, delete_tenant, find_tenant_by_slug, list_tenants, set_tenant_status,
};

fn new_tenant(slug: &str, name: &str) -> NewTenant {
    NewTenant::new(TenantSlug::parse(slug).unwrap(), name, "Admin@Firm.test").unwrap()
}

async fn create(db: &storage::Database, slug: &str, name: &str) -> Tenant {
    create_tenant(db, new_tenant(slug, name), Utc::now())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_created_firm_reads_back_whole() {
    let database = fresh_database().await;
    let db = &database.connection;
    let created = create(db, "acme", "  ACME Corporation ").await;
    assert_eq!(created.display_name, "ACME Corporation");
    assert_eq!(created.admin_email, "admin@firm.test");
    assert_eq!(created.status, TenantStatus::Active);
    let found = find_tenant_by_slug(db, &created.slug)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.id, created.id);
    assert_eq!(found.settings, created.settings);
    assert_eq!(found.settings.default_locale, "en");
}

#[tokio::test]
async fn a_slug_is_taken_once() {
    let database = fresh_database().await;
    let db = &database.connection;
    create(db, "acme", "ACME").await;
    let error = create_tenant(db, new_tenant("acme", "Other"), Utc::now())
        .await
        .unwrap_err();
    assert!(matches!(error, TenancyError::SlugTaken(slug) if slug == "acme"));
    assert_eq!(list_tenants(db).await.unwrap().len(), 1);
}

#[tokio::test]
async fn names_and_emails_are_checked() {
    let slug = || TenantSlug::parse("acme").unwrap();
    assert!(matches!(
        NewTenant::new(slug(), "  ", "a@firm.test"),
        Err(TenancyError::InvalidDisplayName)
    ));
    assert!(matches!(
        NewTenant::new(slug(), "A\u{0}B", "a@firm.test"),
        Err(TenancyError::InvalidDisplayName)
    ));
    assert!(matches!(
        NewTenant::new(slug(), &"x".repeat(201), "a@firm.test"),
        Err(TenancyError::InvalidDisplayName)
    ));
    assert!(matches!(
        NewTenant::new(slug(), "ACME", "nobody"),
        Err(TenancyError::InvalidEmail(_))
    ));
}

#[tokio::test]
async fn status_changes_and_deletion() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = create(db, "acme", "ACME").await;
    create(db, "globex", "Globex").await;

    let suspended = set_tenant_status(db, &acme.slug, TenantStatus::Suspended, Utc::now())
        .await
        .unwrap();
    assert_eq!(suspended.status, TenantStatus::Suspended);
    let unknown = TenantSlug::parse("nope").unwrap();
    assert!(matches!(
        set_tenant_status(db, &unknown, TenantStatus::Active, Utc::now()).await,
        Err(TenancyError::UnknownTenant(_))
    ));

    let domain = HostName::parse("portal.acme.test").unwrap();
    let base = HostName::parse("localhost").unwrap();
    add_tenant_domain(db, acme.id, domain, &base, Utc::now())
        .await
        .unwrap();
    delete_tenant(db, &acme.slug).await.unwrap();
    let left: Vec<String> = list_tenants(db)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.slug.to_string())
        .collect();
    assert_eq!(left, ["globex"]);
    assert!(matches!(
        delete_tenant(db, &acme.slug).await,
        Err(TenancyError::UnknownTenant(_))
    ));
    // The domain went with its firm, so another firm may claim it.
    let globex = find_tenant_by_slug(db, &TenantSlug::parse("globex").unwrap())
        .await
        .unwrap()
        .unwrap();
    let domain = HostName::parse("portal.acme.test").unwrap();
    add_tenant_domain(db, globex.id, domain, &base, Utc::now())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_domain_is_claimed_once_and_never_under_the_platform() {
    let database = fresh_database().await;
    let db = &database.connection;
    let acme = create(db, "acme", "ACME").await;
    let globex = create(db, "globex", "Globex").await;
    let base = HostName::parse("example.com").unwrap();
    let domain = HostName::parse("portal.acme.test").unwrap();
    let added = add_tenant_domain(db, acme.id, domain.clone(), &base, Utc::now())
        .await
        .unwrap();
    assert!(
        added
            .verification_token
            .starts_with("latchkey-verification=")
    );
    assert!(added.verified_at.is_none());
    assert!(matches!(
        add_tenant_domain(db, globex.id, domain, &base, Utc::now()).await,
        Err(TenancyError::DomainTaken(_))
    ));
    for platform in ["example.com", "globex.example.com"] {
        let domain = HostName::parse(platform).unwrap();
        assert!(matches!(
            add_tenant_domain(db, acme.id, domain, &base, Utc::now()).await,
            Err(TenancyError::PlatformDomain(_))
        ));
    }
}
