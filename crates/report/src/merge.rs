//! Several load hosts' results as one: what `loadgen merge` does, as a pure function.
//!
//! Exact where the data allow it: each host's latency histogram is decoded and added, so a
//! merged percentile is the percentile of every host's samples together (averaging hosts'
//! percentiles gives a number that no sample has). Counts are summed. The rate is taken over
//! the stretch of wall-clock time in which every host was measuring — the overlap of their
//! windows — because outside it fewer hosts were loading the server.

use hdrhistogram::Histogram;

use crate::{
    ClientCost, HostRun, Latency, Machine, OpenLoop, RunResult, SCHEMA, ServerCost, TargetResult,
    WallWindow, decode_histogram, encode_histogram, new_histogram,
};

/// The share of the longest window the overlap must cover before a merge warns. With
/// `--start-at`, windows open within a few milliseconds of each other on hosts whose clocks are
/// synchronised (NTP keeps them within milliseconds), so a 10 s window overlaps by over 99%.
/// Below 95% the hosts were not all loading the server for over a twentieth of the run.
pub const MIN_OVERLAP: f64 = 0.95;

/// A merged result, and what the reader should know about it.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The total, with every host's own result kept in [`RunResult::hosts`].
    pub result: RunResult,
    /// The merged latency histogram of each target, in the order of `result.targets`.
    pub histograms: Vec<Histogram<u64>>,
    /// Things that make the total less than it looks (windows that barely overlapped, ...).
    pub warnings: Vec<String>,
}

/// Why results cannot be merged.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// No files.
    #[error("nothing to merge: name the result files of the hosts' runs")]
    Empty,
    /// A file that is itself a merge.
    #[error("{file} is already a merge of {hosts} hosts: merge the hosts' own result files")]
    AlreadyMerged {
        /// The file.
        file: String,
        /// How many hosts it merged.
        hosts: usize,
    },
    /// The same run twice would count its messages twice.
    #[error(
        "{file} and {other} hold the same run (host {host}, started {started_at}): \
         name each host's result file once"
    )]
    Duplicate {
        /// The later file.
        file: String,
        /// The earlier one.
        other: String,
        /// The host both came from.
        host: String,
        /// When the run started.
        started_at: String,
    },
    /// Runs under different settings measure different things.
    #[error(
        "cannot merge {file} with {first}: its {what} is {theirs}, not {ours}. \
         Merge only runs made with the same settings"
    )]
    Mismatch {
        /// The file that differs.
        file: String,
        /// The first file, which the others are compared with.
        first: String,
        /// The setting that differs.
        what: &'static str,
        /// Its value in `file`.
        theirs: String,
        /// Its value in `first`.
        ours: String,
    },
    /// Without wall-clock times, windows cannot be lined up.
    #[error(
        "{file}: target {target} has no wall-clock window (the file was written by an older \
         loadgen): run that host again with this one"
    )]
    NoWindow {
        /// The file.
        file: String,
        /// The target.
        target: String,
    },
    /// A histogram that does not decode, or disagrees with the file's own figures.
    #[error("{file}: target {target}'s histogram {reason}")]
    Histogram {
        /// The file.
        file: String,
        /// The target.
        target: String,
        /// What is wrong.
        reason: String,
    },
}

/// Every host's `--bind` addresses, once each, in host order. Each host's own stay in its result
/// under `hosts`.
fn every_source(runs: &[&RunResult]) -> Vec<String> {
    let mut every: Vec<String> = Vec::new();
    for address in runs.iter().flat_map(|r| &r.config.bind) {
        if !every.contains(address) {
            every.push(address.clone());
        }
    }
    every
}

