//! What every test of the loadgen binary shares: a hang guard around each process it waits for,
//! and its output as text. Written once so that every test file reads as the behaviour it proves.

#![allow(dead_code)] // Each test file is its own crate and uses part of this.

use std::process::{Child, Output};
use std::time::{Duration, Instant};

/// Longer than any test's run takes on a loaded machine; only a hang reaches it.
pub const HANG_GUARD: Duration = Duration::from_secs(120);

/// Waits for `child` with the hang guard; kills it and fails if it overruns.
pub fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > HANG_GUARD {
            child.kill().unwrap();
            panic!("a process hung: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Output bytes as text, for messages and matching.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
