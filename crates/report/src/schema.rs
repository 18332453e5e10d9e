//! The result file's layout. Names here are stable: scripts and charts rely on them.

use echo_proto::Summary;
use serde::{Deserialize, Serialize};

use crate::Latency;
use crate::stats::Spread;

/// The layout written by this version. A change that renames or removes a field, or changes what
/// one means, bumps it. v2 added repetitions (`--repeat`): a target's figures may then stand for
/// several runs, kept in [`TargetResult::repeats`], which a v1 reader would not know to look at.
///
/// A target whose window never opened leaves out its rates, starved count and costs per message
/// (`msgs_per_sec`, `mb_per_sec`, `starved_clients`, `*.cpu_ns_per_msg`) rather than write 0s
/// that read as measurements. That is no new version: every file with a window has them as
/// before, and every file written before reads them as present; only a file of a run cut before
/// its window (partial, and empty of figures) is new to older readers, which refuse it by name.
pub const SCHEMA: &str = "echo-bench/result/v2";

/// Layouts this version reads: v1 files are v2 files run once, without a noise reading.
pub const READABLE: [&str; 2] = [SCHEMA, "echo-bench/result/v1"];

/// One `loadgen` run: one or more targets driven under identical settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunResult {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// When the run started, RFC 3339 in UTC.
    pub started_at: String,
    /// The commit of echo-bench that ran (with `-dirty` if the tree had changes), if known.
    pub git_commit: Option<String>,
    /// The machine it ran on.
    pub machine: Machine,
    /// The settings every target was run with.
    pub config: RunConfig,
    /// One entry per target, in the order they ran.
    pub targets: Vec<TargetResult>,
    /// True if the run was cut short (Ctrl-C, a deadline): figures cover what was measured.
    pub partial: bool,
    /// What this host's clock could say about itself, for runs on several hosts (absent in
    /// files written before it was recorded).
    #[serde(default)]
    pub clock: Option<Clock>,
    /// A merge of several hosts' runs (`loadgen merge`): each host's own result, as read.
    /// Empty for a run on one host.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<HostRun>,
}

/// The local clock, as far as it can be read cheaply. Windows of several hosts line up only as
/// well as their clocks agree; this says how far to trust that.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    /// The kernel's clock source (`tsc`, `kvm-clock`, ...), if readable.
    pub source: Option<String>,
    /// Whether the system says its clock is synchronised (NTP, chrony), if it can tell.
    pub synchronized: Option<bool>,
}

/// One host's part in a merged result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostRun {
    /// The result file it was read from, as named to `loadgen merge`.
    pub file: String,
    /// That file's result, unchanged.
    pub result: RunResult,
}

/// Where a run happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Machine {
    /// CPU model name, from /proc/cpuinfo.
    pub cpu_model: String,
    /// Logical CPUs online.
    pub cores: usize,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Host name.
    pub hostname: String,
}

/// How a run was set up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Concurrent client connections.
    pub clients: usize,
    /// Bytes per message.
    pub msg_size: usize,
    /// Length of the measured window, in nanoseconds.
    pub duration_ns: u64,
    /// Warm-up before the window, excluded from every figure, in nanoseconds.
    pub warmup_ns: u64,
    /// Per-message timeout, in nanoseconds.
    pub timeout_ns: u64,
    /// Load generator threads.
    pub client_threads: usize,
    /// CPUs the load generator was pinned to (empty: not pinned).
    pub client_cpus: Vec<usize>,
    /// CPUs the server was pinned to (empty: not pinned, or not started by loadgen).
    pub server_cpus: Vec<usize>,
    /// `--threads` given to multi-threaded servers.
    pub server_threads: usize,
    /// Open loop: messages per second asked for in total; `None` for a closed loop.
    pub rate: Option<f64>,
    /// The server's `--work`.
    pub work: String,
    /// The server's `--work-every`.
    pub work_every: u64,
    /// `--rate-ramp FROM..TO/STEP`: the open loop's rate rose step by step across the window
    /// (absent: a steady rate, or a closed loop).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_ramp: Option<String>,
    /// `--connection-mode`: `per-message` or `per:N` (absent: persistent connections).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_mode: Option<String>,
    /// `--start-at`: the wall-clock time, RFC 3339 in UTC, the window was to open at.
    #[serde(default)]
    pub start_at: Option<String>,
    /// `--repeat`: runs of each target asked for, in interleaved rounds (1 in v1 files).
    #[serde(default = "one")]
    pub repeat: usize,
    /// `--bind`: the source addresses the clients connected from, as given (absent: the
    /// kernel's choice). A merged result lists every host's, in the order of its hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bind: Vec<String>,
}

