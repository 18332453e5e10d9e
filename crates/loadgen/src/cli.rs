//! The whole command line: a load run's flags (no subcommand), `loadgen table`, `compare`,
//! `merge`, the hidden `loadgen server` that loadgen starts its servers with, and the format of
//! stdout. Only parsing happens here; [`crate::plan`] checks what the flags mean together.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use echo_common::WorkSpec;
use echo_common::units::{parse_bytes, parse_duration};

use crate::drive::capacity::Slo;
use crate::engine::churn::ConnectionMode;
use crate::engine::ramp::Ramp;
use crate::run::sys::CpuList;

/// Drive echo servers and measure them: every byte verified, latency in HDR histograms.
#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    version,
    args_override_self = true,
    args_conflicts_with_subcommands = true,
    after_help = after_help()
)]
pub struct Cli {
    /// What to do instead of a load run.
    #[command(subcommand)]
    pub command: Option<Command>,
    /// A load run's flags.
    #[command(flatten)]
    pub run: RunArgs,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print earlier results side by side: one row per target of each result file, named by
    /// its file and time.
    Table(TableArgs),
    /// Compare two result files figure by figure: msgs/s, p50, p99 and server CPU/msg of each
    /// target of A over the same target of B (or the only target of each), with a confidence
    /// interval from their repeated runs, saying plainly when it includes 1.
    Compare(CompareArgs),
    /// Merge the result files of one run made on several load hosts at once (each started with
    /// the same --start-at): histograms added, counts summed, the rate over the time every host
    /// was measuring; a row per host and the total.
    Merge(MergeArgs),
    /// Say whether FILE holds a complete result measured with the settings given: prints
    /// `done: SUMMARY`, `missing`, or `redo: WHY` (what scripts/sweep.sh resumes by).
    Status(StatusArgs),
    /// Run one target's server in the foreground, as loadgen starts it: `loadgen server TARGET
    /// [FLAGS]`; every argument goes to the server unchanged (`loadgen server tokio --help`).
    #[command(hide = true, disable_help_flag = true)]
    Server {
        /// The target, then the server's own flags.
        #[arg(
            num_args = 0..,
            trailing_var_arg = true,
            allow_hyphen_values = true,
            value_parser = clap::value_parser!(OsString)
        )]
        args: Vec<OsString>,
    },
}

/// The flags of a load run (`loadgen` with no subcommand).
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Servers to start and drive, one after another under identical settings: a name, a
    /// comma-separated list, or `all`.
    #[arg(long, value_name = "LIST", conflicts_with = "addr")]
    pub target: Option<String>,

    /// Drive an echo server that is already running at HOST:PORT instead.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,

    /// With --addr: the server's process id, to account its CPU and memory from /proc (a server
    /// loadgen starts is accounted without it).
    #[arg(long, value_name = "PID")]
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
    pub work: WorkSpec,

    /// Work on every Nth message of each connection only; the others are bystanders, whose
    /// latency is reported separately.
    #[arg(long, default_value_t = 1)]
    pub work_every: u64,

    /// Search for the highest open-loop rate that keeps --slo: double from --rate (or 10000)
    /// until the promise breaks, then bisect to 5%; every step a fresh server, a warm-up and a
    /// window. Every step goes into the result file.
    #[arg(long, requires = "slo")]
    pub find_capacity: bool,

    /// The latency promise of --find-capacity, as pPERCENTILE=DURATION: p99=1ms, p99.9=500us.
    #[arg(long, value_name = "SLO", requires = "find_capacity")]
    pub slo: Option<Slo>,

    /// Open loop at a rate that rises step by step across the window, FROM..TO/STEP (e.g.
    /// 10k..100k/1s): steps of STEP, rates evenly from FROM to TO; the warm-up runs at FROM.
    #[arg(long, value_name = "FROM..TO/STEP", conflicts_with_all = ["rate", "find_capacity"])]
    pub rate_ramp: Option<Ramp>,

    /// How clients use connections: persistent, per-message (connect, one echo, close, again)
    /// or per:N (N echoes per connection). Churn modes are closed-loop.
    #[arg(long, value_name = "MODE", default_value = "persistent")]
    pub connection_mode: ConnectionMode,

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

    /// Spread the client connections over these local source addresses, taken in turn: each
    /// adds a full ephemeral port range, for more connections to one server port than one
    /// address allows.
    #[arg(long, value_name = "IP[,IP...]")]
    pub bind: Option<String>,

    /// Open the measured window at this wall-clock time (RFC 3339 in UTC, or +DUR from now):
    /// connect, wait, warm up, and measure from TIME. Give every load host the same TIME, then
    /// `loadgen merge` their result files.
    #[arg(long, value_name = "TIME")]
    pub start_at: Option<String>,

    /// What goes to stdout: a table with notes, the result as JSON (and nothing else), or a
    /// Markdown table.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,

    /// Same as --format json.
    #[arg(long, conflicts_with = "format")]
    pub json: bool,

    /// Run each target N times, in rounds (A B C, A B C, ...) so that drift hits every target
    /// alike, each run with a fresh server. The table then shows medians with their confidence
    /// intervals, and each target against the first (or --baseline) figure by figure.
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub repeat: usize,

    /// With --repeat: the target every other one is compared with [default: the first].
    #[arg(long, value_name = "TARGET")]
    pub baseline: Option<String>,

    /// List the targets this machine can run, one per line with how it works, and exit (the
    /// others, such as Python servers without their environment, are named on stderr).
    #[arg(long, exclusive = true)]
    pub list_targets: bool,
}

