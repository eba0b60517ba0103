//! `export` / `import`: the whole store as one versioned JSON document.
//!
//! The document holds the facts (releases, snapshots, environments with their stacks and
//! holds, deployments, the audit chain, executions, tokens, counters); every index is
//! rebuilt from them on import, so the format does not depend on the tree layout. Seqs,
//! ids and the audit chain are preserved; import appends one `store.import` entry.
//!
//! Version 2 adds governance (approvals, freezes, freeze windows, the stopped line) and
//! change requests, so a moved store keeps its four-eyes rule and its scheduled deploys.
//! Version 1 documents still import (with no governance); a rel that reads only version 1
//! refuses a version 2 document rather than dropping its governance silently.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

use serde::{Deserialize, Serialize};

use rel_domain::audit;
use rel_domain::governance::{
    ChangeRequest, Freeze, FreezeWindow, MAX_APPROVALS, MAX_WINDOWS, RequestStatus, WindowSpec,
};
use rel_domain::model::*;
use rel_domain::names::tag_key;
use rel_domain::policy::{self, Action};
use rel_domain::rollback::Hold;
use rel_domain::snapshot::{Digest, Snapshot};
use rel_domain::{AppConfig, RelError, RelResult, Timestamp};

use crate::execlog::ExecLog;
use crate::keys::*;
use crate::read;
use crate::records::*;
use crate::stored_gov::GovRecord;
use crate::trees::{ALL, Kv, T, Trees, Tx, TxError, storage_error};
use crate::write;

