//! Running a server: as a process (what each `echo-*` binary's `main` calls) or on a thread of
//! the caller's (what tests and benchmarks call).

use std::ffi::OsString;
use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use clap::{CommandFactory, FromArgMatches};

use crate::{Config, Context, Shutdown, Summary, bind};

/// A server's whole run: serve `listener` until `context.shutdown()` fires, then close every
/// connection and return. Each server crate provides one.
pub type ServeFn = fn(TcpListener, Arc<Context>) -> io::Result<()>;

/// A server the suite can run: its name, how it works, and its entry point. Registering a new
/// target means writing one of these in its crate (with [`Target::new`]) and listing it in
/// `echo-targets`.
#[derive(Debug)]
pub struct Target {
    /// Short name, as given to `loadgen --target` (`tokio`, `threads`, ...).
    pub name: &'static str,
    /// One line on how it serves connections.
    pub about: &'static str,
    /// The entry point.
    pub serve: ServeFn,
    /// How it serves its connections.
    pub serves: Serves,
    /// For a server whose runtime needs more of the machine than the standard library does
    /// (io_uring, locked memory): checks that it can run here, before it listens. `Err` names
    /// what is missing and how to fix it; the binary then prints it and exits with
    /// [`EXIT_UNAVAILABLE`], which loadgen reports as a skipped target.
    pub available: Option<fn() -> Result<(), String>>,
}

/// How a target serves its connections: the one fact its tests and loadgen's reading of it
/// depend on.
#[derive(Debug, Clone, Copy)]
pub enum Serves {
    /// One connection at a time, to completion: every other client waits in the kernel's accept
    /// queue, unserved, until the one being served disconnects.
    OneAtATime,
    /// A thread of its own for each connection.
    ThreadPerConnection,
    /// A fixed pool of workers, each serving one connection at a time; the function says how
    /// many connections it serves at once under a configuration. Connections beyond that are
    /// accepted but wait, unserved, in the pool's queue until a worker comes free.
    Pool(fn(&Config) -> usize),
    /// An event loop (or one per thread): a task or state machine per connection. It has a
    /// loop-lag probe, and blocking it stalls every connection it serves.
    EventLoop,
}

impl Target {
    /// A target that can run wherever the standard library can (see [`Target::available_if`]).
    pub const fn new(
        name: &'static str,
        about: &'static str,
        serve: ServeFn,
        serves: Serves,
    ) -> Target {
        Target {
            name,
            about,
            serve,
            serves,
            available: None,
        }
    }

    /// The same target, which runs only where `available` says it can.
    pub const fn available_if(self, available: fn() -> Result<(), String>) -> Target {
        Target {
            available: Some(available),
            ..self
        }
    }

    /// Whether it runs an event loop (and so a loop-lag probe, and can be blocked).
    pub fn event_loop(&self) -> bool {
        matches!(self.serves, Serves::EventLoop)
    }

    /// Whether it serves one connection at a time, to completion.
    pub fn one_at_a_time(&self) -> bool {
        matches!(self.serves, Serves::OneAtATime)
    }

    /// For a pool of workers: how many connections it serves at once under `config`.
    pub fn pool(&self, config: &Config) -> Option<usize> {
        match self.serves {
            Serves::Pool(workers) => Some(workers(config)),
            _ => None,
        }
    }
}

/// A server's exit status when its runtime cannot run on this machine (sysexits' `EX_UNAVAILABLE`).
pub const EXIT_UNAVAILABLE: u8 = 69;

impl Target {
    /// The name of its binary, `echo-<name>`.
    pub fn binary(&self) -> String {
        format!("echo-{}", self.name)
    }
}

/// How long a server may take to close its connections after the shutdown signal before it exits
/// regardless; enough for any sane `--work` on a message in flight to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    config: Config,
}

/// The `main` of a server binary: parses the command line and runs the server until SIGINT or
/// SIGTERM.
pub fn main(target: &'static Target) -> ExitCode {
    main_from(target, std::env::args_os())
}

/// [`main`] with the command line given (its first item is the program name).
pub fn main_from(target: &'static Target, args: impl IntoIterator<Item = OsString>) -> ExitCode {
    let command = Cli::command()
        .name(target.binary())
        .about(format!("TCP echo server: {}.", target.about))
        .after_help(
            "Prints `listening on IP:PORT` first; on SIGINT or SIGTERM stops accepting, closes \
             its connections, prints a one-line JSON summary and exits 0.",
        );
    let config = match command
        .try_get_matches_from(args)
        .and_then(|m| Config::from_arg_matches(&m))
    {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    if let Some(Err(why)) = target.available.map(|check| check()) {
        eprintln!("{}: cannot run on this machine: {why}", target.binary());
        return ExitCode::from(EXIT_UNAVAILABLE);
    }
    match run_process(target, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}: error: {e}", target.binary());
            ExitCode::FAILURE
        }
    }
}

