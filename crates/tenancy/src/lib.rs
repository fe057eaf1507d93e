//! Firms (tenants): who they are, which hosts they answer on, and how a request's
//! `Host` header finds its firm.
//!
//! Architecture invariant: a host resolves to exactly one firm or to none, never to a
//! default; every other crate keys its data by the [`TenantId`] resolved here.

mod directory;
mod domains;
mod entity;
mod error;
mod host;
mod keys;
mod resolver;
mod slug;
mod tenant;

pub use directory::{
    NewTenant, TenantPage, TenantProfileChange, TenantQuery, create_tenant, delete_tenant,
    find_tenant_by_id, find_tenant_by_slug, find_tenant_by_verified_domain, find_tenant_slug,
    list_tenants, list_tenants_page, purge_deleted_tenants, set_tenant_status, soft_delete_tenant,
    update_tenant_profile, update_tenant_settings,
};
pub use domains::{
    DnsTxtLookup, MAX_CUSTOM_DOMAIN_LENGTH, StaticTxtLookup, TenantDomain, TxtFuture, TxtLookup,
    TxtLookupError, add_tenant_domain, domains_due_for_reverification, list_tenant_domains,
    mark_tenant_domain_verified, remove_tenant_domain, set_canonical_domain, verify_tenant_domain,
};
pub use error::TenancyError;
pub use host::{HostError, HostName};
pub use keys::{AccountKind, AccountRef, ClientId, ContactId, StaffUserId, TenantId};
pub use resolver::{Resolution, TenantResolver};
pub use slug::{SlugError, TenantSlug};
pub use tenant::{
    Branding, MIN_PASSWORD_LENGTH, RESET_LINK_MINUTES, ResetMode, SUPPORTED_LOCALES, Tenant,
    TenantSettings, TenantStatus, is_hex_colour, is_https_url,
};
