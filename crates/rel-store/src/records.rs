//! What the store keeps besides the model types, and the bincode encoding of every value.
//! Decoding is size-limited: a corrupt length prefix must not make us allocate gigabytes.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use rel_domain::snapshot::Manifest;
use rel_domain::{Digest, Environment, RelError, RelResult, Timestamp, TokenInfo};

pub use crate::stored::Record;

/// Bumped when the layout changes; `open` refuses a store it does not understand.
pub const SCHEMA_VERSION: u64 = 3;

const MAX_RECORD: usize = 256 << 20;

/// A record-tree value: version byte ++ bincode of its stored form (`stored.rs`).
pub fn enc<R: Record>(v: &R) -> RelResult<Vec<u8>> {
    crate::stored::encode_v1(v)
}

pub fn dec<R: Record>(what: &str, bytes: &[u8]) -> RelResult<R> {
    crate::stored::decode(what, bytes)
}

/// [`dec`] for a point read: errors name the tree and the key.
pub fn dec_at<R: Record>(t: crate::trees::T, key: &[u8], bytes: &[u8]) -> RelResult<R> {
    crate::stored::decode_at(t, key, bytes)
}

/// Plain bincode: `meta` values (store-owned numbers, digests and names), and the payload
/// inside a versioned record.
pub fn enc_plain<T: Serialize>(v: &T) -> RelResult<Vec<u8>> {
    bincode::serde::encode_to_vec(v, bincode::config::standard())
        .map_err(|e| RelError::internal(format!("store: cannot encode a record: {e}")))
}

pub fn dec_plain<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> RelResult<T> {
    dec_plain_named(|| what.to_string(), bytes)
}

/// [`dec_plain`] naming the record only on failure: every read decodes records, and the
/// name (a key in hex) costs more than the decode.
pub fn dec_plain_named<T: DeserializeOwned>(
    what: impl Fn() -> String,
    bytes: &[u8],
) -> RelResult<T> {
    bincode::serde::decode_from_slice(bytes, bincode::config::standard().with_limit::<MAX_RECORD>())
        .map(|(v, _)| v)
        .map_err(|e| {
            RelError::internal(format!(
                "store: the {} record is corrupt ({e}); restore the data dir from a backup or an export",
                what()
            ))
        })
}

/// A tag is taken for good: live while its release exists, a tombstone after pruning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TagEntry {
    Live(u64),
    Pruned(u64),
}

/// A content-addressed manifest and how many releases use it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManifestRecord {
    pub manifest: Manifest,
    pub refs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvRecord {
    pub env: Environment,
    /// Creation order, the tie-break of promotion order.
    pub order: u64,
}

/// What an environment serves now, and the size of its rollback stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvState {
    pub live: Option<u64>,
    pub since: Option<Timestamp>,
    pub by: Option<String>,
    /// Entries on the rollback stack; the top (`height - 1`) is `live`.
    pub height: u64,
    pub deployment_id: Option<u64>,
    /// Deployment records in this environment.
    pub history_len: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub info: TokenInfo,
    pub hash: Digest,
}

/// Per-environment execution log window: ids live at `(env, n)` for `oldest <= n < next`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecWindow {
    pub oldest: u64,
    pub next: u64,
}

/// Keys of the `meta` tree.
pub mod meta {
    pub const SCHEMA: &[u8] = b"schema";
    pub const SEEDED: &[u8] = b"seeded";
    pub const LAST_RELEASE: &[u8] = b"last_release";
    pub const LAST_DEPLOYMENT: &[u8] = b"last_deployment";
    pub const LAST_EXECUTION: &[u8] = b"last_execution";
    pub const LAST_ENV_ORDER: &[u8] = b"last_env_order";
    pub const RELEASE_COUNT: &[u8] = b"release_count";
    /// `(seq, hash)` of the newest audit entry, to detect a cut-off tail.
    pub const AUDIT_HEAD: &[u8] = b"audit_head";
    /// The draft as canonical JSON, and its digest.
    pub const DRAFT: &[u8] = b"draft";
    pub const DRAFT_DIGEST: &[u8] = b"draft_digest";
    /// Environment names in creation order (point-readable inside a transaction).
    pub const ENV_NAMES: &[u8] = b"env_names";
    /// The seq of the newest change event.
    pub const LAST_EVENT: &[u8] = b"last_event";
    /// Change requests and freeze windows (issue 11): ids never reused.
    pub const LAST_REQUEST: &[u8] = b"last_request";
    pub const LAST_WINDOW: &[u8] = b"last_window";
    /// `pending/ENV`: pending requests for ENV, to bound them without a scan (a sled store
    /// written before this counter existed is counted once at open:
    /// `gov::backfill_pending_counts`).
    pub fn pending(env: &str) -> Vec<u8> {
        [b"pending/".as_slice(), env.as_bytes()].concat()
    }
}
