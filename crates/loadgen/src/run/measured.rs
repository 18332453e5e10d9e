//! The pure half of a run: what was measured ([`Measured`], with each process's [`Usage`]) turned
//! into a [`TargetResult`] by arithmetic alone ([`summarize`], [`timeline`]): rates, CPU per
//! message, which side limited the run, and whether anything was measured at all. No clock, no
//! socket, no process: tested on records built by hand.

use std::time::Duration;

use echo_report::{
    Churn, ClientCost, Latency, OpenLoop, ServerCost, TargetResult, Tick, WallWindow,
    encode_histogram,
};
use hdrhistogram::Histogram;

use crate::engine::churn::ConnectionMode;
use crate::engine::ramp::Profile;
use crate::engine::record::Record;
use crate::run::problem::Problem;
use crate::run::sys::ProcStat;

/// Share of its CPUs' time the load generator may use before its figures are suspect.
const SATURATED: f64 = 0.9;

/// CPU and memory of one process (the load generator or the server): at start-up, as the window
/// opened and as it closed, and how many CPUs it had.
pub struct Usage {
    pub idle: ProcStat,
    pub before: ProcStat,
    pub after: ProcStat,
    pub cpus: usize,
}

impl Usage {
    /// CPU time used in the window.
    fn cpu(&self) -> Duration {
        self.after.cpu().saturating_sub(self.before.cpu())
    }

    /// Share of its CPUs' time it was busy over a window of `seconds`.
    fn busy(&self, seconds: f64) -> f64 {
        self.cpu().as_secs_f64() / (seconds * self.cpus.max(1) as f64)
    }

    /// Resident memory grown since start-up, per connection.
    fn rss_per_conn(&self, connected: usize) -> f64 {
        self.after.rss_bytes.saturating_sub(self.idle.rss_bytes) as f64 / connected.max(1) as f64
    }
}

/// Everything one target's run measured, before any arithmetic.
pub struct Measured {
    pub target: String,
    pub clients: usize,
    pub connected: usize,
    /// The whole connect phase, failed attempts included.
    pub connect: Duration,
    /// The measured window; zero if it never opened.
    pub window: Duration,
    /// The same window on the wall clock, if it opened.
    pub wall_window: Option<WallWindow>,
    /// Every client thread's record, merged.
    pub record: Record,
    /// The connect phase's failures.
    pub connect_failures: Record,
    pub msg_size: usize,
    pub rate: Option<f64>,
    /// `--rate-ramp`: the total rate asked from the warm-up's start, and the warm-up's length
    /// (the window opened then).
    pub ramp: Option<(Profile, Duration)>,
    /// A churn mode.
    pub churn: Option<ConnectionMode>,
    pub client: Usage,
    /// Known when loadgen started the server or got `--server-pid`.
    pub server: Option<Usage>,
    pub server_summary: Option<echo_common::Summary>,
    pub partial: bool,
}

/// A histogram for a `.hgrm` file beside the result, and how that file's name ends. A run makes
/// one named `""` (the latency every figure comes from) and, in the open loop, one named
/// `-uncorrected` (from the actual send); the drive loop puts the target, and the run under
/// `--repeat`, in front.
pub struct Hgrm {
    /// The end of the file's name, after the result's own stem and a dash.
    pub suffix: String,
    /// The histogram, in nanoseconds (the file is in microseconds).
    pub histogram: Histogram<u64>,
}

impl Hgrm {
    /// `histogram`, for the file whose name ends in `suffix`.
    pub fn new(suffix: impl Into<String>, histogram: Histogram<u64>) -> Hgrm {
        Hgrm {
            suffix: suffix.into(),
            histogram,
        }
    }
}

/// What [`summarize`] makes of a [`Measured`].
pub struct Summary {
    pub result: TargetResult,
    pub histograms: Vec<Hgrm>,
    /// Set when the run measured nothing although its window opened.
    pub problem: Option<Problem>,
    pub first_corruption: Option<String>,
}

