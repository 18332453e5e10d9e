//! One target's run, start to finish: start the server, connect, warm up, measure a fixed
//! window, stop, and turn what was recorded into a [`TargetResult`].
//!
//! Beside it, what a run reads and starts: the server process ([`server`]), this machine's CPUs,
//! limits and /proc ([`sys`]), what else ran on its CPUs ([`noise`]), the wall clock
//! ([`wallclock`]), what it tells the user meanwhile ([`progress`]) and why it fell short
//! ([`problem`]).

pub mod noise;
pub mod problem;
pub mod progress;
pub mod server;
pub mod sys;
pub mod wallclock;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use echo_report::{
    Churn, ClientCost, Latency, OpenLoop, ServerCost, TargetResult, Tick, WallWindow,
    encode_histogram,
};

use crate::engine::churn::ConnectionMode;
use crate::engine::event_loop;
use crate::engine::ramp::Profile;
use crate::engine::record::Record;
use crate::engine::shared::{Event, STOP, Settings, Shared, WARMUP};
use crate::plan::{Drive, Plan};
use crate::run::problem::Problem;
use crate::run::progress::Progress;
use crate::run::server::ServerProcess;
use crate::run::sys::ProcStat;

/// How often the coordinator looks at the clock, Ctrl-C and the server while it waits.
const POLL: Duration = Duration::from_millis(50);

/// How often a long connect phase says how far it has got.
const CONNECT_REPORT: Duration = Duration::from_secs(1);

/// Beyond `--timeout`, how long client threads get to finish once told to stop.
const STOP_SLACK: Duration = Duration::from_secs(2);

/// Share of its CPUs' time the load generator may use before its figures are suspect.
const SATURATED: f64 = 0.9;

