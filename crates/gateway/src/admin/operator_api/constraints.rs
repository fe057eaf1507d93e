//! Request values whose schema states the rule the domain enforces.
//!
//! They parse any value of their JSON type and leave the rule to the domain, so a
//! value that breaks it gets the domain's problem (`invalid_slug`, `invalid_setting`,
//! …) instead of the framework's generic `invalid_request`. The spec must say exactly
//! what the domain accepts: a generated client trusts it, and `cargo xtask
//! api-contract` sends values on both sides of every rule here. The tests at the end
//! hold each pattern to the function it describes.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::ops::Deref;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{
    ParseError, ParseFromJSON, ParseFromParameter, ParseResult, ToJSON, Type,
};
use serde_json::Value;

/// What the spec says about a value, beyond its JSON type.
pub trait Rule: Send + Sync + 'static {
    fn describe(schema: &mut MetaSchema);
}

/// A `T` documented with rule `R`, which the domain checks.
pub struct Described<T, R> {
    value: T,
    rule: PhantomData<fn() -> R>,
}

impl<T, R> Described<T, R> {
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T, R> Deref for Described<T, R> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T: std::fmt::Debug, R> std::fmt::Debug for Described<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.value.fmt(f)
    }
}

impl<T: Clone, R> Clone for Described<T, R> {
    fn clone(&self) -> Self {
        Self {
            value: self.value.clone(),
            rule: PhantomData,
        }
    }
}

impl<T: Type, R: Rule> Type for Described<T, R> {
    const IS_REQUIRED: bool = T::IS_REQUIRED;
    type RawValueType = T::RawValueType;
    type RawElementValueType = T::RawElementValueType;

    fn name() -> Cow<'static, str> {
        T::name()
    }

    fn schema_ref() -> MetaSchemaRef {
        match T::schema_ref() {
            MetaSchemaRef::Inline(mut schema) => {
                R::describe(&mut schema);
                MetaSchemaRef::Inline(schema)
            }
            reference => reference,
        }
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        self.value.as_raw_value()
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        self.value.raw_element_iter()
    }
}

impl<T: ParseFromJSON, R: Rule> ParseFromJSON for Described<T, R> {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        // The framework reads `true` and `5` as the strings "true" and "5"; the spec
        // says a string, so only a string is one.
        if let Some(value @ (Value::Bool(_) | Value::Number(_))) = &value
            && matches!(T::schema_ref(), MetaSchemaRef::Inline(schema) if schema.ty == "string")
        {
            return Err(ParseError::expected_type(value.clone()));
        }
        T::parse_from_json(value)
            .map(|value| Self {
                value,
                rule: PhantomData,
            })
            .map_err(|error| error.propagate())
    }
}

impl<T: ParseFromParameter, R: Rule> ParseFromParameter for Described<T, R> {
    fn parse_from_parameter(value: &str) -> ParseResult<Self> {
        T::parse_from_parameter(value)
            .map(|value| Self {
                value,
                rule: PhantomData,
            })
            .map_err(|error| error.propagate())
    }
}

impl<T: ToJSON, R: Rule> ToJSON for Described<T, R> {
    fn to_json(&self) -> Option<Value> {
        self.value.to_json()
    }
}

/// Rust's `char::is_whitespace`, spelled out: a regex's `\s` differs between
/// JavaScript, Python and Rust.
const WHITESPACE: &str =
    r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// Rust's `char::is_control`.
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";

/// `tenancy::TenantSlug::parse`: 1 to 63 of `a-z`, `0-9` and `-`, no hyphen at either
/// end, not hyphens in both the third and fourth places (IDNA's prefix). The names the
/// platform reserves have this shape too; they are refused with 409 `slug_reserved`.
pub const SLUG_PATTERN: &str = "^(?:[a-z0-9](?:[a-z0-9-]?[a-z0-9])?\
|[a-z0-9][a-z0-9-]{2}[a-z0-9]\
|[a-z0-9][a-z0-9-](?:[a-z0-9][a-z0-9-]|-[a-z0-9])[a-z0-9-]{0,58}[a-z0-9])$";

#[derive(Debug, Clone, Copy)]
pub struct Slug;

impl Rule for Slug {
    fn describe(schema: &mut MetaSchema) {
        schema.min_length = Some(1);
        schema.max_length = Some(63);
        schema.pattern = Some(SLUG_PATTERN.to_owned());
    }
}

