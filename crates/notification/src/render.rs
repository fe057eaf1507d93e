//! Rendering emails: an HTML part (auto-escaped) and a plain-text part for each
//! message, in the firm's branding and the recipient's language.

use std::collections::BTreeMap;

use minijinja::{Environment, UndefinedBehavior, Value};
use tenancy::{Branding, Tenant};

use crate::NotificationError;
use crate::email::{Email, RenderedEmail};
use crate::phrases::{LOCALES, phrases};

/// The accent of firms that chose none, or chose something that is not `#rrggbb`.
const DEFAULT_ACCENT: &str = "#1d4ed8";

/// Who an email comes from, as its looks need it.
struct SenderLook<'a> {
    name: &'a str,
    branding: &'a Branding,
    default_locale: &'a str,
}

/// The embedded email templates. Build one at start-up and share it: parsing the
/// templates happens once, here.
#[derive(Debug)]
pub struct Renderer {
    environment: Environment<'static>,
}

impl Default for Renderer {
    fn default() -> Self {
        Self::new()
    }
}

impl Renderer {
    pub fn new() -> Self {
        let mut environment = Environment::new();
        // A misspelt variable must fail loudly in tests rather than send a blank.
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        minijinja_embed::load_templates!(&mut environment);
        Self { environment }
    }

    /// Renders `email` from `firm` for a recipient who prefers `locale`; without a
    /// supported preference the firm's default locale is used, then English.
    pub fn render(
        &self,
        email: &Email,
        firm: &Tenant,
        locale: Option<&str>,
    ) -> Result<RenderedEmail, NotificationError> {
        let sender = SenderLook {
            name: &firm.display_name,
            branding: &firm.settings.branding,
            default_locale: &firm.settings.default_locale,
        };
        self.render_as(email, &sender, locale)
    }

    /// Renders platform mail, which speaks for no firm: `platform_name` stands where
    /// a firm's name would, in the default branding.
    pub fn render_platform(
        &self,
        email: &Email,
        platform_name: &str,
        locale: Option<&str>,
    ) -> Result<RenderedEmail, NotificationError> {
        let branding = Branding::default();
        let sender = SenderLook {
            name: platform_name,
            branding: &branding,
            default_locale: "en",
        };
        self.render_as(email, &sender, locale)
    }

    fn render_as(
        &self,
        email: &Email,
        sender: &SenderLook<'_>,
        locale: Option<&str>,
    ) -> Result<RenderedEmail, NotificationError> {
        let locale = choose_locale(locale, sender.default_locale);
        let kind = email.kind();
        let (subject, raw_phrases) = phrases(kind, locale);

        let mut placeholders: Vec<(&str, String)> = vec![("firm", one_line(sender.name))];
        let mut context: BTreeMap<&str, Value> = BTreeMap::new();
        match email {
            Email::PasswordReset(message) => {
                placeholders.push(("name", one_line(&message.name)));
                placeholders.push(("minutes", message.expires_in_minutes.to_string()));
                context.insert("url", checked_url(&message.url)?);
            }
            Email::Invitation(message) => {
                placeholders.push(("name", one_line(&message.name)));
                placeholders.push(("hours", message.expires_in_hours.to_string()));
                context.insert("url", checked_url(&message.url)?);
            }
            Email::TemporaryPassword(message) => {
                placeholders.push(("name", one_line(&message.name)));
                context.insert("password", Value::from(message.password.as_str()));
                context.insert("url", checked_url(&message.sign_in_url)?);
            }
            Email::PasswordChanged(message) => {
                placeholders.push(("name", one_line(&message.name)));
                context.insert("url", checked_url(&message.reset_url)?);
            }
            Email::FindYourFirm(message) => {
                for firm in &message.firms {
                    checked_url(&firm.url)?;
                }
                context.insert(
                    "firms",
                    Value::from(minijinja::value::Serde(&message.firms)),
                );
            }
            Email::AccessRequestReceived(message) => {
                context.insert(
                    "requester_name",
                    Value::from(one_line(&message.requester_name)),
                );
                context.insert(
                    "requester_email",
                    Value::from(one_line(&message.requester_email)),
                );
                context.insert("company", Value::from(one_line(&message.company)));
                context.insert("message", Value::from(message.message.as_str()));
                context.insert("url", checked_url(&message.review_url)?);
            }
        }
        // The phrases are filled here and reach the templates as plain values, so a
        // name such as `{{ x }}` or `<script>` is data, never template or markup.
        let filled: BTreeMap<&str, String> = raw_phrases
            .iter()
            .map(|(key, text)| (*key, fill(text, &placeholders)))
            .collect();

        let branding = sender.branding;
        let logo_url = branding.safe_logo_url().map(str::to_owned);
        let accent = branding.safe_accent_colour().unwrap_or(DEFAULT_ACCENT);
        context.insert("locale", Value::from(locale));
        context.insert("subject", Value::from(subject));
        context.insert("firm_name", Value::from(one_line(sender.name)));
        context.insert("logo_url", Value::from(logo_url));
        context.insert("accent", Value::from(accent));
        context.insert("t", Value::from(filled));
        let context = Value::from(context);

        let html = self
            .environment
            .get_template(&format!("{kind}.html"))?
            .render(&context)?;
        let text = self
            .environment
            .get_template(&format!("{kind}.txt"))?
            .render(&context)?;
        Ok(RenderedEmail {
            kind,
            locale,
            subject: subject.to_owned(),
            html,
            text,
        })
    }
}

