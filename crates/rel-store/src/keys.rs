//! Key encodings. Numbers are big-endian so sled's byte order is numeric order (range scans
//! newest-first are a reverse iteration). Names (environments, tags) never contain NUL, so
//! `name ++ 0x00 ++ u64` keys group by name and then sort by number.

use rel_domain::Digest;

pub fn u64k(n: u64) -> [u8; 8] {
    n.to_be_bytes()
}

pub fn read_u64(b: &[u8]) -> Option<u64> {
    let arr: [u8; 8] = b.get(..8)?.try_into().ok()?;
    Some(u64::from_be_bytes(arr))
}

/// `env ++ 0x00`: the prefix of every `(env, n)` key.
pub fn env_prefix(env: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(env.len() + 9);
    k.extend_from_slice(env.as_bytes());
    k.push(0);
    k
}

/// `(env, n)`.
pub fn env_u64(env: &str, n: u64) -> Vec<u8> {
    let mut k = env_prefix(env);
    k.extend_from_slice(&n.to_be_bytes());
    k
}

/// The number of an `(env, n)` key.
pub fn env_u64_tail(key: &[u8]) -> Option<u64> {
    key.len().checked_sub(8).and_then(|i| read_u64(&key[i..]))
}

/// `(n, name)`.
pub fn u64_str(n: u64, s: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + s.len());
    k.extend_from_slice(&n.to_be_bytes());
    k.extend_from_slice(s.as_bytes());
    k
}

/// The name of an `(n, name)` key.
pub fn u64_str_tail(key: &[u8]) -> Option<&str> {
    key.get(8..).and_then(|b| std::str::from_utf8(b).ok())
}

/// `(a, b)`.
pub fn u64_u64(a: u64, b: u64) -> [u8; 16] {
    let mut k = [0u8; 16];
    k[..8].copy_from_slice(&a.to_be_bytes());
    k[8..].copy_from_slice(&b.to_be_bytes());
    k
}

/// `(digest, n)`.
pub fn digest_u64(d: &Digest, n: u64) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&d.0);
    k[32..].copy_from_slice(&n.to_be_bytes());
    k
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn order_and_roundtrip() {
        assert!(env_u64("a", 2) < env_u64("a", 10));
        assert!(
            env_u64("a", u64::MAX) < env_u64("a-b", 0),
            "prefixes do not interleave"
        );
        assert_eq!(env_u64_tail(&env_u64("staging", 7)), Some(7));
        assert_eq!(u64_str_tail(&u64_str(3, "prod")), Some("prod"));
        assert_eq!(read_u64(&u64k(42)), Some(42));
    }
}
