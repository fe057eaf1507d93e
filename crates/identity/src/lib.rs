//! Accounts of a firm: staff users, clients, contacts; their passwords (hashing on a
//! bounded pool, policy after NIST SP 800-63B) and sessions; and the database-backed
//! counters that rate limits use.
//!
//! Architecture invariant: every function that reads or writes an account takes a
//! [`tenancy::TenantId`]; there is no way to load a contact, client, staff user or
//! session without saying whose it is.

mod access_requests;
mod audit;
mod clients;
mod contacts;
mod email;
mod entity;
mod error;
mod firm_lookups;
mod password;
mod policy;
mod rate_limit;
mod sessions;
mod staff;

pub use access_requests::{
    AccessRequest, AccessRequestStatus, NewAccessRequest, create_access_request,
    decide_access_request, find_access_request, pending_access_requests,
};
pub use audit::{
    Actor, AuditAction, AuditEvent, NewAuditEvent, account_history, firm_audit_events, record_audit,
};
pub use clients::{
    Client, ClientPage, ClientStatus, create_client, find_client, list_clients, rename_client,
    set_client_status,
};
pub use contacts::{
    Contact, ContactChanges, ContactStatus, NewContact, create_contact, find_contact,
    find_contact_by_email, import_contacts, list_contacts, record_contact_sign_in,
    set_contact_password, update_contact,
};
pub use email::{EmailAddress, EmailError};
pub use error::IdentityError;
pub use firm_lookups::{
    AccountAt, FirmLookup, LookupOutcome, accounts_by_email, count_sent_firm_lookups,
    finish_firm_lookup, pending_firm_lookups, record_firm_lookup,
};
pub use password::{HashingBusy, PasswordHasher, PasswordParams, Verification};
pub use policy::{PasswordPolicy, PolicyViolation};
pub use rate_limit::{RateLimit, RateLimited, clear_events, count_events, record_event};
pub use sessions::{
    AccountKind, Session, SessionLifetime, SessionToken, authenticate_session, create_session,
    revoke_all_sessions, revoke_session,
};
pub use staff::{
    NewStaffUser, StaffRole, StaffStatus, StaffUser, create_staff_user, find_staff_by_email,
    find_staff_user, list_staff_users, record_staff_sign_in, set_staff_password,
};
