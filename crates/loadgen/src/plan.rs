//! The validated plan a load run's flags ([`RunArgs`]) turn into. Everything downstream trusts the
//! plan: a flag that makes no sense, or that this machine cannot meet, is a [`PlanError`] here,
//! before anything starts.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use echo_common::units::format_bytes;
use echo_common::{Target, WorkSpec};

use crate::cli::{Format, RunArgs};
use crate::drive::capacity::Slo;
use crate::engine::churn::ConnectionMode;
use crate::engine::ramp::Ramp;
use crate::run::sys;
use crate::warnings::Warning;

/// What to drive.
#[derive(Debug, Clone)]
pub enum Drive {
    /// Start this target's server as a child process.
    Start(&'static Target),
    /// Hit a server already running here.
    Addr(SocketAddr),
}

impl Drive {
    /// The name results use.
    pub fn name(&self) -> String {
        match self {
            Drive::Start(t) => t.name.to_owned(),
            Drive::Addr(a) => format!("addr:{a}"),
        }
    }
}

/// A validated run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub drives: Vec<Drive>,
    pub server_pid: Option<u32>,
    pub clients: usize,
    pub msg_size: usize,
    pub duration: Duration,
    pub warmup: Duration,
    pub timeout: Duration,
    pub rate: Option<f64>,
    pub client_threads: usize,
    pub server_threads: u16,
    pub server_cpus: Vec<usize>,
    pub client_cpus: Vec<usize>,
    pub connect_concurrency: usize,
    pub work: WorkSpec,
    pub work_every: u64,
    /// `--find-capacity`: the promise each target's search keeps.
    pub capacity: Option<Slo>,
    /// `--rate-ramp`: the open loop's rising rate (then `rate` is `None`).
    pub ramp: Option<Ramp>,
    pub connection_mode: ConnectionMode,
    pub results_dir: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub format: Format,
    /// Runs of each target, in rounds.
    pub repeat: usize,
    /// The target the others are compared with.
    pub baseline: String,
    /// What is legal but probably not what the user meant, said before the run starts.
    pub warnings: Vec<Warning>,
    /// `--target all`: the targets this machine cannot run, each with why (said, not refused).
    pub skipped: Vec<String>,
    /// `--start-at`: when the window opens, on this host's wall clock.
    pub start_at: Option<SystemTime>,
    /// `--bind`: the clients' source addresses (empty: the kernel's choice).
    pub sources: Vec<IpAddr>,
}

/// The server's connection cap under connection churn: the servers' default `--max-connections`.
/// With 100 clients and a cap of 164, the first reference run saw 20–76 connects in 100,000
/// turned away by servers still holding connections the client had already reset.
const CHURN_MAX_CONNECTIONS: usize = 16_384;
/// The most runs of each target `--repeat` takes: 50 runs a side keep the exact interval of a
/// ratio to 2,500 pairs (well within echo_report's limit), and at 12 s a run, 50 rounds of two
/// targets already take 20 minutes.
const MAX_REPEAT: usize = 50;

/// The largest message: a benchmark of bigger ones measures memory copies, not servers.
const MAX_MSG_SIZE: u64 = 64 << 20;

