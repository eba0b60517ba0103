//! Snapshots: the canonical encoding of an app config, its BLAKE3 digest, and the split into
//! content-addressed parts that lets releases share stored bytes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::config::AppConfig;
use crate::error::{RelError, RelResult};

/// A BLAKE3 digest. Shown as `b3:` + the first 12 hex digits; stored in full.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(*blake3::hash(bytes).as_bytes())
    }
    pub fn hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }
    /// `b3:` + 12 hex digits, the form users see.
    pub fn short(&self) -> String {
        format!("b3:{}", &self.hex()[..12])
    }
    pub fn from_hex(s: &str) -> Option<Digest> {
        let s = s.strip_prefix("b3:").unwrap_or(s);
        if s.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let pair = std::str::from_utf8(chunk).ok()?;
            out[i] = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Digest(out))
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.short())
    }
}

impl std::fmt::Debug for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Digest({})", self.short())
    }
}

/// JSON with object keys sorted at every level and no insignificant whitespace. Written by
/// hand so the digest does not depend on whether some dependency turns on serde_json's
/// `preserve_order` feature.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// An app config frozen with its digest.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub config: AppConfig,
    pub digest: Digest,
}

impl Snapshot {
    pub fn of(config: AppConfig) -> Snapshot {
        let digest = Digest::of(config.to_canonical_json().as_bytes());
        Snapshot { config, digest }
    }

    /// Split into a manifest plus content-addressed parts (one per tool, pipeline,
    /// endpoint, and one for the checks). Releases that share a part share its bytes.
    pub fn split(&self) -> (Manifest, Vec<(Digest, Vec<u8>)>) {
        let mut parts = Vec::new();
        let mut put = |v: Value| -> Digest {
            let bytes = canonical_json(&v).into_bytes();
            let d = Digest::of(&bytes);
            parts.push((d, bytes));
            d
        };
        let cfg = &self.config;
        let to = |x: &dyn erased::ToValue| x.value();
        let manifest = Manifest {
            digest: self.digest,
            tools: cfg
                .tools
                .iter()
                .map(|(k, t)| (k.clone(), put(to(t))))
                .collect(),
            pipelines: cfg
                .pipelines
                .iter()
                .map(|(k, p)| (k.clone(), put(to(p))))
                .collect(),
            endpoints: cfg
                .endpoints
                .iter()
                .map(|(k, e)| (k.clone(), put(to(e))))
                .collect(),
            checks: put(serde_json::to_value(&cfg.checks).unwrap_or(Value::Null)),
        };
        parts.sort_by_key(|(d, _)| *d);
        parts.dedup_by_key(|(d, _)| *d);
        (manifest, parts)
    }

    /// Rebuild from a manifest, fetching parts by digest. Every part and the whole are
    /// verified against their digests; a mismatch is an `Internal` error naming the release
    /// content as corrupt, never a silently wrong config.
    pub fn join(
        manifest: &Manifest,
        mut get: impl FnMut(&Digest) -> RelResult<Option<Vec<u8>>>,
    ) -> RelResult<Snapshot> {
        let mut fetch = |d: &Digest| -> RelResult<Value> {
            let bytes = get(d)?.ok_or_else(|| {
                RelError::internal(format!(
                    "snapshot {}: part {} is missing from the store",
                    manifest.digest, d
                ))
            })?;
            if Digest::of(&bytes) != *d {
                return Err(RelError::internal(format!(
                    "snapshot {}: stored part {} does not match its digest (corrupt store); restore from an export",
                    manifest.digest, d
                )));
            }
            serde_json::from_slice(&bytes).map_err(|e| {
                RelError::internal(format!(
                    "snapshot {}: part {d} is not JSON: {e}",
                    manifest.digest
                ))
            })
        };
        let mut obj = serde_json::Map::new();
        for (field, entries) in [
            ("tools", &manifest.tools),
            ("pipelines", &manifest.pipelines),
            ("endpoints", &manifest.endpoints),
        ] {
            let mut m = serde_json::Map::new();
            for (name, d) in entries {
                m.insert(name.clone(), fetch(d)?);
            }
            obj.insert(field.to_string(), Value::Object(m));
        }
        obj.insert("checks".to_string(), fetch(&manifest.checks)?);
        let config: AppConfig = serde_json::from_value(Value::Object(obj)).map_err(|e| {
            RelError::internal(format!("snapshot {}: cannot decode: {e}", manifest.digest))
        })?;
        let snap = Snapshot::of(config);
        if snap.digest != manifest.digest {
            return Err(RelError::internal(format!(
                "snapshot {} does not match its digest (got {}): the store is corrupt; restore from an export",
                manifest.digest, snap.digest
            )));
        }
        Ok(snap)
    }
}

