//! Every server of the suite, by name. A new target is a crate exporting an
//! [`echo_common::Target`] plus one line in [`ALL`].

use echo_common::Target;

/// All targets, in the order tables list them: threads first, then event loops.
pub const ALL: &[&Target] = &[
    &echo_threads::TARGET,
    &echo_blocking::TARGET,
    &echo_tokio::TARGET,
    &echo_tokio::TARGET_CURRENT,
    &echo_async_std::TARGET,
    &echo_smol::TARGET,
];

/// The target called `name`.
pub fn find(name: &str) -> Option<&'static Target> {
    ALL.iter().copied().find(|t| t.name == name)
}

/// The names of all targets, comma-separated, for help and error messages.
pub fn names() -> String {
    ALL.iter().map(|t| t.name).collect::<Vec<_>>().join(", ")
}
