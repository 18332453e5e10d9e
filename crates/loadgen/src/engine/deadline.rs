//! Per-message timeouts without a timer per message: each connection's deadline is one `u32` of
//! milliseconds in a compact array, and the loop scans the array at most once a millisecond. Ten
//! thousand connections are 40 KB to scan, a few microseconds; a timer per message would be a
//! heap operation and a registration for every round trip.
//!
//! The array need not be written per message either. A connection's deadline only moves later
//! (its oldest message in flight only gets younger), so a stored deadline may be an earlier
//! message's: a lower bound. When it passes, the scan asks the connection for its deadline now
//! and stores that instead, or fires if that has passed too. A busy connection then writes the
//! array about once per timeout, not once per message: at ten thousand connections a write per
//! message would be a cache miss per message.

use crate::engine::clock::Nanos;

const MS: Nanos = 1_000_000;

/// No message outstanding: never expires.
const NONE: u32 = u32::MAX;

/// Deadlines looked over at once by the scan: a cache line's worth.
const SCAN: usize = 16;

/// Deadlines of one thread's connections, indexed like them, in whole milliseconds of the
/// thread's clock.
pub struct Deadlines {
    ms: Vec<u32>,
    /// The next scan is due at this millisecond: a scan per loop turn would cost more than it
    /// buys when turns are microseconds apart.
    next_scan: u32,
}

/// `at`, rounded up to whole milliseconds (never early).
fn ms(at: Nanos) -> u32 {
    at.div_ceil(MS).min(NONE as u64 - 1) as u32
}

impl Deadlines {
    /// `n` connections, none with a deadline.
    pub fn new(n: usize) -> Self {
        Deadlines {
            ms: vec![NONE; n],
            next_scan: 0,
        }
    }

    /// Connection `i` expires at `at` (rounded up to the next millisecond), or never (`None`).
    pub fn set(&mut self, i: usize, at: Option<Nanos>) {
        self.ms[i] = at.map_or(NONE, ms);
    }

    /// Calls `expired(i)` for every connection whose deadline has passed at `now` and clears it;
    /// does nothing if the last scan was in this same millisecond. A stored deadline that has
    /// passed is checked against `current(i)`, the connection's deadline now: a later one is
    /// stored instead, and none (nothing in flight) clears it.
    pub fn scan(
        &mut self,
        now: Nanos,
        mut current: impl FnMut(usize) -> Option<Nanos>,
        mut expired: impl FnMut(usize),
    ) {
        let now = (now / MS).min(NONE as u64 - 1) as u32;
        if now < self.next_scan {
            return;
        }
        self.next_scan = now + 1;
        for (c, chunk) in self.ms.chunks_mut(SCAN).enumerate() {
            // Nearly every chunk has nothing due: its earliest deadline, found without a branch
            // per entry (so the search vectorizes), skips it.
            if chunk.iter().fold(NONE, |earliest, &d| earliest.min(d)) > now {
                continue;
            }
            for (j, d) in chunk.iter_mut().enumerate() {
                if *d <= now {
                    let i = c * SCAN + j;
                    *d = current(i).map_or(NONE, ms);
                    if *d <= now {
                        *d = NONE;
                        expired(i);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: Nanos = 1_000;

    /// Scans `d` at `now` as the loop would if every stored deadline were its connection's own.
    fn expired(d: &mut Deadlines, now: Nanos) -> Vec<usize> {
        let stored: Vec<Option<Nanos>> =
            d.ms.iter()
                .map(|&m| (m != NONE).then(|| u64::from(m) * MS))
                .collect();
        expired_with(d, now, &stored)
    }

    /// Scans `d` at `now` with the connections' deadlines now being `current`.
    fn expired_with(d: &mut Deadlines, now: Nanos, current: &[Option<Nanos>]) -> Vec<usize> {
        let mut v = Vec::new();
        d.scan(now, |i| current[i], |i| v.push(i));
        v
    }

    #[test]
    fn a_passed_deadline_that_has_moved_on_is_stored_again_and_fires_at_its_own_time() {
        let t: Nanos = 7_000 * MS;
        let mut d = Deadlines::new(3);
        // Each was stored for an earlier message; since then 0 sent a later one, 1's is answered
        // (nothing in flight), and 2 still waits for the message the deadline was stored for.
        for i in 0..3 {
            d.set(i, Some(t + 10 * MS));
        }
        let now = [Some(t + 50 * MS), None, Some(t + 10 * MS)];
        assert_eq!(
            expired_with(&mut d, t + 10 * MS, &now),
            [2],
            "only 2 is late"
        );
        assert!(
            expired_with(&mut d, t + 49 * MS, &now).is_empty(),
            "never early"
        );
        assert_eq!(expired_with(&mut d, t + 50 * MS, &now), [0]);
        assert!(
            expired_with(&mut d, t + 90 * MS, &now).is_empty(),
            "1 was cleared, 0 and 2 fired once"
        );
    }

    #[test]
    fn connections_expire_by_their_own_index_however_many_there_are() {
        let mut d = Deadlines::new(5 * SCAN + 3);
        let due = [0, SCAN - 1, SCAN + 1, 3 * SCAN, 5 * SCAN + 2];
        for &i in &due {
            d.set(i, Some(10 * MS));
        }
        // One later, in a chunk of its own with an earlier one: only the earlier fires.
        d.set(3 * SCAN + 5, Some(20 * MS));
        assert_eq!(expired(&mut d, 10 * MS), due);
        assert_eq!(expired(&mut d, 20 * MS), [3 * SCAN + 5]);
    }

    #[test]
    fn a_deadline_expires_once_at_its_millisecond_and_never_before() {
        let t: Nanos = 7_000 * MS;
        let mut d = Deadlines::new(3);
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
        let t: Nanos = 7_000 * MS;
        let mut d = Deadlines::new(1);
        d.set(0, Some(t + MS + MS / 2));
        assert!(expired(&mut d, t + MS).is_empty(), "never early");
        assert_eq!(expired(&mut d, t + 2 * MS), [0]);
    }

    #[test]
    fn one_scan_per_millisecond_and_a_cleared_deadline_never_fires() {
        let t: Nanos = 7_000 * MS;
        let mut d = Deadlines::new(2);
        d.set(0, Some(t + 3 * MS));
        assert!(expired(&mut d, t + 3 * MS - US).is_empty());
        // The same millisecond again: skipped, even though the deadline has now passed.
        d.set(1, Some(t + MS));
        assert!(expired(&mut d, t + 2 * MS + 900 * US).is_empty());
        d.set(1, None);
        assert_eq!(expired(&mut d, t + 3 * MS), [0]);
    }
}
