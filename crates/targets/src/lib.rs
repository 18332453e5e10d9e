//! Every server of the suite, by name. A new Rust target is a crate exporting an
//! [`echo_common::Target`] plus one line in [`ALL`]; a target that is a program of its own (a
//! Python, Go or Node.js server) is a [`Program`] plus one line in [`PROGRAMS`].

mod program;

use echo_common::Target;
pub use program::{BUILT_DIR, GO_ENV, Interpreter, NODE_ENV, PYTHON_ENV, Program, Runs, SETUP};

/// All Rust targets, in the order tables list them: threads first, then event loops. These run
/// in-process too (benchmarks, tests).
pub const ALL: &[&Target] = &[
    &echo_threads::TARGET,
    &echo_blocking::TARGET,
    &echo_thread_pool::TARGET,
    &echo_tokio::TARGET,
    &echo_tokio::TARGET_CURRENT,
    &echo_async_std::TARGET,
    &echo_smol::TARGET,
    &echo_mio::TARGET,
    &echo_monoio::TARGET,
    &echo_compio::TARGET,
];

/// Targets that run as programs of their own (a script under an interpreter, or a binary the
/// set-up builds), listed after the Rust ones.
pub const PROGRAMS: &[&Program] = &[
    &program::PYTHON_ASYNCIO,
    &program::PYTHON_UVLOOP,
    &program::PYTHON_THREADS,
    &program::PYTHON_GEVENT,
    &program::GO,
    &program::NODE,
];

/// Every target, Rust then programs, in the order tables list them.
pub fn every() -> impl Iterator<Item = &'static Target> {
    ALL.iter()
        .copied()
        .chain(PROGRAMS.iter().map(|p| &p.target))
}

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    every().find(|t| t.name == name)
}

/// The program behind `target`, if it is one rather than a Rust server.
pub fn program(target: &Target) -> Option<&'static Program> {
    PROGRAMS
        .iter()
        .copied()
        .find(|p| p.target.name == target.name)
}

/// Why `target` cannot run on this machine (a program whose interpreter, packages or binary
/// are missing), with what to do about it; `None` if it can.
pub fn unavailable(target: &Target) -> Option<String> {
    program(target).and_then(Program::unavailable)
}

/// What `--target all` runs: every target that can run here, and a line for each that cannot
/// (`NAME: why, and how to fix it`).
pub fn available() -> (Vec<&'static Target>, Vec<String>) {
    let mut skipped = Vec::new();
    let targets = every()
        .filter(|t| match unavailable(t) {
            Some(why) => {
                skipped.push(format!("{}: {why}", t.name));
                false
            }
            None => true,
        })
        .collect();
    (targets, skipped)
}

/// The names of all targets, comma-separated, for help and error messages.
pub fn names() -> String {
    every().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// Runs `TARGET [SERVER FLAGS]` from `args` (without the program name) as that target's binary
/// would: the `main` of `echo-server`, and of `loadgen`'s hidden `server` command, which is how
/// loadgen starts a server as a separate process without needing its binary built. A program
/// target replaces this process with its own (interpreter or built binary).
pub fn server_main(args: impl IntoIterator<Item = std::ffi::OsString>) -> std::process::ExitCode {
    let mut args = args.into_iter();
    let name = args.next();
    let Some(target) = name.as_deref().and_then(|n| n.to_str()).and_then(find) else {
        match name {
            Some(n) if n != "--help" && n != "-h" => {
                eprintln!(
                    "error: unknown target '{}'; known: {}",
                    n.to_string_lossy(),
                    names()
                )
            }
            _ => eprintln!(
                "usage: echo-server TARGET [FLAGS]  (TARGET: {}; see TARGET --help)",
                names()
            ),
        }
        return std::process::ExitCode::from(2);
    };
    if let Some(program) = program(target) {
        eprintln!(
            "echo-server: cannot start {}: {}",
            target.name,
            program.exec(args)
        );
        return std::process::ExitCode::FAILURE;
    }
    echo_common::main_from(target, std::iter::once(target.binary().into()).chain(args))
}
