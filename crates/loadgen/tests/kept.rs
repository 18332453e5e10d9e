//! What a new user ran into, tried through the real binary: results that are never clobbered,
//! marks and figures that say what happened, refusals that exit 2, and a stdout that may be
//! closed early. Real servers and real files; durations are short windows and hang guards.

mod support;

use std::io::BufReader;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime};

use echo_report::read_result;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use support::{HANG_GUARD, finish, loadgen, loadgen_table, read_until, run, text};

/// A server that accepts and then holds every connection without a word.
fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(HANG_GUARD);
        drop(held);
    });
    addr
}

/// Every `*.json` directly in `dir`, sorted.
fn json_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

/// Sends SIGINT to `child` (as Ctrl-C does) once its stderr has said `when`, and returns its
/// output, stderr so far first.
fn ctrl_c_at(mut cmd: Command, when: &str) -> (std::process::Output, String) {
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let seen = read_until(&mut stderr, when);
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).unwrap();
    (finish(child), seen + &rest)
}

#[test]
fn a_run_that_measured_nothing_leaves_an_earlier_result_alone() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("point.json");
    let out = run(loadgen(dir.path())
        .args(["--target", "tokio", "--clients", "2", "--output"])
        .arg(&output));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let good = std::fs::read(&output).unwrap();
    let hgrm = dir.path().join("point-tokio.hgrm");
    let good_hgrm = std::fs::read(&hgrm).unwrap();

    let addr = silent_server().to_string();
    let out = run(loadgen(dir.path())
        .args([
            "--addr",
            &addr,
            "--clients",
            "2",
            "--timeout",
            "10s",
            "--output",
        ])
        .arg(&output));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("nothing was measured"), "{stderr}");
    assert!(
        stderr.contains("left as it was") && !stderr.contains("results written"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&output).unwrap(), good, "the result is kept");
    assert_eq!(std::fs::read(&hgrm).unwrap(), good_hgrm);

    // A fixed name is still a sweep's to measure again: a run that measured replaces it.
    let out = run(loadgen(dir.path())
        .args(["--target", "smol", "--clients", "2", "--output"])
        .arg(&output));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(read_result(&output).unwrap().targets[0].target, "smol");
}

/// The stem loadgen names a result of `--target tokio --clients 2` started at `t`.
fn stem_at(t: SystemTime) -> String {
    let stamp: String = humantime::format_rfc3339_seconds(t)
        .to_string()
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .collect();
    format!("{stamp}-tokio-c2-m64B")
}

