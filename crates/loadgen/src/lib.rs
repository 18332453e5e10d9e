//! The load generator: drives echo servers and measures them.
//!
//! Data flows one way: the command line becomes a validated [`plan::Plan`]; each target is run
//! ([`run`]) into a plain-data [`echo_report::TargetResult`]; the run's [`echo_report::RunResult`]
//! is exported ([`output`]) as a table or JSON on stdout and as result files.

mod client;
mod output;
mod plan;

pub use plan::Cli;
mod progress;
mod record;
mod run;
mod schedule;
mod server;
mod sys;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use anyhow::{Context, Result};
use echo_report::{RunConfig, RunResult, SCHEMA};

use crate::plan::Plan;
use crate::progress::Progress;

/// Exit status when an echo came back wrong.
const EXIT_CORRUPT: u8 = 3;
/// Exit status after Ctrl-C (128 + SIGINT, as shells report it).
const EXIT_INTERRUPTED: u8 = 130;

/// Runs the command line; returns the exit status.
pub fn main(cli: Cli) -> Result<ExitCode> {
    if cli.list_targets {
        for t in echo_targets::ALL {
            println!("{:<14} {}", t.name, t.about);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let plan = Plan::from_cli(cli)?;
    sys::ensure_fds_for(plan.clients)?;
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))
            .context("cannot install the Ctrl-C handler")?;
    }
    // The coordinator runs on the client CPUs; servers are placed on theirs as they start.
    sys::pin_current_thread(&plan.client_cpus)?;

    let started_at = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    let mut progress = Progress::new();
    let mut targets = Vec::new();
    let mut histograms = Vec::new();
    let mut problems = Vec::new();
    for drive in &plan.drives {
        if interrupted.load(Relaxed) {
            break;
        }
        match run::run(&plan, drive, &interrupted, &mut progress) {
            Ok(outcome) => {
                if let Some(p) = outcome.problem {
                    progress.say(&outcome.result.target, format!("stopped early: {p}"));
                    if p != "interrupted" {
                        problems.push(format!("{}: {p}", outcome.result.target));
                    }
                }
                for (suffix, h) in outcome.histograms {
                    histograms.push((
                        format!("{}{suffix}", outcome.result.target.replace([':', '.'], "_")),
                        h,
                    ));
                }
                targets.push(outcome.result);
            }
            // A runtime that cannot run here (io_uring disabled, say) is not a failure of the run.
            Err(e) if e.is::<server::Unavailable>() => progress.say(&drive.name(), e.to_string()),
            Err(e) if plan.drives.len() > 1 => {
                progress.say(&drive.name(), format!("failed: {e:#}"));
                problems.push(format!("{}: {e:#}", drive.name()));
            }
            Err(e) => return Err(e),
        }
    }
    let was_interrupted = interrupted.load(Relaxed);
    let run = RunResult {
        schema: SCHEMA.into(),
        started_at,
        git_commit: git_commit(),
        machine: sys::machine(),
        config: RunConfig {
            clients: plan.clients,
            msg_size: plan.msg_size,
            duration_ns: plan.duration.as_nanos() as u64,
            warmup_ns: plan.warmup.as_nanos() as u64,
            timeout_ns: plan.timeout.as_nanos() as u64,
            client_threads: plan.client_threads,
            client_cpus: plan.client_cpus.clone(),
            server_cpus: plan.server_cpus.clone(),
            server_threads: plan.server_threads.into(),
            rate: plan.rate,
            work: plan.work.to_string(),
            work_every: plan.work_every,
        },
        partial: was_interrupted
            || targets.iter().any(|t| t.partial)
            || targets.len() < plan.drives.len(),
        targets,
    };

    if let Some(dir) = &plan.results_dir
        && !run.targets.is_empty()
    {
        let path = output::save(dir, plan.output.as_deref(), &run, &histograms)?;
        eprintln!("results written to {}", path.display());
    }
    if plan.json {
        println!("{}", serde_json::to_string_pretty(&run)?);
    } else {
        print!("{}", output::table(&run));
    }

    if run.targets.iter().any(|t| t.errors.corrupt > 0) {
        eprintln!("loadgen: error: some echoes came back corrupt (see above)");
        return Ok(ExitCode::from(EXIT_CORRUPT));
    }
    if was_interrupted {
        return Ok(ExitCode::from(EXIT_INTERRUPTED));
    }
    if !problems.is_empty() {
        for p in &problems {
            eprintln!("loadgen: error: {p}");
        }
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// `loadgen table FILE...`: prints the results in `files` (or every result file in a directory
/// given) as one table.
pub fn table(files: impl Iterator<Item = std::path::PathBuf>) -> Result<ExitCode> {
    let mut paths = Vec::new();
    for path in files {
        if path.is_dir() {
            let mut inside: Vec<_> = std::fs::read_dir(&path)
                .with_context(|| format!("cannot list {}", path.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|e| e == "json"))
                .collect();
            inside.sort();
            paths.extend(inside);
        } else {
            paths.push(path);
        }
    }
    anyhow::ensure!(
        !paths.is_empty(),
        "usage: loadgen table FILE_OR_DIR... (result files written by loadgen)"
    );
    let runs = paths
        .iter()
        .map(|p| echo_report::read_result(p))
        .collect::<Result<Vec<_>, _>>()?;
    print!("{}", output::results_table(&runs));
    Ok(ExitCode::SUCCESS)
}

/// The commit of this source tree, `-dirty` if it has changes, if git can tell.
fn git_commit() -> Option<String> {
    let dir = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let commit = git(&["rev-parse", "HEAD"])?;
    let dirty =
        git(&["status", "--porcelain", "--untracked-files=no"]).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}
