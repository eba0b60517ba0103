//! Typed point reads over [`Kv`], shared by transactions and plain reads, with the
//! not-found messages users see.

use rel_domain::model::{Deployment, Release};
use rel_domain::names::tag_key;
use rel_domain::rollback::{Hold, StackReader};
use rel_domain::snapshot::{Digest, Snapshot};
use rel_domain::{AppConfig, RelError};

use crate::keys::*;
use crate::records::*;
use crate::trees::{Kv, T};

pub fn meta_u64<K: Kv>(k: &K, key: &[u8]) -> Result<u64, K::E> {
    Ok(k.get(T::Meta, key)?.and_then(|v| read_u64(&v)).unwrap_or(0))
}

pub fn audit_head<K: Kv>(k: &K) -> Result<Option<(u64, Digest)>, K::E> {
    match k.get(T::Meta, meta::AUDIT_HEAD)? {
        Some(v) => Ok(Some(dec_plain("audit head", &v)?)),
        None => Ok(None),
    }
}

pub fn release<K: Kv>(k: &K, seq: u64) -> Result<Option<Release>, K::E> {
    let key = u64k(seq);
    match k.get(T::Releases, &key)? {
        Some(v) => Ok(Some(dec_at(T::Releases, &key, &v)?)),
        None => Ok(None),
    }
}

/// A release that must exist (it is referenced by something else that exists).
pub fn release_required<K: Kv>(k: &K, seq: u64) -> Result<Release, K::E> {
    release(k, seq)?.ok_or_else(|| {
        RelError::internal(format!(
            "store: release #{seq} is referenced but missing; restore the data dir from a backup or an export"
        ))
        .into()
    })
}

pub fn tag_entry<K: Kv>(k: &K, tag: &str) -> Result<Option<TagEntry>, K::E> {
    let key = tag_key(tag);
    match k.get(T::Tags, key.as_bytes())? {
        Some(v) => Ok(Some(dec_at(T::Tags, key.as_bytes(), &v)?)),
        None => Ok(None),
    }
}

pub fn release_by_tag<K: Kv>(k: &K, tag: &str) -> Result<Release, K::E> {
    match tag_entry(k, tag)? {
        Some(TagEntry::Live(seq)) => release_required(k, seq),
        Some(TagEntry::Pruned(_)) => Err(RelError::not_found(format!(
            "release {tag} was pruned; its tag stays reserved. relctl release list shows what is left"
        ))
        .into()),
        None => Err(RelError::not_found(format!(
            "no release is tagged {tag}; relctl release list shows the tags"
        ))
        .into()),
    }
}

pub fn env_names<K: Kv>(k: &K) -> Result<Vec<String>, K::E> {
    match k.get(T::Meta, meta::ENV_NAMES)? {
        Some(v) => Ok(dec_plain("environment list", &v)?),
        None => Ok(Vec::new()),
    }
}

pub fn env_record<K: Kv>(k: &K, name: &str) -> Result<Option<EnvRecord>, K::E> {
    match k.get(T::Envs, name.as_bytes())? {
        Some(v) => Ok(Some(dec_at(T::Envs, name.as_bytes(), &v)?)),
        None => Ok(None),
    }
}

/// An environment that must exist; the message lists the known ones when given.
pub fn env_required<K: Kv>(k: &K, name: &str) -> Result<EnvRecord, K::E> {
    if let Some(r) = env_record(k, name)? {
        return Ok(r);
    }
    let known = env_names(k)?;
    Err({
        let list = if known.is_empty() {
            String::new()
        } else {
            format!(" (known: {})", known.join(", "))
        };
        let hint = match rel_domain::names::did_you_mean(name, &known) {
            Some(close) => format!("; did you mean {close}? If not, an admin"),
            None => "; an admin".to_string(),
        };
        RelError::not_found(format!(
            "environment {name} does not exist{list}{hint} can create it with relctl env create {name}"
        ))
        .into()
    })
}

pub fn env_state<K: Kv>(k: &K, name: &str) -> Result<EnvState, K::E> {
    match k.get(T::EnvState, name.as_bytes())? {
        Some(v) => Ok(dec_at(T::EnvState, name.as_bytes(), &v)?),
        None => Ok(EnvState::default()),
    }
}

