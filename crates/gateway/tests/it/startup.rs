//! Several instances starting at once on one new database, as a deployment that scales
//! out does: every one of them starts, the demo firm exists once, and the purge that
//! each runs at start-up removes each deleted firm once.

use migrations::testing::empty_database;
use tenancy::TenantSlug;

use crate::fixture::{
    DEMO_ADMIN_EMAIL, DEMO_CLIENT, DEMO_CONTACTS, DEMO_SLUG, Environment, Settings,
    purge_deleted_firms, start_up,
};

/// Enough instances that, without the start-up lock, two of them collide in the
/// migrations or in creating the demo firm on every run seen so far.
const INSTANCES: usize = 4;

fn development_settings(database_url: &str) -> Settings {
    let variables = [
        ("LATCHKEY__DATABASE__URL", database_url),
        ("LATCHKEY__DATABASE__MAX_CONNECTIONS", "2"),
        ("LATCHKEY__SERVER__BIND", "127.0.0.1:0"),
        ("LATCHKEY__SERVER__ADMIN_BIND", "127.0.0.1:0"),
        ("LATCHKEY__MAIL__TRANSPORT", "log"),
    ]
    .map(|(name, value)| (name.to_owned(), value.to_owned()));
    Settings::load_with_variables(Environment::Development, None, variables)
        .expect("the development configuration loads")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_starting_together_on_a_new_database_all_start_and_share_one_demo_firm() {
    let database = empty_database().await;
    let mut starts = tokio::task::JoinSet::new();
    for _ in 0..INSTANCES {
        let settings = development_settings(&database.url);
        starts.spawn(start_up(settings));
    }
    let mut started = Vec::new();
    while let Some(outcome) = starts.join_next().await {
        match outcome.expect("the start-up task runs to its end") {
            Ok(state) => started.push(state),
            Err(error) => panic!("an instance failed to start: {error}"),
        }
    }
    assert_eq!(started.len(), INSTANCES);

    let db = &database.connection;
    let tenant = tenancy::find_tenant_by_slug(db, &TenantSlug::parse(DEMO_SLUG).unwrap())
        .await
        .unwrap()
        .expect("the demo firm exists");
    let admin = identity::EmailAddress::parse(DEMO_ADMIN_EMAIL).unwrap();
    assert!(
        identity::find_staff_by_email(db, tenant.id, &admin)
            .await
            .unwrap()
            .is_some()
    );
    let clients = identity::list_clients(db, tenant.id, None, 1, 50)
        .await
        .unwrap();
    assert_eq!(clients.total, 4, "the demo clients were created once");
    let teague = clients
        .clients
        .iter()
        .find(|client| client.name == DEMO_CLIENT)
        .expect("the demo client exists");
    let contacts = identity::list_contacts(db, tenant.id, teague.id)
        .await
        .unwrap();
    assert_eq!(contacts.len(), DEMO_CONTACTS.len());
    for state in started {
        state.services.db.close().await.ok();
    }
}

/// The purge runs in every instance, first at start-up: instances that purge at the
/// same moment remove each deleted firm once, and none of them fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_purging_together_purge_each_firm_once() {
    let app = crate::helpers::spawn_app().await;
    let slugs = ["gone-one", "gone-two", "gone-three"];
    for slug in slugs {
        app.firm_named(slug, "Gone").await;
        app.delete_firm(slug).await;
    }
    let after_the_grace = chrono::Utc::now() + chrono::Duration::days(31);
    let mut purges = tokio::task::JoinSet::new();
    for _ in 0..INSTANCES {
        let state = app.state.clone();
        purges.spawn(async move { purge_deleted_firms(&state, after_the_grace).await });
    }
    let mut purged = Vec::new();
    while let Some(outcome) = purges.join_next().await {
        let slugs = outcome
            .expect("the purge task runs to its end")
            .unwrap_or_else(|error| panic!("a purge failed: {error}"));
        purged.extend(slugs.iter().map(ToString::to_string));
    }
    purged.sort();
    let mut expected: Vec<String> = slugs.iter().map(|slug| (*slug).to_owned()).collect();
    expected.sort();
    assert_eq!(purged, expected, "each firm purged exactly once");
}