#[test]
fn a_result_never_takes_the_name_of_another() {
    let dir = tempfile::tempdir().unwrap();
    // Earlier results under every name the run could choose in the next seconds, as a run
    // started in the same second would have left.
    let now = SystemTime::now();
    let taken: Vec<PathBuf> = (0..30)
        .map(|s| {
            let path = dir
                .path()
                .join(format!("{}.json", stem_at(now + Duration::from_secs(s))));
            std::fs::write(&path, format!("earlier {s}")).unwrap();
            path
        })
        .collect();
    let out = run(loadgen(dir.path()).args(["--target", "tokio", "--clients", "2"]));
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    for (s, path) in taken.iter().enumerate() {
        assert_eq!(
            std::fs::read_to_string(path).unwrap(),
            format!("earlier {s}"),
            "{stderr}"
        );
    }
    let new: Vec<_> = json_in(dir.path())
        .into_iter()
        .filter(|p| !taken.contains(p))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    let name = new[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.ends_with("-tokio-c2-m64B-2.json"), "{name}");
    assert!(stderr.contains(&name), "the name is said: {stderr}");
    assert_eq!(read_result(&new[0]).unwrap().targets[0].target, "tokio");
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(
        left.is_empty(),
        "the name's reservation is removed: {left:?}"
    );

    // Two runs at once, into one folder: both are kept.
    let other = tempfile::tempdir().unwrap();
    let both: Vec<_> = (0..2)
        .map(|_| {
            loadgen(other.path())
                .args(["--target", "tokio", "--clients", "2"])
                .spawn()
                .unwrap()
        })
        .collect();
    for child in both {
        let out = finish(child);
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    assert_eq!(json_in(other.path()).len(), 2);
}

/// The keys of a result file's target that only a measured window gives meaning to: a run cut
/// before its window leaves them out rather than write 0s that read as measurements.
const WINDOW_KEYS: [&str; 3] = ["msgs_per_sec", "mb_per_sec", "starved_clients"];

#[test]
fn ctrl_c_in_the_warm_up_writes_and_shows_no_rate_starved_count_or_cost_per_message() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = loadgen(dir.path());
    // A warm-up far longer than the test: the signal comes once every client is connected and
    // the warm-up has begun, a condition read from loadgen's own progress lines.
    cmd.args(["--target", "tokio", "--clients", "5", "--warmup", "30s"]);
    let (out, stderr) = ctrl_c_at(cmd, "warm-up for");
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("5 of 5 connected"), "{stderr}");
    assert!(
        stderr.contains("cut during warm-up: no window measured"),
        "{stderr}"
    );

    // The file: marked partial, and without the figures a window would have given.
    let file = &json_in(dir.path())[0];
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    assert_eq!(value["partial"], true, "{value:#}");
    let target = &value["targets"][0];
    assert_eq!(
        (&target["partial"], &target["window_ns"]),
        (&true.into(), &0.into())
    );
    for key in WINDOW_KEYS {
        assert!(target.get(key).is_none(), "{key}: {target:#}");
    }
    for side in ["server", "client"] {
        assert!(target[side].is_object(), "{side}: {target:#}");
        assert!(
            target[side].get("cpu_ns_per_msg").is_none(),
            "{side}: {target:#}"
        );
    }
    let t = &read_result(file).unwrap().targets[0];
    assert_eq!((t.msgs_per_sec, t.starved_clients), (None, None));

    // What was printed says what happened, and no figure that was not measured.
    for printed in [&stdout, &stderr] {
        assert!(!printed.contains("0 msgs/s"), "{printed}");
        assert!(!printed.contains("CPU/msg"), "{printed}");
        assert!(!printed.contains("no reply"), "{printed}");
    }
    assert!(
        stdout.contains("tokio: cut before its measured window opened: no window measured"),
        "{stdout}"
    );
    let header = stdout.lines().find(|l| l.starts_with("target")).unwrap();
    for column in ["msgs/s", "MB/s", "starved"] {
        assert!(!header.contains(column), "{column}: {stdout}");
    }

    // Read back from the file, it shows no rate or starved count either.
    let out = run(loadgen_table().arg(file));
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let header = table.lines().find(|l| l.contains("target")).unwrap();
    for column in ["msgs/s", "starved", "CPU/msg"] {
        assert!(!header.contains(column), "{column}: {table}");
    }
    assert!(table.contains("partial"), "{table}");
}

#[test]
fn ctrl_c_in_the_second_target_marks_only_that_target_partial() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = loadgen(dir.path());
    cmd.args([
        "--target",
        "tokio,smol",
        "--clients",
        "5",
        "--duration",
        "3s",
    ]);
    let mut child = cmd.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    read_until(&mut stderr, "[smol] server pid");
    read_until(&mut stderr, "measuring");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).unwrap();
    let out = finish(child);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(130), "{stdout}");
    let row = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no {name} row: {stdout}"))
            .to_owned()
    };
    assert!(!row("tokio").contains("partial"), "{stdout}");
    assert!(row("smol").contains("partial"), "{stdout}");

    // The table of the file says the same, and shows the server's CPU per message of each
    // single run (the file has it).
    let out = run(loadgen_table().arg(dir.path()));
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let header = table.lines().find(|l| l.contains("target")).unwrap();
    assert!(header.contains("server CPU/msg"), "{table}");
    let tokio = table.lines().find(|l| l.contains(" tokio ")).unwrap();
    assert!(!tokio.contains("partial"), "{table}");
}