/// The arithmetic of a run: rates, CPU per message, which side limited it, the timeline, and
/// whether anything was measured at all. A pure function of what was measured.
pub fn summarize(m: Measured) -> Summary {
    let mut record = m.record;
    record.merge(m.connect_failures);
    let w = Window::of(m.window, &record);
    let busy = |u: &Usage| w.seconds > 0.0 && u.busy(w.seconds) > SATURATED;
    // With one core each, both sides are busy at full load: the client was the limit only if
    // its CPUs were saturated and the server's were not (when the server's are known).
    let client_limited = busy(&m.client) && !m.server.as_ref().is_some_and(busy);
    let problem = (w.seconds > 0.0 && w.messages == 0).then(|| Problem::NothingMeasured {
        why: format!(
            "not one reply came back in the {} window ({} of {} connected clients starved, errors: {}); is the server answering?",
            echo_common::units::format_duration(m.window),
            record.starved,
            m.connected,
            record.errors
        ),
    });
    // The rate asked over `[a, b)` seconds of the window, under a ramp.
    let asked = |a: f64, b: f64| {
        m.ramp
            .as_ref()
            .map(|(p, warmup)| p.asked_between(warmup.as_secs_f64() + a, warmup.as_secs_f64() + b))
    };
    let result = TargetResult {
        target: m.target,
        partial: m.partial,
        clients: m.clients,
        connected: m.connected,
        connect_ns: m.connect.as_nanos() as u64,
        window_ns: m.window.as_nanos() as u64,
        wall_window: m.wall_window,
        messages: w.messages,
        // A window that never opened has no rate and no starved count: absent, not 0.
        msgs_per_sec: w.opened().then(|| w.per_sec(w.messages as f64)),
        mb_per_sec: w
            .opened()
            .then(|| w.per_sec(w.messages as f64 * m.msg_size as f64) / 1e6),
        latency_ns: Latency::of(&record.all),
        latency_uncorrected_ns: record.uncorrected.as_ref().map(Latency::of),
        bystander_latency_ns: record.bystander.as_ref().map(Latency::of),
        working_latency_ns: record.working.as_ref().map(Latency::of),
        errors: record.errors,
        // Starved means no reply in the window: with no window, no client can be said to be.
        starved_clients: w.opened().then_some(record.starved),
        timeline: if w.opened() {
            timeline(&mut record.ticks, w.seconds, asked)
        } else {
            Vec::new()
        },
        server: m.server.as_ref().map(|s| server_cost(s, w, m.connected)),
        client: ClientCost {
            cpu_ns_per_msg: w.per_msg(m.client.cpu()),
            rss_per_conn_bytes: m.client.rss_per_conn(m.connected),
            saturated: client_limited,
        },
        open_loop: m.rate.or(asked(0.0, w.seconds)).map(|rate| OpenLoop {
            target_rate: rate,
            achieved_rate: w.per_sec(record.sent as f64),
        }),
        server_summary: m.server_summary,
        histogram: encode_histogram(&record.all),
        capacity: None,
        churn: m.churn.map(|mode| churn(mode, &record, w)),
        noise: None,
        repeats: None,
    };
    let mut histograms = vec![Hgrm::new("", record.all)];
    if let Some(h) = record.uncorrected {
        histograms.push(Hgrm::new("-uncorrected", h));
    }
    Summary {
        result,
        histograms,
        problem,
        first_corruption: record.first_corruption,
    }
}

/// The measured window's length and the messages in it, for rates and costs per message.
#[derive(Clone, Copy)]
struct Window {
    /// Zero if the window never opened.
    seconds: f64,
    /// Zero if the window never opened, whatever was recorded.
    messages: u64,
}

impl Window {
    fn of(window: Duration, record: &Record) -> Window {
        let seconds = window.as_secs_f64();
        let messages = if seconds > 0.0 { record.all.len() } else { 0 };
        Window { seconds, messages }
    }

