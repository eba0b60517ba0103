//! Golden fixtures: data dirs written by earlier versions of rel, committed as test data, must
//! open with this version and read back exactly what they held (`readback.json` next to each,
//! written by the version that made the fixture). The committed fixture is never opened in
//! place: opening may migrate, so each test works on a copy.
//!
//! `REL_BLESS=NAME cargo test -p rel-store --test golden` writes the read-back of fixture
//! NAME (only ever when adding a new fixture; never for an existing one).

use std::path::{Path, PathBuf};

use rel_domain::Store;
use rel_domain::model::*;
use rel_store::SledStore;
use serde_json::{Value, json};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create copy");
    for e in std::fs::read_dir(from).expect("read fixture") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).expect("copy file");
        }
    }
}

/// Everything a user can read back from a store, as one JSON document.
pub fn read_back(s: &SledStore) -> Value {
    let status = s.status().expect("status");
    let releases = s
        .releases(&ReleaseQuery {
            state: None,
            filter: None,
            before_seq: None,
            limit: 1000,
        })
        .expect("releases");
    let envs = s.environments().expect("environments");
    let mut history = serde_json::Map::new();
    for e in &envs {
        let h = s.history(&e.env.name, 1000, None).expect("history");
        history.insert(e.env.name.clone(), j(&h));
    }
    let mut per_release = serde_json::Map::new();
    let mut snapshots = serde_json::Map::new();
    for r in &releases {
        let h = s
            .release_history(&r.release.tag, 1000)
            .expect("release history");
        per_release.insert(r.release.tag.clone(), j(&h));
        let snap = s.snapshot(&r.release.digest).expect("snapshot");
        snapshots.insert(r.release.tag.clone(), j(&snap.config));
    }
    let draft = s.draft().expect("draft").map(|d| d.config);
    let execs = s
        .executions(&ExecQuery {
            env: None,
            endpoint: None,
            before_id: None,
            limit: 1000,
        })
        .expect("executions");
    json!({
        "status": j(&status),
        "draft": j(&draft),
        "releases": j(&releases),
        "environments": j(&envs),
        "history": history,
        "release_history": per_release,
        "snapshots": snapshots,
        "audit": j(&s.audit(1000, None).expect("audit")),
        "audit_verify": j(&s.verify_audit().expect("verify")),
        "executions": j(&execs),
        "tokens": j(&s.tokens().expect("tokens")),
    })
}

fn j<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("serialise")
}

/// Open a copy of fixture `name`, check it reads back what it held; returns the temp dir
/// (holding `data`, and any copy a migration kept next to it).
fn check_fixture(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    copy_dir(&fixture(name), &dir);
    let s = SledStore::open(&dir).expect("the fixture opens");
    let got = read_back(&s);
    drop(s);
    // And again after that open (a migration, if any, happened once and stays done).
    let again = read_back(&SledStore::open(&dir).expect("the fixture reopens"));
    assert_eq!(
        got, again,
        "fixture {name} reads back the same after a reopen"
    );
    let expected_path = fixture(&format!("{name}.readback.json"));
    if std::env::var("REL_BLESS").is_ok_and(|b| b == name) {
        let text = serde_json::to_string_pretty(&got).expect("json");
        std::fs::write(&expected_path, text + "\n").expect("write read-back");
        return tmp;
    }
    let text = std::fs::read_to_string(&expected_path).expect("read-back file");
    let expected: Value = serde_json::from_str(&text).expect("read-back parses");
    assert_eq!(
        got, expected,
        "fixture {name} does not read back what it held"
    );
    assert_eq!(
        got["audit_verify"]["ok"],
        json!(true),
        "the audit chain verifies"
    );
    tmp
}

