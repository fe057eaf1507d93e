//! sea-orm entities of the tenancy tables; private, so the rest of the workspace sees
//! only the domain types.

pub(crate) mod tenant;
pub(crate) mod tenant_domain;