/// Merges the results of one run made on several hosts at once (see the module's docs).
/// Targets are matched by position and must be the same on every host.
pub fn merge(hosts: Vec<HostRun>) -> Result<Merged, MergeError> {
    let first = hosts.first().ok_or(MergeError::Empty)?;
    for (i, h) in hosts.iter().enumerate() {
        check_alike(first, h)?;
        if let Some(other) = hosts[..i].iter().find(|o| same_run(&o.result, &h.result)) {
            return Err(MergeError::Duplicate {
                file: h.file.clone(),
                other: other.file.clone(),
                host: h.result.machine.hostname.clone(),
                started_at: h.result.started_at.clone(),
            });
        }
    }

    let mut warnings = Vec::new();
    let mut targets = Vec::new();
    let mut histograms = Vec::new();
    for i in 0..first.result.targets.len() {
        let (t, h) = merge_target(&hosts, i, &mut warnings)?;
        targets.push(t);
        histograms.push(h);
    }

    let runs: Vec<&RunResult> = hosts.iter().map(|h| &h.result).collect();
    let git_commit = first.result.git_commit.clone();
    if runs.iter().any(|r| r.git_commit != git_commit) {
        warnings.push(format!(
            "the hosts ran different versions of loadgen ({})",
            distinct(
                runs.iter()
                    .map(|r| r.git_commit.as_deref().unwrap_or("unknown"))
            )
        ));
    }
    let mut config = first.result.config.clone();
    config.clients = runs.iter().map(|r| r.config.clients).sum();
    config.client_threads = runs.iter().map(|r| r.config.client_threads).sum();
    config.bind = every_source(&runs);
    config.rate = config
        .rate
        .map(|_| runs.iter().filter_map(|r| r.config.rate).sum());
    let result = RunResult {
        schema: SCHEMA.into(),
        started_at: runs
            .iter()
            .map(|r| r.started_at.clone())
            .min()
            .expect("at least one host"),
        git_commit: runs
            .iter()
            .all(|r| r.git_commit == git_commit)
            .then_some(git_commit)
            .flatten(),
        machine: Machine {
            cpu_model: distinct(runs.iter().map(|r| r.machine.cpu_model.as_str())),
            // Hosts of one name are one machine (load hosts in network namespaces, say).
            cores: runs
                .iter()
                .enumerate()
                .filter(|(i, r)| {
                    !runs[..*i]
                        .iter()
                        .any(|o| o.machine.hostname == r.machine.hostname)
                })
                .map(|(_, r)| r.machine.cores)
                .sum(),
            kernel: distinct(runs.iter().map(|r| r.machine.kernel.as_str())),
            hostname: distinct(runs.iter().map(|r| r.machine.hostname.as_str())),
        },
        config,
        partial: runs.iter().any(|r| r.partial),
        targets,
        clock: None,
        hosts,
    };
    Ok(Merged {
        result,
        histograms,
        warnings,
    })
}

/// Refuses `h` if it was run under settings that make its figures incomparable with `first`'s.
fn check_alike(first: &HostRun, h: &HostRun) -> Result<(), MergeError> {
    if !h.result.hosts.is_empty() {
        return Err(MergeError::AlreadyMerged {
            file: h.file.clone(),
            hosts: h.result.hosts.len(),
        });
    }
    let settings = |r: &RunResult| {
        let c = &r.config;
        [
            ("message size", format!("{} bytes", c.msg_size)),
            (
                "mode",
                if c.rate.is_some() {
                    "open loop (--rate)"
                } else {
                    "closed loop"
                }
                .to_owned(),
            ),
            ("server work", format!("{} every {}", c.work, c.work_every)),
            (
                "targets",
                r.targets
                    .iter()
                    .map(|t| t.target.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            ),
        ]
    };
    for ((what, ours), (_, theirs)) in settings(&first.result).into_iter().zip(settings(&h.result))
    {
        if ours != theirs {
            return Err(MergeError::Mismatch {
                file: h.file.clone(),
                first: first.file.clone(),
                what,
                theirs,
                ours,
            });
        }
    }
    Ok(())
}

/// Two files of one run: the same host, start and window (to the nanosecond).
fn same_run(a: &RunResult, b: &RunResult) -> bool {
    a.machine.hostname == b.machine.hostname
        && a.started_at == b.started_at
        && a.targets.iter().map(|t| t.wall_window).collect::<Vec<_>>()
            == b.targets.iter().map(|t| t.wall_window).collect::<Vec<_>>()
}

/// One host's result for the target being merged, with the window it measured.
#[derive(Clone, Copy)]
struct Part<'a> {
    /// The host's file.
    host: &'a HostRun,
    /// Its result for this target.
    target: &'a TargetResult,
    /// Its window on the wall clock.
    window: WallWindow,
}

