//! The `loadgen` commands shown in README.md and docs/ still run: each is taken from its Markdown
//! code block and run for real, with small settings, so a renamed flag or subcommand fails here
//! instead of for a reader.
//!
//! Only values are made small, never flags: `--clients` becomes 2, every run gets a 300 ms window
//! and no warm-up, `--repeat` becomes 2, a rate ramp fits the window. Names that stand for a
//! reader's own things are made real: `SERVER` and the example ports become a tokio server this
//! test starts, `--bind` gets loopback addresses, a `--start-at` time becomes `+2s` and the
//! command runs on three "hosts" at once (as the page says to), and `compare` gets two committed
//! result files. Every command must exit 0. Nothing here checks a figure.

mod support;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use support::{documents, root};

/// The longest one command may take: a guard against a hang, never a bound on speed.
const HANG_GUARD: Duration = Duration::from_secs(180);

/// Clients for every run: enough for several connections, few enough for any server.
const CLIENTS: &str = "2";

/// The window of every run.
const WINDOW: &str = "300ms";

/// The hosts a `--start-at` command is run on together, as docs/multi-host.md describes.
const HOSTS: usize = 3;

/// A command found in the docs: where, and its arguments after `loadgen`.
#[derive(Debug, Clone)]
struct DocCommand {
    place: String,
    args: Vec<String>,
}

/// Every `loadgen` invocation in the shell code blocks of `text`.
fn commands(file: &str, text: &str) -> Vec<DocCommand> {
    const PREFIXES: [&str; 2] = ["cargo run --release -p loadgen --", "loadgen"];
    let mut out = Vec::new();
    let mut in_shell = false;
    for (n, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with("```") {
            in_shell = !in_shell && (trimmed == "```sh" || trimmed == "```bash");
            continue;
        }
        if !in_shell {
            continue;
        }
        let command = trimmed.split(" #").next().unwrap_or("").trim();
        let Some(rest) = PREFIXES
            .iter()
            .find_map(|p| command.strip_prefix(p).filter(|r| r.starts_with(' ')))
        else {
            continue;
        };
        out.push(DocCommand {
            place: format!("{file}:{}", n + 1),
            args: rest.split_whitespace().map(String::from).collect(),
        });
    }
    out
}

/// Every documented command, README first, then the pages in name order.
fn documented() -> Vec<DocCommand> {
    let files = documents();
    files
        .iter()
        .flat_map(|f| {
            let name = f.strip_prefix(root()).unwrap().display().to_string();
            commands(&name, &std::fs::read_to_string(f).unwrap())
        })
        .collect()
}

/// `args` with small values, and the reader's placeholders made real (see the module doc).
fn small(args: &[String], server: &str) -> Vec<String> {
    let is_run = args.first().is_some_and(|a| a.starts_with("--"));
    let mut out = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        let value = args.get(i + 1).cloned();
        let replaced = match flag {
            "--clients" => Some(CLIENTS.to_owned()),
            "--duration" => Some(WINDOW.to_owned()),
            "--warmup" => Some("0s".to_owned()),
            "--repeat" => Some("2".to_owned()),
            "--rate-ramp" => Some("1k..2k/100ms".to_owned()),
            "--start-at" => Some("+2s".to_owned()),
            "--bind" => Some("127.0.0.2,127.0.0.3".to_owned()),
            "--addr" => Some(server.to_owned()),
            _ => None,
        };
        out.push(flag.to_owned());
        match (replaced, value) {
            (Some(v), Some(_)) => {
                out.push(v);
                i += 2;
            }
            _ => i += 1,
        }
    }
    if is_run {
        for (flag, value) in [("--duration", WINDOW), ("--warmup", "0s")] {
            if !out.iter().any(|a| a == flag) {
                out.extend([flag.to_owned(), value.to_owned()]);
            }
        }
    }
    out
}

