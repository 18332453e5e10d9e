//! A server loadgen starts: a child process running this same binary's `server` command, so that
//! `cargo run -p loadgen` needs no other binary built, and the server is a process of its own
//! (its own CPUs, its own /proc accounting, killable without taking loadgen down). Both sides
//! live here: [`ServerProcess`] in loadgen, [`serve`] in the child, which dies with loadgen.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use echo_common::{EXIT_UNAVAILABLE, Summary, Target};
use nix::sys::signal::{Signal, kill};
use nix::unistd::{Pid, getppid};

use crate::run::sys::pin_current_thread;

/// How long a server may take to start listening: building the `sqlite-*` database is the slow
/// part, well under a second here.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a server may take to exit after SIGTERM: its own grace period is 5 s.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A server that exited with [`EXIT_UNAVAILABLE`] before listening: its runtime cannot run on
/// this machine, or it does not do the `--work` asked of it (Go has nothing to offload to), and
/// it said why on stderr (which it shares with loadgen).
#[derive(Debug)]
pub struct Unavailable(pub &'static str);

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "skipped, not measured: the {} server cannot run here as asked (its reason is above)",
            self.0
        )
    }
}

impl std::error::Error for Unavailable {}

/// Set in a server child's environment to loadgen's process id: the child then dies with it.
const PARENT_ENV: &str = "LOADGEN_PARENT_PID";

/// What a server child gets when loadgen dies: SIGTERM, so that it shuts down as it always does
/// (closing its connections, removing the files its `file-*` and `sqlite-*` work made).
const PARENT_DEATH_SIGNAL: Signal = Signal::SIGTERM;

/// `loadgen server TARGET [FLAGS]`: runs the server, passing every argument through unchanged.
/// Started by loadgen (which says so in [`PARENT_ENV`]), it first arranges to be signalled when
/// loadgen dies, however it dies (even SIGKILL), so that no server outlives its load generator
/// and holds on to its port and CPU.
pub fn serve(args: Vec<OsString>) -> ExitCode {
    if let Some(parent) = std::env::var(PARENT_ENV)
        .ok()
        .and_then(|p| p.parse::<i32>().ok())
    {
        // Set here, after exec, because the std way in the child before exec (`pre_exec`) is
        // `unsafe`, which the workspace forbids. The signal follows the thread that spawned the
        // child: loadgen spawns servers from its main thread, which lives as long as loadgen.
        if let Err(e) = nix::sys::prctl::set_pdeathsig(PARENT_DEATH_SIGNAL) {
            eprintln!("Error: cannot arrange to stop with loadgen: {e}");
            return ExitCode::FAILURE;
        }
        // loadgen may have died between the fork and the line above: then nobody signals us.
        if getppid() != Pid::from_raw(parent) {
            eprintln!("Error: loadgen (pid {parent}) is gone; not starting the server");
            return ExitCode::FAILURE;
        }
    }
    echo_targets::server_main(args)
}

/// A running server child.
pub struct ServerProcess {
    name: &'static str,
    child: Child,
    addr: SocketAddr,
    lines: Receiver<String>,
}

impl ServerProcess {
    /// Starts `target` with `args`, pinned to `server_cpus`; the calling thread is pinned back to
    /// `client_cpus` afterwards. Returns once the server is listening.
    pub fn start(
        target: &'static Target,
        args: &[String],
        server_cpus: &[usize],
        client_cpus: &[usize],
    ) -> Result<Self> {
        let exe = std::env::current_exe().context("cannot find loadgen's own executable")?;
        // A child inherits the affinity of the thread that spawns it.
        pin_current_thread(server_cpus)?;
        let spawned = Command::new(exe)
            .arg("server")
            .arg(target.name)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .env(PARENT_ENV, std::process::id().to_string())
            // Its own process group: a Ctrl-C at the terminal goes to loadgen, which stops the
            // server itself once the results so far are safe.
            .process_group(0)
            .spawn();
        pin_current_thread(client_cpus)?;
        let mut child =
            spawned.with_context(|| format!("cannot start the {} server", target.name))?;

        let stdout = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::Builder::new()
            .name("server-stdout".into())
            .spawn(move || {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .context("cannot start a thread to read the server's output")?;

        let mut server = ServerProcess {
            name: target.name,
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            lines,
        };
        let first = server.lines.recv_timeout(START_TIMEOUT);
        match first.as_deref().map(|l| l.strip_prefix("listening on ")) {
            Ok(Some(addr)) => {
                server.addr = addr.parse().with_context(|| {
                    format!("the {} server printed a bad address '{addr}'", target.name)
                })?;
                Ok(server)
            }
            Ok(None) => bail!(
                "the {} server's first line was not `listening on ...`: {:?}",
                target.name,
                first.unwrap()
            ),
            Err(e) => {
                // Its stdout closed: it is exiting, so wait for its status.
                let status = match e {
                    RecvTimeoutError::Disconnected => server.child.wait().ok(),
                    RecvTimeoutError::Timeout => server.exited(),
                };
                if status.and_then(|s| s.code()) == Some(EXIT_UNAVAILABLE.into()) {
                    return Err(Unavailable(target.name).into());
                }
                bail!(
                    "the {} server did not start listening within {START_TIMEOUT:?}{}",
                    target.name,
                    status.map_or(String::new(), |s| format!(" (it exited: {s})"))
                )
            }
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its exit status, if it has exited.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Stops it with SIGTERM and returns the summary it prints.
    pub fn stop(mut self) -> Result<Summary> {
        if let Some(status) = self.exited() {
            bail!("the {} server had already exited ({status})", self.name);
        }
        let _ = kill(Pid::from_raw(self.child.id() as i32), Signal::SIGTERM);
        let deadline = Instant::now() + STOP_TIMEOUT;
        let mut summary = Err(anyhow!(
            "the {} server exited without printing its summary",
            self.name
        ));
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) if line.starts_with('{') => {
                    summary = serde_json::from_str(&line).with_context(|| {
                        format!(
                            "the {} server printed a summary loadgen cannot read: {line}",
                            self.name
                        )
                    });
                }
                Ok(_) => {}
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => {
                    summary = Err(anyhow!(
                        "the {} server did not exit within {STOP_TIMEOUT:?} of SIGTERM; killed it",
                        self.name
                    ));
                    break;
                }
            }
        }
        let status = self.reap();
        match status {
            Some(s) if !s.success() && summary.is_ok() => {
                bail!("the {} server exited with {s}", self.name)
            }
            _ => summary,
        }
    }

    /// Kills it if it still runs, and waits for it.
    fn reap(&mut self) -> Option<ExitStatus> {
        if self.exited().is_none() {
            let _ = self.child.kill();
        }
        self.child.wait().ok()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.reap();
    }
}