/// One target on every host, merged.
fn merge_target(
    hosts: &[HostRun],
    i: usize,
    warnings: &mut Vec<String>,
) -> Result<(TargetResult, Histogram<u64>), MergeError> {
    let parts = parts(hosts, i)?;
    let first = parts[0];
    let name = first.target.target.clone();
    let all = added_histograms(&parts)?;
    let overlap = overlap(&parts, &name, warnings);
    let seconds = overlap.len_ns() as f64 / 1e9;
    let in_overlap: f64 = parts
        .iter()
        .map(|p| messages_between(p.target, p.window, overlap))
        .sum();
    // Windows that never overlap share no time to take a rate over.
    let msgs_per_sec = (seconds > 0.0).then(|| in_overlap / seconds);
    let sum = |f: fn(&TargetResult) -> usize| parts.iter().map(|p| f(p.target)).sum::<usize>();
    let connected = sum(|t| t.connected);
    let server = server_cost(&parts, connected, &name, warnings);
    warn_unmerged(first.target, &name, warnings);

    // The weighted mean of a figure over the hosts that have it; `None` if none does.
    let weighted = |f: fn(&TargetResult) -> (Option<f64>, f64)| {
        let (num, den) = parts
            .iter()
            .filter_map(|p| match f(p.target) {
                (Some(value), weight) => Some((value, weight)),
                (None, _) => None,
            })
            .fold((0.0, 0.0), |(n, d), (value, weight)| {
                (n + value * weight, d + weight)
            });
        (den > 0.0).then(|| num / den)
    };
    let open_loop_sum = |f: fn(&OpenLoop) -> f64| {
        parts
            .iter()
            .filter_map(|p| p.target.open_loop)
            .map(|o| f(&o))
            .sum()
    };
    let result = TargetResult {
        target: name,
        partial: parts.iter().any(|p| p.target.partial),
        clients: sum(|t| t.clients),
        connected,
        connect_ns: parts.iter().map(|p| p.target.connect_ns).max().unwrap_or(0),
        window_ns: overlap.len_ns(),
        wall_window: (overlap.len_ns() > 0).then_some(overlap),
        messages: parts.iter().map(|p| p.target.messages).sum(),
        msgs_per_sec,
        mb_per_sec: msgs_per_sec.map(|r| r * first.host.result.config.msg_size as f64 / 1e6),
        latency_ns: Latency::of(&all),
        latency_uncorrected_ns: None,
        bystander_latency_ns: None,
        working_latency_ns: None,
        errors: parts.iter().fold(Default::default(), |mut e, p| {
            e += p.target.errors;
            e
        }),
        starved_clients: parts
            .iter()
            .filter_map(|p| p.target.starved_clients)
            .reduce(|a, b| a + b),
        // Seconds of different hosts' windows do not line up exactly, and a second's p99
        // cannot be merged from p99s: each host's timeline stays in its own result.
        timeline: Vec::new(),
        server,
        client: ClientCost {
            cpu_ns_per_msg: weighted(|t| (t.client.cpu_ns_per_msg, t.messages as f64)),
            rss_per_conn_bytes: weighted(|t| {
                (Some(t.client.rss_per_conn_bytes), t.connected as f64)
            })
            .unwrap_or(0.0),
            saturated: parts.iter().any(|p| p.target.client.saturated),
        },
        open_loop: first.target.open_loop.map(|_| OpenLoop {
            target_rate: open_loop_sum(|o| o.target_rate),
            achieved_rate: open_loop_sum(|o| o.achieved_rate),
        }),
        server_summary: parts.iter().find_map(|p| p.target.server_summary.clone()),
        histogram: encode_histogram(&all),
        // A capacity search or churn figures are one host's; a merge does not combine them.
        capacity: None,
        churn: None,
        // Each host read its own CPUs' noise: it stays in that host's result.
        noise: None,
        repeats: None,
    };
    Ok((result, all))
}

/// Target `i` of every host, each with its window: a file without one cannot be merged.
fn parts(hosts: &[HostRun], i: usize) -> Result<Vec<Part<'_>>, MergeError> {
    hosts
        .iter()
        .map(|host| {
            let target = &host.result.targets[i];
            let window = target.wall_window.ok_or_else(|| MergeError::NoWindow {
                file: host.file.clone(),
                target: target.target.clone(),
            })?;
            Ok(Part {
                host,
                target,
                window,
            })
        })
        .collect()
}

/// The parts' histograms, added. A count that disagrees with the file's own means a damaged
/// file.
fn added_histograms(parts: &[Part]) -> Result<Histogram<u64>, MergeError> {
    let mut all = new_histogram();
    for p in parts {
        let bad = |reason: String| MergeError::Histogram {
            file: p.host.file.clone(),
            target: p.target.target.clone(),
            reason,
        };
        let part = decode_histogram(&p.target.histogram).map_err(bad)?;
        if part.len() != p.target.latency_ns.count {
            return Err(bad(format!(
                "holds {} values but the file reports {}",
                part.len(),
                p.target.latency_ns.count
            )));
        }
        all.add(&part)
            .map_err(|e| bad(format!("does not fit loadgen's bounds: {e:?}")))?;
    }
    Ok(all)
}

/// The overlap of the parts' windows, over which alone the rate is taken; a warning if it is
/// less than [`MIN_OVERLAP`] of the longest.
fn overlap(parts: &[Part], name: &str, warnings: &mut Vec<String>) -> WallWindow {
    let overlap = WallWindow {
        start_unix_ns: parts
            .iter()
            .map(|p| p.window.start_unix_ns)
            .max()
            .expect("a host"),
        end_unix_ns: parts
            .iter()
            .map(|p| p.window.end_unix_ns)
            .min()
            .expect("a host"),
    };
    let longest = parts.iter().map(|p| p.window.len_ns()).max().unwrap_or(0);
    let share = if longest == 0 {
        0.0
    } else {
        overlap.len_ns() as f64 / longest as f64
    };
    if parts.len() > 1 && share < MIN_OVERLAP {
        warnings.push(format!(
            "{name}: the hosts' windows overlap for {:.1}% of the longest ({:.3} s of {:.3} s), \
             less than {:.0}%: the rate is over the overlap only. Start every host with the \
             same --start-at (and check their clocks agree)",
            share * 100.0,
            overlap.len_ns() as f64 / 1e9,
            longest as f64 / 1e9,
            MIN_OVERLAP * 100.0
        ));
    }
    overlap
}