fn one() -> usize {
    1
}

/// Everything measured for one target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetResult {
    /// The target's name, or `addr:HOST:PORT` for a server loadgen did not start.
    pub target: String,
    /// True if this target's run was cut short.
    pub partial: bool,
    /// Clients asked for.
    pub clients: usize,
    /// Clients that connected.
    pub connected: usize,
    /// Time from the first connect to the last connection established, in nanoseconds.
    pub connect_ns: u64,
    /// Length of the measured window actually covered, in nanoseconds.
    pub window_ns: u64,
    /// The same window on this host's wall clock: what lets windows of several hosts be
    /// lined up (absent in files written before it was recorded).
    #[serde(default)]
    pub wall_window: Option<WallWindow>,
    /// Round trips completed and verified in the window.
    pub messages: u64,
    /// Messages per second over the window; absent if the window never opened (a run cut in
    /// its connect phase or warm-up): a rate over no time is no rate, not zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msgs_per_sec: Option<f64>,
    /// Echoed payload, megabytes (10^6) per second, one direction; absent as `msgs_per_sec` is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mb_per_sec: Option<f64>,
    /// Round-trip latency of every message in the window (open loop: from its intended send
    /// time, corrected for coordinated omission).
    pub latency_ns: Latency,
    /// Open loop only: latency from the actual send time, as a naive tool would report it.
    pub latency_uncorrected_ns: Option<Latency>,
    /// With `--work-every N > 1`: the messages that had no work (the bystanders).
    pub bystander_latency_ns: Option<Latency>,
    /// With `--work-every N > 1`: the messages that had work.
    pub working_latency_ns: Option<Latency>,
    /// Errors by kind.
    pub errors: Errors,
    /// Connected clients that never got a single reply in the window; absent if the window
    /// never opened (no client can be said to have waited in it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starved_clients: Option<usize>,
    /// Throughput and tail latency second by second over the window.
    pub timeline: Vec<Tick>,
    /// What the server cost (when loadgen started it, or got `--server-pid`).
    pub server: Option<ServerCost>,
    /// What the load generator cost.
    pub client: ClientCost,
    /// Open loop only: the rate asked for and the rate achieved.
    pub open_loop: Option<OpenLoop>,
    /// The server's own final summary, including its loop lag, when loadgen started it.
    pub server_summary: Option<Summary>,
    /// The latency histogram (`latency_ns`), HdrHistogram V2 + DEFLATE, base64.
    pub histogram: String,
    /// What else ran on the machine during the window (absent in v1 files).
    #[serde(default)]
    pub noise: Option<Noise>,
    /// With `--repeat N > 1`: every run of this target, and their figures' spread. The fields
    /// above are then those of one of them, the representative (see [`Repeats`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeats: Option<Repeats>,
    /// `--find-capacity`: every step of the search and where it put the capacity. The figures
    /// above are those of the step the answer names (the highest rate that kept the promise, or
    /// the last step if none did).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<CapacitySearch>,
    /// A churn mode (`--connection-mode per-message|per:N`): the connections and what each cost.
    /// `latency_ns` then counts each connection's first message from its connect call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub churn: Option<Churn>,
}

