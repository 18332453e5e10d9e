//! The measuring scripts as a user runs them: scripts/sweep.sh, stopped with Ctrl-C and resumed,
//! with real loadgen runs (one target, tiny windows) into a temporary directory.
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

#[test]
fn ctrl_c_stops_the_sweep_keeps_what_was_measured_and_it_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
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
    let (stdout, stderr) = output(out);
    assert_eq!(exit.code(), Some(130), "{stdout}\n{stderr}");
    let after = POINTS.iter().filter(|c| started(out, c)).count();
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