/// The server's cost. It was measured by the host that was given its pid, over that host's
/// window: per message and per connection, it is divided by everyone's.
fn server_cost(
    parts: &[Part],
    connected: usize,
    name: &str,
    warnings: &mut Vec<String>,
) -> Option<ServerCost> {
    let with_server: Vec<&Part> = parts.iter().filter(|p| p.target.server.is_some()).collect();
    if with_server.len() > 1 {
        warnings.push(format!(
            "{name}: {} hosts measured the server (--server-pid); its cost is taken from {}",
            with_server.len(),
            with_server[0].host.file
        ));
    }
    with_server.first().map(|p| {
        let (t, w) = (p.target, p.window);
        let s = t.server.expect("filtered on it");
        let served: f64 = parts
            .iter()
            .map(|u| messages_between(u.target, u.window, w))
            .sum();
        ServerCost {
            cpu_ns_per_msg: (served > 0.0).then(|| (s.cpu_user_ns + s.cpu_sys_ns) as f64 / served),
            rss_per_conn_bytes: s.rss_per_conn_bytes * t.connected.max(1) as f64
                / connected.max(1) as f64,
            ..s
        }
    })
}

/// What only each host's own figures describe, with no histogram to add, is not merged: says so.
fn warn_unmerged(first: &TargetResult, name: &str, warnings: &mut Vec<String>) {
    let unmerged: Vec<&str> = [
        ("uncorrected", first.latency_uncorrected_ns.is_some()),
        ("bystander", first.bystander_latency_ns.is_some()),
        ("working", first.working_latency_ns.is_some()),
    ]
    .into_iter()
    .filter_map(|(what, present)| present.then_some(what))
    .collect();
    if !unmerged.is_empty() {
        warnings.push(format!(
            "{name}: {} latency is not merged (result files hold no histogram of it, and \
             percentiles cannot be averaged); each host's figures are kept in its own row",
            unmerged.join(", ")
        ));
    }
}

/// How many of `t`'s messages (window `w`) completed within `span`: all of them if `span`
/// covers the window, otherwise counted from its second-by-second timeline, taking each
/// second's messages as evenly spread over it.
fn messages_between(t: &TargetResult, w: WallWindow, span: WallWindow) -> f64 {
    let from = span.start_unix_ns.max(w.start_unix_ns);
    let to = span.end_unix_ns.min(w.end_unix_ns);
    if to <= from {
        return 0.0;
    }
    if from == w.start_unix_ns && to == w.end_unix_ns {
        return t.messages as f64;
    }
    // Seconds since the window opened.
    let (from, to) = (
        (from - w.start_unix_ns) as f64 / 1e9,
        (to - w.start_unix_ns) as f64 / 1e9,
    );
    let counted: u64 = t.timeline.iter().map(|k| k.msgs).sum();
    if counted == 0 {
        return t.messages as f64 * (to - from) / (w.len_ns() as f64 / 1e9);
    }
    let mut within = 0.0;
    let mut tick_start = 0.0;
    for tick in &t.timeline {
        let covered = tick.t_s.min(to) - f64::max(tick_start, from);
        if tick.t_s > tick_start && covered > 0.0 {
            within += tick.msgs as f64 * covered / (tick.t_s - tick_start);
        }
        tick_start = tick.t_s;
    }
    // Scaled in case the timeline and the total disagree by a message at the edges.
    within * t.messages as f64 / counted as f64
}

/// The distinct values of `items`, in first-seen order, joined: `a + b`.
fn distinct<'a>(items: impl Iterator<Item = &'a str>) -> String {
    let mut seen: Vec<&str> = Vec::new();
    for item in items {
        if !seen.contains(&item) {
            seen.push(item);
        }
    }
    seen.join(" + ")
}

#[cfg(test)]
#[allow(clippy::too_many_lines)] // A test builds whole results inline, to be read as one.
mod tests {
    use super::*;
    use crate::{Errors, RunConfig, Tick, testing};

    const SECOND: u64 = 1_000_000_000;
    /// An arbitrary wall-clock instant (2026-11-25) for windows to open at.
    const T0: u64 = 1_795_000_000 * SECOND;

