//! Page templates, embedded in the binary at build time, and the values they show.

use minijinja::{Environment, UndefinedBehavior};
use poem::web::Html;
use serde::Serialize;
use tenancy::Tenant;

use crate::http::error::GatewayError;

/// Every page template, ready to render.
#[derive(Debug)]
pub struct Templates {
    environment: Environment<'static>,
}

impl Templates {
    pub fn new() -> Self {
        let mut environment = Environment::new();
        // A misspelt variable is a bug to see in tests, not an empty string on a page;
        // `{% if firm %}` on pages without a firm stays allowed.
        environment.set_undefined_behavior(UndefinedBehavior::SemiStrict);
        minijinja_embed::load_templates!(&mut environment);
        Self { environment }
    }

    /// Renders `name` (HTML templates escape every value).
    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
        self.environment
            .get_template(name)?
            .render(minijinja::Value::from(minijinja::value::Serde(&context)))
    }

    /// Renders `name` as a handler's answer.
    pub fn page(&self, name: &str, context: impl Serialize) -> Result<Html<String>, GatewayError> {
        Ok(Html(self.render(name, context)?))
    }
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

/// What a page may show of a firm: its name and branding, checked so that a stored
/// value can never turn into markup, a script URL or a broken stylesheet.
#[derive(Debug, Clone, Serialize)]
pub struct FirmView {
    pub slug: String,
    pub display_name: String,
    pub logo_url: Option<String>,
    pub accent_colour: Option<String>,
}

impl FirmView {
    pub fn of(tenant: &Tenant) -> Self {
        let branding = &tenant.settings.branding;
        Self {
            slug: tenant.slug.to_string(),
            display_name: tenant.display_name.clone(),
            logo_url: branding.safe_logo_url().map(str::to_owned),
            accent_colour: branding.safe_accent_colour().map(str::to_owned),
        }
    }
}

/// A firm as a template value: `{{ firm.display_name }}` and its branding.
pub fn firm_value(tenant: &Tenant) -> minijinja::Value {
    serialized(FirmView::of(tenant))
}

/// Any serialisable value as a template value.
pub fn serialized<T: Serialize>(value: T) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}

#[cfg(test)]
mod tests {
    use super::Templates;
    use tenancy::{is_hex_colour, is_https_url};

    #[test]
    fn every_embedded_template_compiles() {
        let templates = Templates::new();
        let root = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates"));
        // Templates sit in one folder an area; their names are their paths from here.
        let mut names = Vec::new();
        let mut folders = vec![root.to_path_buf()];
        while let Some(folder) = folders.pop() {
            for entry in std::fs::read_dir(folder).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    folders.push(path);
                } else {
                    let name = path.strip_prefix(root).unwrap().to_str().unwrap();
                    names.push(name.replace(std::path::MAIN_SEPARATOR, "/"));
                }
            }
        }
        assert!(names.len() >= 30, "{names:?}");
        for name in &names {
            templates
                .environment
                .get_template(name)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn values_are_escaped() {
        let html = Templates::new()
            .render(
                "error.html",
                minijinja::context! { status => 404, heading => "<script>x</script>", message => "m" },
            )
            .unwrap();
        assert!(
            html.contains("&lt;script&gt;x&lt;&#x2f;script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
    }

    #[test]
    fn branding_values_are_checked() {
        assert!(is_hex_colour("#1d4ed8"));
        for bad in [
            "1d4ed8",
            "#1d4ed",
            "#1d4ed8;",
            "red",
            "#zzzzzz",
            "#1d4ed8}body{",
        ] {
            assert!(!is_hex_colour(bad), "{bad}");
        }
        assert!(is_https_url("https://cdn.acme.test/logo.png"));
        for bad in [
            "http://acme.test/logo.png",
            "javascript:alert(1)",
            "https://",
            "https://a\" onload=\"x",
        ] {
            assert!(!is_https_url(bad), "{bad}");
        }
    }
}
