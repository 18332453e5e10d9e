//! Targets that are programs of their own rather than Rust crates: the Python servers of the
//! asyncio explainer the suite grew from (`python/`), and the same server in the languages whose
//! runtimes multiplex plain blocking code, or one event loop, over the network: Go (`go/`),
//! Node.js (`node/`) and Python under gevent.
//!
//! Such a target is still an [`echo_common::Target`] (a name, an about line, how it serves), so
//! everything that lists, plans or reports targets treats it like any other. Only starting it
//! differs: `echo-server NAME` (and loadgen's `loadgen server NAME`) replaces itself with the
//! program — an interpreter running a script, or a binary the set-up built — so the server keeps
//! the process loadgen started (its pid, its CPU pinning, its pipes) and is measured like every
//! other. Each program reports its runtime's version in its summary (`runtime`), so every result
//! file names what served.

use std::io;
use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use echo_common::{Context, Serves, Target};

/// Names the interpreter to use instead of the repository's `.venv/bin/python`.
pub const PYTHON_ENV: &str = "ECHO_BENCH_PYTHON";

/// Names the Node.js to use instead of the `node` on the `PATH`.
pub const NODE_ENV: &str = "ECHO_BENCH_NODE";

/// Names the Go server's binary to use instead of the one the set-up built.
pub const GO_ENV: &str = "ECHO_BENCH_GO";

/// What to run to install what the program targets need: `scripts/setup.sh [python|go|node]`.
pub const SETUP: &str = "scripts/setup.sh";

/// Where, in Cargo's target folder, the set-up puts the binaries it builds (so `cargo clean`
/// removes them, and `CARGO_TARGET_DIR` moves them).
pub const BUILT_DIR: &str = "programs";

/// A target that runs as a program of its own.
#[derive(Debug)]
pub struct Program {
    /// Its name and properties. Its `serve` cannot run in this process and says so.
    pub target: Target,
    /// How to start it.
    pub runs: Runs,
    /// How to install what it needs, said when it cannot run.
    pub setup: &'static str,
    /// The `--work` kinds it does not do, because its runtime has no such thing (Go has nothing
    /// to offload to). Asked for one, it says why in one
    /// line on stderr and exits with [`echo_common::EXIT_UNAVAILABLE`] before listening, which
    /// loadgen reports as not measured.
    pub refuses: &'static [&'static str],
    /// Whether a blocking system call in a handler (`--work block`) leaves the other connections
    /// served: Go's runtime hands the blocked thread's right to run Go code to another thread.
    /// On an event loop such a call holds up everyone.
    pub hands_off_blocking_calls: bool,
}

/// How a program target starts.
#[derive(Debug)]
pub enum Runs {
    /// A script, relative to the repository's root, under an interpreter, which must be able to
    /// load the `needs` (Python modules, npm packages) from the script's folder for the target
    /// to run.
    Script {
        /// The interpreter.
        interpreter: Interpreter,
        /// The script.
        script: &'static str,
        /// What the interpreter must find beyond its standard library.
        needs: &'static [&'static str],
    },
    /// A binary the set-up builds into `<cargo target folder>/programs/`.
    Built {
        /// Its file name there.
        binary: &'static str,
        /// The variable that names another binary instead.
        env: &'static str,
    },
}

/// An interpreter a script target runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpreter {
    /// `$ECHO_BENCH_PYTHON`, or the virtual environment the set-up makes at `.venv/`.
    Python,
    /// `$ECHO_BENCH_NODE`, or `node` on the `PATH`.
    Node,
}

/// The article's server: `asyncio.start_server`, one coroutine per connection.
pub const PYTHON_ASYNCIO: Program = Program {
    target: Target::new(
        "python-asyncio",
        "Python asyncio.start_server, a coroutine per connection",
        runs_as_a_program,
        Serves::EventLoop,
    ),
    runs: Runs::Script {
        interpreter: Interpreter::Python,
        script: "python/asyncio_server.py",
        needs: &["aiofiles", "aiosqlite"],
    },
    setup: "scripts/setup.sh python",
    refuses: &[],
    hands_off_blocking_calls: false,
};

