//! Capacity under a latency target: the highest open-loop rate a server sustains while keeping
//! its promise (`--find-capacity --slo p99=1ms`).
//!
//! A closed loop's maximum rewards a server for letting latency grow without bound; an operator
//! wants the highest rate whose tail stays within a target. The search here is a pure function
//! of a measurement callback (ask a rate, get what it achieved and its latency at the target's
//! percentile), so it is tested against fake servers with a known knee, without a clock:
//!
//! 1. **Bracket.** Measure the start rate. If it keeps the promise, double until a rate breaks
//!    it; if it breaks it, halve until one keeps it.
//! 2. **Bisect** between the highest rate that kept the promise and the lowest that broke it,
//!    until they are within the stated precision of each other.
//!
//! Every step is bounded: the search ends after `max_steps` measurements whatever happens, and
//! says so. A rate *keeps the promise* when its latency at the percentile (coordinated omission
//! corrected) is within the target, the verified replies per second matched the rate asked
//! (within a tolerance), and nothing failed. Counting replies, not sends, matters: a server that
//! serves one connection and ignores the rest (`blocking`) answers its one client quickly, and
//! only the missing replies give it away. Near the knee a server's figures are noisy, so a search can meet a rate that passes
//! above one that failed; the answer is always the bracket of what was measured.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use echo_common::units::parse_duration;
use echo_report::{CapacitySearch, CapacityStep, Latency};

/// A latency promise: the `percentile`th percentile of latency is at most `limit`
/// (`p99=1ms`, `p99.9=500us`, `p50=200us`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// In (0, 100].
    pub percentile: f64,
    pub limit: Duration,
}

impl FromStr for Slo {
    type Err = String;

    fn from_str(s: &str) -> Result<Slo, String> {
        let usage = "write it as pPERCENTILE=DURATION, e.g. p99=1ms or p99.9=500us";
        let (p, limit) = s
            .trim()
            .split_once('=')
            .ok_or_else(|| format!("'{s}' is not a latency target: {usage}"))?;
        let percentile: f64 = p
            .strip_prefix('p')
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("'{p}' in '{s}' is not a percentile: {usage}"))?;
        if !(percentile > 0.0 && percentile <= 100.0) {
            return Err(format!(
                "'{p}' in '{s}': a percentile is above 0 and at most 100"
            ));
        }
        let limit = parse_duration(limit)?;
        if limit.is_zero() {
            return Err(format!("'{s}': a latency target of zero cannot be met"));
        }
        Ok(Slo { percentile, limit })
    }
}

impl fmt::Display for Slo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "p{}={:?}", self.percentile, self.limit)
    }
}

/// What one step measured at the rate it asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Verified replies per second in the window.
    pub achieved: f64,
    /// Latency at the target's percentile, from each message's due time, in nanoseconds.
    pub latency_ns: u64,
    /// Errors of any kind (refused, reset, timeout, corrupt, ...).
    pub errors: u64,
    /// The load generator's CPUs were saturated and the server's were not: a shortfall in this
    /// window is the client's, not the server's.
    pub client_limited: bool,
}

/// Why a rate kept or broke the promise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Kept,
    /// The latency at the percentile was over the target.
    TooSlow,
    /// Fewer replies came back than the rate asked for: the server (or the client) fell behind,
    /// or left some connections unanswered.
    FellBehind,
    /// A connection failed.
    Failed,
    /// Too slow or behind, but the load generator, not the server, ran out of CPU: the rate is
    /// beyond what this client can measure here, whatever the server can do.
    ClientLimited,
}

impl Verdict {
    pub fn kept(self) -> bool {
        self == Verdict::Kept
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Kept => "kept",
            Verdict::TooSlow => "too slow",
            Verdict::FellBehind => "fell behind",
            Verdict::Failed => "errors",
            Verdict::ClientLimited => "client limit",
        })
    }
}

/// How a search runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Search {
    /// The first rate measured, messages per second.
    pub start: f64,
    /// Stop bisecting when the bracket is narrower than this share of its lower end.
    pub precision: f64,
    /// A rate kept its promise only if its replies per second fell short of the rate asked by at
    /// most this share.
    pub tolerance: f64,
    /// The most measurements a search makes.
    pub max_steps: usize,
    /// Windows a rate must break the promise in, one after another, before it counts as
    /// broken (the search measures a failing rate again until then).
    pub tries: usize,
    /// No rate above this is asked for (the client's own limit, say).
    pub max_rate: f64,
}

