//! The portal: what contacts (and anyone holding a link) see on a firm's host.
//! Signing in, the contact's own password, reset links, "Forgot your password?" and
//! "Request your credential".

pub mod account;
pub mod forgot;
pub mod request_access;
pub mod reset;

use poem::{Route, get, post};

/// The portal's routes, at the root of a firm's host.
pub fn routes() -> Route {
    Route::new()
        .at("/", get(account::home))
        .at("/login", get(account::login_page).post(account::login))
        .at("/logout", post(account::logout))
        .at(
            "/account/password",
            get(account::password_page).post(account::change_password),
        )
        .at("/reset", get(reset::reset_page).post(reset::set_password))
        .at("/reset/:token", get(reset::open_link))
        .at("/reset/temporary", post(reset::send_temporary_password))
        .at(
            "/forgot-password",
            get(forgot::forgot_page).post(forgot::request_reset),
        )
        .at(
            "/request-access",
            get(request_access::request_page).post(request_access::submit_request),
        )
}
