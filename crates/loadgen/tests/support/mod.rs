//! What every test of the loadgen binary shares: a hang guard around each process it waits for,
//! and its output as text. Written once so that every test file reads as the behaviour it proves.

#![allow(dead_code)] // Each test file is its own crate and uses part of this.

use std::io::BufRead;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
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

/// loadgen with a short run and its results in `dir`.
pub fn loadgen(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.args(["--duration", "1s", "--warmup", "200ms", "--timeout", "1s"])
        .arg("--results-dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// `loadgen table`, its output captured.
pub fn loadgen_table() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.arg("table")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Runs `cmd` to its end, under the hang guard.
pub fn run(cmd: &mut Command) -> Output {
    finish(cmd.spawn().expect("loadgen starts"))
}

/// Reads `stderr` until a line contains `what`; returns everything read. Fails if it ends first.
pub fn read_until(stderr: &mut impl BufRead, what: &str) -> String {
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "loadgen ended before saying '{what}': {seen}"
        );
        seen.push_str(&line);
        if line.contains(what) {
            return seen;
        }
    }
}
