//! Several load hosts against one server, for real: loadgen processes started with one
//! `--start-at`, their result files merged by `loadgen merge`, and the merge checked against
//! the hosts' own histograms and the server's own count. First on loopback; then, where this
//! runs as root with iproute2, with every host in its own network namespace, joined by a bridge
//! on 192.0.2.0/24 (a documentation range) inside namespaces this test creates and deletes;
//! and there, `scripts/multi-host.sh` as a user runs it, over real ssh to an sshd started in
//! each load host's namespace with keys made for the run. Where namespaces cannot be made (not
//! root, no `ip`) or there is no sshd, those tests follow the skip rule (`echo_testkit`).
//! Durations here are hang guards and short windows, never assertions.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, SystemTime};

use echo_report::{RunResult, decode_histogram, new_histogram, read_result};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use support::{finish, text};

/// How far ahead the common start is set: enough for every loadgen to start and connect on a
/// busy 2-core machine (they connect in milliseconds); the wait is spent idle.
const START_AHEAD: Duration = Duration::from_secs(4);

/// Clients per load host: few, so that the test is light; more than one, so that each host's
/// histogram merges several connections of its own first.
const CLIENTS: usize = 6;

fn loadgen() -> Command {
    Command::new(env!("CARGO_BIN_EXE_loadgen"))
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

/// Runs one loadgen per entry of `hosts` (a command prefix each, and flags of its own), all at
/// once, against `addr` with one `--start-at`; the first is given the server's pid. Returns
/// their result files.
fn run_hosts(
    hosts: &[(Vec<String>, Vec<String>)],
    addr: &str,
    server_pid: u32,
    dir: &Path,
) -> Vec<PathBuf> {
    let at = humantime::format_rfc3339_millis(SystemTime::now() + START_AHEAD).to_string();
    let children: Vec<(PathBuf, Child)> = hosts
        .iter()
        .enumerate()
        .map(|(i, (prefix, flags))| {
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
                .args(flags)
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
        assert_eq!((t.connected, t.starved_clients), (CLIENTS, Some(0)));
        assert_eq!(t.errors.total(), 0, "{:?}", t.errors);
        assert!(t.messages > 0);
        // The window waited for --start-at (it opens a moment after, never before).
        let at = h
            .config
            .start_at
            .as_deref()
            .expect("--start-at is recorded");
        let at = humantime::parse_rfc3339(at).unwrap();
        let opened = t
            .wall_window
            .expect("the window is on the wall clock")
            .start_unix_ns;
        assert!(
            Duration::from_nanos(opened) >= at.duration_since(std::time::UNIX_EPOCH).unwrap(),
            "the window opened before --start-at {at:?}"
        );
        every.add(decode_histogram(&t.histogram).unwrap()).unwrap();
    }
    assert_eq!(
        total.messages,
        hosts.iter().map(|h| h.targets[0].messages).sum::<u64>(),
        "merged count is the sum"
    );
    assert_eq!(decode_histogram(&total.histogram).unwrap(), every);
    // Every figure exactly, but the mean and deviation: JSON's decimal form of a float may
    // come back one unit in the last place off.
    let (got, want) = (total.latency_ns, echo_report::Latency::of(&every));
    let close = |a: f64, b: f64| (a - b).abs() <= 1e-9 * b.abs();
    assert!(
        close(got.mean, want.mean) && close(got.stdev, want.stdev),
        "{got:?} {want:?}"
    );
    assert_eq!(
        echo_report::Latency {
            mean: want.mean,
            stdev: want.stdev,
            ..got
        },
        want
    );
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
    let rows: Vec<&str> = table.lines().filter(|l| l.starts_with("addr:")).collect();
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
        &vec![Default::default(); 3],
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
    let first = run_hosts(&[Default::default()], &addr, server.pid(), dir.path());
    let later = dir.path().join("later");
    let second = run_hosts(&[Default::default()], &addr, server.pid(), &later);
    server.stop();
    let (merged, _, stderr) = merge(&[first[0].clone(), second[0].clone()], dir.path());
    assert!(
        stderr.contains("Warning") && stderr.contains("overlap for 0.0%"),
        "{stderr}"
    );
    let t = &merged.targets[0];
    assert_eq!(t.msgs_per_sec, None, "no rate without an overlap");
    assert!(t.messages > 0);
}

#[test]
fn results_of_different_settings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&[], "127.0.0.1:0");
    let addr = server.addr.clone();
    let files = run_hosts(&[Default::default()], &addr, server.pid(), dir.path());
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

/// The documentation range the namespaces' addresses come from (RFC 5737): routed nowhere.
const NET: &str = "192.0.2";

/// Network namespaces made for one test run, named uniquely (`eb<pid>-...`), deleted when
/// dropped, on failure too. Deleting a namespace deletes the veth ends inside it.
struct Namespaces {
    tag: String,
    made: Vec<String>,
}

impl Namespaces {
    fn new() -> Namespaces {
        Namespaces {
            tag: format!("eb{}", std::process::id()),
            made: Vec::new(),
        }
    }

    fn name(&self, role: &str) -> String {
        format!("{}-{role}", self.tag)
    }

    fn add(&mut self, role: &str) -> Result<String, String> {
        let name = self.name(role);
        ip(&["netns", "add", &name])?;
        self.made.push(name.clone());
        ip(&["-n", &name, "link", "set", "lo", "up"])?;
        Ok(name)
    }

    /// A bridge namespace, and one namespace per host in `roles`, each with an `eth0` on the
    /// bridge at 192.0.2.`host` (the host numbers given; load hosts also at `host` + 100).
    /// Nothing touches this machine's own namespace.
    fn build(&mut self, hosts: &[(&str, u8)]) -> Result<(), String> {
        let bridge = self.add("br")?;
        ip(&["-n", &bridge, "link", "add", "br0", "type", "bridge"])?;
        ip(&["-n", &bridge, "link", "set", "br0", "up"])?;
        for (i, (role, host)) in hosts.iter().enumerate() {
            let ns = self.add(role)?;
            let port = format!("p{i}");
            ip(&[
                "-n", &bridge, "link", "add", &port, "type", "veth", "peer", "name", "eth0",
                "netns", &ns,
            ])?;
            ip(&["-n", &bridge, "link", "set", &port, "master", "br0", "up"])?;
            // A load host has a second address, to spread its clients over with --bind.
            let second = (*host > 1).then_some(host + 100);
            for h in std::iter::once(*host).chain(second) {
                let addr = format!("{NET}.{h}/24");
                ip(&["-n", &ns, "addr", "add", &addr, "dev", "eth0"])?;
            }
            ip(&["-n", &ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// `ip netns exec NAME`, to put in front of a command.
    fn exec(&self, role: &str) -> Vec<String> {
        ["ip", "netns", "exec"]
            .map(String::from)
            .into_iter()
            .chain([self.name(role)])
            .collect()
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in self.made.iter().rev() {
            if let Err(e) = ip(&["netns", "del", name]) {
                eprintln!("could not delete network namespace {name}: {e}");
            }
        }
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run ip: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            text(&out.stderr).trim()
        ))
    }
}

/// Whether this process runs as root (its effective uid, from /proc/self/status).
fn effective_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|ids| ids.split_whitespace().nth(1).map(|e| e == "0"))
            .unwrap_or(false)
    })
}

