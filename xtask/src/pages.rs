//! What the tasks do through the pages as a person would.

use anyhow::bail;

use crate::http::{Answer, HttpClient, csrf_field};

/// Opens the sign-in form at `path` (`/login` or `/staff/login`) and posts it;
/// returns the answer to the post, which is 303 when the password was right.
pub(crate) fn post_sign_in(
    client: &mut HttpClient,
    path: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<Answer> {
    let page = client.get(path)?;
    if page.status != 200 {
        bail!("GET {path} answered {}", page.status);
    }
    let token = csrf_field(&page.body)?;
    client.post_form(
        path,
        &[
            ("email", email),
            ("password", password),
            ("csrf_token", &token),
        ],
    )
}

/// Signs `client` in at `path`, or fails saying how.
pub(crate) fn sign_in(
    client: &mut HttpClient,
    path: &str,
    email: &str,
    password: &str,
) -> anyhow::Result<()> {
    let answer = post_sign_in(client, path, email, password)?;
    if answer.status != 303 {
        bail!(
            "signing in as {email} at {path} answered {} instead of 303",
            answer.status
        );
    }
    Ok(())
}