    /// A host's result: `samples` recorded in a window of `seconds` opening at `start`, spread
    /// evenly over its seconds.
    fn host(file: &str, start: u64, seconds: u64, samples: &[u64]) -> HostRun {
        let mut h = new_histogram();
        for &s in samples {
            h.record(s).unwrap();
        }
        let messages = samples.len() as u64;
        let timeline = (1..=seconds)
            .map(|s| Tick {
                t_s: s as f64,
                msgs: messages * s / seconds - messages * (s - 1) / seconds,
                p99_ns: 0,
                asked_rate: None,
            })
            .collect();
        let target = TargetResult {
            target: "addr:192.0.2.1:7000".into(),
            partial: false,
            clients: 10,
            connected: 10,
            connect_ns: 1_000_000,
            window_ns: seconds * SECOND,
            wall_window: Some(WallWindow {
                start_unix_ns: start,
                end_unix_ns: start + seconds * SECOND,
            }),
            messages,
            msgs_per_sec: Some(messages as f64 / seconds as f64),
            mb_per_sec: Some(0.0),
            latency_ns: Latency::of(&h),
            latency_uncorrected_ns: None,
            bystander_latency_ns: None,
            working_latency_ns: None,
            errors: Errors {
                timeout: 1,
                ..Errors::default()
            },
            starved_clients: Some(0),
            timeline,
            server: None,
            client: ClientCost {
                cpu_ns_per_msg: Some(5000.0),
                rss_per_conn_bytes: 1000.0,
                saturated: false,
            },
            open_loop: None,
            server_summary: None,
            histogram: encode_histogram(&h),
            capacity: None,
            churn: None,
            noise: None,
            repeats: None,
        };
        HostRun {
            file: file.into(),
            result: RunResult {
                started_at: "2026-11-25T18:00:00Z".into(),
                git_commit: Some("abc".into()),
                machine: Machine {
                    hostname: file.trim_end_matches(".json").into(),
                    ..testing::machine()
                },
                config: RunConfig {
                    duration_ns: seconds * SECOND,
                    ..testing::config(10, 64, "none")
                },
                ..testing::run(testing::config(10, 64, "none"), vec![target])
            },
        }
    }

    /// Latencies of three differently shaped hosts: a fast one, a slow one, one with a tail.
    fn samples() -> [Vec<u64>; 3] {
        [
            (1..=20_000).map(|i| 20_000 + i * 3).collect(),
            (1..=5_000).map(|i| 900_000 + i * 101).collect(),
            (1..=12_000)
                .map(|i| {
                    if i % 97 == 0 {
                        40_000_000 + i
                    } else {
                        50_000 + i * 7
                    }
                })
                .collect(),
        ]
    }

    fn three_hosts(starts: [u64; 3]) -> Vec<HostRun> {
        let s = samples();
        vec![
            host("a.json", starts[0], 10, &s[0]),
            host("b.json", starts[1], 10, &s[1]),
            host("c.json", starts[2], 10, &s[2]),
        ]
    }

    #[test]
    fn counts_are_summed_and_percentiles_are_those_of_every_sample() {
        let merged = merge(three_hosts([T0; 3])).unwrap();
        let t = &merged.result.targets[0];
        assert_eq!(t.messages, 20_000 + 5_000 + 12_000);
        assert_eq!(t.latency_ns.count, t.messages);
        assert_eq!((t.clients, t.connected), (30, 30));
        assert_eq!(t.errors.timeout, 3);

        let mut every = new_histogram();
        for v in samples().iter().flatten() {
            every.record(*v).unwrap();
        }
        assert_eq!(t.latency_ns, Latency::of(&every));
        assert_eq!(merged.histograms[0], every);
        assert_eq!(decode_histogram(&t.histogram).unwrap(), every);
        // What averaging would have said instead is far off: the guard is not vacuous.
        let hosts = &merged.result.hosts;
        let mean_p99 = hosts
            .iter()
            .map(|h| h.result.targets[0].latency_ns.p99)
            .sum::<u64>()
            / 3;
        assert!(mean_p99.abs_diff(t.latency_ns.p99) > t.latency_ns.p99 / 10);

        assert_eq!(merged.result.hosts.len(), 3, "per-host results are kept");
        assert_eq!(merged.result.config.clients, 30);
        assert_eq!(merged.result.machine.cores, 6, "three machines of 2 cores");
        let mut same_box = three_hosts([T0, T0 + 1_000, T0 + 2_000]);
        for h in &mut same_box {
            h.result.machine.hostname = "box".into();
        }
        let one_machine = merge(same_box).unwrap().result.machine;
        assert_eq!(
            (one_machine.cores, one_machine.hostname.as_str()),
            (2, "box")
        );
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    }

    #[test]
    fn windows_that_coincide_give_the_summed_rate() {
        let t = &merge(three_hosts([T0; 3])).unwrap().result.targets[0];
        assert_eq!(t.window_ns, 10 * SECOND);
        assert!(
            (t.msgs_per_sec.unwrap() - 37_000.0 / 10.0).abs() < 1e-9,
            "{t:?}"
        );
    }

