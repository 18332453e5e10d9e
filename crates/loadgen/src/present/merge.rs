//! `loadgen merge FILE...`: the result files of one run made on several load hosts at once, as
//! one result, printed as a row per host and the total. The merging itself is
//! [`echo_report::merge`]; this reads the files, writes the merged one and prints.

use std::path::Path;

use anyhow::Result;
use echo_report::{HostRun, RunResult, TargetResult, read_result};

use crate::cli::Format;
use crate::cli::MergeArgs;
use crate::exit::Exit;
use crate::present::files::ResultFiles;
use crate::present::output::{self, Source};
use crate::run::measured::Hgrm;

/// Runs `loadgen merge`.
pub fn merge(args: MergeArgs) -> Result<Exit> {
    // Checked before any work, as a load run checks its own.
    let files = args.output.as_deref().map(ResultFiles::at).transpose()?;
    let hosts = args
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
        eprintln!("Warning: {w}");
    }
    if let Some(files) = &files {
        let histograms: Vec<_> = merged
            .result
            .targets
            .iter()
            .zip(&merged.histograms)
            .map(|(t, h)| Hgrm::new(t.target.replace([':', '.'], "_"), h.clone()))
            .collect();
        files.save(&merged.result, &histograms)?;
        if let Some(path) = files.json() {
            eprintln!("merged result written to {}", path.display());
        }
    }
    // JSON is the merged result itself; the tables show each host's row above the total.
    let shown = match args.format {
        Format::Json => merged.result,
        Format::Table | Format::Markdown => by_host(&merged.result),
    };
    let source = Source {
        run: &shown,
        label: None,
    };
    output::print(&[source], args.format)?;
    Ok(Exit::Success)
}

/// The merged result laid out for a table: each target's host rows, then its total.
fn by_host(merged: &RunResult) -> RunResult {
    let mut shown = merged.clone();
    shown.targets = Vec::new();
    let n = merged.hosts.len();
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