/// Where a search starts when `--rate` does not say: below every server's capacity here at 100
/// clients, so the first steps double rather than halve.
pub const START_RATE: f64 = 10_000.0;
/// The default precision: 5% of the rate, reached from a factor-2 bracket in five bisections,
/// finer than the run-to-run noise of this machine (up to ±20%) would justify anyway.
pub const PRECISION: f64 = 0.05;
/// The default rate tolerance: the schedule spreads connections evenly (by the golden ratio), so
/// a window of a second or more at 100 msgs/s or more is due within 1% of the rate asked, and a
/// server that keeps up answers them all; 2% leaves room for that and still catches a server
/// that falls behind.
pub const TOLERANCE: f64 = 0.02;
/// The default bound on steps: up to 2^10 = 1024 times the start rate in either direction (10
/// doublings or halvings), then five bisections, each failing rate measured twice.
pub const MAX_STEPS: usize = 30;
/// Windows a rate must fail in before it counts as broken: on a shared machine another
/// process's burst can break one window, while a server that cannot keep the rate breaks both.
pub const TRIES: usize = 2;
/// The lowest rate a search asks for: below it, a second's window holds too few messages to
/// tell a shortfall of 2% from the rounding of the schedule (see [`TOLERANCE`]).
pub const MIN_RATE: f64 = 100.0;

impl Search {
    /// A search from `start` with the default precision, tolerance and bounds.
    pub fn from(start: f64) -> Search {
        Search {
            start,
            precision: PRECISION,
            tolerance: TOLERANCE,
            max_steps: MAX_STEPS,
            tries: TRIES,
            max_rate: f64::INFINITY,
        }
    }

    /// Whether `m`, measured at `asked` messages per second, kept `slo`.
    pub fn judge(&self, slo: &Slo, asked: f64, m: &Measurement) -> Verdict {
        let broke = if m.errors > 0 {
            return Verdict::Failed;
        } else if m.achieved < asked * (1.0 - self.tolerance) {
            Verdict::FellBehind
        } else if m.latency_ns > slo.limit.as_nanos() as u64 {
            Verdict::TooSlow
        } else {
            return Verdict::Kept;
        };
        if m.client_limited {
            Verdict::ClientLimited
        } else {
            broke
        }
    }
}

/// One measured step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Messages per second asked for.
    pub asked: f64,
    pub measured: Measurement,
    pub verdict: Verdict,
}

/// Where the capacity lies, from the steps measured so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer {
    /// Nothing measured yet.
    Unknown,
    /// `kept` kept the promise, `broke` broke it, and they are within the precision.
    Found { kept: f64, broke: f64 },
    /// As `Found`, but the steps ran out first: the bracket is wider than the precision.
    Imprecise { kept: f64, broke: f64 },
    /// Ctrl-C stopped the search before it was done: whatever bracket it had (a rate that
    /// kept the promise, one that broke it, or both), which says so wherever it is shown.
    Stopped {
        kept: Option<f64>,
        broke: Option<f64>,
    },
    /// Every rate broke the promise, the lowest at `broke` (halving ran out of steps or
    /// reached [`MIN_RATE`]).
    Below { broke: f64 },
    /// Every rate kept it, up to `kept` (the bound on steps or `max_rate` stopped the search).
    AtLeast { kept: f64 },
    /// `kept` kept the promise, and the rate above it that broke it, `broke`, broke it only
    /// because the load generator ran out of CPU: the server's capacity is at least `kept`, and
    /// beyond what this client can measure.
    ClientLimited { kept: f64, broke: f64 },
}

