//! The open loop's pacing: which connection sends next, and when the thread must wake for it.
//! Each thread keeps its connections' next due instants in a heap (one entry per connection, so
//! it never grows) and arms one timerfd for the earliest; epoll's own timeout counts whole
//! milliseconds, far too coarse for a schedule whose messages must leave when due.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::os::fd::{AsFd, AsRawFd};
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use nix::sys::time::TimeSpec;
use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};

use crate::engine::clock::Nanos;

/// The shortest the thread sleeps between two wake-ups for due messages. When messages are due
/// more densely than this, each wake-up sends every one due by then, so a message leaves at most
/// this late (plus the kernel's wake-up latency); sparser ones leave on time. 50 µs keeps a
/// thread under 20,000 timer wake-ups a second at any rate, and well inside the 100 µs the README
/// promises.
pub const MIN_SLEEP: Duration = Duration::from_micros(50);

/// How long to sleep at `now` before the message due at `next` may be sent: `None` if it is due
/// already.
pub fn sleep_for(now: Nanos, next: Nanos) -> Option<Duration> {
    let wait = next.checked_sub(now).filter(|w| *w > 0)?;
    Some(Duration::from_nanos(wait).max(MIN_SLEEP))
}

/// One thread's pacer.
pub struct Pacer {
    /// (due, connection index), earliest first.
    due: BinaryHeap<Reverse<(Nanos, usize)>>,
    /// `None` if no timerfd could be made: then the loop's millisecond turns pace it, coarsely.
    timer: Option<TimerFd>,
    /// When the armed timer fires, if it is armed.
    armed: Option<Nanos>,
}

impl Pacer {
    /// A pacer for `conns` connections, its timer registered with `registry` as `token`.
    pub fn new(registry: &Registry, token: Token, conns: usize) -> Self {
        let timer = TimerFd::new(
            ClockId::CLOCK_MONOTONIC,
            TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
        )
        .map_err(std::io::Error::from)
        .and_then(|t| {
            let fd = t.as_fd().as_raw_fd();
            registry.register(&mut SourceFd(&fd), token, Interest::READABLE)?;
            Ok(t)
        });
        let timer = match timer {
            Ok(t) => Some(t),
            Err(e) => {
                eprintln!("cannot create the open loop's pacing timer ({e}); pacing to 1 ms");
                None
            }
        };
        Pacer {
            due: BinaryHeap::with_capacity(conns),
            timer,
            armed: None,
        }
    }

    /// Connection `i`'s next message is due at `at`.
    pub fn push(&mut self, at: Nanos, i: usize) {
        self.due.push(Reverse((at, i)));
    }

    /// The next connection whose message is due by `now`.
    pub fn pop_due(&mut self, now: Nanos) -> Option<usize> {
        match self.due.peek() {
            Some(Reverse((at, _))) if *at <= now => self.due.pop().map(|Reverse((_, i))| i),
            _ => None,
        }
    }

    /// After the timer's event: consumes its expiry, so the next one is a new event.
    pub fn on_timer(&mut self) {
        if let Some(t) = &self.timer {
            let _ = t.wait();
        }
        self.armed = None;
    }

