//! Minting, storing (hashed), verifying and redeeming reset tokens.
//!
//! Empty until the reset-flows issue lands; the crate exists now so the workspace has
//! its final shape and dependency direction (`gateway` -> `reset-token` -> `tenancy`).