/// The first supported locale among the recipient's and the firm's, else English.
fn choose_locale(preferred: Option<&str>, firm_default: &str) -> &'static str {
    [preferred, Some(firm_default)]
        .into_iter()
        .flatten()
        .find_map(|candidate| {
            let candidate = candidate.trim();
            LOCALES
                .iter()
                .copied()
                .find(|locale| locale.eq_ignore_ascii_case(candidate))
        })
        .unwrap_or("en")
}

/// Replaces each `{key}` in one pass, so a value that itself looks like a
/// placeholder (a firm called "{name}") is left as it is.
fn fill(text: &str, placeholders: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let after = &rest[start + 1..];
        let replaced = after.find('}').and_then(|end| {
            let key = &after[..end];
            placeholders
                .iter()
                .find(|(name, _)| *name == key)
                .map(|(_, value)| (value, end))
        });
        match replaced {
            Some((value, end)) => {
                out.push_str(value);
                rest = &after[end + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Names are one line: a line break typed into a name must not start a line of
/// its own in the text part, where it could pass for something we wrote.
fn one_line(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// Links in emails must be http(s): anything else (`javascript:`, `data:`) would be a
/// bug in the caller that an auto-escaping template cannot catch.
fn checked_url(url: &str) -> Result<Value, NotificationError> {
    let lower = url.to_ascii_lowercase();
    let plausible = (lower.starts_with("https://") || lower.starts_with("http://"))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control());
    if plausible {
        Ok(Value::from(url))
    } else {
        Err(NotificationError::InvalidUrl)
    }
}

#[cfg(test)]
mod tests {
    use super::{choose_locale, fill};
    use tenancy::{is_hex_colour, is_https_url};

    #[test]
    fn placeholders_fill_in_one_pass() {
        let values = [("firm", "{name}".to_owned()), ("name", "Ann".to_owned())];
        assert_eq!(fill("{firm} for {name}", &values), "{name} for Ann");
        assert_eq!(fill("a {unknown} b {", &values), "a {unknown} b {");
    }

    #[test]
    fn locale_falls_back_to_the_firm_then_english() {
        assert_eq!(choose_locale(Some("it"), "en"), "it");
        assert_eq!(choose_locale(Some("IT"), "en"), "it");
        assert_eq!(choose_locale(Some("fr"), "it"), "it");
        assert_eq!(choose_locale(None, "it"), "it");
        assert_eq!(choose_locale(Some("fr"), "de"), "en");
    }

    #[test]
    fn branding_values_are_checked() {
        assert!(is_hex_colour("#a1B2c3"));
        assert!(!is_hex_colour("red"));
        assert!(!is_hex_colour("#12345"));
        assert!(!is_hex_colour("#123456;background:url(x)"));
        assert!(is_https_url("https://cdn.acme.test/logo.png"));
        assert!(!is_https_url("http://cdn.acme.test/logo.png"));
        assert!(!is_https_url("javascript:alert(1)"));
        assert!(!is_https_url("https://x\" onerror=\"alert(1)"));
    }
}