    /// Arms the timer for the earliest due message, unless it is armed for that already.
    pub fn arm(&mut self, now: Nanos) {
        let Some(Reverse((next, _))) = self.due.peek() else {
            return;
        };
        let sleep = sleep_for(now, *next).unwrap_or(Duration::from_nanos(1));
        let at = now + sleep.as_nanos() as Nanos;
        // A timer armed earlier than needed only wakes the loop once too often; re-arming costs
        // a system call, so only a later one, or none, is replaced.
        if self.armed.is_some_and(|armed| armed > now && armed <= at) {
            return;
        }
        if let Some(t) = &self.timer {
            let _ = t.set(
                Expiration::OneShot(TimeSpec::from_duration(sleep)),
                TimerSetTimeFlags::empty(),
            );
            self.armed = Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::schedule::Schedule;

    /// Runs the pacer's arithmetic in virtual time: `conns` connections at `rate` messages per
    /// second each for `seconds`, the thread waking exactly when it asked to. Returns the latest
    /// any message left after it was due, and how many times the thread woke.
    fn simulate(rate: f64, conns: u64, seconds: f64) -> (Duration, u64) {
        let t0: Nanos = 1_000_000_000;
        let schedules: Vec<_> = (0..conns).map(|id| Schedule::new(t0, rate, id)).collect();
        let mut next: Vec<u64> = vec![0; conns as usize];
        let mut heap = BinaryHeap::new();
        for (i, s) in schedules.iter().enumerate() {
            heap.push(Reverse((s.due(0), i)));
        }
        let end = t0 + (seconds * 1e9) as Nanos;
        let (mut now, mut latest, mut wakes) = (t0, Duration::ZERO, 0);
        while now < end {
            wakes += 1;
            while let Some(&Reverse((at, i))) = heap.peek() {
                if at > now {
                    break;
                }
                heap.pop();
                latest = latest.max(Duration::from_nanos(now - at));
                next[i] += 1;
                heap.push(Reverse((schedules[i].due(next[i]), i)));
            }
            let Reverse((at, _)) = *heap.peek().unwrap();
            now += sleep_for(now, at)
                .expect("everything due was sent")
                .as_nanos() as Nanos;
        }
        (latest, wakes)
    }

    #[test]
    fn every_message_leaves_within_the_minimum_sleep_of_its_due_time_at_any_rate() {
        for rate in [1.0, 40.0, 400.0, 4_000.0, 40_000.0, 400_000.0] {
            let (latest, _) = simulate(rate / 10.0, 10, 0.5);
            assert!(
                latest <= MIN_SLEEP,
                "{rate} msgs/s: a message left {latest:?} late"
            );
        }
    }

    #[test]
    fn sparse_messages_leave_exactly_on_time() {
        // 400 msgs/s over 10 connections: 2.5 ms apart on average, far sparser than MIN_SLEEP.
        let (latest, wakes) = simulate(40.0, 10, 1.0);
        assert_eq!(latest, Duration::ZERO);
        assert!(wakes <= 401, "one wake-up per message: {wakes}");
    }

    #[test]
    fn dense_messages_share_wake_ups() {
        let (_, wakes) = simulate(100_000.0, 10, 0.1);
        let most = (0.1 / MIN_SLEEP.as_secs_f64()) as u64 + 1;
        assert!(
            wakes <= most,
            "{wakes} wake-ups for 100,000 messages in 0.1 s"
        );
    }

    /// A hang guard, not a bound: the timers here are set for a few milliseconds.
    const GIVE_UP: Duration = Duration::from_secs(10);

    /// Waits until the pacer's timer wakes `poll`; false if it never does.
    fn wakes(poll: &mut mio::Poll) -> bool {
        let mut events = mio::Events::with_capacity(4);
        let give_up = std::time::Instant::now() + GIVE_UP;
        while let Some(left) = give_up.checked_duration_since(std::time::Instant::now()) {
            poll.poll(&mut events, Some(left)).unwrap();
            if events.iter().any(|e| e.token() == TIMER) {
                return true;
            }
        }
        false
    }

    const TIMER: Token = Token(7);

    #[test]
    fn the_timer_wakes_the_loop_for_the_earliest_message_each_time_it_changes() {
        // The pacer's instants are the caller's; its timer runs in real time from each arm.
        const MS: Nanos = 1_000_000;
        let t0: Nanos = 1_000_000_000;
        let mut poll = mio::Poll::new().unwrap();
        let mut pacer = Pacer::new(poll.registry(), TIMER, 2);
        assert!(pacer.timer.is_some(), "a timerfd is made here");

        // Armed for a message ten seconds away, then one due sooner arrives: the timer is
        // brought forward, not left for the later one.
        pacer.push(t0 + 10_000 * MS, 1);
        pacer.arm(t0);
        pacer.push(t0 + MS, 0);
        pacer.arm(t0);
        assert!(wakes(&mut poll), "a sooner message re-arms the timer");

        // The loop may find the due message before it reads the timer's event: at the instant
        // the timer was armed for, it is spent, and the next message needs a new one.
        assert_eq!(pacer.pop_due(t0 + MS), Some(0));
        pacer.push(t0 + 3 * MS, 0);
        pacer.arm(t0 + MS);
        assert!(
            wakes(&mut poll),
            "a timer that fired at `now` is armed again"
        );

        // Likewise once its instant has passed.
        assert_eq!(pacer.pop_due(t0 + 4 * MS), Some(0));
        pacer.push(t0 + 6 * MS, 0);
        pacer.arm(t0 + 4 * MS);
        assert!(
            wakes(&mut poll),
            "a timer whose instant passed is armed again"
        );

        // After the timer's event the pacer counts on no timer, whatever the clock reads.
        pacer.on_timer();
        pacer.arm(t0 + 5 * MS);
        assert!(wakes(&mut poll), "after its event the timer is armed again");
    }

    #[test]
    fn sleep_is_none_when_due_and_never_shorter_than_the_minimum() {
        let t: Nanos = 1_000_000_000;
        assert_eq!(sleep_for(t, t), None);
        assert_eq!(sleep_for(t + 50_000, t), None);
        assert_eq!(sleep_for(t, t + 1_000), Some(MIN_SLEEP));
        assert_eq!(sleep_for(t, t + 3_000_000), Some(Duration::from_millis(3)));
    }
}
