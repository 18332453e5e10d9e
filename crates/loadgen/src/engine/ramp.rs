//! A rate that rises step by step across the window (`--rate-ramp FROM..TO/STEP`), and the open
//! loop's schedule under it. Pure arithmetic on seconds, tested without a clock.
//!
//! `--rate-ramp 10k..100k/1s` with `--duration 10s` asks for 10,000 messages per second in the
//! first second of the window, 20,000 in the second, and so on to 100,000 in the tenth: the
//! window is cut into `ceil(duration / STEP)` steps whose rates run evenly from FROM to TO (the
//! last step is shorter if STEP does not divide the duration). The warm-up runs at FROM; past
//! the window the rate stays at TO.
//!
//! The schedule integrates the rate: if N(t) messages are due by time t, message n is due when
//! N(t) = n. The rate is constant within a step, so N is piecewise linear and is inverted exactly
//! by finding the step that message n falls in. One [`Profile`] of the total rate serves every
//! connection: with C connections each sending 1/C of it, connection message `seq` is due when
//! the total count reaches `(seq + spread) * C`, which with a constant rate is exactly the
//! evenly spaced schedule of [`crate::engine::schedule::Schedule`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use echo_common::units::parse_duration;

/// A stepwise-rising (or falling) rate, as given on the command line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ramp {
    /// Messages per second in the first step (and the warm-up).
    pub from: f64,
    /// Messages per second in the last step.
    pub to: f64,
    /// How long each step lasts.
    pub step: Duration,
}

/// Parses a rate: a positive number with an optional `k` (thousand) or `M` (million) suffix.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let s = s.trim();
    let (number, scale) = match s.strip_suffix(['k', 'K']) {
        Some(n) => (n, 1e3),
        None => match s.strip_suffix('M') {
            Some(n) => (n, 1e6),
            None => (s, 1.0),
        },
    };
    let rate = number
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|r| r.is_finite() && *r > 0.0)
        .ok_or_else(|| {
            format!("'{s}' is not a rate: write a positive number of messages per second, e.g. 5000, 20k or 1.5M")
        })?;
    Ok(rate)
}

impl FromStr for Ramp {
    type Err = String;

    fn from_str(s: &str) -> Result<Ramp, String> {
        let usage = "write it as FROM..TO/STEP, e.g. 10k..100k/1s";
        let (rates, step) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' has no step duration: {usage}"))?;
        let (from, to) = rates
            .split_once("..")
            .ok_or_else(|| format!("'{rates}' in '{s}' is not a range of rates: {usage}"))?;
        let step = parse_duration(step)?;
        if step.is_zero() {
            return Err(format!("'{s}': a step must last longer than zero"));
        }
        Ok(Ramp {
            from: parse_rate(from)?,
            to: parse_rate(to)?,
            step,
        })
    }
}

impl fmt::Display for Ramp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}..{}/{:?}", self.from, self.to, self.step)
    }
}

impl Ramp {
    /// How many steps a window of `window` holds (the last may be cut short).
    pub fn steps(&self, window: Duration) -> usize {
        (window.as_secs_f64() / self.step.as_secs_f64())
            .ceil()
            .max(1.0) as usize
    }

    /// The rates of the steps of a `window`, from FROM to TO evenly.
    pub fn rates(&self, window: Duration) -> Vec<f64> {
        let n = self.steps(window);
        if n == 1 {
            return vec![self.from];
        }
        (0..n)
            .map(|i| self.from + (self.to - self.from) * i as f64 / (n - 1) as f64)
            .collect()
    }

    /// The schedule's rate over time, for a run that warms up for `warmup` (at FROM) and then
    /// ramps across `window`. Time 0 is the start of the warm-up.
    pub fn profile(&self, warmup: Duration, window: Duration) -> Profile {
        let step = self.step.as_secs_f64();
        let start = warmup.as_secs_f64();
        let mut profile = Profile::constant(self.from);
        for (i, rate) in self.rates(window).into_iter().enumerate().skip(1) {
            profile.then(start + i as f64 * step, rate);
        }
        profile
    }
}

/// One stretch of constant rate.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Segment {
    /// When it starts, in seconds from the schedule's start.
    at: f64,
    /// Messages due before it starts.
    before: f64,
    /// Messages per second within it.
    rate: f64,
}