/// The same program on uvloop's event loop.
pub const PYTHON_UVLOOP: Program = Program {
    target: Target::new(
        "python-uvloop",
        "the Python asyncio server on uvloop's loop",
        runs_as_a_program,
        Serves::EventLoop,
    ),
    runs: Runs::Script {
        interpreter: Interpreter::Python,
        script: "python/uvloop_server.py",
        needs: &["uvloop", "aiofiles", "aiosqlite"],
    },
    setup: "scripts/setup.sh python",
    refuses: &[],
    hands_off_blocking_calls: false,
};

/// The article's synchronous server made concurrent: `socketserver.ThreadingTCPServer`.
pub const PYTHON_THREADS: Program = Program {
    target: Target::new(
        "python-threads",
        "Python socketserver.ThreadingTCPServer, one thread per connection",
        runs_as_a_program,
        Serves::ThreadPerConnection,
    ),
    runs: Runs::Script {
        interpreter: Interpreter::Python,
        script: "python/threads_server.py",
        needs: &[],
    },
    setup: "scripts/setup.sh python",
    refuses: &[],
    hands_off_blocking_calls: false,
};

/// python-threads' own blocking code made cooperative by `gevent.monkey.patch_all()`.
pub const PYTHON_GEVENT: Program = Program {
    target: Target::new(
        "python-gevent",
        "the python-threads server under gevent's monkey-patching, a greenlet per connection",
        runs_as_a_program,
        Serves::EventLoop,
    ),
    runs: Runs::Script {
        interpreter: Interpreter::Python,
        script: "python/gevent_server.py",
        needs: &["gevent"],
    },
    setup: "scripts/setup.sh python",
    refuses: &[],
    hands_off_blocking_calls: false,
};

/// Go's standard library: a goroutine per connection on the runtime's netpoller.
pub const GO: Program = Program {
    target: Target::new(
        "go",
        "Go net.Listen, a goroutine per connection, GOMAXPROCS = --threads",
        runs_as_a_program,
        Serves::EventLoop,
    ),
    runs: Runs::Built {
        binary: "echo-go",
        env: GO_ENV,
    },
    setup: "scripts/setup.sh go",
    refuses: &["offload", "file-offload", "sqlite-offload"],
    hands_off_blocking_calls: true,
};

/// Node.js: `net.createServer` on one libuv event loop.
pub const NODE: Program = Program {
    target: Target::new(
        "node",
        "Node.js net.createServer, one event loop",
        runs_as_a_program,
        Serves::EventLoop,
    ),
    runs: Runs::Script {
        interpreter: Interpreter::Node,
        script: "node/server.js",
        needs: &["better-sqlite3"],
    },
    setup: "scripts/setup.sh node",
    refuses: &[],
    hands_off_blocking_calls: false,
};

/// The `serve` of a program target: it has no Rust implementation to run on a thread here.
fn runs_as_a_program(_: TcpListener, _: Arc<Context>) -> io::Result<()> {
    Err(io::Error::other(
        "this target is a program of its own and cannot run inside this process; start it with \
         `echo-server NAME` or `loadgen --target NAME`",
    ))
}

impl Program {
    /// The command that starts this target (without its flags), or why it cannot run here (with
    /// what to do).
    fn command(&self) -> Result<Command, String> {
        let setup = self.setup;
        match self.runs {
            Runs::Script {
                interpreter,
                script,
                ..
            } => {
                let script = root().join(script);
                if !script.is_file() {
                    return Err(format!(
                        "its script {} is missing; run it from a full checkout of echo-bench",
                        script.display()
                    ));
                }
                let mut command = interpreter.command(setup)?;
                command.arg(script);
                Ok(command)
            }
            Runs::Built { binary, env } => {
                let path = std::env::var_os(env)
                    .map(PathBuf::from)
                    .unwrap_or_else(|| target_dir().join(BUILT_DIR).join(binary));
                if !path.is_file() {
                    return Err(format!(
                        "its binary {} is not built: run {setup} (or set {env})",
                        path.display()
                    ));
                }
                Ok(Command::new(path))
            }
        }
    }

