//! The staff area of a firm's host, under `/staff`: sign-in, workspaces and clients,
//! contacts and their **Reset Password** button, the team, credential requests and
//! the firm's settings.

pub mod access_requests;
pub mod clients;
pub mod contacts;
pub mod settings;
pub mod sign_in;
pub mod team;
pub mod views;

use poem::{Route, get, post};

/// The staff area's routes, with their full paths: nested under `/staff` without
/// stripping it, so every path reads here as a browser sends it.
pub fn routes() -> Route {
    Route::new()
        .at("/staff", get(sign_in::staff_home))
        .at(
            "/staff/login",
            get(sign_in::login_page).post(sign_in::login),
        )
        .at("/staff/logout", post(sign_in::logout))
        .at("/staff/workspaces", get(clients::workspaces))
        .at("/staff/clients", get(clients::clients))
        .at(
            "/staff/clients/new",
            get(clients::new_client_page).post(clients::new_client),
        )
        .at(
            "/staff/clients/:client_id/edit",
            get(clients::edit_client_page).post(clients::edit_client),
        )
        .at(
            "/staff/clients/:client_id/contacts",
            get(contacts::contacts),
        )
        .at(
            "/staff/clients/:client_id/contacts/new",
            get(contacts::new_contact_page).post(contacts::new_contact),
        )
        .at(
            "/staff/clients/:client_id/contacts/:contact_id/edit",
            get(contacts::edit_contact_page).post(contacts::edit_contact),
        )
        .at(
            "/staff/clients/:client_id/contacts/:contact_id",
            get(contacts::contact_page),
        )
        .at(
            "/staff/clients/:client_id/contacts/:contact_id/reset-password",
            post(contacts::reset_password),
        )
        .at(
            "/staff/access-requests",
            get(access_requests::list_requests),
        )
        .at(
            "/staff/access-requests/:request_id/approve",
            post(access_requests::approve),
        )
        .at(
            "/staff/access-requests/:request_id/decline",
            post(access_requests::decline),
        )
        .at("/staff/team", get(team::team).post(team::invite))
        .at(
            "/staff/settings",
            get(settings::settings_form).post(settings::save_settings),
        )
}