/// Every run of one target under `--repeat`, and what they say together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Repeats {
    /// Every run, in the order run (round 1 first).
    pub runs: Vec<TargetResult>,
    /// The index in `runs` of the run with the median msgs/s (the lower middle for an even
    /// count). The target's own fields are a copy of its figures, so a reader that knows nothing
    /// of repetitions still sees one real, typical run rather than figures no run had.
    pub representative: usize,
    /// Messages per second across the runs: median, confidence interval, min…max, variation.
    /// Each spread covers the runs that measured the figure; `None` if none did.
    pub msgs_per_sec: Option<Spread>,
    /// Median latency across the runs (open loop: corrected), nanoseconds.
    pub p50_ns: Option<Spread>,
    /// 99th-percentile latency across the runs, nanoseconds.
    pub p99_ns: Option<Spread>,
    /// Server CPU per message across the runs, nanoseconds.
    pub server_cpu_ns_per_msg: Option<Spread>,
    /// `--find-capacity`: the capacity each search found across the runs, messages per second
    /// (0 for a search every rate of which broke the promise); absent in files before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<Spread>,
}

/// What else used the CPUs during a window, from /proc/stat: the things that make identical runs
/// differ.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Noise {
    /// The CPUs watched: the server's and the load generator's when pinned, all otherwise.
    pub cpus: Vec<usize>,
    /// The share of those CPUs' time the hypervisor ran something else instead (steal time).
    pub steal: f64,
    /// The share of those CPUs' time spent running anything but the server and the load
    /// generator (other processes and kernel threads, in user or system mode); `None` when the
    /// server's own CPU time is unknown.
    pub others: Option<f64>,
}

/// A search for the highest open-loop rate that keeps a latency promise.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacitySearch {
    /// The promise, as given: `p99=1ms`.
    pub slo: String,
    /// Its percentile, in (0, 100].
    pub percentile: f64,
    /// Its latency limit, in nanoseconds.
    pub limit_ns: u64,
    /// Bisection stops once the bracket is narrower than this share of its lower end.
    pub precision: f64,
    /// Every step, in the order measured.
    pub steps: Vec<CapacityStep>,
    /// `found`, `imprecise` (the steps ran out first), `stopped` (Ctrl-C came first), `below`
    /// (every rate broke the promise), `at-least` (no rate did), or `unknown` (nothing measured).
    pub answer: String,
    /// The highest rate that kept the promise, messages per second: the capacity.
    pub kept: Option<f64>,
    /// The lowest rate above `kept` that broke it.
    pub broke: Option<f64>,
}

/// One step of a capacity search: a short open-loop window at one rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CapacityStep {
    /// Messages per second asked for.
    pub asked: f64,
    /// Verified replies per second in the window.
    pub achieved: f64,
    /// Latency at the promise's percentile, coordinated omission corrected, in nanoseconds.
    pub at_percentile_ns: u64,
    /// The step's latency, corrected.
    pub latency_ns: Latency,
    /// Errors of any kind.
    pub errors: u64,
    /// `kept`, `too slow`, `fell behind` or `errors`.
    pub verdict: String,
}

/// Connection churn: each client connects, exchanges N messages, closes, and repeats.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Churn {
    /// `per-message` or `per:N`.
    pub mode: String,
    /// Connections completed (every echo back, verified) in the window.
    pub connections: u64,
    /// Connections completed per second.
    pub connections_per_sec: f64,
    /// From the connect call to the connection established, for connects begun in the window.
    pub connect_latency_ns: Latency,
    /// From each message's send to its verified echo.
    pub exchange_latency_ns: Latency,
}

/// A window on the wall clock, in nanoseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WallWindow {
    /// When it opened.
    pub start_unix_ns: u64,
    /// When it closed.
    pub end_unix_ns: u64,
}

impl CapacitySearch {
    /// Whether `kept` is only a lower bound on the capacity: no rate broke the promise
    /// (`at-least`, or `stopped` by Ctrl-C before one did), or only the load generator's CPU
    /// did (`client-limited`).
    pub fn is_lower_bound(&self) -> bool {
        match self.answer.as_str() {
            "at-least" | "client-limited" => true,
            "stopped" => self.kept.is_some() && self.broke.is_none(),
            _ => false,
        }
    }
}