    /// Whether the window opened at all (a run cut in its connect phase or warm-up did not).
    fn opened(self) -> bool {
        self.seconds > 0.0
    }

    /// `n` events in the window, per second.
    fn per_sec(self, n: f64) -> f64 {
        if self.seconds > 0.0 {
            n / self.seconds
        } else {
            0.0
        }
    }

    /// `cpu` time in the window, in nanoseconds per message; `None` without a message to
    /// divide by.
    fn per_msg(self, cpu: Duration) -> Option<f64> {
        (self.messages > 0).then(|| cpu.as_nanos() as f64 / self.messages as f64)
    }
}

/// What the server cost in the window.
fn server_cost(s: &Usage, w: Window, connected: usize) -> ServerCost {
    ServerCost {
        cpu_user_ns: s.after.user.saturating_sub(s.before.user).as_nanos() as u64,
        cpu_sys_ns: s.after.system.saturating_sub(s.before.system).as_nanos() as u64,
        cpu_ns_per_msg: w.per_msg(s.cpu()),
        peak_rss_bytes: s.after.peak_rss_bytes,
        rss_per_conn_bytes: s.rss_per_conn(connected),
        threads: s.after.threads,
    }
}

/// A churn mode's own figures: connections made, their rate, connect and exchange latency.
fn churn(mode: ConnectionMode, record: &Record, w: Window) -> Churn {
    Churn {
        mode: mode.to_string(),
        connections: record.connections,
        connections_per_sec: w.per_sec(record.connections as f64),
        connect_latency_ns: record.connect.as_ref().map(Latency::of).unwrap_or_default(),
        exchange_latency_ns: record
            .exchange
            .as_ref()
            .map(Latency::of)
            .unwrap_or_default(),
    }
}

