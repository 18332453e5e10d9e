//! The charts: each a function from points to figures, or to a reason there is nothing to draw.

mod capacity;
mod clients;
mod cpu;
mod memory;
mod p99;
mod pitfall;
mod ramp;
mod seconds;
mod spectrum;
mod throughput;
mod timeline;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::figure::Figure;
use crate::load::{Loaded, Point};
use crate::style::Palette;

pub use capacity::capacity;
pub use cpu::cpu;
pub use memory::memory;
pub use p99::p99;
pub use pitfall::pitfall;
pub use ramp::ramp;
pub use spectrum::spectrum;
pub use throughput::throughput;
pub use timeline::timeline;

/// A whisker over a bar is drawn in near-black: in the bar's own colour it would vanish into it.
const WHISKER_INK: plotters::style::RGBColor = plotters::style::RGBColor(0x22, 0x22, 0x22);

/// Ends the subtitle of a chart that draws whiskers, saying what they are.
pub const WHISKER_NOTE: &str =
    " · whiskers: the median's confidence interval over repeated runs (min…max for 5 or fewer)";

/// Every chart this crate draws.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChartKind {
    /// Messages per second against clients, a line per target, one chart per scenario.
    Throughput,
    /// p99 latency against clients, a line per target, one chart per scenario.
    P99,
    /// The latency percentile spectrum of one point, a curve per target.
    Spectrum,
    /// Server memory per connection against clients, a line per target, one chart per scenario.
    Memory,
    /// Server CPU per message, bars per target and client count, one chart per scenario.
    Cpu,
    /// The pitfall table: bystander, working and loop-lag p99 and throughput per target and work.
    Pitfall,
    /// Throughput and p99 second by second for the run whose slowest second had the largest p99.
    Timeline,
    /// The highest rate keeping each latency promise per target, beside the closed-loop maximum.
    Capacity,
    /// Under a rising rate: the rate asked, each target's replies per second, and its p99.
    Ramp,
}

impl ChartKind {
    /// All charts, in the order they are drawn.
    pub const ALL: [ChartKind; 7] = [
        ChartKind::Throughput,
        ChartKind::P99,
        ChartKind::Spectrum,
        ChartKind::Memory,
        ChartKind::Cpu,
        ChartKind::Pitfall,
        ChartKind::Timeline,
    ];

    /// Charts of loadgen's scenarios (`--find-capacity`, `--rate-ramp`), drawn only when named
    /// (`--only capacity,ramp`): their results are not a sweep, and the sweep's charts are not
    /// theirs.
    pub const SCENARIOS: [ChartKind; 2] = [ChartKind::Capacity, ChartKind::Ramp];

    /// Its name on the command line, and the start of its files' names.
    pub fn name(self) -> &'static str {
        match self {
            ChartKind::Throughput => "throughput",
            ChartKind::P99 => "p99",
            ChartKind::Spectrum => "spectrum",
            ChartKind::Memory => "memory",
            ChartKind::Cpu => "cpu",
            ChartKind::Pitfall => "pitfall",
            ChartKind::Timeline => "timeline",
            ChartKind::Capacity => "capacity",
            ChartKind::Ramp => "ramp",
        }
    }

    /// Builds this chart's figures from `ctx`.
    pub fn build(self, ctx: &Context) -> Result<Vec<Figure>, NoData> {
        match self {
            ChartKind::Throughput => throughput(ctx),
            ChartKind::P99 => p99(ctx),
            ChartKind::Spectrum => spectrum(ctx).map(|f| vec![f]),
            ChartKind::Memory => memory(ctx),
            ChartKind::Cpu => cpu(ctx),
            ChartKind::Pitfall => pitfall(ctx).map(|f| vec![f]),
            ChartKind::Timeline => timeline(ctx).map(|f| vec![f]),
            ChartKind::Capacity => capacity(ctx).map(|f| vec![f]),
            ChartKind::Ramp => ramp(ctx),
        }
    }
}

impl fmt::Display for ChartKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ChartKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let every = || ChartKind::ALL.into_iter().chain(ChartKind::SCENARIOS);
        every().find(|k| k.name() == s).ok_or_else(|| {
            let names: Vec<_> = every().map(|k| k.name()).collect();
            format!("unknown chart '{s}'; charts: {}", names.join(", "))
        })
    }
}

/// Choices for the charts that show one point or one run.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The client count of the spectrum and pitfall charts; by default the one most targets were
    /// measured at.
    pub at_clients: Option<usize>,
    /// The result file of the timeline chart (a path, file name or file stem); by default the
    /// run whose slowest second had the largest p99 (clients that starved excluded).
    pub timeline_file: Option<PathBuf>,
    /// The target whose slowest second picks the run; by default any.
    pub timeline_target: Option<String>,
}

/// Why a chart has nothing to draw: a note for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoData(pub String);

impl fmt::Display for NoData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What every chart reads: the points, a colour per target and the options.
pub struct Context<'a> {
    /// Every point loaded.
    pub points: Vec<&'a Point>,
    /// A colour per target, the same on every chart.
    pub palette: Palette,
    /// Choices for single-point charts.
    pub options: Options,
}

impl<'a> Context<'a> {
    /// A context over everything `loaded` holds.
    pub fn new(loaded: &'a Loaded, options: Options) -> Self {
        Context {
            points: loaded.points.iter().collect(),
            palette: Palette::new(loaded.target_names()),
            options,
        }
    }
}

/// The client count single-point charts default to when several qualify: enough concurrency for
/// queues to form, few enough that every server (even thread-per-connection) keeps up.
const PREFERRED_CLIENTS: usize = 100;

/// How far `clients` is from [`PREFERRED_CLIENTS`], on a log scale (10 and 1000 are equally far).
fn distance_from_preferred(clients: usize) -> u64 {
    let ratio = (clients.max(1) as f64 / PREFERRED_CLIENTS as f64)
        .ln()
        .abs();
    (ratio * 1e6) as u64
}

/// A note naming the client counts the results do hold, for a `--at-clients` that matched none.
fn no_such_clients(n: usize, points: &[&Point]) -> NoData {
    let mut have: Vec<usize> = points.iter().map(|p| p.clients()).collect();
    have.sort_unstable();
    have.dedup();
    let have: Vec<String> = have.iter().map(|c| c.to_string()).collect();
    NoData(format!(
        "no results at --at-clients {n} (the results hold {})",
        have.join(", ")
    ))
}
