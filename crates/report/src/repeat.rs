//! Repeated runs of a target: folding them into one [`TargetResult`], and the headline figures
//! that are summarised and compared across them.

use crate::stats::{Ratio, Spread, median_index};
use crate::{Repeats, TargetResult};

/// A figure that tables summarise and `loadgen compare` compares across repetitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// Messages per second.
    MsgsPerSec,
    /// Median latency (open loop: corrected), nanoseconds.
    P50,
    /// 99th-percentile latency (open loop: corrected), nanoseconds.
    P99,
    /// Server CPU time per message, nanoseconds.
    ServerCpuPerMsg,
    /// `--find-capacity`: the highest rate that kept the latency promise, messages per second;
    /// 0 for a search in which every rate broke it (its capacity is below the lowest rate
    /// asked, and leaving it out would flatter the target).
    Capacity,
}

impl Figure {
    /// Every figure of a load run, in the order tables show them.
    pub const ALL: [Figure; 4] = [
        Figure::MsgsPerSec,
        Figure::P50,
        Figure::P99,
        Figure::ServerCpuPerMsg,
    ];

    /// The figures that compare `t` with another target: a capacity search's capacity (its
    /// other figures are those of whichever step found it, which say nothing across targets),
    /// or else [`Figure::ALL`].
    pub fn compared(t: &TargetResult) -> &'static [Figure] {
        if t.capacity.is_some() {
            &[Figure::Capacity]
        } else {
            &Figure::ALL
        }
    }

    /// The figure that ranks `t` among targets: its capacity if it was a capacity search,
    /// otherwise its msgs/s.
    pub fn headline(t: &TargetResult) -> Figure {
        Figure::compared(t)[0]
    }

    /// Its name in tables and sentences.
    pub fn name(self) -> &'static str {
        match self {
            Figure::MsgsPerSec => "msgs/s",
            Figure::P50 => "p50",
            Figure::P99 => "p99",
            Figure::ServerCpuPerMsg => "server CPU/msg",
            Figure::Capacity => "capacity",
        }
    }

    /// Whether more is better (throughput) or less (latency, cost).
    pub fn higher_is_better(self) -> bool {
        matches!(self, Figure::MsgsPerSec | Figure::Capacity)
    }

    /// Its value in one run; `None` if that run did not measure it (no rate without a window,
    /// no server CPU for a server loadgen did not start, no latency or cost without a message).
    pub fn of(self, t: &TargetResult) -> Option<f64> {
        let latency = |ns: u64| (t.latency_ns.count > 0).then_some(ns as f64);
        match self {
            Figure::MsgsPerSec => t.msgs_per_sec.filter(|x| x.is_finite()),
            Figure::P50 => latency(t.latency_ns.p50),
            Figure::P99 => latency(t.latency_ns.p99),
            Figure::ServerCpuPerMsg => t
                .server
                .and_then(|s| s.cpu_ns_per_msg)
                .filter(|c| c.is_finite() && *c > 0.0),
            Figure::Capacity => t
                .capacity
                .as_ref()
                // Every rate measured broke it (`below`, or `stopped` with no rate kept): none kept.
                .filter(|c| c.kept.is_some() || c.broke.is_some())
                .map(|c| c.kept.unwrap_or(0.0)),
        }
    }

    /// Its value in every run of `t` that measured it.
    pub fn values(self, t: &TargetResult) -> Vec<f64> {
        t.runs().iter().filter_map(|r| self.of(r)).collect()
    }

    /// Its spread over `t`'s runs; `None` if no run measured it.
    pub fn spread(self, t: &TargetResult) -> Option<Spread> {
        Spread::of(&self.values(t))
    }

    /// `a`'s value over `b`'s across their runs, with its interval.
    pub fn ratio(self, a: &TargetResult, b: &TargetResult) -> Option<Ratio> {
        Ratio::of(&self.values(a), &self.values(b))
    }
}

impl TargetResult {
    /// Every run of this target: its repetitions, or itself alone.
    pub fn runs(&self) -> &[TargetResult] {
        match &self.repeats {
            Some(r) => &r.runs,
            None => std::slice::from_ref(self),
        }
    }

    /// One result for several runs of the same target: a copy of the run with the median
    /// msgs/s (of capacity searches, the median capacity), holding every run and their spreads
    /// in [`TargetResult::repeats`]; partial if any run was. A single run is returned as it is;
    /// `None` for none.
    pub fn from_runs(mut runs: Vec<TargetResult>) -> Option<TargetResult> {
        if runs.len() <= 1 {
            return runs.pop();
        }
        let by = Figure::headline(&runs[0]);
        // A NaN rate (an empty window) or a search cut short counts as nothing, so it cannot
        // hide the other runs.
        let rates: Vec<f64> = runs
            .iter()
            .map(|r| by.of(r).filter(|x| !x.is_nan()).unwrap_or(0.0))
            .collect();
        let representative = median_index(&rates)?;
        let mut folded = runs[representative].clone();
        folded.partial = runs.iter().any(|r| r.partial);
        let spread =
            |f: Figure| Spread::of(&runs.iter().filter_map(|r| f.of(r)).collect::<Vec<_>>());
        folded.repeats = Some(Repeats {
            msgs_per_sec: spread(Figure::MsgsPerSec),
            p50_ns: spread(Figure::P50),
            p99_ns: spread(Figure::P99),
            server_cpu_ns_per_msg: spread(Figure::ServerCpuPerMsg),
            capacity: spread(Figure::Capacity),
            runs,
            representative,
        });
        Some(folded)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Latency, ServerCost};