#[test]
fn a_table_of_a_results_folder_leaves_the_references_out_unless_named() {
    let results = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../results");
    let reference = results.join("reference");
    let own = tempfile::tempdir().unwrap();
    let mine = own.path().join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    let point = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/tests/fixtures/results/sweep/64B-100c.json");
    std::fs::copy(&point, mine.join("a.json")).unwrap();
    let copy = own.path().join("reference");
    copy_tree(&reference.join("sweep"), &copy);

    let out = run(loadgen_table().arg(own.path()));
    let (table, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(!table.contains("reference"), "{table}");
    let rows: Vec<&str> = table.lines().skip(3).collect();
    assert!(
        !rows.is_empty() && rows.iter().all(|r| r.starts_with("a ")),
        "only the user's own results: {table}"
    );
    assert!(
        stderr.contains("left out the") && stderr.contains("name that folder"),
        "{stderr}"
    );

    let out = run(loadgen_table().arg(own.path()).arg(&copy));
    let table = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(table.contains("reference/"), "named, they are in: {table}");
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let path = e.unwrap().path();
        if path.is_dir() {
            copy_tree(&path, &to.join(path.file_name().unwrap()));
        } else if path.extension().is_some_and(|x| x == "json") {
            std::fs::copy(&path, to.join(path.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn refusals_exit_2_in_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let point = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/tests/fixtures/results/sweep/64B-100c.json");
    let notes = dir.path().join("notes.json");
    std::fs::write(&notes, "{}").unwrap();
    let loadgen = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    };
    for (args, says) in [
        (
            vec!["merge".into(), point.clone(), point.clone()],
            "same run",
        ),
        (
            vec!["table".into(), notes.clone()],
            "not an echo-bench result",
        ),
        (
            vec!["compare".into(), notes.clone(), point.clone()],
            "not an echo-bench result",
        ),
    ] {
        let out = run(loadgen().args(&args));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn a_file_where_a_results_folder_should_be_is_named_as_such() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("afile");
    std::fs::write(&file, "").unwrap();
    let out = run(loadgen(dir.path())
        .args(["--target", "tokio", "--output"])
        .arg(file.join("x.json")));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("{} is a file, not a directory", file.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("File exists"), "{stderr}");
}

#[test]
fn a_closed_stdout_ends_every_command_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let point = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/tests/fixtures/results/sweep/64B-100c.json");
    let point = point.to_str().unwrap();
    let plain = |args: &[&str]| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_loadgen"));
        cmd.args(args);
        cmd
    };
    let mut short_run = loadgen(dir.path());
    short_run.args(["--target", "tokio", "--clients", "2", "--no-save"]);
    let commands = [
        plain(&["table", point]),
        plain(&["table", "--format", "json", point]),
        plain(&["status", point]),
        plain(&["--list-targets"]),
        short_run,
    ];
    for mut cmd in commands {
        // A pipe whose reader has gone, as `| head -1` leaves it once head has its line.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = run(cmd.stdout(writer).stderr(Stdio::piped()));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{cmd:?}: {stderr}");
    }
}

/// Copies of the fixture result `point` in `dir`, as `name`, with `edit` applied to its JSON.
fn edited(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let point = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../charts/tests/fixtures/results/sweep/64B-100c.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(point).unwrap()).unwrap();
    edit(&mut value);
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).unwrap();
    path
}

fn compare(a: &Path, b: &Path) -> std::process::Output {
    run(Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .arg("compare")
        .args([a, b])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped()))
}

#[test]
fn compare_gives_single_runs_a_plain_ratio_and_refuses_different_settings() {
    let dir = tempfile::tempdir().unwrap();
    let a = edited(dir.path(), "a.json", |v| {
        v["targets"][1]["msgs_per_sec"] = 200_000.0.into();
    });
    let b = edited(dir.path(), "b.json", |v| {
        v["targets"][1]["msgs_per_sec"] = 100_000.0.into();
        // One noisy window: steal far over any limit.
        v["targets"][1]["noise"] = serde_json::json!({"cpus": [0, 1], "steal": 0.5});
    });
    let out = compare(&a, &b);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let line = stdout
        .lines()
        .find(|l| l.contains("msgs/s") && l.contains("tokio (a.json)"))
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(
        line.contains("2.00×") && line.contains("one run against one"),
        "{line}"
    );
    assert!(
        line.contains("(noisy windows: 0 of 1 runs and 1 of 1)"),
        "{line}"
    );

    for (setting, edit) in [
        (
            "clients",
            (|v: &mut serde_json::Value| v["config"]["clients"] = 1000.into()) as fn(&mut _),
        ),
        ("message sizes", |v| v["config"]["msg_size"] = 1024.into()),
        ("work", |v| v["config"]["work"] = "block:1ms".into()),
        ("loops", |v| v["config"]["rate"] = 5000.0.into()),
        ("connection modes", |v| {
            v["config"]["connection_mode"] = "per-message".into()
        }),
    ] {
        let other = edited(dir.path(), "other.json", edit);
        let out = compare(&a, &other);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{setting}: {stderr}");
        assert!(
            stderr.contains(&format!("different {setting} (")),
            "{stderr}"
        );
        assert!(out.stdout.is_empty(), "no verdict: {}", text(&out.stdout));
    }
}

#[test]
fn a_ramp_that_cannot_reach_its_top_rate_is_refused_with_the_window_it_needs() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(loadgen(dir.path()).args([
        "--target",
        "tokio",
        "--rate-ramp",
        "10k..50k/3s",
        "--duration",
        "2s",
    ]));
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("needs a --duration of at least 6.00s"),
        "{stderr}"
    );
    assert!(!stderr.contains("server pid"), "nothing started: {stderr}");
}
