//! The people, pages and background work the tests share, built on `TestApp` and
//! `Browser`. Every use of the gateway crate's own items goes through here, so that
//! when they move only this file follows them.

use std::sync::Arc;

use identity::StaffRole;
use notification::{DeliverySettings, DeliveryWorker, FileMailbox, Transport};
use poem::http::StatusCode;
use poem::test::TestResponse;
use reset_token::{MintedToken, TokenPurpose};
use service::{Services, processors};
use tenancy::{HostName, Tenant, TenantSlug, TenantStatus};

use crate::helpers::{Browser, TestApp, spawn_app};

pub use gateway::demo::{DEMO_ADMIN_EMAIL, DEMO_CLIENT, DEMO_CONTACTS, DEMO_SLUG};
pub use gateway::http::error::GatewayError;
pub use gateway::routes::{admin_endpoint, public_endpoint};
pub use gateway::server::start_up;
pub use gateway::settings::{Environment, Settings};
pub use gateway::state::AppState;
pub use service::firms::Reverified;
pub use service::processors::RETRY;

pub const STAFF_PASSWORD: &str = "staff correct horse";
pub const CONTACT_PASSWORD: &str = "contact battery staple";
pub const NEW_PASSWORD: &str = "a brand new passphrase";
/// What every email of the tests is sent as.
const SENDER: &str = "Latchkey <no-reply@latchkey.test>";

/// A firm at `{slug}.localhost` with its client John A. Teague and his contact
/// Body Boom, who signs in with [`CONTACT_PASSWORD`].
pub struct Firm {
    pub tenant: Tenant,
    pub client: identity::Client,
    pub contact: identity::Contact,
}

impl Firm {
    pub fn slug(&self) -> &str {
        self.tenant.slug.as_str()
    }

    pub fn host(&self) -> String {
        format!("{}.localhost", self.slug())
    }

    /// The address staff of the firm are given by [`TestApp::add_staff`].
    pub fn staff_email(&self, role: StaffRole) -> String {
        let local = match role {
            StaffRole::Admin => "admin",
            _ => "staff",
        };
        format!("{local}@{}.test", self.slug())
    }

    /// A new browser on the firm's host.
    pub fn browser<'a>(&self, app: &'a TestApp) -> Browser<'a> {
        Browser::new(app, &self.host())
    }

    /// The staff page listing the client's contacts, with their Reset Password buttons.
    pub fn contacts_page(&self) -> String {
        contacts_page_of(&self.contact)
    }
}

pub fn contacts_page_of(contact: &identity::Contact) -> String {
    format!("/staff/clients/{}/contacts", contact.client_id)
}

pub fn reset_button_of(contact: &identity::Contact) -> String {
    format!(
        "{}/{}/reset-password",
        contacts_page_of(contact),
        contact.id
    )
}

/// An app with the firm `slug` of [`TestApp::firm`].
pub async fn app_with_firm(slug: &str) -> (TestApp, Firm) {
    let app = spawn_app().await;
    let firm = app.firm(slug).await;
    (app, firm)
}

/// An app with the firm `slug` of [`TestApp::firm_with_admin`].
pub async fn app_with_admin(slug: &str) -> (TestApp, Firm) {
    let app = spawn_app().await;
    let firm = app.firm_with_admin(slug).await;
    (app, firm)
}

/// An app serving ACME Corporation at `acme.localhost`, with no one in it.
pub async fn app_with_acme() -> (TestApp, Tenant) {
    let app = spawn_app().await;
    let acme = app.create_firm("acme", "ACME Corporation").await;
    (app, acme)
}

impl TestApp {
    /// A firm named `name` with its client and contact (see [`Firm`]).
    pub async fn firm_named(&self, slug: &str, name: &str) -> Firm {
        let tenant = self.create_firm(slug, name).await;
        self.people_of(tenant).await
    }

    /// The client and contact of [`Firm`] added to a firm that exists already.
    pub async fn people_of(&self, tenant: Tenant) -> Firm {
        let slug = tenant.slug.as_str().to_owned();
        let client = self.create_client(&tenant, "John A. Teague").await;
        let contact = self
            .create_contact(
                &tenant,
                &client,
                "Body Boom",
                &format!("body.boom@{slug}.test"),
                CONTACT_PASSWORD,
            )
            .await;
        Firm {
            tenant,
            client,
            contact,
        }
    }