/// The bridge's hosts in the namespace tests: the server (and, over ssh, the operator) and
/// three load hosts.
const HOSTS: [(&str, u8); 4] = [("srv", 1), ("l1", 11), ("l2", 12), ("l3", 13)];

/// Namespaces with [`HOSTS`] on a bridge, or `None` after the skip rule
/// ([`echo_testkit::skip`]) when this machine cannot make them.
fn namespaces_or_skip(test: &str) -> Option<Namespaces> {
    use echo_testkit::skip;
    if !effective_root() {
        skip(
            test,
            "needs root, to create network namespaces (CI runs it as root)",
        );
        return None;
    }
    if ip(&["-V"]).is_err() {
        skip(test, "needs `ip` from iproute2 (apt-get install iproute2)");
        return None;
    }
    let mut namespaces = Namespaces::new();
    if let Err(e) = namespaces.build(&HOSTS) {
        // Root without the right to make namespaces (a restricted container, say).
        skip(test, &format!("cannot build network namespaces here: {e}"));
        return None;
    }
    Some(namespaces)
}

#[test]
fn hosts_in_their_own_network_namespaces_merge_exactly() {
    let Some(namespaces) =
        namespaces_or_skip("hosts_in_their_own_network_namespaces_merge_exactly")
    else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&namespaces.exec("srv"), &format!("{NET}.1:7000"));
    let loads: Vec<(Vec<String>, Vec<String>)> = HOSTS[1..]
        .iter()
        .map(|(role, host)| {
            let bind = format!("{NET}.{host},{NET}.{}", host + 100);
            (namespaces.exec(role), vec!["--bind".into(), bind])
        })
        .collect();
    let files = run_hosts(&loads, &server.addr, server.pid(), dir.path());
    let summary = server.stop();
    let (merged, table, _) = merge(&files, dir.path());
    check_merge(&files, &merged, &table, &summary);
    assert_eq!(merged.targets[0].target, format!("addr:{NET}.1:7000"));
}