/// One target's outcome: the result, and why it is incomplete if it is.
pub struct Outcome {
    pub result: TargetResult,
    /// Set when the run could not be completed as asked (the server died, a thread hung,
    /// nothing was measured).
    pub problem: Option<Problem>,
    /// Histograms for the `.hgrm` exports: (suffix, histogram).
    pub histograms: Vec<(&'static str, hdrhistogram::Histogram<u64>)>,
}

/// Runs `drive` under `plan`. Stops early, marking the result partial, if `interrupted` is set.
pub fn run(
    plan: &Plan,
    drive: &Drive,
    interrupted: &AtomicBool,
    progress: &mut Progress,
) -> Result<Outcome> {
    let name = drive.name();
    let mut server = match drive {
        Drive::Start(target) => Some(ServerProcess::start(
            target,
            &plan.server_args(),
            &plan.server_cpus,
            &plan.client_cpus,
        )?),
        Drive::Addr(_) => None,
    };
    let addr = match (drive, &server) {
        (Drive::Addr(addr), _) => *addr,
        (_, Some(s)) => s.addr(),
        _ => unreachable!("a started target has a server"),
    };
    let server_pid = server.as_ref().map(ServerProcess::pid).or(plan.server_pid);
    let server_idle = server_pid
        .map(|pid| ProcStat::read(Some(pid)))
        .transpose()?;
    let client_idle = ProcStat::read(None)?;
    match &server {
        Some(s) => progress.say(&name, format!("server pid {} listening on {addr}", s.pid())),
        None => progress.say(&name, format!("driving the server at {addr}")),
    }

    // Client threads, each with a contiguous share of the client ids.
    let shared = Arc::new(Shared::default());
    let (events_tx, events) = mpsc::channel();
    let counters: Vec<Arc<AtomicU64>> = (0..plan.client_threads).map(|_| Arc::default()).collect();
    let settings = Settings {
        addr,
        msg_size: plan.msg_size,
        timeout: plan.timeout,
        work_every: plan.work_every,
        connect_concurrency: plan.connect_concurrency.div_ceil(plan.client_threads),
        seconds: plan.duration.as_secs_f64().ceil() as usize,
        open_loop: plan.rate.is_some() || plan.ramp.is_some(),
        connection_mode: plan.connection_mode,
        sources: plan.sources.clone(),
    };
    progress.say(&name, format!("connecting {} clients", plan.clients));
    let connect_start = Instant::now();
    let threads: Vec<JoinHandle<()>> = (0..plan.client_threads)
        .map(|i| {
            let ids = share(plan.clients, plan.client_threads, i);
            let (settings, shared, counter, events) = (
                settings.clone(),
                Arc::clone(&shared),
                Arc::clone(&counters[i]),
                events_tx.clone(),
            );
            std::thread::Builder::new()
                .name(format!("client-{i}"))
                .spawn(move || event_loop::thread_main(ids, settings, shared, counter, events))
                .context("cannot start a client thread")
        })
        .collect::<Result<_>>()?;
    drop(events_tx);

    // Connecting: every thread reports once. Connects time out, so this ends.
    let mut connected = 0;
    let mut connect_failures = Record::new(0, false, false);
    let mut reported = 0;
    let mut problem = None;
    let mut next_report = connect_start + CONNECT_REPORT;
    while reported < plan.client_threads {
        match events.recv_timeout(POLL) {
            Ok(Event::Connected {
                connected: n,
                failures,
            }) => {
                reported += 1;
                connected += n;
                failures
                    .into_iter()
                    .for_each(|f| connect_failures.failure(f));
            }
            Ok(Event::Done(_)) => unreachable!("threads report Connected first"),
            Err(RecvTimeoutError::Disconnected) => bail!("a client thread died while connecting"),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(p) = server_trouble(&mut server, interrupted) {
                    problem = Some(p);
                    break;
                }
                if Instant::now() >= next_report {
                    next_report += CONNECT_REPORT;
                    progress.say(
                        &name,
                        format!(
                            "{} of {} connected so far",
                            shared.connected(),
                            plan.clients
                        ),
                    );
                }
            }
        }
    }
    // Until the last attempt ended, failed ones included: a phase slowed by refusals and
    // timeouts shows as slow.
    let connect_time = connect_start.elapsed();
    let failed = connect_failures.errors.total();
    if connected == 0 && problem.is_none() {
        shared.set_phase(STOP);
        bail!(
            "no client could connect to {addr} ({failed} attempts failed: {}); is the server running and listening there?",
            connect_failures.errors
        );
    }
    progress.say(
        &name,
        format!(
            "{connected} of {} connected in {}{}",
            plan.clients,
            echo_common::units::format_duration(connect_time),
            if failed > 0 {
                format!(" ({failed} failed: {})", connect_failures.errors)
            } else {
                String::new()
            }
        ),
    );

    // Warm-up, then the window. Nothing before `window_start` is recorded.
    let mut window = None;
    let mut wall_window = None;
    if problem.is_none() {
        if let Some(rate) = plan.rate {
            shared.set_rate_per_conn(rate / connected as f64);
        }
        let mut warmup = plan.warmup;
        if let Some(at) = plan.start_at {
            (warmup, problem) = wait_for_start(
                &name,
                at,
                plan.warmup,
                &shared,
                &mut server,
                interrupted,
                progress,
            );
        }
        if let Some(ramp) = &plan.ramp {
            shared.set_ramp(ramp.profile(warmup, plan.duration), connected);
        }
        if problem.is_none() {
            shared.set_phase(WARMUP);
            progress.phase(&name, "warm-up", warmup);
            problem = wait(warmup, &shared, &mut server, interrupted, progress, |_| {
                None
            });
        }
    }
    let mut client_before = client_idle;
    let mut server_before = server_idle;
    let mut meter = None;
    if problem.is_none() {
        let start = shared.open_window();
        let wall_start = wallclock::wall_of(start);
        client_before = ProcStat::read(None)?;
        server_before = server_pid.map(|p| ProcStat::read(Some(p))).transpose()?;
        meter = crate::run::noise::Meter::start();
        progress.phase(&name, "measuring", plan.duration);
        let total = || counters.iter().map(|c| c.load(Relaxed)).sum::<u64>();
        problem = wait(
            plan.duration,
            &shared,
            &mut server,
            interrupted,
            progress,
            |elapsed| {
                let rate = total() as f64 / elapsed.as_secs_f64().max(1e-3);
                Some(format!("{rate:.0} msg/s"))
            },
        );
        window = Some(start.elapsed());
        wall_window = Some(WallWindow {
            start_unix_ns: wallclock::unix_ns(wall_start),
            end_unix_ns: wallclock::unix_ns(SystemTime::now()),
        });
    }
    shared.set_phase(STOP);
    progress.finish();
    let client_after = ProcStat::read(None)?;
    let server_after = server_pid.and_then(|p| ProcStat::read(Some(p)).ok());
    // What else ran on our CPUs in the window: their busy time less the server's and ours.
    let own = match (server_before, server_after) {
        (Some(b), Some(a)) => Some(
            a.cpu().saturating_sub(b.cpu())
                + client_after.cpu().saturating_sub(client_before.cpu()),
        ),
        _ => None,
    };
    let noise = meter.and_then(|m| m.stop(&plan.server_cpus, &plan.client_cpus, own));
    if window.is_none() && problem == Some(Problem::Interrupted) {
        problem = Some(Problem::NothingMeasured {
            why: "interrupted before the measured window opened".into(),
        });
    }