/// A piecewise-constant rate from time 0 on: what is due when.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// In time order; the first starts at 0, the last lasts for ever.
    segments: Vec<Segment>,
}

impl Profile {
    /// `rate` messages per second for ever.
    pub fn constant(rate: f64) -> Profile {
        Profile {
            segments: vec![Segment {
                at: 0.0,
                before: 0.0,
                rate,
            }],
        }
    }

    /// From `at` seconds on, `rate` messages per second. `at` must not precede the last change.
    pub fn then(&mut self, at: f64, rate: f64) {
        let last = *self.segments.last().expect("a profile has a segment");
        assert!(at >= last.at, "a profile's changes are in time order");
        self.segments.push(Segment {
            at,
            before: last.before + (at - last.at) * last.rate,
            rate,
        });
    }

    /// The segment in force at time `t` (the first one before time 0).
    fn at_time(&self, t: f64) -> &Segment {
        let i = self.segments.partition_point(|s| s.at <= t);
        &self.segments[i.saturating_sub(1)]
    }

    /// Messages per second asked for at time `t`. (The engine needs only the integral and its
    /// inverse; the tests read the rate itself through this.)
    #[cfg(test)]
    pub fn rate_at(&self, t: f64) -> f64 {
        self.at_time(t).rate
    }

    /// Messages due in `[0, t)`: the rate integrated up to `t`.
    pub fn messages_by(&self, t: f64) -> f64 {
        let s = self.at_time(t.max(0.0));
        s.before + (t.max(0.0) - s.at) * s.rate
    }

    /// When the count of messages due reaches `n`: message `n` (from 0) is due then.
    pub fn due(&self, n: f64) -> f64 {
        let i = self.segments.partition_point(|s| s.before <= n);
        let s = &self.segments[i.saturating_sub(1)];
        s.at + (n - s.before) / s.rate
    }

    /// When message `seq` of connection `id` of `connections` is due, in nanoseconds from time
    /// 0. Connections are spread over one interval by the golden ratio, as
    /// [`crate::engine::schedule::Schedule`] spreads them.
    pub fn due_ns(&self, seq: u64, id: u64, connections: usize) -> u64 {
        let spread = (id as f64 * GOLDEN).fract();
        (self.due((seq as f64 + spread) * connections as f64) * 1e9).max(0.0) as u64
    }

    /// Messages per second asked for on average over `[a, b)`: what a timeline's second asked.
    pub fn asked_between(&self, a: f64, b: f64) -> f64 {
        (self.messages_by(b) - self.messages_by(a)) / (b - a)
    }
}

