//! The event loop's own lag: how late it runs a task that is ready, measured inside the server.
//!
//! A ticker thread marks a moment every [`LAG_PERIOD`] and hands it to a probe task on the loop;
//! the probe records how long the hand-over waited. A loop that keeps its promise runs the probe
//! within microseconds; a loop stuck in a blocking call runs it only when the call returns.
//! Node's `monitorEventLoopDelay` measures the same thing with a timer; a ticker thread is used
//! here instead because runtimes' timers differ in granularity (tokio's is 1 ms), which would
//! show up as lag that is not there.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// How often the probe asks to run: Node's `monitorEventLoopDelay` samples every 10 ms by
/// default, too. Every millisecond cost the fastest servers 4% of their round trips
/// (`scripts/fidelity.sh`, tokio-current), a thousand wake-ups a second on the loop's CPU, and
/// bought no lag that 10 ms misses: a tick waits for the loop however long the loop is stuck.
pub const LAG_PERIOD: Duration = Duration::from_millis(10);

/// The longest lag recorded exactly; a longer one is recorded as this. A minute of blocking is a
/// hung server, not a measurement.
const MAX_LAG: Duration = Duration::from_secs(60);

pub(crate) struct Lag(Mutex<Histogram<u64>>);

impl Default for Lag {
    fn default() -> Self {
        let histogram = Histogram::new_with_bounds(1, MAX_LAG.as_nanos() as u64, 3)
            .expect("constant histogram bounds are valid");
        Lag(Mutex::new(histogram))
    }
}

impl Lag {
    /// Records one probe's lag. Once per period, so the lock is uncontended.
    pub fn record(&self, lag: Duration) {
        let ns = (lag.as_nanos() as u64).clamp(1, MAX_LAG.as_nanos() as u64);
        self.histogram().saturating_record(ns);
    }

    pub fn summary(&self) -> LagSummary {
        let h = self.histogram();
        LagSummary {
            samples: h.len(),
            mean: h.mean() as u64,
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
        }
    }

    fn histogram(&self) -> std::sync::MutexGuard<'_, Histogram<u64>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The loop-lag distribution, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    /// Probes recorded (one per period while at least one connection was open).
    pub samples: u64,
    /// Mean lag.
    pub mean: u64,
    /// Median lag.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest lag seen.
    pub max: u64,
}

/// Sends a tick every period while `serving()` says so, until the probe goes away. An idle
/// server's loop is left asleep. A tick the probe has not taken yet is kept, not replaced, so a
/// blocked loop is charged from the first tick it missed.
pub(crate) fn ticker(tx: async_channel::Sender<Instant>, serving: impl Fn() -> bool) {
    while !tx.is_closed() {
        std::thread::sleep(LAG_PERIOD);
        if serving() {
            let _ = tx.try_send(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_reads_the_recorded_distribution() {
        // Values below 2048 ns, which the histogram holds exactly: 50 probes of 1 µs, 49 of
        // 1.5 µs and one of 2 µs.
        let lag = Lag::default();
        for (ns, times) in [(1_000, 50), (1_500, 49), (2_000, 1)] {
            for _ in 0..times {
                lag.record(Duration::from_nanos(ns));
            }
        }
        let s = lag.summary();
        assert_eq!(
            (s.samples, s.p50, s.p99, s.p999, s.max),
            (100, 1_000, 1_500, 2_000, 2_000)
        );
        assert_eq!(s.mean, (50 * 1_000 + 49 * 1_500 + 2_000) / 100);
    }

    #[test]
    fn a_lag_beyond_the_bound_is_kept_at_the_bound() {
        let lag = Lag::default();
        lag.record(Duration::ZERO);
        lag.record(MAX_LAG * 2);
        let s = lag.summary();
        assert_eq!(s.samples, 2);
        assert!(s.max >= MAX_LAG.as_nanos() as u64, "{s:?}");
    }
}