/// A command line that cannot be run. Each says which flag or value is wrong and what to do; all
/// of them end loadgen with the usage exit status, before anything has started.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// Neither --target nor --addr.
    #[error(
        "say what to drive: --target NAME (one of {known}, a comma-separated list, or all) or \
         --addr HOST:PORT"
    )]
    NothingToDrive {
        /// The targets there are.
        known: String,
    },
    /// A target name that is not registered.
    #[error("unknown target '{name}'; known: {known}, or all")]
    UnknownTarget {
        /// The name given.
        name: String,
        /// The targets there are.
        known: String,
    },
    /// A target this machine cannot run (a Python server without its environment).
    #[error("target '{name}' cannot run here: {why}")]
    Unavailable {
        /// The name given.
        name: String,
        /// Why, and what to do about it.
        why: String,
    },
    /// The same target twice in --target.
    #[error("target '{0}' is listed twice in --target")]
    TargetTwice(String),
    /// --addr that does not resolve.
    #[error("--addr {addr}: {reason}")]
    BadAddr {
        /// What was given.
        addr: String,
        /// Why it does not work.
        reason: String,
    },
    /// --server-pid without --addr.
    #[error(
        "--server-pid goes with --addr (a server you started); with --target loadgen starts \
         the server and accounts it itself: drop --server-pid"
    )]
    ServerPidWithoutAddr,
    /// A count below its minimum.
    #[error("{flag} must be at least 1, not 0")]
    Zero {
        /// The flag.
        flag: &'static str,
    },
    /// A zero duration.
    #[error("{flag} must be more than zero")]
    ZeroDuration {
        /// The flag.
        flag: &'static str,
    },
    /// --msg-size out of range.
    #[error(
        "--msg-size must be between 1 byte and {}, not {bytes}",
        format_bytes(MAX_MSG_SIZE)
    )]
    MsgSize {
        /// What was given.
        bytes: u64,
    },
    /// --repeat out of range.
    #[error("--repeat must be between 1 and {MAX_REPEAT}, not {0}")]
    Repeat(usize),
    /// --baseline that is not one of the targets.
    #[error("--baseline {name}: not one of the targets run ({targets})")]
    Baseline {
        /// The name given.
        name: String,
        /// The targets of this run.
        targets: String,
    },
    /// --rate not a positive number.
    #[error("--rate must be a positive number of messages per second, not {0}")]
    Rate(f64),
    /// A churn mode with an open loop.
    #[error(
        "--connection-mode {0} is a closed loop (each client connects, exchanges, closes, \
         again); drop --rate, --rate-ramp and --find-capacity, or use --connection-mode persistent"
    )]
    ChurnIsClosedLoop(ConnectionMode),
    /// `--rate-ramp` whose steps do not fit the window: its TO rate would never be asked.
    #[error(
        "--rate-ramp {ramp} needs a --duration of at least {needs} (a step at FROM, then one at \
         TO); the window of {window} would never reach TO. Give a longer --duration or a shorter \
         step"
    )]
    RampTooLong {
        /// The ramp as given.
        ramp: String,
        /// The window asked for.
        window: String,
        /// The shortest window that reaches TO.
        needs: String,
    },
    /// A CPU the machine does not have.
    #[error("CPU {cpu} does not exist: this machine has CPUs 0-{last}")]
    NoSuchCpu {
        /// The CPU asked for.
        cpu: usize,
        /// The highest CPU there is.
        last: usize,
    },
    /// --client-cpus with nothing in it.
    #[error("--client-cpus is empty: the load generator needs a CPU")]
    NoClientCpu,
    /// More clients than this machine's descriptors or local ports allow.
    #[error(transparent)]
    TooFew(#[from] sys::TooFew),
    /// --start-at that is not a time, or not in the future.
    #[error("{0}")]
    StartAt(String),
    /// --start-at with several targets.
    #[error("--start-at opens one window at one time: drive one target (or --addr) with it")]
    StartAtSeveralTargets,
    /// --bind with an address that cannot be a source.
    #[error("{0}")]
    Bind(String),
    /// --output without a file name.
    #[error("--output {0}: needs a file name, e.g. results/run.json")]
    OutputNotAFile(PathBuf),
    /// The result files cannot be written where asked.
    #[error(
        "cannot write result files to {path}: {cause}. Choose another --results-dir or \
         --output, or --no-save"
    )]
    NotWritable {
        /// The directory that was tried.
        path: PathBuf,
        /// Why it failed.
        cause: std::io::Error,
    },
}