/// The fractional part of the golden ratio: successive multiples of it spread evenly over [0, 1).
const GOLDEN: f64 = 0.618_033_988_749_895;

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn ramp(s: &str) -> Ramp {
        s.parse().unwrap()
    }

    /// Equal to within a rounding error of f64 arithmetic.
    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
    }

    #[test]
    fn ramps_parse_with_suffixes_and_any_duration() {
        assert_eq!(
            ramp("10k..100k/1s"),
            Ramp {
                from: 10_000.0,
                to: 100_000.0,
                step: S
            }
        );
        assert_eq!(
            ramp("500..1.5M/250ms"),
            Ramp {
                from: 500.0,
                to: 1_500_000.0,
                step: Duration::from_millis(250)
            }
        );
        assert_eq!(ramp("20K..2k/2s").to, 2000.0, "a falling ramp is allowed");
        assert_eq!(ramp("10k..100k/1s").to_string(), "10000..100000/1s");
    }

    #[test]
    fn bad_ramps_say_what_is_wrong() {
        let err = |s: &str| s.parse::<Ramp>().unwrap_err();
        assert!(err("10k..100k").contains("no step duration"));
        assert!(err("10k-100k/1s").contains("not a range"));
        assert!(err("10k..100k/1").contains("no unit"));
        assert!(err("10k..100k/0s").contains("longer than zero"));
        assert!(err("0..100k/1s").contains("'0' is not a rate"));
        assert!(err("10k..-5/1s").contains("'-5' is not a rate"));
        assert!(err("10x..20k/1s").contains("'10x' is not a rate"));
        assert!(err("..20k/1s").contains("is not a rate"));
    }

    #[test]
    fn the_window_is_cut_into_steps_from_from_to_to() {
        let r = ramp("10k..100k/1s");
        assert_eq!(r.steps(10 * S), 10);
        assert_eq!(
            r.rates(10 * S),
            [10e3, 20e3, 30e3, 40e3, 50e3, 60e3, 70e3, 80e3, 90e3, 100e3]
        );
        assert_eq!(
            r.steps(Duration::from_millis(9500)),
            10,
            "a short last step"
        );
        assert_eq!(ramp("1k..4k/3s").rates(10 * S), [1e3, 2e3, 3e3, 4e3]);
        assert_eq!(r.rates(S), [10e3], "one step: the window runs at FROM");
    }

    #[test]
    fn the_rate_asked_at_each_instant() {
        // 2 s of warm-up at 1k, then 1k, 2k, 3k for a second each, then 3k for ever.
        let p = ramp("1k..3k/1s").profile(2 * S, 3 * S);
        let at = |t| p.rate_at(t);
        assert_eq!([at(-1.0), at(0.0), at(1.99), at(2.0), at(2.99)], [1e3; 5]);
        assert_eq!([at(3.0), at(3.5), at(4.0), at(100.0)], [2e3, 2e3, 3e3, 3e3]);
        assert_eq!(p.asked_between(3.0, 4.0), 2e3);
        assert_eq!(p.asked_between(3.5, 4.5), 2.5e3, "half a second of each");
    }

    #[test]
    fn messages_are_due_where_the_integrated_rate_reaches_them() {
        // 1000/s for 1 s, then 2000/s.
        let mut p = Profile::constant(1000.0);
        p.then(1.0, 2000.0);
        assert_eq!(p.messages_by(1.0), 1000.0);
        assert_eq!(p.messages_by(1.25), 1500.0);
        assert_eq!(p.messages_by(-5.0), 0.0);
        assert_eq!(p.due(0.0), 0.0);
        assert_eq!(p.due(500.0), 0.5);
        assert_eq!(p.due(1000.0), 1.0, "the first message of the new step");
        assert_eq!(p.due(1500.0), 1.25);
        assert_eq!(p.due(3000.0), 2.0);
        for n in [0.0, 1.0, 999.5, 1000.0, 1234.5, 1e6] {
            assert!(
                close(p.messages_by(p.due(n)), n),
                "due inverts messages_by at {n}"
            );
        }
    }

    #[test]
    fn a_constant_profile_is_the_evenly_spaced_schedule() {
        // The same arithmetic as Schedule: start + (seq + spread) / rate per connection.
        let (rate, connections) = (50_000.0, 100);
        let p = Profile::constant(rate);
        let per_conn = rate / connections as f64;
        for id in [0, 1, 7, 99] {
            let spread = (id as f64 * GOLDEN).fract();
            for seq in [0, 1, 10, 12_345] {
                let expected = (seq as f64 + spread) / per_conn;
                let got = p.due_ns(seq, id, connections) as f64 / 1e9;
                // To the nanosecond the schedule counts in.
                assert!(
                    (got - expected).abs() <= 1e-9,
                    "id {id} seq {seq}: {got} vs {expected}"
                );
            }
        }
    }

    #[test]
    fn every_step_sends_what_it_asks_across_all_connections() {
        // 100 connections under 10k..50k/1s: count the messages due in each second.
        let (warmup, window, connections) = (S, 5 * S, 100);
        let r = ramp("10k..50k/1s");
        let p = r.profile(warmup, window);
        let mut per_second = [0u64; 8];
        for id in 0..connections as u64 {
            for seq in 0.. {
                let t = p.due_ns(seq, id, connections) as f64 / 1e9;
                if t >= per_second.len() as f64 {
                    break;
                }
                per_second[t as usize] += 1;
            }
        }
        // Second 0 is the warm-up at FROM; the window's steps follow; then TO holds.
        let asked = [10e3, 10e3, 20e3, 30e3, 40e3, 50e3, 50e3, 50e3];
        for (second, (&sent, &want)) in per_second.iter().zip(&asked).enumerate() {
            let off = sent as f64 - want;
            assert!(
                off.abs() <= connections as f64,
                "second {second}: {sent} due, {want} asked"
            );
        }
    }

    #[test]
    fn due_times_only_move_forward() {
        let p = ramp("100k..1k/500ms").profile(S, 3 * S);
        let dues: Vec<u64> = (0..20_000).map(|seq| p.due_ns(seq, 3, 10)).collect();
        assert!(dues.windows(2).all(|w| w[0] < w[1]));
    }
}