impl Answer {
    /// The capacity to quote: the highest rate measured that kept the promise.
    pub fn rate(&self) -> Option<f64> {
        match *self {
            Answer::Found { kept, .. }
            | Answer::Imprecise { kept, .. }
            | Answer::AtLeast { kept }
            | Answer::ClientLimited { kept, .. } => Some(kept),
            Answer::Stopped { kept, .. } => kept,
            Answer::Unknown | Answer::Below { .. } => None,
        }
    }
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Answer::Unknown => write!(f, "not measured"),
            Answer::Found { kept, broke } => {
                write!(
                    f,
                    "{kept:.0} msgs/s (kept at {kept:.0}, broken at {broke:.0})"
                )
            }
            Answer::Imprecise { kept, broke } => write!(
                f,
                "{kept:.0} msgs/s (kept at {kept:.0}, broken at {broke:.0}; \
                 steps ran out before the precision was reached)"
            ),
            Answer::Stopped {
                kept: Some(kept),
                broke: Some(broke),
            } => write!(
                f,
                "{kept:.0} msgs/s (kept at {kept:.0}, broken at {broke:.0}; \
                 stopped by Ctrl-C before the precision was reached)"
            ),
            Answer::Stopped {
                kept: Some(kept),
                broke: None,
            } => write!(
                f,
                "at least {kept:.0} msgs/s (no rate measured broke it; \
                 stopped by Ctrl-C before a higher rate was measured)"
            ),
            Answer::Stopped {
                kept: None,
                broke: Some(broke),
            } => write!(
                f,
                "below {broke:.0} msgs/s (every rate measured broke it; \
                 stopped by Ctrl-C before a lower rate was measured)"
            ),
            Answer::Stopped {
                kept: None,
                broke: None,
            } => write!(f, "not measured (stopped by Ctrl-C before the first step)"),
            Answer::Below { broke } => {
                write!(f, "below {broke:.0} msgs/s (every rate measured broke it)")
            }
            Answer::AtLeast { kept } => {
                write!(f, "at least {kept:.0} msgs/s (no rate measured broke it)")
            }
            Answer::ClientLimited { kept, broke } => write!(
                f,
                "at least {kept:.0} msgs/s (kept at {kept:.0}; at {broke:.0} the load \
                 generator's CPU, not the server's, was the limit)"
            ),
        }
    }
}

/// A search in progress: asks for the next rate, takes its measurement, and can say where the
/// capacity lies after any step (so a search cut short still reports what it found).
#[derive(Debug, Clone)]
pub struct Capacity {
    search: Search,
    slo: Slo,
    steps: Vec<Step>,
    /// Ctrl-C ended the search: an imprecise bracket is the user's doing, not the steps'.
    stopped: bool,
}

impl Capacity {
    pub fn new(search: Search, slo: Slo) -> Capacity {
        Capacity {
            search,
            slo,
            steps: Vec::new(),
            stopped: false,
        }
    }

    /// Ctrl-C (or SIGTERM) ended the search before its next step.
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    /// Every step so far, in the order measured.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The highest rate that kept the promise, and the lowest above it that broke it.
    fn bracket(&self) -> (Option<f64>, Option<f64>) {
        let kept = self
            .steps
            .iter()
            .filter(|s| s.verdict.kept())
            .map(|s| s.asked)
            .reduce(f64::max);
        let broke = self
            .steps
            .iter()
            .filter(|s| !s.verdict.kept() && kept.is_none_or(|k| s.asked > k))
            .map(|s| s.asked)
            .reduce(f64::min);
        (kept, broke)
    }

    fn precise_enough(&self, kept: f64, broke: f64) -> bool {
        // Whole messages per second: two adjacent rates cannot be told apart further.
        broke - kept <= (kept * self.search.precision).max(1.0)
    }

    /// The rate to measure next, or `None` when the search is over.
    pub fn next_rate(&self) -> Option<f64> {
        if self.steps.len() >= self.search.max_steps {
            return None;
        }
        let s = &self.search;
        // A rate that just broke the promise is measured again, until it has failed `tries`
        // windows in a row (a window that keeps it makes it kept).
        if let Some(last) = self.steps.last()
            && !last.verdict.kept()
        {
            let failed_in_a_row = self
                .steps
                .iter()
                .rev()
                .take_while(|t| t.asked == last.asked && !t.verdict.kept())
                .count();
            if failed_in_a_row < s.tries {
                return Some(last.asked);
            }
        }
        let rate = match self.bracket() {
            (None, None) => s.start,
            (Some(kept), None) if kept >= s.max_rate => return None,
            (Some(kept), None) => kept * 2.0,
            (None, Some(broke)) if broke <= MIN_RATE => return None,
            (None, Some(broke)) => broke / 2.0,
            (Some(kept), Some(broke)) if self.precise_enough(kept, broke) => return None,
            (Some(kept), Some(broke)) => (kept + broke) / 2.0,
        };
        Some(rate.round().clamp(MIN_RATE, s.max_rate.max(MIN_RATE)))
    }

    /// Adds the measurement of `asked`; returns the step as judged.
    pub fn record(&mut self, asked: f64, measured: Measurement) -> Step {
        let step = Step {
            asked,
            measured,
            verdict: self.search.judge(&self.slo, asked, &measured),
        };
        self.steps.push(step);
        step
    }