mod erased {
    use serde_json::Value;
    pub trait ToValue {
        fn value(&self) -> Value;
    }
    impl<T: serde::Serialize> ToValue for T {
        fn value(&self) -> Value {
            serde_json::to_value(self).unwrap_or(Value::Null)
        }
    }
}

/// Which parts make up a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub digest: Digest,
    pub tools: BTreeMap<String, Digest>,
    pub pipelines: BTreeMap<String, Digest>,
    pub endpoints: BTreeMap<String, Digest>,
    pub checks: Digest,
}

impl Manifest {
    pub fn part_digests(&self) -> impl Iterator<Item = &Digest> {
        self.tools
            .values()
            .chain(self.pipelines.values())
            .chain(self.endpoints.values())
            .chain(std::iter::once(&self.checks))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ConfigFormat, EXAMPLE_APP_TOML};
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn example() -> AppConfig {
        AppConfig::parse(EXAMPLE_APP_TOML, ConfigFormat::Toml).expect("example")
    }

    #[test]
    fn split_join_roundtrip_and_sharing() {
        let a = Snapshot::of(example());
        let mut cfg = example();
        cfg.pipelines.get_mut("chat").expect("chat").description = "changed".into();
        let b = Snapshot::of(cfg);
        assert_ne!(a.digest, b.digest);
        let (ma, pa) = a.split();
        let (mb, pb) = b.split();
        // Unchanged tool and endpoint share parts; the changed pipeline does not.
        assert_eq!(ma.tools, mb.tools);
        assert_eq!(ma.endpoints, mb.endpoints);
        assert_ne!(ma.pipelines, mb.pipelines);
        let blobs: HashMap<Digest, Vec<u8>> = pa.into_iter().chain(pb).collect();
        let back = Snapshot::join(&ma, |d| Ok(blobs.get(d).cloned())).expect("join");
        assert_eq!(back, a);
    }

    #[test]
    fn corrupt_part_is_reported() {
        let a = Snapshot::of(example());
        let (m, parts) = a.split();
        let mut blobs: HashMap<Digest, Vec<u8>> = parts.into_iter().collect();
        let first = *m.tools.values().next().expect("a tool");
        blobs.insert(first, b"{\"kind\":\"command\",\"argv\":[\"rm\"]}".to_vec());
        let e = Snapshot::join(&m, |d| Ok(blobs.get(d).cloned())).expect_err("corrupt");
        assert!(
            e.message.contains("does not match its digest"),
            "{}",
            e.message
        );
    }

    #[test]
    fn digest_hex_roundtrip() {
        let d = Digest::of(b"x");
        assert_eq!(Digest::from_hex(&d.hex()), Some(d));
        assert!(d.short().starts_with("b3:") && d.short().len() == 15);
    }

    proptest! {
        #[test]
        fn same_content_same_digest_any_change_differs(desc in "[ -~]{0,40}", other in "[ -~]{0,40}", msg in "[a-z]{1,10}") {
            let mut c1 = example();
            c1.pipelines.get_mut("chat").expect("chat").description = desc.clone();
            c1.checks[0].input = serde_json::json!({"message": msg.clone(), "z": 1, "a": [1, 2]});
            // Same content built in a different key order gives the same digest.
            let mut c2 = example();
            c2.checks[0].input = serde_json::json!({"a": [1, 2], "z": 1, "message": msg});
            c2.pipelines.get_mut("chat").expect("chat").description = desc.clone();
            prop_assert_eq!(Snapshot::of(c1.clone()).digest, Snapshot::of(c2).digest);
            let mut c3 = c1.clone();
            c3.pipelines.get_mut("chat").expect("chat").description = other.clone();
            prop_assert_eq!(Snapshot::of(c1).digest == Snapshot::of(c3).digest, desc == other);
        }
    }
}
