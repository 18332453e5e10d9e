//! Every server of the suite, by name. A new target is a crate exporting an
//! [`echo_common::Target`] plus one line in [`ALL`].

use echo_common::Target;

/// All targets, in the order tables list them: threads first, then event loops.
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

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    ALL.iter().copied().find(|t| t.name == name)
}

/// The names of all targets, comma-separated, for help and error messages.
pub fn names() -> String {
    ALL.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}

/// Runs `TARGET [SERVER FLAGS]` from `args` (without the program name) as that target's binary
/// would: the `main` of `echo-server`, and of `loadgen`'s hidden `server` command, which is how
/// loadgen starts a server as a separate process without needing its binary built.
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
    echo_common::main_from(target, std::iter::once(target.binary().into()).chain(args))
}