    /// A firm named "`{slug}` firm" with its client and contact.
    pub async fn firm(&self, slug: &str) -> Firm {
        self.firm_named(slug, &format!("{slug} firm")).await
    }

    /// A firm as [`TestApp::firm`] with an administrator too.
    pub async fn firm_with_admin(&self, slug: &str) -> Firm {
        let firm = self.firm(slug).await;
        self.add_staff(&firm, StaffRole::Admin).await;
        firm
    }

    /// A staff member of `firm` at [`Firm::staff_email`] with [`STAFF_PASSWORD`].
    pub async fn add_staff(&self, firm: &Firm, role: StaffRole) -> String {
        let email = firm.staff_email(role);
        self.create_staff(&firm.tenant, &email, STAFF_PASSWORD, role)
            .await;
        email
    }

    /// A browser on `host` signed in as the staff member `email`.
    pub async fn staff_browser(&self, host: &str, email: &str) -> Browser<'_> {
        let browser = Browser::new(self, host);
        browser
            .sign_in_staff(email, STAFF_PASSWORD)
            .await
            .assert_status(StatusCode::SEE_OTHER);
        browser
    }

    /// A new staff member of `firm` in `role`, signed in on the firm's host.
    pub async fn signed_in_staff(&self, firm: &Firm, role: StaffRole) -> Browser<'_> {
        let email = self.add_staff(firm, role).await;
        self.staff_browser(&firm.host(), &email).await
    }

    /// Suspends `firm`, and drops the cached copy.
    pub async fn suspend(&self, firm: &Tenant) {
        let now = chrono::Utc::now();
        tenancy::set_tenant_status(self.db(), &firm.slug, TenantStatus::Suspended, now)
            .await
            .unwrap();
        self.state.services.resolver.invalidate_tenant(firm.id);
    }

    /// Claims the custom domain `name` for `firm`, unverified.
    pub async fn add_domain(&self, firm: &Tenant, name: &str) -> HostName {
        let domain = HostName::parse(name).unwrap();
        let base = &self.state.settings.server.base_domain;
        let now = chrono::Utc::now();
        tenancy::add_tenant_domain(self.db(), firm.id, domain.clone(), base, now)
            .await
            .unwrap();
        domain
    }

    /// Marks `domain` of `firm` verified, and drops the cached copy.
    pub async fn verify_domain(&self, firm: &Tenant, domain: &HostName) {
        let now = chrono::Utc::now();
        tenancy::mark_tenant_domain_verified(self.db(), firm.id, domain, now)
            .await
            .unwrap();
        self.state.services.resolver.invalidate_tenant(firm.id);
    }

    /// The firm stored under `slug`, as it is now.
    pub async fn stored_firm(&self, slug: &str) -> Tenant {
        tenancy::find_tenant_by_slug(self.db(), &TenantSlug::parse(slug).unwrap())
            .await
            .unwrap()
            .expect("the firm exists")
    }

    /// Stores `change` applied to the firm's settings, and drops the cached copy.
    pub async fn change_settings(
        &self,
        firm: &Tenant,
        change: impl FnOnce(&mut tenancy::TenantSettings),
    ) {
        let mut settings = firm.settings.clone();
        change(&mut settings);
        let now = chrono::Utc::now();
        tenancy::update_tenant_settings(self.db(), firm.id, &settings, now)
            .await
            .unwrap();
        self.state.services.resolver.invalidate_tenant(firm.id);
    }

    /// A link of `purpose` for `contact`, issued at `issued`, living `lifetime`.
    pub async fn mint_link(
        &self,
        contact: &identity::Contact,
        purpose: TokenPurpose,
        lifetime: chrono::Duration,
        issued: chrono::DateTime<chrono::Utc>,
    ) -> MintedToken {
        reset_token::mint_token(
            &self.state.services.db,
            &self.state.services.token_keys,
            contact.tenant_id,
            purpose,
            tenancy::AccountRef::Contact(contact.id),
            lifetime,
            issued,
        )
        .await
        .unwrap()
    }

    /// A fifteen-minute reset link for `contact`, issued at `issued`.
    pub async fn mint_reset_link(
        &self,
        contact: &identity::Contact,
        issued: chrono::DateTime<chrono::Utc>,
    ) -> MintedToken {
        self.mint_link(
            contact,
            TokenPurpose::Reset,
            chrono::Duration::minutes(15),
            issued,
        )
        .await
    }

    /// Every email queued so far, of every firm.
    pub async fn queued_emails(&self) -> Vec<notification::OutboxMessage> {
        notification::list_messages(
            &self.state.services.db,
            notification::MessageFilter::all(),
            100_000,
        )
        .await
        .unwrap()
    }

    /// One pass of the "Forgot your password?" processor; how many it handled.
    pub async fn process_reset_requests(&self) -> usize {
        self.one_pass(processors::process_reset_requests).await
    }

    /// One pass of the "Find your firm" processor; how many it handled.
    pub async fn process_firm_lookups(&self) -> usize {
        self.one_pass(processors::process_firm_lookups).await
    }

    /// One pass of the access-request notices; how many it sent.
    pub async fn process_access_notices(&self) -> usize {
        self.one_pass(processors::process_access_notices).await
    }

    async fn one_pass<'a, F>(&'a self, pass: impl FnOnce(&'a Services) -> F) -> usize
    where
        F: std::future::Future<Output = Result<usize, service::ServiceError>>,
    {
        pass(&self.state.services).await.unwrap()
    }

    /// Every processor, as a server runs them, until `shutdown` completes.
    pub fn run_processors(
        &self,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(service::processors::run(
            self.state.services.clone(),
            shutdown,
        ))
    }

    /// A delivery worker over `transport` that writes the audit trail as a server's does.
    pub fn delivery_worker(
        &self,
        transport: Transport,
        settings: DeliverySettings,
    ) -> DeliveryWorker {
        self.bare_delivery_worker(transport, settings)
            .with_observer(Arc::new(service::emails::AuditTrailObserver))
    }

    /// A delivery worker that only sends, writing nothing to the audit trail.
    pub fn bare_delivery_worker(
        &self,
        transport: Transport,
        settings: DeliverySettings,
    ) -> DeliveryWorker {
        DeliveryWorker::new(
            self.state.services.db.clone(),
            transport,
            settings,
            self.state.services.waker.clone(),
        )
    }

    pub async fn delete_firm(&self, slug: &str) {
        service::firms::delete_firm(&self.state.services, slug)
            .await
            .unwrap();
    }

    pub async fn purge_deleted_firms(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Vec<TenantSlug>, service::ServiceError> {
        purge_deleted_firms(&self.state, now).await
    }

    pub async fn reverify_domains(&self, now: chrono::DateTime<chrono::Utc>) -> Reverified {
        service::firms::reverify_domains(&self.state.services, now)
            .await
            .unwrap()
    }

    /// Counts one submission of the form `kind` from `ip`, as the form itself does.
    pub async fn record_form(&self, kind: &str, ip: &str) -> Result<(), GatewayError> {
        let from = Some(ip.parse().unwrap());
        service::requests::record_limited(&self.state.services, kind, from, Vec::new(), None)
            .await
            .map_err(GatewayError::from)
    }
}

/// The purge, on a state that may have been moved into another task.
pub async fn purge_deleted_firms(
    state: &AppState,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<TenantSlug>, service::ServiceError> {
    service::firms::purge_deleted_firms(&state.services, now).await
}

/// A folder the delivery worker writes emails into, read as a mailbox.
pub struct Mailbox {
    folder: tempfile::TempDir,
    files: FileMailbox,
}

impl Mailbox {
    pub fn new() -> Self {
        let folder = tempfile::tempdir().unwrap();
        let files = FileMailbox::new(folder.path());
        Self { folder, files }
    }

    /// Delivers whatever is due and returns the mailbox to read it, which lives as
    /// long as this folder does.
    pub async fn deliver(&self, app: &TestApp) -> &FileMailbox {
        let worker = app.delivery_worker(
            Transport::file(self.folder.path()),
            DeliverySettings::new(SENDER).unwrap(),
        );
        worker.deliver_due().await.unwrap();
        &self.files
    }

    /// Delivers whatever is due; the first link in the newest email to `to`, and its text.
    pub async fn link_to(&self, app: &TestApp, to: &str) -> (String, String) {
        let mailbox = self.deliver(app).await;
        let entries = mailbox.list(50).await.unwrap();
        let entry = entries
            .iter()
            .find(|entry| entry.to.contains(to))
            .expect("an email to the contact");
        let message = mailbox.read(&entry.id).await.unwrap().unwrap();
        let start = message
            .text
            .find("http://")
            .expect("a link in the text part");
        let link: String = message.text[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        (link, message.text)
    }

    /// Delivers whatever is due; the subjects of every email in the mailbox.
    pub async fn subjects(&self, app: &TestApp) -> Vec<String> {
        let mailbox = self.deliver(app).await;
        mailbox
            .list(50)
            .await
            .unwrap()
            .into_iter()
            .map(|entry| entry.subject)
            .collect()
    }
}

/// Delivery settings that give up on an email after its first failed attempt.
pub fn one_attempt() -> DeliverySettings {
    let mut settings = DeliverySettings::new(SENDER).unwrap();
    settings.max_attempts = 1;
    settings
}

/// Delivery settings that give up on an email after `attempts` failed attempts.
pub fn attempts(attempts: u32) -> DeliverySettings {
    let mut settings = DeliverySettings::new(SENDER).unwrap();
    settings.max_attempts = attempts;
    settings
}

impl Browser<'_> {
    /// Signs in at `/login` as a contact would.
    pub async fn sign_in_contact(&self, email: &str, password: &str) -> TestResponse {
        self.fill_in("/login", &[("email", email), ("password", password)])
            .await
    }

    /// Asks "Forgot your password?" for `email`.
    pub async fn forgot_password(&self, email: &str) -> TestResponse {
        self.fill_in("/forgot-password", &[("email", email)]).await
    }

    /// Sends "Request your credential" with the form's four fields.
    pub async fn request_access(&self, fields: [&str; 4]) -> TestResponse {
        let [name, email, company, message] = fields;
        let fields = [
            ("name", name),
            ("email", email),
            ("company", company),
            ("message", message),
        ];
        self.fill_in("/request-access", &fields).await
    }

    /// Opens an emailed `link` (absolute, or just its path) as its recipient would.
    pub async fn open_link(&self, link: &str) -> TestResponse {
        let path = link.trim_start_matches(&format!("http://{}", self.host));
        self.get(path).await
    }

    /// Opens the link carrying `minted`'s token.
    pub async fn open_minted(&self, minted: &MintedToken) -> TestResponse {
        self.get(&format!("/reset/{}", minted.token.expose())).await
    }

    /// Chooses `password` on the reset form of the link last opened.
    pub async fn choose_password(&self, password: &str) -> TestResponse {
        self.fill_in(
            "/reset",
            &[("new_password", password), ("confirm_password", password)],
        )
        .await
    }

    /// Presses the contact's Reset Password button as the page's script does, with
    /// the token of the contacts page and `headers` besides.
    pub async fn press_reset_by_script(
        &self,
        contact: &identity::Contact,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let token = self.csrf_token(&contacts_page_of(contact)).await;
        self.post_by_script(contact, &token, headers).await
    }

    /// Posts to the contact's Reset Password button with `token`, as the script does.
    pub async fn post_by_script(
        &self,
        contact: &identity::Contact,
        token: &str,
        headers: &[(&str, &str)],
    ) -> TestResponse {
        let mut request = self.request(poem::http::Method::POST, &reset_button_of(contact));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.form(&[("csrf_token", token)])).await
    }

    /// Presses the contact's Reset Password button on the staff contacts page.
    pub async fn press_reset(&self, contact: &identity::Contact) -> TestResponse {
        self.submit(&contacts_page_of(contact), &reset_button_of(contact), &[])
            .await
    }
}