    #[test]
    fn the_rate_is_over_the_overlap_only_and_a_short_overlap_warns() {
        // b opened 4 s late: the overlap is 6 s. a did 12,000 messages in it and c 7,200; b,
        // busier early on, did 4,000 of its 5,000 in its first 6 s. (Neither the sum of each
        // host's own rate, 3,700/s, nor every message over the whole span, 2,643/s, is right.)
        let mut hosts = three_hosts([T0, T0 + 4 * SECOND, T0]);
        let b = &mut hosts[1].result.targets[0].timeline;
        for (i, tick) in b.iter_mut().enumerate() {
            tick.msgs = if i < 6 {
                4_000 / 6 + u64::from(i < 4)
            } else {
                250
            };
        }
        let merged = merge(hosts).unwrap();
        let t = &merged.result.targets[0];
        assert_eq!(t.window_ns, 6 * SECOND);
        let expected = (12_000.0 + 4_000.0 + 7_200.0) / 6.0;
        let rate = t.msgs_per_sec.unwrap();
        assert!((rate - expected).abs() < 1e-6, "{rate}");
        assert_eq!(t.messages, 37_000, "the histogram still holds every sample");
        assert_eq!(merged.warnings.len(), 1, "{:?}", merged.warnings);
        assert!(
            merged.warnings[0].contains("overlap for 60.0%"),
            "{:?}",
            merged.warnings
        );

        // A few milliseconds apart, as --start-at achieves: no warning.
        let close = merge(three_hosts([T0, T0 + 3_000_000, T0 + 1_000_000])).unwrap();
        assert!(close.warnings.is_empty(), "{:?}", close.warnings);
    }

    #[test]
    fn windows_that_never_overlapped_warn_and_give_no_rate() {
        let merged = merge(three_hosts([T0, T0 + 20 * SECOND, T0 + 40 * SECOND])).unwrap();
        let t = &merged.result.targets[0];
        assert_eq!((t.window_ns, t.msgs_per_sec, t.mb_per_sec), (0, None, None));
        assert!(t.wall_window.is_none());
        assert!(
            merged.warnings[0].contains("overlap for 0.0%"),
            "{:?}",
            merged.warnings
        );
    }

    #[test]
    fn each_hosts_source_addresses_are_kept_and_the_merge_names_them_all() {
        let mut hosts = three_hosts([T0; 3]);
        hosts[0].result.config.bind = vec!["192.0.2.1".into(), "192.0.2.101".into()];
        hosts[1].result.config.bind = vec!["192.0.2.2".into()];
        let merged = merge(hosts).unwrap().result;
        assert_eq!(
            merged.config.bind,
            ["192.0.2.1", "192.0.2.101", "192.0.2.2"]
        );
        assert_eq!(merged.hosts[1].result.config.bind, ["192.0.2.2"]);
        assert!(merged.hosts[2].result.config.bind.is_empty());
    }

    #[test]
    fn runs_under_different_settings_are_refused() {
        let refused = |change: fn(&mut RunResult)| {
            let mut hosts = three_hosts([T0; 3]);
            change(&mut hosts[2].result);
            merge(hosts).unwrap_err().to_string()
        };
        let e = refused(|r| r.config.msg_size = 1024);
        assert!(
            e.contains("c.json") && e.contains("message size is 1024 bytes, not 64"),
            "{e}"
        );
        let e = refused(|r| r.config.rate = Some(1000.0));
        assert!(e.contains("mode is open loop"), "{e}");
        let e = refused(|r| r.targets[0].target = "addr:192.0.2.9:7000".into());
        assert!(e.contains("targets is addr:192.0.2.9:7000"), "{e}");
        let e = refused(|r| r.config.work = "block:1ms".into());
        assert!(e.contains("server work"), "{e}");
        let e = refused(|r| r.targets[0].wall_window = None);
        assert!(e.contains("no wall-clock window"), "{e}");
        let e = refused(|r| r.targets[0].latency_ns.count += 1);
        assert!(
            e.contains("holds 12000 values but the file reports 12001"),
            "{e}"
        );
        assert!(matches!(merge(Vec::new()), Err(MergeError::Empty)));
    }

    #[test]
    fn a_run_is_counted_once_and_merges_are_not_merged_again() {
        let mut hosts = three_hosts([T0; 3]);
        hosts.push(HostRun {
            file: "a-again.json".into(),
            ..hosts[0].clone()
        });
        let e = merge(hosts).unwrap_err().to_string();
        assert!(
            e.contains("a-again.json and a.json hold the same run"),
            "{e}"
        );

        let merged = merge(three_hosts([T0; 3])).unwrap().result;
        let e = merge(vec![HostRun {
            file: "m.json".into(),
            result: merged,
        }])
        .unwrap_err();
        assert!(e.to_string().contains("already a merge of 3 hosts"), "{e}");
    }