/// The format of stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An aligned table with notes under it.
    Table,
    /// The result file's JSON, and nothing else (an array of them for `loadgen table`).
    Json,
    /// A Markdown table, as the README's.
    Markdown,
}

/// `loadgen status`'s arguments: the settings a point must have been measured with.
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The result file a point is written to
    pub file: PathBuf,
    /// Targets it must hold, each measured in full (repeat, or separate with commas)
    #[arg(long = "target", value_name = "NAME", value_delimiter = ',')]
    pub targets: Vec<String>,
    /// Concurrent clients it must have been measured with
    #[arg(long, value_name = "N")]
    pub clients: Option<usize>,
    /// Message size it must have been measured with (64, 1KiB, ...)
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub msg_size: Option<usize>,
    /// Measured window it must have had (10s, 500ms, ...)
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Warm-up it must have had
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub warmup: Option<Duration>,
    /// Per-message timeout it must have had
    #[arg(long, value_name = "DUR", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Server --work it must have had (none, block:1ms, ...)
    #[arg(long, value_name = "WORK")]
    pub work: Option<WorkSpec>,
    /// Server --work-every it must have had
    #[arg(long, value_name = "N")]
    pub work_every: Option<u64>,
    /// Runs per target (--repeat) it must have had
    #[arg(long, value_name = "N")]
    pub repeat: Option<usize>,
    /// Connection mode it must have had (persistent, per-message, per:N)
    #[arg(long, value_name = "MODE")]
    pub connection_mode: Option<String>,
}

fn parse_size(s: &str) -> Result<usize, String> {
    parse_bytes(s).map(|n| n as usize)
}

/// `loadgen table`'s flags.
#[derive(Args, Debug)]
pub struct TableArgs {
    /// Result files, or folders searched with their subfolders for *.json.
    #[arg(required = true, value_name = "FILE_OR_FOLDER")]
    pub paths: Vec<PathBuf>,
    /// The format of stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `loadgen compare`'s arguments.
#[derive(Args, Debug)]
pub struct CompareArgs {
    /// The result file whose figures are the numerators.
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// The result file compared with.
    #[arg(value_name = "B")]
    pub b: PathBuf,
}

/// `loadgen merge`'s flags.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// Result files, one per load host.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Write the merged result here (and its .hgrm beside it).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// The format of stdout.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn after_help() -> String {
    format!(
        "Examples:\n  \
         loadgen --target tokio --clients 1000\n  \
         loadgen --target all --clients 100 --duration 5s\n  \
         loadgen --target tokio-current --clients 100 --work block:1ms --work-every 10\n  \
         loadgen --addr 127.0.0.1:8888 --clients 50      (a server you started, any language)\n  \
         loadgen table results/                           (earlier results side by side)\n  \
         loadgen --target tokio,smol --repeat 5           (medians, intervals and a verdict)\n  \
         loadgen compare new.json old.json                (every figure, with its interval)\n  \
         loadgen --addr HOST:PORT --start-at +30s --output host1.json   (one of several hosts)\n  \
         loadgen merge host1.json host2.json --output merged.json\n\n\
         Each run writes results/<time>-<targets>-c<clients>-m<size>[-<work>][-r<rate>].json \
         (-2, -3... if that name is taken; schema echo-bench/result/v2; rewritten after every run, marked partial until the \
         run ends) and one .hgrm percentile file per target (per run with --repeat) beside it, \
         in microseconds.\n\n{}",
        crate::exit::EXIT_STATUS_HELP
    )
}
