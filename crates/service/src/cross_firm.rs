//! The reads that span firms.