/// `loadgen` of this build, built fresh beside the test (the root package does not build it).
fn loadgen() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap().to_owned();
    let profile = profile_dir
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    let profile = if profile == "debug" {
        "dev".into()
    } else {
        profile
    };
    let built = Command::new(env!("CARGO"))
        .args(["build", "--quiet", "-p", "loadgen", "--profile", &profile])
        .arg("--target-dir")
        .arg(profile_dir.parent().unwrap())
        .current_dir(root())
        .status()
        .expect("run cargo");
    assert!(built.success(), "cannot build loadgen");
    profile_dir.join("loadgen")
}

/// Waits for `child` within [`HANG_GUARD`], killing it past that.
fn finish(mut child: Child, what: &str) -> Output {
    let deadline = Instant::now() + HANG_GUARD;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what} did not finish within {HANG_GUARD:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn spawn(loadgen: &Path, args: &[String], dir: &Path) -> Child {
    Command::new(loadgen)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// A tokio echo server on a free port, killed on drop.
struct Server {
    child: Child,
    addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn server(loadgen: &Path) -> Server {
    let mut child = Command::new(loadgen)
        .args(["server", "tokio", "--addr", "127.0.0.1:0"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr = first
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("the server said '{first}'"))
        .to_owned();
    Server { child, addr }
}

/// Why a command cannot run on this machine: it names a target whose set-up has not run here
/// (`scripts/setup.sh`), as `--target all` would skip it.
fn cannot_run_here(args: &[String]) -> Option<String> {
    let named = args
        .windows(2)
        .filter(|w| w[0] == "--target")
        .flat_map(|w| w[1].split(','));
    named
        .filter_map(echo_targets::find)
        .find_map(|t| echo_targets::unavailable(t).map(|why| format!("{}: {why}", t.name)))
}

#[test]
fn the_documented_loadgen_commands_run() {
    let all = documented();
    assert!(
        all.len() >= 10,
        "found only {} commands: the extraction is broken",
        all.len()
    );
    let loadgen = loadgen();
    let server = server(&loadgen);
    let dir = tempfile::tempdir().unwrap();
    // `compare` reads two result files a reader would have; these are committed ones.
    for (name, file) in [
        ("old.json", "20261126T082621Z-tokio-c1000-m64B.json"),
        ("new.json", "20261126T101424Z-tokio-c1000-m64B.json"),
    ] {
        let from = root().join("results/reference/runs").join(file);
        std::fs::copy(from, dir.path().join(name)).unwrap();
    }

    let mut failures = Vec::new();
    for c in &all {
        let args = small(&c.args, &server.addr);
        if let Some(why) = cannot_run_here(&args) {
            echo_testkit::skip(&c.place, &why);
            continue;
        }
        let outputs: Vec<Output> = if args.iter().any(|a| a == "--start-at") {
            // One run on several hosts at once: the same command, each with its own output.
            let children: Vec<Child> = (1..=HOSTS)
                .map(|h| {
                    let host: Vec<String> = args
                        .iter()
                        .map(|a| a.replace("host1", &format!("host{h}")))
                        .collect();
                    spawn(&loadgen, &host, dir.path())
                })
                .collect();
            children
                .into_iter()
                .map(|ch| finish(ch, &c.place))
                .collect()
        } else {
            vec![finish(spawn(&loadgen, &args, dir.path()), &c.place)]
        };
        for out in outputs {
            if !out.status.success() {
                failures.push(format!(
                    "{}: loadgen {} exited {:?}:\n{}",
                    c.place,
                    args.join(" "),
                    out.status.code(),
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_renamed_flag_in_the_docs_would_fail() {
    // The same path as the documented commands, with one flag no longer known.
    let loadgen = loadgen();
    let dir = tempfile::tempdir().unwrap();
    let bad = commands(
        "planted.md",
        "```sh\nloadgen --target tokio --client 100   # a renamed flag\n```\n",
    );
    assert_eq!(bad.len(), 1);
    let out = finish(
        spawn(&loadgen, &small(&bad[0].args, "unused"), dir.path()),
        "planted",
    );
    assert_eq!(out.status.code(), Some(2), "refused as a bad flag");
}
