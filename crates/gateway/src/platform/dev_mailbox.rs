//! The development mailbox at `http://localhost:8080/_dev/mailbox`: every email the
//! `file` transport delivered, newest first, each shown rendered with working links,
//! like Rails' letter_opener. Routed only in development; elsewhere it is a 404.

use minijinja::context;
use notification::{FileMailbox, MailboxMessage};
use poem::http::header;
use poem::web::{Data, Html, Path};
use poem::{IntoResponse, Response, handler};

use crate::http::error::GatewayError;
use crate::state::AppState;

fn mailbox(state: &AppState) -> FileMailbox {
    FileMailbox::new(&state.settings.mail.dir)
}

async fn message(state: &AppState, id: &str) -> Result<MailboxMessage, GatewayError> {
    mailbox(state)
        .read(id)
        .await
        .map_err(GatewayError::internal)?
        .ok_or(GatewayError::NotFound)
}

#[handler]
pub async fn list(state: Data<&AppState>) -> Result<Html<String>, GatewayError> {
    let entries = mailbox(&state)
        .list(200)
        .await
        .map_err(GatewayError::internal)?;
    let entries: Vec<_> = entries
        .into_iter()
        .map(|entry| {
            context! {
                id => entry.id,
                when => entry.delivered_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                to => entry.to,
                subject => entry.subject,
                kind => entry.kind,
            }
        })
        .collect();
    state
        .templates
        .page("platform/dev_mailbox.html", context! { entries })
}

#[handler]
pub async fn show(
    state: Data<&AppState>,
    Path(id): Path<String>,
) -> Result<Html<String>, GatewayError> {
    let message = message(&state, &id).await?;
    let context = context! {
        id => message.entry.id,
        from => message.entry.from,
        to => message.entry.to,
        subject => message.entry.subject,
        when => message.entry.delivered_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
        text => message.text,
    };
    state
        .templates
        .page("platform/dev_mailbox_message.html", context)
}

/// The HTML part as the recipient's mail client would show it. It is our own
/// template's output, but it still gets a policy of its own: inline styles (as in
/// every email) and nothing else.
#[handler]
pub async fn html(
    state: Data<&AppState>,
    Path(id): Path<String>,
) -> Result<Response, GatewayError> {
    let message = message(&state, &id).await?;
    Ok(Html(message.html)
        .with_header(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src https: data:; frame-ancestors 'self'",
        )
        .with_header("x-frame-options", "SAMEORIGIN")
        .into_response())
}
