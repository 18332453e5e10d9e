//! What one client thread records. Each thread has its own, so recording takes no lock; the
//! threads' records are merged once at the end.

use echo_report::{Errors, new_histogram};
use hdrhistogram::Histogram;

use crate::engine::tally::Tally;

/// Significant figures of the per-second histograms: 1% is plenty for a timeline, and keeps each
/// one small enough to allocate one per second of the window up front.
const TICK_SIGFIG: u8 = 2;

/// How a connection failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    Refused,
    Reset,
    Eof,
    Timeout,
    Corrupt,
    /// No local port was free for a connect (EADDRNOTAVAIL).
    PortExhausted,
    Other,
}

impl Failure {
    /// The kind of an I/O error, as the result counts it.
    pub fn of(e: &std::io::Error) -> Failure {
        use std::io::ErrorKind::*;
        match e.kind() {
            ConnectionRefused => Failure::Refused,
            ConnectionReset | ConnectionAborted | BrokenPipe => Failure::Reset,
            UnexpectedEof => Failure::Eof,
            TimedOut => Failure::Timeout,
            AddrNotAvailable => Failure::PortExhausted,
            _ => Failure::Other,
        }
    }
}

/// Latency and errors of one client thread.
pub struct Record {
    /// Every message in the window (open loop: from its intended send time).
    pub all: Histogram<u64>,
    /// Open loop: from the actual send time.
    pub uncorrected: Option<Histogram<u64>>,
    /// With work on every Nth message: the others.
    pub bystander: Option<Histogram<u64>>,
    /// With work on every Nth message: those.
    pub working: Option<Histogram<u64>>,
    /// One histogram per second of the window, filled by [`Record::close_seconds`].
    pub ticks: Vec<Histogram<u64>>,
    /// Connection churn: from the connect call to the connection established.
    pub connect: Option<Histogram<u64>>,
    /// Connection churn: from each message's send to its verified echo.
    pub exchange: Option<Histogram<u64>>,
    /// Connection churn: connections completed (every echo back) in the window.
    pub connections: u64,
    /// The second of the window the messages since the last [`Record::close_seconds`] belong to.
    second: usize,
    /// Those messages, for `all` and their second's tick: counted cheaply per message, handed
    /// to both histograms once a second.
    recent: Tally,
    pub errors: Errors,
    /// Open loop: messages sent in the window.
    pub sent: u64,
    /// Clients that got no reply in the window.
    pub starved: usize,
    /// The first corrupt echo, described.
    pub first_corruption: Option<String>,
}

impl Record {
    /// An empty record; `seconds` is the window's length, rounded up; `open_loop` keeps the
    /// uncorrected latency too, `split` the bystanders' and the working messages' apart.
    pub fn new(seconds: usize, open_loop: bool, split: bool) -> Self {
        let tick =
            || Histogram::new_with_bounds(1, 60_000_000_000, TICK_SIGFIG).expect("constant bounds");
        let all = new_histogram();
        Record {
            recent: Tally::like(&all),
            all,
            uncorrected: open_loop.then(new_histogram),
            bystander: split.then(new_histogram),
            working: split.then(new_histogram),
            // One spare second for messages that complete as the window closes.
            ticks: (0..=seconds).map(|_| tick()).collect(),
            connect: None,
            exchange: None,
            connections: 0,
            second: 0,
            errors: Errors::default(),
            sent: 0,
            starved: 0,
            first_corruption: None,
        }
    }

    /// A record of failures alone, with no window: the connect phase's.
    pub fn failures_only() -> Self {
        Record::new(0, false, false)
    }

    /// This record, keeping the figures of connection churn too if `churn`.
    pub fn with_churn(mut self, churn: bool) -> Self {
        self.connect = churn.then(new_histogram);
        self.exchange = churn.then(new_histogram);
        self
    }

    /// Records one message's latency: `ns` (corrected, in the open loop), `raw_ns` (from the
    /// actual send), and whether it had work.
    #[inline]
    pub fn message(&mut self, ns: u64, raw_ns: u64, working: bool) {
        let ns = ns.max(1);
        self.recent.record(ns);
        if let Some(h) = &mut self.uncorrected {
            h.saturating_record(raw_ns.max(1));
        }
        if let Some(h) = &mut self.exchange {
            h.saturating_record(raw_ns.max(1));
        }
        let split = if working {
            &mut self.working
        } else {
            &mut self.bystander
        };
        if let Some(h) = split {
            h.saturating_record(ns);
        }
    }

    /// The window has reached second `now` (0 is its first): the messages recorded since the
    /// last call belong to the second then under way, and go into its tick. Seconds past the
    /// last tick (the window's overrun) share the last one.
    pub fn close_seconds(&mut self, now: usize) {
        if now <= self.second {
            return;
        }
        let last = self.ticks.len() - 1;
        let tick = &mut self.ticks[self.second.min(last)];
        let all = &mut self.all;
        self.recent.drain(|value, n| {
            all.saturating_record_n(value, n);
            tick.saturating_record_n(value, n);
        });
        self.second = now;
    }

    /// Messages recorded so far, in closed seconds and in the one under way.
    pub fn messages(&self) -> u64 {
        self.all.len() + self.recent.len()
    }

