//! loadgen as a user runs it: the real binary, real servers, real sockets on 127.0.0.1.
//! Durations here are hang guards and short windows, never assertions.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use echo_report::{RunResult, read_result};
use serde_json::Value;

use support::{HANG_GUARD, finish, loadgen, loadgen_table, read_until, run, text};

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

/// The `.hgrm` file at `path` says the same as the JSON's `latency` (nanoseconds), in the
/// microseconds it is written in: its footer's maximum, its count, and its median row.
fn assert_hgrm_in_microseconds(path: &Path, latency: &echo_report::Latency) {
    let text = std::fs::read_to_string(path).unwrap();
    let footer = |key: &str| -> f64 {
        let at = text
            .find(key)
            .unwrap_or_else(|| panic!("no {key} in {text}"));
        let rest = text[at + key.len()..].trim_start_matches([' ', '=']);
        rest[..rest.find([',', ']']).unwrap()]
            .trim()
            .parse()
            .unwrap()
    };
    let max_us = footer("Max");
    assert_eq!(
        (max_us * 1000.0).round() as u64,
        latency.max,
        "the .hgrm's maximum is the JSON's, in microseconds: {text}"
    );
    assert_eq!(footer("Total count") as u64, latency.count);
    // The first row at or past the median is the JSON's median, give or take the histogram's
    // precision (the quantile iterator and a quantile look-up may round to neighbouring buckets).
    let median_us = text
        .lines()
        .filter_map(|l| {
            let mut cols = l.split_whitespace().map(|c| c.parse::<f64>());
            Some((cols.next()?.ok()?, cols.next()?.ok()?))
        })
        .find(|&(_, q)| q >= 0.5)
        .expect("percentile rows")
        .0;
    let ratio = median_us * 1000.0 / latency.p50 as f64;
    assert!((0.98..=1.02).contains(&ratio), "{ratio}: {text}");
}

#[test]
fn the_main_job_starts_a_server_drives_it_and_prints_a_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args(["--target", "tokio", "--clients", "20"]));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    let mut lines = stdout.lines();
    assert!(
        lines.next().unwrap().starts_with("Measured on "),
        "the machine heads the table: {stdout}"
    );
    assert!(lines.next().unwrap().starts_with("target"), "{stdout}");
    assert!(stdout.contains("tokio"), "{stdout}");

    let result = result_in(dir.path());
    let t = &result.targets[0];
    assert_eq!(
        (t.target.as_str(), t.connected, t.partial),
        ("tokio", 20, false)
    );
    assert!(t.messages > 0 && t.latency_ns.count == t.messages);
    assert_eq!(t.errors.total(), 0);
    assert_eq!(t.starved_clients, Some(0));
    let summary = t
        .server_summary
        .as_ref()
        .expect("the server's own summary is collected");
    assert_eq!(summary.accepted, 20);
    assert!(summary.bytes_echoed >= t.messages * 64);
    let h = echo_report::decode_histogram(&t.histogram).unwrap();
    assert_eq!(h.len(), t.messages);
    assert!(result.machine.cores >= 1 && !result.machine.kernel.is_empty());
    let hgrm: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "hgrm"))
        .collect();
    assert_eq!(hgrm.len(), 1, "one .hgrm per target");
    assert_hgrm_in_microseconds(&hgrm[0], &t.latency_ns);

    // `loadgen table` looks into subfolders and names each row's file.
    let json = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .unwrap();
    let deeper = dir.path().join("again/deeper");
    std::fs::create_dir_all(&deeper).unwrap();
    std::fs::copy(&json, deeper.join("copy.json")).unwrap();
    std::fs::write(deeper.join("notes.json"), "{}").unwrap();
    let out = run(loadgen_table().arg(dir.path()));
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("skipped") && text(&out.stderr).contains("notes.json"),
        "a JSON file that is no result is skipped, and said so: {}",
        text(&out.stderr)
    );
    let stem = json.file_stem().unwrap().to_string_lossy().into_owned();
    let rows: Vec<&str> = table.lines().skip(3).collect();
    assert_eq!(rows.len(), 2, "{table}");
    assert!(
        rows[0].starts_with(&format!("{stem} ")) && rows[0].contains(" tokio "),
        "{table}"
    );
    assert!(rows[1].starts_with("again/deeper/copy "), "{table}");
    assert!(
        table.lines().next().unwrap().contains("64B messages") && stem.ends_with("-m64B"),
        "sizes are written one way, in files and tables: {table}"
    );
}

#[test]
fn a_path_that_cannot_be_read_is_one_clear_error() {
    let out = run(loadgen_table().arg("/no/such/results"));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.matches("/no/such/results").count(), 1, "{stderr}");
    assert_eq!(
        stderr.to_lowercase().matches("no such file").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let binary = dir.path().join("binary.json");
    std::fs::write(&binary, [0xff, 0xfe, 0x00]).unwrap();
    let out = run(loadgen_table().arg(&binary));
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a file that is no result is refused: {stderr}"
    );
    assert_eq!(
        stderr.matches("valid UTF-8").count(),
        1,
        "said once: {stderr}"
    );
}

