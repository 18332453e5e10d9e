//! The engine's time: nanoseconds since the client thread's start, as a `u64`. A reply costs
//! several time subtractions and comparisons (latencies, window, second, deadline); on plain
//! integers they are single instructions, where each `Instant` operation is a normalising
//! `timespec` subtraction. The clock is read once per reply and once per loop turn.
//!
//! A reading is the CPU's time-stamp counter scaled to nanoseconds (quanta: calibrated once
//! against the OS clock, and only where the counter is invariant; elsewhere quanta reads the OS
//! clock itself), anchored to `CLOCK_MONOTONIC` at the process's first reading so every thread's
//! readings compare. The counter takes a few nanoseconds where `clock_gettime` through the vDSO
//! takes tens, and the clock read per reply was the largest single part of what loadgen spends
//! per message beyond the leanest client: with it, loadgen drew 0.95× the yardstick's msgs/s
//! from the mio server at 10 clients for 1.06× its CPU per message, and 0.99× for 1.03× without
//! it (6 alternated rounds each, `scripts/client-overhead.sh`'s pairing). The scaled counter may
//! drift from `CLOCK_MONOTONIC` by the calibration's error, microseconds per second at most:
//! the window's edges can move by that much, never a latency, which is a difference of two
//! readings.

use nix::time::{ClockId, clock_gettime};
use std::sync::OnceLock;

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

/// Monotonic nanoseconds: the scaled time-stamp counter, on `CLOCK_MONOTONIC`'s scale.
pub fn monotonic() -> Nanos {
    /// The process's counter, its first reading, and `CLOCK_MONOTONIC` at that reading.
    static ANCHOR: OnceLock<(quanta::Clock, u64, Nanos)> = OnceLock::new();
    let (counter, first, at) = ANCHOR.get_or_init(|| {
        let counter = quanta::Clock::new();
        let first = counter.raw();
        (counter, first, os_monotonic())
    });
    at + counter.delta_as_nanos(*first, counter.raw())
}

/// `CLOCK_MONOTONIC` in nanoseconds, through the C library. It cannot fail for this clock id;
/// were it ever to, zero anchors the engine's clock at zero, which only shifts every reading.
fn os_monotonic() -> Nanos {
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

    #[test]
    fn readings_are_on_the_os_monotonic_scale() {
        let (before, ours, after) = (os_monotonic(), monotonic(), os_monotonic());
        // Anchored to CLOCK_MONOTONIC: within the calibration's error of the OS clock, which a
        // second's slack covers many times over, not off by an unrelated counter's origin.
        assert!(
            ours + 1_000_000_000 >= before && ours <= after + 1_000_000_000,
            "{before} <= {ours} <= {after}, give or take a second"
        );
    }
}
