//! The sled store's execution log (segment files outside sled): retention that holds across
//! a reopen, paging, compaction of mostly dead segments, a torn tail after a crash, and
//! export/import of the logs.

mod common;

use common::*;
use rel_domain::Store;
use rel_domain::model::{ExecQuery, ExecStatus, Execution};
use rel_store::SledStore;

fn exec(env: &str, input: String) -> Execution {
    Execution {
        id: 0,
        env: env.into(),
        endpoint: "chat".into(),
        release: "v1".into(),
        digest: rel_domain::Digest::of(b"x"),
        status: ExecStatus::Ok,
        input,
        output: "{}".into(),
        error: None,
        steps: vec![],
        started_at: t(0),
        duration_ms: 1,
    }
}

fn ids(s: &SledStore, env: Option<&str>, before_id: Option<u64>, limit: usize) -> Vec<u64> {
    s.executions(&ExecQuery {
        env: env.map(str::to_string),
        endpoint: None,
        before_id,
        limit,
    })
    .expect("executions")
    .iter()
    .map(|e| e.id)
    .collect()
}

fn segments(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir.join("execlog"))
        .expect("execlog dir")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".seg"))
        })
        .count()
}

#[test]
fn retention_and_paging_hold_across_a_reopen() {
    let (dir, s) = open();
    for i in 0..10 {
        s.append_execution_logged(&exec("staging", format!("{i}")), 3)
            .expect("append");
        if i % 5 == 0 {
            s.append_execution_logged(&exec("production", "{}".into()), 3)
                .expect("append");
        }
    }
    // staging got 1, 3..7, 9..12 (production 2 and 8): the newest 3 are kept.
    assert_eq!(ids(&s, Some("staging"), None, 0), vec![12, 11, 10]);
    assert_eq!(ids(&s, Some("production"), None, 0), vec![8, 2]);
    assert_eq!(ids(&s, None, None, 0), vec![12, 11, 10, 8, 2]);
    assert_eq!(ids(&s, None, Some(11), 2), vec![10, 8], "paging");
    assert_eq!(
        s.execution(9).expect_err("trimmed").code,
        rel_domain::ErrorCode::NotFound
    );
    drop(s);
    let s = SledStore::open(dir.path()).expect("reopen");
    assert_eq!(
        ids(&s, None, None, 0),
        vec![12, 11, 10, 8, 2],
        "trimmed logs stay trimmed"
    );
    assert_eq!(s.execution(11).expect("kept").input, "8");
}

#[test]
fn mostly_dead_segments_are_compacted_and_deleted() {
    let (dir, s) = open();
    let old = s
        .append_execution_logged(&exec("production", "\"old\"".into()), 10)
        .expect("append");
    // ~20 MiB through staging with a retention of 2: the first segment rolls over and
    // then holds nothing but production's one log.
    let big = serde_json::to_string(&"x".repeat(60_000)).expect("json");
    let mut last = 0;
    for _ in 0..340 {
        last = s
            .append_execution_logged(&exec("staging", big.clone()), 2)
            .expect("append");
    }
    // One more batch after the roll lets the writer compact and delete.
    s.append_execution_logged(&exec("staging", big.clone()), 2)
        .expect("append");
    assert!(
        segments(dir.path()) <= 2,
        "{} segments kept for 3 logs",
        segments(dir.path())
    );
    assert_eq!(s.execution(old).expect("moved, not lost").input, "\"old\"");
    drop(s);
    let s = SledStore::open(dir.path()).expect("reopen");
    assert_eq!(s.execution(old).expect("after reopen").input, "\"old\"");
    assert_eq!(ids(&s, Some("staging"), None, 0), vec![last + 1, last]);
}

#[test]
fn a_torn_tail_is_dropped_and_the_log_goes_on() {
    let (dir, s) = open();
    for i in 0..3 {
        s.append_execution_logged(&exec("staging", format!("{i}")), 10)
            .expect("append");
    }
    drop(s);
    // A crash mid-write leaves a partial frame at the end of the newest segment.
    let seg = std::fs::read_dir(dir.path().join("execlog"))
        .expect("dir")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .max()
        .expect("a segment");
    let mut bytes = std::fs::read(&seg).expect("read");
    bytes.extend_from_slice(&[200, 0, 0, 0, 1, 2, 3]);
    std::fs::write(&seg, bytes).expect("write");
    let s = SledStore::open(dir.path()).expect("reopen");
    assert_eq!(ids(&s, None, None, 0), vec![3, 2, 1]);
    let id = s
        .append_execution_logged(&exec("staging", "4".into()), 10)
        .expect("append after the torn tail");
    assert_eq!(id, 4);
    drop(s);
    let s = SledStore::open(dir.path()).expect("reopen again");
    assert_eq!(ids(&s, None, None, 0), vec![4, 3, 2, 1]);
}

#[test]
fn logs_export_and_import_with_their_ids() {
    let (_a_dir, a) = open();
    for i in 0..4 {
        a.append_execution_logged(&exec("staging", format!("{i}")), 3)
            .expect("append");
    }
    let dump = a.export().expect("export");
    let (b_dir, b) = open();
    b.import(&dump, &admin(), t(9)).expect("import");
    assert_eq!(ids(&b, None, None, 0), vec![4, 3, 2]);
    assert_eq!(b.execution(3).expect("imported").input, "2");
    let id = b
        .append_execution_logged(&exec("staging", "new".into()), 3)
        .expect("append");
    assert!(id > 4, "ids go on above the imported ones, got {id}");
    drop(b);
    let b = SledStore::open(b_dir.path()).expect("reopen");
    assert_eq!(ids(&b, None, None, 0), vec![id, 4, 3]);
}

/// Ids are reserved in blocks of 16,384; appends from several threads go on past two of
/// them (the reservation and the batching must not wedge each other).
#[test]
fn ids_keep_coming_past_reserved_blocks_under_concurrency() {
    let (_dir, s) = open();
    let s = std::sync::Arc::new(s);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let s = std::sync::Arc::clone(&s);
            std::thread::spawn(move || {
                let mut top = 0;
                for _ in 0..10_000 {
                    top = top.max(
                        s.append_execution_logged(&exec("staging", "{}".into()), 5)
                            .expect("append"),
                    );
                }
                top
            })
        })
        .collect();
    let top = threads.into_iter().map(|t| t.join().expect("thread")).max();
    assert_eq!(top, Some(40_000));
    assert_eq!(
        ids(&s, None, None, 0),
        vec![40_000, 39_999, 39_998, 39_997, 39_996]
    );
}