    /// Where the capacity lies, from the steps so far.
    pub fn answer(&self) -> Answer {
        match self.bracket() {
            // Cut short, a one-sided answer is where the user stopped, not where the search
            // ended (no rate above broke it, or none below kept it): it says so.
            (kept, broke) if self.stopped && (kept.is_none() || broke.is_none()) => {
                Answer::Stopped { kept, broke }
            }
            (None, None) => Answer::Unknown,
            (Some(kept), None) => Answer::AtLeast { kept },
            (None, Some(broke)) => Answer::Below { broke },
            (Some(kept), Some(broke)) if self.client_limited_at(broke) => {
                Answer::ClientLimited { kept, broke }
            }
            (Some(kept), Some(broke)) if self.precise_enough(kept, broke) => {
                Answer::Found { kept, broke }
            }
            (Some(kept), Some(broke)) if self.stopped => Answer::Stopped {
                kept: Some(kept),
                broke: Some(broke),
            },
            (Some(kept), Some(broke)) => Answer::Imprecise { kept, broke },
        }
    }

    /// Whether a window at `rate` broke the promise for want of client CPU.
    fn client_limited_at(&self, rate: f64) -> bool {
        self.steps
            .iter()
            .any(|s| s.asked == rate && s.verdict == Verdict::ClientLimited)
    }
}

impl Answer {
    /// The answer a result file records (what [`Capacity::to_result`] wrote), so that a table
    /// of earlier runs words it as the search did.
    pub fn of(c: &CapacitySearch) -> Answer {
        match (c.answer.as_str(), c.kept, c.broke) {
            ("client-limited", Some(kept), Some(broke)) => Answer::ClientLimited { kept, broke },
            ("imprecise", Some(kept), Some(broke)) => Answer::Imprecise { kept, broke },
            ("stopped", kept, broke) => Answer::Stopped { kept, broke },
            (_, Some(kept), Some(broke)) => Answer::Found { kept, broke },
            (_, Some(kept), None) => Answer::AtLeast { kept },
            (_, None, Some(broke)) => Answer::Below { broke },
            (_, None, None) => Answer::Unknown,
        }
    }

    /// Its name in result files.
    pub fn kind(&self) -> &'static str {
        match self {
            Answer::Unknown => "unknown",
            Answer::Found { .. } => "found",
            Answer::Imprecise { .. } => "imprecise",
            Answer::Stopped { .. } => "stopped",
            Answer::Below { .. } => "below",
            Answer::AtLeast { .. } => "at-least",
            Answer::ClientLimited { .. } => "client-limited",
        }
    }
}

impl Capacity {
    /// The search as the result file keeps it; `latencies` are the steps' latency summaries,
    /// in step order.
    pub fn to_result(&self, latencies: &[Latency]) -> CapacitySearch {
        let answer = self.answer();
        let (kept, broke) = match answer {
            Answer::Unknown => (None, None),
            Answer::Found { kept, broke }
            | Answer::Imprecise { kept, broke }
            | Answer::ClientLimited { kept, broke } => (Some(kept), Some(broke)),
            Answer::Stopped { kept, broke } => (kept, broke),
            Answer::Below { broke } => (None, Some(broke)),
            Answer::AtLeast { kept } => (Some(kept), None),
        };
        CapacitySearch {
            slo: self.slo.to_string(),
            percentile: self.slo.percentile,
            limit_ns: self.slo.limit.as_nanos() as u64,
            precision: self.search.precision,
            steps: self
                .steps
                .iter()
                .zip(latencies)
                .map(|(s, latency)| CapacityStep {
                    asked: s.asked,
                    achieved: s.measured.achieved,
                    at_percentile_ns: s.measured.latency_ns,
                    latency_ns: *latency,
                    errors: s.measured.errors,
                    verdict: s.verdict.to_string(),
                })
                .collect(),
            answer: answer.kind().into(),
            kept,
            broke,
        }
    }

