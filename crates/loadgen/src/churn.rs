//! Connection churn (`--connection-mode per-message|per:N`): each client connects, sends N
//! messages one after another, reads and checks each echo, closes, and starts again. With
//! persistent connections the cost of a new connection is invisible; here it is paid on every
//! cycle — a thread for a thread-per-connection server, a task for an event loop.
//!
//! This module holds the pure part: the modes, one cycle's stages, and what is recorded when,
//! as functions of the instants given (tested without a clock). A cycle is measured whole or
//! not at all: it counts if its connect began inside the window. It records
//! - the **connect** (from the connect call to the connection being established),
//! - each **exchange** (from a message's send to its verified echo),
//! - the **session** (from the connect call to the last verified echo): what a user who opens
//!   a connection to ask one thing waits for, "connect+echo" in per-message mode.
//!
//! Closing: the client closes with `SO_LINGER` 0, which sends a reset instead of a FIN and
//! leaves no socket in TIME_WAIT. An orderly close would park every closed connection in
//! TIME_WAIT on the client for 60 s; 28,232 ephemeral ports (32768–60999) then allow under 500
//! new connections per second to one server address before connects fail with
//! EADDRNOTAVAIL. The reset loses nothing: it is sent only after every echo has been read and
//! verified. (Linux's `tcp_tw_reuse = 2`, the default, reuses TIME_WAIT ports on loopback, but
//! only those older than a second, so fast churn exhausts them all the same.)

use std::fmt;
use std::str::FromStr;
use std::time::Instant;

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

/// What a connection does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Send message `seq` of this connection.
    Send(u64),
    /// Every message is back: close (with a reset) and begin a new cycle.
    Close,
}

/// Where a cycle is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The connect is in progress.
    Connecting,
    /// Connected; `echoed` messages of the cycle are back.
    Exchanging { echoed: u64 },
    /// Every message is back; the connection is to be closed.
    Done,
}

/// One connection's life in a churn mode: connect, N round trips, close.
#[derive(Debug, Clone, Copy)]
pub struct Cycle {
    began: Instant,
    messages: u64,
    /// Whether the cycle's samples count (it began in the window).
    measured: bool,
    stage: Stage,
}

impl Cycle {
    /// A cycle of `messages` round trips whose connect was called at `began`; `window` is when
    /// the measured window opened, if it has.
    pub fn begin(began: Instant, messages: u64, window: Option<Instant>) -> Cycle {
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

    /// Whether what this cycle records counts.
    pub fn measured(&self) -> bool {
        self.measured
    }

    /// The connection was established at `at`: the connect's latency in nanoseconds (if the
    /// cycle is measured), and send message 0.
    pub fn connected(&mut self, at: Instant) -> (Option<u64>, Next) {
        assert_eq!(self.stage, Stage::Connecting, "connected twice");
        self.stage = Stage::Exchanging { echoed: 0 };
        (self.counted(ns(self.began, at)), Next::Send(0))
    }

    /// The echo of the message sent at `sent` came back whole and verified at `at`: what to
    /// record and what to do next.
    pub fn echoed(&mut self, sent: Instant, at: Instant) -> Echoed {
        let Stage::Exchanging { echoed } = self.stage else {
            panic!("an echo in stage {:?}", self.stage);
        };
        let echoed = echoed + 1;
        let last = echoed == self.messages;
        self.stage = if last {
            Stage::Done
        } else {
            Stage::Exchanging { echoed }
        };
        Echoed {
            exchange_ns: self.counted(ns(sent, at)),
            session_ns: if last {
                self.counted(ns(self.began, at))
            } else {
                None
            },
            next: if last {
                Next::Close
            } else {
                Next::Send(echoed)
            },
        }
    }

    fn counted(&self, ns: u64) -> Option<u64> {
        self.measured.then_some(ns)
    }
}

/// What a verified echo records, in nanoseconds (`None`: nothing, the cycle is not measured or
/// the connection is not finished), and what comes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Echoed {
    /// From the message's send to its verified echo.
    pub exchange_ns: Option<u64>,
    /// From the connect call to this, the connection's last echo: one per connection.
    pub session_ns: Option<u64>,
    pub next: Next,
}

fn ns(from: Instant, to: Instant) -> u64 {
    to.saturating_duration_since(from).as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const US: Duration = Duration::from_micros(1);

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
    fn a_per_message_cycle_records_connect_exchange_and_session() {
        let t = Instant::now();
        let mut c = Cycle::begin(t, 1, Some(t));
        assert_eq!(c.stage(), Stage::Connecting);
        assert_eq!(c.connected(t + 30 * US), (Some(30_000), Next::Send(0)));
        assert_eq!(
            c.echoed(t + 35 * US, t + 80 * US),
            Echoed {
                exchange_ns: Some(45_000),
                session_ns: Some(80_000),
                next: Next::Close
            },
            "the session counts from the connect call"
        );
        assert_eq!(c.stage(), Stage::Done);
    }

    #[test]
    fn a_cycle_of_n_sends_n_messages_then_closes() {
        let t = Instant::now();
        let mut c = Cycle::begin(t, 3, Some(t));
        assert_eq!(c.connected(t + US).1, Next::Send(0));
        let mut at = t + US;
        let mut sessions = Vec::new();
        let mut nexts = Vec::new();
        for _ in 0..3 {
            let e = c.echoed(at, at + 10 * US);
            at += 10 * US;
            assert_eq!(e.exchange_ns, Some(10_000));
            sessions.push(e.session_ns);
            nexts.push(e.next);
        }
        assert_eq!(nexts, [Next::Send(1), Next::Send(2), Next::Close]);
        assert_eq!(
            sessions,
            [None, None, Some(31_000)],
            "one session, at the end"
        );
    }

    #[test]
    fn a_cycle_counts_only_if_it_began_in_the_window() {
        let t = Instant::now();
        let window = t + 100 * US;
        // Began before the window opened, finished inside it: not measured, whole.
        let mut early = Cycle::begin(t, 1, Some(window));
        assert_eq!(early.connected(t + 150 * US).0, None);
        let e = early.echoed(t + 150 * US, t + 200 * US);
        assert_eq!((e.exchange_ns, e.session_ns), (None, None));
        assert_eq!(early.stage(), Stage::Done, "it still runs its course");
        // During the warm-up, no window at all.
        assert!(!Cycle::begin(t, 1, None).measured());
        assert!(Cycle::begin(window, 1, Some(window)).measured());
    }

    #[test]
    #[should_panic(expected = "an echo in stage Connecting")]
    fn an_echo_before_the_connect_is_a_bug() {
        let t = Instant::now();
        Cycle::begin(t, 1, Some(t)).echoed(t, t);
    }
}
