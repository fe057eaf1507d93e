//! The mail settings as notification's types: the transport and the delivery worker's
//! settings.

use notification::{DeliverySettings, NotificationError, Transport};
use secrecy::ExposeSecret;

use crate::settings::{MailTransport, Settings};

/// The configured transport. Must run inside the async runtime (lettre's pool).
pub fn transport(settings: &Settings) -> Result<Transport, NotificationError> {
    match settings.mail.transport {
        MailTransport::Smtp => Transport::smtp(settings.mail.smtp_url.expose_secret()),
        MailTransport::File => Ok(Transport::file(&settings.mail.dir)),
        MailTransport::Log => Ok(Transport::Log),
    }
}

/// The worker's settings from configuration.
pub fn delivery_settings(settings: &Settings) -> Result<DeliverySettings, NotificationError> {
    let mut delivery = DeliverySettings::new(&settings.mail.from)?;
    delivery.max_attempts = settings.mail.max_attempts;
    delivery.retry_base = std::time::Duration::from_secs(settings.mail.retry_base_seconds);
    delivery.lease = std::time::Duration::from_secs(settings.mail.lease_seconds);
    Ok(delivery)
}
