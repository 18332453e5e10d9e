//! Per-message timeouts without a timer per message: each connection's deadline is one `u32` of
//! milliseconds in a compact array, and the loop scans the array at most once a millisecond. Ten
//! thousand connections are 40 KB to scan, a few microseconds; a timer per message would be a
//! heap operation and a registration for every round trip.

use std::time::{Duration, Instant};

/// No message outstanding: never expires.
const NONE: u32 = u32::MAX;

/// Deadlines of one thread's connections, indexed like them, in whole milliseconds from `base`.
pub struct Deadlines {
    base: Instant,
    ms: Vec<u32>,
    /// The next scan is due at this millisecond: a scan per loop turn would cost more than it
    /// buys when turns are microseconds apart.
    next_scan: u32,
}

impl Deadlines {
    /// `n` connections, none with a deadline, counting from `base`.
    pub fn new(base: Instant, n: usize) -> Self {
        Deadlines {
            base,
            ms: vec![NONE; n],
            next_scan: 0,
        }
    }

    fn ms_of(&self, t: Instant) -> u32 {
        t.saturating_duration_since(self.base)
            .as_millis()
            .min(NONE as u128 - 1) as u32
    }

    /// Connection `i` expires at `at` (rounded up to the next millisecond), or never (`None`).
    pub fn set(&mut self, i: usize, at: Option<Instant>) {
        self.ms[i] = at.map_or(NONE, |at| {
            let ms = self.ms_of(at + Duration::from_micros(999));
            ms.min(NONE - 1)
        });
    }

    /// Calls `expired(i)` for every connection whose deadline has passed at `now` and clears it;
    /// does nothing if the last scan was in this same millisecond.
    pub fn scan(&mut self, now: Instant, mut expired: impl FnMut(usize)) {
        let now = self.ms_of(now);
        if now < self.next_scan {
            return;
        }
        self.next_scan = now + 1;
        for (i, d) in self.ms.iter_mut().enumerate() {
            if *d <= now {
                *d = NONE;
                expired(i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn expired(d: &mut Deadlines, now: Instant) -> Vec<usize> {
        let mut v = Vec::new();
        d.scan(now, |i| v.push(i));
        v
    }

    #[test]
    fn a_deadline_expires_once_at_its_millisecond_and_never_before() {
        let t = Instant::now();
        let mut d = Deadlines::new(t, 3);
        d.set(0, Some(t + 2000 * MS));
        d.set(1, Some(t + 5 * MS));
        d.set(2, None);
        assert!(expired(&mut d, t + 4 * MS).is_empty());
        assert_eq!(expired(&mut d, t + 5 * MS), [1]);
        assert!(
            expired(&mut d, t + 6 * MS).is_empty(),
            "cleared once it fired"
        );
        assert!(expired(&mut d, t + 1999 * MS).is_empty());
        assert_eq!(expired(&mut d, t + 2001 * MS), [0]);
    }

    #[test]
    fn a_deadline_between_milliseconds_rounds_up_not_down() {
        let t = Instant::now();
        let mut d = Deadlines::new(t, 1);
        d.set(0, Some(t + MS + MS / 2));
        assert!(expired(&mut d, t + MS).is_empty(), "never early");
        assert_eq!(expired(&mut d, t + 2 * MS), [0]);
    }

    #[test]
    fn one_scan_per_millisecond_and_a_cleared_deadline_never_fires() {
        let t = Instant::now();
        let mut d = Deadlines::new(t, 2);
        d.set(0, Some(t + 3 * MS));
        assert!(expired(&mut d, t + 3 * MS - Duration::from_micros(1)).is_empty());
        // The same millisecond again: skipped, even though the deadline has now passed.
        d.set(1, Some(t + MS));
        assert!(expired(&mut d, t + 2 * MS + Duration::from_micros(900)).is_empty());
        d.set(1, None);
        assert_eq!(expired(&mut d, t + 3 * MS), [0]);
    }
}