/// Written by the release before the versioned store (schema 1): it migrates, keeping a copy.
#[test]
fn schema1_fixture_migrates_keeps_a_copy_and_reads_back_identically() {
    let tmp = check_fixture("schema1");
    let copy = tmp.path().join("data.schema1-backup");
    assert!(
        copy.join("db").is_file(),
        "the migration kept the old data dir at {}",
        copy.display()
    );
    assert!(
        !tmp.path().join("data.schema1-backup-2").exists(),
        "the reopen did not migrate (or copy) again"
    );
    // The copy is the old store as it was: still schema 1 (sled rewrites its own log on
    // open, so bytes are not comparable; the schema is what matters).
    let db = sled::open(&copy).expect("the copy opens");
    let schema = db
        .open_tree("meta")
        .expect("meta")
        .get("schema")
        .expect("read")
        .expect("a schema");
    assert_eq!(&schema[..], &1u64.to_be_bytes()[..], "the copy is schema 1");
}

/// Written by the release before versioned records (schema 2): its records are re-encoded
/// after keeping a copy, and it reads back identically, change events included.
#[test]
fn schema2_fixture_migrates_keeps_a_copy_and_reads_back_identically() {
    let tmp = check_fixture("schema2");
    check_events(&tmp, 19);
    assert!(
        tmp.path().join("data.schema2-backup").exists(),
        "the schema-2 store is kept as it was"
    );
}

/// Written by this version (schema 3: store-owned, versioned records).
#[test]
fn schema3_fixture_reads_back_identically() {
    let tmp = check_fixture("schema3");
    let events = check_events(&tmp, 19);
    // The same changes as the schema-2 fixture holds (read through the migration).
    assert_eq!(events, check_events(&check_fixture("schema2"), 19));
    assert!(
        !tmp.path().join("data.schema3-backup").exists(),
        "a current store is not migrated"
    );
}

/// Its change events: `n` changes, seqs 1..=n in commit order.
fn check_events(tmp: &tempfile::TempDir, n: u64) -> Vec<ChangeEvent> {
    let s = SledStore::open(tmp.path().join("data")).expect("reopen");
    let events = s.changes_since(0, 1000).expect("events");
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=n).collect::<Vec<u64>>());
    assert_eq!(s.last_change().expect("last"), n);
    events
}

#[test]
fn a_store_from_a_newer_rel_is_refused_naming_both_versions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    copy_dir(&fixture("schema3"), &dir);
    {
        let db = sled::open(&dir).expect("raw open");
        db.open_tree("meta")
            .expect("meta")
            .insert("schema", &99u64.to_be_bytes())
            .expect("edit");
        db.flush().expect("flush");
    }
    let err = match SledStore::open(&dir) {
        Err(e) => e.to_string(),
        Ok(_) => panic!("a schema-99 store must be refused"),
    };
    assert!(err.contains("schema 99"), "{err}");
    assert!(
        err.contains(&format!("knows {}", rel_store::STORE_SCHEMA_VERSION)),
        "{err}"
    );
    assert!(
        !tmp.path().join("data.schema99-backup").exists(),
        "nothing is copied or touched"
    );
}

/// A record written by a newer rel (an unknown record version) is a clear error naming the
/// tree and the key, never a panic; the rest of the store stays readable.
#[test]
fn an_unknown_record_version_on_disk_is_a_clear_error() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    copy_dir(&fixture("schema3"), &dir);
    let tag = {
        let s = SledStore::open(&dir).expect("open");
        let r = s
            .releases(&ReleaseQuery {
                state: None,
                filter: None,
                before_seq: None,
                limit: 1,
            })
            .expect("releases");
        r[0].release.tag.clone()
    };
    let seq_key = {
        let db = sled::open(&dir).expect("raw open");
        let releases = db.open_tree("releases").expect("tree");
        let (k, v) = releases.last().expect("read").expect("a release");
        let mut v = v.to_vec();
        assert_eq!(v[0], 1, "schema-3 records start with version byte 1");
        v[0] = 42;
        releases.insert(&k, v).expect("edit");
        db.flush().expect("flush");
        k
    };
    let s = SledStore::open(&dir).expect("the store still opens");
    let err = s.release(&tag).expect_err("an unknown version").to_string();
    assert!(err.contains("format version 42"), "{err}");
    assert!(err.contains("tree releases"), "{err}");
    let hex: String = seq_key.iter().map(|b| format!("{b:02x}")).collect();
    assert!(err.contains(&hex), "names the key: {err}");
    assert!(s.audit(10, None).is_ok(), "other records still read");
}