/// Second-by-second figures of a window `seconds` long. The window overruns its length by a
/// moment (the coordinator's wake-up); what lands in that sliver of a second is folded into the
/// last whole second rather than shown as a second of its own.
/// `asked(a, b)` is the rate asked over `[a, b)` seconds of the window, under a ramp.
fn timeline(
    ticks: &mut [Histogram<u64>],
    seconds: f64,
    asked: impl Fn(f64, f64) -> Option<f64>,
) -> Vec<Tick> {
    let whole = (seconds.round() as usize).clamp(1, ticks.len());
    let (kept, sliver) = ticks.split_at_mut(whole);
    for h in sliver.iter() {
        kept[whole - 1].add(h).expect("ticks share bounds");
    }
    kept.iter()
        .enumerate()
        .map(|(i, h)| {
            let end = if i + 1 == whole {
                seconds
            } else {
                (i + 1) as f64
            };
            Tick {
                t_s: end,
                msgs: h.len(),
                asked_rate: asked(i as f64, end),
                p99_ns: if h.is_empty() {
                    0
                } else {
                    h.value_at_quantile(0.99)
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::record::Failure;

    const SEC: Duration = Duration::from_secs(1);

    fn stat(cpu: Duration, rss_bytes: u64) -> ProcStat {
        ProcStat {
            user: cpu / 2,
            system: cpu / 2,
            rss_bytes,
            peak_rss_bytes: rss_bytes,
            threads: 1,
        }
    }

    /// A process that used `cpu` of its `cpus` over the window and grew by `grew` bytes.
    fn usage(cpu: Duration, cpus: usize, grew: u64) -> Usage {
        Usage {
            idle: stat(Duration::ZERO, 1000),
            before: stat(SEC, 1000),
            after: stat(SEC + cpu, 1000 + grew),
            cpus,
        }
    }

    /// Two seconds measured, 1000 messages of 64 B in the window, 10 clients connected.
    fn measured(record: Record) -> Measured {
        Measured {
            target: "t".into(),
            clients: 12,
            connected: 10,
            connect: SEC / 10,
            window: 2 * SEC,
            wall_window: None,
            record,
            connect_failures: Record::failures_only(),
            msg_size: 64,
            rate: None,
            ramp: None,
            churn: None,
            client: usage(SEC, 1, 10_000),
            server: Some(usage(SEC / 2, 1, 5_000)),
            server_summary: None,
            partial: false,
        }
    }

    fn thousand_messages() -> Record {
        let mut r = Record::new(2, false, false);
        for _ in 0..500 {
            r.message(20_000, 20_000, false);
        }
        r.close_seconds(1);
        for _ in 0..500 {
            r.message(20_000, 20_000, false);
        }
        r.close_seconds(2);
        r
    }

    #[test]
    fn rates_and_costs_are_per_second_of_window_and_per_message() {
        let s = summarize(measured(thousand_messages())).result;
        assert_eq!(s.messages, 1000);
        assert_eq!(s.msgs_per_sec, Some(500.0));
        assert_eq!(s.mb_per_sec, Some(500.0 * 64.0 / 1e6));
        assert_eq!(
            s.client.cpu_ns_per_msg,
            Some(1e6),
            "1 s of CPU over 1000 messages"
        );
        assert_eq!(s.client.rss_per_conn_bytes, 1000.0);
        let server = s.server.unwrap();
        assert_eq!(server.cpu_ns_per_msg, Some(0.5e6));
        assert_eq!(server.cpu_user_ns + server.cpu_sys_ns, 500_000_000);
        assert_eq!((s.window_ns, s.connect_ns), (2_000_000_000, 100_000_000));
        assert_eq!(
            s.timeline.iter().map(|t| t.msgs).collect::<Vec<_>>(),
            [500, 500]
        );
    }

    #[test]
    fn connect_failures_count_with_the_run_errors() {
        let mut m = measured(thousand_messages());
        m.connect_failures.failure(Failure::Refused);
        m.connect_failures.failure(Failure::Refused);
        m.record.failure(Failure::Timeout);
        let s = summarize(m).result;
        assert_eq!((s.errors.refused, s.errors.timeout), (2, 1));
    }

    #[test]
    fn the_client_is_the_limit_only_when_it_is_saturated_and_the_server_is_not() {
        let limited = |client: Duration, server: Option<Duration>| {
            let mut m = measured(thousand_messages());
            m.client = usage(client, 1, 0);
            m.server = server.map(|cpu| usage(cpu, 1, 0));
            summarize(m).result.client.saturated
        };
        let (busy, idle) = (SEC * 19 / 10, SEC);
        assert!(limited(busy, Some(idle)), "client busy, server not");
        assert!(
            !limited(busy, Some(busy)),
            "both busy: the server may be the limit"
        );
        assert!(!limited(idle, Some(busy)));
        assert!(
            limited(busy, None),
            "server unknown: warn on the client alone"
        );
        let mut two_cpus = measured(thousand_messages());
        two_cpus.client = usage(busy, 2, 0);
        assert!(
            !summarize(two_cpus).result.client.saturated,
            "half of two CPUs"
        );
    }

    #[test]
    fn a_window_without_one_reply_is_a_problem_and_no_window_measures_nothing() {
        let mut starved = Record::new(2, false, false);
        starved.starved = 10;
        let s = summarize(measured(starved));
        let Some(Problem::NothingMeasured { why }) = &s.problem else {
            panic!("{:?}", s.problem);
        };
        assert!(why.contains("10 of 10 connected clients starved"), "{why}");
        // The window opened: its rate is a measured 0 and its clients starved, but no message
        // means no cost per message.
        let r = &s.result;
        assert_eq!((r.msgs_per_sec, r.starved_clients), (Some(0.0), Some(10)));
        assert_eq!(r.client.cpu_ns_per_msg, None);
        assert_eq!(r.server.unwrap().cpu_ns_per_msg, None);

        let mut never = measured(thousand_messages());
        never.window = Duration::ZERO;
        let s = summarize(never);
        let r = &s.result;
        assert_eq!(r.messages, 0);
        assert_eq!(
            (r.msgs_per_sec, r.mb_per_sec, r.starved_clients),
            (None, None, None)
        );
        assert_eq!(r.client.cpu_ns_per_msg, None);
        assert_eq!(r.server.unwrap().cpu_ns_per_msg, None);
        assert!(
            r.timeline.is_empty(),
            "no second of a window that never opened"
        );
        assert_eq!(
            s.problem, None,
            "the caller says why the window never opened"
        );
        assert!(summarize(measured(thousand_messages())).problem.is_none());
    }

    #[test]
    fn the_open_loop_reports_its_achieved_rate_and_both_latencies() {
        let mut r = Record::new(2, true, false);
        r.message(50_000, 10_000, false);
        r.sent = 3000;
        let mut m = measured(r);
        m.rate = Some(1500.0);
        let s = summarize(m);
        let open = s.result.open_loop.unwrap();
        assert_eq!((open.target_rate, open.achieved_rate), (1500.0, 1500.0));
        assert!(s.result.latency_uncorrected_ns.is_some());
        assert_eq!(s.histograms.len(), 2);
    }

    #[test]
    fn the_overrun_sliver_folds_into_the_last_second() {
        let mut ticks: Vec<_> = (0..4)
            .map(|_| hdrhistogram::Histogram::<u64>::new_with_bounds(1, 1_000_000, 2).unwrap())
            .collect();
        for (i, n) in [10, 20, 30, 2].into_iter().enumerate() {
            for _ in 0..n {
                ticks[i].record(1000).unwrap();
            }
        }
        let t = timeline(&mut ticks, 3.0004, |_, _| None);
        assert_eq!(t.iter().map(|t| t.msgs).collect::<Vec<_>>(), [10, 20, 32]);
        assert_eq!(t.last().unwrap().t_s, 3.0004);
        assert!(t.iter().all(|t| t.asked_rate.is_none()));
    }

    #[test]
    fn under_a_ramp_each_second_says_the_rate_asked() {
        // 1k..3k/1s over the 2 s window after a 1 s warm-up: 1k asked in the first second, 3k
        // in the second (two steps, from FROM to TO).
        let ramp: crate::engine::ramp::Ramp = "1k..3k/1s".parse().unwrap();
        let mut m = measured(thousand_messages());
        m.ramp = Some((ramp.profile(SEC, 2 * SEC), SEC));
        let s = summarize(m).result;
        let asked: Vec<_> = s.timeline.iter().map(|t| t.asked_rate).collect();
        assert_eq!(asked, [Some(1000.0), Some(3000.0)]);
        let open = s.open_loop.unwrap();
        assert_eq!(open.target_rate, 2000.0, "the window's mean rate asked");
    }

    #[test]
    fn churn_counts_connections_and_keeps_connect_and_exchange_apart() {
        let mut r = Record::new(2, false, false).with_churn(true);
        for second in 1..=2 {
            for _ in 0..500 {
                r.message(50_000, 20_000, false);
            }
            r.close_seconds(second);
        }
        r.connect.as_mut().unwrap().record(30_000).unwrap();
        r.connections = 800;
        let mut m = measured(r);
        m.churn = Some(ConnectionMode::Per(1));
        let c = summarize(m).result.churn.unwrap();
        assert_eq!((c.mode.as_str(), c.connections), ("per-message", 800));
        assert_eq!(c.connections_per_sec, 400.0);
        assert_eq!(c.connect_latency_ns.count, 1);
        assert_eq!(
            c.exchange_latency_ns.count, 1000,
            "every message's exchange"
        );
        assert!(
            c.exchange_latency_ns.max < 25_000,
            "from the send, not the connect"
        );
        assert!(
            summarize(measured(thousand_messages()))
                .result
                .churn
                .is_none()
        );
    }
}
