//! The engine's time: nanoseconds since the client thread's start, as a `u64`. A reply costs
//! several time subtractions and comparisons (latencies, window, second, deadline); on plain
//! integers they are single instructions, where each `Instant` operation is a normalising
//! `timespec` subtraction. The clock is read once per reply and once per loop turn, straight
//! from `CLOCK_MONOTONIC` (the clock `Instant` reads on Linux, through the vDSO: no system call).

use nix::time::{ClockId, clock_gettime};

/// Nanoseconds on one thread's [`Clock`].
pub type Nanos = u64;

/// One thread's clock.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    /// Its zero, in raw monotonic nanoseconds ([`monotonic`]).
    origin: Nanos,
}

impl Clock {
    /// A clock that reads zero now.
    pub fn start() -> Self {
        Clock {
            origin: monotonic(),
        }
    }

    /// Now.
    pub fn now(&self) -> Nanos {
        self.of(monotonic())
    }

    /// A raw monotonic reading (as another thread took it) on this clock; zero if before its
    /// start.
    pub fn of(&self, raw: Nanos) -> Nanos {
        raw.saturating_sub(self.origin)
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds, through the C library (its vDSO call is not a cancellation
/// point). It cannot fail for this clock id; were it ever to, zero makes every latency read as
/// zero rather than stop the run.
pub fn monotonic() -> Nanos {
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |t| {
        t.tv_sec() as Nanos * 1_000_000_000 + t.tv_nsec() as Nanos
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readings_never_run_backwards_and_convert_between_clocks() {
        let clock = Clock::start();
        let (a, raw, b) = (clock.now(), monotonic(), clock.now());
        assert!(a <= clock.of(raw) && clock.of(raw) <= b);
        assert_eq!(
            clock.of(0),
            0,
            "before the clock started reads as its start"
        );
    }
}
