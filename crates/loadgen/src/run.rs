//! One target's run, start to finish: start the server, connect, warm up, measure a fixed
//! window, stop, and turn what was recorded into a [`TargetResult`].

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use echo_report::{
    ClientCost, Latency, OpenLoop, ServerCost, TargetResult, Tick, encode_histogram,
};

use crate::client::{self, Event, STOP, Settings, Shared, WARMUP};
use crate::plan::{Drive, Plan};
use crate::progress::Progress;
use crate::record::Record;
use crate::server::ServerProcess;
use crate::sys::ProcStat;

/// How often the coordinator looks at the clock, Ctrl-C and the server while it waits.
const POLL: Duration = Duration::from_millis(50);

/// Beyond `--timeout`, how long client threads get to finish once told to stop.
const STOP_SLACK: Duration = Duration::from_secs(2);

/// Share of its CPUs' time the load generator may use before its figures are suspect.
const SATURATED: f64 = 0.9;

/// One target's outcome: the result, and why it is incomplete if it is.
pub struct Outcome {
    pub result: TargetResult,
    /// Set when the run could not be completed as asked (the server died, a thread hung).
    pub problem: Option<String>,
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
        open_loop: plan.rate.is_some(),
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
                .spawn(move || client::thread_main(ids, settings, shared, counter, events))
                .context("cannot start a client thread")
        })
        .collect::<Result<_>>()?;
    drop(events_tx);

    // Connecting: every thread reports once. Connects time out, so this ends.
    let mut connected = 0;
    let mut connect_failures = Record::new(0, false, false);
    let mut last_connected = None;
    let mut reported = 0;
    let mut problem = None;
    while reported < plan.client_threads {
        match events.recv_timeout(POLL) {
            Ok(Event::Connected {
                connected: n,
                failures,
                last,
            }) => {
                reported += 1;
                connected += n;
                failures
                    .into_iter()
                    .for_each(|f| connect_failures.failure(f));
                last_connected = last_connected.max(last);
            }
            Ok(Event::Done(_)) => unreachable!("threads report Connected first"),
            Err(RecvTimeoutError::Disconnected) => bail!("a client thread died while connecting"),
            Err(RecvTimeoutError::Timeout) => {
                if let Some(p) = server_trouble(&mut server, interrupted) {
                    problem = Some(p);
                    break;
                }
            }
        }
    }
    let connect_time =
        last_connected.map_or(Duration::ZERO, |t: Instant| t.duration_since(connect_start));
    let failed = connect_failures.errors.total();
    if connected == 0 && problem.is_none() {
        shared.set_phase(STOP);
        bail!(
            "no client could connect to {addr} ({failed} attempts failed: {}); is the server running and listening there?",
            describe_errors(&connect_failures.errors)
        );
    }
    progress.say(
        &name,
        format!(
            "{connected} of {} connected in {}{}",
            plan.clients,
            echo_common::units::format_duration(connect_time),
            if failed > 0 {
                format!(
                    " ({failed} failed: {})",
                    describe_errors(&connect_failures.errors)
                )
            } else {
                String::new()
            }
        ),
    );

    // Warm-up, then the window. Nothing before `window_start` is recorded.
    let mut window = None;
    if problem.is_none() {
        if let Some(rate) = plan.rate {
            shared.set_rate_per_conn(rate / connected as f64);
        }
        shared.set_phase(WARMUP);
        progress.phase(&name, "warm-up", plan.warmup);
        problem = wait(
            plan.warmup,
            &shared,
            &mut server,
            interrupted,
            progress,
            |_| None,
        );
    }
    let mut client_before = client_idle;
    let mut server_before = server_idle;
    if problem.is_none() {
        let start = shared.open_window();
        client_before = ProcStat::read(None)?;
        server_before = server_pid.map(|p| ProcStat::read(Some(p))).transpose()?;
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
        window = Some((start, Instant::now()));
    }
    shared.set_phase(STOP);
    progress.finish();
    let client_after = ProcStat::read(None)?;
    let server_after = server_pid.and_then(|p| ProcStat::read(Some(p)).ok());

    // Collect every thread's record; a thread that does not stop in time is left behind.
    let mut record = Record::new(settings.seconds, settings.open_loop, plan.work_every > 1);
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
                problem.get_or_insert_with(|| {
                    format!(
                        "{} client threads did not stop in time",
                        plan.client_threads - done
                    )
                });
                break;
            }
        }
    }
    if done == plan.client_threads {
        threads.into_iter().for_each(|t| drop(t.join()));
    }
    record.merge(connect_failures);

    let server_summary = match server.take() {
        Some(s) => match s.stop() {
            Ok(summary) => Some(summary),
            Err(e) => {
                problem.get_or_insert_with(|| format!("{e:#}"));
                None
            }
        },
        None => None,
    };

    let (window_ns, messages) = match window {
        Some((start, end)) => ((end - start).as_nanos() as u64, record.all.len()),
        None => (0, 0),
    };
    let seconds = window_ns as f64 / 1e9;
    let per_sec = |n: f64| if seconds > 0.0 { n / seconds } else { 0.0 };
    let cpu_per_msg = |before: &ProcStat, after: &ProcStat| {
        if messages == 0 {
            0.0
        } else {
            after.cpu().saturating_sub(before.cpu()).as_nanos() as f64 / messages as f64
        }
    };
    let client_cpu = client_after
        .cpu()
        .saturating_sub(client_before.cpu())
        .as_secs_f64();
    let client_cpus = plan.client_cpus.len().max(1) as f64;
    let saturated = seconds > 0.0 && client_cpu / (seconds * client_cpus) > SATURATED;
    let server_cost = match (server_idle, server_before, server_after) {
        (Some(idle), Some(before), Some(after)) => Some(ServerCost {
            cpu_user_ns: after.user.saturating_sub(before.user).as_nanos() as u64,
            cpu_sys_ns: after.system.saturating_sub(before.system).as_nanos() as u64,
            cpu_ns_per_msg: cpu_per_msg(&before, &after),
            peak_rss_bytes: after.peak_rss_bytes,
            rss_per_conn_bytes: after.rss_bytes.saturating_sub(idle.rss_bytes) as f64
                / connected.max(1) as f64,
            threads: after.threads,
        }),
        _ => None,
    };
    let timeline = timeline(&mut record.ticks, seconds);
    let partial = problem.is_some() || interrupted.load(Relaxed);
    let result = TargetResult {
        target: name,
        partial,
        clients: plan.clients,
        connected,
        connect_ns: connect_time.as_nanos() as u64,
        window_ns,
        messages,
        msgs_per_sec: per_sec(messages as f64),
        mb_per_sec: per_sec(messages as f64 * plan.msg_size as f64) / 1e6,
        latency_ns: Latency::of(&record.all),
        latency_uncorrected_ns: record.uncorrected.as_ref().map(Latency::of),
        bystander_latency_ns: record.bystander.as_ref().map(Latency::of),
        working_latency_ns: record.working.as_ref().map(Latency::of),
        errors: record.errors,
        starved_clients: record.starved,
        timeline,
        server: server_cost,
        client: ClientCost {
            cpu_ns_per_msg: cpu_per_msg(&client_before, &client_after),
            rss_per_conn_bytes: client_after.rss_bytes.saturating_sub(client_idle.rss_bytes) as f64
                / connected.max(1) as f64,
            saturated,
        },
        open_loop: plan.rate.map(|rate| OpenLoop {
            target_rate: rate,
            achieved_rate: per_sec(record.sent as f64),
        }),
        server_summary,
        histogram: encode_histogram(&record.all),
        noise: None,
        repeats: None,
    };
    if let Some(c) = &record.first_corruption {
        progress.say(&result.target, format!("CORRUPT ECHO: {c}"));
    }
    let mut histograms = vec![("", record.all)];
    if let Some(h) = record.uncorrected {
        histograms.push(("-uncorrected", h));
    }
    Ok(Outcome {
        result,
        problem,
        histograms,
    })
}

