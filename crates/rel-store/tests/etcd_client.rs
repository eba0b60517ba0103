//! The etcd client layer against a real 3-member etcd cluster (Debian's etcd-server, started by
//! rel-testkit): guarded transactions, binary keys, range order, watches that survive a
//! member's death and compaction, bounded failures, TLS and password auth.

use std::time::{Duration, Instant};

use rel_store::etcd::{EtcdError, EtcdKv, EtcdOptions, EtcdUrl, Guard, Outcome, WatchItem, Write};
use rel_testkit::etcd::EtcdCluster;

fn connect(c: &EtcdCluster, prefix: &str) -> EtcdKv {
    let url = EtcdUrl::parse(&c.store_url(prefix)).expect("url");
    EtcdKv::connect(EtcdOptions::new(url)).unwrap_or_else(|e| panic!("connect: {e}\n{}", c.logs()))
}

fn put(tree: &'static str, key: &[u8], value: &[u8]) -> Write {
    Write::Put {
        tree,
        key: key.to_vec(),
        value: value.to_vec(),
    }
}

fn committed(o: Outcome) -> i64 {
    match o {
        Outcome::Committed { revision } => revision,
        Outcome::Conflict { .. } => panic!("expected a commit, got {o:?}"),
    }
}

/// One change as (tree, key, value or None for a delete).
type Seen = (String, Vec<u8>, Option<Vec<u8>>);

/// Next Changes item, skipping progress notifications.
fn next_changes(w: &mut rel_store::etcd::Watcher) -> (i64, Vec<Seen>) {
    loop {
        match w.next_blocking(Duration::from_secs(30)) {
            Some(WatchItem::Changes { revision, changes }) => {
                return (
                    revision,
                    changes
                        .into_iter()
                        .map(|c| (c.tree, c.key, c.value))
                        .collect(),
                );
            }
            Some(WatchItem::Progress { .. }) => continue,
            other => panic!("expected changes, got {other:?}"),
        }
    }
}

#[test]
fn guarded_transactions_reads_ranges_and_a_watch_that_survives_a_dead_member() {
    let mut c = EtcdCluster::start(3);
    let kv = connect(&c, "t1");
    let start = kv.revision().expect("revision");
    let mut w = kv.watch(start + 1);

    // A key read as absent, guarded by "still absent": commits once, then conflicts.
    let key = b"prod\x00\x00\x00\x00\x00\x00\x00\x01".as_slice();
    let absent = Guard {
        tree: "stack",
        key: key.to_vec(),
        mod_revision: 0,
    };
    let r1 = committed(
        kv.txn(
            std::slice::from_ref(&absent),
            &[put("stack", key, b"v1"), put("meta", b"n", b"1")],
        )
        .expect("txn"),
    );
    assert!(matches!(
        kv.txn(
            std::slice::from_ref(&absent),
            &[put("stack", key, b"other")]
        )
        .expect("txn"),
        Outcome::Conflict { .. }
    ));
    let (got, _) = kv.get("stack", key, None).expect("get");
    let got = got.expect("present");
    assert_eq!(got.value, b"v1");
    assert_eq!(got.mod_revision, r1);

    // A stale mod_revision guard conflicts and writes nothing; a fresh one commits.
    let r2 = committed(
        kv.txn(
            &[Guard {
                tree: "stack",
                key: key.to_vec(),
                mod_revision: r1,
            }],
            &[put("stack", key, b"v2")],
        )
        .expect("txn"),
    );
    let stale = kv
        .txn(
            &[Guard {
                tree: "stack",
                key: key.to_vec(),
                mod_revision: r1,
            }],
            &[put("stack", key, b"lost")],
        )
        .expect("txn");
    assert!(matches!(stale, Outcome::Conflict { .. }), "{stale:?}");
    assert_eq!(
        kv.get("stack", key, None).expect("get").0.expect("v").value,
        b"v2"
    );
    // Reads at an older revision see the older value.
    assert_eq!(
        kv.get("stack", key, Some(r1))
            .expect("get")
            .0
            .expect("v")
            .value,
        b"v1"
    );

    // Ranges: binary keys in byte order, reversed, limited, and bounded to the tree.
    for n in [3u64, 1, 2, 0x100] {
        committed(
            kv.txn(
                &[],
                &[put(
                    "releases",
                    &n.to_be_bytes(),
                    &n.to_string().into_bytes(),
                )],
            )
            .expect("txn"),
        );
    }
    committed(
        kv.txn(&[], &[put("releases_x", b"z", b"not in releases")])
            .expect("txn"),
    );
    let (all, more, _) = kv
        .range("releases", b"", None, false, 0, None)
        .expect("range");
    let nums: Vec<String> = all
        .iter()
        .map(|e| String::from_utf8_lossy(&e.value).into_owned())
        .collect();
    assert_eq!(nums, ["1", "2", "3", "256"]);
    assert!(!more);
    let (newest, more, _) = kv
        .range("releases", b"", None, true, 2, None)
        .expect("range");
    assert_eq!(
        newest.iter().map(|e| e.key.clone()).collect::<Vec<_>>(),
        [0x100u64.to_be_bytes().to_vec(), 3u64.to_be_bytes().to_vec()]
    );
    assert!(more);
    let (mid, _, _) = kv
        .range(
            "releases",
            &2u64.to_be_bytes(),
            Some(&3u64.to_be_bytes()),
            false,
            0,
            None,
        )
        .expect("range");
    assert_eq!(mid.len(), 1);

    // The watch saw each transaction once, whole, in commit order.
    let (rev, first) = next_changes(&mut w);
    assert_eq!(rev, r1);
    assert_eq!(
        first.len(),
        2,
        "both writes of one txn in one item: {first:?}"
    );
    assert_eq!(
        first[0],
        ("stack".to_string(), key.to_vec(), Some(b"v1".to_vec()))
    );
    let (rev, second) = next_changes(&mut w);
    assert_eq!(rev, r2);
    assert_eq!(second[0].2.as_deref(), Some(&b"v2"[..]));
    for _ in 0..5 {
        next_changes(&mut w);
    }

    // A member dies: reads, writes and the watch carry on; nothing is missed or repeated.
    // Each member in turn, so the one serving the watch is certainly among them.
    for victim in [0, 1, 2] {
        c.kill(victim);
        let r = committed(
            kv.txn(&[], &[put("meta", b"after-kill", &[victim as u8])])
                .expect("txn with a member down"),
        );
        let (rev, ch) = next_changes(&mut w);
        assert_eq!(
            (rev, ch[0].2.clone()),
            (r, Some(vec![victim as u8])),
            "{}",
            c.logs()
        );
        c.restart(victim);
    }

    // Delete events carry no value.
    committed(
        kv.txn(
            &[],
            &[Write::Delete {
                tree: "meta",
                key: b"n".to_vec(),
            }],
        )
        .expect("txn"),
    );
    let (_, ch) = next_changes(&mut w);
    assert_eq!(ch, [("meta".to_string(), b"n".to_vec(), None)]);

    // Which member answered.
    let info = kv.cluster_info().expect("status");
    assert!(
        ["m0", "m1", "m2"].contains(&info.member_name.as_str()),
        "{info:?}"
    );
    assert!(info.member_url.starts_with("http://127.0.0.1:"), "{info:?}");
    assert_eq!(info.members, 3);
}

