//! Staff users, clients, contacts, password hashing and policy, and sessions.
//!
//! Empty until the identity issue lands; the crate exists now so the workspace has
//! its final shape and dependency direction (`gateway` -> `identity` -> `tenancy`).
