//! Deploy and rollback rules over an environment's rollback stack (§3.3, §3.4), pure.
