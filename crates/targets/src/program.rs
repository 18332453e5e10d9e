//! Targets that are programs of their own rather than Rust crates: the Python servers of the
//! asyncio explainer the suite grew from, in `python/`.
//!
//! Such a target is still an [`echo_common::Target`] (a name, an about line, how it serves), so
//! everything that lists, plans or reports targets treats it like any other. Only starting it
//! differs: `echo-server NAME` (and loadgen's `loadgen server NAME`) replaces itself with the
//! interpreter running the script, so the server keeps the process loadgen started — its pid, its
//! CPU pinning, its pipes — and is measured like every other.

use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use echo_common::{Context, Serves, Target};

/// Names the interpreter to use instead of the repository's `.venv/bin/python`.
pub const PYTHON_ENV: &str = "ECHO_BENCH_PYTHON";

/// What to run to install what the Python targets need.
pub const SETUP: &str = "scripts/python-setup.sh";

/// A target that runs as a script under an interpreter.
#[derive(Debug)]
pub struct Program {
    /// Its name and properties. Its `serve` cannot run in this process and says so.
    pub target: Target,
    /// The script, relative to the repository's root.
    pub script: &'static str,
    /// Python packages it needs beyond the standard library.
    pub packages: &'static [&'static str],
}

/// The article's server: `asyncio.start_server`, one coroutine per connection.
pub const PYTHON_ASYNCIO: Program = Program {
    target: Target::new(
        "python-asyncio",
        "Python asyncio.start_server, a coroutine per connection",
        runs_as_a_program,
        Serves::EventLoop,
    ),
    script: "python/asyncio_server.py",
    packages: &["aiofiles", "aiosqlite"],
};

/// The same program on uvloop's event loop.
pub const PYTHON_UVLOOP: Program = Program {
    target: Target::new(
        "python-uvloop",
        "the Python asyncio server on uvloop's loop",
        runs_as_a_program,
        Serves::EventLoop,
    ),
    script: "python/uvloop_server.py",
    packages: &["uvloop", "aiofiles", "aiosqlite"],
};

/// The article's synchronous server made concurrent: `socketserver.ThreadingTCPServer`.
pub const PYTHON_THREADS: Program = Program {
    target: Target::new(
        "python-threads",
        "Python socketserver.ThreadingTCPServer, one thread per connection",
        runs_as_a_program,
        Serves::ThreadPerConnection,
    ),
    script: "python/threads_server.py",
    packages: &[],
};

/// The `serve` of a program target: it has no Rust implementation to run on a thread here.
fn runs_as_a_program(_: TcpListener, _: Arc<Context>) -> io::Result<()> {
    Err(io::Error::other(
        "this target is a program of its own and cannot run inside this process; start it with \
         `echo-server NAME` or `loadgen --target NAME`",
    ))
}

impl Program {
    /// The interpreter and script, or why this target cannot run here (with what to do).
    fn locate(&self) -> Result<(PathBuf, PathBuf), String> {
        let script = root().join(self.script);
        if !script.is_file() {
            return Err(format!(
                "its script {} is missing; run it from a full checkout of echo-bench",
                script.display()
            ));
        }
        let python = python();
        if !python.is_file() {
            return Err(format!(
                "no Python environment at {}: run {SETUP} (or set {PYTHON_ENV})",
                python.display()
            ));
        }
        Ok((python, script))
    }

    /// Why this target cannot run on this machine (interpreter, script or packages missing), or
    /// `None` if it can. Asks the interpreter to import the packages, which takes a moment.
    pub fn unavailable(&self) -> Option<String> {
        let (python, _) = match self.locate() {
            Ok(found) => found,
            Err(why) => return Some(why),
        };
        let imports = format!(
            "import {}",
            ["sys"]
                .iter()
                .chain(self.packages)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        );
        let ok = interpreter(&python)
            .args(["-c", &imports])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (!ok).then(|| {
            format!(
                "{} cannot import {}: run {SETUP}",
                python.display(),
                self.packages.join(", ")
            )
        })
    }

    /// Replaces this process with the interpreter running the server with `args` (its flags).
    /// Returns only if that fails, with the reason.
    pub fn exec(&self, args: impl IntoIterator<Item = std::ffi::OsString>) -> String {
        match self.locate() {
            Ok((python, script)) => {
                let e = interpreter(&python).arg(script).args(args).exec();
                format!("cannot run {}: {e}", python.display())
            }
            Err(why) => why,
        }
    }
}

/// The interpreter with `-E -s`: no `PYTHON*` variables, no user site-packages, so a stray
/// `PYTHONASYNCIODEBUG` or a user-installed package cannot change what is measured.
fn interpreter(python: &Path) -> Command {
    let mut command = Command::new(python);
    command.args(["-E", "-s"]);
    command
}

/// The repository's root, where `python/` and `.venv/` live: found from where this crate was
/// built, so it holds for `cargo run` and for the binaries in `target/`.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/targets sits two levels below the root")
}

/// `$ECHO_BENCH_PYTHON`, or the virtual environment `scripts/python-setup.sh` makes.
fn python() -> PathBuf {
    std::env::var_os(PYTHON_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".venv/bin/python"))
}
