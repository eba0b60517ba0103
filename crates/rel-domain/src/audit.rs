//! The hash chain of the audit log: each entry commits to the one before it.
