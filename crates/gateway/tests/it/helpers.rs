//! `spawn_app`: the public and admin endpoints on a fresh database, in process.

use gateway::app::{AppState, admin_endpoint, public_endpoint};
use gateway::settings::{Environment, Settings};
use migrations::testing::{TestDatabase, fresh_database};
use poem::endpoint::BoxEndpoint;
use poem::test::TestClient;
use tenancy::{NewTenant, Tenant, TenantSlug};

pub struct TestApp {
    pub public: TestClient<BoxEndpoint<'static>>,
    pub admin: TestClient<BoxEndpoint<'static>>,
    pub state: AppState,
    /// Keeps the database (and its temporary folder) alive as long as the app.
    _database: TestDatabase,
}

pub fn test_settings(database_url: &str) -> Settings {
    Settings::load_with_variables(
        Environment::Test,
        None,
        [
            (
                "LATCHKEY__DATABASE__URL".to_owned(),
                database_url.to_owned(),
            ),
            (
                "LATCHKEY__SERVER__BODY_LIMIT_BYTES".to_owned(),
                "1024".to_owned(),
            ),
        ],
    )
    .expect("the test configuration loads")
}

pub async fn spawn_app() -> TestApp {
    let database = fresh_database().await;
    let settings = test_settings(&database.url);
    let state = AppState::new(settings, database.connection.clone());
    TestApp {
        public: TestClient::new(public_endpoint(&state)),
        admin: TestClient::new(admin_endpoint(&state)),
        state,
        _database: database,
    }
}

impl TestApp {
    pub async fn create_firm(&self, slug: &str, name: &str) -> Tenant {
        let new =
            NewTenant::new(TenantSlug::parse(slug).unwrap(), name, "admin@firm.test").unwrap();
        tenancy::create_tenant(&self.state.db, new, chrono::Utc::now())
            .await
            .unwrap()
    }

    /// GET `path` on the public listener with `host` as the only Host header.
    pub async fn get(&self, host: &str, path: &str) -> poem::test::TestResponse {
        self.public.get(path).header("host", host).send().await
    }
}

pub async fn body(response: poem::test::TestResponse) -> String {
    response
        .0
        .into_body()
        .into_string()
        .await
        .expect("a UTF-8 body")
}

pub async fn assert_contains(response: poem::test::TestResponse, needle: &str) {
    let text = body(response).await;
    assert!(text.contains(needle), "expected {needle:?} in:\n{text}");
}