    // Collect every thread's record; a thread that does not stop in time is left behind.
    let churn = plan.connection_mode != ConnectionMode::Persistent;
    let mut record =
        Record::new(settings.seconds, settings.open_loop, plan.work_every > 1).with_churn(churn);
    let deadline = Instant::now() + plan.timeout + STOP_SLACK;
    let mut done = 0;
    while done < plan.client_threads {
        match events.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(Event::Done(r)) => {
                record.merge(*r);
                done += 1;
            }
            Ok(Event::Connected { .. }) => {}
            Err(_) => {
                problem.get_or_insert(Problem::ThreadsHung(plan.client_threads - done));
                break;
            }
        }
    }
    if done == plan.client_threads {
        threads.into_iter().for_each(|t| drop(t.join()));
    }

    let server_summary = match server.take() {
        Some(s) => match s.stop() {
            Ok(summary) => Some(summary),
            Err(e) => {
                problem.get_or_insert_with(|| Problem::ServerStop(format!("{e:#}")));
                None
            }
        },
        None => None,
    };

    let cpus = |list: &[usize]| {
        if list.is_empty() {
            crate::run::sys::online_cpus()
        } else {
            list.len()
        }
    };
    let mut summary = summarize(Measured {
        target: name,
        clients: plan.clients,
        connected,
        connect: connect_time,
        window: window.unwrap_or_default(),
        wall_window,
        record,
        connect_failures,
        msg_size: plan.msg_size,
        rate: plan.rate,
        ramp: plan
            .ramp
            .map(|r| (r.profile(plan.warmup, plan.duration), plan.warmup)),
        churn: churn.then_some(plan.connection_mode),
        client: Usage {
            idle: client_idle,
            before: client_before,
            after: client_after,
            cpus: cpus(&plan.client_cpus),
        },
        server: match (server_idle, server_before, server_after) {
            (Some(idle), Some(before), Some(after)) => Some(Usage {
                idle,
                before,
                after,
                cpus: cpus(&plan.server_cpus),
            }),
            _ => None,
        },
        server_summary,
        partial: problem.is_some() || interrupted.load(Relaxed),
    });
    if let Some(c) = &summary.first_corruption {
        progress.say(&summary.result.target, format!("CORRUPT ECHO: {c}"));
    }
    if let Some(n) = &noise {
        for w in crate::run::noise::warnings(n) {
            progress.say(&summary.result.target, format!("noisy window: {w}"));
        }
    }
    summary.result.noise = noise.filter(|_| window.is_some());
    Ok(Outcome {
        result: summary.result,
        problem: problem.or(summary.problem),
        histograms: summary.histograms,
    })
}

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

