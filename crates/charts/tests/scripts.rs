//! The measuring scripts as a user runs them: scripts/sweep.sh, stopped with Ctrl-C and resumed,
//! with real loadgen runs (one target, tiny windows) into a temporary directory; what the
//! scripts share (scripts/lib.sh) run by bash as the scripts run it; and what each prints.
//!
//! Nothing here asserts a duration: every wait is on a condition (a file appearing, the process
//! exiting), bounded by [`HANG_GUARD`] only so that a broken script fails instead of hanging.

mod common;

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use echo_report::status::{Status, Wanted, status};
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// The longest a step may take before the test gives up: a guard against hangs, never a bound
/// on speed.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// The sweep the tests run: one target, three client counts, half-second windows.
const POINTS: [&str; 3] = ["1", "2", "3"];
const WINDOW: &str = "500ms";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The directory holding this build's `echo-charts`, with `loadgen` built beside it, fresh (the
/// scripts take both from `ECHO_BENCH_BIN` instead of building release binaries).
fn bin_dir() -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let charts = PathBuf::from(env!("CARGO_BIN_EXE_echo-charts"));
    let dir = charts.parent().unwrap().to_owned();
    BUILT.call_once(|| {
        let profile = dir.file_name().unwrap().to_string_lossy().into_owned();
        let profile = if profile == "debug" {
            "dev".into()
        } else {
            profile
        };
        let built = Command::new(env!("CARGO"))
            .args(["build", "--quiet", "-p", "loadgen", "--profile", &profile])
            // client-overhead.sh's and fidelity.sh's yardstick client, found in
            // ECHO_BENCH_BIN/examples/; and the server fidelity.sh's test pairs, with echo-server.
            .args(["--bins", "--example", "pingpong"])
            .args([
                "-p",
                "echo-targets",
                "-p",
                "echo-mio",
                "--example",
                "mio-minimal",
            ])
            .arg("--target-dir")
            .arg(dir.parent().unwrap())
            .current_dir(repo())
            .status()
            .expect("run cargo");
        assert!(built.success(), "cannot build loadgen for the script tests");
    });
    dir
}

/// `scripts/sweep.sh ARGS` over the test's points into `out`, in a process group of its own (as
/// a terminal runs a command), its output in files in `out`.
fn sweep(out: &Path, args: &[&str]) -> Child {
    let log = |name: &str| fs::File::create(out.join(name)).unwrap();
    // A test run from a background job (`cargo test &` in a script) inherits SIGINT ignored, and
    // bash cannot trap a signal ignored on entry: the script would run on through the test's
    // Ctrl-C. `env` gives it the default back, as a terminal's foreground job has it.
    Command::new("env")
        .args(["--default-signal=INT", "bash"])
        .arg(repo().join("scripts/sweep.sh"))
        // One run per point: a point's file then appears only once it is measured in full.
        .args([
            "--targets",
            "tokio",
            "--sizes",
            "64",
            "--repeat",
            "1",
            "--no-churn",
            "--out",
        ])
        .arg(out)
        .args(args)
        .env("ECHO_BENCH_BIN", bin_dir())
        .stdin(Stdio::null())
        .stdout(log("stdout.txt"))
        .stderr(log("stderr.txt"))
        .process_group(0)
        .spawn()
        .expect("start scripts/sweep.sh")
}

fn point(out: &Path, clients: &str) -> PathBuf {
    out.join(format!("tokio-c{clients}-m64.json"))
}

/// Whether the sweep started measuring the point: its log or its result file exists.
fn started(out: &Path, clients: &str) -> bool {
    point(out, clients).exists() || out.join(format!(".tokio-c{clients}-m64.log")).exists()
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + HANG_GUARD;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "{what}: not so after {HANG_GUARD:?}"
        );
        thread::sleep(Duration::from_millis(10));
    }
}

fn wait_for_exit(child: &mut Child) -> ExitStatus {
    let mut status = None;
    wait_until("the script exits", || {
        status = child.try_wait().unwrap();
        status.is_some()
    });
    status.unwrap()
}

fn output(out: &Path) -> (String, String) {
    let read = |name: &str| fs::read_to_string(out.join(name)).unwrap_or_default();
    (read("stdout.txt"), read("stderr.txt"))
}

