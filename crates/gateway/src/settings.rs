//! Configuration: the shipped defaults, then the environment's file, then `--config
//! FILE`, then `LATCHKEY__SECTION__KEY` variables; unknown keys stop start-up.
//!
//! The files under `config/` are compiled into the binary, so a release binary runs
//! from any directory; deployments change settings with `--config` and variables.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use config::{Config, Environment as EnvironmentSource, File, FileFormat};
use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tenancy::HostName;

pub use service::{LimitSettings, PublicScheme};

const DEFAULT_FILE: &str = include_str!("../../../config/default.toml");
const DEVELOPMENT_FILE: &str = include_str!("../../../config/development.toml");
const TEST_FILE: &str = include_str!("../../../config/test.toml");
const PRODUCTION_FILE: &str = include_str!("../../../config/production.toml");

/// The variable that chooses the environment.
pub const ENVIRONMENT_VAR: &str = "LATCHKEY_ENV";
const VARIABLE_PREFIX: &str = "LATCHKEY";

/// Secrets shorter than this are refused outside development.
const MIN_SECRET_LENGTH: usize = 32;

/// Which of the shipped configuration files applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    /// Reads `LATCHKEY_ENV`; unset means development.
    pub fn from_env() -> Result<Self, SettingsError> {
        match std::env::var(ENVIRONMENT_VAR) {
            Ok(name) => Self::parse(&name),
            Err(_) => Ok(Self::Development),
        }
    }

    pub fn parse(name: &str) -> Result<Self, SettingsError> {
        match name {
            "" | "development" => Ok(Self::Development),
            "test" => Ok(Self::Test),
            "production" => Ok(Self::Production),
            other => Err(SettingsError::UnknownEnvironment(other.to_owned())),
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }

    fn file(&self) -> &'static str {
        match self {
            Self::Development => DEVELOPMENT_FILE,
            Self::Test => TEST_FILE,
            Self::Production => PRODUCTION_FILE,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("{ENVIRONMENT_VAR}={0} is not an environment; use development, test or production")]
    UnknownEnvironment(String),
    #[error("cannot read the configuration file {path}: {source}")]
    ConfigFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
    #[error("{key} is required in the {environment} environment: {hint}")]
    MissingSecret {
        key: &'static str,
        environment: Environment,
        hint: &'static str,
    },
}

/// Every setting, checked.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub tenancy: TenancySettings,
    pub mail: MailSettings,
    pub security: SecuritySettings,
    pub password: PasswordSettings,
    pub reset: ResetSettings,
    pub session: SessionSettings,
    pub limits: LimitSettings,
    pub log: LogSettings,
    pub bench: BenchSettings,
    #[serde(skip, default = "development")]
    pub environment: Environment,
}

fn development() -> Environment {
    Environment::Development
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub bind: SocketAddr,
    pub admin_bind: SocketAddr,
    #[serde(deserialize_with = "deserialize_host_name")]
    pub base_domain: HostName,
    pub public_scheme: PublicScheme,
    pub public_port: Option<u16>,
    pub trusted_proxies: Vec<TrustedProxy>,
    pub body_limit_bytes: usize,
    pub shutdown_grace_seconds: u64,
}

/// A proxy in front of the gateway, as one address or a CIDR range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedProxy(IpNet);

impl TrustedProxy {
    pub fn contains(&self, address: &IpAddr) -> bool {
        self.0.contains(address)
    }
}

impl<'de> Deserialize<'de> for TrustedProxy {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        raw.parse::<IpNet>()
            .or_else(|_| raw.parse::<IpAddr>().map(IpNet::from))
            .map(Self)
            .map_err(|_| {
                serde::de::Error::custom(format!("`{raw}` is not an IP address or CIDR range"))
            })
    }
}

fn deserialize_host_name<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<HostName, D::Error> {
    let raw = String::deserialize(deserializer)?;
    HostName::parse(&raw).map_err(|error| serde::de::Error::custom(format!("`{raw}`: {error}")))
}

