//! Several load hosts against one server, for real: loadgen processes started with one
//! `--start-at`, their result files merged by `loadgen merge`, and the merge checked against
//! the hosts' own histograms and the server's own count. First on loopback; then, where this
//! runs as root with iproute2, with every host in its own network namespace, joined by a bridge
//! on 192.0.2.0/24 (a documentation range) inside namespaces this test creates and deletes.
//! Durations here are hang guards and short windows, never assertions.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime};

use echo_report::{RunResult, decode_histogram, new_histogram, read_result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

/// Longest any one process here may take before the test calls it hung.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// How far ahead the common start is set: enough for every loadgen to start and connect on a
/// busy 2-core machine (they connect in milliseconds); the wait is spent idle.
const START_AHEAD: Duration = Duration::from_secs(4);

/// Clients per load host: few, so that the test is light; more than one, so that each host's
/// histogram merges several connections of its own first.
const CLIENTS: usize = 6;

fn loadgen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
}

/// Waits for `child` with the hang guard; kills it and fails if it overruns.
fn finish(mut child: Child) -> Output {
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

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A server started by `cmd`, stopped with SIGTERM (which makes it print its summary).
struct Server {
    child: Option<Child>,
    stdout: BufReader<ChildStdout>,
    /// Where it listens, as it said.
    addr: String,
}

impl Server {
    /// Starts the tokio target's server through `prefix` (empty, or `ip netns exec NS`), on `addr`.
    fn start(prefix: &[String], addr: &str) -> Server {
        let mut cmd = match prefix.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(env!("CARGO_BIN_EXE_loadgen"));
                c
            }
            None => loadgen(),
        };
        let mut child = cmd
            .args(["server", "tokio", "--addr", addr, "--threads", "1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("the server starts");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let addr = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("server said: {line:?}"))
            .trim()
            .to_owned();
        Server {
            child: Some(child),
            stdout,
            addr,
        }
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// Stops it; returns its summary.
    fn stop(mut self) -> serde_json::Value {
        let child = self.child.take().unwrap();
        kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
        let out = finish(child);
        assert!(out.status.success(), "the server stopped cleanly");
        let mut rest = String::new();
        std::io::Read::read_to_string(&mut self.stdout, &mut rest).unwrap();
        let summary = rest
            .lines()
            .rfind(|l| l.starts_with('{'))
            .expect("a summary");
        serde_json::from_str(summary).unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Runs one loadgen per entry of `hosts` (a command prefix each), all at once, against `addr`
/// with one `--start-at`; the first is given the server's pid. Returns their result files.
fn run_hosts(hosts: &[Vec<String>], addr: &str, server_pid: u32, dir: &Path) -> Vec<PathBuf> {
    let at = humantime::format_rfc3339_millis(SystemTime::now() + START_AHEAD).to_string();
    let children: Vec<(PathBuf, Child)> = hosts
        .iter()
        .enumerate()
        .map(|(i, prefix)| {
            let file = dir.join(format!("host{}.json", i + 1));
            let mut cmd = match prefix.split_first() {
                Some((program, rest)) => {
                    let mut c = Command::new(program);
                    c.args(rest).arg(env!("CARGO_BIN_EXE_loadgen"));
                    c
                }
                None => loadgen(),
            };
            cmd.args(["--addr", addr, "--clients", &CLIENTS.to_string()])
                .args(["--duration", "2s", "--warmup", "300ms", "--timeout", "2s"])
                .args(["--no-pin", "--start-at", &at, "--output"])
                .arg(&file)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            if i == 0 {
                cmd.args(["--server-pid", &server_pid.to_string()]);
            }
            (file, cmd.spawn().expect("loadgen starts"))
        })
        .collect();
    children
        .into_iter()
        .map(|(file, child)| {
            let out = finish(child);
            assert!(out.status.success(), "{}", text(&out.stderr));
            file
        })
        .collect()
}

/// `loadgen merge FILES --output DIR/merged.json`; returns the merged result and its stderr.
fn merge(files: &[PathBuf], dir: &Path) -> (RunResult, String, String) {
    let merged = dir.join("merged.json");
    let out = finish(
        loadgen()
            .arg("merge")
            .args(files)
            .arg("--output")
            .arg(&merged)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    (
        read_result(&merged).unwrap(),
        text(&out.stdout),
        text(&out.stderr),
    )
}

/// What every multi-host run must show: the merge is exact, and nothing was lost.
fn check_merge(files: &[PathBuf], merged: &RunResult, table: &str, server: &serde_json::Value) {
    let hosts: Vec<RunResult> = files.iter().map(|f| read_result(f).unwrap()).collect();
    let total = &merged.targets[0];
    let mut every = new_histogram();
    for h in &hosts {
        let t = &h.targets[0];
        assert!(!t.partial, "{t:?}");
        assert_eq!((t.connected, t.starved_clients), (CLIENTS, 0));
        assert_eq!(t.errors.total(), 0, "{:?}", t.errors);
        assert!(t.messages > 0 && t.wall_window.is_some());
        every.add(decode_histogram(&t.histogram).unwrap()).unwrap();
    }
    assert_eq!(
        total.messages,
        hosts.iter().map(|h| h.targets[0].messages).sum::<u64>(),
        "merged count is the sum"
    );
    assert_eq!(decode_histogram(&total.histogram).unwrap(), every);
    assert_eq!(total.latency_ns, echo_report::Latency::of(&every));
    assert_eq!(total.errors.total(), 0);
    assert_eq!(total.connected, CLIENTS * hosts.len());
    assert!(total.wall_window.is_some(), "the windows overlapped");
    assert!(total.server.is_some(), "the server's cost came from host 1");
    assert_eq!(merged.hosts.len(), hosts.len());
    for (i, h) in hosts.iter().enumerate() {
        assert_eq!(
            merged.hosts[i].result, *h,
            "each host's result is kept as it was"
        );
    }

    // The server saw every connection and closed each, and echoed at least every message the
    // hosts counted (and the warm-up's). (Its `errors` count the connections that loadgen
    // closed with a message in flight as the window ended: resets, by design.)
    let n = |k: &str| server[k].as_u64().unwrap();
    assert_eq!(n("accepted"), (CLIENTS * hosts.len()) as u64, "{server}");
    assert_eq!(n("closed"), n("accepted"), "{server}");
    assert!(n("bytes_echoed") >= total.messages * merged.config.msg_size as u64);

    // The table: a row per host, then the total.
    let rows: Vec<&str> = table.lines().skip(2).collect();
    for i in 1..=hosts.len() {
        assert!(rows[i - 1].contains(&format!("@ host{i} ")), "{table}");
    }
    assert!(
        rows[hosts.len()].contains(&format!("total of {} hosts", hosts.len())),
        "{table}"
    );
}

#[test]
fn hosts_started_at_one_time_merge_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&[], "127.0.0.1:0");
    let files = run_hosts(
        &[vec![], vec![], vec![]],
        &server.addr,
        server.pid(),
        dir.path(),
    );
    let summary = server.stop();
    let (merged, table, _) = merge(&files, dir.path());
    check_merge(&files, &merged, &table, &summary);
}

#[test]
fn windows_that_did_not_overlap_are_merged_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&[], "127.0.0.1:0");
    let addr = server.addr.clone();
    // One host after the other: their windows cannot overlap.
    let first = run_hosts(&[vec![]], &addr, server.pid(), dir.path());
    let later = dir.path().join("later");
    let second = run_hosts(&[vec![]], &addr, server.pid(), &later);
    server.stop();
    let (merged, _, stderr) = merge(&[first[0].clone(), second[0].clone()], dir.path());
    assert!(
        stderr.contains("warning") && stderr.contains("overlap for 0.0%"),
        "{stderr}"
    );
    let t = &merged.targets[0];
    assert_eq!(t.msgs_per_sec, 0.0, "no rate without an overlap");
    assert!(t.messages > 0);
}

#[test]
fn results_of_different_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&[], "127.0.0.1:0");
    let addr = server.addr.clone();
    let files = run_hosts(&[vec![]], &addr, server.pid(), dir.path());
    server.stop();
    let mut other: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&files[0]).unwrap()).unwrap();
    other["config"]["msg_size"] = 1024.into();
    other["machine"]["hostname"] = "elsewhere".into();
    let path = dir.path().join("other.json");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(other.to_string().as_bytes())
        .unwrap();
    let out = finish(
        loadgen()
            .arg("merge")
            .arg(&files[0])
            .arg(&path)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stderr = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("other.json") && stderr.contains("message size is 1024 bytes, not 64"),
        "{stderr}"
    );
}
