//! The command line, and the validated plan it turns into. Everything downstream trusts the plan.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use echo_common::units::{parse_bytes, parse_duration};
use echo_common::{Target, Work};

use crate::sys::{self, CpuList};

/// Drive echo servers and measure them: every byte verified, latency in HDR histograms.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    args_override_self = true,
    version,
    after_help = "Examples:\n  \
        loadgen --target tokio --clients 1000\n  \
        loadgen --target all --clients 100 --duration 5s\n  \
        loadgen --target tokio-current --clients 100 --work block:1ms --work-every 10\n  \
        loadgen --addr 127.0.0.1:8888 --clients 50      (a server you started, any language)\n\n\
        `loadgen server TARGET [FLAGS]` runs one target's server in the foreground, as loadgen \
        starts it (see `loadgen server TARGET --help`).\n\
        `loadgen table FILE_OR_DIR...` prints earlier results side by side.\n\n\
        Each run writes results/<time>-<targets>.json (schema echo-bench/result/v1) and one \
        .hgrm percentile file per target. Exit status: 0 ok, 1 error, 3 corrupt echo seen, \
        130 interrupted (results so far are still written, marked partial)."
)]
pub struct Cli {
    /// Servers to start and drive, one after another under identical settings: a name, a
    /// comma-separated list, or `all`.
    #[arg(long, value_name = "LIST", conflicts_with = "addr")]
    pub target: Option<String>,

    /// Drive an echo server that is already running at HOST:PORT instead.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,

    /// With --addr: the server's process id, to account its CPU and memory from /proc.
    #[arg(long, value_name = "PID", requires = "addr")]
    pub server_pid: Option<u32>,

    /// Concurrent client connections.
    #[arg(long, default_value_t = 100)]
    pub clients: usize,

    /// Bytes per message (e.g. 64, 1KiB, 16KiB).
    #[arg(long, default_value = "64", value_parser = parse_bytes)]
    pub msg_size: u64,

    /// Length of the measured window.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub duration: Duration,

    /// Load before the window opens, excluded from every figure.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub warmup: Duration,

    /// A message (or connect) not answered within this counts as a timeout, and that client
    /// stops.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Open loop: send this many messages per second in total, on schedule, whether or not
    /// replies have come back; latency is measured from each message's intended send time.
    #[arg(long, value_name = "MSGS_PER_SEC")]
    pub rate: Option<f64>,

    /// Load generator threads [default: one per client CPU].
    #[arg(long)]
    pub client_threads: Option<usize>,

    /// Worker threads for multi-threaded servers [default: one per server CPU].
    #[arg(long)]
    pub server_threads: Option<u16>,

    /// CPUs to pin the server to, e.g. `0` or `0-1` [default with 2+ CPUs: 0].
    #[arg(long, value_name = "CPUS")]
    pub server_cpus: Option<CpuList>,

    /// CPUs to pin the load generator to [default with 2+ CPUs: all but the server's].
    #[arg(long, value_name = "CPUS")]
    pub client_cpus: Option<CpuList>,

    /// Pin nothing; let the scheduler place server and clients.
    #[arg(long, conflicts_with_all = ["server_cpus", "client_cpus"])]
    pub no_pin: bool,

    /// Connection attempts in flight at once while connecting (bounds the connect rate).
    #[arg(long, default_value_t = 256)]
    pub connect_concurrency: usize,

    /// Work the server does per message (passed to servers loadgen starts): none, sleep:DUR,
    /// block:DUR, offload:DUR, cpu:DUR, file-block:BYTES, file-offload:BYTES, sqlite-block,
    /// sqlite-offload.
    #[arg(long, default_value = "none")]
    pub work: Work,

    /// Work on every Nth message of each connection only; the others are bystanders, whose
    /// latency is reported separately.
    #[arg(long, default_value_t = 1)]
    pub work_every: u64,

    /// Directory for result files.
    #[arg(long, default_value = "results", value_name = "DIR")]
    pub results_dir: PathBuf,

    /// Write the result to exactly this file (its .hgrm files beside it) instead of a
    /// time-stamped name in --results-dir.
    #[arg(long, value_name = "FILE", conflicts_with = "no_save")]
    pub output: Option<PathBuf>,

    /// Write no result files.
    #[arg(long)]
    pub no_save: bool,

    /// Print the result as JSON on stdout (and nothing else there).
    #[arg(long)]
    pub json: bool,

    /// List the targets, one per line with how it works, and exit.
    #[arg(long, exclusive = true)]
    pub list_targets: bool,
}

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
    pub work: Work,
    pub work_every: u64,
    pub results_dir: Option<PathBuf>,
    pub output: Option<PathBuf>,
    pub json: bool,
}

/// The largest message: a benchmark of bigger ones measures memory copies, not servers.
const MAX_MSG_SIZE: u64 = 64 << 20;

