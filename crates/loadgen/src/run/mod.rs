//! One target's run, start to finish: start the server, connect, warm up, measure a fixed
//! window, stop, and turn what was recorded into a [`TargetResult`]. [`run`] reads as those
//! phases, each a method of the run's [`Coordinator`]; the arithmetic on what they recorded is
//! the pure half, [`measured`].
//!
//! Beside it, what a run reads and starts: the server process ([`server`]), this machine's CPUs,
//! limits and /proc ([`sys`]), what else ran on its CPUs ([`noise`]), the wall clock
//! ([`wallclock`]), what it tells the user meanwhile ([`progress`]) and why it fell short
//! ([`problem`]).

pub mod measured;
pub mod noise;
pub mod problem;
pub mod progress;
pub mod server;
pub mod sys;
pub mod wallclock;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use echo_common::units::format_duration;
use echo_report::{Noise, TargetResult, WallWindow};

use crate::engine::churn::ConnectionMode;
use crate::engine::event_loop;
use crate::engine::record::Record;
use crate::engine::shared::{Event, Phase, Settings, Shared};
use crate::plan::{Drive, Plan};
use crate::run::measured::Hgrm;
use crate::run::measured::{Measured, Usage, summarize};
use crate::run::noise::Meter;
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

/// One target's outcome: the result, and why it is incomplete if it is.
pub struct Outcome {
    pub result: TargetResult,
    /// Set when the run could not be completed as asked (the server died, a thread hung,
    /// nothing was measured).
    pub problem: Option<Problem>,
    /// Histograms for the `.hgrm` files.
    pub histograms: Vec<Hgrm>,
}

/// Runs `drive` under `plan`. Stops early, marking the result partial, if `interrupted` is set.
/// Once a phase meets a problem the later ones skip their waiting, but the run still stops,
/// collects and reports what it has.
pub fn run(
    plan: &Plan,
    drive: &Drive,
    interrupted: &AtomicBool,
    progress: &mut Progress,
) -> Result<Outcome> {
    let mut run = Coordinator::start(plan, drive, interrupted, progress)?;
    let connected = run.connect()?;
    run.warm_up(connected.clients);
    let mut window = run.measure()?;
    let ended = run.end(&mut window)?;
    let record = run.collect();
    let server_summary = run.stop_server();
    Ok(run.conclude(Phases {
        connected,
        window,
        ended,
        record,
        server_summary,
    }))
}

/// One run in progress: its server, its client threads, and the first problem met.
struct Coordinator<'a> {
    plan: &'a Plan,
    name: String,
    interrupted: &'a AtomicBool,
    progress: &'a mut Progress,
    /// `None` for `--addr`, and once the server has exited.
    server: Option<ServerProcess>,
    /// The server's process, if known: started here, or `--server-pid`.
    server_pid: Option<u32>,
    /// The load generator's and the server's use at start-up, before any client connected.
    client_idle: ProcStat,
    server_idle: Option<ProcStat>,
    shared: Arc<Shared>,
    settings: Settings,
    events: Receiver<Event>,
    /// Each client thread's count of replies, for the progress line's rate.
    counters: Vec<Arc<AtomicU64>>,
    threads: Vec<JoinHandle<()>>,
    /// Taken before the threads start: the connect phase's time includes starting them.
    connect_start: Instant,
    problem: Option<Problem>,
    /// The phase under way before the window opens (`the connect phase`, `the wait for
    /// --start-at`, `warm-up`): what a run cut before its window says it was cut in.
    before_window: &'static str,
}

/// What the connect phase came to.
struct Connected {
    /// Clients connected.
    clients: usize,
    /// The failed attempts.
    failures: Record,
    /// Until the last attempt ended, failed ones included: a phase slowed by refusals and
    /// timeouts shows as slow.
    time: Duration,
}

/// The measured window, if it opened, and both processes' use as it opened.
struct Window {
    length: Option<Duration>,
    wall: Option<WallWindow>,
    client_before: ProcStat,
    server_before: Option<ProcStat>,
    meter: Option<Meter>,
}

/// Both processes' use as the window closed, and what else ran on their CPUs meanwhile.
struct Ended {
    client_after: ProcStat,
    server_after: Option<ProcStat>,
    noise: Option<Noise>,
}

/// What every phase handed on, for [`Coordinator::conclude`].
struct Phases {
    connected: Connected,
    window: Window,
    ended: Ended,
    record: Record,
    server_summary: Option<echo_common::Summary>,
}

