//! What the tasks do through the pages as a person would.

use anyhow::bail;

use crate::http::{Answer, HttpClient, csrf_field, hidden_field};

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

/// The new-password form of an emailed link, opened.
#[derive(Debug, Clone)]
pub(crate) struct LinkForm {
    pub(crate) csrf_token: String,
    /// The id of the link the form was shown for.
    pub(crate) link: String,
}

/// Opens an emailed link as its recipient's browser does: the link's answer moves
/// it into a cookie and sends the browser to the form.
pub(crate) fn open_link(client: &mut HttpClient, path: &str) -> anyhow::Result<LinkForm> {
    let opened = client.get(path)?;
    if opened.status != 303 {
        bail!("GET {path} answered {} instead of 303", opened.status);
    }
    let form = client.get("/reset")?;
    if form.status != 200 {
        bail!("GET /reset after opening a link answered {}", form.status);
    }
    Ok(LinkForm {
        csrf_token: csrf_field(&form.body)?,
        link: hidden_field(&form.body, "link")?,
    })
}

impl LinkForm {
    /// The form's fields with `password` typed twice.
    pub(crate) fn fields(&self, password: &str) -> Vec<(&'static str, String)> {
        vec![
            ("new_password", password.to_owned()),
            ("confirm_password", password.to_owned()),
            ("link", self.link.clone()),
            ("csrf_token", self.csrf_token.clone()),
        ]
    }
}