    fn run(msgs_per_sec: f64, p99: u64) -> TargetResult {
        TargetResult {
            target: "tokio".into(),
            clients: 100,
            connected: 100,
            window_ns: 1_000_000_000,
            messages: msgs_per_sec as u64,
            msgs_per_sec: Some(msgs_per_sec),
            latency_ns: Latency {
                count: 10,
                p50: p99 / 2,
                p99,
                ..Latency::default()
            },
            server: Some(ServerCost {
                cpu_user_ns: 0,
                cpu_sys_ns: 0,
                cpu_ns_per_msg: Some(1e9 / msgs_per_sec),
                peak_rss_bytes: 0,
                rss_per_conn_bytes: 0.0,
                threads: 1,
            }),
            ..TargetResult::default()
        }
    }

    #[test]
    fn runs_fold_into_the_median_run_and_keep_every_run() {
        let runs = vec![run(120.0, 7), run(100.0, 9), run(90.0, 11), run(110.0, 8)];
        let folded = TargetResult::from_runs(runs.clone()).unwrap();
        // Sorted rates 90 100 110 120: the lower middle is 100, the second run.
        assert_eq!(folded.msgs_per_sec, Some(100.0));
        assert_eq!(folded.latency_ns.p99, 9);
        let repeats = folded.repeats.as_ref().unwrap();
        assert_eq!((repeats.representative, &repeats.runs), (1, &runs));
        assert_eq!(folded.runs(), &runs[..]);
        let rate = repeats.msgs_per_sec.unwrap();
        assert_eq!(
            (rate.n, rate.median, rate.min, rate.max),
            (4, 105.0, 90.0, 120.0)
        );
        assert_eq!(repeats.p99_ns.unwrap().median, 8.5);
        assert_eq!(Figure::P99.spread(&folded), repeats.p99_ns);
        assert!(repeats.server_cpu_ns_per_msg.is_some());
    }

    #[test]
    fn one_run_stays_as_it_is_and_a_partial_run_marks_the_whole() {
        assert_eq!(TargetResult::from_runs(vec![]), None);
        let one = TargetResult::from_runs(vec![run(5.0, 1)]).unwrap();
        assert_eq!((one.repeats, one.msgs_per_sec), (None, Some(5.0)));
        let mut cut = run(50.0, 1);
        cut.partial = true;
        let folded = TargetResult::from_runs(vec![run(60.0, 1), cut, run(70.0, 1)]).unwrap();
        assert!(
            folded.partial,
            "a run cut short makes the folded result partial"
        );
        assert_eq!(folded.msgs_per_sec, Some(60.0));
    }

    #[test]
    fn figures_missing_from_a_run_are_left_out_not_zero() {
        let mut silent = run(0.0, 0);
        silent.latency_ns.count = 0;
        silent.server = None;
        let folded = TargetResult::from_runs(vec![run(100.0, 4), silent, run(80.0, 6)]).unwrap();
        assert_eq!(Figure::P99.values(&folded), [4.0, 6.0]);
        assert_eq!(Figure::ServerCpuPerMsg.values(&folded).len(), 2);
        assert_eq!(Figure::MsgsPerSec.values(&folded), [100.0, 0.0, 80.0]);
    }

    #[test]
    fn a_server_cost_of_zero_or_infinity_is_no_figure_but_a_search_that_kept_none_is_zero() {
        let with_cost = |cost: f64| {
            let mut r = run(100.0, 4);
            r.server.as_mut().unwrap().cpu_ns_per_msg = Some(cost);
            Figure::ServerCpuPerMsg.of(&r)
        };
        assert_eq!(with_cost(250.0), Some(250.0));
        assert_eq!(with_cost(0.0), None);
        assert_eq!(with_cost(f64::INFINITY), None);

        // Every rate tried broke the objective: capacity 0, not unmeasured.
        let mut searched = run(100.0, 4);
        searched.capacity = Some(crate::testing::capacity_search(None));
        assert_eq!(Figure::Capacity.of(&searched), Some(0.0));
    }

    #[test]
    fn a_run_cut_before_its_window_is_left_out_of_every_spread() {
        let mut cut = run(0.0, 0);
        (cut.window_ns, cut.messages, cut.latency_ns.count) = (0, 0, 0);
        (cut.msgs_per_sec, cut.partial) = (None, true);
        cut.server.as_mut().unwrap().cpu_ns_per_msg = None;
        let folded = TargetResult::from_runs(vec![run(100.0, 4), cut, run(80.0, 6)]).unwrap();
        for figure in Figure::ALL {
            assert_eq!(figure.values(&folded).len(), 2, "{figure:?}");
        }
        let rate = folded.repeats.as_ref().unwrap().msgs_per_sec.unwrap();
        assert_eq!((rate.n, rate.median), (2, 90.0));
        assert!(folded.partial);
    }

    #[test]
    fn a_ratio_compares_every_run_of_two_targets() {
        let fast = TargetResult::from_runs((0..5).map(|i| run(110.0 + f64::from(i), 5)).collect());
        let slow = TargetResult::from_runs((0..5).map(|i| run(100.0 + f64::from(i), 5)).collect());
        let r = Figure::MsgsPerSec
            .ratio(&fast.unwrap(), &slow.unwrap())
            .unwrap();
        assert_eq!(r.verdict(), crate::stats::Verdict::Larger);
    }
}