/// The names of firms and people (`tenancy` and `identity` both): 1 to 200 characters
/// once trimmed, none of them a control character.
#[derive(Debug, Clone, Copy)]
pub struct DisplayName;

pub fn display_name_pattern() -> String {
    let space = format!("[{WHITESPACE}]");
    let inner = format!("[^{CONTROL}]");
    let edge = format!("[^{CONTROL}{WHITESPACE}]");
    format!("^{space}*{edge}(?:{inner}{{0,198}}{edge})?{space}*$")
}

impl Rule for DisplayName {
    fn describe(schema: &mut MetaSchema) {
        schema.min_length = Some(1);
        schema.pattern = Some(display_name_pattern());
    }
}

/// `identity::EmailAddress::parse`: an address lettre can send to, at most 254
/// characters.
#[derive(Debug, Clone, Copy)]
pub struct Email;

impl Rule for Email {
    fn describe(schema: &mut MetaSchema) {
        schema.format = Some("email");
        schema.max_length = Some(254);
    }
}

/// `tenancy::HostName::parse_domain`: DNS labels of 1 to 63 letters, digits and
/// hyphens (no hyphen at a label's edge), joined by dots, 253 characters at most, no
/// trailing dot. Domains under the platform's own are refused with 409
/// `platform_domain`.
pub const DOMAIN_PATTERN: &str = "^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\
(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$";

#[derive(Debug, Clone, Copy)]
pub struct Domain;

impl Rule for Domain {
    fn describe(schema: &mut MetaSchema) {
        schema.min_length = Some(1);
        schema.max_length = Some(253);
        schema.pattern = Some(DOMAIN_PATTERN.to_owned());
    }
}

/// A domain a firm claims: as [`Domain`], short enough for its TXT record's name
/// (`tenancy::MAX_CUSTOM_DOMAIN_LENGTH`).
#[derive(Debug, Clone, Copy)]
pub struct CustomDomain;

impl Rule for CustomDomain {
    fn describe(schema: &mut MetaSchema) {
        Domain::describe(schema);
        schema.max_length = Some(tenancy::MAX_CUSTOM_DOMAIN_LENGTH);
    }
}

/// `tenancy::is_https_url`: `https://`, a host, and at most 2048 characters, none of
/// them whitespace, a control character or one of `"'<>\()`.
#[derive(Debug, Clone, Copy)]
pub struct HttpsUrl;