    #[test]
    fn a_cost_per_message_a_host_lacks_is_left_out_not_taken_as_zero() {
        let mut hosts = three_hosts([T0; 3]);
        hosts[0].result.targets[0].client.cpu_ns_per_msg = Some(2_000.0);
        hosts[1].result.targets[0].client.cpu_ns_per_msg = None;
        hosts[2].result.targets[0].client.cpu_ns_per_msg = Some(6_000.0);
        hosts[2].result.targets[0].starved_clients = Some(4);
        let t = &merge(hosts).unwrap().result.targets[0];
        // a has 20,000 messages, c 12,000: weighted by them, b (5,000) left out.
        let expected = (2_000.0 * 20_000.0 + 6_000.0 * 12_000.0) / 32_000.0;
        assert!(
            (t.client.cpu_ns_per_msg.unwrap() - expected).abs() < 1e-9,
            "{t:?}"
        );
        assert_eq!(t.starved_clients, Some(4));

        let mut none = three_hosts([T0; 3]);
        for h in &mut none {
            h.result.targets[0].client.cpu_ns_per_msg = None;
        }
        assert_eq!(
            merge(none).unwrap().result.targets[0].client.cpu_ns_per_msg,
            None
        );
    }

    #[test]
    fn the_server_cost_comes_from_the_host_that_measured_it() {
        let mut hosts = three_hosts([T0; 3]);
        hosts[1].result.targets[0].server = Some(ServerCost {
            cpu_user_ns: 37_000 * 3_000,
            cpu_sys_ns: 37_000 * 1_000,
            cpu_ns_per_msg: Some(4_000.0 * 37.0 / 5.0),
            peak_rss_bytes: 1 << 20,
            rss_per_conn_bytes: 30_000.0,
            threads: 2,
        });
        let s = merge(hosts).unwrap().result.targets[0].server.unwrap();
        assert!((s.cpu_ns_per_msg.unwrap() - 4_000.0).abs() < 1e-9, "{s:?}");
        assert!((s.rss_per_conn_bytes - 10_000.0).abs() < 1e-9, "{s:?}");
        assert_eq!((s.peak_rss_bytes, s.threads), (1 << 20, 2));
    }

    #[test]
    fn the_commit_is_kept_only_when_every_host_ran_it() {
        let merged = merge(three_hosts([T0; 3])).unwrap();
        assert_eq!(merged.result.git_commit.as_deref(), Some("abc"));
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);

