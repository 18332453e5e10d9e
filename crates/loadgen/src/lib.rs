//! The load generator: drives echo servers and measures them.
//!
//! Data flows one way: the command line ([`cli`]) becomes a validated [`plan::Plan`]; [`drive`]
//! runs each target ([`run`]: one run, with its server, its machine facts and a noise reading of
//! its window; the client threads are the [`engine`]) into a plain-data
//! [`echo_report::TargetResult`], in rounds under `--repeat`, writing the result files
//! ([`present::files`]) after every run; the run is printed ([`present`]) in the format asked
//! for, with verdicts between targets; [`exit`] names how it went as an exit status.
//!
//! The folders are roles, and imports only go one way between modules (`tests/imports.rs`):
//! - [`engine`]: a client thread and everything it owns, from the connect to its final record;
//! - [`run`]: one target's run, and what it reads of the machine and the server;
//! - [`drive`]: what runs runs: rounds of targets, repeats, capacity searches;
//! - [`present`]: results out: tables, comparisons, result files, merging hosts' files.

// No function over 80 lines outside tests (the threshold is in this crate's clippy.toml).
#![warn(clippy::too_many_lines)]

mod cli;
mod drive;
mod engine;
mod exit;
mod plan;
mod present;
mod run;
mod warnings;

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use echo_report::status::{Status, Wanted};
use echo_report::{MergeError, ReadError};

use crate::cli::{Cli, Command, CompareArgs, RunArgs, StatusArgs, TableArgs};
use crate::drive::rounds;
use crate::exit::Exit;
use crate::plan::{Plan, PlanError};
use crate::present::compare::CompareError;
use crate::present::files::{self, ResultFiles, TableError};
use crate::present::output::{self, Source};
use crate::present::{compare, merge, stdout};
use crate::run::server;

/// The descriptor limit raised for N clients, or why they cannot fit: shared with the yardstick
/// client (`examples/pingpong.rs`), which must hold as many connections as loadgen.
pub use crate::run::sys::{TooFew, ensure_fds_for};

/// Runs loadgen with this process's arguments and returns its exit status; errors are said here,
/// once, on stderr.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            }
            .into();
        }
    };
    let outcome = match cli.command {
        Some(Command::Server { args }) => return server::serve(args),
        Some(Command::Table(args)) => table(args),
        Some(Command::Compare(args)) => compare_files(args),
        Some(Command::Merge(args)) => merge::merge(args),
        Some(Command::Status(args)) => status(args),
        None => load(cli.run),
    };
    match outcome {
        Ok(exit) => exit.into(),
        Err(e) => {
            eprintln!("Error: {e:#}");
            exit_of_error(&e).into()
        }
    }
}

/// A load run: flags → plan → every target, saved as it finishes → stdout → exit status.
fn load(args: RunArgs) -> Result<Exit> {
    if args.list_targets {
        // What `--target all` would run, so scripts can loop over it; the rest are said on stderr.
        let (targets, skipped) = echo_targets::available();
        let list: String = targets
            .iter()
            .map(|t| format!("{:<14} {}\n", t.name, t.about))
            .collect();
        stdout::write(&list)?;
        skipped.iter().for_each(|line| eprintln!("Skipped {line}"));
        return Ok(Exit::Success);
    }
    let plan = Plan::from_args(args)?;
    plan.skipped
        .iter()
        .for_each(|line| eprintln!("Skipped {line}"));
    plan.warnings.iter().for_each(|w| eprintln!("Warning: {w}"));
    let run = rounds::new_run(&plan);
    let files = ResultFiles::prepare(&plan, &run)?;
    let finished = rounds::drive(&plan, run, |run, histograms| files.save(run, histograms))?;
    if let Some(path) = files.written() {
        eprintln!("results written to {}", path.display());
    } else if let Some(path) = files.kept() {
        eprintln!(
            "{} left as it was: this run measured nothing to replace it with",
            path.display()
        );
    }
    let source = Source {
        run: &finished.run,
        label: None,
    };
    output::print(&[source], plan.format)?;
    // The verdicts under the table; a baseline whose every run failed has none to give.
    if plan.format == cli::Format::Table
        && plan.repeat > 1
        && let Ok(verdicts) = compare::against_baseline(&finished.run, &plan.baseline)
    {
        stdout::write(&verdicts.to_string())?;
    }
    Ok(finished.conclude())
}

/// `loadgen table`: earlier results side by side.
fn table(args: TableArgs) -> Result<Exit> {
    let (found, warnings) = files::find_results(&args.paths)?;
    warnings.iter().for_each(|w| eprintln!("Warning: {w}"));
    let sources: Vec<Source> = found
        .iter()
        .map(|f| Source {
            run: &f.run,
            label: Some(&f.label),
        })
        .collect();
    output::print(&sources, args.format)?;
    Ok(Exit::Success)
}

/// `loadgen compare A B`: every figure of A's targets against B's, with a verdict.
fn compare_files(args: CompareArgs) -> Result<Exit> {
    let read = |path: &std::path::Path| {
        echo_report::read_result(path)
            .context("loadgen compare needs two result files written by loadgen")
    };
    let (a, b) = (read(&args.a)?, read(&args.b)?);
    let label = |p: &std::path::Path| {
        p.file_name().map_or_else(
            || p.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        )
    };
    let text = compare::compare(&a, &label(&args.a), &b, &label(&args.b))?;
    stdout::write(&text)?;
    Ok(Exit::Success)
}

/// `loadgen status FILE`: whether a sweep has this point already, or must measure it (again).
fn status(args: StatusArgs) -> Result<Exit> {
    let wanted = Wanted {
        targets: args.targets,
        clients: args.clients,
        msg_size: args.msg_size,
        duration: args.duration,
        warmup: args.warmup,
        timeout: args.timeout,
        work: args.work,
        work_every: args.work_every,
        repeat: args.repeat,
        connection_mode: args.connection_mode,
    };
    let said = match echo_report::status::status(&args.file, &wanted) {
        Status::Missing => "missing\n".to_owned(),
        Status::Done(summary) => format!("done: {summary}\n"),
        Status::Redo(why) => format!("redo: {why}\n"),
    };
    stdout::write(&said)?;
    Ok(Exit::Success)
}

/// The status of an error that ended loadgen: a refusal anywhere in its chain (a command line,
/// a path or file that is no result, files that cannot be merged) makes it a usage error.
fn exit_of_error(e: &anyhow::Error) -> Exit {
    if e.chain().any(|c| {
        c.is::<PlanError>()
            || c.is::<TableError>()
            || c.is::<ReadError>()
            || c.is::<MergeError>()
            || c.is::<CompareError>()
    }) {
        Exit::Usage
    } else {
        Exit::Failed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_command_line_is_a_usage_error_however_deeply_wrapped() {
        let refused = Err::<(), _>(PlanError::NoClientCpu)
            .context("while planning")
            .unwrap_err();
        assert_eq!(exit_of_error(&refused), Exit::Usage);
        assert_eq!(exit_of_error(&anyhow::anyhow!("disk full")), Exit::Failed);
    }
}