    /// Why this target cannot run on this machine (interpreter, script, binary or packages
    /// missing), or `None` if it can. Asks the interpreter to load the packages, which takes a
    /// moment.
    pub fn unavailable(&self) -> Option<String> {
        if let Err(why) = self.command() {
            return Some(why);
        }
        let Runs::Script {
            interpreter,
            needs,
            script,
        } = self.runs
        else {
            return None;
        };
        let mut check = interpreter.command(self.setup).ok()?;
        // From the script's folder, where Node looks for its node_modules/.
        let folder = root().join(script);
        check
            .args(interpreter.load_check(needs))
            .current_dir(folder.parent().unwrap_or(root()));
        let ok = check
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        (!ok).then(|| {
            format!(
                "{} cannot load {}: run {}",
                interpreter.path().display(),
                needs.join(", "),
                self.setup
            )
        })
    }

    /// The variable that overrides where this program's interpreter or binary is found.
    pub fn env(&self) -> &'static str {
        match self.runs {
            Runs::Script { interpreter, .. } => interpreter.env(),
            Runs::Built { env, .. } => env,
        }
    }

    /// Replaces this process with the program running the server with `args` (its flags).
    /// Returns only if that fails, with the reason.
    pub fn exec(&self, args: impl IntoIterator<Item = std::ffi::OsString>) -> String {
        match self.command() {
            Ok(mut command) => {
                let program = command.get_program().to_owned();
                let e = command.args(args).exec();
                format!("cannot run {}: {e}", Path::new(&program).display())
            }
            Err(why) => why,
        }
    }
}

impl Interpreter {
    /// The variable that names another interpreter.
    fn env(self) -> &'static str {
        match self {
            Interpreter::Python => PYTHON_ENV,
            Interpreter::Node => NODE_ENV,
        }
    }

    /// Where it is: the variable's value, or the default.
    fn path(self) -> PathBuf {
        if let Some(path) = std::env::var_os(self.env()) {
            return PathBuf::from(path);
        }
        match self {
            Interpreter::Python => root().join(".venv/bin/python"),
            Interpreter::Node => on_path("node").unwrap_or_else(|| PathBuf::from("node")),
        }
    }

    /// The interpreter with the options every run gets, or why it is missing.
    ///
    /// Python runs with `-E -s`: no `PYTHON*` variables, no user site-packages, so a stray
    /// `PYTHONASYNCIODEBUG` or a user-installed package cannot change what is measured.
    fn command(self, setup: &str) -> Result<Command, String> {
        let path = self.path();
        if !path.is_file() {
            return Err(match self {
                Interpreter::Python => format!(
                    "no Python environment at {}: run {setup} (or set {PYTHON_ENV})",
                    path.display()
                ),
                Interpreter::Node => format!(
                    "no Node.js at {}: run {setup} (or set {NODE_ENV})",
                    path.display()
                ),
            });
        }
        let mut command = Command::new(path);
        if self == Interpreter::Python {
            command.args(["-E", "-s"]);
        }
        Ok(command)
    }

    /// The arguments that make it load `needs` and exit 0, or fail if one is missing.
    fn load_check(self, needs: &[&str]) -> Vec<String> {
        match self {
            Interpreter::Python => vec![
                "-c".into(),
                format!(
                    "import {}",
                    ["sys"]
                        .iter()
                        .chain(needs)
                        .copied()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ],
            Interpreter::Node => vec![
                "-e".into(),
                needs
                    .iter()
                    .map(|n| format!("require({n:?});"))
                    .collect::<String>(),
            ],
        }
    }
}

/// The first `name` in the `PATH`'s folders.
fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The repository's root, where `python/`, `go/`, `node/` and `.venv/` live: found from where
/// this crate was built, so it holds for `cargo run` and for the binaries in `target/`.
fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/targets sits two levels below the root")
}

/// Cargo's target folder: the nearest folder above the running executable that holds the
/// `CACHEDIR.TAG` Cargo writes at its top, wherever `CARGO_TARGET_DIR` put it; `target/` in the
/// repository if the executable is not in one.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            exe.ancestors()
                .find(|dir| dir.join("CACHEDIR.TAG").is_file())
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| root().join("target"))
}
