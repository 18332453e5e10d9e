//! Reading result files into points: one [`Point`] per target of each result file, with its
//! latency histogram decoded once.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use echo_proto::units::format_bytes;
use echo_report::{
    FindError, Found, ReadError, RunResult, SCHEMA, TargetResult, decode_histogram,
    find_result_files, read_result,
};
use hdrhistogram::Histogram;

use crate::scenario::Scenario;

/// One target's result in one result file: a point on a chart.
#[derive(Debug, Clone)]
pub struct Point {
    /// The result file it came from.
    pub source: PathBuf,
    run: Arc<RunResult>,
    index: usize,
    /// The round-trip latency histogram, decoded.
    pub histogram: Histogram<u64>,
}

impl Point {
    /// The run (result file) this point belongs to.
    pub fn run(&self) -> &RunResult {
        &self.run
    }

    /// The target's figures.
    pub fn target(&self) -> &TargetResult {
        &self.run.targets[self.index]
    }

    /// The target's name.
    pub fn name(&self) -> &str {
        &self.target().target
    }

    /// Clients asked for.
    pub fn clients(&self) -> usize {
        self.target().clients
    }

    /// Whether some of its clients never got a reply in the window (the table's `starved`
    /// column): its latency figures then leave those clients out, so charts show it as failed.
    pub fn starved(&self) -> bool {
        self.target().starved_clients.is_some_and(|n| n > 0)
    }

    /// Whether the load generator's CPUs were saturated (the table's `†`): its figures may
    /// measure the client rather than the server.
    pub fn saturated(&self) -> bool {
        self.target().client.saturated
    }

    /// The settings this point shares with the others it can be compared with.
    pub fn scenario(&self) -> Scenario {
        Scenario::of(&self.run.config)
    }
}

/// Which results to keep. Empty fields keep everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only this message size, in bytes.
    pub msg_size: Option<usize>,
    /// Only this `--work` (as written in the result file, e.g. `none`, `block:10.00ms`).
    pub work: Option<String>,
    /// Only these targets.
    pub targets: Vec<String>,
}

/// The points read, and notes on what was skipped.
#[derive(Debug, Default)]
pub struct Loaded {
    /// Every kept point, in file order and then target order.
    pub points: Vec<Point>,
    /// Files skipped, with why (for the user: print them).
    pub notes: Vec<String>,
}

impl Loaded {
    /// The distinct target names, in the order they first appear.
    pub fn target_names(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for p in &self.points {
            if !names.contains(&p.name()) {
                names.push(p.name());
            }
        }
        names
    }
}

/// Why results could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A path given does not exist.
    #[error(
        "{0} does not exist: pass a results directory or result files (scripts/sweep.sh writes them to results/)"
    )]
    Missing(PathBuf),
    /// A directory could not be listed.
    #[error("cannot list {path}: {source}")]
    List {
        /// The directory.
        path: PathBuf,
        /// What failed.
        source: std::io::Error,
    },
    /// A result file is broken.
    #[error("{0}; fix or remove that file to chart the others")]
    Broken(ReadError),
    /// A result file's histogram does not decode.
    #[error(
        "{path}: target '{target}' has a histogram that does not decode ({reason}); fix or remove that file to chart the others"
    )]
    Histogram {
        /// The file.
        path: PathBuf,
        /// The target whose histogram is broken.
        target: String,
        /// What is wrong.
        reason: String,
    },
    /// No result file was found at all.
    #[error("no echo-bench result files (*.json with \"schema\": \"{SCHEMA}\") in {0}")]
    Empty(String),
    /// Result files were found, but the filter kept none of their points.
    #[error("no results match {filter} (the results hold {found})")]
    NoMatch {
        /// The filter, as flags.
        filter: String,
        /// What the results do hold.
        found: String,
    },
}

