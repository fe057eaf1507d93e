//! `/tenants`: the firms, their settings, domains, audit trail and activity.

use chrono::{DateTime, Duration, Utc};
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::MaybeUndefined;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi, Tags};
use service::ServiceError;
use service::firms::{self, FirmChange, NewFirm};
use tenancy::{
    ResetMode, TenancyError, Tenant, TenantDomain, TenantQuery, TenantSettings, TenantStatus,
};
use uuid::Uuid;

use super::constraints::{
    Colour, CustomDomain, Described, DisplayName, Domain, Email, HttpsUrl, Locale,
    MinPasswordLength, PageLimit, ResetLinkMinutes, Slug,
};
use super::{ApiError, BodyError, OperatorToken};
use crate::state::AppState;

#[derive(Tags)]
enum ApiTags {
    /// Provisioning, suspension, deletion and settings of firms.
    Firms,
    /// A firm's custom domains and their DNS verification.
    Domains,
    /// What happened in a firm.
    Activity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum FirmStatus {
    Active,
    Suspended,
    /// Offline, and purged after the grace period.
    Deleted,
}

impl From<TenantStatus> for FirmStatus {
    fn from(status: TenantStatus) -> Self {
        match status {
            TenantStatus::Active => Self::Active,
            TenantStatus::Suspended => Self::Suspended,
            TenantStatus::Deleted => Self::Deleted,
        }
    }
}

impl From<FirmStatus> for TenantStatus {
    fn from(status: FirmStatus) -> Self {
        match status {
            FirmStatus::Active => Self::Active,
            FirmStatus::Suspended => Self::Suspended,
            FirmStatus::Deleted => Self::Deleted,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum ResetModeView {
    /// The emailed link opens a page where the contact chooses a new password.
    Link,
    /// The emailed link's page sends a generated password, to be changed at sign-in.
    TemporaryPassword,
}

impl From<ResetMode> for ResetModeView {
    fn from(mode: ResetMode) -> Self {
        match mode {
            ResetMode::Link => Self::Link,
            ResetMode::TemporaryPassword => Self::TemporaryPassword,
        }
    }
}

impl From<ResetModeView> for ResetMode {
    fn from(mode: ResetModeView) -> Self {
        match mode {
            ResetModeView::Link => Self::Link,
            ResetModeView::TemporaryPassword => Self::TemporaryPassword,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct BrandingView {
    /// An https URL of the firm's logo; null when the firm has none.
    #[oai(nullable)]
    pub logo_url: Option<String>,
    /// `#rrggbb`; null for the default colour.
    #[oai(nullable)]
    pub accent_colour: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct SettingsView {
    /// Minutes a reset link lives (5 to 1440); null takes the platform default.
    #[oai(nullable)]
    pub reset_link_minutes: Option<i64>,
    /// The lifetime in force, with the platform default applied.
    pub effective_reset_link_minutes: i64,
    pub reset_mode: ResetModeView,
    /// `en` or `it`.
    pub default_locale: String,
    /// 8 to 64; null takes the platform default.
    #[oai(nullable)]
    pub min_password_length: Option<u32>,
    pub branding: BrandingView,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct FirmView {
    pub slug: String,
    /// The firm's display name, shown on its pages and in its emails.
    pub name: String,
    pub status: FirmStatus,
    pub admin_email: String,
    /// The chosen verified custom domain; null means the platform subdomain.
    #[oai(nullable)]
    pub canonical_domain: Option<String>,
    /// The sign-in page that emails link to.
    pub portal_url: String,
    pub settings: SettingsView,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When the firm was deleted; null unless it is.
    #[oai(nullable)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// When a deleted firm's data is removed for good; null unless it is deleted.
    #[oai(nullable)]
    pub purge_after: Option<DateTime<Utc>>,
}

impl FirmView {
    fn new(state: &AppState, tenant: &Tenant) -> Self {
        let settings = &tenant.settings;
        Self {
            slug: tenant.slug.to_string(),
            name: tenant.display_name.clone(),
            status: tenant.status.into(),
            admin_email: tenant.admin_email.clone(),
            canonical_domain: tenant.canonical_domain.as_ref().map(ToString::to_string),
            portal_url: state.services.firm_url(tenant, "/login"),
            settings: SettingsView {
                reset_link_minutes: settings.reset_link_minutes,
                effective_reset_link_minutes: state.services.policy(tenant).reset_minutes,
                reset_mode: settings.reset_mode.into(),
                default_locale: settings.default_locale.clone(),
                min_password_length: settings.min_password_length,
                branding: BrandingView {
                    logo_url: settings.branding.logo_url.clone(),
                    accent_colour: settings.branding.accent_colour.clone(),
                },
            },
            created_at: tenant.created_at,
            updated_at: tenant.updated_at,
            deleted_at: tenant.deleted_at,
            purge_after: firms::purge_due(&state.services, tenant),
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct CreateFirm {
    /// The subdomain: 1 to 63 of `a-z`, `0-9` and `-`, no hyphen at either end nor
    /// in both the third and fourth places. A name the platform reserves (`www`,
    /// `admin`, `api`, …) is refused with 409 `slug_reserved`.
    pub slug: Described<String, Slug>,
    /// 1 to 200 characters once trimmed, no control characters.
    pub name: Described<String, DisplayName>,
    /// The first staff administrator, who receives an invitation to set a password.
    pub admin_email: Described<String, Email>,
    /// The administrator's name, as `name`; "Administrator" when left out or null.
    #[oai(nullable)]
    pub admin_name: Option<Described<String, DisplayName>>,
}

#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct BrandingChange {
    /// An `https://` URL of at most 2048 characters, none of them whitespace, a
    /// control character or one of `"'<>\()`; null removes the logo.
    #[oai(nullable)]
    pub logo_url: MaybeUndefined<Described<String, HttpsUrl>>,
    /// `#rrggbb`; null goes back to the default colour.
    #[oai(nullable)]
    pub accent_colour: MaybeUndefined<Described<String, Colour>>,
}

#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct SettingsChange {
    /// 5 to 1440; null takes the platform default.
    #[oai(nullable)]
    pub reset_link_minutes: MaybeUndefined<Described<i64, ResetLinkMinutes>>,
    pub reset_mode: MaybeUndefined<ResetModeView>,
    pub default_locale: MaybeUndefined<Described<String, Locale>>,
    /// 8 to 64; null takes the platform default.
    #[oai(nullable)]
    pub min_password_length: MaybeUndefined<Described<u32, MinPasswordLength>>,
    pub branding: MaybeUndefined<BrandingChange>,
}

impl SettingsChange {
    /// The firm's settings with this change applied; checking them is the tenancy
    /// crate's.
    pub fn apply(self, mut settings: TenantSettings) -> Result<TenantSettings, ApiError> {
        apply_maybe(&mut settings.reset_link_minutes, self.reset_link_minutes);
        apply_maybe(&mut settings.min_password_length, self.min_password_length);
        if let Some(mode) = not_null("reset_mode", self.reset_mode)? {
            settings.reset_mode = mode.into();
        }
        if let Some(locale) = not_null("default_locale", self.default_locale)? {
            settings.default_locale = locale.into_inner();
        }
        if let Some(branding) = not_null("branding", self.branding)? {
            apply_maybe(&mut settings.branding.logo_url, branding.logo_url);
            apply_maybe(&mut settings.branding.accent_colour, branding.accent_colour);
        }
        Ok(settings)
    }
}

/// A change to a setting whose null means "the platform default".
fn apply_maybe<T, R>(target: &mut Option<T>, change: MaybeUndefined<Described<T, R>>) {
    match change {
        MaybeUndefined::Undefined => {}
        MaybeUndefined::Null => *target = None,
        MaybeUndefined::Value(value) => *target = Some(value.into_inner()),
    }
}

/// A field that may be left out, but has no default for a null to go back to. The
/// framework would read a null as left out; refusing it keeps the request what the
/// spec says.
fn not_null<T>(field: &str, change: MaybeUndefined<T>) -> Result<Option<T>, ApiError> {
    match change {
        MaybeUndefined::Undefined => Ok(None),
        MaybeUndefined::Null => Err(ApiError::invalid(
            "invalid_request",
            format!("`{field}` cannot be null; leave it out to keep it as it is"),
        )),
        MaybeUndefined::Value(value) => Ok(Some(value)),
    }
}

#[derive(Debug, Clone, Default, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct UpdateFirm {
    /// 1 to 200 characters once trimmed, no control characters.
    pub name: MaybeUndefined<Described<String, DisplayName>>,
    pub admin_email: MaybeUndefined<Described<String, Email>>,
    /// A verified custom domain of the firm for the links in its emails (409
    /// `unknown_domain` or `domain_not_verified` otherwise); null goes back to the
    /// platform subdomain.
    #[oai(nullable)]
    pub canonical_domain: MaybeUndefined<Described<String, Domain>>,
    pub settings: MaybeUndefined<SettingsChange>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct FirmList {
    pub firms: Vec<FirmView>,
    /// Pass as `after` for the next page; null on the last page.
    #[oai(nullable)]
    pub next_after: Option<String>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case", deny_unknown_fields)]
pub struct AddDomain {
    /// A domain outside the platform's, such as `portal.example.com`: labels of 1 to
    /// 63 letters, digits and hyphens (none at a label's edge), joined by dots, at most
    /// 233 characters (so that its TXT record's name fits in DNS's 253), no trailing
    /// dot. The platform's own domain and those under it are refused with 409
    /// `platform_domain`.
    pub domain: Described<String, CustomDomain>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct DomainView {
    pub domain: String,
    pub verified: bool,
    /// null until the TXT record is verified.
    #[oai(nullable)]
    pub verified_at: Option<DateTime<Utc>>,
    /// Publish a TXT record with this name…
    pub txt_record_name: String,
    /// …and exactly this value, then call `verify`.
    pub txt_record_value: String,
}

impl From<TenantDomain> for DomainView {
    fn from(domain: TenantDomain) -> Self {
        Self {
            txt_record_name: domain.record_name(),
            domain: domain.domain.to_string(),
            verified: domain.verified_at.is_some(),
            verified_at: domain.verified_at,
            txt_record_value: domain.verification_token,
        }
    }
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct DomainList {
    pub domains: Vec<DomainView>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct AuditEventView {
    pub id: Uuid,
    /// Such as `reset-requested`, `reset-email-sent`, `link-redeemed`.
    pub action: String,
    pub description: String,
    /// `staff`, `contact`, `system` or `anonymous`.
    pub actor_kind: String,
    /// null for `system` and `anonymous` actors.
    #[oai(nullable)]
    pub actor_id: Option<Uuid>,
    pub subject_kind: String,
    pub subject_id: Uuid,
    /// null when the event did not come from a request.
    #[oai(nullable)]
    pub client_address: Option<String>,
    #[oai(nullable)]
    pub detail: Option<String>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct AuditPage {
    /// Newest first.
    pub events: Vec<AuditEventView>,
    /// Pass as `before` for the next (older) page; null on the last page.
    #[oai(nullable)]
    pub next_before: Option<Uuid>,
}

#[derive(Debug, Clone, Object)]
#[oai(rename_all = "snake_case")]
pub struct ActivityView {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Reset emails issued (staff and "Forgot your password?").
    pub resets_requested: u64,
    /// Links used to set a password or receive a temporary one.
    pub resets_completed: u64,
    /// Links whose time ran out unused.
    pub resets_expired: u64,
}

#[derive(ApiResponse)]
enum Created<T: poem_openapi::types::ToJSON + Send + Sync> {
    #[oai(status = 201)]
    Created(Json<T>),
}

#[derive(ApiResponse)]
enum Removed {
    #[oai(status = 204)]
    Removed,
}

const DEFAULT_PAGE: u64 = 50;
pub(super) const PAGE_LIMITS: std::ops::RangeInclusive<u64> = 1..=500;

pub(super) fn page_size(limit: Option<Described<u64, PageLimit>>) -> Result<u64, ApiError> {
    match limit.map(Described::into_inner) {
        None => Ok(DEFAULT_PAGE),
        Some(limit) if PAGE_LIMITS.contains(&limit) => Ok(limit),
        Some(_) => Err(ApiError::invalid(
            "invalid_limit",
            format!(
                "`limit` must be {} to {}",
                PAGE_LIMITS.start(),
                PAGE_LIMITS.end()
            ),
        )),
    }
}

/// A firm whose own resources can be read. A deleted firm is gone from its URIs (404
/// `firm_deleted`) though its data waits for the purge: `GET /tenants?status=deleted`
/// still lists it, with `purge_after`.
async fn visible_firm(state: &AppState, slug: &str) -> Result<Tenant, ApiError> {
    let tenant = firms::find_firm(&state.services, slug).await?;
    if tenant.status == TenantStatus::Deleted {
        let purge = firms::purge_due(&state.services, &tenant).map_or_else(String::new, |due| {
            format!("; its data is purged after {due}")
        });
        return Err(ApiError::not_found(
            "firm_deleted",
            format!("The firm `{}` was deleted{purge}.", tenant.slug),
        ));
    }
    Ok(tenant)
}

pub struct TenantsApi;

#[OpenApi(prefix_path = "/tenants")]
impl TenantsApi {
    /// Provision a firm and invite its first administrator.
    #[oai(path = "/", method = "post", tag = "ApiTags::Firms")]
    async fn create(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        body: Json<CreateFirm>,
    ) -> Result<Created<FirmView>, BodyError> {
        let new = NewFirm {
            slug: &body.slug,
            name: &body.name,
            admin_email: &body.admin_email,
            admin_name: body.admin_name.as_ref().map(|name| name.as_str()),
        };
        let tenant = firms::provision_firm(&state.services, new).await?;
        Ok(Created::Created(Json(FirmView::new(&state, &tenant))))
    }

    /// List firms by slug, a page at a time.
    #[oai(path = "/", method = "get", tag = "ApiTags::Firms")]
    async fn list(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        /// Only firms in this status.
        status: Query<Option<FirmStatus>>,
        /// The `next_after` of the previous page, or any slug-shaped name: the page
        /// starts with the first firm after it.
        after: Query<Option<Described<String, Slug>>>,
        /// 1 to 500; 50 when left out.
        limit: Query<Option<Described<u64, PageLimit>>>,
    ) -> Result<Json<FirmList>, ApiError> {
        let after = after
            .0
            .map(|cursor| {
                let cursor = cursor.into_inner();
                if tenancy::TenantSlug::is_well_formed(&cursor) {
                    Ok(cursor)
                } else {
                    Err(ApiError::invalid(
                        "invalid_cursor",
                        "`after` is not shaped like a slug",
                    ))
                }
            })
            .transpose()?;
        let query = TenantQuery {
            status: status.0.map(Into::into),
            after,
            limit: page_size(limit.0)?,
        };
        let page = service::cross_firm::firms_page(&state.services, &query).await?;
        Ok(Json(FirmList {
            firms: page
                .tenants
                .iter()
                .map(|tenant| FirmView::new(&state, tenant))
                .collect(),
            next_after: page.next_after.map(|slug| slug.to_string()),
        }))
    }

    /// One active or suspended firm; a deleted one is 404 `firm_deleted` (see
    /// `GET /tenants?status=deleted`).
    #[oai(path = "/:slug", method = "get", tag = "ApiTags::Firms")]
    async fn get(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
    ) -> Result<Json<FirmView>, ApiError> {
        let tenant = visible_firm(&state, &slug).await?;
        Ok(Json(FirmView::new(&state, &tenant)))
    }

    /// Change a firm's name, administrator address, canonical domain or settings.
    /// Fields left out stay as they are; the whole change applies or none of it.
    #[oai(path = "/:slug", method = "patch", tag = "ApiTags::Firms")]
    async fn update(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
        body: Json<UpdateFirm>,
    ) -> Result<Json<FirmView>, BodyError> {
        let body = body.0;
        let current = firms::find_firm(&state.services, &slug).await?;
        let change = FirmChange {
            display_name: not_null("name", body.name)?.map(Described::into_inner),
            admin_email: not_null("admin_email", body.admin_email)?.map(Described::into_inner),
            settings: not_null("settings", body.settings)?
                .map(|change| change.apply(current.settings.clone()))
                .transpose()?,
            canonical_domain: match body.canonical_domain {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(domain) => Some(Some(domain.into_inner())),
            },
        };
        let tenant = firms::update_firm(&state.services, &slug, change)
            .await
            .map_err(|error| match error {
                // The firm is there; the domain the body names is not one of its
                // own, which is a conflict with its state rather than a 404 of the URI.
                ServiceError::Tenancy(TenancyError::UnknownDomain(domain)) => ApiError::conflict(
                    "unknown_domain",
                    format!("The firm has no domain `{domain}`; add and verify it first."),
                ),
                other => other.into(),
            })?;
        Ok(Json(FirmView::new(&state, &tenant)))
    }

    /// Delete a firm: its portal goes offline at once and its data is purged after
    /// the grace period (`tenancy.purge_after_days`).
    #[oai(path = "/:slug", method = "delete", tag = "ApiTags::Firms")]
    async fn delete(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
    ) -> Result<Json<FirmView>, ApiError> {
        let tenant = firms::delete_firm(&state.services, &slug).await?;
        Ok(Json(FirmView::new(&state, &tenant)))
    }

    /// Take a firm's portal offline; its pages answer "suspended".
    #[oai(path = "/:slug/suspend", method = "post", tag = "ApiTags::Firms")]
    async fn suspend(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
    ) -> Result<Json<FirmView>, ApiError> {
        let tenant =
            firms::set_firm_status(&state.services, &slug, TenantStatus::Suspended).await?;
        Ok(Json(FirmView::new(&state, &tenant)))
    }

    /// Bring a suspended firm's portal back.
    #[oai(path = "/:slug/resume", method = "post", tag = "ApiTags::Firms")]
    async fn resume(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
    ) -> Result<Json<FirmView>, ApiError> {
        let tenant = firms::set_firm_status(&state.services, &slug, TenantStatus::Active).await?;
        Ok(Json(FirmView::new(&state, &tenant)))
    }

    /// Claim a custom domain; the answer names the DNS TXT record to publish.
    #[oai(path = "/:slug/domains", method = "post", tag = "ApiTags::Domains")]
    async fn add_domain(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
        body: Json<AddDomain>,
    ) -> Result<Created<DomainView>, BodyError> {
        let domain = firms::add_domain(&state.services, &slug, &body.domain).await?;
        Ok(Created::Created(Json(domain.into())))
    }

    /// The firm's custom domains.
    #[oai(path = "/:slug/domains", method = "get", tag = "ApiTags::Domains")]
    async fn list_domains(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
    ) -> Result<Json<DomainList>, ApiError> {
        let tenant = visible_firm(&state, &slug).await?;
        let domains = tenancy::list_tenant_domains(&state.services.db, tenant.id).await?;
        Ok(Json(DomainList {
            domains: domains.into_iter().map(Into::into).collect(),
        }))
    }

    /// Check the domain's TXT record; once it holds the value, the domain serves the
    /// firm's portal.
    #[oai(
        path = "/:slug/domains/:domain/verify",
        method = "post",
        tag = "ApiTags::Domains"
    )]
    async fn verify_domain(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
        domain: Path<String>,
    ) -> Result<Json<DomainView>, ApiError> {
        let verified = firms::verify_domain(&state.services, &slug, &domain).await?;
        Ok(Json(verified.into()))
    }

    /// Remove a custom domain; if it was the canonical one, links go back to the
    /// platform subdomain.
    #[oai(
        path = "/:slug/domains/:domain",
        method = "delete",
        tag = "ApiTags::Domains"
    )]
    async fn remove_domain(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
        domain: Path<String>,
    ) -> Result<Removed, ApiError> {
        firms::remove_domain(&state.services, &slug, &domain).await?;
        Ok(Removed::Removed)
    }

    /// The firm's audit trail, newest first.
    #[oai(path = "/:slug/audit", method = "get", tag = "ApiTags::Activity")]
    async fn audit(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
        /// The `next_before` of the previous page.
        before: Query<Option<Uuid>>,
        /// 1 to 500; 50 when left out.
        limit: Query<Option<Described<u64, PageLimit>>>,
    ) -> Result<Json<AuditPage>, ApiError> {
        let tenant = visible_firm(&state, &slug).await?;
        let limit = page_size(limit.0)?;
        let mut events =
            identity::firm_audit_events(&state.services.db, tenant.id, before.0, limit + 1)
                .await
                .map_err(|error| ApiError::internal(&error))?;
        let more = events.len() as u64 > limit;
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_before = more.then(|| events.last().map(|event| event.id)).flatten();
        Ok(Json(AuditPage {
            events: events
                .into_iter()
                .map(|event| AuditEventView {
                    description: identity::AuditAction::describe(&event.action).to_owned(),
                    id: event.id,
                    action: event.action,
                    actor_kind: event.actor_kind,
                    actor_id: event.actor_id,
                    subject_kind: event.subject_kind,
                    subject_id: event.subject_id,
                    client_address: event.client_address,
                    detail: event.detail,
                    created_at: event.created_at,
                })
                .collect(),
            next_before,
        }))
    }

    /// Resets requested, completed and expired in the last 24 hours.
    #[oai(path = "/:slug/activity", method = "get", tag = "ApiTags::Activity")]
    async fn activity(
        &self,
        _token: OperatorToken,
        state: Data<&AppState>,
        slug: Path<String>,
    ) -> Result<Json<ActivityView>, ApiError> {
        let tenant = visible_firm(&state, &slug).await?;
        let until = Utc::now();
        let since = until - Duration::hours(24);
        let activity = reset_token::reset_activity(&state.services.db, tenant.id, since, until)
            .await
            .map_err(|error| ApiError::internal(&error))?;
        Ok(Json(ActivityView {
            since,
            until,
            resets_requested: activity.requested,
            resets_completed: activity.completed,
            resets_expired: activity.expired,
        }))
    }
}