impl ServerSettings {
    /// The public origin of a host: scheme, host and, when it is not the scheme's
    /// default, the port. Links in emails and pages are built from this alone.
    pub fn public_origin(&self, host: &str) -> String {
        service::FirmLinks {
            base_domain: self.base_domain.clone(),
            scheme: self.public_scheme,
            port: self.public_port,
        }
        .origin(host)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// May hold a password, so it is a secret.
    pub url: SecretString,
    pub max_connections: u32,
}

impl fmt::Debug for DatabaseSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseSettings")
            .field("url", &redact_url(self.url.expose_secret()))
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

/// A URL with any password replaced, safe to print.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{scheme}://{user}:***@{host}{}", &rest[authority_end..])
        }
        None => url.to_owned(),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenancySettings {
    pub cache_ttl_seconds: u64,
    pub cache_capacity: u64,
    /// Days a deleted firm's data is kept, offline, before the purge removes it.
    pub purge_after_days: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    File,
    Smtp,
    Log,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub transport: MailTransport,
    pub smtp_url: SecretString,
    pub from: String,
    pub dir: PathBuf,
    pub max_attempts: u32,
    pub retry_base_seconds: u64,
    pub lease_seconds: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    pub token_key: SecretString,
    pub previous_token_keys: Vec<SecretString>,
    pub operator_token: SecretString,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    pub argon2_m_kib: u32,
    pub argon2_t: u32,
    pub argon2_p: u32,
    pub min_length: usize,
    pub hash_concurrency: usize,
    pub queue_timeout_ms: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    pub idle_minutes: i64,
    pub absolute_hours: i64,
}

/// What `cargo xtask bench` needs from the binary it measures.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BenchSettings {
    /// Answer `GET /_bench/ceiling` on the public listener before any middleware:
    /// the HTTP stack alone, the ceiling every page is measured against.
    pub ceiling_route: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetSettings {
    pub default_ttl_minutes: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[serde(rename = "")]
    Automatic,
    Pretty,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub filter: String,
    pub format: LogFormat,
}

impl Settings {
    /// Loads the layers for `environment`, reading variables from the process.
    pub fn load(
        environment: Environment,
        config_file: Option<&Path>,
    ) -> Result<Self, SettingsError> {
        Self::load_with_variables(environment, config_file, std::env::vars())
    }

    /// Loads the layers with `variables` standing in for the process environment, so
    /// tests need not touch global state.
    pub fn load_with_variables(
        environment: Environment,
        config_file: Option<&Path>,
        variables: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, SettingsError> {
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_FILE, FileFormat::Toml))
            .add_source(File::from_str(environment.file(), FileFormat::Toml));
        if let Some(path) = config_file {
            let text =
                std::fs::read_to_string(path).map_err(|source| SettingsError::ConfigFile {
                    path: path.to_owned(),
                    source,
                })?;
            builder = builder.add_source(File::from_str(&text, FileFormat::Toml));
        }
        let variables = variables
            .into_iter()
            .filter(|(name, _)| name.starts_with(&format!("{VARIABLE_PREFIX}__")))
            .collect();
        builder = builder.add_source(
            EnvironmentSource::with_prefix(VARIABLE_PREFIX)
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("server.trusted_proxies")
                .with_list_parse_key("security.previous_token_keys")
                .source(Some(variables)),
        );
        let merged = builder
            .build()
            .map_err(|error| SettingsError::Invalid(error.to_string()))?;
        let mut settings: Settings = merged
            .try_deserialize()
            .map_err(|error| SettingsError::Invalid(error.to_string()))?;
        settings.environment = environment;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        if self.environment != Environment::Development {
            require_secret(
                "security.token_key",
                &self.security.token_key,
                self.environment,
                "set LATCHKEY__SECURITY__TOKEN_KEY to a random value of at least 32 characters",
            )?;
            require_secret(
                "security.operator_token",
                &self.security.operator_token,
                self.environment,
                "set LATCHKEY__SECURITY__OPERATOR_TOKEN to a random value of at least 32 characters",
            )?;
        }
        self.check_exposure()?;
        if self.database.max_connections == 0 {
            return Err(SettingsError::Invalid(
                "database.max_connections must be at least 1".into(),
            ));
        }
        if self.password.min_length < 8 || self.password.min_length > 64 {
            return Err(SettingsError::Invalid(
                "password.min_length must be from 8 to 64".into(),
            ));
        }
        if !(5..=24 * 60).contains(&self.reset.default_ttl_minutes) {
            return Err(SettingsError::Invalid(
                "reset.default_ttl_minutes must be from 5 to 1440".into(),
            ));
        }
        if self.session.idle_minutes < 1 || self.session.absolute_hours < 1 {
            return Err(SettingsError::Invalid(
                "session.idle_minutes and session.absolute_hours must be at least 1".into(),
            ));
        }
        let limits = &self.limits;
        let counts = [
            limits.sign_in_per_email,
            limits.sign_in_per_address,
            limits.forgot_per_address,
            limits.reset_emails_per_email,
            limits.access_requests_per_firm_per_hour,
        ];
        if counts.contains(&0) || limits.window_minutes < 1 {
            return Err(SettingsError::Invalid("limits must be at least 1".into()));
        }
        if self.bench.ceiling_route && self.environment == Environment::Production {
            return Err(SettingsError::Invalid(
                "bench.ceiling_route is for benchmarks; it is refused in production".into(),
            ));
        }
        if self.mail.max_attempts == 0 {
            return Err(SettingsError::Invalid(
                "mail.max_attempts must be at least 1".into(),
            ));
        }
        // Sends time out at half the lease; a second is the least an SMTP exchange needs.
        if self.mail.lease_seconds < 2 {
            return Err(SettingsError::Invalid(
                "mail.lease_seconds must be at least 2".into(),
            ));
        }
        Ok(())
    }

    /// Refuses the two ways a configuration would expose real people: the public
    /// development keys served beyond this machine, and an https deployment whose
    /// proxy's address every client would share.
    fn check_exposure(&self) -> Result<(), SettingsError> {
        if self.environment != Environment::Production {
            for (key, address) in [
                ("server.bind", self.server.bind),
                ("server.admin_bind", self.server.admin_bind),
            ] {
                if !address.ip().is_loopback() {
                    return Err(SettingsError::Invalid(format!(
                        "{key} = {address} serves beyond this machine, but LATCHKEY_ENV is {}: \
                         its token, CSRF and operator keys are public, its mailbox lists every \
                         link and its demo accounts have published passwords. Bind to \
                         127.0.0.1, or set LATCHKEY_ENV=production with secrets of your own",
                        self.environment.as_str()
                    )));
                }
            }
        }
        // The binary speaks plain HTTP: https means a TLS proxy in front, and without
        // trusting it every client has the proxy's address, so one client's failures
        // (30 by default) lock everyone out.
        if self.server.public_scheme == PublicScheme::Https
            && self.server.trusted_proxies.is_empty()
        {
            return Err(SettingsError::Invalid(
                "server.public_scheme is https, so a TLS proxy serves this instance, but \
                 server.trusted_proxies is empty: every client would share the proxy's address \
                 and its rate limits. Set LATCHKEY__SERVER__TRUSTED_PROXIES to the proxy's \
                 address or network (for example 10.0.0.0/8)"
                    .into(),
            ));
        }
        Ok(())
    }

    pub fn log_format(&self) -> LogFormat {
        match (self.log.format, self.environment) {
            (LogFormat::Automatic, Environment::Production) => LogFormat::Json,
            (LogFormat::Automatic, _) => LogFormat::Pretty,
            (chosen, _) => chosen,
        }
    }
}

