//! The platform host (the base domain itself): the landing page, "Find your firm",
//! and in development the mailbox of the file transport.

pub mod dev_mailbox;
pub mod find_firm;
pub mod home;

use poem::{Route, get};

/// The platform host's routes; the development mailbox only in development.
pub fn routes(development: bool) -> Route {
    let route = Route::new().at("/", get(home::platform_home)).at(
        "/find-your-firm",
        get(find_firm::find_page).post(find_firm::request_list),
    );
    if !development {
        return route;
    }
    route
        .at("/_dev/mailbox", get(dev_mailbox::list))
        .at("/_dev/mailbox/:id", get(dev_mailbox::show))
        .at("/_dev/mailbox/:id/html", get(dev_mailbox::html))
}
