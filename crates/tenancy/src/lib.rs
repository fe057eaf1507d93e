//! Firms (tenants): who they are, which hosts they answer on, and how a request's
//! `Host` header finds its firm.
//!
//! Architecture invariant: a host resolves to exactly one firm or to none, never to a
//! default; every other crate keys its data by the [`TenantId`] resolved here.

mod directory;
mod entity;
mod error;
mod host;
mod resolver;
mod slug;
mod tenant;

pub use directory::{
    NewTenant, TenantDomain, add_tenant_domain, create_tenant, delete_tenant, find_tenant_by_id,
    find_tenant_by_slug, find_tenant_by_verified_domain, list_tenants, mark_tenant_domain_verified,
    set_tenant_status, update_tenant_settings,
};
pub use error::TenancyError;
pub use host::{HostError, HostName};
pub use resolver::{Resolution, TenantResolver};
pub use slug::{SlugError, TenantSlug};
pub use tenant::{Branding, ResetMode, Tenant, TenantId, TenantSettings, TenantStatus};