impl Plan {
    /// Checks the flags against each other and against this machine.
    pub fn from_args(args: RunArgs) -> Result<Plan, PlanError> {
        let (drives, skipped) = match (&args.target, &args.addr) {
            (Some(list), None) => parse_targets(list)?,
            (None, Some(addr)) => (vec![Drive::Addr(resolve(addr)?)], Vec::new()),
            _ => {
                return Err(PlanError::NothingToDrive {
                    known: echo_targets::names(),
                });
            }
        };
        check_values(&args)?;
        let names: Vec<String> = drives.iter().map(Drive::name).collect();
        let baseline = args.baseline.clone().unwrap_or_else(|| names[0].clone());
        if !names.contains(&baseline) {
            return Err(PlanError::Baseline {
                name: baseline,
                targets: names.join(", "),
            });
        }
        check_mode(&args)?;
        let start_at = args
            .start_at
            .as_deref()
            .map(|t| crate::run::wallclock::parse_start_at(t, SystemTime::now()))
            .transpose()
            .map_err(PlanError::StartAt)?;
        if start_at.is_some() && drives.len() > 1 {
            return Err(PlanError::StartAtSeveralTargets);
        }
        let sources = sources(&args, &drives)?;
        let (server_cpus, client_cpus) = pinning(&args)?;
        let shared: Vec<usize> = server_cpus
            .iter()
            .copied()
            .filter(|c| client_cpus.contains(c))
            .collect();
        let warnings = match shared.is_empty() || matches!(drives[0], Drive::Addr(_)) {
            true => Vec::new(),
            false => vec![Warning::SharedCpus(shared)],
        };
        sys::ensure_fds_for(args.clients, sources.len().max(1))?;
        let (client_threads, server_threads) = threads(&args, &server_cpus, &client_cpus)?;
        Ok(Plan {
            drives,
            server_pid: args.server_pid,
            clients: args.clients,
            msg_size: args.msg_size as usize,
            duration: args.duration,
            warmup: args.warmup,
            timeout: args.timeout,
            // A capacity search starts from --rate; each step sets its own.
            rate: match args.find_capacity {
                true => Some(args.rate.unwrap_or(crate::drive::capacity::START_RATE)),
                false => args.rate,
            },
            capacity: args.slo.filter(|_| args.find_capacity),
            ramp: args.rate_ramp,
            connection_mode: args.connection_mode,
            client_threads,
            server_threads,
            server_cpus,
            client_cpus,
            connect_concurrency: args.connect_concurrency,
            // With no work there are no bystanders to tell apart.
            work_every: if matches!(args.work, WorkSpec::None) {
                1
            } else {
                args.work_every
            },
            work: args.work,
            results_dir: (!args.no_save).then_some(args.results_dir),
            output: args.output,
            format: if args.json { Format::Json } else { args.format },
            repeat: args.repeat,
            baseline,
            warnings,
            skipped,
            start_at,
            sources,
        })
    }
    /// The flags a server loadgen starts gets, so that every target is set up identically.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--addr".into(),
            "127.0.0.1:0".into(),
            "--threads".into(),
            self.server_threads.to_string(),
            "--max-connections".into(),
            // Room for every client plus a few, so that the cap is never what is measured.
            // Under churn a closed connection still counts until the server reads its reset,
            // and many can be in that state at once: the servers' own default, at least.
            match self.connection_mode {
                ConnectionMode::Persistent => self.clients + 64,
                ConnectionMode::Per(_) => (self.clients + 64).max(CHURN_MAX_CONNECTIONS),
            }
            .to_string(),
            "--work".into(),
            self.work.to_string(),
            "--work-every".into(),
            self.work_every.to_string(),
            "--msg-size".into(),
            self.msg_size.to_string(),
        ]
    }
}