/// Second-by-second figures of a window `seconds` long. The window overruns its length by a
/// moment (the coordinator's wake-up); what lands in that sliver of a second is folded into the
/// last whole second rather than shown as a second of its own.
fn timeline(ticks: &mut [hdrhistogram::Histogram<u64>], seconds: f64) -> Vec<Tick> {
    let whole = (seconds.round() as usize).clamp(1, ticks.len());
    let (kept, sliver) = ticks.split_at_mut(whole);
    for h in sliver.iter() {
        kept[whole - 1].add(h).expect("ticks share bounds");
    }
    kept.iter()
        .enumerate()
        .map(|(i, h)| Tick {
            t_s: if i + 1 == whole {
                seconds
            } else {
                (i + 1) as f64
            },
            msgs: h.len(),
            p99_ns: if h.is_empty() {
                0
            } else {
                h.value_at_quantile(0.99)
            },
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
) -> Option<String> {
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
            return Some("every client has stopped on an error; nothing is left to measure".into());
        }
        progress.update(elapsed, figure(elapsed));
        std::thread::sleep(POLL.min(length - elapsed));
    }
}

fn server_trouble(server: &mut Option<ServerProcess>, interrupted: &AtomicBool) -> Option<String> {
    if interrupted.load(Relaxed) {
        return Some("interrupted".into());
    }
    let status = server.as_mut()?.exited()?;
    *server = None;
    Some(format!("the server exited during the run ({status})"))
}

/// `3 refused, 1 timeout`.
pub fn describe_errors(e: &echo_report::Errors) -> String {
    let parts: Vec<String> = e
        .by_kind()
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
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
        let t = timeline(&mut ticks, 3.0004);
        assert_eq!(t.iter().map(|t| t.msgs).collect::<Vec<_>>(), [10, 20, 32]);
        assert_eq!(t.last().unwrap().t_s, 3.0004);
    }

    #[test]
    fn errors_are_described_by_kind() {
        let e = echo_report::Errors {
            refused: 3,
            timeout: 1,
            ..Default::default()
        };
        assert_eq!(describe_errors(&e), "3 refused, 1 timeout");
        assert_eq!(describe_errors(&Default::default()), "none");
    }
}
