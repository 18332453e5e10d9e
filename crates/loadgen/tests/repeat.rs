//! `--repeat`, `loadgen compare` and the noise reading, as a user meets them: the real binary,
//! real servers, real sockets on 127.0.0.1. Short windows; durations are hang guards only.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use echo_report::read_result;

use support::{finish, text};

fn loadgen(args: &[&str]) -> Output {
    let child = Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("loadgen starts");
    finish(child)
}

fn files(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

#[test]
fn repeated_runs_land_in_one_file_with_intervals_and_a_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = loadgen(&[
        "--target",
        "tokio,smol",
        "--clients",
        "5",
        "--duration",
        "300ms",
        "--warmup",
        "100ms",
        "--repeat",
        "2",
        "--baseline",
        "smol",
        "--results-dir",
        d,
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    // Rounds: tokio, smol, tokio, smol, each with its own server.
    let rounds: Vec<&str> = stderr.lines().filter(|l| l.contains("round ")).collect();
    assert_eq!(rounds.len(), 4, "{stderr}");
    for (line, want) in rounds.iter().zip(["tokio", "smol", "tokio", "smol"]) {
        assert!(line.contains(want), "{rounds:?}");
    }
    let pids = stderr.lines().filter(|l| l.contains("server pid")).count();
    assert_eq!(pids, 4, "a fresh server per run: {stderr}");

    let json = files(dir.path(), "json");
    assert_eq!(json.len(), 1, "one result file: {json:?}");
    let run = read_result(&json[0]).unwrap();
    assert_eq!(
        (run.config.repeat, run.targets.len(), run.partial),
        (2, 2, false)
    );
    for t in &run.targets {
        let repeats = t.repeats.as_ref().expect("every run kept");
        assert_eq!(repeats.runs.len(), 2);
        assert!(
            repeats
                .runs
                .iter()
                .all(|r| r.target == t.target && r.messages > 0)
        );
        assert!(repeats.msgs_per_sec.is_some_and(|s| s.n == 2));
        assert!(
            repeats.runs.iter().all(|r| r.noise.is_some()),
            "a noise reading per run"
        );
    }
    assert_eq!(files(dir.path(), "hgrm").len(), 4, "one .hgrm per run");

    assert!(stdout.contains('±'), "medians with intervals: {stdout}");
    assert!(stdout.contains("tokio against smol:"), "{stdout}");
    assert!(
        stdout.contains("msgs/s") && stdout.contains("× smol ["),
        "{stdout}"
    );

    // The same file against itself: every figure ties.
    let file = json[0].to_str().unwrap();
    let out = loadgen(&["compare", file, file]);
    let compared = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(compared.contains("tokio ("), "{compared}");
    let verdicts: Vec<&str> = compared.lines().filter(|l| l.contains('×')).collect();
    assert!(!verdicts.is_empty(), "{compared}");
    // A noisy window is said at the end of the line (a shared machine makes some).
    assert!(
        verdicts
            .iter()
            .all(|l| l.contains("no difference this run can show")),
        "{compared}"
    );
}

#[test]
fn repeat_and_baseline_are_checked_before_anything_runs() {
    for (args, says) in [
        (
            &["--target", "tokio", "--repeat", "0"][..],
            "--repeat must be between 1 and 50",
        ),
        (
            &["--target", "tokio", "--repeat", "51"][..],
            "--repeat must be between 1 and 50",
        ),
        (
            &["--target", "tokio,smol", "--baseline", "threads"][..],
            "--baseline threads: not one of the targets run (tokio, smol)",
        ),
    ] {
        let out = loadgen(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(text(&out.stderr).contains(says), "{}", text(&out.stderr));
    }
}

#[test]
fn compare_says_what_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.json");
    let out = loadgen(&[
        "compare",
        missing.to_str().unwrap(),
        missing.to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("two result files"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_noise_meter_watches_the_pinned_cpus_and_all_of_them_unpinned() {
    // The CPUs /proc/stat lists, as the meter reads them.
    let online: Vec<usize> = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("cpu")?.split(' ').next()?.parse().ok())
        .collect();
    if online.len() < 2 {
        // With one CPU nothing is pinned, and "the pinned CPUs" are all of them.
        return echo_testkit::skip(&echo_testkit::current_test(), "needs 2 or more CPUs");
    }
    let dir = tempfile::tempdir().unwrap();
    let noise_of = |pin: &[&str]| {
        let file = dir.path().join("run.json");
        let out = loadgen(
            &[
                &["--target", "tokio", "--clients", "2"][..],
                &["--duration", "300ms", "--warmup", "100ms", "--output"],
                &[file.to_str().unwrap()],
                pin,
            ]
            .concat(),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        let run = read_result(&file).unwrap();
        run.targets[0].noise.clone().expect("a noise reading")
    };
    // Server and clients on CPU 0 (a warned-of sharing): CPU 1 is none of this run's business.
    let pinned = noise_of(&["--server-cpus", "0", "--client-cpus", "0"]);
    assert_eq!(pinned.cpus, [0]);
    let unpinned = noise_of(&["--no-pin"]);
    assert_eq!(unpinned.cpus, online);
}
