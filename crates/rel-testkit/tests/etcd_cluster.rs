//! The etcd harness itself: a real 3-member cluster survives what the backend tests do to it.

use rel_testkit::etcd::EtcdCluster;

#[test]
fn three_members_survive_a_kill_a_full_stop_and_a_compaction() {
    let mut c = EtcdCluster::start(3);
    c.ctl(&["put", "k", "v1"]);

    // One member down: the other two are a quorum.
    c.kill(0);
    c.ctl(&["put", "k", "v2"]);
    c.restart(0);

    // Everything stopped and started again: the data is still there.
    c.stop_all();
    c.start_all();
    assert_eq!(c.ctl(&["get", "k", "--print-value-only"]).trim(), "v2");

    // Compaction: the old revision is gone, the current value is not.
    let rev = c.compact();
    let old = c
        .etcdctl()
        .args(["get", "k", "--rev", &(rev - 1).to_string()])
        .output()
        .expect("etcdctl");
    assert!(
        !old.status.success(),
        "a compacted revision must be refused"
    );
    assert!(
        String::from_utf8_lossy(&old.stderr).contains("compacted"),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
    assert_eq!(c.ctl(&["get", "k", "--print-value-only"]).trim(), "v2");
}

#[test]
fn a_tls_cluster_refuses_clients_without_a_certificate() {
    let c = EtcdCluster::start_tls(1);
    c.ctl(&["put", "k", "v"]);
    let tls = c.tls().expect("tls files");
    let out = std::process::Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg("--endpoints")
        .arg(format!("https://{}", c.endpoints()[0]))
        .arg("--cacert")
        .arg(&tls.ca)
        .args([
            "--dial-timeout",
            "2s",
            "--command-timeout",
            "3s",
            "get",
            "k",
        ])
        .output()
        .expect("etcdctl");
    assert!(
        !out.status.success(),
        "a client without a certificate must be refused"
    );
}