#[test]
fn a_watch_from_a_compacted_revision_asks_for_a_resync_then_continues() {
    let c = EtcdCluster::start(1);
    let kv = connect(&c, "t2");
    let first = committed(kv.txn(&[], &[put("meta", b"a", b"1")]).expect("txn"));
    committed(kv.txn(&[], &[put("meta", b"a", b"2")]).expect("txn"));
    let compacted = c.compact();
    assert!(matches!(
        kv.get("meta", b"a", Some(first)),
        Err(EtcdError::Compacted)
    ));

    let mut w = kv.watch(first);
    match w.next_blocking(Duration::from_secs(30)) {
        Some(WatchItem::Resync { revision }) => assert!(revision >= compacted),
        other => panic!("expected a resync, got {other:?}"),
    }
    let r = committed(kv.txn(&[], &[put("meta", b"a", b"3")]).expect("txn"));
    let (rev, ch) = next_changes(&mut w);
    assert_eq!((rev, ch[0].2.as_deref()), (r, Some(&b"3"[..])));
}

#[test]
fn a_store_wide_guard_fails_after_any_write_under_the_prefix_only() {
    let c = EtcdCluster::start(1);
    let kv = connect(&c, "t6");
    let other = connect(&c, "t6x");
    let r1 = committed(kv.txn(&[], &[put("releases", b"a", b"1")]).expect("txn"));
    // Another prefix's write does not count.
    committed(other.txn(&[], &[put("releases", b"a", b"1")]).expect("txn"));
    let r2 = committed(
        kv.txn_since(&[], &[put("meta", b"x", b"1")], Some(r1))
            .expect("txn"),
    );
    // A write after r1 under the prefix: the guard "nothing written after r1" fails.
    match kv
        .txn_since(&[], &[put("meta", b"y", b"1")], Some(r1))
        .expect("txn")
    {
        Outcome::Conflict { .. } => {}
        o => panic!("expected a conflict, got {o:?}"),
    }
    assert!(kv.get("meta", b"y", None).expect("get").0.is_none());
    committed(
        kv.txn_since(&[], &[put("meta", b"y", b"1")], Some(r2))
            .expect("txn"),
    );
}

