//! Email templates, the transactional outbox and the delivery worker.
//!
//! Empty until the email issue lands; the crate exists now so the workspace has its
//! final shape and dependency direction (`gateway` -> `notification` -> `tenancy`).