fn run_process(target: &'static Target, config: Config) -> Result<(), String> {
    let addr = config.addr;
    let listener = bind(&config).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let shutdown = Shutdown::new();
    shutdown
        .on_signals()
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let work = config.work.to_string();
    let context = Context::new(config, shutdown.clone())
        .map_err(|e| format!("cannot prepare --work {work}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    println!("listening on {local}");

    let printed = Arc::new(AtomicBool::new(false));
    let print_summary = {
        let (context, printed) = (Arc::clone(&context), Arc::clone(&printed));
        move || {
            if !printed.swap(true, Ordering::SeqCst) {
                let summary = context.summary(target.name, target.event_loop());
                let mut out = io::stdout().lock();
                let _ = writeln!(
                    out,
                    "{}",
                    serde_json::to_string(&summary).expect("plain data")
                );
                let _ = out.flush();
            }
        }
    };
    // A watchdog, so a connection stuck in long work cannot keep the process alive forever.
    std::thread::Builder::new()
        .name("shutdown-watchdog".into())
        .spawn({
            let (context, print_summary) = (Arc::clone(&context), print_summary.clone());
            move || {
                futures_lite::future::block_on(context.shutdown().wait());
                std::thread::sleep(SHUTDOWN_GRACE);
                eprintln!(
                    "{} connections still open {SHUTDOWN_GRACE:?} after the shutdown signal; exiting anyway",
                    context.active()
                );
                print_summary();
                std::process::exit(0);
            }
        })
        .map_err(|e| format!("cannot start the shutdown watchdog: {e}"))?;

    (target.serve)(listener, context).map_err(|e| format!("server failed: {e}"))?;
    print_summary();
    Ok(())
}

/// A server running on a thread of this process, stopped (and joined) when dropped.
pub struct Running {
    target: &'static Target,
    addr: SocketAddr,
    context: Arc<Context>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Starts `target` on a new thread with `config`; returns once it is listening.
pub fn start(target: &'static Target, config: Config) -> io::Result<Running> {
    if let Some(Err(why)) = target.available.map(|check| check()) {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!("{} cannot run on this machine: {why}", target.name),
        ));
    }
    let listener = bind(&config)?;
    let addr = listener.local_addr()?;
    let context = Context::new(config, Shutdown::new())?;
    let thread = std::thread::Builder::new().name(target.binary()).spawn({
        let context = Arc::clone(&context);
        move || (target.serve)(listener, context)
    })?;
    Ok(Running {
        target,
        addr,
        context,
        thread: Some(thread),
    })
}

impl Running {
    /// The address it is listening on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its shared state, for a look at its counters while it runs.
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// Shuts it down and waits for it; returns its summary.
    pub fn stop(mut self) -> io::Result<Summary> {
        self.join()?;
        Ok(self
            .context
            .summary(self.target.name, self.target.event_loop()))
    }

    fn join(&mut self) -> io::Result<()> {
        self.context.shutdown().trigger();
        match self.thread.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other(format!("{} panicked", self.target.name))),
            None => Ok(()),
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn never(_: TcpListener, _: Arc<Context>) -> io::Result<()> {
        panic!("served although it cannot run here")
    }

    static UNAVAILABLE: Target = Target::new(
        "nowhere",
        "a runtime this machine lacks",
        never,
        Serves::EventLoop,
    )
    .available_if(|| Err("no ring here; add one".into()));

    #[test]
    fn a_target_that_cannot_run_here_says_so_and_never_listens() {
        let args = ["echo-nowhere", "--addr", "127.0.0.1:0"].map(OsString::from);
        assert_eq!(
            main_from(&UNAVAILABLE, args),
            ExitCode::from(EXIT_UNAVAILABLE)
        );
        let refused = start(&UNAVAILABLE, Config::on("127.0.0.1:0".parse().unwrap()));
        let e = refused
            .err()
            .expect("start refuses a target that cannot run");
        assert_eq!(e.kind(), io::ErrorKind::Unsupported);
        assert!(e.to_string().contains("no ring here; add one"), "{e}");
    }
}