#[test]
fn an_unreachable_cluster_fails_within_the_timeout_naming_etcd() {
    // A port nobody listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port();
    let mut o = EtcdOptions::new(EtcdUrl::parse(&format!("etcd://127.0.0.1:{port}")).expect("url"));
    o.op_timeout = Duration::from_secs(2);
    let t = Instant::now();
    let e = EtcdKv::connect(o).err().expect("nothing listens there");
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "bounded: {:?}",
        t.elapsed()
    );
    let msg = e.to_string();
    assert!(
        msg.contains("etcd at 127.0.0.1:") && msg.contains("unreachable"),
        "{msg}"
    );

    // A cluster that goes away under a connected client: the txn fails, bounded, naming etcd.
    let mut c = EtcdCluster::start(1);
    let url = EtcdUrl::parse(&c.store_url("t3")).expect("url");
    let mut o = EtcdOptions::new(url);
    o.op_timeout = Duration::from_secs(2);
    let kv = EtcdKv::connect(o).expect("connect");
    c.stop_all();
    let e = kv
        .txn(&[], &[put("meta", b"x", b"1")])
        .expect_err("no etcd");
    assert!(e.to_string().contains("etcd at "), "{e}");
    // ... and recovers by itself when etcd is back.
    c.start_all();
    let ok = rel_testkit::wait_until(Duration::from_secs(30), || {
        kv.txn(&[], &[put("meta", b"x", b"2")]).is_ok()
    });
    assert!(
        ok,
        "the client did not recover after etcd came back\n{}",
        c.logs()
    );
}

#[test]
fn tls_with_a_client_certificate_and_password_auth() {
    let mut c = EtcdCluster::start_tls(1);
    let tls = c.tls().expect("tls").clone();
    let url = EtcdUrl::parse(&c.store_url("t4")).expect("url");

    // Without a client certificate the cluster refuses the connection.
    let mut o = EtcdOptions::new(url.clone());
    o.tls.cacert = Some(tls.ca.clone());
    o.op_timeout = Duration::from_secs(3);
    assert!(
        EtcdKv::connect(o).is_err(),
        "a client without a certificate must be refused"
    );

    let password_file = c.enable_auth("pw-123");
    let mut o = EtcdOptions::new(url);
    o.tls.cacert = Some(tls.ca.clone());
    o.tls.cert = Some(tls.client_cert.clone());
    o.tls.key = Some(tls.client_key.clone());
    o.user = Some("root".into());
    o.password_file = Some(password_file.clone());
    let kv = EtcdKv::connect(o.clone())
        .unwrap_or_else(|e| panic!("connect over TLS: {e}\n{}", c.logs()));
    committed(
        kv.txn(&[], &[put("meta", b"k", b"v")])
            .expect("txn over TLS"),
    );
    assert!(
        kv.cluster_info()
            .expect("status")
            .member_url
            .starts_with("https://")
    );

    // A wrong password is refused with a hint at the flags.
    std::fs::write(&password_file, "wrong\n").expect("write");
    let e = EtcdKv::connect(o)
        .err()
        .expect("wrong password")
        .to_string();
    assert!(e.contains("--etcd-password-file"), "{e}");
}

#[test]
fn a_follower_delivers_every_record_once_in_order_across_a_backlog_and_a_compaction() {
    use rel_store::etcd::Follower;
    let c = EtcdCluster::start(1);
    let kv = connect(&c, "t5");
    let event = |seq: u64| {
        vec![
            put("events", &seq.to_be_bytes(), format!("e{seq}").as_bytes()),
            put("meta", b"last_event", &seq.to_be_bytes()),
        ]
    };
    let before = kv.revision().expect("revision");
    for seq in 1..=3 {
        committed(kv.txn(&[], &event(seq)).expect("txn"));
    }
    // Started after record 1: records 2 and 3 are the backlog, then live ones follow.
    let mut f = Follower::start(&kv, "events", 1).expect("follow");
    let mut got = f.next_blocking(Duration::from_secs(10)).expect("next");
    for seq in 4..=6 {
        committed(kv.txn(&[], &event(seq)).expect("txn"));
    }
    while got.len() < 5 {
        let more = f.next_blocking(Duration::from_secs(30)).expect("next");
        assert!(!more.is_empty(), "stalled after {got:?}");
        got.extend(more);
    }
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [2, 3, 4, 5, 6]);
    assert_eq!(got[0].1, b"e2");

    // A follower whose revision was compacted away reads the gap from the tree.
    c.compact();
    let mut f = Follower::start_from(&kv, "events", 3, before);
    let got = f.next_blocking(Duration::from_secs(30)).expect("next");
    let seqs: Vec<u64> = got.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs, [4, 5, 6]);
    committed(kv.txn(&[], &event(7)).expect("txn"));
    let got = f.next_blocking(Duration::from_secs(30)).expect("next");
    assert_eq!(got.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [7]);
}