impl WallWindow {
    /// Its length in nanoseconds.
    pub fn len_ns(&self) -> u64 {
        self.end_unix_ns.saturating_sub(self.start_unix_ns)
    }
}

/// Errors by kind. Every field counts events, not clients.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Errors {
    /// Connections refused.
    pub refused: u64,
    /// Connections reset by the server.
    pub reset: u64,
    /// Connections the server closed mid-echo.
    pub eof: u64,
    /// Replies that did not come within `--timeout` (or connects that did not complete).
    pub timeout: u64,
    /// Echoes whose bytes differed from what was sent. Any makes loadgen's exit code non-zero.
    pub corrupt: u64,
    /// Anything else.
    pub other: u64,
    /// Connects that found no free local port (EADDRNOTAVAIL): the ephemeral ports are used up,
    /// typically by closed connections waiting in TIME_WAIT.
    #[serde(default)]
    pub port_exhausted: u64,
}

impl Errors {
    /// Each kind's name and count, in a fixed order: what totals and descriptions walk.
    pub fn by_kind(&self) -> [(&'static str, u64); 7] {
        [
            ("refused", self.refused),
            ("reset", self.reset),
            ("eof", self.eof),
            ("timeout", self.timeout),
            ("corrupt", self.corrupt),
            ("other", self.other),
            ("port exhausted", self.port_exhausted),
        ]
    }

    /// All errors together.
    pub fn total(&self) -> u64 {
        self.by_kind().iter().map(|(_, n)| n).sum()
    }
}

/// `3 refused, 1 timeout`: every kind that occurred, in [`Errors::by_kind`]'s order; `none`
/// when none did.
impl std::fmt::Display for Errors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut kinds = self.by_kind().into_iter().filter(|(_, n)| *n > 0);
        match kinds.next() {
            None => f.write_str("none"),
            Some((kind, n)) => {
                write!(f, "{n} {kind}")?;
                kinds.try_for_each(|(kind, n)| write!(f, ", {n} {kind}"))
            }
        }
    }
}

impl std::ops::AddAssign for Errors {
    fn add_assign(&mut self, o: Errors) {
        self.refused += o.refused;
        self.reset += o.reset;
        self.eof += o.eof;
        self.timeout += o.timeout;
        self.corrupt += o.corrupt;
        self.other += o.other;
        self.port_exhausted += o.port_exhausted;
    }
}

/// One second of the window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tick {
    /// Seconds since the window opened, at the end of this tick.
    pub t_s: f64,
    /// Messages completed in this tick.
    pub msgs: u64,
    /// 99th-percentile latency of this tick's messages, in nanoseconds (0 if none).
    pub p99_ns: u64,
    /// With `--rate-ramp`: messages per second asked for during this tick.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked_rate: Option<f64>,
}

/// The server process over the measured window, from /proc.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ServerCost {
    /// User CPU time, nanoseconds.
    pub cpu_user_ns: u64,
    /// System CPU time, nanoseconds.
    pub cpu_sys_ns: u64,
    /// (user + system) / messages; absent when the window held no message to divide by.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ns_per_msg: Option<f64>,
    /// Peak resident set size over its life (VmHWM).
    pub peak_rss_bytes: u64,
    /// Resident set size at the end of the window, minus at start-up, per connected client.
    pub rss_per_conn_bytes: f64,
    /// Threads at the end of the window.
    pub threads: u64,
}

/// The load generator over the measured window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ClientCost {
    /// (user + system) CPU / messages, nanoseconds; absent when the window held no message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_ns_per_msg: Option<f64>,
    /// Resident memory per connection, bytes.
    pub rss_per_conn_bytes: f64,
    /// True if the client was the limit: its CPUs were nearly always busy while the server's were
    /// not (or, with no server to watch, its CPUs alone were), so the figures measure the client.
    pub saturated: bool,
}

/// Open-loop figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OpenLoop {
    /// Messages per second asked for.
    pub target_rate: f64,
    /// Messages per second sent.
    pub achieved_rate: f64,
}