pub fn deployment<K: Kv>(k: &K, id: u64) -> Result<Option<Deployment>, K::E> {
    let key = u64k(id);
    match k.get(T::Deployments, &key)? {
        Some(v) => Ok(Some(dec_at(T::Deployments, &key, &v)?)),
        None => Ok(None),
    }
}

pub fn hold<K: Kv>(k: &K, env: &str, seq: u64) -> Result<Option<Hold>, K::E> {
    let key = env_u64(env, seq);
    match k.get(T::Holds, &key)? {
        Some(v) => Ok(Some(dec_at(T::Holds, &key, &v)?)),
        None => Ok(None),
    }
}

pub fn on_stack_count<K: Kv>(k: &K, seq: u64, env: &str) -> Result<u64, K::E> {
    Ok(k.get(T::OnStack, &u64_str(seq, env))?
        .and_then(|v| read_u64(&v))
        .unwrap_or(0))
}

pub fn manifest<K: Kv>(k: &K, digest: &Digest) -> Result<Option<ManifestRecord>, K::E> {
    match k.get(T::Manifests, &digest.0)? {
        Some(v) => Ok(Some(dec_at(T::Manifests, &digest.0, &v)?)),
        None => Ok(None),
    }
}

/// A snapshot rebuilt from its parts and verified against its digest.
pub fn snapshot<K: Kv>(k: &K, digest: &Digest) -> Result<Snapshot, K::E> {
    let m = manifest(k, digest)?
        .ok_or_else(|| RelError::not_found(format!("no snapshot {digest} in the store")))?;
    let mut err = None;
    let joined = Snapshot::join(&m.manifest, |d| match k.get(T::Blobs, &d.0) {
        Ok(v) => Ok(v.map(|b| b.to_vec())),
        Err(e) => {
            err = Some(e);
            Err(RelError::internal("store read failed"))
        }
    });
    if let Some(e) = err {
        return Err(e);
    }
    Ok(joined?)
}

/// Digest of the canonical JSON of an empty check list: a release whose manifest points
/// here defines no checks.
pub fn no_checks_digest() -> Digest {
    Digest::of(b"[]")
}

pub fn has_checks<K: Kv>(k: &K, digest: &Digest) -> Result<bool, K::E> {
    let m = manifest(k, digest)?.ok_or_else(|| {
        RelError::internal(format!("store: snapshot {digest} of a release is missing"))
    })?;
    Ok(m.manifest.checks != no_checks_digest())
}

pub fn draft<K: Kv>(k: &K) -> Result<Option<AppConfig>, K::E> {
    match k.get(T::Meta, meta::DRAFT)? {
        Some(v) => {
            let text = std::str::from_utf8(&v)
                .map_err(|_| RelError::internal("store: the draft is not UTF-8 (corrupt store)"))?;
            Ok(Some(AppConfig::from_json(text).map_err(|e| {
                RelError::internal(format!("store: the stored draft no longer parses ({e}); apply it again with relctl app apply FILE"))
            })?))
        }
        None => Ok(None),
    }
}

/// An environment's rollback stack, read through `Kv`.
pub struct KvStack<'a, K: Kv> {
    pub k: &'a K,
    pub env: &'a str,
}

impl<K: Kv> StackReader for KvStack<'_, K> {
    type Error = K::E;
    fn entry(&mut self, index: u64) -> Result<u64, K::E> {
        let v = self.k.get(T::Stack, &env_u64(self.env, index))?;
        v.and_then(|v| read_u64(&v)).ok_or_else(|| {
            RelError::internal(format!(
                "store: entry {index} of {}'s rollback stack is missing; restore from a backup or an export",
                self.env
            ))
            .into()
        })
    }
    fn is_held(&mut self, seq: u64) -> Result<bool, K::E> {
        Ok(self.k.get(T::Holds, &env_u64(self.env, seq))?.is_some())
    }
    fn on_stack(&mut self, seq: u64) -> Result<bool, K::E> {
        Ok(on_stack_count(self.k, seq, self.env)? > 0)
    }
    fn tag(&mut self, seq: u64) -> Result<String, K::E> {
        Ok(release_required(self.k, seq)?.tag)
    }
}