/// Reads every result file in `paths` (each a result file, or a directory searched recursively
/// for `*.json`) and keeps the points `filter` lets through.
///
/// In a directory, JSON files that are not result files (no `schema`, or another program's
/// schema) are skipped with a note; a file given by name must be a result file. A broken result
/// file is an error, not a skip: a chart silently missing a point would mislead.
pub fn load(paths: &[PathBuf], filter: &Filter) -> Result<Loaded, LoadError> {
    let mut loaded = Loaded::default();
    let files = find_result_files(paths).map_err(|e| match e {
        FindError::Missing(path) => LoadError::Missing(path),
        FindError::List { path, cause } => LoadError::List {
            path,
            source: cause,
        },
    })?;
    let mut runs = Vec::new();
    for Found { path: file, named } in files {
        if !named && let Some(why) = not_a_result(&file) {
            loaded
                .notes
                .push(format!("skipped {}: {why}", file.display()));
            continue;
        }
        let run = read_result(&file).map_err(LoadError::Broken)?;
        runs.push((file, Arc::new(run)));
    }
    if runs.is_empty() {
        let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(LoadError::Empty(listed.join(", ")));
    }

    let all = runs.len();
    for (file, run) in &runs {
        for (index, t) in run.targets.iter().enumerate() {
            if !keeps(filter, run, t) {
                continue;
            }
            let histogram =
                decode_histogram(&t.histogram).map_err(|reason| LoadError::Histogram {
                    path: file.clone(),
                    target: t.target.clone(),
                    reason,
                })?;
            loaded.points.push(Point {
                source: file.clone(),
                run: Arc::clone(run),
                index,
                histogram,
            });
        }
    }
    if loaded.points.is_empty() {
        return Err(LoadError::NoMatch {
            filter: describe(filter),
            found: holdings(runs.iter().map(|(_, r)| r.as_ref()), all),
        });
    }
    Ok(loaded)
}

/// The schema prefix every version of the result layout shares.
fn schema_family() -> &'static str {
    SCHEMA.rsplit_once('/').map_or(SCHEMA, |(family, _)| family)
}

/// Why `file`, found in a directory, is some other JSON rather than a result file (`None` if it
/// looks like a result file, or cannot be read: then reading it reports the problem).
fn not_a_result(file: &Path) -> Option<String> {
    let text = fs::read_to_string(file).ok()?;
    let value: serde_json::Value = serde_json::from_str(&text).ok()?;
    match value.get("schema").and_then(|s| s.as_str()) {
        None => Some("not a result file (no \"schema\" field)".into()),
        Some(s) if !s.starts_with(&format!("{}/", schema_family())) => {
            Some(format!("not a result file (schema '{s}')"))
        }
        Some(_) => None,
    }
}

fn keeps(filter: &Filter, run: &RunResult, t: &TargetResult) -> bool {
    filter.msg_size.is_none_or(|m| m == run.config.msg_size)
        && filter.work.as_ref().is_none_or(|w| *w == run.config.work)
        && (filter.targets.is_empty() || filter.targets.contains(&t.target))
}

fn describe(filter: &Filter) -> String {
    let mut flags = Vec::new();
    if let Some(m) = filter.msg_size {
        flags.push(format!("--msg-size {}", format_bytes(m as u64)));
    }
    if let Some(w) = &filter.work {
        flags.push(format!("--work {w}"));
    }
    for t in &filter.targets {
        flags.push(format!("--target {t}"));
    }
    flags.join(" ")
}

fn holdings<'a>(runs: impl Iterator<Item = &'a RunResult>, files: usize) -> String {
    let (mut sizes, mut works, mut targets) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    for r in runs {
        sizes.insert(r.config.msg_size);
        works.insert(r.config.work.clone());
        targets.extend(r.targets.iter().map(|t| t.target.clone()));
    }
    let join = |v: Vec<String>| v.join(", ");
    format!(
        "{files} files; message sizes {}; work {}; targets {}",
        join(sizes.into_iter().map(|s| format_bytes(s as u64)).collect()),
        join(works.into_iter().collect()),
        join(targets.into_iter().collect()),
    )
}