fn require_secret(
    key: &'static str,
    value: &SecretString,
    environment: Environment,
    hint: &'static str,
) -> Result<(), SettingsError> {
    let secret = value.expose_secret();
    // The development values are public; they must never protect real accounts.
    if secret.len() < MIN_SECRET_LENGTH || secret.contains("insecure-development") {
        return Err(SettingsError::MissingSecret {
            key,
            environment,
            hint,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::{Environment, LogFormat, MailTransport, Settings, SettingsError, redact_url};
    use secrecy::ExposeSecret;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Why loading the settings failed, as the operator reads it.
    fn refusal(
        environment: Environment,
        file: Option<&std::path::Path>,
        variables: &[(&str, &str)],
    ) -> String {
        Settings::load_with_variables(environment, file, vars(variables))
            .unwrap_err()
            .to_string()
    }

    fn config_file(text: &str) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(text.as_bytes()).unwrap();
        file
    }

    #[test]
    fn development_needs_nothing_but_the_shipped_files() {
        let settings =
            Settings::load_with_variables(Environment::Development, None, vars(&[])).unwrap();
        assert_eq!(settings.server.bind.to_string(), "127.0.0.1:8080");
        assert_eq!(settings.server.admin_bind.to_string(), "127.0.0.1:9090");
        assert_eq!(settings.server.base_domain.as_str(), "localhost");
        assert_eq!(
            settings.database.url.expose_secret(),
            "sqlite://data/latchkey.db?mode=rwc"
        );
        assert_eq!(settings.mail.transport, MailTransport::File);
        assert_eq!(settings.reset.default_ttl_minutes, 15);
        assert_eq!(settings.password.argon2_m_kib, 19456);
        assert_eq!(settings.log_format(), LogFormat::Pretty);
        assert_eq!(
            settings.server.public_origin("acme.localhost"),
            "http://acme.localhost:8080"
        );
    }

    #[test]
    fn a_variable_overrides_the_files() {
        let settings = Settings::load_with_variables(
            Environment::Development,
            None,
            vars(&[
                ("LATCHKEY__SERVER__BIND", "127.0.0.1:9999"),
                ("LATCHKEY__PASSWORD__MIN_LENGTH", "12"),
                ("LATCHKEY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.1"),
                ("UNRELATED", "x"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.server.bind.to_string(), "127.0.0.1:9999");
        assert_eq!(settings.password.min_length, 12);
        assert_eq!(settings.server.trusted_proxies.len(), 2);
        assert!(settings.server.trusted_proxies[0].contains(&"10.9.8.7".parse().unwrap()));
    }

    #[test]
    fn the_config_file_sits_between_the_environment_file_and_variables() {
        let file =
            config_file("[server]\nbind = \"127.0.0.1:7000\"\nbase_domain = \"example.com\"\n");
        let settings = Settings::load_with_variables(
            Environment::Development,
            Some(file.path()),
            vars(&[("LATCHKEY__SERVER__BASE_DOMAIN", "example.org")]),
        )
        .unwrap();
        assert_eq!(settings.server.bind.to_string(), "127.0.0.1:7000");
        assert_eq!(settings.server.base_domain.as_str(), "example.org");
    }

    #[test]
    fn an_unknown_key_in_a_file_is_refused_by_name() {
        let file = config_file("[server]\nbnd = \"127.0.0.1:7000\"\n");
        let error = refusal(Environment::Development, Some(file.path()), &[]);
        assert!(error.contains("bnd"), "{error}");
    }

    #[test]
    fn an_unknown_section_or_variable_is_refused_by_name() {
        let error = refusal(
            Environment::Development,
            None,
            &[("LATCHKEY__SERVER__PUBLIC_SCHEMA", "https")],
        );
        assert!(error.contains("public_schema"), "{error}");
        let file = config_file("[serverr]\nbind = \"127.0.0.1:7000\"\n");
        let error = refusal(Environment::Development, Some(file.path()), &[]);
        assert!(error.contains("serverr"), "{error}");
    }

    #[test]
    fn a_delivery_lease_is_read_and_too_short_a_one_refused() {
        let settings = Settings::load_with_variables(
            Environment::Development,
            None,
            vars(&[("LATCHKEY__MAIL__LEASE_SECONDS", "10")]),
        )
        .unwrap();
        assert_eq!(settings.mail.lease_seconds, 10);
        let delivery = crate::mail::delivery_settings(&settings).unwrap();
        assert_eq!(delivery.lease, std::time::Duration::from_secs(10));
        let error = refusal(
            Environment::Development,
            None,
            &[("LATCHKEY__MAIL__LEASE_SECONDS", "1")],
        );
        assert!(error.contains("mail.lease_seconds"), "{error}");
    }

    #[test]
    fn production_refuses_to_start_without_secrets() {
        let error =
            Settings::load_with_variables(Environment::Production, None, vars(&[])).unwrap_err();
        assert!(
            matches!(
                error,
                SettingsError::MissingSecret {
                    key: "security.token_key",
                    ..
                }
            ),
            "{error}"
        );
        let error = Settings::load_with_variables(
            Environment::Production,
            None,
            vars(&[(
                "LATCHKEY__SECURITY__TOKEN_KEY",
                "k8mVq2x9Lr4TnW7yZc1Hf6Bd3Sg5Jp0Q",
            )]),
        )
        .unwrap_err();
        assert!(
            matches!(
                error,
                SettingsError::MissingSecret {
                    key: "security.operator_token",
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn the_public_development_keys_serve_only_this_machine() {
        for (key, address) in [
            ("LATCHKEY__SERVER__BIND", "0.0.0.0:8080"),
            ("LATCHKEY__SERVER__ADMIN_BIND", "[::]:9090"),
            ("LATCHKEY__SERVER__BIND", "192.0.2.10:8080"),
        ] {
            for environment in [Environment::Development, Environment::Test] {
                let error = refusal(environment, None, &[(key, address)]);
                assert!(
                    error.contains("serves beyond this machine") && error.contains("LATCHKEY_ENV"),
                    "{error}"
                );
            }
        }
        let loopback = Settings::load_with_variables(
            Environment::Development,
            None,
            vars(&[
                ("LATCHKEY__SERVER__BIND", "[::1]:8080"),
                ("LATCHKEY__SERVER__ADMIN_BIND", "127.0.0.2:9090"),
            ]),
        );
        assert!(loopback.is_ok(), "{loopback:?}");
    }

    #[test]
    fn https_without_a_trusted_proxy_is_refused() {
        let secrets = [
            (
                "LATCHKEY__SECURITY__TOKEN_KEY",
                "k8mVq2x9Lr4TnW7yZc1Hf6Bd3Sg5Jp0Q",
            ),
            (
                "LATCHKEY__SECURITY__OPERATOR_TOKEN",
                "Zr7Kp2Wq9Xm4Tn8Yb3Vc6Hd1Jf5Lg0Sa",
            ),
        ];
        let error = refusal(Environment::Production, None, &secrets);
        assert!(error.contains("server.trusted_proxies is empty"), "{error}");
        let error = refusal(
            Environment::Development,
            None,
            &[("LATCHKEY__SERVER__PUBLIC_SCHEME", "https")],
        );
        assert!(error.contains("server.trusted_proxies is empty"), "{error}");
        let mut proxied = secrets.to_vec();
        proxied.push(("LATCHKEY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8"));
        assert!(
            Settings::load_with_variables(Environment::Production, None, vars(&proxied)).is_ok()
        );
    }

    #[test]
    fn production_refuses_the_public_development_keys() {
        let error = Settings::load_with_variables(
            Environment::Production,
            None,
            vars(&[
                (
                    "LATCHKEY__SECURITY__TOKEN_KEY",
                    "insecure-development-token-key-do-not-use-in-production",
                ),
                (
                    "LATCHKEY__SECURITY__OPERATOR_TOKEN",
                    "k8mVq2x9Lr4TnW7yZc1Hf6Bd3Sg5Jp0Q",
                ),
            ]),
        )
        .unwrap_err();
        assert!(matches!(
            error,
            SettingsError::MissingSecret {
                key: "security.token_key",
                ..
            }
        ));
    }

    #[test]
    fn the_bench_route_is_refused_in_production() {
        let error = Settings::load_with_variables(
            Environment::Production,
            None,
            vars(&[
                (
                    "LATCHKEY__SECURITY__TOKEN_KEY",
                    "k8mVq2x9Lr4TnW7yZc1Hf6Bd3Sg5Jp0Q",
                ),
                (
                    "LATCHKEY__SECURITY__OPERATOR_TOKEN",
                    "Zr7Kp2Wq9Xm4Tn8Yb3Vc6Hd1Jf5Lg0Sa",
                ),
                ("LATCHKEY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8"),
                ("LATCHKEY__BENCH__CEILING_ROUTE", "true"),
            ]),
        )
        .unwrap_err();
        assert!(error.to_string().contains("bench.ceiling_route"), "{error}");
    }

    #[test]
    fn production_with_secrets_starts_and_logs_json() {
        let token_key = "k8mVq2x9Lr4TnW7yZc1Hf6Bd3Sg5Jp0Q";
        let settings = Settings::load_with_variables(
            Environment::Production,
            None,
            vars(&[
                ("LATCHKEY__SECURITY__TOKEN_KEY", token_key),
                (
                    "LATCHKEY__SECURITY__OPERATOR_TOKEN",
                    "Zr7Kp2Wq9Xm4Tn8Yb3Vc6Hd1Jf5Lg0Sa",
                ),
                (
                    "LATCHKEY__DATABASE__URL",
                    "postgres://latchkey:hunter2secret@db/latchkey",
                ),
                ("LATCHKEY__SERVER__TRUSTED_PROXIES", "10.0.0.0/8"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.log_format(), LogFormat::Json);
        assert_eq!(
            settings.server.public_origin("acme.example.com"),
            "https://acme.example.com"
        );
        let printed = format!("{settings:?}");
        assert!(
            !printed.contains(token_key),
            "secrets must never be printed"
        );
        assert!(
            !printed.contains("hunter2secret"),
            "database passwords must never be printed"
        );
    }

    #[test]
    fn invalid_values_are_refused_with_the_rule() {
        let error = refusal(
            Environment::Development,
            None,
            &[("LATCHKEY__RESET__DEFAULT_TTL_MINUTES", "2")],
        );
        assert!(error.contains("reset.default_ttl_minutes"), "{error}");
        let error = refusal(
            Environment::Development,
            None,
            &[("LATCHKEY__SERVER__BASE_DOMAIN", "exa mple.com")],
        );
        assert!(error.contains("exa mple.com"), "{error}");
    }

    #[test]
    fn unknown_environments_are_refused() {
        assert!(matches!(
            Environment::parse("staging"),
            Err(SettingsError::UnknownEnvironment(_))
        ));
        assert_eq!(Environment::parse("").unwrap(), Environment::Development);
    }

    #[test]
    fn database_urls_are_redacted() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(
            redact_url("sqlite://data/latchkey.db?mode=rwc"),
            "sqlite://data/latchkey.db?mode=rwc"
        );
    }
}
