//! Why a target's run is incomplete or empty: one typed list, so callers match on a kind rather
//! than compare strings, and every message reads the same wherever it is printed.

/// What went wrong with one target's run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The user pressed Ctrl-C (or sent SIGTERM) during the measured window.
    #[error("interrupted")]
    Interrupted,
    /// The server process ended before the run did.
    #[error("the server exited during the run ({0})")]
    ServerExited(String),
    /// Every client stopped on an error, so nothing was left to measure.
    #[error("every client has stopped on an error; nothing is left to measure")]
    AllClientsFailed,
    /// Client threads that did not stop within their grace period; their records are lost.
    #[error("{0} client threads did not stop in time")]
    ThreadsHung(usize),
    /// The server could not be stopped cleanly.
    #[error("{0}")]
    ServerStop(String),
    /// `--start-at`: connecting was not over by the time the window was to open.
    #[error(
        "connecting ended {late} after --start-at {at}: the window could not open on time; \
         give a later --start-at"
    )]
    LateForStart {
        /// How late.
        late: String,
        /// The start asked for.
        at: String,
    },
    /// The result holds no measurement: the window never opened, or not one reply came back.
    #[error("nothing was measured: {why}")]
    NothingMeasured {
        /// Why, in words the user can act on.
        why: String,
    },
}
