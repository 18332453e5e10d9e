//! loadgen as a user runs it: the real binary, real servers, real sockets on 127.0.0.1.
//! Durations here are hang guards and short windows, never assertions.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use echo_report::{RunResult, read_result};
use serde_json::Value;

/// Longest any one loadgen invocation here may take before the test calls it hung.
const HANG_GUARD: Duration = Duration::from_secs(90);

/// loadgen with a short run and its results in `dir`.
fn loadgen(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
    cmd.args(["--duration", "1s", "--warmup", "200ms", "--timeout", "1s"])
        .arg("--results-dir")
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Waits for `child` with the hang guard; kills it and fails if it overruns.
fn finish(mut child: Child) -> Output {
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > HANG_GUARD {
            child.kill().unwrap();
            panic!("loadgen hung: {:?}", child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn run(cmd: &mut Command) -> Output {
    finish(cmd.spawn().expect("loadgen starts"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The one result file a run wrote into `dir`.
fn result_in(dir: &Path) -> RunResult {
    let files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    assert_eq!(files.len(), 1, "one result file: {files:?}");
    read_result(&files[0]).unwrap()
}

#[test]
fn the_main_job_starts_a_server_drives_it_and_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args(["--target", "tokio", "--clients", "20"]));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stdout.lines().next().unwrap().starts_with("target"),
        "{stdout}"
    );
    assert!(stdout.contains("tokio"), "{stdout}");

    let result = result_in(dir.path());
    let t = &result.targets[0];
    assert_eq!(
        (t.target.as_str(), t.connected, t.partial),
        ("tokio", 20, false)
    );
    assert!(t.messages > 0 && t.latency_ns.count == t.messages);
    assert_eq!(t.errors.total(), 0);
    assert_eq!(t.starved_clients, 0);
    let summary = t
        .server_summary
        .as_ref()
        .expect("the server's own summary is collected");
    assert_eq!(summary.accepted, 20);
    assert!(summary.bytes_echoed >= t.messages * 64);
    let h = echo_report::decode_histogram(&t.histogram).unwrap();
    assert_eq!(h.len(), t.messages);
    assert!(result.machine.cores >= 1 && !result.machine.kernel.is_empty());
    let hgrm = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "hgrm")
        })
        .count();
    assert_eq!(hgrm, 1, "one .hgrm per target");

    let out = run(Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("table")
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        table
            .lines()
            .nth(2)
            .is_some_and(|row| row.starts_with("tokio ") && row.contains(" none ")),
        "{table}"
    );
}

#[test]
fn json_output_is_only_json_with_the_stable_names() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(loadgen(dir.path()).args(["--target", "smol,threads", "--clients", "5", "--json"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: Value =
        serde_json::from_slice(&out.stdout).expect("stdout is exactly one JSON document");
    let targets = v["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 2);
    for t in targets {
        assert!(t["target"].is_string() && t["msgs_per_sec"].is_f64() && t["partial"].is_boolean());
        for p in ["p50", "p90", "p99", "p999", "max"] {
            assert!(t["latency_ns"][p].is_u64(), "latency_ns.{p}");
        }
        for e in ["refused", "reset", "eof", "timeout", "corrupt"] {
            assert!(t["errors"][e].is_u64(), "errors.{e}");
        }
        assert!(t["starved_clients"].is_u64());
    }
}

#[test]
fn the_blocking_server_starves_all_but_one_client_and_the_run_still_ends() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args([
        "--target",
        "blocking",
        "--clients",
        "1000",
        "--timeout",
        "500ms",
        "--warmup",
        "0s",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let t = &result_in(dir.path()).targets[0];
    assert_eq!(
        t.connected, 1000,
        "the kernel's backlog accepts every connection"
    );
    assert_eq!(t.starved_clients, 999);
    assert_eq!(t.errors.timeout, 999);
    assert!(t.messages > 0, "the one client being served is measured");
}

#[test]
fn a_server_killed_mid_run_is_reported_and_the_results_kept() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = loadgen(dir.path())
        .args(["--target", "tokio", "--clients", "10", "--duration", "30s"])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let pid = loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "loadgen ended before starting its server: {seen}"
        );
        seen.push_str(&line);
        if let Some(rest) = line.split("server pid ").nth(1) {
            break rest
                .split_whitespace()
                .next()
                .unwrap()
                .parse::<i32>()
                .unwrap();
        }
    };
    loop {
        let mut line = String::new();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "{seen}");
        seen.push_str(&line);
        if line.contains("measuring") {
            break;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(1), "{seen}{rest}");
    assert!(rest.contains("the server exited during the run"), "{rest}");
    let t = &result_in(dir.path()).targets[0];
    assert!(t.partial);
    assert!(
        t.errors.total() > 0,
        "the clients saw the server go: {:?}",
        t.errors
    );
}

#[test]
fn a_refused_connection_is_a_clear_error() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(loadgen(dir.path()).args(["--addr", &format!("127.0.0.1:{port}"), "--clients", "3"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("no client could connect") && stderr.contains("3 refused"),
        "{stderr}"
    );
    assert!(
        std::fs::read_dir(dir.path()).map_or(true, |mut d| d.next().is_none()),
        "nothing measured, nothing written"
    );
}

#[test]
fn impossible_clients_are_refused_before_anything_starts() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args(["--target", "tokio", "--clients", "1000000"]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr.contains("file descriptors") && stderr.contains("ulimit -Hn"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("server pid"),
        "no server was started: {stderr}"
    );
}

#[test]
fn bad_flags_get_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args(["--target", "nginx"]));
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unknown target 'nginx'"));
    let out = run(loadgen(dir.path()).args(["--target", "tokio", "--msg-size", "lots"]));
    assert_eq!(out.status.code(), Some(2), "clap's usage error");
    assert!(text(&out.stderr).contains("--msg-size"));
}

/// An echo server that flips one bit of the 100th byte it echoes on each connection.
fn corrupting_server() -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16) {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                let mut echoed = 0usize;
                let _ = stream.set_read_timeout(Some(HANG_GUARD));
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    if (echoed..echoed + n).contains(&100) {
                        buf[100 - echoed] ^= 1;
                    }
                    echoed += n;
                    if stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn a_corrupt_echo_is_caught_and_fails_the_run() {
    let addr = corrupting_server();
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args([
        "--addr",
        &addr.to_string(),
        "--clients",
        "2",
        "--json",
        "--warmup",
        "0s",
    ]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("CORRUPT ECHO") && stderr.contains("byte 36 of message 1"),
        "{stderr}"
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["targets"][0]["errors"]["corrupt"], 2);
}

#[test]
fn ctrl_c_stops_the_run_and_still_writes_partial_results() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = loadgen(dir.path())
        .args([
            "--target",
            "tokio-current",
            "--clients",
            "5",
            "--duration",
            "60s",
        ])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut pid = None;
    loop {
        let mut line = String::new();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "loadgen ended early"
        );
        if let Some(rest) = line.split("server pid ").nth(1) {
            pid = rest
                .split_whitespace()
                .next()
                .map(|p| p.parse::<i32>().unwrap());
        }
        if line.contains("measuring") {
            break;
        }
    }
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = finish(child);
    assert_eq!(out.status.code(), Some(130));
    let run = result_in(dir.path());
    assert!(run.partial && run.targets[0].partial);
    assert!(
        run.targets[0].server_summary.is_some(),
        "the server was shut down cleanly"
    );
    let server = pid.expect("the server's pid was printed");
    assert!(
        !Path::new(&format!("/proc/{server}")).exists(),
        "the server process is gone"
    );
}

#[test]
fn the_open_loop_reports_corrected_and_uncorrected_latency() {
    let dir = tempfile::tempdir().unwrap();
    let out =
        run(loadgen(dir.path()).args(["--target", "smol", "--clients", "4", "--rate", "400"]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("uncorrected p99"));
    let t = &result_in(dir.path()).targets[0];
    let open = t.open_loop.expect("open-loop figures");
    assert_eq!(open.target_rate, 400.0);
    assert!(open.achieved_rate > 0.0);
    let raw = t
        .latency_uncorrected_ns
        .expect("the uncorrected histogram is kept");
    assert_eq!(raw.count, t.latency_ns.count);
    assert!(
        t.latency_ns.max >= raw.max,
        "counting from the due time never shortens a latency"
    );
    assert_eq!(t.errors.total(), 0);
    let hgrm = std::fs::read_dir(dir.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with("-uncorrected.hgrm")
        })
        .count();
    assert_eq!(hgrm, 1);
}
