//! The skip rule as a test run shows it: this test binary runs its own `probe` test in a child
//! process, as `cargo test` would, and reads what the terminal gets and how the run ends.

use std::process::{Command, Output};

/// Set only in the child: makes `probe` skip.
const PROBE: &str = "ECHO_TESTKIT_PROBE";

#[test]
fn probe() {
    if std::env::var_os(PROBE).is_some() {
        echo_testkit::skip(&echo_testkit::current_test(), "a probe's reason");
    }
}

/// Runs `probe` alone in a child, captured as the harness captures it, with `REQUIRE_ALL` at `require_all`.
fn run_probe(require_all: &str) -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "probe", "--test-threads", "1"])
        .env(PROBE, "1")
        .env(echo_testkit::REQUIRE_ALL, require_all)
        .output()
        .expect("the test binary runs")
}

#[test]
fn a_skip_reaches_the_terminal_past_the_capture() {
    let out = run_probe("0");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("SKIPPED probe: a probe's reason"),
        "the skip is said, with the test's name: {stderr}"
    );
}

#[test]
fn a_skip_fails_when_every_test_must_run() {
    let out = run_probe("1");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        stdout.contains("probe cannot run here and ECHO_BENCH_REQUIRE_ALL=1: a probe's reason"),
        "{stdout}"
    );
}