/// Where Debian's openssh-server puts the daemon; sshd must be started by its full path.
const SSHD: &str = "/usr/sbin/sshd";

/// An sshd in each load host's namespace, with a host key and a client key made for this test
/// run in a directory of its own; the daemons are stopped when this is dropped, on failure too.
struct SshHosts {
    dir: tempfile::TempDir,
    daemons: Vec<Child>,
}

impl SshHosts {
    /// Starts an sshd on port 22 of every load host of [`HOSTS`], as root, keys only.
    fn start(namespaces: &Namespaces) -> SshHosts {
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name).to_str().unwrap().to_owned();
        for key in ["host_key", "id"] {
            let made = Command::new("ssh-keygen")
                .args([
                    "-q",
                    "-t",
                    "ed25519",
                    "-N",
                    "",
                    "-C",
                    "echo-bench test",
                    "-f",
                ])
                .arg(path(key))
                .status()
                .expect("run ssh-keygen");
            assert!(made.success(), "ssh-keygen made {key}");
        }
        let read = |name: &str| std::fs::read_to_string(path(name)).unwrap();
        std::fs::write(path("authorized_keys"), read("id.pub")).unwrap();
        let host_pub = read("host_key.pub");
        let mut fields = host_pub.split_whitespace();
        let (kind, key) = (fields.next().unwrap(), fields.next().unwrap());
        std::fs::write(path("known_hosts"), format!("{NET}.* {kind} {key}\n")).unwrap();
        std::fs::write(
            path("ssh_config"),
            format!(
                "Host {NET}.*\n    User root\n    IdentityFile {id}\n    IdentitiesOnly yes\n    \
                 UserKnownHostsFile {known}\n    GlobalKnownHostsFile /dev/null\n    \
                 StrictHostKeyChecking yes\n    BatchMode yes\n    LogLevel ERROR\n    \
                 ConnectTimeout 10\n",
                id = path("id"),
                known = path("known_hosts"),
            ),
        )
        .unwrap();
        // sshd's privilege separation directory, which Debian's service creates at boot.
        std::fs::create_dir_all("/run/sshd").unwrap();
        let mut hosts = SshHosts {
            dir,
            daemons: Vec::new(),
        };
        for (role, host) in &HOSTS[1..] {
            let config = hosts.dir.path().join(format!("sshd_config_{role}"));
            std::fs::write(
                &config,
                format!(
                    "ListenAddress {NET}.{host}:22\nHostKey {key}\nAuthorizedKeysFile {auth}\n\
                     PidFile none\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n\
                     PubkeyAuthentication yes\nPermitRootLogin prohibit-password\n\
                     StrictModes no\nUsePAM no\nSubsystem sftp internal-sftp\n",
                    key = hosts.dir.path().join("host_key").display(),
                    auth = hosts.dir.path().join("authorized_keys").display(),
                ),
            )
            .unwrap();
            let log =
                std::fs::File::create(hosts.dir.path().join(format!("sshd_{role}.log"))).unwrap();
            let daemon = Command::new("ip")
                .args([
                    "netns",
                    "exec",
                    &namespaces.name(role),
                    SSHD,
                    "-D",
                    "-e",
                    "-f",
                ])
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log)
                .spawn()
                .expect("start sshd");
            hosts.daemons.push(daemon);
        }
        // Each says so once it listens (and a daemon that exits says why).
        let give_up = std::time::Instant::now() + support::HANG_GUARD;
        while !HOSTS[1..].iter().all(|(role, _)| {
            std::fs::read_to_string(hosts.dir.path().join(format!("sshd_{role}.log")))
                .is_ok_and(|log| log.contains("Server listening on"))
        }) {
            assert!(
                std::time::Instant::now() < give_up,
                "sshd did not start: {}",
                hosts.logs()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        hosts
    }

    /// `ssh` as the script is to call it: with this run's keys and known hosts only.
    fn ssh(&self) -> String {
        format!("ssh -F {}", self.dir.path().join("ssh_config").display())
    }

    /// `scp` likewise.
    fn scp(&self) -> String {
        format!("scp -q -F {}", self.dir.path().join("ssh_config").display())
    }

    /// What the daemons said, for a failure's message.
    fn logs(&self) -> String {
        HOSTS[1..]
            .iter()
            .map(|(role, _)| {
                std::fs::read_to_string(self.dir.path().join(format!("sshd_{role}.log")))
                    .unwrap_or_default()
            })
            .collect()
    }
}

