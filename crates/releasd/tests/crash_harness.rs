//! A bounded run of the crash harness (`relbench crash`, see crates/rel-bench/src/crash.rs):
//! a real releasd under mixed load, SIGKILLed while clients read and write, restarted and
//! checked each round — every acknowledged change and every deployment id a client saw is
//! there afterwards, no id is handed out twice, nothing is half-applied, the audit verifies.
//! The full run (>= 100 rounds) is in docs/RELIABILITY.md.

use std::process::Command;

#[test]
fn reads_and_writes_survive_kill9_rounds() {
    // rel-testkit builds the daemon binaries; relbench lives in its own package.
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let built = Command::new(cargo)
        .current_dir(rel_testkit::workspace_root())
        .args(["build", "--bins", "-p", "rel-bench", "-p", "releasd"])
        .status()
        .expect("run cargo build");
    assert!(built.success(), "building relbench failed");
    let relbench = rel_testkit::target_dir().join("debug").join("relbench");
    let out = Command::new(&relbench)
        .args(["crash", "6"])
        .output()
        .expect("run relbench crash");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "crash harness failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("6 kill -9 rounds"), "{stdout}");
}
