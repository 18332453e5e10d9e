//! What is allowed but probably not meant, or makes figures suspect: said once, in words.

use std::fmt;
use std::path::PathBuf;

/// A warning for the user. Each is said once, however many targets it concerns.
#[derive(Debug, Clone, PartialEq)]
pub enum Warning {
    /// Server and load generator were given the same CPUs.
    SharedCpus(Vec<usize>),
    /// The load generator's CPUs were saturated while measuring these targets.
    ClientSaturated(Vec<String>),
    /// A file found in a folder given to `loadgen table` is not a result file.
    NotAResult {
        /// The file.
        path: PathBuf,
        /// Why it was skipped.
        reason: String,
    },
    /// `loadgen table` found the committed reference results inside a folder it was given,
    /// and left them out: they are another machine's, and were not asked for by name.
    ReferencesLeftOut {
        /// The reference folder.
        folder: PathBuf,
        /// How many result files it holds.
        files: usize,
    },
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::SharedCpus(cpus) => write!(
                f,
                "--server-cpus and --client-cpus share CPU {}: server and load generator take \
                 turns there, so the figures measure both; give them separate CPUs (the default)",
                list(cpus.iter())
            ),
            Warning::ClientSaturated(targets) => write!(
                f,
                "the load generator was the limit while measuring {}: its CPUs were over 90% busy \
                 and the server's were not, so those rates are the client's (give loadgen more \
                 --client-cpus; scripts/client-overhead.sh compares it with a minimal client)",
                list(targets.iter())
            ),
            Warning::NotAResult { path, reason } => {
                write!(f, "skipped {}: {reason}", path.display())
            }
            Warning::ReferencesLeftOut { folder, files } => write!(
                f,
                "left out the {files} reference results in {} (another machine's); name that \
                 folder to include them",
                folder.display()
            ),
        }
    }
}

/// `a`, `a and b`, `a, b and c`.
fn list<T: fmt::Display>(items: impl ExactSizeIterator<Item = T>) -> String {
    let n = items.len();
    let mut out = String::new();
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(if i + 1 == n { " and " } else { ", " });
        }
        out.push_str(&item.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_names_every_target_it_concerns() {
        let w = Warning::ClientSaturated(vec!["tokio".into(), "smol".into(), "threads".into()]);
        assert!(
            w.to_string().contains("measuring tokio, smol and threads:"),
            "{w}"
        );
        assert!(
            Warning::SharedCpus(vec![0])
                .to_string()
                .contains("share CPU 0:")
        );
    }
}