    pub fn failure(&mut self, failure: Failure) {
        let e = &mut self.errors;
        *match failure {
            Failure::Refused => &mut e.refused,
            Failure::Reset => &mut e.reset,
            Failure::Eof => &mut e.eof,
            Failure::Timeout => &mut e.timeout,
            Failure::Corrupt => &mut e.corrupt,
            Failure::PortExhausted => &mut e.port_exhausted,
            Failure::Other => &mut e.other,
        } += 1;
    }

    /// Adds `other` into this one.
    pub fn merge(&mut self, other: Record) {
        debug_assert_eq!(other.recent.len(), 0, "merged records are closed");
        let add = |a: &mut Histogram<u64>, b: &Histogram<u64>| {
            a.add(b).expect("histograms share bounds");
        };
        add(&mut self.all, &other.all);
        for (a, b) in [
            (&mut self.uncorrected, &other.uncorrected),
            (&mut self.bystander, &other.bystander),
            (&mut self.working, &other.working),
            (&mut self.connect, &other.connect),
            (&mut self.exchange, &other.exchange),
        ] {
            if let (Some(a), Some(b)) = (a, b) {
                add(a, b);
            }
        }
        for (a, b) in self.ticks.iter_mut().zip(&other.ticks) {
            add(a, b);
        }
        self.errors += other.errors;
        self.starved += other.starved;
        self.sent += other.sent;
        self.connections += other.connections;
        self.first_corruption = self.first_corruption.take().or(other.first_corruption);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_io_error_maps_to_its_kind() {
        use std::io::{Error, ErrorKind::*};
        let cases = [
            (ConnectionRefused, Failure::Refused),
            (ConnectionReset, Failure::Reset),
            (ConnectionAborted, Failure::Reset),
            (BrokenPipe, Failure::Reset),
            (UnexpectedEof, Failure::Eof),
            (TimedOut, Failure::Timeout),
            (AddrNotAvailable, Failure::PortExhausted),
            (PermissionDenied, Failure::Other),
        ];
        for (kind, failure) in cases {
            assert_eq!(Failure::of(&Error::from(kind)), failure, "{kind:?}");
        }
        // As the kernel reports them, by errno.
        assert_eq!(Failure::of(&Error::from_raw_os_error(104)), Failure::Reset);
        assert_eq!(
            Failure::of(&Error::from_raw_os_error(111)),
            Failure::Refused
        );
        // EADDRNOTAVAIL: no free local port for a connect.
        assert_eq!(
            Failure::of(&Error::from_raw_os_error(99)),
            Failure::PortExhausted
        );
        let mut r = Record::new(0, false, false);
        for f in [
            Failure::Refused,
            Failure::Reset,
            Failure::Eof,
            Failure::Timeout,
            Failure::Corrupt,
            Failure::Other,
        ] {
            r.failure(f);
        }
        let e = r.errors;
        assert_eq!(
            [e.refused, e.reset, e.eof, e.timeout, e.corrupt, e.other],
            [1; 6]
        );
    }

    #[test]
    fn records_merge_and_split() {
        let mut a = Record::new(2, false, true);
        a.message(1000, 1000, false);
        a.close_seconds(1);
        a.message(5000, 5000, true);
        a.close_seconds(2);
        a.failure(Failure::Timeout);
        let mut b = Record::new(2, false, true);
        b.close_seconds(9);
        b.message(2000, 2000, false);
        b.close_seconds(10);
        b.failure(Failure::Corrupt);
        b.starved = 2;
        (a.sent, b.sent) = (5, 2);
        (a.connections, b.connections) = (1, 4);
        a.merge(b);
        assert_eq!(
            (a.sent, a.connections),
            (7, 5),
            "sends and connections add up"
        );
        assert_eq!(a.all.len(), 3);
        assert_eq!(a.bystander.as_ref().unwrap().len(), 2);
        assert_eq!(a.working.as_ref().unwrap().len(), 1);
        assert_eq!(
            a.ticks.iter().map(|t| t.len()).collect::<Vec<_>>(),
            [1, 1, 1],
            "late messages land in the spare second"
        );
        assert_eq!((a.errors.timeout, a.errors.corrupt, a.starved), (1, 1, 2));
    }

    #[test]
    fn each_second_gets_exactly_the_messages_recorded_during_it() {
        let mut r = Record::new(3, false, false);
        r.message(1_000, 1_000, false);
        r.message(1_000, 1_000, false);
        r.close_seconds(0);
        r.message(9_000, 9_000, false);
        r.close_seconds(1);
        // Nothing in second 1; second 2 holds one slow message.
        r.close_seconds(2);
        r.message(7_000_000, 7_000_000, false);
        r.close_seconds(3);
        let counts: Vec<u64> = r.ticks.iter().map(|t| t.len()).collect();
        assert_eq!(counts, [3, 0, 1, 0]);
        assert_eq!(r.ticks[0].max(), r.ticks[0].highest_equivalent(9_000));
        assert!(r.ticks[2].min() >= 6_900_000, "the slow one, alone");
        assert_eq!(r.all.len(), 4, "every message stays in the whole");
    }
}
