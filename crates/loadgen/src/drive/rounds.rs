//! The drive loop: every target of the plan in turn, under identical settings, in rounds (A B C,
//! A B C) when `--repeat` asks for several runs of each ([`super::repeat`]). Each finished run is
//! handed on at once (the result file is rewritten after every run, as hyperfine does), so a
//! failure in the fifth target keeps the first four.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use anyhow::{Context, Result};
use echo_report::{RunConfig, RunResult, SCHEMA};

use crate::drive::{repeat, search};
use crate::engine::churn::ConnectionMode;
use crate::exit::Exit;
use crate::plan::Plan;
use crate::run::measured::Hgrm;
use crate::run::progress::Progress;
use crate::run::{self, sys};

/// What a whole run came to.
pub struct Finished {
    /// The result, as written to the result file.
    pub run: RunResult,
    /// What went wrong, one line per target it went wrong for.
    pub problems: Vec<String>,
    /// True if Ctrl-C (or SIGTERM) stopped it.
    pub interrupted: bool,
}

impl Finished {
    /// Says on stderr what went wrong, and returns the exit status it makes.
    pub fn conclude(&self) -> Exit {
        for p in &self.problems {
            eprintln!("Error: {p}");
        }
        let runs = || self.run.targets.iter().flat_map(|t| t.runs());
        if runs().any(|r| r.errors.corrupt > 0) {
            eprintln!("Error: some echoes came back corrupt (see above)");
            Exit::Corrupt
        } else if self.interrupted {
            Exit::Interrupted
        } else if !self.problems.is_empty() {
            Exit::Failed
        } else {
            Exit::Success
        }
    }
}

/// The run's result before any target has run: settings, machine and start time. It stays
/// marked partial until the last target is in.
pub fn new_run(plan: &Plan) -> RunResult {
    RunResult {
        schema: SCHEMA.into(),
        started_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
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
            rate_ramp: plan.ramp.map(|r| r.to_string()),
            connection_mode: (plan.connection_mode != ConnectionMode::Persistent)
                .then(|| plan.connection_mode.to_string()),
            repeat: plan.repeat,
            bind: plan.sources.iter().map(|a| a.to_string()).collect(),
            start_at: plan
                .start_at
                .map(|t| humantime::format_rfc3339(t).to_string()),
        },
        targets: Vec::new(),
        partial: true,
        clock: Some(crate::run::wallclock::facts()),
        hosts: Vec::new(),
    }
}

/// Drives every target of `plan` into `run`. `done` gets the run so far after each target
/// (still marked partial) with that target's histograms, and the final run once more at the end.
pub fn drive(
    plan: &Plan,
    mut run: RunResult,
    mut done: impl FnMut(&RunResult, &[Hgrm]) -> Result<()>,
) -> Result<Finished> {
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))
            .context("cannot install the Ctrl-C handler")?;
    }
    // The coordinator runs on the client CPUs; servers are placed on theirs as they start.
    sys::pin_current_thread(&plan.client_cpus)?;

    let mut progress = Progress::new();
    let mut problems = Vec::new();
    let targets = plan.drives.len();
    let mut runs = Vec::new();
    for (round, i) in repeat::order(targets, plan.repeat) {
        let drive = &plan.drives[i];
        if interrupted.load(Relaxed) {
            break;
        }
        if plan.repeat > 1 {
            progress.say(
                &drive.name(),
                format!("round {} of {}", round + 1, plan.repeat),
            );
        }
        let outcome = match plan.capacity {
            Some(slo) => search::search(plan, slo, drive, &interrupted, &mut progress),
            None => run::run(plan, drive, &interrupted, &mut progress),
        };
        let outcome = match outcome {
            Ok(outcome) => outcome,
            // A runtime that cannot run here (io_uring disabled, say) is not a failure of the run.
            Err(e) if e.is::<crate::run::server::Unavailable>() => {
                progress.say(&drive.name(), e.to_string());
                continue;
            }
            Err(e) if targets * plan.repeat > 1 => {
                progress.say(&drive.name(), format!("failed: {e:#}"));
                problems.push(format!("{}: {e:#}", drive.name()));
                continue;
            }
            Err(e) => return Err(e),
        };
        let target = outcome.result.target.clone();
        // A stop the user asked for is not a fault of the target; the flag says which it was.
        let stopped_by_user = interrupted.load(Relaxed);
        if let Some(p) = &outcome.problem {
            progress.say(&target, format!("stopped early: {p}"));
            if !stopped_by_user {
                problems.push(format!("{target}: {p}"));
            }
        }
        let mut stem = target.replace([':', '.'], "_");
        if plan.repeat > 1 {
            stem.push_str(&format!("-run{}", round + 1));
        }
        let histograms: Vec<_> = outcome
            .histograms
            .into_iter()
            .map(|h| Hgrm::new(format!("{stem}{}", h.suffix), h.histogram))
            .collect();
        runs.push((i, outcome.result));
        run.targets = repeat::gather(targets, runs.clone());
        done(&run, &histograms)?;
    }
    let interrupted = interrupted.load(Relaxed);
    run.partial =
        interrupted || run.targets.iter().any(|t| t.partial) || runs.len() < targets * plan.repeat;
    done(&run, &[])?;
    Ok(Finished {
        run,
        problems,
        interrupted,
    })
}

/// The commit of this source tree, `-dirty` if it has changes, if git can tell.
fn git_commit() -> Option<String> {
    commit_of(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The commit of the git work tree holding `dir`, `-dirty` if its code has changes. Result files
/// and Markdown are not code: a sweep writes the one into the tree as it goes, and a README is
/// edited around runs, and neither changes what the next run measures.
fn commit_of(dir: &std::path::Path) -> Option<String> {
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
    let changes = [
        "status",
        "--porcelain",
        "--untracked-files=no",
        "--",
        ":(top)",
        ":(top,exclude)results",
        ":(top,exclude,glob)**/*.md",
    ];
    let dirty = git(&changes).is_some_and(|s| !s.is_empty());
    Some(if dirty {
        format!("{commit}-dirty")
    } else {
        commit
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn only_changed_code_makes_a_tree_dirty() {
        let dir = std::env::temp_dir().join(format!("echo-bench-commit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("results")).unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .arg("-C")
                .arg(&dir)
                .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
                .args(args)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "git {args:?}");
        };
        let write = |path: &str, text: &str| std::fs::write(dir.join(path), text).unwrap();
        git(&["init", "-q"]);
        for path in ["main.rs", "README.md", "results/a.json"] {
            write(path, "one");
        }
        git(&["add", "."]);
        git(&["commit", "-q", "-m", "start"]);
        let clean = commit_of(&dir).expect("a commit");
        assert!(!clean.ends_with("-dirty"), "{clean}");
        write("results/a.json", "two");
        write("README.md", "two");
        assert_eq!(commit_of(&dir), Some(clean.clone()), "results and docs");
        write("main.rs", "two");
        assert_eq!(commit_of(&dir), Some(format!("{clean}-dirty")), "code");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
