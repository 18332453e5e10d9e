//! How loadgen ends: one exit status per kind of outcome, the same for every subcommand. Which
//! status an error gets is decided once, where every error is known: `crate::exit_of_error`.

use std::process::ExitCode;

/// loadgen's exit status. [`EXIT_STATUS_HELP`] says the same to the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything asked for was measured.
    Success,
    /// The run failed: a server died, nothing was measured, a file could not be written.
    Failed,
    /// Refused before anything ran: a bad flag or value, an unknown target, a setting this
    /// machine cannot meet, a results path that cannot be written, a path that does not exist.
    /// clap's own usage errors have this status too (see `crate::main`).
    Usage,
    /// An echo came back with the wrong bytes.
    Corrupt,
    /// Stopped by Ctrl-C (or SIGTERM); what was measured is written, marked partial.
    Interrupted,
}

/// The exit statuses, as `--help` and the README list them.
pub const EXIT_STATUS_HELP: &str = "Exit status: 0 ok; 1 the run failed (a server died, nothing \
    was measured, a file could not be written); 2 refused before anything ran (a bad flag or \
    value, an unknown target, a limit of this machine, a results path that cannot be written, a \
    file that is no result); \
    3 an echo came back corrupt; 130 interrupted by Ctrl-C (results so far are written, marked \
    partial).";

impl Exit {
    /// The number the process exits with.
    pub fn code(self) -> u8 {
        match self {
            Exit::Success => 0,
            Exit::Failed => 1,
            Exit::Usage => 2,
            Exit::Corrupt => 3,
            // 128 + SIGINT, as shells report a process that Ctrl-C ended.
            Exit::Interrupted => 130,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> ExitCode {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_help_lists_every_status() {
        for exit in [
            Exit::Success,
            Exit::Failed,
            Exit::Usage,
            Exit::Corrupt,
            Exit::Interrupted,
        ] {
            assert!(
                EXIT_STATUS_HELP.contains(&format!("{} ", exit.code())),
                "{exit:?}"
            );
        }
    }
}
