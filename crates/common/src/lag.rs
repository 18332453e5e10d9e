//! The event loop's own lag: how late it runs a task that is ready, measured inside the server.
//!
//! A ticker thread marks a moment every [`LAG_PERIOD`] and hands it to a probe task on the loop;
//! the probe records how long the hand-over waited. A loop that keeps its promise runs the probe
//! within microseconds; a loop stuck in a blocking call runs it only when the call returns.
//! Node's `monitorEventLoopDelay` measures the same thing with a timer; a ticker thread is used
//! here instead because runtimes' timers differ in granularity (tokio's is 1 ms), which would
//! show up as lag that is not there.

use std::sync::Mutex;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use echo_proto::LagSummary;
use hdrhistogram::Histogram;

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

/// The hand-over from the ticker thread to the probe task: the oldest tick not yet taken, and
/// the probe's waker. The ticker wakes the probe only after letting go of the lock: a runtime's
/// wake from another thread may wait for its loop to make room (compio's does), and the loop,
/// polling the probe, takes this lock. (A channel that wakes under its own lock can deadlock so.)
#[derive(Default)]
pub(crate) struct Handover(Mutex<Slot>);

#[derive(Default)]
struct Slot {
    tick: Option<Instant>,
    waker: Option<Waker>,
    /// The probe is gone: the ticker stops.
    closed: bool,
}

impl Handover {
    /// Hands `tick` over, unless an earlier one is still waiting: a blocked loop is charged from
    /// the first tick it missed.
    pub fn send(&self, tick: Instant) {
        let waker = {
            let mut slot = self.slot();
            slot.tick.get_or_insert(tick);
            slot.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The next tick.
    pub async fn next(&self) -> Instant {
        std::future::poll_fn(|cx| {
            let mut slot = self.slot();
            match slot.tick.take() {
                Some(tick) => Poll::Ready(tick),
                None => {
                    slot.waker = Some(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// The probe will take no more ticks.
    pub fn close(&self) {
        self.slot().closed = true;
    }

    fn is_closed(&self) -> bool {
        self.slot().closed
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends a tick every period while `serving()` says so, until the probe closes the hand-over.
/// An idle server's loop is left asleep.
pub(crate) fn ticker(handover: &Handover, serving: impl Fn() -> bool) {
    while !handover.is_closed() {
        std::thread::sleep(LAG_PERIOD);
        if serving() {
            handover.send(Instant::now());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

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
    fn the_probe_gets_the_oldest_tick_and_the_ticker_wakes_it_outside_the_lock() {
        let handover = Arc::new(Handover::default());
        let first = Instant::now();
        handover.send(first);
        handover.send(first + Duration::from_millis(5));
        assert_eq!(
            futures_lite::future::block_on(handover.next()),
            first,
            "a tick not yet taken is kept, not replaced"
        );
        // The probe waits; its waker tries the hand-over's lock, which a ticker waking under
        // the lock would still hold (and a loop polling the probe would wait for).
        let mut next = Box::pin(handover.next());
        let takes = Arc::new(TakesTheLock(Arc::clone(&handover), AtomicBool::new(false)));
        let waker = Waker::from(Arc::clone(&takes));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(next.as_mut().poll(&mut cx).is_pending());
        let later = first + Duration::from_millis(20);
        handover.send(later);
        assert!(
            takes.1.load(SeqCst),
            "the probe was woken while the ticker held the lock"
        );
        assert_eq!(next.as_mut().poll(&mut cx), Poll::Ready(later));
        handover.close();
        ticker(&handover, || {
            panic!("a closed hand-over stops the ticker before it ticks")
        });
    }

    /// A waker that says whether the hand-over's lock was free when it was woken.
    struct TakesTheLock(Arc<Handover>, AtomicBool);

    impl std::task::Wake for TakesTheLock {
        fn wake(self: Arc<Self>) {
            let free = self.0.0.try_lock().is_ok();
            self.1.store(free, SeqCst);
        }
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
