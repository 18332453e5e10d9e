//! Reading and writing result files so that a reader never sees half a file.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use crate::{READABLE, RunResult, SCHEMA};

/// Writes `path` atomically: the bytes go to a temporary file beside it, which is synced and then
/// renamed over `path`. A crash or Ctrl-C leaves either the old file or the new one, never a torn
/// one. Creates the parent directory if needed.
pub fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no file name"))?;
    let tmp: PathBuf = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut file = io::BufWriter::new(File::create(&tmp)?);
        write(&mut file)?;
        let file = file.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Why a result file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
    /// The file is not a result file of a layout this version knows.
    #[error("{path} is not an echo-bench result file ({reason})")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Reads and checks one result file.
pub fn read_result(path: &Path) -> Result<RunResult, ReadError> {
    let text = fs::read_to_string(path).map_err(|source| ReadError::Io {
        path: path.to_owned(),
        source,
    })?;
    let invalid = |reason: String| ReadError::Invalid {
        path: path.to_owned(),
        reason,
    };
    let value: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not JSON: {e}")))?;
    match value.get("schema").and_then(|s| s.as_str()) {
        Some(known) if READABLE.contains(&known) => {}
        Some(other) => {
            return Err(invalid(format!(
                "schema '{other}', expected '{SCHEMA}' (or an older one: {})",
                READABLE[1..].join(", ")
            )));
        }
        None => return Err(invalid("no 'schema' field".into())),
    }
    let run: RunResult = serde_json::from_value(value).map_err(|e| invalid(e.to_string()))?;
    match missing_window_figure(&run) {
        Some(why) => Err(invalid(why)),
        None => Ok(run),
    }
}

/// Which target of `run` (or of its repetitions, or of a merged host's result) measured a
/// window but lacks a figure every window has, if one does. Those figures may be absent only
/// where no window opened; without this check, a file whose `msgs_per_sec` was renamed or lost
/// would read as a run cut before its window instead of being refused.
fn missing_window_figure(run: &RunResult) -> Option<String> {
    let mut every = run
        .targets
        .iter()
        .flat_map(|t| std::iter::once(t).chain(t.repeats.iter().flat_map(|r| &r.runs)));
    let own = every.find_map(|t| {
        let figures = [
            ("msgs_per_sec", t.msgs_per_sec.is_some()),
            ("mb_per_sec", t.mb_per_sec.is_some()),
            ("starved_clients", t.starved_clients.is_some()),
        ];
        let (missing, _) = figures
            .into_iter()
            .find(|&(_, present)| !present)
            .filter(|_| t.window_ns > 0)?;
        Some(format!(
            "target {} measured a window of {} ns but has no '{missing}'",
            t.target, t.window_ns
        ))
    });
    own.or_else(|| {
        run.hosts
            .iter()
            .find_map(|h| missing_window_figure(&h.result))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/result.json");
        write_atomic(&path, |w| w.write_all(b"old")).unwrap();
        let err = write_atomic(&path, |w| {
            w.write_all(b"half")?;
            Err(io::Error::other("interrupted"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        let leftovers: Vec<_> = fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_committed_v1_file_reads_as_one_run_per_target() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../results/reference/runs/20261125T143739Z-6-targets-c100-m64.json");
        let run = read_result(&path).unwrap();
        assert_eq!(run.schema, "echo-bench/result/v1");
        assert_eq!(run.config.repeat, 1);
        assert_eq!(run.targets.len(), 6);
        let tokio = run.targets.iter().find(|t| t.target == "tokio").unwrap();
        assert_eq!(tokio.runs(), std::slice::from_ref(tokio));
        assert_eq!((&tokio.noise, &tokio.repeats), (&None, &None));
        assert_eq!(
            crate::Figure::MsgsPerSec.values(tokio),
            [tokio.msgs_per_sec.unwrap()]
        );
    }

    #[test]
    fn reading_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = read_result(&dir.path().join("none.json")).unwrap_err();
        assert!(matches!(missing, ReadError::Io { .. }), "{missing}");
        let path = dir.path().join("bad.json");
        fs::write(&path, "{\"schema\": \"other/v9\"}").unwrap();
        assert!(
            read_result(&path)
                .unwrap_err()
                .to_string()
                .contains("schema 'other/v9'")
        );
        fs::write(&path, "{ not json").unwrap();
        assert!(
            read_result(&path)
                .unwrap_err()
                .to_string()
                .contains("not JSON")
        );
    }
}
