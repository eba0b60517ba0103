//! Golden fixtures: data dirs written by earlier versions of rel, committed as test data, must
//! open with this version and read back exactly what they held (`readback.json` next to each,
//! written by the version that made the fixture). The committed fixture is never opened in
//! place: opening may migrate, so each test works on a copy.
//!
//! `REL_BLESS=1 cargo test -p rel-store --test golden` rewrites the read-backs (only ever do
//! that when adding a new fixture).

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

fn check_fixture(name: &str) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().join("data");
    copy_dir(&fixture(name), &dir);
    let s = SledStore::open(&dir).expect("the fixture opens");
    let got = read_back(&s);
    let expected_path = fixture(&format!("{name}.readback.json"));
    if std::env::var_os("REL_BLESS").is_some() {
        let text = serde_json::to_string_pretty(&got).expect("json");
        std::fs::write(&expected_path, text + "\n").expect("write read-back");
        return;
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
}

#[test]
fn schema1_fixture_reads_back_identically() {
    check_fixture("schema1");
}