        let mut hosts = three_hosts([T0; 3]);
        hosts[1].result.git_commit = Some("def".into());
        let merged = merge(hosts).unwrap();
        assert_eq!(merged.result.git_commit, None);
        assert!(
            merged.warnings[0].contains("different versions of loadgen (abc + def)"),
            "{:?}",
            merged.warnings
        );
    }

    #[test]
    fn the_merged_wall_window_is_the_overlap() {
        let t = &merge(three_hosts([T0, T0 + 4 * SECOND, T0]))
            .unwrap()
            .result
            .targets[0];
        let overlap = WallWindow {
            start_unix_ns: T0 + 4 * SECOND,
            end_unix_ns: T0 + 10 * SECOND,
        };
        assert_eq!(t.wall_window, Some(overlap));
    }

    #[test]
    fn megabytes_per_second_are_messages_per_second_times_the_message_size() {
        let t = &merge(three_hosts([T0; 3])).unwrap().result.targets[0];
        // 37,000 messages of 64 bytes in 10 s.
        let expected = 3_700.0 * 64.0 / 1e6;
        assert!((t.mb_per_sec.unwrap() - expected).abs() < 1e-12, "{t:?}");
    }

    #[test]
    fn an_overlap_of_exactly_the_minimum_share_does_not_warn() {
        let s = samples();
        // Two 10 s windows half a second apart: the overlap is 9.5 s, 95% of the longest.
        let late = T0 + SECOND / 2;
        let at_minimum = merge(vec![
            host("a.json", T0, 10, &s[0]),
            host("b.json", late, 10, &s[1]),
        ]);
        let warnings = at_minimum.unwrap().warnings;
        assert!(warnings.is_empty(), "{warnings:?}");

        let below = merge(vec![
            host("a.json", T0, 10, &s[0]),
            host("b.json", late + 1, 10, &s[1]),
        ]);
        let warnings = below.unwrap().warnings;
        assert!(warnings[0].contains("overlap for 95.0%"), "{warnings:?}");
    }

    #[test]
    fn one_hosts_result_is_never_warned_about_overlap_even_with_an_empty_window() {
        // Its share of its own window is taken as 0 when the window is empty: but there is no
        // other host to start with the same --start-at.
        let merged = merge(vec![host("a.json", T0, 0, &[])]).unwrap();
        assert_eq!(merged.result.targets[0].msgs_per_sec, None);
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);
    }

    /// A server cost as one host measured it.
    fn server() -> ServerCost {
        ServerCost {
            cpu_user_ns: 3_000_000,
            cpu_sys_ns: 1_000_000,
            cpu_ns_per_msg: Some(1_000.0),
            peak_rss_bytes: 1 << 20,
            rss_per_conn_bytes: 30_000.0,
            threads: 2,
        }
    }

    #[test]
    fn only_a_server_measured_by_several_hosts_warns() {
        let mut hosts = three_hosts([T0; 3]);
        hosts[1].result.targets[0].server = Some(server());
        let merged = merge(hosts.clone()).unwrap();
        assert!(merged.warnings.is_empty(), "{:?}", merged.warnings);

        hosts[2].result.targets[0].server = Some(server());
        let warnings = merge(hosts).unwrap().warnings;
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("2 hosts measured the server")
                && warnings[0].contains("taken from b.json"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_server_cost_over_no_messages_has_no_cost_per_message() {
        let mut hosts = vec![host("a.json", T0, 10, &[]), host("b.json", T0, 10, &[])];
        hosts[1].result.targets[0].server = Some(server());
        let s = merge(hosts).unwrap().result.targets[0].server.unwrap();
        assert_eq!(s.cpu_ns_per_msg, None, "{s:?}");
    }

    #[test]
    fn latencies_each_host_keeps_unmerged_are_named_in_a_warning() {
        let mut hosts = three_hosts([T0; 3]);
        for h in &mut hosts {
            let t = &mut h.result.targets[0];
            t.latency_uncorrected_ns = Some(t.latency_ns);
            t.working_latency_ns = Some(t.latency_ns);
        }
        let merged = merge(hosts).unwrap();
        assert_eq!(merged.result.targets[0].latency_uncorrected_ns, None);
        assert_eq!(merged.warnings.len(), 1, "{:?}", merged.warnings);
        assert!(
            merged.warnings[0].contains("uncorrected, working latency is not merged"),
            "{:?}",
            merged.warnings
        );
    }

    #[test]
    fn a_host_without_a_timeline_has_its_messages_spread_evenly_over_its_window() {
        // b opened 4 s late: the overlap is 6 s. Evenly spread, a did 12,000 of its 20,000 in
        // it, b 3,000 of its 5,000 and c 7,200 of its 12,000.
        let mut hosts = three_hosts([T0, T0 + 4 * SECOND, T0]);
        for h in &mut hosts {
            h.result.targets[0].timeline.clear();
        }
        let rate = merge(hosts).unwrap().result.targets[0]
            .msgs_per_sec
            .unwrap();
        let expected = (12_000.0 + 3_000.0 + 7_200.0) / 6.0;
        assert!((rate - expected).abs() < 1e-6, "{rate}");
    }

    #[test]
    fn a_second_partly_in_the_overlap_counts_in_proportion_even_a_short_last_one() {
        // a: 10 s from T0, 2,000 messages a second. b: 7.5 s from T0 + 2.75 s, 100 a second
        // and 400 in its last half second. The overlap, T0 + 2.75 s to T0 + 10 s, takes a
        // quarter of a's third second and half of b's last half second.
        let s = samples();
        let a = host("a.json", T0, 10, &s[0]);
        let mut b = host("b.json", T0 + 2_750_000_000, 8, &s[1][..1_100]);
        let t = &mut b.result.targets[0];
        t.window_ns = 7_500_000_000;
        t.wall_window = Some(WallWindow {
            start_unix_ns: T0 + 2_750_000_000,
            end_unix_ns: T0 + 10_250_000_000,
        });
        for (tick, t_s) in t
            .timeline
            .iter_mut()
            .zip([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 7.5])
        {
            (tick.t_s, tick.msgs) = (t_s, if t_s < 7.5 { 100 } else { 400 });
        }
        let rate = merge(vec![a, b]).unwrap().result.targets[0]
            .msgs_per_sec
            .unwrap();
        let expected = (2_000.0 * 7.25 + (700.0 + 200.0)) / 7.25;
        assert!((rate - expected).abs() < 1e-6, "{rate}");
    }

    #[test]
    fn files_from_before_the_window_was_recorded_still_read() {
        let mut value = serde_json::to_value(&three_hosts([T0; 3])[0].result).unwrap();
        value["config"].as_object_mut().unwrap().remove("start_at");
        value["targets"][0]
            .as_object_mut()
            .unwrap()
            .remove("wall_window");
        value.as_object_mut().unwrap().remove("clock");
        assert!(
            value.get("hosts").is_none(),
            "a single host's file has no hosts"
        );
        let old: RunResult = serde_json::from_value(value).unwrap();
        assert_eq!(old.targets[0].wall_window, None);
        assert_eq!(old.config.start_at, None);
    }
}
