//! No answer is limited by one frame (issue 7): a store whose lists and export are larger
//! than a 16 MiB frame lists whole (pages cut by bytes, relctl follows the cursor) and moves
//! with `relctl export` / `import`; an oversized release description is refused.

mod common;

use common::*;
use rel_domain::{ErrorCode, NewRelease};
use rel_proto::codec::MAX_FRAME_BYTES;
use rel_proto::{Request, Response};
use rel_testkit::TestDaemon;

const RELEASES: usize = 300;
/// Just under the 64 KiB limit: 300 of them are ~19 MB, more than one frame.
const DESCRIPTION: usize = 60 * 1024;

fn relctl_json(d: &TestDaemon, args: &[&str]) -> serde_json::Value {
    let out = d
        .relctl()
        .args(args)
        .args(["-o", "json"])
        .output()
        .expect("relctl");
    assert!(
        out.status.success(),
        "relctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

#[tokio::test]
async fn more_than_a_frame_lists_whole_and_moves_with_export_and_import() {
    let a = TestDaemon::start();
    let c = connect(a.socket()).await;
    apply_example(&c).await;
    for i in 0..RELEASES {
        let description = format!("{i:04} {}", "d".repeat(DESCRIPTION));
        let r = c
            .call(Request::ReleaseCreate(NewRelease {
                tag: format!("v1.0.{i}"),
                description,
                config: None,
                deploy_to: None,
            }))
            .await
            .expect("create");
        assert!(matches!(r, Response::Created(_)), "{r:?}");
    }

    // One page is cut by bytes: fewer than asked, newest first.
    let first = match c
        .call(Request::ReleaseList(rel_domain::ReleaseQuery {
            state: None,
            filter: None,
            before_seq: None,
            limit: RELEASES,
        }))
        .await
        .expect("list")
    {
        Response::Releases(l) => l,
        other => panic!("{other:?}"),
    };
    assert!(
        !first.is_empty() && first.len() < RELEASES,
        "{}",
        first.len()
    );
    // relctl follows the cursor: every release, in order, although they span many frames.
    let listed = relctl_json(&a, &["release", "list", "--limit", "1000"]);
    let listed = listed.as_array().expect("array");
    assert_eq!(listed.len(), RELEASES);
    assert_eq!(listed[0]["tag"], format!("v1.0.{}", RELEASES - 1));
    assert_eq!(listed[RELEASES - 1]["tag"], "v1.0.0");

    // Export streams: the file is larger than one frame.
    let file = a.dir().join("store.json");
    let exported = relctl_json(&a, &["export", file.to_str().expect("utf-8")]);
    let size = std::fs::metadata(&file).expect("export file").len() as usize;
    assert!(size > MAX_FRAME_BYTES, "export is {size} bytes");
    assert_eq!(exported["bytes"], size);

    // Import streams into a fresh daemon, which then has the same releases.
    let b = TestDaemon::start();
    let imported = relctl_json(&b, &["import", file.to_str().expect("utf-8")]);
    assert_eq!(imported["releases"], RELEASES);
    let relisted = relctl_json(&b, &["release", "list", "--limit", "1000"]);
    assert_eq!(relisted.as_array().expect("array"), listed);
}

#[tokio::test]
async fn a_description_over_the_limit_is_refused_naming_the_field_and_the_limit() {
    let d = TestDaemon::start();
    let c = connect(d.socket()).await;
    apply_example(&c).await;
    let e = rpc_err(
        c.call(Request::ReleaseCreate(NewRelease {
            tag: "v1.0.0".into(),
            description: "x".repeat(64 * 1024 + 1),
            config: None,
            deploy_to: None,
        }))
        .await,
    );
    assert_eq!(e.code, ErrorCode::Invalid);
    assert!(
        e.message.contains("description") && e.message.contains("65536"),
        "{}",
        e.message
    );
    // At the limit it is fine.
    let ok = c
        .call(Request::ReleaseCreate(NewRelease {
            tag: "v1.0.0".into(),
            description: "x".repeat(64 * 1024),
            config: None,
            deploy_to: None,
        }))
        .await
        .expect("at the limit");
    assert!(matches!(ok, Response::Created(_)));
}

/// The environment list is one answer, so the store bounds it: a description over 4 KiB and
/// an environment past the 256th are refused, naming the field or the limit, and the list of
/// all 256 environments (with the longest descriptions) answers whole.
#[test]
fn environments_are_bounded_so_their_list_fits_one_answer() {
    let d = TestDaemon::start();
    let run = |args: &[&str]| d.relctl().args(args).output().expect("relctl");
    let long = "d".repeat(4 * 1024 + 1);
    let out = run(&["env", "create", "too-wordy", "--description", &long]);
    assert_eq!(out.status.code(), Some(1), "invalid input exits 1");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("description") && err.contains("4096"),
        "names the field and the limit: {err}"
    );
    // A fresh store has staging and production: fill it to 256.
    let at_limit = "d".repeat(4 * 1024);
    for i in 0..254 {
        let out = run(&["env", "create", &format!("env-{i}"), "-d", &at_limit]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let out = run(&["env", "create", "one-too-many"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("256"), "names the limit: {err}");
    let listed = relctl_json(&d, &["env", "list"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(256));
}

/// Requests carry reasons of up to 4 KiB: their list is cut by the byte budget like every
/// other list, and relctl follows the cursor to the end.
#[tokio::test]
async fn requests_are_paged_by_bytes_and_listed_whole() {
    let d = TestDaemon::try_start_with_args(None, &["--page-bytes", "8192"]).expect("daemon");
    let c = connect(d.socket()).await;
    apply_example(&c).await;
    let run = |args: &[&str]| {
        let out = d.relctl().args(args).output().expect("relctl");
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&["release", "create", "v1"]);
    run(&["env", "set", "staging", "--approvals", "1"]);
    let reason = "r".repeat(4000);
    // One approval request per release may be pending; scheduled ones may repeat.
    for _ in 0..6 {
        run(&[
            "deploy", "v1", "--env", "staging", "--at", "2h", "--force", "--reason", &reason,
        ]);
    }
    let page = c
        .call(Request::Requests {
            env: None,
            all: true,
            limit: 50,
            before_id: None,
        })
        .await
        .expect("requests");
    let Response::Requests(page) = page else {
        panic!("not a requests answer: {page:?}");
    };
    assert!(
        !page.is_empty() && page.len() < 6,
        "a page of {} requests ignores the 8 KiB budget",
        page.len()
    );
    let listed = relctl_json(&d, &["requests", "--all"]);
    assert_eq!(listed.as_array().map(Vec::len), Some(6), "{listed}");
}
