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

fn after_help() -> String {
    format!(
        "Examples:\n  \
         loadgen --target tokio --clients 1000\n  \
         loadgen --target all --clients 100 --duration 5s\n  \
         loadgen --target tokio-current --clients 100 --work block:1ms --work-every 10\n  \
         loadgen --addr 127.0.0.1:8888 --clients 50      (a server you started, any language)\n  \
         loadgen table results/                           (earlier results side by side)\n\n\
         Each run writes results/<time>-<targets>-c<clients>-m<size>[-<work>][-r<rate>].json \
         (schema echo-bench/result/v1; rewritten after every target, marked partial until the \
         run ends) and one .hgrm percentile file per target beside it, in microseconds.\n\n{}",
        crate::exit::EXIT_STATUS_HELP
    )
}
