//! The open loop's arithmetic: when each message is due, and what its latency is. Times are
//! nanoseconds on the client thread's clock ([`crate::engine::clock`]); pure functions of the
//! instants given, so they are tested without a clock.

use std::sync::Arc;

use crate::engine::ramp::Profile;

/// When the messages of one open-loop connection are due.
#[derive(Debug, Clone)]
pub struct Schedule(Pace);

#[derive(Debug, Clone)]
enum Pace {
    /// A steady rate: one message every `interval_ns` from `t0`.
    Even { t0: u64, interval_ns: f64 },
    /// `--rate-ramp`: the total rate's profile from time 0 (shared by every connection), and
    /// this connection's place among the `connections` that share it.
    Ramp {
        profile: Arc<Profile>,
        id: u64,
        connections: usize,
    },
}

impl Schedule {
    /// Connection `id` sending `rate` messages per second from `start`. Connections are spread
    /// over one interval, by the golden ratio, so that they do not all send at the same instant.
    pub fn new(start: u64, rate: f64, id: u64) -> Self {
        let interval_ns = 1e9 / rate;
        let spread = (id as f64 * 0.618_033_988_749_895).fract();
        Schedule(Pace::Even {
            t0: start + (interval_ns * spread) as u64,
            interval_ns,
        })
    }

    /// Connection `id` of `connections` sending its share of a rate that follows `profile`
    /// from time 0, spread as [`Schedule::new`] spreads them.
    pub fn ramp(profile: Arc<Profile>, id: u64, connections: usize) -> Self {
        Schedule(Pace::Ramp {
            profile,
            id,
            connections,
        })
    }

    /// When message `seq` is due.
    pub fn due(&self, seq: u64) -> u64 {
        match &self.0 {
            Pace::Even { t0, interval_ns } => t0 + (interval_ns * seq as f64) as u64,
            Pace::Ramp {
                profile,
                id,
                connections,
            } => profile.due_ns(seq, *id, *connections),
        }
    }
}

/// A message's latency in nanoseconds: corrected (from when it was due) and uncorrected (from
/// when it actually left). A sender held back — by a full pipeline, a busy client — leaves late;
/// only the corrected figure charges that wait, as a user who wanted to send then would feel it.
pub fn latency(due: u64, sent: u64, done: u64) -> (u64, u64) {
    (done.saturating_sub(due), done.saturating_sub(sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    const US: u64 = 1_000;
    const MS: u64 = 1_000_000;

    #[test]
    fn messages_are_due_at_even_intervals_from_a_spread_start() {
        let start = 5 * MS;
        let s = Schedule::new(start, 1000.0, 0);
        assert_eq!(s.due(0), start);
        assert_eq!(s.due(5) - s.due(4), MS);
        assert_eq!(s.due(1000) - s.due(0), 1_000 * MS);
        let offsets: Vec<u64> = (1..50)
            .map(|id| Schedule::new(start, 1000.0, id).due(0) - start)
            .collect();
        assert!(
            offsets.iter().all(|o| *o < MS),
            "every start is within the first interval"
        );
        let mut sorted = offsets.clone();
        sorted.sort();
        sorted.dedup();
        assert_eq!(
            sorted.len(),
            offsets.len(),
            "no two connections start together"
        );
    }

    #[test]
    fn a_stall_is_charged_to_every_message_it_held_back() {
        // 1000 msgs/s; the server stalls for 100 ms, then answers everything at once. The sender
        // could not send while its pipeline was full, so message k left at 100 ms, not at k ms.
        let t = 0;
        let s = Schedule::new(t, 1000.0, 0);
        let done = t + 100 * MS;
        let (corrected, uncorrected): (Vec<u64>, Vec<u64>) = (1..100)
            .map(|k| latency(s.due(k), done - 10 * US, done))
            .unzip();
        assert!(
            uncorrected.iter().all(|&ns| ns == 10 * US),
            "a naive client sees 10 us each"
        );
        assert_eq!(
            corrected[0],
            99 * MS,
            "message 1 waited 99 ms from when it was due"
        );
        assert_eq!(corrected[98], MS);
        let mean = corrected.iter().sum::<u64>() / corrected.len() as u64;
        assert_eq!(mean, 50 * MS, "the stall costs 50 ms on average, not 10 us");
    }

    #[test]
    fn on_time_messages_read_the_same_either_way() {
        let s = Schedule::new(MS, 100.0, 3);
        let (due, done) = (s.due(7), s.due(7) + 40 * US);
        assert_eq!(latency(due, due, done), (40 * US, 40 * US));
        assert_eq!(
            latency(due, due, due - MS),
            (0, 0),
            "a clock step backwards is not negative"
        );
    }
}
