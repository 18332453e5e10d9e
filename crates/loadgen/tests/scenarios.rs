//! The scenarios as a user runs them (`--find-capacity`, `--rate-ramp`, `--connection-mode`):
//! the real binary, a real server, real sockets on 127.0.0.1, the result file read back. The
//! windows are short and durations are hang guards; what is asserted is what the search, the
//! schedule and the churn did, never how fast.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use echo_report::{RunResult, TargetResult, read_result};

use support::finish;

/// loadgen against tokio with 2 clients and short windows, its result in `dir/run.json`.
fn loadgen(dir: &Path, args: &[&str]) -> (Output, RunResult) {
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["--target", "tokio", "--clients", "2", "--timeout", "1s"])
        .args(["--duration", "300ms", "--warmup", "100ms"])
        .args(args)
        .arg("--output")
        .arg(dir.join("run.json"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadgen starts");
    let out = finish(child);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let result = read_result(&dir.join("run.json")).unwrap();
    (out, result)
}

fn the_target(r: &RunResult) -> &TargetResult {
    assert_eq!(r.targets.len(), 1);
    &r.targets[0]
}

#[test]
fn an_impossible_promise_is_searched_down_to_the_lowest_rate_and_every_step_kept() {
    let dir = tempfile::tempdir().unwrap();
    // No server answers within a nanosecond: every rate breaks the promise, halving from 400
    // to the search's floor of 100 msgs/s.
    let (out, r) = loadgen(
        dir.path(),
        &["--find-capacity", "--slo", "p99=1ns", "--rate", "400"],
    );
    let t = the_target(&r);
    let c = t.capacity.as_ref().expect("the search is in the result");
    assert_eq!((c.slo.as_str(), c.limit_ns), ("p99=1ns", 1));
    let asked: Vec<f64> = c.steps.iter().map(|s| s.asked).collect();
    assert_eq!(
        asked,
        [400.0, 400.0, 200.0, 200.0, 100.0, 100.0],
        "each broken rate confirmed by a second window, then halved"
    );
    assert!(c.steps.iter().all(|s| s.verdict != "kept"), "{:?}", c.steps);
    assert_eq!(
        (c.answer.as_str(), c.kept, c.broke),
        ("below", None, Some(100.0))
    );
    assert_eq!(
        t.open_loop.unwrap().target_rate,
        100.0,
        "the target's figures are the last step's"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("step 6: 100 msgs/s asked") && stderr.contains("below 100 msgs/s"),
        "each step and the answer are said: {stderr}"
    );
}

#[test]
fn a_ramp_records_the_rate_asked_beside_each_second() {
    let dir = tempfile::tempdir().unwrap();
    // Three steps of 100 ms: 200, 300 and 400 msgs/s, all inside the timeline's first second.
    let (_, r) = loadgen(dir.path(), &["--rate-ramp", "200..400/100ms"]);
    assert_eq!(r.config.rate_ramp.as_deref(), Some("200..400/100ms"));
    let t = the_target(&r);
    let asked = t.timeline[0]
        .asked_rate
        .expect("a ramp's timeline says what it asked");
    // The window runs a moment past its 300 ms, at the last step's rate.
    let w = t.window_ns as f64 / 1e9;
    let expected = (0.1 * 200.0 + 0.1 * 300.0 + (w - 0.2) * 400.0) / w;
    assert!(
        (asked - expected).abs() < 1e-6,
        "{asked} asked, {expected} expected"
    );
    assert!((t.open_loop.unwrap().target_rate - expected).abs() < 1e-6);
}

#[test]
fn a_ramp_is_what_the_clients_send_not_only_what_the_result_says() {
    let dir = tempfile::tempdir().unwrap();
    // Three steps of 100 ms at 10, 1000 and 1990 msgs/s: about 1000 asked over the window, a
    // hundred times the first step's rate.
    let (_, r) = loadgen(dir.path(), &["--rate-ramp", "10..1990/100ms"]);
    let t = the_target(&r);
    let open = t.open_loop.expect("a ramp is an open loop");
    // Clients that kept to the first step's rate send about FROM (a message or two more if
    // the warm-up's are sent late, in the window). Clients that follow the ramp send what is
    // due, late ones at once; a client thread starved of its CPU sends less (on a loaded
    // 2-CPU machine, 5% of what was asked was seen), but far above three times FROM.
    assert!(
        open.achieved_rate > 3.0 * 10.0,
        "sent {:.0} msgs/s where {:.0} were asked, starting from 10",
        open.achieved_rate,
        open.target_rate
    );
}

#[test]
fn churn_connects_for_every_message_and_counts_the_connections() {
    let dir = tempfile::tempdir().unwrap();
    let (_, r) = loadgen(dir.path(), &["--connection-mode", "per-message"]);
    assert_eq!(r.config.connection_mode.as_deref(), Some("per-message"));
    let t = the_target(&r);
    let churn = t.churn.as_ref().expect("churn figures");
    assert_eq!(t.errors.total(), 0, "{:?}", t.errors);
    assert!(churn.connections > 0);
    // One message per connection: a message counted in the window is a connection whose
    // connect began in it, give or take those that straddle its edges.
    assert!(t.messages.abs_diff(churn.connections) <= 2 * 2, "{t:?}");
    let accepted = t.server_summary.as_ref().unwrap().accepted;
    assert!(
        accepted >= churn.connections,
        "the server accepted every one of them"
    );
}