/// What [`summarize`] makes of a [`Measured`].
pub struct Summary {
    pub result: TargetResult,
    pub histograms: Vec<(&'static str, hdrhistogram::Histogram<u64>)>,
    /// Set when the run measured nothing although its window opened.
    pub problem: Option<Problem>,
    pub first_corruption: Option<String>,
}

/// The arithmetic of a run: rates, CPU per message, which side limited it, the timeline, and
/// whether anything was measured at all. A pure function of what was measured.
pub fn summarize(m: Measured) -> Summary {
    let mut record = m.record;
    record.merge(m.connect_failures);
    let seconds = m.window.as_secs_f64();
    let messages = if seconds > 0.0 { record.all.len() } else { 0 };
    let per_sec = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
    let per_msg = |cpu: Duration| {
        if messages == 0 {
            0.0
        } else {
            cpu.as_nanos() as f64 / messages as f64
        }
    };
    let busy = |u: &Usage| seconds > 0.0 && u.busy(seconds) > SATURATED;
    // With one core each, both sides are busy at full load: the client was the limit only if
    // its CPUs were saturated and the server's were not (when the server's are known).
    let client_limited = busy(&m.client) && !m.server.as_ref().is_some_and(busy);
    let server = m.server.as_ref().map(|s| ServerCost {
        cpu_user_ns: s.after.user.saturating_sub(s.before.user).as_nanos() as u64,
        cpu_sys_ns: s.after.system.saturating_sub(s.before.system).as_nanos() as u64,
        cpu_ns_per_msg: per_msg(s.cpu()),
        peak_rss_bytes: s.after.peak_rss_bytes,
        rss_per_conn_bytes: s.rss_per_conn(m.connected),
        threads: s.after.threads,
    });
    let problem = (seconds > 0.0 && messages == 0).then(|| Problem::NothingMeasured {
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
    let timeline = timeline(&mut record.ticks, seconds, asked);
    let churn = m.churn.map(|mode| Churn {
        mode: mode.to_string(),
        connections: record.connections,
        connections_per_sec: per_sec(record.connections as f64),
        connect_latency_ns: record.connect.as_ref().map(Latency::of).unwrap_or_default(),
        exchange_latency_ns: record
            .exchange
            .as_ref()
            .map(Latency::of)
            .unwrap_or_default(),
    });
    let result = TargetResult {
        target: m.target,
        partial: m.partial,
        clients: m.clients,
        connected: m.connected,
        connect_ns: m.connect.as_nanos() as u64,
        window_ns: m.window.as_nanos() as u64,
        wall_window: m.wall_window,
        messages,
        msgs_per_sec: per_sec(messages as f64),
        mb_per_sec: per_sec(messages as f64 * m.msg_size as f64) / 1e6,
        latency_ns: Latency::of(&record.all),
        latency_uncorrected_ns: record.uncorrected.as_ref().map(Latency::of),
        bystander_latency_ns: record.bystander.as_ref().map(Latency::of),
        working_latency_ns: record.working.as_ref().map(Latency::of),
        errors: record.errors,
        starved_clients: record.starved,
        timeline,
        server,
        client: ClientCost {
            cpu_ns_per_msg: per_msg(m.client.cpu()),
            rss_per_conn_bytes: m.client.rss_per_conn(m.connected),
            saturated: client_limited,
        },
        open_loop: m.rate.or(asked(0.0, seconds)).map(|rate| OpenLoop {
            target_rate: rate,
            achieved_rate: per_sec(record.sent as f64),
        }),
        server_summary: m.server_summary,
        histogram: encode_histogram(&record.all),
        capacity: None,
        churn,
        noise: None,
        repeats: None,
    };
    let mut histograms = vec![("", record.all)];
    if let Some(h) = record.uncorrected {
        histograms.push(("-uncorrected", h));
    }
    Summary {
        result,
        histograms,
        problem,
        first_corruption: record.first_corruption,
    }
}

/// Second-by-second figures of a window `seconds` long. The window overruns its length by a
/// moment (the coordinator's wake-up); what lands in that sliver of a second is folded into the
/// last whole second rather than shown as a second of its own.
/// `asked(a, b)` is the rate asked over `[a, b)` seconds of the window, under a ramp.
fn timeline(
    ticks: &mut [hdrhistogram::Histogram<u64>],
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

/// Client ids of thread `i` of `threads`, sharing `clients` as evenly as possible.
fn share(clients: usize, threads: usize, i: usize) -> std::ops::Range<usize> {
    let start = clients * i / threads;
    start..clients * (i + 1) / threads
}

/// Waits `length`, watching for Ctrl-C and the server's death; returns why it stopped early.
fn wait(
    length: Duration,
    shared: &Shared,
    server: &mut Option<ServerProcess>,
    interrupted: &AtomicBool,
    progress: &Progress,
    figure: impl Fn(Duration) -> Option<String>,
) -> Option<Problem> {
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        if elapsed >= length {
            return None;
        }
        if let Some(problem) = server_trouble(server, interrupted) {
            return Some(problem);
        }
        if shared.alive() == 0 {
            return Some(Problem::AllClientsFailed);
        }
        progress.update(elapsed, figure(elapsed));
        std::thread::sleep(POLL.min(length - elapsed));
    }
}

/// `--start-at`: waits, connected, until the warm-up must begin for the window to open at `at`;
/// returns the warm-up left (shorter than asked if connecting ran late) and why it stopped
/// early, if it did.
fn wait_for_start(
    name: &str,
    at: SystemTime,
    warmup: Duration,
    shared: &Shared,
    server: &mut Option<ServerProcess>,
    interrupted: &AtomicBool,
    progress: &mut Progress,
) -> (Duration, Option<Problem>) {
    let opens = wallclock::instant_of(at);
    let now = Instant::now();
    if now >= opens {
        let problem = Problem::LateForStart {
            late: echo_common::units::format_duration(now - opens),
            at: humantime::format_rfc3339_millis(at).to_string(),
        };
        return (Duration::ZERO, Some(problem));
    }
    let warm_from = opens.checked_sub(warmup).unwrap_or(now);
    if warm_from > now {
        progress.phase(name, "waiting for --start-at", warm_from - now);
        if let Some(p) = wait(
            warm_from - now,
            shared,
            server,
            interrupted,
            progress,
            |_| None,
        ) {
            return (Duration::ZERO, Some(p));
        }
    } else {
        progress.say(
            name,
            format!(
                "connecting ran into the warm-up: {} of warm-up left before --start-at",
                echo_common::units::format_duration(opens - now)
            ),
        );
    }
    (opens.saturating_duration_since(Instant::now()), None)
}

fn server_trouble(server: &mut Option<ServerProcess>, interrupted: &AtomicBool) -> Option<Problem> {
    if interrupted.load(Relaxed) {
        return Some(Problem::Interrupted);
    }
    let status = server.as_mut()?.exited()?;
    *server = None;
    Some(Problem::ServerExited(status.to_string()))
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
            connect_failures: Record::new(0, false, false),
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
        assert_eq!(s.msgs_per_sec, 500.0);
        assert_eq!(s.mb_per_sec, 500.0 * 64.0 / 1e6);
        assert_eq!(
            s.client.cpu_ns_per_msg, 1e6,
            "1 s of CPU over 1000 messages"
        );
        assert_eq!(s.client.rss_per_conn_bytes, 1000.0);
        let server = s.server.unwrap();
        assert_eq!(server.cpu_ns_per_msg, 0.5e6);
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

        let mut never = measured(thousand_messages());
        never.window = Duration::ZERO;
        let s = summarize(never);
        assert_eq!((s.result.messages, s.result.msgs_per_sec), (0, 0.0));
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
    fn clients_are_shared_evenly_and_completely() {
        let ranges: Vec<_> = (0..3).map(|i| share(10, 3, i)).collect();
        assert_eq!(ranges, [0..3, 3..6, 6..10]);
        assert_eq!(share(1, 1, 0), 0..1);
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