fn as_swept(clients: usize, warmup: Duration) -> Wanted {
    Wanted {
        targets: vec!["tokio".into()],
        clients: Some(clients),
        msg_size: Some(64),
        duration: Some(Duration::from_millis(500)),
        warmup: Some(warmup),
        ..Wanted::default()
    }
}

/// What one Ctrl-C into a sweep left behind.
struct Interrupted {
    exit: ExitStatus,
    /// Points begun once Ctrl-C came, and in the end.
    begun: usize,
    after: usize,
    stdout: String,
    stderr: String,
}

/// Runs the sweep over [`POINTS`] into `out` and sends Ctrl-C to its process group once the
/// first point is measured.
fn interrupt_sweep(out: &Path) -> Interrupted {
    let clients = POINTS.join(" ");
    let args = [
        "--clients",
        &clients,
        "--duration",
        WINDOW,
        "--warmup",
        "0s",
    ];
    let mut script = sweep(out, &args);
    let guard = KillOnDrop(script.id());
    wait_until("the first point is measured", || {
        point(out, POINTS[0]).exists()
    });
    killpg(Pid::from_raw(script.id() as i32), Signal::SIGINT).unwrap();
    // Which points had started once Ctrl-C came: at most one more may start (the script may
    // have been between two points, about to start the next).
    let begun = POINTS.iter().filter(|c| started(out, c)).count();
    let exit = wait_for_exit(&mut script);
    drop(guard);
    let after = POINTS.iter().filter(|c| started(out, c)).count();
    let (stdout, stderr) = output(out);
    Interrupted {
        exit,
        begun,
        after,
        stdout,
        stderr,
    }
}

/// bash 5.2's own failure: a SIGINT that lands while bash is expanding a command substitution
/// can make it parse the INT trap with the substitution's parser state ("interrupt trap: line 2:
/// unexpected EOF while looking for matching `)'"), so the trap never runs and the script ends
/// with status 2. No script can guard against it; the test tries again rather than pass it.
fn bash_lost_the_trap(run: &Interrupted) -> bool {
    run.exit.code() == Some(2) && run.stderr.contains("interrupt trap: ")
}

#[test]
fn ctrl_c_stops_the_sweep_keeps_what_was_measured_and_it_resumes() {
    let mut dir = tempfile::tempdir().unwrap();
    let mut run = interrupt_sweep(dir.path());
    for _ in 0..2 {
        if !bash_lost_the_trap(&run) {
            break;
        }
        eprintln!(
            "bash lost the INT trap (a bash 5.2 bug); Ctrl-C again:\n{}",
            run.stderr
        );
        dir = tempfile::tempdir().unwrap();
        run = interrupt_sweep(dir.path());
    }
    let out = dir.path();
    let Interrupted {
        exit,
        begun,
        after,
        stdout,
        stderr,
    } = run;
    assert_eq!(exit.code(), Some(130), "{stdout}\n{stderr}");
    assert!(
        after <= begun + 1,
        "the sweep went on after Ctrl-C ({begun} points begun by then, {after} in the end):\n{stdout}"
    );
    assert!(
        stderr.contains("interrupted") && stderr.contains("run the same command again"),
        "{stderr}"
    );
    assert!(
        matches!(
            status(&point(out, "1"), &as_swept(1, Duration::ZERO)),
            Status::Done(_)
        ),
        "the point measured before Ctrl-C is kept"
    );

    // Resumed with the same settings: the point measured is kept, not measured again.
    let mut resumed = sweep(
        out,
        &["--clients", "1", "--duration", WINDOW, "--warmup", "0s"],
    );
    let exit = wait_for_exit(&mut resumed);
    let (stdout, stderr) = output(out);
    assert!(exit.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("0 to measure, 1 already done"), "{stdout}");
    let report = fs::read_to_string(out.join("report.html")).expect("the sweep writes its report");
    assert!(report.contains("<svg"), "the report holds the charts");
    assert!(
        stdout.contains("skipped (already measured: tokio "),
        "{stdout}"
    );

    // With another warm-up, it is measured again, and the script says why.
    let mut other = sweep(
        out,
        &["--clients", "1", "--duration", WINDOW, "--warmup", "100ms"],
    );
    let exit = wait_for_exit(&mut other);
    let (stdout, stderr) = output(out);
    assert!(exit.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("measuring again: it was measured with --warmup 0ns, not 100.00ms"),
        "{stdout}"
    );
    assert!(matches!(
        status(&point(out, "1"), &as_swept(1, Duration::from_millis(100))),
        Status::Done(_)
    ));
}

