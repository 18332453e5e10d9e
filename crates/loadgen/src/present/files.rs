//! Result files: where a run's go (checked writable before the run starts), writing them after
//! every target, and finding earlier ones for `loadgen table`.

use std::cell::Cell;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
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
    /// The hidden file that holds a chosen name against another run choosing it too; removed
    /// when the run's files are done with.
    reservation: Option<PathBuf>,
    /// The JSON file was there before this run: a run that measures nothing leaves it alone.
    existed: bool,
    /// Set once this run has written its JSON file.
    written: Cell<bool>,
}

impl ResultFiles {
    /// Chooses the files of `run` under `plan`, and checks now, before anything starts, that
    /// they can be written there. A name loadgen makes up is one no other result has, so two
    /// runs started in the same second keep both; a name given with `--output` is used as
    /// given (a sweep's fixed names are how it resumes).
    pub fn prepare(plan: &Plan, run: &RunResult) -> Result<Self, PlanError> {
        match (&plan.output, &plan.results_dir) {
            (_, None) => Ok(ResultFiles::new(None, None)),
            (Some(output), Some(_)) => ResultFiles::at(output),
            (None, Some(dir)) => {
                check_writable(dir)?;
                let names: Vec<String> = plan.drives.iter().map(|d| d.name()).collect();
                let (stem, reservation) = reserve(dir, &file_stem(run, &names))?;
                Ok(ResultFiles::new(
                    Some((dir.clone(), stem)),
                    Some(reservation),
                ))
            }
        }
    }

    /// Files at exactly `output` (as `loadgen merge --output` writes), checked writable now.
    pub fn at(output: &Path) -> Result<Self, PlanError> {
        let place = place_at(output)?;
        check_writable(&place.0)?;
        Ok(ResultFiles::new(Some(place), None))
    }

    fn new(place: Option<(PathBuf, String)>, reservation: Option<PathBuf>) -> Self {
        let mut files = ResultFiles {
            place,
            reservation,
            existed: false,
            written: Cell::new(false),
        };
        files.existed = files.json().is_some_and(|j| j.exists());
        files
    }

    /// The JSON result's path, if the run writes one.
    pub fn json(&self) -> Option<PathBuf> {
        let (dir, stem) = self.place.as_ref()?;
        Some(dir.join(format!("{stem}.json")))
    }

    /// The JSON result's path, if this run has written it.
    pub fn written(&self) -> Option<PathBuf> {
        self.json().filter(|_| self.written.get())
    }

    /// The result that was at the JSON path before this run and is still there, untouched,
    /// because this run measured nothing to replace it with.
    pub fn kept(&self) -> Option<PathBuf> {
        self.json().filter(|_| self.existed && !self.written.get())
    }

