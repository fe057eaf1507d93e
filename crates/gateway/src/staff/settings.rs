//! `/staff/settings`: a firm's administrators edit the settings operators can also
//! set through the API, with the same service function and the same rules.

use std::sync::Arc;

use minijinja::context;
use poem::web::{Data, Html, Query, Redirect};
use poem::{IntoResponse, Response, handler};
use serde::{Deserialize, Serialize};
use service::ServiceError;
use service::firms::{self, FirmChange};
use tenancy::{ResetMode, TenancyError, Tenant, TenantSettings};

use super::views::{FieldErrors, StaffPage, form_errors};
use crate::http::csrf::CsrfToken;
use crate::http::error::GatewayError;
use crate::http::extractors::{AdminSession, CsrfForm};
use crate::http::forms::refused;
use crate::http::templates::serialized;
use crate::state::AppState;

/// What the form shows: the stored settings, or what was typed when it is shown
/// again with errors.
#[derive(Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct SettingsForm {
    display_name: String,
    logo_url: String,
    accent_colour: String,
    reset_mode: String,
    reset_link_minutes: String,
    min_password_length: String,
    default_locale: String,
}

impl SettingsForm {
    fn of(tenant: &Tenant) -> Self {
        let settings = &tenant.settings;
        Self {
            display_name: tenant.display_name.clone(),
            logo_url: settings.branding.logo_url.clone().unwrap_or_default(),
            accent_colour: settings.branding.accent_colour.clone().unwrap_or_default(),
            reset_mode: match settings.reset_mode {
                ResetMode::Link => "link",
                ResetMode::TemporaryPassword => "temporary_password",
            }
            .to_owned(),
            reset_link_minutes: settings
                .reset_link_minutes
                .map(|minutes| minutes.to_string())
                .unwrap_or_default(),
            min_password_length: settings
                .min_password_length
                .map(|length| length.to_string())
                .unwrap_or_default(),
            default_locale: settings.default_locale.clone(),
        }
    }

    /// The settings this form asks for; range checks are the tenancy crate's, so
    /// the page and the operator API refuse the same values.
    fn settings(&self, current: &TenantSettings) -> Result<TenantSettings, FieldErrors> {
        let mut errors = FieldErrors::new();
        let mut settings = current.clone();
        settings.branding.logo_url = optional(&self.logo_url);
        settings.branding.accent_colour = optional(&self.accent_colour);
        settings.default_locale = self.default_locale.trim().to_owned();
        match self.reset_mode.as_str() {
            "link" => settings.reset_mode = ResetMode::Link,
            "temporary_password" => settings.reset_mode = ResetMode::TemporaryPassword,
            _ => errors.push(("reset_mode", "Choose what a reset link does.".to_owned())),
        }
        match optional(&self.reset_link_minutes).map(|raw| raw.parse::<i64>()) {
            None => settings.reset_link_minutes = None,
            Some(Ok(minutes)) => settings.reset_link_minutes = Some(minutes),
            Some(Err(_)) => errors.push(("reset_link_minutes", WHOLE_NUMBER.to_owned())),
        }
        match optional(&self.min_password_length).map(|raw| raw.parse::<u32>()) {
            None => settings.min_password_length = None,
            Some(Ok(length)) => settings.min_password_length = Some(length),
            Some(Err(_)) => errors.push(("min_password_length", WHOLE_NUMBER.to_owned())),
        }
        if errors.is_empty() {
            Ok(settings)
        } else {
            Err(errors)
        }
    }
}

const WHOLE_NUMBER: &str = "Enter a whole number, or leave it empty.";

fn optional(raw: &str) -> Option<String> {
    let trimmed = raw.trim();
    (!trimmed.is_empty()).then(|| trimmed.to_owned())
}

#[derive(Debug, Serialize)]
struct LocaleView {
    code: &'static str,
    name: &'static str,
}

fn locale_name(code: &str) -> &'static str {
    match code {
        "it" => "Italiano",
        _ => "English",
    }
}

fn settings_page(
    page: &StaffPage<'_>,
    form: &SettingsForm,
    errors: &FieldErrors,
    saved: bool,
) -> Result<Html<String>, GatewayError> {
    let locales: Vec<LocaleView> = tenancy::SUPPORTED_LOCALES
        .iter()
        .map(|code| LocaleView {
            code,
            name: locale_name(code),
        })
        .collect();
    let state = page.state;
    let context = context! {
        values => serialized(form),
        errors => form_errors(errors),
        locales => serialized(locales),
        saved,
        default_minutes => state.settings.reset.default_ttl_minutes,
        default_min_length => state.services.config.password_policy.min_length,
    };
    page.render("staff/settings.html", context)
}

#[derive(Debug, Deserialize)]
pub struct SavedQuery {
    #[serde(default)]
    saved: Option<String>,
}

#[handler]
pub async fn settings_form(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    Query(query): Query<SavedQuery>,
) -> Result<Html<String>, GatewayError> {
    let page = StaffPage::new(&state, &tenant, &staff, csrf, "settings");
    let form = SettingsForm::of(&tenant);
    settings_page(&page, &form, &FieldErrors::new(), query.saved.is_some())
}

#[handler]
pub async fn save_settings(
    state: Data<&AppState>,
    tenant: Data<&Arc<Tenant>>,
    AdminSession(staff): AdminSession,
    csrf: CsrfToken,
    CsrfForm(form): CsrfForm<SettingsForm>,
) -> Result<Response, GatewayError> {
    let errors = match form.settings(&tenant.settings) {
        Err(errors) => errors,
        Ok(settings) => {
            let change = FirmChange {
                display_name: Some(form.display_name.clone()),
                settings: Some(settings),
                ..FirmChange::default()
            };
            match firms::update_firm(&state.services, tenant.slug.as_str(), change).await {
                Ok(_) => {
                    tracing::info!(staff = %staff.account.id, "firm settings changed");
                    return Ok(Redirect::see_other("/staff/settings?saved=1").into_response());
                }
                Err(ServiceError::Tenancy(TenancyError::InvalidSetting { field, reason })) => {
                    vec![(form_field(field), reason)]
                }
                Err(ServiceError::Tenancy(TenancyError::InvalidDisplayName)) => vec![(
                    "display_name",
                    "Enter the firm's name (up to 200 characters).".to_owned(),
                )],
                Err(error) => return Err(error.into()),
            }
        }
    };
    let page = StaffPage::new(&state, &tenant, &staff, csrf, "settings");
    Ok(refused(settings_page(&page, &form, &errors, false)?))
}

/// The form field a setting is edited in (`branding.logo_url` → `logo_url`).
fn form_field(setting: &'static str) -> &'static str {
    setting.rsplit('.').next().unwrap_or(setting)
}
