//! API tokens for the HTTP ingress (§4.5): a random secret shown once, only its BLAKE3 hash
//! stored. Secrets look like `rel_` + 64 hex digits (32 bytes from the OS).
//!
//! Checking a bearer token hashes it and looks the hash up, first in a small in-memory
//! cache of tokens seen valid, then in the store. A revocation drops the name from the cache
//! before it is answered, and a generation counter keeps a lookup that raced with it from
//! putting the revoked token back. On a store shared with other daemons (etcd) nothing is
//! cached: a revocation through another daemon must take effect here too.

use std::collections::HashMap;
use std::sync::RwLock;

use rel_domain::{Digest, RelError, RelResult, Store};

/// What every secret starts with, so a leaked one is recognisable (e.g. by secret scanners).
pub const SECRET_PREFIX: &str = "rel_";

/// A new secret: `rel_` + 64 hex digits.
pub fn new_secret() -> RelResult<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| {
        RelError::unavailable(format!(
            "cannot get random bytes from the operating system for a token ({e}); try again"
        ))
    })?;
    let mut s = String::with_capacity(SECRET_PREFIX.len() + 64);
    s.push_str(SECRET_PREFIX);
    for b in bytes {
        s.push_str(&format!("{b:02x}"));
    }
    Ok(s)
}

/// What the store keeps of a secret.
pub fn hash(secret: &str) -> Digest {
    Digest::of(secret.as_bytes())
}

#[derive(Debug, Default)]
pub struct Tokens {
    cache: RwLock<Cache>,
}

#[derive(Debug, Default)]
struct Cache {
    /// Hash → token name, for tokens seen valid.
    valid: HashMap<Digest, String>,
    /// Bumped by every revocation and import.
    generation: u64,
}

impl Tokens {
    pub fn new() -> Tokens {
        Tokens::default()
    }

    /// The name of a token seen valid whose secret is `secret`: no store read, no blocking.
    pub fn cached(&self, secret: &str) -> Option<String> {
        let c = self.cache.read().unwrap_or_else(|p| p.into_inner());
        c.valid.get(&hash(secret)).cloned()
    }

    /// The name of the token whose secret is `secret`, or `None` when no such token exists
    /// (never was, or revoked). Blocking on a cache miss (a store read).
    pub fn check(&self, store: &dyn Store, secret: &str) -> RelResult<Option<String>> {
        let h = hash(secret);
        let generation = {
            let c = self.cache.read().unwrap_or_else(|p| p.into_inner());
            if let Some(name) = c.valid.get(&h) {
                return Ok(Some(name.clone()));
            }
            c.generation
        };
        let Some(info) = store.token_by_hash(&h)? else {
            return Ok(None);
        };
        // On a store other daemons share, a revocation may come from any of them and this
        // cache would never hear of it: every check reads the store (its local mirror).
        if store.is_shared() {
            return Ok(Some(info.name));
        }
        let mut c = self.cache.write().unwrap_or_else(|p| p.into_inner());
        if c.generation == generation {
            c.valid.insert(h, info.name.clone());
        }
        Ok(Some(info.name))
    }

    /// Call after the store revoked `name`, before answering.
    pub fn revoked(&self, name: &str) {
        let mut c = self.cache.write().unwrap_or_else(|p| p.into_inner());
        c.generation += 1;
        c.valid.retain(|_, n| n != name);
    }

    /// Call after an import replaced the store's contents.
    pub fn clear(&self) {
        let mut c = self.cache.write().unwrap_or_else(|p| p.into_inner());
        c.generation += 1;
        c.valid.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_hex() {
        let a = new_secret().expect("secret");
        let b = new_secret().expect("secret");
        assert_ne!(a, b);
        assert_eq!(a.len(), SECRET_PREFIX.len() + 64);
        assert!(a.starts_with(SECRET_PREFIX));
        assert!(
            a[SECRET_PREFIX.len()..]
                .chars()
                .all(|c| c.is_ascii_hexdigit())
        );
        assert_ne!(hash(&a), hash(&b));
        assert_eq!(hash(&a), hash(&a.clone()));
    }
}
