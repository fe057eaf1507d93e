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
mod firm_rows;
mod password;
mod policy;
mod rate_limit;
mod sessions;
mod staff;

pub use access_requests::{
    AccessNotice, AccessRequest, AccessRequestStatus, NewAccessRequest, access_notice_depth,
    create_access_requests, decide_access_request, fail_access_notice, failed_access_notices,
    find_access_request, finish_access_notice, pending_access_notices, pending_access_requests,
    requeue_access_notice,
};
pub use audit::{
    Actor, AuditAction, AuditEvent, NewAuditEvent, account_history, firm_audit_events, record_audit,
};
pub use clients::{
    Client, ClientPage, ClientStatus, client_is_active, create_client, find_client, list_clients,
    rename_client, set_client_status,
};
pub use contacts::{
    Contact, ContactChanges, ContactStatus, NewContact, create_contact, find_contact,
    find_contact_by_email, find_contacts_by_emails, import_contacts, list_contacts,
    record_contact_sign_in, set_contact_password, update_contact,
};
pub use email::{EmailAddress, EmailError};
pub use error::IdentityError;
pub use firm_lookups::{
    AccountAt, FirmLookup, LookupOutcome, NewFirmLookup, accounts_by_email, fail_firm_lookup,
    failed_firm_lookups, finish_firm_lookup, firm_lookup_depth, pending_firm_lookups,
    record_firm_lookups, requeue_firm_lookup,
};
pub use password::{HashingBusy, HashingLoad, PasswordHasher, PasswordParams, Verification};
pub use policy::{PasswordPolicy, PolicyViolation};
pub use rate_limit::{
    RateLimit, RateLimited, WindowHits, clear_bucket, hit_buckets, purge_rate_limit_counters,
    refund_hits, window_hits,
};
pub use sessions::{
    Session, SessionLifetime, SessionToken, authenticate_session, create_session,
    revoke_all_sessions, revoke_session,
};
pub use staff::{
    NewStaffUser, StaffRole, StaffStatus, StaffUser, create_staff_user, find_staff_by_email,
    find_staff_user, list_staff_users, record_staff_sign_in, set_staff_password,
};
