//! The one rule for a test this machine cannot run (a missing tool, interpreter or privilege):
//! by hand it is skipped *visibly*, with a line that reaches the terminal past the test
//! harness's capture; where every test must run (CI sets [`REQUIRE_ALL`]`=1`), it fails instead,
//! so that a test never counts as passed without having run.
//!
//! Used by every test that can skip: the conformance suite (a Python target without its virtual
//! environment), the network-namespace and ssh tests of several load hosts (not root, no `ip`,
//! no `sshd`). Dev-dependency only.

use std::io::Write;

/// Set to 1 (as CI does) to fail, rather than skip, a test this machine cannot run.
pub const REQUIRE_ALL: &str = "ECHO_BENCH_REQUIRE_ALL";

/// Whether every test must run here ([`REQUIRE_ALL`] is `1`).
pub fn require_all() -> bool {
    std::env::var_os(REQUIRE_ALL).is_some_and(|v| v == "1")
}

/// Skips `what` (a test, or a group of tests) because of `why`, under the rule above: panics
/// under [`REQUIRE_ALL`]`=1`; otherwise writes `SKIPPED what: why` to the terminal and returns,
/// for the caller to return from the test.
///
/// The line goes to the process's standard error directly: the harness captures only what the
/// `print!` family writes, and would show a passed test's output to no one.
pub fn skip(what: &str, why: &str) {
    if require_all() {
        panic!("{what} cannot run here and {REQUIRE_ALL}=1: {why}");
    }
    let line = format!("SKIPPED {what}: {why} (with {REQUIRE_ALL}=1 this fails)\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

/// The name of the running test, as the harness knows it (`module::test`): the harness runs
/// each test on a thread of that name. For messages only.
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("this test")
        .to_owned()
}