impl Drop for SshHosts {
    fn drop(&mut self) {
        for daemon in &mut self.daemons {
            let _ = daemon.kill();
            let _ = daemon.wait();
        }
    }
}

#[test]
fn multi_host_sh_over_real_ssh_merges_exactly() {
    const TEST: &str = "multi_host_sh_over_real_ssh_merges_exactly";
    let Some(namespaces) = namespaces_or_skip(TEST) else {
        return;
    };
    if !Path::new(SSHD).exists() || Command::new("ssh-keygen").arg("-?").output().is_err() {
        return echo_testkit::skip(
            TEST,
            "needs sshd and ssh (apt-get install openssh-server; .ci/run does)",
        );
    }
    let hosts = SshHosts::start(&namespaces);
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let server = Server::start(&namespaces.exec("srv"), &format!("{NET}.1:7000"));
    let loadgen = Path::new(env!("CARGO_BIN_EXE_loadgen"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/multi-host.sh");
    // The operator on the server's host: the script, unchanged, from the srv namespace, each
    // load host reached over ssh at its own address.
    let run = finish(
        Command::new("ip")
            .args(["netns", "exec", &namespaces.name("srv"), "bash"])
            .arg(&script)
            .args(["--server", &server.addr, "--clients", &CLIENTS.to_string()])
            .args(["--duration", "2s", "--warmup", "300ms", "--start-in", "4"])
            .args(["--server-pid", &server.pid().to_string(), "--loadgen"])
            .arg(loadgen)
            .arg("--out")
            .arg(&out)
            .args(["--ssh", &hosts.ssh(), "--scp", &hosts.scp()])
            .args(HOSTS[1..].iter().map(|(_, host)| format!("{NET}.{host}")))
            .args(["--", "--timeout", "2s"])
            .env("ECHO_BENCH_BIN", loadgen.parent().unwrap())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let summary = server.stop();
    let said = format!(
        "{}\n{}\nsshd: {}",
        text(&run.stdout),
        text(&run.stderr),
        hosts.logs()
    );
    assert!(run.status.success(), "{said}");
    let files: Vec<PathBuf> = (1..HOSTS.len())
        .map(|i| out.join(format!("host{i}.json")))
        .collect();
    // What each load host left in its /tmp (one file system here), its result and the .hgrm
    // files beside it: removed.
    let in_tmp = || {
        std::fs::read_dir("/tmp")
            .unwrap()
            .map(|e| e.unwrap().path())
    };
    let left: Vec<PathBuf> = in_tmp()
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with("echo-bench-")
                && files
                    .iter()
                    .any(|f| std::fs::read(f).ok() == std::fs::read(p).ok())
        })
        .collect();
    for json in &left {
        let stem = json.file_stem().unwrap().to_string_lossy().into_owned();
        for f in in_tmp().filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(&format!("{stem}-")) && name.ends_with(".hgrm")
        }) {
            let _ = std::fs::remove_file(f);
        }
        let _ = std::fs::remove_file(json);
    }
    assert_eq!(
        left.len(),
        files.len(),
        "each host wrote its result: {said}"
    );
    let merged = read_result(&out.join("merged.json")).unwrap();
    let table = std::fs::read_to_string(out.join("merged.txt")).unwrap();
    check_merge(&files, &merged, &table, &summary);
    assert!(
        text(&run.stdout).contains("clocks (offset from this host"),
        "{said}"
    );
}

#[test]
fn bind_spreads_connections_over_source_addresses() {
    use std::io::Read;
    use std::sync::{Arc, Mutex};
    // An echo server that notes where each connection comes from.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peers = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&peers);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            seen.lock().unwrap().push(stream.peer_addr().unwrap().ip());
            std::thread::spawn(move || {
                let mut buf = [0; 4096];
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    if stream.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let out = finish(
        loadgen()
            .args(["--addr", &addr.to_string(), "--clients", "6", "--no-save"])
            .args(["--duration", "500ms", "--warmup", "100ms"])
            .args(["--bind", "127.0.0.2,127.0.0.3", "--json"])
            .current_dir(dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let result: RunResult = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result.config.bind,
        ["127.0.0.2", "127.0.0.3"],
        "the result says where its clients came from"
    );
    let t = &result.targets[0];
    assert_eq!((t.connected, t.errors.total()), (6, 0));
    assert!(t.messages > 0);
    let mut peers: Vec<String> = peers
        .lock()
        .unwrap()
        .iter()
        .map(|p| p.to_string())
        .collect();
    peers.sort();
    assert_eq!(
        peers,
        [
            "127.0.0.2",
            "127.0.0.2",
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.3",
            "127.0.0.3"
        ]
    );
}
