//! Finding result files: paths as a user gives them (files, or folders searched with their
//! subfolders) turned into the `*.json` files to read. Written once for `loadgen table` and the
//! charts, which then read what is found by their own rules.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// A file to read, and whether the user named it (a named file must be a result file; one found
/// in a folder may be some other JSON, to be skipped).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    /// The file.
    pub path: PathBuf,
    /// Given by name rather than found in a folder.
    pub named: bool,
}

/// Why the paths given could not be searched.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// A path given does not exist.
    #[error("{0}: no such file or folder")]
    Missing(PathBuf),
    /// A folder could not be listed.
    #[error("cannot list {path}: {cause}")]
    List {
        /// The folder.
        path: PathBuf,
        /// What failed.
        cause: std::io::Error,
    },
}

/// The files `paths` name: each file as given, and every `*.json` under each folder (sorted
/// within it; hidden files and folders, such as a write in progress, left out). A file reached
/// twice (given twice, or named and also inside a folder given) is kept once, where first met.
pub fn find_result_files(paths: &[PathBuf]) -> Result<Vec<Found>, FindError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut inside = Vec::new();
            find_json(path, &mut inside)?;
            inside.sort();
            files.extend(inside.into_iter().map(|path| Found { path, named: false }));
        } else if path.exists() {
            files.push(Found {
                path: path.clone(),
                named: true,
            });
        } else {
            return Err(FindError::Missing(path.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    files.retain(|f| seen.insert(fs::canonicalize(&f.path).unwrap_or_else(|_| f.path.clone())));
    Ok(files)
}

fn find_json(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), FindError> {
    let list = |cause| FindError::List {
        path: dir.to_owned(),
        cause,
    };
    for entry in fs::read_dir(dir).map_err(list)? {
        let path = entry.map_err(list)?.path();
        // Hidden entries are editors' and write_atomic's temporaries, or version control.
        if path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'))
        {
            continue;
        }
        if path.is_dir() {
            find_json(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_searched_hidden_entries_skipped_and_each_file_kept_once() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        fs::create_dir_all(d.join("sub")).unwrap();
        fs::create_dir_all(d.join(".hidden")).unwrap();
        for f in [
            "b.json",
            "a.json",
            "sub/c.json",
            ".tmp.json",
            ".hidden/d.json",
            "e.txt",
        ] {
            fs::write(d.join(f), "{}").unwrap();
        }
        let found = find_result_files(&[d.join("b.json"), d.to_owned()]).unwrap();
        let shown: Vec<(String, bool)> = found
            .iter()
            .map(|f| {
                let rel = f.path.strip_prefix(d).unwrap();
                (rel.display().to_string(), f.named)
            })
            .collect();
        assert_eq!(
            shown,
            [
                ("b.json".to_owned(), true),
                ("a.json".to_owned(), false),
                ("sub/c.json".to_owned(), false),
            ]
        );
        assert!(matches!(
            find_result_files(&[d.join("nowhere")]),
            Err(FindError::Missing(_))
        ));
    }
}