pub fn https_url_pattern() -> String {
    let allowed = format!(r#"[^{CONTROL}{WHITESPACE}"'<>\\()]"#);
    let host = format!(r#"[^{CONTROL}{WHITESPACE}"'<>\\()/?#]"#);
    format!("^https://{host}{allowed}*$")
}

impl Rule for HttpsUrl {
    fn describe(schema: &mut MetaSchema) {
        schema.max_length = Some(2048);
        schema.pattern = Some(https_url_pattern());
    }
}

/// `tenancy::is_hex_colour`: `#rrggbb`.
pub const COLOUR_PATTERN: &str = "^#[0-9A-Fa-f]{6}$";

#[derive(Debug, Clone, Copy)]
pub struct Colour;

impl Rule for Colour {
    fn describe(schema: &mut MetaSchema) {
        schema.pattern = Some(COLOUR_PATTERN.to_owned());
    }
}

/// `tenancy::SUPPORTED_LOCALES`.
#[derive(Debug, Clone, Copy)]
pub struct Locale;

impl Rule for Locale {
    fn describe(schema: &mut MetaSchema) {
        schema.enum_items = tenancy::SUPPORTED_LOCALES
            .iter()
            .map(|locale| Value::String((*locale).to_owned()))
            .collect();
    }
}

/// An inclusive range of integers.
macro_rules! integer_rule {
    ($(#[$doc:meta])* $name:ident, $range:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy)]
        pub struct $name;

        impl Rule for $name {
            fn describe(schema: &mut MetaSchema) {
                let range = $range;
                schema.minimum = Some(*range.start() as f64);
                schema.maximum = Some(*range.end() as f64);
            }
        }
    };
}

integer_rule!(
    /// `tenancy::RESET_LINK_MINUTES`.
    ResetLinkMinutes,
    tenancy::RESET_LINK_MINUTES
);
integer_rule!(
    /// `tenancy::MIN_PASSWORD_LENGTH`.
    MinPasswordLength,
    tenancy::MIN_PASSWORD_LENGTH
);
integer_rule!(
    /// The page sizes of the lists.
    PageLimit,
    super::tenants::PAGE_LIMITS
);

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    fn compile(pattern: &str) -> Regex {
        Regex::new(pattern).expect("the pattern compiles")
    }

    /// Every string of `alphabet` up to `max_length` characters.
    fn strings(alphabet: &[char], max_length: usize) -> Vec<String> {
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..max_length {
            last = last
                .iter()
                .flat_map(|prefix| {
                    alphabet.iter().map(move |c| {
                        let mut next = prefix.clone();
                        next.push(*c);
                        next
                    })
                })
                .collect();
            all.extend(last.iter().cloned());
        }
        all
    }

    fn well_formed_slug(raw: &str) -> bool {
        match tenancy::TenantSlug::parse(raw) {
            Ok(_) => true,
            Err(tenancy::SlugError::Reserved(_)) => tenancy::TenantSlug::is_well_formed(raw),
            Err(_) => false,
        }
    }

    #[test]
    fn the_slug_pattern_is_the_slug_rule() {
        let pattern = compile(SLUG_PATTERN);
        for raw in strings(&['a', '0', '-', 'A', '_'], 6) {
            assert_eq!(pattern.is_match(&raw), well_formed_slug(&raw), "{raw:?}");
        }
        for length in [62, 63, 64] {
            for raw in [
                "a".repeat(length),
                format!("ab--{}", "c".repeat(length - 4)),
            ] {
                assert_eq!(pattern.is_match(&raw), well_formed_slug(&raw), "{raw:?}");
            }
        }
        assert!(pattern.is_match("www") && !well_formed_slug("_dev"));
    }

    #[test]
    fn the_domain_pattern_is_the_domain_rule() {
        let pattern = compile(DOMAIN_PATTERN);
        for raw in strings(&['a', 'B', '0', '-', '.', '_'], 6) {
            assert_eq!(
                pattern.is_match(&raw) && raw.len() <= 253,
                tenancy::HostName::parse_domain(&raw).is_ok(),
                "{raw:?}"
            );
        }
        let label = "a".repeat(63);
        for raw in [
            format!("{label}.{label}.{label}.{}", "b".repeat(61)),
            format!("{label}.{label}.{label}.{}", "b".repeat(62)),
            format!("{label}b.example"),
            "example.com.".to_owned(),
            "example.com:443".to_owned(),
        ] {
            assert_eq!(
                pattern.is_match(&raw) && raw.len() <= 253,
                tenancy::HostName::parse_domain(&raw).is_ok(),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_name_pattern_is_the_name_rule() {
        let pattern = compile(&display_name_pattern());
        let accepts = |raw: &str| {
            let trimmed = raw.trim();
            !trimmed.is_empty()
                && trimmed.chars().count() <= 200
                && !trimmed.chars().any(char::is_control)
        };
        for raw in strings(&['a', ' ', '\u{85}', '\u{1}', '\u{3000}', 'é'], 4) {
            assert_eq!(pattern.is_match(&raw), accepts(&raw), "{raw:?}");
        }
        for raw in [
            "x".repeat(200),
            "x".repeat(201),
            format!("  {}\u{3000}", "é".repeat(200)),
            format!("{}\n", "x".repeat(200)),
        ] {
            assert_eq!(pattern.is_match(&raw), accepts(&raw), "{raw:?}");
        }
    }

    #[test]
    fn the_url_and_colour_patterns_are_their_rules() {
        let url = compile(&https_url_pattern());
        for raw in [
            "https://cdn.example/logo.png",
            "https://h",
            "https://",
            "https:///logo.png",
            "http://cdn.example/logo.png",
            "https://cdn.example/a b.png",
            "https://cdn.example/\"x\".png",
            "https://cdn.example/(x).png",
            "https://cdn.example/\u{85}",
            "https://bücher.example/é.png",
        ] {
            assert_eq!(url.is_match(raw), tenancy::is_https_url(raw), "{raw:?}");
        }
        let colour = compile(COLOUR_PATTERN);
        for raw in [
            "#a1B2c3",
            "#a1b2c",
            "a1b2c3f",
            "#a1b2c3d",
            "#g1b2c3",
            "#ａ1b2c3",
        ] {
            assert_eq!(colour.is_match(raw), tenancy::is_hex_colour(raw), "{raw:?}");
        }
    }
}