impl Plan {
    /// Checks the command line against itself and this machine.
    pub fn from_cli(cli: Cli) -> Result<Plan> {
        let drives = match (&cli.target, &cli.addr) {
            (Some(list), None) => parse_targets(list)?,
            (None, Some(addr)) => vec![Drive::Addr(resolve(addr)?)],
            _ => bail!(
                "say what to drive: --target NAME (one of {}, a comma-separated list, or all) \
                 or --addr HOST:PORT",
                echo_targets::names()
            ),
        };
        ensure!(cli.clients >= 1, "--clients must be at least 1");
        ensure!(
            (1..=MAX_MSG_SIZE).contains(&cli.msg_size),
            "--msg-size must be between 1 byte and 64MiB, not {}",
            cli.msg_size
        );
        ensure!(!cli.duration.is_zero(), "--duration must be more than zero");
        ensure!(!cli.timeout.is_zero(), "--timeout must be more than zero");
        ensure!(cli.work_every >= 1, "--work-every must be at least 1");
        ensure!(
            cli.connect_concurrency >= 1,
            "--connect-concurrency must be at least 1"
        );
        if let Some(rate) = cli.rate {
            ensure!(
                rate.is_finite() && rate > 0.0,
                "--rate must be a positive number of messages per second, not {rate}"
            );
        }

        let online = sys::online_cpus();
        let (server_cpus, client_cpus) = if cli.no_pin || online < 2 {
            (Vec::new(), Vec::new())
        } else {
            let server = cli.server_cpus.map_or_else(|| vec![0], |c| c.0);
            let client = cli
                .client_cpus
                .map(|c| c.0)
                .unwrap_or_else(|| (0..online).filter(|c| !server.contains(c)).collect());
            for cpu in server.iter().chain(&client) {
                ensure!(
                    *cpu < online,
                    "CPU {cpu} does not exist: this machine has CPUs 0-{}",
                    online - 1
                );
            }
            ensure!(
                !client.is_empty(),
                "--client-cpus is empty: the load generator needs a CPU"
            );
            (server, client)
        };
        let client_threads = cli
            .client_threads
            .unwrap_or(client_cpus.len().max(1))
            .clamp(1, cli.clients);
        let server_threads = cli
            .server_threads
            .unwrap_or(server_cpus.len().max(1).min(u16::MAX as usize) as u16);
        ensure!(server_threads >= 1, "--server-threads must be at least 1");

        Ok(Plan {
            drives,
            server_pid: cli.server_pid,
            clients: cli.clients,
            msg_size: cli.msg_size as usize,
            duration: cli.duration,
            warmup: cli.warmup,
            timeout: cli.timeout,
            rate: cli.rate,
            client_threads,
            server_threads,
            server_cpus,
            client_cpus,
            connect_concurrency: cli.connect_concurrency,
            // With no work there are no bystanders to tell apart.
            work_every: if matches!(cli.work, Work::None) {
                1
            } else {
                cli.work_every
            },
            work: cli.work,
            results_dir: (!cli.no_save).then_some(cli.results_dir),
            output: cli.output,
            json: cli.json,
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
            (self.clients + 64).to_string(),
            "--work".into(),
            self.work.to_string(),
            "--work-every".into(),
            self.work_every.to_string(),
            "--msg-size".into(),
            self.msg_size.to_string(),
        ]
    }
}

fn parse_targets(list: &str) -> Result<Vec<Drive>> {
    if list == "all" {
        // A target this machine cannot run (Python not set up) is skipped, not a failure.
        let (targets, skipped) = echo_targets::available();
        for line in skipped {
            eprintln!("loadgen: {line}");
        }
        return Ok(targets.into_iter().map(Drive::Start).collect());
    }
    let mut drives = Vec::new();
    for name in list.split(',').map(str::trim) {
        let target = echo_targets::find(name).with_context(|| {
            format!(
                "unknown target '{name}'; known: {}, or all",
                echo_targets::names()
            )
        })?;
        if let Some(why) = echo_targets::unavailable(target) {
            bail!("target '{name}' cannot run here: {why}");
        }
        if drives.iter().any(|d: &Drive| d.name() == name) {
            bail!("target '{name}' is listed twice");
        }
        drives.push(Drive::Start(target));
    }
    Ok(drives)
}

fn resolve(addr: &str) -> Result<SocketAddr> {
    addr.to_socket_addrs()
        .with_context(|| format!("--addr {addr}: not a HOST:PORT this machine can resolve"))?
        .next()
        .with_context(|| format!("--addr {addr}: resolves to no address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(args: &[&str]) -> Result<Plan> {
        let cli = Cli::try_parse_from(std::iter::once("loadgen").chain(args.iter().copied()))?;
        Plan::from_cli(cli)
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
