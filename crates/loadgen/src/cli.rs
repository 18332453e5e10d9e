//! The command line: a load run (no subcommand), `loadgen table`, and the hidden `loadgen server`
//! that loadgen starts its servers with.

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::output::Format;
use crate::plan::RunArgs;

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
         (schema echo-bench/result/v2; rewritten after every run, marked partial until the \
         run ends) and one .hgrm percentile file per target (per run with --repeat) beside it, \
         in microseconds.\n\n{}",
        crate::exit::EXIT_STATUS_HELP
    )
}
