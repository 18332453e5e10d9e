//! Whether a result file already holds a point measured as asked: what lets a sweep resume
//! without keeping results taken with other settings, or cut short (`loadgen status`).

use std::path::Path;
use std::time::Duration;

use crate::{RunResult, format_count, read_result};
use echo_proto::WorkSpec;
use echo_proto::units::{format_bytes, format_duration};

/// The settings a point is to be measured with. `None` fields are not checked.
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    /// Targets the file must hold, each measured in full.
    pub targets: Vec<String>,
    /// Concurrent clients.
    pub clients: Option<usize>,
    /// Bytes per message.
    pub msg_size: Option<usize>,
    /// The measured window.
    pub duration: Option<Duration>,
    /// The warm-up.
    pub warmup: Option<Duration>,
    /// The per-message timeout.
    pub timeout: Option<Duration>,
    /// The server's `--work`.
    pub work: Option<WorkSpec>,
    /// The server's `--work-every`.
    pub work_every: Option<u64>,
    /// Runs per target (`--repeat`).
    pub repeat: Option<usize>,
    /// `--connection-mode` (`persistent`, `per-message`, `per:N`).
    pub connection_mode: Option<String>,
}

/// What a sweep should do about one point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// No result file yet.
    Missing,
    /// Measured in full with the settings asked for; a one-line summary of what it holds.
    Done(String),
    /// Measure it again, for this reason.
    Redo(String),
}

/// The status of the point `path` should hold, measured as `wanted` says.
pub fn status(path: &Path, wanted: &Wanted) -> Status {
    if !path.exists() {
        return Status::Missing;
    }
    let run = match read_result(path) {
        Ok(run) => run,
        Err(e) => return Status::Redo(e.to_string()),
    };
    match mismatch(&run, wanted) {
        Some(why) => Status::Redo(why),
        None => Status::Done(summary(&run)),
    }
}

/// Why `run` is not the point `wanted` asks for, if it is not.
fn mismatch(run: &RunResult, wanted: &Wanted) -> Option<String> {
    let c = &run.config;
    let differs = |flag: &str, same: bool, had: String, want: String| {
        (!same).then(|| format!("it was measured with {flag} {had}, not {want}"))
    };
    let time = |flag: &str, had_ns: u64, want: Option<Duration>| {
        want.and_then(|d| {
            let had = Duration::from_nanos(had_ns);
            differs(flag, had == d, format_duration(had), format_duration(d))
        })
    };
    let count = |flag: &str, had: u64, want: Option<u64>| {
        want.and_then(|n| differs(flag, had == n, had.to_string(), n.to_string()))
    };
    let checks = [
        count(
            "--clients",
            c.clients as u64,
            wanted.clients.map(|n| n as u64),
        ),
        wanted.msg_size.and_then(|n| {
            let (had, n) = (c.msg_size as u64, n as u64);
            differs("--msg-size", had == n, format_bytes(had), format_bytes(n))
        }),
        time("--duration", c.duration_ns, wanted.duration),
        time("--warmup", c.warmup_ns, wanted.warmup),
        time("--timeout", c.timeout_ns, wanted.timeout),
        wanted.work.as_ref().and_then(|w| {
            let w = w.to_string();
            differs("--work", c.work == w, c.work.clone(), w)
        }),
        // Without work, how often it applies means nothing (loadgen records 1).
        count("--work-every", c.work_every, wanted.work_every).filter(|_| c.work != "none"),
        count("--repeat", c.repeat as u64, wanted.repeat.map(|n| n as u64)),
        wanted.connection_mode.as_ref().and_then(|want| {
            // Result files leave the mode out for persistent connections.
            let had = c.connection_mode.as_deref().unwrap_or("persistent");
            differs("--connection-mode", had == want, had.into(), want.clone())
        }),
    ];
    if let Some(why) = checks.into_iter().flatten().next() {
        return Some(why);
    }
    if run.partial {
        return Some("it was cut short (partial: true)".into());
    }
    for name in &wanted.targets {
        match run.targets.iter().find(|t| &t.target == name) {
            None => return Some(format!("it holds no result for target {name}")),
            Some(t) if t.partial => {
                return Some(format!("target {name} was cut short (partial: true)"));
            }
            Some(t) if t.window_ns == 0 => {
                return Some(format!("target {name} measured nothing (empty window)"));
            }
            Some(_) => {}
        }
    }
    None
}

/// `tokio 104,566 msgs/s p99 1.64ms; threads ...`
fn summary(run: &RunResult) -> String {
    let targets: Vec<String> = run
        .targets
        .iter()
        .map(|t| {
            let Some(rate) = t.msgs_per_sec else {
                return format!("{} no window measured", t.target);
            };
            let mut s = format!(
                "{} {} msgs/s p99 {}",
                t.target,
                format_count(rate),
                format_duration(Duration::from_nanos(t.latency_ns.p99))
            );
            if let Some(starved) = t.starved_clients.filter(|&n| n > 0) {
                s += &format!(" ({starved} of {} clients starved)", t.connected);
            }
            if t.errors.total() > 0 {
                s += &format!(" ({} errors)", t.errors.total());
            }
            s
        })
        .collect();
    targets.join("; ")
}