/// The numbers that must be in range, whatever else is asked.
fn check_values(args: &RunArgs) -> Result<(), PlanError> {
    if args.server_pid.is_some() && args.addr.is_none() {
        return Err(PlanError::ServerPidWithoutAddr);
    }
    for (flag, n) in [
        ("--clients", args.clients as u64),
        ("--work-every", args.work_every),
        ("--connect-concurrency", args.connect_concurrency as u64),
    ] {
        if n == 0 {
            return Err(PlanError::Zero { flag });
        }
    }
    if !(1..=MAX_MSG_SIZE).contains(&args.msg_size) {
        return Err(PlanError::MsgSize {
            bytes: args.msg_size,
        });
    }
    for (flag, d) in [("--duration", args.duration), ("--timeout", args.timeout)] {
        if d.is_zero() {
            return Err(PlanError::ZeroDuration { flag });
        }
    }
    if !(1..=MAX_REPEAT).contains(&args.repeat) {
        return Err(PlanError::Repeat(args.repeat));
    }
    Ok(())
}

/// The open or closed loop asked for, and where the result goes, make sense together.
fn check_mode(args: &RunArgs) -> Result<(), PlanError> {
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(PlanError::Rate(rate));
    }
    let open_loop = args.rate.is_some() || args.rate_ramp.is_some() || args.find_capacity;
    if args.connection_mode != ConnectionMode::Persistent && open_loop {
        return Err(PlanError::ChurnIsClosedLoop(args.connection_mode));
    }
    // Two whole steps: the rates are spread from FROM to TO over the steps the window holds, so
    // a window of one step (or less) would ask FROM throughout.
    if let Some(ramp) = &args.rate_ramp
        && args.duration < ramp.step * 2
    {
        let d = echo_common::units::format_duration;
        return Err(PlanError::RampTooLong {
            ramp: ramp.to_string(),
            window: d(args.duration),
            needs: d(ramp.step * 2),
        });
    }
    if let Some(output) = &args.output
        && output.file_stem().is_none()
    {
        return Err(PlanError::OutputNotAFile(output.clone()));
    }
    Ok(())
}

/// Load generator threads (one per client CPU unless asked, never more than clients) and the
/// server's worker threads (one per server CPU unless asked).
fn threads(
    args: &RunArgs,
    server_cpus: &[usize],
    client_cpus: &[usize],
) -> Result<(usize, u16), PlanError> {
    let client_threads = args
        .client_threads
        .unwrap_or(client_cpus.len().max(1))
        .clamp(1, args.clients);
    let server_threads = args
        .server_threads
        .unwrap_or(server_cpus.len().max(1).min(u16::MAX as usize) as u16);
    if server_threads == 0 {
        return Err(PlanError::Zero {
            flag: "--server-threads",
        });
    }
    Ok((client_threads, server_threads))
}

/// `--bind`'s source addresses, each checked to be one this host can connect from.
fn sources(args: &RunArgs, drives: &[Drive]) -> Result<Vec<IpAddr>, PlanError> {
    let Some(list) = &args.bind else {
        return Ok(Vec::new());
    };
    // A server loadgen starts listens on 127.0.0.1.
    let server = match &drives[0] {
        Drive::Addr(addr) => *addr,
        Drive::Start(_) => SocketAddr::from(([127, 0, 0, 1], 0)),
    };
    crate::engine::bind::parse_sources(list, server).map_err(PlanError::Bind)
}

/// The server's CPUs and the load generator's: none pinned with `--no-pin` or one CPU; else the
/// server on CPU 0 and the clients on the rest, unless asked otherwise.
fn pinning(args: &RunArgs) -> Result<(Vec<usize>, Vec<usize>), PlanError> {
    let online = sys::online_cpus();
    if args.no_pin || online < 2 {
        return Ok((Vec::new(), Vec::new()));
    }
    let server = args.server_cpus.clone().map_or_else(|| vec![0], |c| c.0);
    let client = args
        .client_cpus
        .clone()
        .map(|c| c.0)
        .unwrap_or_else(|| (0..online).filter(|c| !server.contains(c)).collect());
    if let Some(&cpu) = server.iter().chain(&client).find(|&&c| c >= online) {
        return Err(PlanError::NoSuchCpu {
            cpu,
            last: online - 1,
        });
    }
    if client.is_empty() {
        return Err(PlanError::NoClientCpu);
    }
    Ok((server, client))
}

