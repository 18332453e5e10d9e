//! What the coordinator and the client threads share: the phase of the run, the window's start,
//! the open loop's rate, and how the threads report back. The threads themselves are the
//! engine's ([`crate::engine::event_loop`]).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::engine::churn::ConnectionMode;
use crate::engine::clock::{self, Nanos};
use crate::engine::ramp::Profile;
use crate::engine::record::{Failure, Record};

/// The phases of a run, in order; the coordinator moves them on, clients follow. Never back:
/// [`Shared::set_phase`] keeps the later of two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Phase {
    /// Clients open their connections; nothing is sent.
    Connecting = 0,
    /// Load at the asked rate; nothing is recorded.
    Warmup = 1,
    /// The measured window: everything is recorded.
    Measure = 2,
    /// Clients finish and report; a reply still outstanding belongs to no window.
    Stop = 3,
}

impl Phase {
    /// The phase stored as `n` (its discriminant).
    fn from_u8(n: u8) -> Phase {
        match n {
            0 => Phase::Connecting,
            1 => Phase::Warmup,
            2 => Phase::Measure,
            _ => Phase::Stop,
        }
    }
}

/// What the coordinator and all client threads share. Client threads read it once per loop
/// turn, never per message.
#[derive(Default)]
pub struct Shared {
    phase: AtomicU8,
    /// When the window opened: as an `Instant` for the coordinator, and in raw monotonic
    /// nanoseconds for the engine's clocks.
    window_start: OnceLock<(Instant, Nanos)>,
    /// Clients still running; when it reaches zero there is nothing left to measure.
    alive: AtomicUsize,
    /// Connections opened so far, for the progress of a long connect phase.
    connected: AtomicUsize,
    /// Open loop: messages per second per connection, as `f64` bits (0: closed loop).
    rate_per_conn: AtomicU64,
    /// `--rate-ramp`: the total rate's profile from the warm-up's start, and how many
    /// connections share it.
    ramp: OnceLock<(Arc<Profile>, usize)>,
}

impl Shared {
    /// The run's phase now.
    pub fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Relaxed))
    }

    /// Moves the run on to `phase`, unless it is already past it.
    pub fn set_phase(&self, phase: Phase) {
        self.phase.fetch_max(phase as u8, Relaxed);
    }

    /// Sets the open loop's rate per connection; call before the warm-up.
    pub fn set_rate_per_conn(&self, rate: f64) {
        self.rate_per_conn.store(rate.to_bits(), Relaxed);
    }

    /// The open loop's rate per connection; `None` in the closed loop.
    pub fn rate_per_conn(&self) -> Option<f64> {
        Some(f64::from_bits(self.rate_per_conn.load(Relaxed))).filter(|r| *r > 0.0)
    }

    /// Sets the rising rate `connections` share; call before the warm-up.
    pub fn set_ramp(&self, profile: Profile, connections: usize) {
        let _ = self.ramp.set((Arc::new(profile), connections));
    }

    /// The rising rate and how many connections share it, under `--rate-ramp`.
    pub fn ramp(&self) -> Option<&(Arc<Profile>, usize)> {
        self.ramp.get()
    }

    /// Clients still running.
    pub fn alive(&self) -> usize {
        self.alive.load(Relaxed)
    }

    /// `n` more clients are running.
    pub fn started(&self, n: usize) {
        self.alive.fetch_add(n, Relaxed);
    }

    /// One client has stopped.
    pub fn stopped(&self) {
        self.alive.fetch_sub(1, Relaxed);
    }

    /// One more connection is open.
    pub fn note_connected(&self) {
        self.connected.fetch_add(1, Relaxed);
    }

    /// Connections opened so far.
    pub fn connected(&self) -> usize {
        self.connected.load(Relaxed)
    }

    /// Opens the measured window now.
    pub fn open_window(&self) -> Instant {
        let (now, _) = *self
            .window_start
            .get_or_init(|| (Instant::now(), clock::monotonic()));
        self.set_phase(Phase::Measure);
        now
    }

    /// The window's start in raw monotonic nanoseconds, if it is open (and not yet closed).
    pub fn window(&self) -> Option<Nanos> {
        match self.phase() {
            Phase::Measure => self.window_start.get().map(|(_, raw)| *raw),
            _ => None,
        }
    }
}

/// How every client behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub msg_size: usize,
    pub timeout: Duration,
    pub work_every: u64,
    /// Connection attempts in flight at once, on this thread.
    pub connect_concurrency: usize,
    /// Length of the window, in whole seconds rounded up (for the timeline).
    pub seconds: usize,
    /// Whether this is an open-loop run.
    pub open_loop: bool,
    /// Persistent connections, or a churn mode.
    pub connection_mode: ConnectionMode,
    /// `--bind`: source addresses, taken in turn by client id (empty: the kernel's choice).
    pub sources: Vec<std::net::IpAddr>,
}

impl Settings {
    /// An empty record for a run under these settings: each client thread's, and the one the
    /// coordinator merges them into, are made alike here.
    pub fn new_record(&self) -> Record {
        Record::new(self.seconds, self.open_loop, self.work_every > 1)
            .with_churn(self.connection_mode != ConnectionMode::Persistent)
    }
}

/// What a client thread tells the coordinator.
pub enum Event {
    /// Every connection attempt has ended (connected or failed); it waits for the warm-up.
    Connected {
        connected: usize,
        failures: Vec<Failure>,
    },
    /// It has stopped.
    Done(Box<Record>),
}
