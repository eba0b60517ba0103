//! Tampering with the bytes on disk is detected: an edited audit entry fails `verify_audit`,
//! a damaged snapshot part is reported and never served.

mod common;

use common::*;
use rel_domain::{ErrorCode, Store};
use rel_store::SledStore;

/// Replace the first occurrence of `from` with `to` (same length) in one value of `tree`.
fn edit_raw(dir: &std::path::Path, tree: &str, key: &[u8], from: &[u8], to: &[u8]) {
    assert_eq!(
        from.len(),
        to.len(),
        "same-length edit keeps the record decodable"
    );
    let db = sled::open(dir).expect("raw open");
    let t = db.open_tree(tree).expect("tree");
    let mut v = t.get(key).expect("get").expect("value").to_vec();
    let at = v
        .windows(from.len())
        .position(|w| w == from)
        .expect("bytes to edit are there");
    v[at..at + from.len()].copy_from_slice(to);
    t.insert(key, v).expect("insert");
    db.flush().expect("flush");
}

#[test]
fn an_edited_audit_entry_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let s = SledStore::open(dir.path()).expect("open");
        release_with(&s, "v1", config_no_checks("a"), 1);
        deploy(&s, "v1", "staging", &deployer(), 2).expect("deploy");
        release_with(&s, "v2", config_no_checks("b"), 3);
        assert!(s.verify_audit().expect("verify").ok);
    }
    // Entry #4 is the deploy ("v1 to staging ..."): pretend someone else did it.
    edit_raw(dir.path(), "audit", &4u64.to_be_bytes(), b"bob", b"eve");
    let s = SledStore::open(dir.path()).expect("reopen");
    let entry = s
        .audit(0, None)
        .expect("audit")
        .into_iter()
        .find(|e| e.seq == 4)
        .expect("entry 4");
    assert_eq!(entry.actor, "eve", "the edit landed");
    let report = s.verify_audit().expect("verify");
    assert!(!report.ok);
    let (seq, why) = report.first_bad.expect("first bad");
    assert_eq!(seq, 4);
    assert!(why.contains("edited"), "{why}");
}

#[test]
fn a_cut_off_audit_tail_is_detected() {
    let dir = tempfile::tempdir().expect("tempdir");
    let last = {
        let s = SledStore::open(dir.path()).expect("open");
        release_with(&s, "v1", config_no_checks("a"), 1);
        s.status().expect("status").audit_entries
    };
    {
        let db = sled::open(dir.path()).expect("raw open");
        db.open_tree("audit")
            .expect("tree")
            .remove(last.to_be_bytes())
            .expect("remove");
        db.flush().expect("flush");
    }
    let s = SledStore::open(dir.path()).expect("reopen");
    let report = s.verify_audit().expect("verify");
    assert!(!report.ok);
    let (_, why) = report.first_bad.expect("bad");
    assert!(why.contains("removed from the end"), "{why}");
}

#[test]
fn a_corrupted_blob_is_reported_not_served() {
    let dir = tempfile::tempdir().expect("tempdir");
    let digest = {
        let s = SledStore::open(dir.path()).expect("open");
        let c = release_with(&s, "v1", config_no_checks("original text"), 1);
        c.release.release.digest
    };
    // Find the pipeline part holding the description and change one letter in it.
    {
        let db = sled::open(dir.path()).expect("raw open");
        let blobs = db.open_tree("blobs").expect("tree");
        let key = blobs
            .iter()
            .map(|kv| kv.expect("kv"))
            .find(|(_, v)| v.windows(13).any(|w| w == b"original text"))
            .map(|(k, _)| k)
            .expect("pipeline blob");
        drop(blobs);
        drop(db);
        edit_raw(
            dir.path(),
            "blobs",
            &key,
            b"original text",
            b"Original text",
        );
    }
    let s = SledStore::open(dir.path()).expect("reopen");
    let e = s.snapshot(&digest).expect_err("corrupt");
    assert_eq!(e.code, ErrorCode::Internal);
    assert!(
        e.message.contains("does not match its digest"),
        "{}",
        e.message
    );
    // Everything that needs the content refuses too, rather than serving the edited config.
    release_with(&s, "v2", config_no_checks("other"), 2);
    let e = s
        .plan_deploy(&deploy_req("v1", "staging"), &deployer())
        .expect_err("plan needs the snapshot");
    assert!(
        e.message.contains("does not match its digest"),
        "{}",
        e.message
    );
    // The release record itself is still listed.
    assert_eq!(s.release("v1").expect("view").release.digest, digest);
}