impl<'a> Coordinator<'a> {
    /// Starts the server (unless driving `--addr`), reads both processes at rest, and starts
    /// the client threads, each with a contiguous share of the client ids.
    fn start(
        plan: &'a Plan,
        drive: &Drive,
        interrupted: &'a AtomicBool,
        progress: &'a mut Progress,
    ) -> Result<Self> {
        let name = drive.name();
        let server = match drive {
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

        let shared = Arc::new(Shared::default());
        let (events_tx, events) = mpsc::channel();
        let counters: Vec<Arc<AtomicU64>> =
            (0..plan.client_threads).map(|_| Arc::default()).collect();
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
        Ok(Coordinator {
            plan,
            name,
            interrupted,
            progress,
            server,
            server_pid,
            client_idle,
            server_idle,
            shared,
            settings,
            events,
            counters,
            threads,
            connect_start,
            problem: None,
            before_window: "the connect phase",
        })
    }

    /// Connecting: every thread reports once. Connects time out, so this ends. Fails if not one
    /// client could connect.
    fn connect(&mut self) -> Result<Connected> {
        let start = self.connect_start;
        let mut connected = 0;
        let mut failures = Record::failures_only();
        let mut reported = 0;
        let mut next_report = start + CONNECT_REPORT;
        while reported < self.plan.client_threads {
            match self.events.recv_timeout(POLL) {
                Ok(Event::Connected {
                    connected: n,
                    failures: failed,
                }) => {
                    reported += 1;
                    connected += n;
                    failed.into_iter().for_each(|f| failures.failure(f));
                }
                Ok(Event::Done(_)) => unreachable!("threads report Connected first"),
                Err(RecvTimeoutError::Disconnected) => {
                    bail!("a client thread died while connecting")
                }
                Err(RecvTimeoutError::Timeout) => {
                    if let Some(p) = server_trouble(&mut self.server, self.interrupted) {
                        self.problem = Some(p);
                        break;
                    }
                    if Instant::now() >= next_report {
                        next_report += CONNECT_REPORT;
                        let so_far = self.shared.connected();
                        let line = format!("{so_far} of {} connected so far", self.plan.clients);
                        self.progress.say(&self.name, line);
                    }
                }
            }
        }
        let time = start.elapsed();
        let failed = failures.errors.total();
        if connected == 0 && self.problem.is_none() {
            self.shared.set_phase(Phase::Stop);
            bail!(
                "no client could connect to {} ({failed} attempts failed: {}); is the server running and listening there?",
                self.settings.addr,
                failures.errors
            );
        }
        let failed_note = match failed {
            0 => String::new(),
            _ => format!(" ({failed} failed: {})", failures.errors),
        };
        self.progress.say(
            &self.name,
            format!(
                "{connected} of {} connected in {}{failed_note}",
                self.plan.clients,
                format_duration(time),
            ),
        );
        Ok(Connected {
            clients: connected,
            failures,
            time,
        })
    }

    /// The warm-up: load at the asked rate, nothing recorded. With `--start-at`, first waits
    /// until the warm-up must begin for the window to open on time.
    fn warm_up(&mut self, connected: usize) {
        if self.problem.is_some() {
            return;
        }
        let plan = self.plan;
        if let Some(rate) = plan.rate {
            self.shared.set_rate_per_conn(rate / connected as f64);
        }
        let mut warmup = plan.warmup;
        if let Some(at) = plan.start_at {
            self.before_window = "the wait for --start-at";
            (warmup, self.problem) = wait_for_start(
                &self.name,
                at,
                plan.warmup,
                &self.shared,
                &mut self.server,
                self.interrupted,
                self.progress,
            );
        }
        if let Some(ramp) = &plan.ramp {
            self.shared
                .set_ramp(ramp.profile(warmup, plan.duration), connected);
        }
        if self.problem.is_none() {
            self.shared.set_phase(Phase::Warmup);
            self.before_window = "warm-up";
            self.progress.phase(&self.name, "warm-up", warmup);
            self.problem = wait(
                warmup,
                &self.shared,
                &mut self.server,
                self.interrupted,
                self.progress,
                |_| None,
            );
        }
    }

    /// The measured window: opened, watched for its length, closed. Nothing before its start
    /// is recorded.
    fn measure(&mut self) -> Result<Window> {
        let mut window = Window {
            length: None,
            wall: None,
            client_before: self.client_idle,
            server_before: self.server_idle,
            meter: None,
        };
        if self.problem.is_some() {
            return Ok(window);
        }
        let start = self.shared.open_window();
        let wall_start = wallclock::wall_of(start);
        window.client_before = ProcStat::read(None)?;
        window.server_before = self
            .server_pid
            .map(|p| ProcStat::read(Some(p)))
            .transpose()?;
        window.meter = Meter::start();
        self.progress
            .phase(&self.name, "measuring", self.plan.duration);
        let counters = &self.counters;
        let total = || counters.iter().map(|c| c.load(Relaxed)).sum::<u64>();
        self.problem = wait(
            self.plan.duration,
            &self.shared,
            &mut self.server,
            self.interrupted,
            self.progress,
            |elapsed| {
                let rate = total() as f64 / elapsed.as_secs_f64().max(1e-3);
                Some(format!("{rate:.0} msg/s"))
            },
        );
        window.length = Some(start.elapsed());
        window.wall = Some(WallWindow {
            start_unix_ns: wallclock::unix_ns(wall_start),
            end_unix_ns: wallclock::unix_ns(SystemTime::now()),
        });
        Ok(window)
    }

    /// Tells the clients to stop, and reads both processes and the CPUs' noise as the window
    /// closed.
    fn end(&mut self, window: &mut Window) -> Result<Ended> {
        self.shared.set_phase(Phase::Stop);
        self.progress.finish();
        let client_after = ProcStat::read(None)?;
        let server_after = self.server_pid.and_then(|p| ProcStat::read(Some(p)).ok());
        // What else ran on our CPUs in the window: their busy time less the server's and ours.
        let own = match (window.server_before, server_after) {
            (Some(b), Some(a)) => Some(
                a.cpu().saturating_sub(b.cpu())
                    + client_after
                        .cpu()
                        .saturating_sub(window.client_before.cpu()),
            ),
            _ => None,
        };
        let (server_cpus, client_cpus) = (&self.plan.server_cpus, &self.plan.client_cpus);
        let noise = window
            .meter
            .take()
            .and_then(|m| m.stop(server_cpus, client_cpus, own));
        if window.length.is_none() && self.problem == Some(Problem::Interrupted) {
            self.problem = Some(Problem::NothingMeasured {
                why: format!("cut during {}: no window measured", self.before_window),
            });
        }
        Ok(Ended {
            client_after,
            server_after,
            noise,
        })
    }

    /// Every thread's record, merged; a thread that does not stop in time is left behind.
    fn collect(&mut self) -> Record {
        let plan = self.plan;
        let mut record = self.settings.new_record();
        let deadline = Instant::now() + plan.timeout + STOP_SLACK;
        let mut done = 0;
        while done < plan.client_threads {
            match self
                .events
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(Event::Done(r)) => {
                    record.merge(*r);
                    done += 1;
                }
                Ok(Event::Connected { .. }) => {}
                Err(_) => {
                    self.problem
                        .get_or_insert(Problem::ThreadsHung(plan.client_threads - done));
                    break;
                }
            }
        }
        if done == plan.client_threads {
            std::mem::take(&mut self.threads)
                .into_iter()
                .for_each(|t| drop(t.join()));
        }
        record
    }

