//! Connection churn (`--connection-mode per-message|per:N`): each client connects, sends N
//! messages one after another, reads and checks each echo, closes, and starts again. With
//! persistent connections the cost of a new connection is invisible; here it is paid on every
//! cycle — a thread for a thread-per-connection server, a task for an event loop.
//!
//! This module holds the pure part: the modes, one cycle's stages, and what is recorded when,
//! as functions of the instants given (tested without a clock). Latency counts from the connect:
//! the first message of each connection is charged from the connect call to its verified echo
//! (what a user who opens a connection to ask one thing waits for: "connect+echo" in
//! per-message mode); the others of a `per:N` connection from their send. Recorded beside it:
//! - the **connect**, from the connect call to the connection being established, if the
//!   connect began inside the window;
//! - each **exchange**, from a message's send to its verified echo;
//! - the **connections** completed (every echo back) inside the window, for connections/s.
//!
//! Closing: the client closes with `SO_LINGER` 0, which sends a reset instead of a FIN and
//! leaves no socket in TIME_WAIT. An orderly close parks every closed connection in TIME_WAIT
//! on the client for 60 s; the 28,232 ephemeral ports (32768–60999) then allow under 500 new
//! connections per second to one server address before connects fail with EADDRNOTAVAIL. The
//! reset loses nothing: it is sent only after every echo has been read and verified. (Linux's
//! `tcp_tw_reuse = 2`, the default, reuses TIME_WAIT ports on loopback, but only those idle for
//! over a second, so fast churn can still run out.)

use std::fmt;
use std::str::FromStr;

/// How clients use their connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ConnectionMode {
    /// Connect once, send for the whole run (the default).
    #[default]
    Persistent,
    /// Connect, send this many messages (one at a time), close, repeat.
    Per(u64),
}

impl FromStr for ConnectionMode {
    type Err = String;

    fn from_str(s: &str) -> Result<ConnectionMode, String> {
        let usage = "use persistent, per-message, or per:N (N messages per connection)";
        match s.trim() {
            "persistent" => Ok(ConnectionMode::Persistent),
            "per-message" => Ok(ConnectionMode::Per(1)),
            other => match other.strip_prefix("per:").map(str::parse::<u64>) {
                Some(Ok(n)) if n >= 1 => Ok(ConnectionMode::Per(n)),
                Some(_) => Err(format!(
                    "'{s}': N in per:N is a whole number of messages, at least 1"
                )),
                None => Err(format!("'{s}' is not a connection mode: {usage}")),
            },
        }
    }
}

impl fmt::Display for ConnectionMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionMode::Persistent => f.write_str("persistent"),
            ConnectionMode::Per(1) => f.write_str("per-message"),
            ConnectionMode::Per(n) => write!(f, "per:{n}"),
        }
    }
}

/// Where a cycle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The connect is in progress.
    Connecting,
    /// Connected: its messages go one at a time, and after the last echo it closes (the
    /// connection's state machine counts them: [`crate::engine::conn::Conn::complete`]).
    Exchanging,
}

/// One connection's life in a churn mode: connect, N round trips, close. Times are nanoseconds on
/// the client thread's clock, as everywhere in the engine.
#[derive(Debug, Clone, Copy)]
pub struct Cycle {
    began: u64,
    messages: u64,
    /// Whether the connect began in the window (then its latency counts).
    measured: bool,
    stage: Stage,
}

impl Cycle {
    /// A cycle of `messages` round trips whose connect was called at `began`; `window` is when
    /// the measured window opened, if it has.
    pub fn begin(began: u64, messages: u64, window: Option<u64>) -> Cycle {
        Cycle {
            began,
            messages,
            measured: window.is_some_and(|w| began >= w),
            stage: Stage::Connecting,
        }
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// The connection was established at `at`: the connect's latency in nanoseconds, if it
    /// began in the window. Message 0 goes next.
    pub fn connected(&mut self, at: u64) -> Option<u64> {
        assert_eq!(self.stage, Stage::Connecting, "connected twice");
        self.stage = Stage::Exchanging;
        self.measured.then(|| at.saturating_sub(self.began))
    }

    /// When the connect was called.
    pub fn began(&self) -> u64 {
        self.began
    }

    /// Messages per connection.
    pub fn messages(&self) -> u64 {
        self.messages
    }

    /// Where message `seq`, sent at `sent`, counts its latency from: the first message of a
    /// connection from the connect call, the others from their send.
    pub fn due(&self, seq: u64, sent: u64) -> u64 {
        if seq == 0 { self.began } else { sent }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;

    #[test]
    fn modes_parse_and_print() {
        let mode = |s: &str| s.parse::<ConnectionMode>();
        assert_eq!(mode("persistent"), Ok(ConnectionMode::Persistent));
        assert_eq!(mode("per-message"), Ok(ConnectionMode::Per(1)));
        assert_eq!(mode("per:1"), Ok(ConnectionMode::Per(1)));
        assert_eq!(mode(" per:100 "), Ok(ConnectionMode::Per(100)));
        for s in ["persistent", "per-message", "per:7"] {
            assert_eq!(mode(s).unwrap().to_string(), s);
        }
        assert_eq!(ConnectionMode::default(), ConnectionMode::Persistent);
        assert!(mode("per:0").unwrap_err().contains("at least 1"));
        assert!(mode("per:x").unwrap_err().contains("whole number"));
        assert!(mode("per:-1").unwrap_err().contains("whole number"));
        assert!(mode("pooled").unwrap_err().contains("per-message"));
    }

    #[test]
    fn a_cycle_counts_connect_plus_echo_and_the_connect_apart() {
        let t = 7_000_000;
        let mut c = Cycle::begin(t, 3, Some(t));
        assert_eq!((c.stage(), c.messages()), (Stage::Connecting, 3));
        assert_eq!(c.connected(t + 30 * US), Some(30_000));
        assert_eq!(c.stage(), Stage::Exchanging);
        assert_eq!(
            c.due(0, t + 35 * US),
            t,
            "the first message counts from the connect call"
        );
        assert_eq!(c.due(1, t + 90 * US), t + 90 * US);
        assert_eq!(
            c.due(2, t + 99 * US),
            t + 99 * US,
            "later messages count from their send"
        );
    }

    #[test]
    fn a_connect_counts_only_if_it_began_in_the_window() {
        let t = 7_000_000;
        let window = t + 100 * US;
        // Began before the window opened, connected inside it: not counted.
        let mut early = Cycle::begin(t, 1, Some(window));
        assert_eq!(early.connected(t + 150 * US), None);
        assert_eq!(early.stage(), Stage::Exchanging, "it still runs its course");
        // During the warm-up, no window at all.
        assert_eq!(Cycle::begin(t, 1, None).connected(t + US), None);
        assert_eq!(
            Cycle::begin(window, 1, Some(window)).connected(window + US),
            Some(1000)
        );
    }

    #[test]
    #[should_panic(expected = "connected twice")]
    fn connecting_twice_is_a_bug() {
        let t = 7_000_000;
        let mut c = Cycle::begin(t, 1, Some(t));
        c.connected(t);
        c.connected(t);
    }
}