    /// The index of the step whose figures stand for the search: the one that found the
    /// capacity, or the last one if no rate kept the promise.
    pub fn representative(&self) -> Option<usize> {
        let kept = self.answer().rate();
        self.steps
            .iter()
            .position(|s| kept == Some(s.asked) && s.verdict.kept())
            .or(self.steps.len().checked_sub(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a whole search: `measure(rate)` measures one step; `None` stops the search early
    /// (as Ctrl-C does), keeping the steps so far.
    fn find(
        search: Search,
        slo: Slo,
        mut measure: impl FnMut(f64) -> Option<Measurement>,
    ) -> Capacity {
        let mut capacity = Capacity::new(search, slo);
        while let Some(rate) = capacity.next_rate() {
            let Some(m) = measure(rate) else { break };
            capacity.record(rate, m);
        }
        capacity
    }

    const MS: Duration = Duration::from_millis(1);

    fn slo(s: &str) -> Slo {
        s.parse().unwrap()
    }

    /// A server whose p99 is 100 us below `knee` msgs/s and 50 ms above it.
    fn knee_at(knee: f64) -> impl FnMut(f64) -> Option<Measurement> {
        move |rate| {
            Some(Measurement {
                achieved: rate,
                latency_ns: if rate <= knee { 100_000 } else { 50_000_000 },
                errors: 0,
                client_limited: false,
            })
        }
    }

    #[test]
    fn targets_parse_with_any_percentile_and_duration() {
        assert_eq!(
            slo("p99=1ms"),
            Slo {
                percentile: 99.0,
                limit: MS
            }
        );
        assert_eq!(
            slo(" p99.9=500us"),
            Slo {
                percentile: 99.9,
                limit: Duration::from_micros(500)
            }
        );
        assert_eq!(slo("p50=2s").limit, Duration::from_secs(2));
        assert_eq!(slo("p100=10ms").percentile, 100.0);
        assert_eq!(slo("p99.99=1.5ms").limit, Duration::from_micros(1500));
        assert_eq!(slo("p99=1ms").to_string(), "p99=1ms");
        assert_eq!(slo("p99.9=500us").to_string(), "p99.9=500µs");
    }

    #[test]
    fn bad_targets_say_what_is_wrong() {
        let err = |s: &str| s.parse::<Slo>().unwrap_err();
        assert!(
            err("p99").contains("pPERCENTILE=DURATION"),
            "{}",
            err("p99")
        );
        assert!(err("99=1ms").contains("not a percentile"));
        assert!(err("p=1ms").contains("not a percentile"));
        assert!(err("px=1ms").contains("not a percentile"));
        assert!(err("p0=1ms").contains("above 0"));
        assert!(err("p101=1ms").contains("at most 100"));
        assert!(err("p99=1").contains("no unit"));
        assert!(err("p99=").contains("no unit"));
        assert!(err("p99=0ms").contains("zero"));
        assert!(err("p99=1parsec").contains("not a unit"));
    }

    #[test]
    fn a_known_knee_is_bracketed_to_the_precision() {
        for knee in [1_000.0, 37_500.0, 150_000.0, 1_234_567.0] {
            for start in [1_000.0, 10_000.0, 1_000_000.0] {
                let search = Search::from(start);
                let c = find(search, slo("p99=1ms"), knee_at(knee));
                let Answer::Found { kept, broke } = c.answer() else {
                    panic!("knee {knee} from {start}: {:?}", c.answer());
                };
                assert!(
                    kept <= knee && knee < broke,
                    "knee {knee} in [{kept}, {broke})"
                );
                assert!(broke - kept <= kept * PRECISION, "{kept}..{broke}");
                assert!(c.steps().len() <= MAX_STEPS);
                assert_eq!(c.answer().rate(), Some(kept));
            }
        }
    }

    #[test]
    fn steps_double_then_bisect() {
        let c = find(Search::from(1000.0), slo("p99=1ms"), knee_at(5000.0));
        let asked: Vec<f64> = c.steps().iter().map(|s| s.asked).collect();
        assert_eq!(asked[..4], [1000.0, 2000.0, 4000.0, 8000.0]);
        assert_eq!(asked[4], 8000.0, "a broken rate is measured again");
        assert_eq!(asked[5], 6000.0, "then the middle of 4000..8000");
        let verdicts: Vec<bool> = c.steps().iter().map(|s| s.verdict.kept()).collect();
        assert_eq!(verdicts[..6], [true, true, true, false, false, false]);
    }

    #[test]
    fn a_server_that_breaks_at_the_first_step_is_searched_downwards() {
        let c = find(Search::from(100_000.0), slo("p99=1ms"), knee_at(3_000.0));
        assert!(!c.steps()[0].verdict.kept());
        assert_eq!(c.steps()[1].asked, 100_000.0, "confirmed");
        assert_eq!(c.steps()[2].asked, 50_000.0, "then halved");
        let Answer::Found { kept, broke } = c.answer() else {
            panic!("{:?}", c.answer())
        };
        assert!(kept <= 3_000.0 && 3_000.0 < broke);
    }

    #[test]
    fn a_server_that_never_keeps_the_promise_is_below_the_lowest_rate() {
        let never = |_rate| {
            Some(Measurement {
                achieved: 0.0,
                latency_ns: u64::MAX,
                errors: 0,
                client_limited: false,
            })
        };
        let c = find(Search::from(1000.0), slo("p99=1ms"), never);
        assert!(c.steps().iter().all(|s| !s.verdict.kept()));
        let asked: Vec<f64> = c.steps().iter().map(|s| s.asked).collect();
        assert_eq!(
            asked,
            [
                1000.0, 1000.0, 500.0, 500.0, 250.0, 250.0, 125.0, 125.0, MIN_RATE, MIN_RATE
            ],
            "each rate broken twice, halved down to the lowest rate, then it stops"
        );
        assert_eq!(c.answer(), Answer::Below { broke: MIN_RATE });
        assert_eq!(c.answer().rate(), None);
        let bounded = Search {
            max_steps: 3,
            ..Search::from(1000.0)
        };
        let c = find(bounded, slo("p99=1ms"), never);
        assert_eq!(c.answer(), Answer::Below { broke: 500.0 });
    }

    #[test]
    fn a_server_that_never_breaks_within_the_bound_is_at_least_the_highest_rate() {
        let c = find(Search::from(1000.0), slo("p99=1ms"), knee_at(f64::INFINITY));
        assert_eq!(c.steps().len(), MAX_STEPS);
        assert_eq!(
            c.answer(),
            Answer::AtLeast {
                kept: 1000.0 * 2f64.powi(MAX_STEPS as i32 - 1)
            }
        );
        let capped = Search {
            max_rate: 5000.0,
            ..Search::from(1000.0)
        };
        let c = find(capped, slo("p99=1ms"), knee_at(f64::INFINITY));
        let asked: Vec<f64> = c.steps().iter().map(|s| s.asked).collect();
        assert_eq!(
            asked,
            [1000.0, 2000.0, 4000.0, 5000.0],
            "never past max_rate"
        );
        assert_eq!(c.answer(), Answer::AtLeast { kept: 5000.0 });
    }

    #[test]
    fn running_out_of_steps_mid_bisection_says_so() {
        let few = Search {
            max_steps: 7,
            ..Search::from(1000.0)
        };
        let c = find(few, slo("p99=1ms"), knee_at(5000.0));
        assert_eq!(
            c.answer(),
            Answer::Imprecise {
                kept: 4000.0,
                broke: 6000.0
            }
        );
        assert!(c.answer().to_string().contains("steps ran out"));

        // The same bracket, cut short by Ctrl-C, says so, in the file and read back from it.
        let mut c = c;
        c.stop();
        let said = c.answer().to_string();
        assert!(
            said.contains("stopped by Ctrl-C before the precision was reached")
                && !said.contains("steps ran out"),
            "{said}"
        );
        let file = c.to_result(&[]);
        assert_eq!(file.answer, "stopped");
        assert_eq!(Answer::of(&file), c.answer());
    }

    #[test]
    fn the_result_file_keeps_every_step_and_the_bracket() {
        let c = find(Search::from(1000.0), slo("p99.9=2ms"), knee_at(5000.0));
        let latencies: Vec<Latency> = (0..c.steps().len())
            .map(|i| Latency {
                count: i as u64,
                ..Latency::default()
            })
            .collect();
        let r = c.to_result(&latencies);
        assert_eq!(
            (r.slo.as_str(), r.percentile, r.limit_ns),
            ("p99.9=2ms", 99.9, 2_000_000)
        );
        assert_eq!(r.steps.len(), c.steps().len());
        assert_eq!(r.steps[3].asked, 8000.0);
        assert_eq!(r.steps[3].verdict, "too slow");
        assert_eq!(
            r.steps[3].latency_ns.count, 3,
            "each step keeps its own latency"
        );
        let Answer::Found { kept, broke } = c.answer() else {
            panic!()
        };
        assert_eq!(
            (r.answer.as_str(), r.kept, r.broke),
            ("found", Some(kept), Some(broke))
        );
        let rep = c.representative().unwrap();
        assert_eq!(
            c.steps()[rep].asked,
            kept,
            "the step that found the capacity"
        );
        let never = find(Search::from(1000.0), slo("p99=1ms"), |_| {
            Some(Measurement {
                achieved: 0.0,
                latency_ns: 0,
                errors: 1,
                client_limited: false,
            })
        });
        let r = never.to_result(&[Latency::default(); 10]);
        assert_eq!(
            (r.answer.as_str(), r.kept, r.broke),
            ("below", None, Some(MIN_RATE))
        );
        assert_eq!(
            never.representative(),
            Some(9),
            "none kept it: the last step"
        );
        assert_eq!(
            Capacity::new(Search::from(1.0), slo("p99=1ms")).representative(),
            None
        );
    }

    #[test]
    fn every_answer_reads_back_from_the_result_file_as_it_was_found() {
        let p99 = slo("p99=1ms");
        let failing = |_| {
            Some(Measurement {
                achieved: 0.0,
                latency_ns: 0,
                errors: 1,
                client_limited: false,
            })
        };
        let mut client = knee_at(f64::INFINITY);
        let client_limited = |rate| {
            let mut m = client(rate)?;
            m.client_limited = rate > 4000.0;
            m.achieved = m.achieved.min(4000.0);
            Some(m)
        };
        let searches = [
            find(Search::from(1000.0), p99, knee_at(5000.0)),
            find(
                Search {
                    max_steps: 7,
                    ..Search::from(1000.0)
                },
                p99,
                knee_at(5000.0),
            ),
            find(Search::from(1000.0), p99, failing),
            find(
                Search {
                    max_rate: 5000.0,
                    ..Search::from(1000.0)
                },
                p99,
                knee_at(f64::INFINITY),
            ),
            find(Search::from(1000.0), p99, client_limited),
            Capacity::new(Search::from(1000.0), p99),
        ];
        let kinds: Vec<&str> = searches.iter().map(|c| c.answer().kind()).collect();
        assert_eq!(
            kinds,
            [
                "found",
                "imprecise",
                "below",
                "at-least",
                "client-limited",
                "unknown"
            ]
        );
        for c in &searches {
            let r = c.to_result(&vec![Latency::default(); c.steps().len()]);
            assert_eq!(Answer::of(&r), c.answer());
        }
    }

    #[test]
    fn a_window_broken_by_a_passing_burst_does_not_break_the_rate() {
        // A server with its knee at 5000 whose first window at 4000 meets another process's
        // burst.
        let mut knee = knee_at(5000.0);
        let mut burst = true;
        let c = find(Search::from(1000.0), slo("p99=1ms"), |rate| {
            let mut m = knee(rate)?;
            if rate == 4000.0 && std::mem::take(&mut burst) {
                m.latency_ns = 30_000_000;
            }
            Some(m)
        });
        let asked: Vec<f64> = c.steps().iter().map(|s| s.asked).collect();
        assert_eq!(asked[..4], [1000.0, 2000.0, 4000.0, 4000.0]);
        assert!(c.steps()[3].verdict.kept(), "the second window kept it");
        assert_eq!(asked[4], 8000.0, "so the search doubles on");
        let Answer::Found { kept, broke } = c.answer() else {
            panic!("{:?}", c.answer())
        };
        assert!(kept <= 5000.0 && 5000.0 < broke, "{kept}..{broke}");
    }

    #[test]
    fn a_rate_broken_only_for_want_of_client_cpu_bounds_the_capacity_from_below() {
        // A server with its knee at 50,000 measured by a client that runs out of CPU above 5000:
        // the search bisects to the client's limit and says so.
        let mut knee = knee_at(50_000.0);
        let c = find(Search::from(1000.0), slo("p99=1ms"), |rate| {
            let mut m = knee(rate)?;
            if rate > 5000.0 {
                m.achieved = 5000.0;
                m.client_limited = true;
            }
            Some(m)
        });
        assert_eq!(
            c.answer(),
            Answer::ClientLimited {
                kept: 5000.0,
                broke: 5250.0
            },
            "{:?}",
            c.steps()
        );
        assert!(
            c.steps()
                .iter()
                .any(|s| s.verdict == Verdict::ClientLimited)
        );
        assert!(
            c.answer().to_string().starts_with("at least 5000 msgs/s"),
            "{}",
            c.answer()
        );
        let r = c.to_result(&vec![Latency::default(); c.steps().len()]);
        assert_eq!(
            (r.answer.as_str(), r.kept),
            ("client-limited", Some(5000.0))
        );
        // Errors are the server's whatever the client's CPU did.
        let s = Search::from(1000.0);
        let failed = Measurement {
            achieved: 0.0,
            latency_ns: 0,
            errors: 3,
            client_limited: true,
        };
        assert_eq!(s.judge(&slo("p99=1ms"), 1000.0, &failed), Verdict::Failed);
    }

    #[test]
    fn a_rate_is_judged_by_latency_sent_rate_and_errors() {
        let s = Search::from(1000.0);
        let p99 = slo("p99=1ms");
        let m = |achieved, latency_ns, errors| Measurement {
            achieved,
            latency_ns,
            errors,
            client_limited: false,
        };
        assert_eq!(
            s.judge(&p99, 1000.0, &m(1000.0, 1_000_000, 0)),
            Verdict::Kept
        );
        assert_eq!(s.judge(&p99, 1000.0, &m(985.0, 900_000, 0)), Verdict::Kept);
        assert_eq!(
            s.judge(&p99, 1000.0, &m(1000.0, 1_000_001, 0)),
            Verdict::TooSlow
        );
        assert_eq!(
            s.judge(&p99, 1000.0, &m(970.0, 900_000, 0)),
            Verdict::FellBehind
        );
        assert_eq!(s.judge(&p99, 1000.0, &m(1000.0, 1, 1)), Verdict::Failed);
    }

    #[test]
    fn a_search_stopped_early_keeps_what_it_measured() {
        let mut knee = knee_at(5000.0);
        let mut left = 4;
        let c = find(Search::from(1000.0), slo("p99=1ms"), |rate| {
            left -= 1;
            (left > 0).then(|| knee(rate)).flatten()
        });
        assert_eq!(c.steps().len(), 3);
        assert_eq!(c.answer(), Answer::AtLeast { kept: 4000.0 });
    }

    #[test]
    fn a_one_sided_search_stopped_by_ctrl_c_says_it_was_stopped() {
        // Cut after rates that all kept the promise, or all broke it: the answer is where the
        // user stopped, not a bound the search reached, and the live line, the file and the
        // table read back from it all say so.
        for (knee, kept, broke) in [(1e9, Some(4000.0), None), (1.0, None, Some(500.0))] {
            let mut measure = knee_at(knee);
            let mut left = 4;
            let mut c = find(Search::from(1000.0), slo("p99=1ms"), |rate| {
                left -= 1;
                (left > 0).then(|| measure(rate)).flatten()
            });
            c.stop();
            assert_eq!(c.answer(), Answer::Stopped { kept, broke });
            let said = c.answer().to_string();
            assert!(said.contains("stopped by Ctrl-C"), "{said}");
            let file = c.to_result(&[]);
            assert_eq!(file.answer, "stopped");
            assert_eq!((file.kept, file.broke), (kept, broke));
            assert_eq!(Answer::of(&file), c.answer());
            assert_eq!(c.answer().rate(), kept);
            // Still only a lower bound when nothing broke it, as an uncut `at-least` is.
            assert_eq!(file.is_lower_bound(), kept.is_some());
        }
    }

    #[test]
    fn a_noisy_step_above_a_failure_does_not_widen_the_bracket() {
        // 4000 fails by bad luck, 6000 then passes: the bracket is what was measured.
        let mut c = Capacity::new(Search::from(1000.0), slo("p99=1ms"));
        let ok = Measurement {
            achieved: 0.0,
            latency_ns: 1,
            errors: 0,
            client_limited: false,
        };
        let slow = Measurement {
            latency_ns: 10_000_000,
            ..ok
        };
        c.record(
            2000.0,
            Measurement {
                achieved: 2000.0,
                ..ok
            },
        );
        c.record(
            4000.0,
            Measurement {
                achieved: 4000.0,
                ..slow
            },
        );
        c.record(
            8000.0,
            Measurement {
                achieved: 8000.0,
                ..slow
            },
        );
        c.record(
            6000.0,
            Measurement {
                achieved: 6000.0,
                ..ok
            },
        );
        assert_eq!(
            c.answer(),
            Answer::Imprecise {
                kept: 6000.0,
                broke: 8000.0
            }
        );
        assert_eq!(c.next_rate(), Some(7000.0));
    }
}