    /// Stops the server loadgen started, with its own summary of the run.
    fn stop_server(&mut self) -> Option<echo_common::Summary> {
        match self.server.take()?.stop() {
            Ok(summary) => Some(summary),
            Err(e) => {
                self.problem
                    .get_or_insert_with(|| Problem::ServerStop(format!("{e:#}")));
                None
            }
        }
    }

    /// The result, from what every phase handed on; says a corrupt echo and a noisy window.
    fn conclude(self, p: Phases) -> Outcome {
        let plan = self.plan;
        let cpus = |list: &[usize]| {
            if list.is_empty() {
                sys::online_cpus()
            } else {
                list.len()
            }
        };
        let churn = plan.connection_mode != ConnectionMode::Persistent;
        let mut summary = summarize(Measured {
            target: self.name,
            clients: plan.clients,
            connected: p.connected.clients,
            connect: p.connected.time,
            window: p.window.length.unwrap_or_default(),
            wall_window: p.window.wall,
            record: p.record,
            connect_failures: p.connected.failures,
            msg_size: plan.msg_size,
            rate: plan.rate,
            ramp: plan
                .ramp
                .map(|r| (r.profile(plan.warmup, plan.duration), plan.warmup)),
            churn: churn.then_some(plan.connection_mode),
            client: Usage {
                idle: self.client_idle,
                before: p.window.client_before,
                after: p.ended.client_after,
                cpus: cpus(&plan.client_cpus),
            },
            server: match (
                self.server_idle,
                p.window.server_before,
                p.ended.server_after,
            ) {
                (Some(idle), Some(before), Some(after)) => Some(Usage {
                    idle,
                    before,
                    after,
                    cpus: cpus(&plan.server_cpus),
                }),
                _ => None,
            },
            server_summary: p.server_summary,
            partial: self.problem.is_some() || self.interrupted.load(Relaxed),
        });
        let target = &summary.result.target;
        if let Some(c) = &summary.first_corruption {
            self.progress.say(target, format!("CORRUPT ECHO: {c}"));
        }
        if let Some(n) = &p.ended.noise {
            for w in noise::warnings(n) {
                self.progress.say(target, format!("noisy window: {w}"));
            }
        }
        summary.result.noise = p.ended.noise.filter(|_| p.window.length.is_some());
        Outcome {
            result: summary.result,
            problem: self.problem.or(summary.problem),
            histograms: summary.histograms,
        }
    }
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

    #[test]
    fn clients_are_shared_evenly_and_completely() {
        let ranges: Vec<_> = (0..3).map(|i| share(10, 3, i)).collect();
        assert_eq!(ranges, [0..3, 3..6, 6..10]);
        assert_eq!(share(1, 1, 0), 0..1);
    }
}
