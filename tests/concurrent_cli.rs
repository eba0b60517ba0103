//! Several shells racing the same compare-and-swap: `relctl deploy … --expect v1` from N
//! processes at once. Exactly one wins (exit 0); every other one gets exit 3 and changed
//! nothing; the history records exactly the winner.

mod common;

use std::process::Stdio;

use common::*;
use rel_testkit::TestDaemon;

#[test]
fn one_expect_winner_the_rest_exit_3() {
    let d = TestDaemon::start();
    const N: u32 = 6;
    release(&d, "v1", 1);
    for i in 0..N {
        let file = write(&d, &format!("racer-{i}.toml"), &config(100 + i));
        ok(
            &d,
            &[
                "release",
                "create",
                &format!("racer-{i}"),
                "--from",
                p(&file),
            ],
        );
    }
    ok(&d, &["deploy", "v1", "--env", "staging"]);

    let children: Vec<_> = (0..N)
        .map(|i| {
            d.relctl()
                .args([
                    "deploy",
                    &format!("racer-{i}"),
                    "--env",
                    "staging",
                    "--expect",
                    "v1",
                    "-o",
                    "json",
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn relctl")
        })
        .collect();
    let mut winners = Vec::new();
    for (i, child) in children.into_iter().enumerate() {
        let out = child.wait_with_output().expect("wait relctl");
        match out.status.code() {
            Some(0) => winners.push(format!("racer-{i}")),
            Some(3) => {
                let err: serde_json::Value =
                    serde_json::from_slice(&out.stderr).expect("JSON error");
                assert_eq!(err["error"]["code"], "conflict", "{err}");
            }
            other => panic!(
                "racer-{i}: exit {other:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }
    assert_eq!(winners.len(), 1, "exactly one winner: {winners:?}");
    assert_eq!(live(&d, "staging"), winners[0].as_str());
    let hist = json(&d, &["env", "history", "staging"]);
    let releases: Vec<&str> = hist
        .as_array()
        .expect("array")
        .iter()
        .filter_map(|h| h["release"].as_str())
        .collect();
    assert_eq!(
        releases,
        [winners[0].as_str(), "v1"],
        "history holds the winner and nothing else"
    );
}
