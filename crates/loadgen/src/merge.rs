//! `loadgen merge FILE...`: the result files of one run made on several load hosts at once, as
//! one result: a row per host and the total. The merging itself is `echo_report::merge`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Parser;
use echo_report::{HostRun, RunResult, TargetResult, read_result};

use crate::output;

/// Merge the result files of one run made on several load hosts at once (each started with the
/// same --start-at): latency histograms added, counts summed, the rate over the stretch of time
/// every host was measuring.
#[derive(Parser, Debug)]
#[command(name = "loadgen merge")]
pub struct MergeCli {
    /// Result files, one per host (written by `loadgen --output FILE` or into --results-dir).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,

    /// Write the merged result here (and its .hgrm beside it).
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Print the merged result as JSON on stdout (and nothing else there).
    #[arg(long)]
    pub json: bool,
}

/// Runs `loadgen merge` with `args` (the words after `merge`).
pub fn merge(args: impl Iterator<Item = std::ffi::OsString>) -> Result<ExitCode> {
    let cli = MergeCli::parse_from(std::iter::once("loadgen merge".into()).chain(args));
    let hosts = cli
        .files
        .iter()
        .map(|path| {
            Ok(HostRun {
                file: path.display().to_string(),
                result: read_result(path)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let merged = echo_report::merge(hosts)?;
    for w in &merged.warnings {
        eprintln!("loadgen merge: warning: {w}");
    }
    if let Some(path) = &cli.output {
        let histograms: Vec<_> = merged
            .result
            .targets
            .iter()
            .zip(&merged.histograms)
            .map(|(t, h)| (t.target.replace([':', '.'], "_"), h.clone()))
            .collect();
        let written = output::save(Path::new("."), Some(path), &merged.result, &histograms)
            .with_context(|| format!("cannot write the merged result to {}", path.display()))?;
        eprintln!("merged result written to {}", written.display());
    }
    if cli.json {
        println!("{}", serde_json::to_string_pretty(&merged.result)?);
    } else {
        print!("{}", output::table(&by_host(&merged.result)));
    }
    Ok(ExitCode::SUCCESS)
}

/// The merged result laid out for the table: each target's host rows, then its total.
fn by_host(merged: &RunResult) -> RunResult {
    let mut shown = merged.clone();
    shown.targets = Vec::new();
    for (i, total) in merged.targets.iter().enumerate() {
        for host in &merged.hosts {
            let stem = Path::new(&host.file)
                .file_stem()
                .map_or(host.file.clone(), |s| s.to_string_lossy().into_owned());
            shown.targets.push(TargetResult {
                target: format!("{} @ {stem}", host.result.targets[i].target),
                // The server served every host: its cost per message is the total's alone.
                server: None,
                ..host.result.targets[i].clone()
            });
        }
        let n = merged.hosts.len();
        shown.targets.push(TargetResult {
            target: format!(
                "{} total of {n} host{}",
                total.target,
                if n == 1 { "" } else { "s" }
            ),
            ..total.clone()
        });
    }
    shown
}