pub const FORMAT: &str = "rel-store-export";
pub const VERSION: u32 = 2;
/// Oldest document version this rel imports.
pub const OLDEST_VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    pub format: String,
    pub version: u32,
    pub exported_at: Timestamp,
    pub counters: Counters,
    /// The draft as canonical JSON.
    pub draft: Option<String>,
    pub releases: Vec<Release>,
    /// Tags of pruned releases: reserved forever.
    pub pruned_tags: Vec<PrunedTag>,
    pub snapshots: Vec<SnapshotDoc>,
    pub environments: Vec<EnvDoc>,
    pub deployments: Vec<Deployment>,
    pub audit: Vec<AuditEntry>,
    pub executions: Vec<Execution>,
    pub tokens: Vec<TokenDoc>,
    /// Governance per environment, and the stopped line (`env: None`). Version 2.
    #[serde(default)]
    pub governance: Vec<GovDoc>,
    /// Change requests (approvals and scheduled deploys), any status. Version 2.
    #[serde(default)]
    pub requests: Vec<ChangeRequest>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GovDoc {
    /// The environment, or `None` for the stopped line (every environment).
    pub env: Option<String>,
    pub approvals: u32,
    pub freeze: Option<Freeze>,
    pub windows: Vec<FreezeWindow>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Counters {
    pub last_release: u64,
    pub last_deployment: u64,
    pub last_execution: u64,
    pub last_env_order: u64,
    /// Version 2.
    #[serde(default)]
    pub last_request: u64,
    /// Version 2 (freeze window ids, never reused).
    #[serde(default)]
    pub last_window: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PrunedTag {
    pub key: String,
    pub seq: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SnapshotDoc {
    /// Full hex digest.
    pub digest: String,
    /// Canonical JSON of the app config.
    pub config: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnvDoc {
    pub env: Environment,
    pub order: u64,
    pub state: EnvState,
    /// Release seqs, bottom first.
    pub stack: Vec<u64>,
    pub holds: Vec<(u64, Hold)>,
    /// Releases that have been live here.
    pub was_live: Vec<u64>,
    /// Latest verification outcome per release.
    pub verified: Vec<(u64, bool)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenDoc {
    pub info: TokenInfo,
    /// Hex of the secret's hash (the secret itself is never stored).
    pub hash: String,
}

fn prefixed_keys(trees: &Trees, t: T, prefix: &[u8]) -> RelResult<Vec<(sled::IVec, sled::IVec)>> {
    trees
        .tree(t)
        .scan_prefix(prefix)
        .map(|i| i.map_err(storage_error))
        .collect()
}

/// The [`Document`] written field by field and item by item straight from the trees (same
/// JSON as serialising a `Document`), so memory stays bounded whatever the store's size.
/// Called under the read gate, so the document is one consistent state (execution logs in
/// the segment log, `execs`, are those kept when they are read: logs keep being written).
pub fn export_to(
    trees: &Trees,
    execs: Option<&ExecLog>,
    now: Timestamp,
    out: &mut dyn Write,
) -> RelResult<()> {
    let mut w = Json { out };
    w.raw("{\"format\":")?;
    w.value(&FORMAT)?;
    w.raw(",\"version\":")?;
    w.value(&VERSION)?;
    w.raw(",\"exported_at\":")?;
    w.value(&now)?;
    w.raw(",\"counters\":")?;
    w.value(&Counters {
        last_release: read::meta_u64(trees, meta::LAST_RELEASE)?,
        last_deployment: read::meta_u64(trees, meta::LAST_DEPLOYMENT)?,
        last_execution: read::meta_u64(trees, meta::LAST_EXECUTION)?
            .max(execs.map_or(0, ExecLog::last_id)),
        last_env_order: read::meta_u64(trees, meta::LAST_ENV_ORDER)?,
        last_request: read::meta_u64(trees, meta::LAST_REQUEST)?,
        last_window: read::meta_u64(trees, meta::LAST_WINDOW)?,
    })?;
    let draft = trees
        .get(T::Meta, meta::DRAFT)?
        .map(|v| String::from_utf8_lossy(&v).into_owned());
    w.raw(",\"draft\":")?;
    w.value(&draft)?;

    // Releases, remembering which snapshots they need (32 bytes per distinct digest).
    let mut digests: BTreeSet<Digest> = BTreeSet::new();
    w.raw(",\"releases\":")?;
    w.list(trees.tree(T::Releases).iter(), |_, v| {
        let r: Release = dec("release", &v)?;
        digests.insert(r.digest);
        Ok(Some(r))
    })?;
    w.raw(",\"pruned_tags\":")?;
    w.list(trees.tree(T::Tags).iter(), |k, v| {
        Ok(match dec("tag", &v)? {
            TagEntry::Pruned(seq) => Some(PrunedTag {
                key: String::from_utf8_lossy(&k).into_owned(),
                seq,
            }),
            TagEntry::Live(_) => None,
        })
    })?;
    w.raw(",\"snapshots\":[")?;
    for (i, d) in digests.iter().enumerate() {
        if i > 0 {
            w.raw(",")?;
        }
        let snap = read::snapshot(trees, d)?;
        w.value(&SnapshotDoc {
            digest: d.hex(),
            config: snap.config.to_canonical_json(),
        })?;
    }
    w.raw("]")?;
    w.raw(",\"environments\":")?;
    w.list(trees.tree(T::Envs).iter(), |_, v| {
        let rec: EnvRecord = dec("environment", &v)?;
        env_doc(trees, rec).map(Some)
    })?;
    w.raw(",\"deployments\":")?;
    w.list(trees.tree(T::Deployments).iter(), |_, v| {
        dec::<Deployment>("deployment", &v).map(Some)
    })?;
    w.raw(",\"audit\":")?;
    w.list(trees.tree(T::Audit).iter(), |_, v| {
        dec::<AuditEntry>("audit", &v).map(Some)
    })?;
    w.raw(",\"executions\":")?;
    match execs {
        Some(execs) => {
            w.raw("[")?;
            let mut first = true;
            execs.for_each(|e| {
                if !first {
                    w.raw(",")?;
                }
                first = false;
                w.value(&e)
            })?;
            w.raw("]")?;
        }
        None => w.list(trees.tree(T::Executions).iter(), |_, v| {
            dec::<Execution>("execution", &v).map(Some)
        })?,
    }
    w.raw(",\"tokens\":")?;
    w.list(trees.tree(T::Tokens).iter(), |_, v| {
        let t: TokenRecord = dec("token", &v)?;
        Ok(Some(TokenDoc {
            info: t.info,
            hash: t.hash.hex(),
        }))
    })?;
    w.raw(",\"governance\":")?;
    w.list(trees.tree(T::Gov).iter(), |k, v| {
        let g: GovRecord = dec_at(T::Gov, &k, &v)?;
        let env =
            (k.as_ref() != crate::gov::LINE).then(|| String::from_utf8_lossy(&k).into_owned());
        Ok(Some(GovDoc {
            env,
            approvals: g.approvals,
            freeze: g.freeze,
            windows: g.windows,
        }))
    })?;
    w.raw(",\"requests\":")?;
    w.list(trees.tree(T::Requests).iter(), |k, v| {
        dec_at::<ChangeRequest>(T::Requests, &k, &v).map(Some)
    })?;
    w.raw("}")?;
    Ok(())
}

fn env_doc(trees: &Trees, rec: EnvRecord) -> RelResult<EnvDoc> {
    let name = rec.env.name.clone();
    let prefix = env_prefix(&name);
    let stack = prefixed_keys(trees, T::Stack, &prefix)?
        .into_iter()
        .filter_map(|(_, v)| read_u64(&v))
        .collect();
    let mut holds = Vec::new();
    for (k, v) in prefixed_keys(trees, T::Holds, &prefix)? {
        if let Some(seq) = env_u64_tail(&k) {
            holds.push((seq, dec("hold", &v)?));
        }
    }
    let was_live = prefixed_keys(trees, T::WasLiveIn, &prefix)?
        .into_iter()
        .filter_map(|(k, _)| env_u64_tail(&k))
        .collect();
    let verified = prefixed_keys(trees, T::VerifiedIn, &prefix)?
        .into_iter()
        .filter_map(|(k, v)| env_u64_tail(&k).map(|s| (s, v.first() == Some(&1))))
        .collect();
    Ok(EnvDoc {
        state: read::env_state(trees, &name)?,
        env: rec.env,
        order: rec.order,
        stack,
        holds,
        was_live,
        verified,
    })
}

/// A JSON writer over any `Write`, with the error mapping every export write needs.
struct Json<'a> {
    out: &'a mut dyn Write,
}

impl Json<'_> {
    fn raw(&mut self, s: &str) -> RelResult<()> {
        self.out
            .write_all(s.as_bytes())
            .map_err(|e| RelError::internal(format!("export: cannot write: {e}")))
    }

    fn value<V: Serialize + ?Sized>(&mut self, v: &V) -> RelResult<()> {
        serde_json::to_writer(&mut *self.out, v)
            .map_err(|e| RelError::internal(format!("export: cannot write: {e}")))
    }

    /// A JSON array of what `item` makes of each entry of a tree (`None`: skip it).
    fn list<V: Serialize>(
        &mut self,
        entries: impl Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>,
        mut item: impl FnMut(sled::IVec, sled::IVec) -> RelResult<Option<V>>,
    ) -> RelResult<()> {
        self.raw("[")?;
        let mut first = true;
        for entry in entries {
            let (k, v) = entry.map_err(storage_error)?;
            if let Some(value) = item(k, v)? {
                if !first {
                    self.raw(",")?;
                }
                first = false;
                self.value(&value)?;
            }
        }
        self.raw("]")
    }
}

/// A document checked for internal consistency, with its snapshots parsed.
pub struct Parsed {
    pub doc: Document,
    pub snapshots: BTreeMap<Digest, Snapshot>,
    pub draft: Option<AppConfig>,
    pub tokens: Vec<(TokenInfo, Digest)>,
}

fn damaged(why: impl std::fmt::Display) -> RelError {
    RelError::invalid(format!(
        "the export is damaged or not a rel export: {why}; nothing was imported"
    ))
}

pub fn parse(text: &str) -> RelResult<Parsed> {
    #[derive(Deserialize)]
    struct Head {
        format: String,
        version: u32,
    }
    let head: Head =
        serde_json::from_str(text).map_err(|e| damaged(format!("cannot read its header ({e})")))?;
    if head.format != FORMAT {
        return Err(damaged(format!(
            "format is {:?}, expected {FORMAT:?}",
            head.format
        )));
    }
    if !(OLDEST_VERSION..=VERSION).contains(&head.version) {
        return Err(RelError::invalid(format!(
            "the export has format version {}, this releasd reads versions {OLDEST_VERSION} to {VERSION}; import it with a matching rel version",
            head.version
        )));
    }
    let doc: Document = serde_json::from_str(text).map_err(damaged)?;
    let mut snapshots = BTreeMap::new();
    for s in &doc.snapshots {
        let want = Digest::from_hex(&s.digest)
            .ok_or_else(|| damaged(format!("bad digest {:?}", s.digest)))?;
        let cfg = AppConfig::from_json(&s.config)
            .map_err(|e| damaged(format!("snapshot {want}: {e}")))?;
        let snap = Snapshot::of(cfg);
        if snap.digest != want {
            return Err(damaged(format!(
                "snapshot {want} does not match its digest"
            )));
        }
        snapshots.insert(want, snap);
    }
    let seqs: BTreeSet<u64> = doc.releases.iter().map(|r| r.seq).collect();
    for r in &doc.releases {
        if !snapshots.contains_key(&r.digest) {
            return Err(damaged(format!("release {} has no snapshot", r.tag)));
        }
    }
    let env_names: BTreeSet<&str> = doc
        .environments
        .iter()
        .map(|e| e.env.name.as_str())
        .collect();
    for e in &doc.environments {
        if let Some(s) = e.stack.iter().find(|s| !seqs.contains(s)) {
            return Err(damaged(format!(
                "environment {}'s stack names missing release #{s}",
                e.env.name
            )));
        }
        if e.state.height != e.stack.len() as u64 || e.state.live != e.stack.last().copied() {
            return Err(damaged(format!(
                "environment {}'s state does not match its stack",
                e.env.name
            )));
        }
        if let Some(r) = e
            .env
            .requires
            .iter()
            .find(|r| !env_names.contains(r.as_str()))
        {
            return Err(damaged(format!(
                "environment {} requires unknown {r}",
                e.env.name
            )));
        }
    }
    let mut window_ids = BTreeSet::new();
    for g in &doc.governance {
        let whose = g.env.as_deref().unwrap_or("the stopped line");
        if let Some(env) = &g.env
            && !env_names.contains(env.as_str())
        {
            return Err(damaged(format!(
                "governance names unknown environment {env}"
            )));
        }
        if g.approvals > MAX_APPROVALS || g.windows.len() > MAX_WINDOWS {
            return Err(damaged(format!(
                "{whose}: {} approvals and {} freeze windows are over the limits ({MAX_APPROVALS}, {MAX_WINDOWS})",
                g.approvals,
                g.windows.len()
            )));
        }
        for w in &g.windows {
            if !window_ids.insert(w.id) || w.id > doc.counters.last_window {
                return Err(damaged(format!(
                    "{whose}: freeze window #{} is a duplicate or above the window counter {}",
                    w.id, doc.counters.last_window
                )));
            }
            WindowSpec::parse(&w.spec)
                .map_err(|e| damaged(format!("{whose}: freeze window #{}: {}", w.id, e.message)))?;
        }
    }
    for r in &doc.requests {
        if !env_names.contains(r.env.as_str()) {
            return Err(damaged(format!(
                "request #{} names unknown environment {}",
                r.id, r.env
            )));
        }
        if r.id > doc.counters.last_request {
            return Err(damaged(format!(
                "request #{} is above the request counter {}",
                r.id, doc.counters.last_request
            )));
        }
    }
    let report = audit::verify(&doc.audit);
    if let Some((seq, why)) = report.first_bad {
        return Err(RelError::invalid(format!(
            "the export's audit log does not verify at entry #{seq} ({why}); refusing to import a log that was edited"
        )));
    }
    let draft = match &doc.draft {
        Some(t) => Some(AppConfig::from_json(t).map_err(|e| damaged(format!("draft: {e}")))?),
        None => None,
    };
    let mut tokens = Vec::new();
    for t in &doc.tokens {
        let h = Digest::from_hex(&t.hash)
            .ok_or_else(|| damaged(format!("token {} has a bad hash", t.info.name)))?;
        tokens.push((t.info.clone(), h));
    }
    Ok(Parsed {
        doc,
        snapshots,
        draft,
        tokens,
    })
}

/// Every key in the store, to clear it inside the import transaction (sled transactions
/// cannot scan). Called under the write gate, so the list stays accurate.
pub fn existing_keys(trees: &Trees) -> RelResult<Vec<(T, sled::IVec)>> {
    let mut out = Vec::new();
    for t in ALL {
        for item in trees.tree(t).iter().map(|r| r.map(|(k, _)| k)) {
            out.push((t, item.map_err(storage_error)?));
        }
    }
    Ok(out)
}

pub fn import_tx(
    tx: &Tx<'_>,
    p: &Parsed,
    old: &[(T, sled::IVec)],
    caller: &Caller,
    now: Timestamp,
) -> Result<(), TxError> {
    policy::authorize(caller, &Action::Import)?;
    let existing = read::meta_u64(tx, meta::LAST_RELEASE)?;
    if existing > 0 {
        let count = read::meta_u64(tx, meta::RELEASE_COUNT)?;
        return Err(RelError::conflict(format!(
            "this store already has releases ({count} now, {existing} ever created); import only goes into a store that never had one. \
             Start a releasd with an empty --data-dir and import there"
        ))
        .into());
    }
    let replaced = read::audit_head(tx)?.map(|h| h.0).unwrap_or(0);
    for (t, k) in old {
        tx.del(*t, k)?;
    }
    let d = &p.doc;
    write::put_u64(tx, T::Meta, meta::SCHEMA, SCHEMA_VERSION)?;
    tx.put(T::Meta, meta::SEEDED, b"1")?;
    write::put_u64(tx, T::Meta, meta::LAST_RELEASE, d.counters.last_release)?;
    write::put_u64(
        tx,
        T::Meta,
        meta::LAST_DEPLOYMENT,
        d.counters.last_deployment,
    )?;
    write::put_u64(tx, T::Meta, meta::LAST_EXECUTION, d.counters.last_execution)?;
    write::put_u64(tx, T::Meta, meta::LAST_ENV_ORDER, d.counters.last_env_order)?;
    write::put_u64(tx, T::Meta, meta::LAST_REQUEST, d.counters.last_request)?;
    write::put_u64(tx, T::Meta, meta::LAST_WINDOW, d.counters.last_window)?;
    write::put_u64(tx, T::Meta, meta::RELEASE_COUNT, d.releases.len() as u64)?;
    if let Some(cfg) = &p.draft {
        let json = cfg.to_canonical_json();
        tx.put(
            T::Meta,
            meta::DRAFT_DIGEST,
            enc_plain(&Digest::of(json.as_bytes()))?,
        )?;
        tx.put(T::Meta, meta::DRAFT, json.as_bytes())?;
    }
    for r in &d.releases {
        tx.put(T::Releases, u64k(r.seq), enc(r)?)?;
        tx.put(
            T::Tags,
            tag_key(&r.tag).as_bytes(),
            enc(&TagEntry::Live(r.seq))?,
        )?;
        tx.put(T::Digests, digest_u64(&r.digest, r.seq), b"")?;
        if let Some(s) = p.snapshots.get(&r.digest) {
            write::add_snapshot_ref(tx, s)?;
        }
    }
    for t in &d.pruned_tags {
        tx.put(T::Tags, t.key.as_bytes(), enc(&TagEntry::Pruned(t.seq))?)?;
    }
    let mut envs: Vec<&EnvDoc> = d.environments.iter().collect();
    envs.sort_by_key(|e| e.order);
    let names: Vec<String> = envs.iter().map(|e| e.env.name.clone()).collect();
    tx.put(T::Meta, meta::ENV_NAMES, enc_plain(&names)?)?;
    let live: BTreeSet<u64> = d.releases.iter().map(|r| r.seq).collect();
    for e in envs {
        let name = &e.env.name;
        tx.put(
            T::Envs,
            name.as_bytes(),
            enc(&EnvRecord {
                env: e.env.clone(),
                order: e.order,
            })?,
        )?;
        tx.put(T::EnvState, name.as_bytes(), enc(&e.state)?)?;
        let mut counts: BTreeMap<u64, u64> = BTreeMap::new();
        for (i, seq) in e.stack.iter().enumerate() {
            tx.put(T::Stack, env_u64(name, i as u64), u64k(*seq))?;
            *counts.entry(*seq).or_default() += 1;
        }
        for (seq, c) in counts {
            write::put_u64(tx, T::OnStack, &u64_str(seq, name), c)?;
        }
        if let Some(seq) = e.state.live {
            tx.put(T::LiveIn, u64_str(seq, name), b"")?;
        }
        for (seq, h) in &e.holds {
            tx.put(T::Holds, env_u64(name, *seq), enc(h)?)?;
        }
        for seq in &e.was_live {
            tx.put(T::WasLiveIn, env_u64(name, *seq), b"")?;
            if live.contains(seq) {
                tx.put(T::EverLive, u64k(*seq), b"")?;
            }
        }
        for (seq, passed) in &e.verified {
            tx.put(T::VerifiedIn, env_u64(name, *seq), [u8::from(*passed)])?;
        }
    }
    for dep in &d.deployments {
        tx.put(T::Deployments, u64k(dep.id), enc(dep)?)?;
        tx.put(T::DepByEnv, env_u64(&dep.env, dep.id), b"")?;
        if live.contains(&dep.release_seq) {
            tx.put(T::DepByRelease, u64_u64(dep.release_seq, dep.id), b"")?;
        }
    }
    for a in &d.audit {
        tx.put(T::Audit, u64k(a.seq), enc(a)?)?;
    }
    if let Some(last) = d.audit.last() {
        tx.put(
            T::Meta,
            meta::AUDIT_HEAD,
            enc_plain(&(last.seq, last.hash))?,
        )?;
    }
    let mut by_env: BTreeMap<&str, Vec<&Execution>> = BTreeMap::new();
    for e in &d.executions {
        tx.put(T::Executions, u64k(e.id), enc(e)?)?;
        by_env.entry(e.env.as_str()).or_default().push(e);
    }
    for (env, mut list) in by_env {
        list.sort_by_key(|e| e.id);
        for (n, e) in list.iter().enumerate() {
            tx.put(T::ExecByEnv, env_u64(env, n as u64), u64k(e.id))?;
        }
        let w = ExecWindow {
            oldest: 0,
            next: list.len() as u64,
        };
        tx.put(T::ExecWindow, env.as_bytes(), enc(&w)?)?;
    }
    for (info, hash) in &p.tokens {
        tx.put(
            T::Tokens,
            info.name.as_bytes(),
            enc(&TokenRecord {
                info: info.clone(),
                hash: *hash,
            })?,
        )?;
        tx.put(T::TokenHash, hash.0, info.name.as_bytes())?;
    }
    for g in &d.governance {
        let key = g.env.as_deref().map_or(crate::gov::LINE, str::as_bytes);
        let rec = GovRecord {
            approvals: g.approvals,
            freeze: g.freeze.clone(),
            windows: g.windows.clone(),
        };
        tx.put(T::Gov, key, enc(&rec)?)?;
    }
    let mut pending: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &d.requests {
        tx.put(T::Requests, u64k(r.id), enc(r)?)?;
        if r.status == RequestStatus::Pending
            && let Some(k) = crate::gov::due_key(r)
        {
            tx.put(T::RequestsDue, k, r.env.as_bytes())?;
            *pending.entry(r.env.as_str()).or_default() += 1;
        }
    }
    for (env, n) in &pending {
        write::put_u64(tx, T::Meta, &meta::pending(env), *n)?;
    }
    let pending: u64 = pending.values().sum();
    let governed = d
        .governance
        .iter()
        .filter(|g| g.approvals > 0 || g.freeze.is_some() || !g.windows.is_empty())
        .count();
    let gov_note = if governed > 0 || pending > 0 {
        format!(", governance of {governed} environment(s) and {pending} pending request(s)")
    } else {
        String::new()
    };
    let replaced_note = if replaced > 0 {
        format!("; replaced this store's own {replaced} earlier audit entries")
    } else {
        String::new()
    };
    write::audit(
        tx,
        now,
        &caller.actor.name,
        "store.import",
        &format!(
            "imported {} releases, {} deployments, {} audit entries{gov_note} from an export made at {}{replaced_note}",
            d.releases.len(),
            d.deployments.len(),
            d.audit.len(),
            d.exported_at
        ),
    )?;
    Ok(())
}