/// Kills the script's whole process group if the test fails before it exits.
struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if thread::panicking() {
            let _ = killpg(Pid::from_raw(self.0 as i32), Signal::SIGKILL);
        }
    }
}

#[test]
fn a_failed_point_gives_loadgen_s_own_reason() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let mut script = sweep(out, &["--clients", "0", "--duration", WINDOW]);
    let exit = wait_for_exit(&mut script);
    let (stdout, stderr) = output(out);
    assert_eq!(exit.code(), Some(1), "{stdout}\n{stderr}");
    let failed = stdout
        .lines()
        .find(|l| l.contains("FAILED: "))
        .unwrap_or_else(|| panic!("no FAILED line: {stdout}"));
    assert!(
        failed
            .to_lowercase()
            .contains("error: --clients must be at least 1"),
        "the reason is loadgen's own error line: {failed}"
    );
    assert!(stdout.contains("1 failed"), "{stdout}");
}

/// `bash -c SCRIPT` from the repository's root, with `scripts/lib.sh` sourced first and `ARGS`
/// as its positional parameters; its output. Sourcing installs nothing, so this runs the
/// functions the scripts run, as they run them.
fn with_lib(script: &str, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -euo pipefail; source scripts/lib.sh; {script}"
        ))
        .arg("lib")
        .args(args)
        .envs(env.iter().copied())
        .current_dir(repo())
        .stdin(Stdio::null())
        .output()
        .expect("run bash")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_resume_hint_is_a_command_one_can_paste() {
    let args = [
        "--targets",
        "tokio,threads",
        "--clients",
        "1 10",
        "--out",
        "it's here",
    ];
    let out = with_lib(
        r#"start_script sweep "$@"; trap - EXIT; echo "$invocation""#,
        &args,
        &[],
    );
    let hint = text(&out.stdout);
    assert_eq!(
        hint.trim_end(),
        r#"scripts/sweep.sh --targets tokio,threads --clients '1 10' --out 'it'\''s here'"#,
        "quoted only where a shell needs it: {}",
        text(&out.stderr)
    );
    // And a shell reads it back as the same words.
    let words = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "set -- {}; printf '%s\\n' \"$@\"",
            hint.trim_end().trim_start_matches("scripts/sweep.sh")
        ))
        .output()
        .unwrap();
    assert_eq!(text(&words.stdout).lines().collect::<Vec<_>>(), args);
}

#[test]
fn scripts_find_the_binaries_where_cargo_builds_them() {
    let elsewhere = tempfile::tempdir().unwrap();
    let dir = elsewhere.path().to_str().unwrap();
    let out = with_lib("release_dir", &[], &[("CARGO_TARGET_DIR", dir)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout).trim_end(), format!("{dir}/release"));
}

#[test]
fn a_sweep_that_cannot_start_its_binaries_stops_at_once_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let empty = tempfile::tempdir().unwrap();
    let out = Command::new("bash")
        .arg(repo().join("scripts/sweep.sh"))
        .args([
            "--targets",
            "tokio",
            "--clients",
            "1 2 3",
            "--sizes",
            "64",
            "--no-churn",
        ])
        .arg("--out")
        .arg(dir.path())
        .env("ECHO_BENCH_BIN", empty.path())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(!stdout.contains("FAILED"), "no point was tried: {stdout}");
    let said: Vec<&str> = stderr.lines().collect();
    assert_eq!(said.len(), 1, "{stderr}");
    assert!(
        said[0].starts_with("sweep: no executable ") && said[0].contains("loadgen"),
        "{stderr}"
    );
}