#[test]
fn subcommands_have_help_and_the_server_gets_its_arguments_unchanged() {
    let out = run(loadgen_table().arg("--help"));
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("Usage: loadgen table"),
        "{}",
        text(&out.stdout)
    );
    let out = run(Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["server", "tokio", "--help"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert!(out.status.success());
    assert!(
        text(&out.stdout).contains("Usage: echo-tokio"),
        "the server's own help: {}",
        text(&out.stdout)
    );
    let out = run(Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["server", "--help"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()));
    assert!(
        text(&out.stderr).contains("usage: echo-server TARGET"),
        "even a first --help goes to the server: {}",
        text(&out.stderr)
    );
    let out = run(Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("--help")
        .stdout(Stdio::piped()));
    let help = text(&out.stdout);
    assert!(out.status.success());
    assert!(!help.contains("\n  server "), "`server` is hidden: {help}");
    for status in [
        "0 ok",
        "1 the run failed",
        "2 refused",
        "3 an echo",
        "130 interrupted",
    ] {
        assert!(help.contains(status), "{status}: {help}");
    }
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
    assert_eq!(t.starved_clients, Some(999));
    // How many of the 999 waiting clients have timed out by the window's end depends on the
    // machine's speed; what holds anywhere is that waiting is all that went wrong.
    assert_eq!(
        t.errors.total(),
        t.errors.timeout,
        "a client waiting in the accept queue can only time out: {:?}",
        t.errors
    );
    assert!(t.errors.timeout <= 999, "the served client never times out");
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
    assert_eq!(out.status.code(), Some(1), "the run failed: {seen}{rest}");
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
    assert_eq!(out.status.code(), Some(2));
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
fn every_refused_command_line_exits_2_whoever_refuses_it() {
    let dir = tempfile::tempdir().unwrap();
    for (args, says) in [
        (&["--target", "nginx"][..], "unknown target 'nginx'"),
        (&["--target", "tokio", "--msg-size", "lots"], "--msg-size"),
        (&["--target", "tokio", "--bogus"], "--bogus"),
        (&["--target", "tokio", "--server-pid", "1"], "--server-pid"),
        (&[], "--target NAME"),
    ] {
        let out = run(loadgen(dir.path()).args(args));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn a_results_folder_that_cannot_be_written_is_refused_before_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    let target = file.join("results");
    for flag in ["--results-dir", "--output"] {
        let path = if flag == "--output" {
            target.join("run.json")
        } else {
            target.clone()
        };
        let out = run(loadgen(dir.path())
            .args(["--target", "tokio", "--clients", "2", flag])
            .arg(&path));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{flag}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "cannot write result files to {}",
                target.display()
            )),
            "{flag}: {stderr}"
        );
        assert!(!stderr.contains("server pid"), "nothing started: {stderr}");
    }
}

#[test]
fn a_server_that_never_answers_measured_nothing_and_fails_the_run() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // Accepts, then holds every connection open without a word.
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(2).collect();
        std::thread::sleep(HANG_GUARD);
        drop(held);
    });
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args([
        "--addr",
        &addr.to_string(),
        "--clients",
        "2",
        "--timeout",
        "10s",
    ]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("nothing was measured") && stderr.contains("2 of 2 "),
        "{stderr}"
    );
    drop(holder);
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

/// The pid in a `[target] server pid N listening on ...` line.
fn server_pid(lines: &str) -> i32 {
    let rest = lines.rsplit("server pid ").next().unwrap();
    rest.split_whitespace().next().unwrap().parse().unwrap()
}

/// True once `pid` has exited (gone, or a zombie waiting for whoever adopted it).
fn has_exited(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[test]
fn a_killed_loadgen_keeps_its_finished_targets_and_takes_its_server_with_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = loadgen(dir.path())
        .args(["--target", "tokio,smol", "--clients", "5"])
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let first = read_until(&mut stderr, "server pid");
    assert!(first.contains("[tokio]"), "{first}");
    let second = read_until(&mut stderr, "[smol] server pid");
    let server = server_pid(&second);
    read_until(&mut stderr, "measuring");

    child.kill().unwrap(); // SIGKILL: loadgen gets no chance to clean up
    child.wait().unwrap();

    // The server is told by the kernel (SIGTERM) and shuts down within its 5 s grace period.
    let deadline = Instant::now() + Duration::from_secs(30);
    while !has_exited(server) {
        assert!(
            Instant::now() < deadline,
            "the smol server (pid {server}) outlived its loadgen"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let run = result_in(dir.path());
    assert!(
        run.partial,
        "written before the run ended, so marked partial"
    );
    assert_eq!(run.targets.len(), 1, "tokio's result was kept");
    assert_eq!(run.targets[0].target, "tokio");
    assert!(!run.targets[0].partial && run.targets[0].messages > 0);
}

/// `loadgen status`: what a resumed sweep keeps and what it measures again, without the charts.
#[test]
fn status_says_done_missing_or_redo_and_why() {
    let point = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/tests/fixtures/results/sweep/64B-100c.json");
    let status = |file: &Path, flags: &[&str]| {
        let out = run(Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .arg("status")
            .arg(file)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()));
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let done = status(&point, &["--target", "threads,tokio", "--duration", "5s"]);
    assert!(done.starts_with("done: threads "), "{done}");
    assert_eq!(
        status(&point, &["--duration", "10s"]),
        "redo: it was measured with --duration 5.00s, not 10.00s\n"
    );
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(status(&dir.path().join("none.json"), &[]), "missing\n");
}