/// The targets of `--target LIST`, and (for `all`) a line on each target skipped.
fn parse_targets(list: &str) -> Result<(Vec<Drive>, Vec<String>), PlanError> {
    if list == "all" {
        // A target this machine cannot run (Python not set up) is skipped, not a failure.
        let (targets, skipped) = echo_targets::available();
        return Ok((targets.into_iter().map(Drive::Start).collect(), skipped));
    }
    let mut drives = Vec::new();
    for name in list.split(',').map(str::trim) {
        let target = echo_targets::find(name).ok_or_else(|| PlanError::UnknownTarget {
            name: name.to_owned(),
            known: echo_targets::names(),
        })?;
        if let Some(why) = echo_targets::unavailable(target) {
            return Err(PlanError::Unavailable {
                name: name.to_owned(),
                why,
            });
        }
        if drives.iter().any(|d: &Drive| d.name() == name) {
            return Err(PlanError::TargetTwice(name.to_owned()));
        }
        drives.push(Drive::Start(target));
    }
    Ok((drives, Vec::new()))
}

fn resolve(addr: &str) -> Result<SocketAddr, PlanError> {
    let bad = |reason: String| PlanError::BadAddr {
        addr: addr.to_owned(),
        reason,
    };
    addr.to_socket_addrs()
        .map_err(|e| bad(format!("not a HOST:PORT this machine can resolve ({e})")))?
        .next()
        .ok_or_else(|| bad("resolves to no address".into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn plan(args: &[&str]) -> anyhow::Result<Plan> {
        let cli = crate::cli::Cli::try_parse_from(
            std::iter::once("loadgen").chain(args.iter().copied()),
        )?;
        Ok(Plan::from_args(cli.run)?)
    }

    #[test]
    fn targets_by_name_list_or_all() {
        assert_eq!(plan(&["--target", "tokio"]).unwrap().drives.len(), 1);
        let names: Vec<_> = plan(&["--target", "smol, threads"])
            .unwrap()
            .drives
            .iter()
            .map(Drive::name)
            .collect();
        assert_eq!(names, ["smol", "threads"]);
        assert_eq!(
            plan(&["--target", "all"]).unwrap().drives.len(),
            echo_targets::available().0.len()
        );
    }

    #[test]
    fn bad_input_is_refused_with_a_reason() {
        let err = |args: &[&str]| format!("{:#}", plan(args).unwrap_err());
        assert!(err(&[]).contains("--target NAME"));
        assert!(err(&["--target", "nginx"]).contains("unknown target 'nginx'"));
        assert!(err(&["--target", "tokio,tokio"]).contains("listed twice"));
        assert!(err(&["--target", "tokio", "--clients", "0"]).contains("at least 1"));
        assert!(err(&["--target", "tokio", "--msg-size", "0"]).contains("--msg-size"));
        assert!(err(&["--target", "tokio", "--rate=-5"]).contains("--rate"));
        assert!(err(&["--target", "tokio", "--duration", "10"]).contains("no unit"));
        assert!(err(&["--addr", "no-such-host.invalid:1"]).contains("--addr"));
        assert!(
            err(&["--target", "tokio", "--addr", "127.0.0.1:1"]).contains("cannot be used with")
        );
        assert!(err(&["--target", "tokio", "--start-at", "+0s"]).contains("already past"));
        assert!(err(&["--target", "tokio,smol", "--start-at", "+1m"]).contains("one target"));
        assert!(err(&["--target", "tokio", "--bind", "127.0.0.2,x"]).contains("--bind x"));
        assert!(err(&["--target", "tokio", "--find-capacity"]).contains("--slo"));
        assert!(err(&["--target", "tokio", "--slo", "p99=1ms"]).contains("--find-capacity"));
        assert!(
            err(&["--target", "tokio", "--find-capacity", "--slo", "99"]).contains("pPERCENTILE")
        );
        assert!(err(&["--target", "tokio", "--rate-ramp", "1k..2k"]).contains("FROM..TO/STEP"));
        assert!(
            err(&[
                "--target",
                "tokio",
                "--rate-ramp",
                "1k..2k/1s",
                "--rate",
                "5"
            ])
            .contains("cannot be used with")
        );
        assert!(err(&["--target", "tokio", "--connection-mode", "x"]).contains("per:N"));
        assert!(
            err(&[
                "--target",
                "tokio",
                "--connection-mode",
                "per:3",
                "--rate",
                "100"
            ])
            .contains("closed loop")
        );
    }

    #[test]
    fn scenarios_are_planned() {
        let p = plan(&["--target", "tokio", "--find-capacity", "--slo", "p99.9=2ms"]).unwrap();
        assert_eq!(p.capacity.unwrap().to_string(), "p99.9=2ms");
        assert_eq!(
            p.rate,
            Some(crate::drive::capacity::START_RATE),
            "the search starts there"
        );
        let p = plan(&[
            "--target",
            "tokio",
            "--find-capacity",
            "--slo",
            "p99=1ms",
            "--rate",
            "5k",
        ]);
        assert!(p.is_err(), "--rate is a plain number");
        let p = plan(&["--target", "tokio", "--rate-ramp", "1k..2k/1s"]).unwrap();
        assert_eq!((p.rate, p.ramp.map(|r| r.to)), (None, Some(2000.0)));
        let p = plan(&["--target", "tokio", "--connection-mode", "per-message"]).unwrap();
        assert_eq!(p.connection_mode, ConnectionMode::Per(1));
        assert!(
            p.server_args()
                .join(" ")
                .contains("--max-connections 16384"),
            "closed connections the server has not yet reaped leave room for new ones"
        );
        assert_eq!(
            plan(&["--target", "tokio"]).unwrap().connection_mode,
            ConnectionMode::Persistent
        );
    }

    #[test]
    fn cpus_are_chosen_or_defaulted() {
        let p = plan(&[
            "--target",
            "tokio",
            "--server-cpus",
            "0",
            "--client-cpus",
            "0",
        ])
        .unwrap();
        assert_eq!((p.server_cpus, p.client_cpus), (vec![0], vec![0]));
        assert_eq!(
            p.warnings,
            [Warning::SharedCpus(vec![0])],
            "allowed, but said"
        );
        let apart = plan(&[
            "--target",
            "tokio",
            "--server-cpus",
            "0",
            "--client-cpus",
            "1",
        ]);
        assert!(apart.is_ok_and(|p| p.warnings.is_empty()));
        let p = plan(&["--target", "tokio", "--no-pin"]).unwrap();
        assert!(p.server_cpus.is_empty() && p.client_cpus.is_empty());
        assert!(
            format!(
                "{:#}",
                plan(&["--target", "tokio", "--server-cpus", "999"]).unwrap_err()
            )
            .contains("does not exist")
        );
        assert!(plan(&["--target", "tokio", "--client-cpus", "x"]).is_err());
    }

    #[test]
    fn servers_get_identical_flags() {
        let p = plan(&[
            "--target",
            "all",
            "--clients",
            "10",
            "--work",
            "sleep:1ms",
            "--work-every",
            "10",
        ])
        .unwrap();
        let args = p.server_args().join(" ");
        assert!(
            args.contains("--work sleep:1.00ms --work-every 10 --msg-size 64"),
            "{args}"
        );
        assert!(args.contains("--addr 127.0.0.1:0"), "{args}");
    }
}