#[test]
fn progress_says_the_time_left_from_the_pace_so_far() {
    // 2 of 5 done in 40 s: 20 s each, 3 to go.
    let out = with_lib(r#"progress 2 5 $((SECONDS - 40))"#, &[], &[]);
    assert_eq!(text(&out.stdout), "2/5, 40 s elapsed, about 60 s left");
    let out = with_lib(r#"progress 0 5 $SECONDS"#, &[], &[]);
    assert_eq!(
        text(&out.stdout),
        "0/5, 0 s elapsed",
        "no pace, no estimate"
    );
    let out = with_lib(r#"progress 3 4 $((SECONDS - 600))"#, &[], &[]);
    assert_eq!(text(&out.stdout), "3/4, 10 min elapsed, about 3 min left");
}

#[test]
fn ratio_ci_gives_the_median_its_90_percent_interval_and_its_side_of_the_line() {
    let ci = |ratios: &[&str], line: &str| {
        let out = with_lib(
            r#"line=$1; shift; printf '%s\n' "$@" | ratio_ci "$line""#,
            &[&[line], ratios].concat(),
            &[],
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    // 7 rounds, unsorted: the interval is min-max (the 2nd to 6th would cover only 87.5%).
    let seven = ["0.91", "0.99", "0.93", "1.02", "0.96", "0.97", "0.94"];
    assert_eq!(ci(&seven, "0.95"), "0.96 [0.91-1.02] crosses 0.9600\n");
    // 9 rounds: 2nd to 8th (96%; the 3rd to 7th would cover 82%); wholly below the line.
    let nine = [
        "0.80", "0.90", "0.91", "0.92", "0.93", "0.93", "0.94", "0.95", "0.97",
    ];
    assert_eq!(ci(&nine, "0.96"), "0.93 [0.90-0.95] below 0.9300\n");
    // 11 rounds: 3rd to 9th; wholly above the line.
    let eleven = [
        "1.20", "0.80", "0.90", "0.95", "0.96", "0.97", "0.98", "0.99", "1.00", "1.01", "1.05",
    ];
    assert_eq!(ci(&eleven, "0.94"), "0.98 [0.95-1.01] above 0.9800\n");
    // 10 rounds (the same less 1.20): 2nd to 9th, the median the middle two's mean.
    assert_eq!(
        ci(&eleven[1..], "0.94"),
        "0.97 [0.90-1.01] crosses 0.9750\n"
    );
}

#[test]
fn charts_sh_help_says_how_to_use_it() {
    let out = Command::new("bash")
        .arg(repo().join("scripts/charts.sh"))
        .arg("--help")
        .current_dir(tempfile::tempdir().unwrap().path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("usage: scripts/charts.sh [RESULTS_DIR]"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn python_bench_tables_group_the_thousands_of_microseconds() {
    // A committed 10,000-client run, its median latency set to 2,113,929 µs.
    let reference = repo().join("results/reference/python/echo/c10000");
    let run = fs::read_dir(&reference)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("a committed 10,000-client run");
    let mut json: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run).unwrap()).unwrap();
    for t in json["targets"].as_array_mut().unwrap() {
        t["latency_ns"]["p50"] = 2_113_929_000u64.into();
    }
    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("echo/c10000");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("run0.json"), json.to_string()).unwrap();
    let printed = Command::new("bash")
        .arg(repo().join("scripts/python-bench.sh"))
        .args(["--tables", "echo", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&printed.stdout), text(&printed.stderr));
    assert!(printed.status.success(), "{stderr}");
    assert!(
        stdout.contains("| 2,113,929 [2,113,929–2,113,929] |"),
        "{stdout}"
    );
}

#[test]
fn client_overhead_sh_prints_its_progress_apart_from_its_tables() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        return echo_testkit::skip(
            &echo_testkit::current_test(),
            "client-overhead.sh pins the server to CPU 0 and the clients to CPU 1",
        );
    }
    // One tiny round; stdout and stderr into one pipe, as a terminal shows them.
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#""$0" "$@" 2>&1"#)
        .arg(repo().join("scripts/client-overhead.sh"))
        .args(["--rounds", "1", "--duration", "0.3", "--warmup", "0"])
        .args(["--clients", "1", "--sizes", "64", "--servers", "tokio"])
        .env("ECHO_BENCH_BIN", bin_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let both = text(&out.stdout);
    assert!(out.status.success(), "{both}");
    let lines: Vec<&str> = both.lines().collect();
    let progress = lines
        .iter()
        .position(|l| l.contains("round 1 of 1"))
        .unwrap_or_else(|| panic!("no progress line: {both}"));
    let heading = lines
        .iter()
        .position(|l| l.starts_with("# client overhead"))
        .unwrap_or_else(|| panic!("no heading: {both}"));
    assert!(
        progress < heading,
        "the progress comes before the tables: {both}"
    );
    assert!(
        lines[heading + 1..]
            .iter()
            .all(|l| l.is_empty() || l.starts_with('|') || l.starts_with("loadgen / yardstick")),
        "nothing but the tables after their heading: {both}"
    );
}

/// fidelity.sh, for real, on one cheap pair at two small scales, stdout and stderr apart, with
/// its rows also written to a TSV file; the file's rows by column name.
fn fidelity_sh(
    out: &Path,
) -> (
    std::process::Output,
    Vec<std::collections::HashMap<String, String>>,
) {
    let printed = Command::new("env")
        .args(["--default-signal=INT", "bash"])
        .arg(repo().join("scripts/fidelity.sh"))
        .args(["--targets", "mio", "--clients", "2 4", "--rounds", "3"])
        .args(["--duration", "0.5", "--out"])
        .arg(out)
        .env("ECHO_BENCH_BIN", bin_dir())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let file = fs::read_to_string(out).unwrap_or_default();
    let mut lines = file.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split('\t').collect();
    let rows = lines
        .map(|l| {
            header
                .iter()
                .zip(l.split('\t'))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect();
    (printed, rows)
}

#[test]
fn fidelity_sh_gives_each_scale_its_ratio_interval_verdict_and_starved_clients() {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus < 2 {
        return echo_testkit::skip(
            &echo_testkit::current_test(),
            "fidelity.sh pins the servers to CPU 0 and the client to CPU 1",
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let (printed, rows) = fidelity_sh(&dir.path().join("fidelity.tsv"));
    let (stdout, stderr) = (text(&printed.stdout), text(&printed.stderr));
    assert!(printed.status.success(), "{stdout}\n{stderr}");
    for clients in ["2", "4"] {
        assert!(
            stderr.contains(&format!("mio at {clients} clients, round 3 of 3: ")),
            "progress says which pair, which scale, which round: {stderr}"
        );
        // | clients | target | minimal | msgs/s | msgs/s | ratio [lo-hi] | starved | starved | ...
        let row = stdout
            .lines()
            .find(|l| l.starts_with(&format!("| {clients} | mio | mio-minimal | ")))
            .unwrap_or_else(|| panic!("no table row for {clients} clients: {stdout}"));
        let cells: Vec<&str> = row.split(" | ").collect();
        assert_eq!(cells.len(), 12, "{row}");
        let interval = cells[5].split_once(' ').map(|(_, ci)| ci);
        assert!(
            interval.is_some_and(|ci| ci.starts_with('[') && ci.contains('-')),
            "the ratio has its interval: {row}"
        );
        for starved in &cells[6..8] {
            let (median, max) = starved.split_once(" / ").unwrap_or_default();
            assert!(
                median.parse::<f64>().is_ok() && max.parse::<u64>().is_ok(),
                "starved: median / max: {row}"
            );
        }
        assert!(
            cells[11].starts_with("met") || cells[11].starts_with("not met"),
            "a verdict: {row}"
        );
    }
    assert_eq!(
        rows.iter()
            .map(|r| r["clients"].as_str())
            .collect::<Vec<_>>(),
        ["2", "4"],
        "one TSV row per scale: {rows:?}"
    );
    for row in &rows {
        let number = |key: &str| -> f64 {
            row[key]
                .parse()
                .unwrap_or_else(|_| panic!("{key} is not a number: {row:?}"))
        };
        assert_eq!(
            (row["target"].as_str(), row["rounds"].as_str()),
            ("mio", "3")
        );
        // The interval holds the median (to the 2 places the interval is given in).
        let (lo, ratio, hi) = (number("ratio_lo"), number("ratio"), number("ratio_hi"));
        assert!(lo <= ratio + 0.005 && ratio <= hi + 0.005, "{row:?}");
        for key in ["target_starved_max", "minimal_starved_max"] {
            assert!(row[key].parse::<u64>().is_ok(), "{key}: {row:?}");
        }
        number("target_starved_median");
        number("minimal_starved_median");
        assert!(
            ["below", "above", "crosses"].contains(&row["ratio_side"].as_str()),
            "{row:?}"
        );
        assert!(
            row["goal"].starts_with("met") || row["goal"].starts_with("not met"),
            "{row:?}"
        );
    }
}
