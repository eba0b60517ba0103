//! Ten thousand releases: listing pages newest first and stops at the limit; state filters
//! find the few deployed ones among many without missing any.

mod common;

use common::*;
use rel_domain::Store;
use rel_domain::model::*;

#[test]
fn ten_thousand_releases_list_by_page() {
    const N: u64 = 10_000;
    let (_d, s) = open();
    s.apply_draft(config_no_checks("same"), &deployer(), t(0))
        .expect("draft");
    // Two writers share flushes (group commit), which halves the set-up time.
    std::thread::scope(|scope| {
        for half in 0..2u64 {
            let s = &s;
            scope.spawn(move || {
                for i in (1..=N).filter(|i| i % 2 == half) {
                    let req = NewRelease {
                        tag: format!("r{i}"),
                        description: format!("build {i}"),
                        config: None,
                        deploy_to: None,
                    };
                    s.create_release(&req, &deployer(), t(i as i64))
                        .expect("create");
                }
            });
        }
    });
    // Old releases live somewhere: the Deployed filter must find them however old.
    deploy(&s, "r3", "staging", &deployer(), 20_000).expect("deploy");
    deploy(&s, "r7", "staging", &deployer(), 20_001).expect("deploy");
    assert_eq!(s.status().expect("status").releases, N);

    let page = |before: Option<u64>, limit: usize| {
        s.releases(&ReleaseQuery {
            state: None,
            filter: None,
            before_seq: before,
            limit,
        })
        .expect("page")
    };
    let first = page(None, 50);
    assert_eq!(first.len(), 50);
    let seqs: Vec<u64> = first.iter().map(|r| r.release.seq).collect();
    assert_eq!(
        seqs,
        (N - 49..=N).rev().collect::<Vec<_>>(),
        "newest first, no gaps"
    );
    let second = page(Some(first[49].release.seq), 50);
    assert_eq!(second[0].release.seq, N - 50);
    let last = page(Some(3), 50);
    assert_eq!(
        last.iter().map(|r| r.release.seq).collect::<Vec<_>>(),
        [2, 1]
    );

    let by_state = |state| {
        s.releases(&ReleaseQuery {
            state: Some(state),
            filter: None,
            before_seq: None,
            limit: 10,
        })
        .expect("state")
        .into_iter()
        .map(|r| r.release.tag)
        .collect::<Vec<_>>()
    };
    assert_eq!(by_state(ReleaseState::Deployed), ["r7"]);
    assert_eq!(by_state(ReleaseState::Superseded), ["r3"]);
    assert_eq!(by_state(ReleaseState::Ready).len(), 10);
    let filtered = s
        .releases(&ReleaseQuery {
            state: None,
            filter: Some("BUILD 999".into()),
            before_seq: None,
            limit: 3,
        })
        .expect("filter");
    assert_eq!(filtered.len(), 3);
    assert!(
        filtered
            .iter()
            .all(|r| r.release.description.starts_with("build 999")),
        "{filtered:?}"
    );
    assert!(
        filtered
            .windows(2)
            .all(|w| w[0].release.seq > w[1].release.seq)
    );
    // Every one of them shares one stored snapshot.
    let c = s.release("r1").expect("r1");
    assert_eq!(
        c.release.digest,
        s.release(&format!("r{N}")).expect("rN").release.digest
    );
    assert_eq!(s.release("r1").expect("r1").state, ReleaseState::Ready);
}