    /// Writes `histograms` (one finished target's), then the run so far: the JSON last, so that
    /// a reader that sees it finds every `.hgrm` file it names. Atomic; a run with no target
    /// yet writes nothing.
    pub fn save(&self, run: &RunResult, histograms: &[Hgrm]) -> Result<()> {
        let (Some((dir, stem)), Some(json)) = (&self.place, self.json()) else {
            return Ok(());
        };
        // A run that measured nothing never replaces a result that measured something.
        let measured = || {
            run.targets
                .iter()
                .flat_map(|t| t.runs())
                .any(|r| r.messages > 0)
        };
        if run.targets.is_empty() || (self.existed && !self.written.get() && !measured()) {
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
        .with_context(|| format!("cannot write {}", json.display()))?;
        self.written.set(true);
        Ok(())
    }
}

impl Drop for ResultFiles {
    fn drop(&mut self) {
        if let Some(r) = &self.reservation {
            let _ = fs::remove_file(r);
        }
    }
}

/// The first of `stem`, `stem-2`, `stem-3`... that no result in `dir` has and no other run has
/// reserved, and the hidden file that now reserves it. Creating that file is the one step two
/// runs cannot both win (`create_new`), so runs started in the same second never share a name.
fn reserve(dir: &Path, stem: &str) -> Result<(String, PathBuf), PlanError> {
    let mut n = 1;
    loop {
        let candidate = match n {
            1 => stem.to_owned(),
            n => format!("{stem}-{n}"),
        };
        n += 1;
        if dir.join(format!("{candidate}.json")).exists() {
            continue;
        }
        let reservation = dir.join(format!(".{candidate}.json.reserved"));
        match fs::File::create_new(&reservation) {
            Ok(_) => return Ok((candidate, reservation)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(cause) => {
                return Err(PlanError::NotWritable {
                    path: dir.to_owned(),
                    cause,
                });
            }
        }
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
    no_file_on_the_way(dir)
        .and_then(|()| fs::create_dir_all(dir))
        .and_then(|()| fs::write(&probe, b""))
        .and_then(|()| fs::remove_file(&probe))
        .map_err(|cause| PlanError::NotWritable {
            path: dir.to_owned(),
            cause,
        })
}

/// Fails with "not a directory" if a regular file stands where one of `dir`'s folders should be:
/// `create_dir_all` would say only "File exists", which reads as if the folder were there.
fn no_file_on_the_way(dir: &Path) -> std::io::Result<()> {
    match dir.ancestors().find(|a| a.exists()) {
        Some(a) if !a.is_dir() => Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            format!("{} is a file, not a directory", a.display()),
        )),
        _ => Ok(()),
    }
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
    /// A file named on the command line that is no result file (the reader's own words).
    #[error("{0}")]
    NotAResult(String),
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
    let (files, mut warnings) = leave_out_references(paths, files);
    let base = common_folder(files.iter().map(|f| f.path.as_path()));
    let mut found = Vec::new();
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
            Err(e) if named => return Err(TableError::NotAResult(e.to_string()).into()),
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

/// The folder of committed reference results (`results/reference/`): measured on the project's
/// machine, they mix another machine's figures into a table of one's own, so a folder search
/// leaves them out unless the search starts inside them.
const REFERENCE_FOLDER: &str = "reference";

/// `files` without those found under a [`REFERENCE_FOLDER`] below a folder in `paths`, and a
/// warning for each such folder that held any.
fn leave_out_references(
    paths: &[PathBuf],
    files: Vec<echo_report::Found>,
) -> (Vec<echo_report::Found>, Vec<Warning>) {
    let mut left_out: Vec<(PathBuf, usize)> = Vec::new();
    // The reference folder `file` lies in below folder `p`, if it does.
    let below = |p: &PathBuf, file: &Path| {
        let mut folder = p.clone();
        for c in file.strip_prefix(p).ok()?.parent()?.components() {
            folder.push(c);
            if c.as_os_str() == REFERENCE_FOLDER {
                return Some(folder);
            }
        }
        None
    };
    // Left out only if every folder given that holds `file` holds it under a reference folder
    // (`loadgen table results/ results/reference/sweep` wants those).
    let reference_of = |file: &Path| {
        let holders: Vec<&PathBuf> = paths
            .iter()
            .filter(|p| p.is_dir() && file.starts_with(p))
            .collect();
        let folders: Vec<PathBuf> = holders.iter().filter_map(|p| below(p, file)).collect();
        (folders.len() == holders.len())
            .then(|| folders.into_iter().next())
            .flatten()
    };
    let kept = files
        .into_iter()
        .filter(|f| {
            let Some(folder) = reference_of(&f.path).filter(|_| !f.named) else {
                return true;
            };
            match left_out.iter_mut().find(|(d, _)| *d == folder) {
                Some((_, n)) => *n += 1,
                None => left_out.push((folder, 1)),
            }
            false
        })
        .collect();
    let warnings = left_out
        .into_iter()
        .map(|(folder, files)| Warning::ReferencesLeftOut { folder, files })
        .collect();
    (kept, warnings)
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
