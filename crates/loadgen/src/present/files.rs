//! Result files: where a run's go (checked writable before the run starts), writing them after
//! every target, and finding earlier ones for `loadgen table`.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use echo_common::units::format_bytes;
use echo_report::{FindError, RunResult, find_result_files, read_result, write_atomic, write_hgrm};

use crate::plan::{Plan, PlanError};
use crate::run::measured::Hgrm;
use crate::warnings::Warning;

/// `.hgrm` values are in microseconds: the unit HdrHistogram's plotter expects by default.
const HGRM_UNIT_NS: f64 = 1000.0;

/// Where one run's files go: `DIR/STEM.json`, and `DIR/STEM-TARGET[-uncorrected].hgrm` per
/// target. Nothing at all with `--no-save`.
pub struct ResultFiles {
    place: Option<(PathBuf, String)>,
}

impl ResultFiles {
    /// Chooses the files of `run` under `plan`, and checks now, before anything starts, that
    /// they can be written there.
    pub fn prepare(plan: &Plan, run: &RunResult) -> Result<Self, PlanError> {
        let place = match (&plan.output, &plan.results_dir) {
            (_, None) => None,
            (Some(output), Some(_)) => Some(place_at(output)?),
            (None, Some(dir)) => {
                let names: Vec<String> = plan.drives.iter().map(|d| d.name()).collect();
                Some((dir.clone(), file_stem(run, &names)))
            }
        };
        if let Some((dir, _)) = &place {
            check_writable(dir)?;
        }
        Ok(ResultFiles { place })
    }

    /// Files at exactly `output` (as `loadgen merge --output` writes), checked writable now.
    pub fn at(output: &Path) -> Result<Self, PlanError> {
        let place = place_at(output)?;
        check_writable(&place.0)?;
        Ok(ResultFiles { place: Some(place) })
    }

    /// The JSON result's path, if the run writes one.
    pub fn json(&self) -> Option<PathBuf> {
        let (dir, stem) = self.place.as_ref()?;
        Some(dir.join(format!("{stem}.json")))
    }

    /// Writes `histograms` (one finished target's), then the run so far: the JSON last, so that
    /// a reader that sees it finds every `.hgrm` file it names. Atomic; a run with no target
    /// yet writes nothing.
    pub fn save(&self, run: &RunResult, histograms: &[Hgrm]) -> Result<()> {
        let (Some((dir, stem)), Some(json)) = (&self.place, self.json()) else {
            return Ok(());
        };
        if run.targets.is_empty() {
            return Ok(());
        }
        for Hgrm {
            suffix,
            histogram: h,
        } in histograms
        {
            let path = dir.join(format!("{stem}-{suffix}.hgrm"));
            write_atomic(&path, |w| write_hgrm(h, HGRM_UNIT_NS, w))
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        write_atomic(&json, |w| {
            serde_json::to_writer_pretty(&mut *w, run)?;
            w.write_all(b"\n")
        })
        .with_context(|| format!("cannot write {}", json.display()))
    }
}

/// The folder and file stem of `output`.
fn place_at(output: &Path) -> Result<(PathBuf, String), PlanError> {
    let dir = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    let stem = output
        .file_stem()
        .ok_or_else(|| PlanError::OutputNotAFile(output.to_owned()))?
        .to_string_lossy()
        .into_owned();
    Ok((dir, stem))
}

/// Creates `dir` if need be and writes (then removes) a file in it.
fn check_writable(dir: &Path) -> Result<(), PlanError> {
    let probe = dir.join(format!(".loadgen-write-check-{}", std::process::id()));
    fs::create_dir_all(dir)
        .and_then(|()| fs::write(&probe, b""))
        .and_then(|()| fs::remove_file(&probe))
        .map_err(|cause| PlanError::NotWritable {
            path: dir.to_owned(),
            cause,
        })
}

/// `20261125T140501Z-tokio-c1000-m64B`: sortable by time, readable by setting, sizes written as
/// every table writes them.
fn file_stem(run: &RunResult, targets: &[String]) -> String {
    let stamp: String = run
        .started_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let targets = if targets.len() > 3 {
        format!("{}-targets", targets.len())
    } else {
        targets
            .iter()
            .map(|t| t.replace([':', '.'], "_"))
            .collect::<Vec<_>>()
            .join("+")
    };
    let mut stem = format!(
        "{stamp}-{targets}-c{}-m{}",
        run.config.clients,
        format_bytes(run.config.msg_size as u64)
    );
    if run.config.work != "none" {
        stem.push('-');
        stem.extend(
            run.config
                .work
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    if let Some(rate) = run.config.rate {
        let _ = write!(stem, "-r{rate:.0}");
    }
    stem
}

/// `loadgen table` was given something it cannot read.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// A path that does not exist.
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    /// Folders with no result file in them.
    #[error("no result files (*.json written by loadgen) in {0}")]
    NoResults(String),
}

/// A result file found for `loadgen table`, with a label that tells it from the others.
pub struct Found {
    /// The result.
    pub run: RunResult,
    /// Its path relative to the folder all the files share, without `.json`.
    pub label: String,
}

/// Reads the result files in `paths`: files as given, folders searched with their subfolders
/// for `*.json`. A file named on the command line must be a result file; one found in a folder
/// that is not is skipped with a warning.
pub fn find_results(paths: &[PathBuf]) -> Result<(Vec<Found>, Vec<Warning>)> {
    let files = find_result_files(paths).map_err(|e| match e {
        FindError::Missing(path) => TableError::Missing(path).into(),
        e => anyhow::Error::new(e),
    })?;
    let base = common_folder(files.iter().map(|f| f.path.as_path()));
    let mut found = Vec::new();
    let mut warnings = Vec::new();
    for echo_report::Found { path, named } in files {
        match read_result(&path) {
            Ok(run) => {
                let label = path
                    .strip_prefix(&base)
                    .unwrap_or(&path)
                    .with_extension("")
                    .to_string_lossy()
                    .into_owned();
                found.push(Found { run, label });
            }
            // The error's text says it all; its source would repeat it.
            Err(e) if named => return Err(anyhow!("{e}")),
            Err(e) => warnings.push(Warning::NotAResult {
                path,
                reason: e.to_string(),
            }),
        }
    }
    if found.is_empty() {
        let given: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(TableError::NoResults(given.join(", ")).into());
    }
    Ok((found, warnings))
}

/// The deepest folder that holds all of `files`.
fn common_folder<'a>(files: impl Iterator<Item = &'a Path>) -> PathBuf {
    let mut common: Option<PathBuf> = None;
    for file in files {
        let parent = file.parent().unwrap_or(Path::new(""));
        common = Some(match common {
            None => parent.to_owned(),
            Some(c) => c
                .components()
                .zip(parent.components())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect(),
        });
    }
    common.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_paths_below_the_shared_folder() {
        let files = [
            Path::new("results/pitfall/wait/none.json"),
            Path::new("results/pitfall/io/none.json"),
            Path::new("results/pitfall/blocking.json"),
        ];
        assert_eq!(
            common_folder(files.iter().copied()),
            Path::new("results/pitfall")
        );
        assert_eq!(
            common_folder([Path::new("a.json")].into_iter()),
            Path::new("")
        );
    }
}
