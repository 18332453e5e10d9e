//! Verdicts across repeated runs: a figure with its uncertainty (`101.6k±3.1%`), one target
//! against another figure by figure (`tokio 1.11× smol [1.04–1.19]`), and which targets a table
//! cannot tell apart from the fastest.

use std::fmt::Write as _;
use std::time::Duration;

use echo_common::units::format_duration;
use echo_report::stats::{CONFIDENCE, Spread, Verdict};
use echo_report::{Figure, RunResult, TargetResult};

/// Flags a target whose throughput this run cannot tell from the fastest's.
pub const TIE_MARK: &str = "≈ fastest";

/// `figure` of `t` for a table: the value of a single run as before, or over several runs the
/// median and the larger half-width of its interval (`101.6k±3.1%`). `-` if not measured.
pub fn cell(figure: Figure, t: &TargetResult) -> String {
    let Some(spread) = figure.spread(t) else {
        return "-".into();
    };
    let value = |x: f64| match figure {
        // A search every rate of which broke the promise found no capacity to show.
        Figure::Capacity if x == 0.0 => "none".into(),
        Figure::MsgsPerSec | Figure::Capacity if spread.n > 1 => compact(x),
        Figure::MsgsPerSec | Figure::Capacity => format!("{x:.0}"),
        _ => format_duration(Duration::from_nanos(x.round() as u64)),
    };
    // Capacities that are all lower bounds (see [`lower_bounds`]) say so.
    let at_least = match figure {
        Figure::Capacity if lower_bounds(t) == t.runs().len() => "≥",
        _ => "",
    };
    match spread.plus_minus().filter(|_| spread.n > 1) {
        // No spaces, so that scripts splitting a table row on blanks find every column.
        Some(pm) => format!("{at_least}{}±{:.1}%", value(spread.median), pm * 100.0),
        None => format!("{at_least}{}", value(spread.median)),
    }
}

/// How many of `t`'s capacity searches found only a lower bound: no rate broke the promise, or
/// only the load generator's CPU did.
fn lower_bounds(t: &TargetResult) -> usize {
    t.runs()
        .iter()
        .filter_map(|r| r.capacity.as_ref())
        .filter(|c| c.is_lower_bound())
        .count()
}

/// What `±` means under a table of repeated runs, or `None` if every target ran once.
pub fn interval_note(targets: &[TargetResult]) -> Option<String> {
    let spreads: Vec<Spread> = targets
        .iter()
        .filter_map(|t| Figure::MsgsPerSec.spread(t))
        .filter(|s| s.n > 1)
        .collect();
    let fewest = spreads.iter().min_by_key(|s| s.n)?;
    let mut note = format!(
        "± : the median over {} runs and its {:.0}% confidence interval (exact, from order \
         statistics)",
        fewest.n,
        CONFIDENCE * 100.0
    );
    if fewest.interval.confidence < CONFIDENCE {
        let _ = write!(
            note,
            "; {} runs allow only min…max, a {:.1}% interval",
            fewest.n,
            fewest.interval.confidence * 100.0
        );
    }
    Some(note)
}

/// For each of `targets`, whether it is tied with the fastest: the interval of its msgs/s ratio
/// (of capacity searches, its capacity ratio) to the fastest's (by median) includes 1. The
/// fastest itself and targets run once are never marked: a single run can show no interval.
pub fn ties(targets: &[&TargetResult]) -> Vec<bool> {
    let median = |t: &TargetResult| Figure::headline(t).spread(t).map_or(0.0, |s| s.median);
    let Some(leader) = targets
        .iter()
        .copied()
        .max_by(|a, b| median(a).total_cmp(&median(b)))
    else {
        return vec![];
    };
    targets
        .iter()
        .map(|t| {
            !std::ptr::eq(*t, leader)
                && t.runs().len() > 1
                && leader.runs().len() > 1
                && Figure::headline(t) == Figure::headline(leader)
                && Figure::headline(t)
                    .ratio(t, leader)
                    .is_some_and(|r| r.verdict() == Verdict::Tie)
        })
        .collect()
}

/// `a` against `b`, one line per figure both measured: `  p99   tokio 0.92× smol [0.88–0.97]`,
/// or the same with `: no difference this run can show`. Capacity searches compare their
/// capacities alone. Empty unless both ran more than once.
pub fn verdicts(a: &TargetResult, a_name: &str, b: &TargetResult, b_name: &str) -> Vec<String> {
    if a.runs().len() < 2 || b.runs().len() < 2 {
        return vec![];
    }
    let figures = Figure::compared(a);
    if figures != Figure::compared(b) {
        return vec![];
    }
    let width = figures.iter().map(|f| f.name().len()).max().unwrap_or(0);
    figures
        .iter()
        .filter_map(|&f| {
            let said = match f.ratio(a, b) {
                Some(ratio) if f == Figure::Capacity => {
                    ratio.describe(a_name, b_name) + &bounds_note(a, a_name, b, b_name)
                }
                Some(ratio) => ratio.describe(a_name, b_name),
                // A search in which every rate broke the promise has a capacity of 0, and no
                // ratio: say so rather than leave the pair out.
                None if f == Figure::Capacity => {
                    f.spread(a).zip(f.spread(b))?;
                    format!(
                        "{a_name} {} against {b_name} {}: no ratio, a search that kept no rate \
                         found no capacity",
                        cell(f, a),
                        cell(f, b)
                    )
                }
                None => return None,
            };
            Some(format!("  {:<width$}  {said}", f.name()))
        })
        .collect()
}

/// Under a capacity ratio, which side's searches stopped at a lower bound: a ratio of lower
/// bounds compares what the load generator could drive, not the servers.
fn bounds_note(a: &TargetResult, a_name: &str, b: &TargetResult, b_name: &str) -> String {
    let (la, lb) = (lower_bounds(a), lower_bounds(b));
    let (na, nb) = (a.runs().len(), b.runs().len());
    match (la, lb) {
        (0, 0) => String::new(),
        _ if la == na && lb == nb => {
            " (every search of both found only a lower bound: this compares what loadgen could \
             drive, not the servers)"
                .into()
        }
        _ => {
            format!(" (lower bounds: {la} of {na} searches of {a_name}, {lb} of {nb} of {b_name})")
        }
    }
}

/// Why two sets of results cannot be compared.
#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    /// `--baseline` names no target of the run (every run of it failed, say).
    #[error("--baseline {baseline}: no such target in this run (it has {targets})")]
    NoBaseline {
        /// The name asked for.
        baseline: String,
        /// The run's targets.
        targets: String,
    },
    /// Two files with no target in common, and not one target each.
    #[error(
        "{a} ({a_targets}) and {b} ({b_targets}) have no target in common: compare files that \
         ran the same targets, or one target each"
    )]
    NothingInCommon {
        /// The first file's label.
        a: String,
        /// Its targets.
        a_targets: String,
        /// The second file's label.
        b: String,
        /// Its targets.
        b_targets: String,
    },
    /// Two files measured under a setting that changes what is measured: a ratio of them would
    /// compare the settings, not the servers.
    #[error(
        "{a} and {b} were measured with different {what} ({a_value} against {b_value}): a ratio \
         would compare the settings, not the servers. Compare runs made with the same settings"
    )]
    DifferentSettings {
        /// The first file's label.
        a: String,
        /// The second file's label.
        b: String,
        /// The setting that differs.
        what: &'static str,
        /// Its value in the first file.
        a_value: String,
        /// Its value in the second.
        b_value: String,
    },
}

/// The first setting that changes what is measured and differs between `a` and `b`: its name,
/// and its value in each. The window's length and the machine may differ: they change how
/// precisely a figure is known, not which figure it is.
fn differing_setting(a: &RunResult, b: &RunResult) -> Option<(&'static str, String, String)> {
    let settings = |r: &RunResult| -> [(&'static str, String); 6] {
        let c = &r.config;
        [
            ("clients", c.clients.to_string()),
            ("message sizes", format!("{} bytes", c.msg_size)),
            ("work", format!("{} every {}", c.work, c.work_every)),
            (
                "loops",
                (if c.rate.is_some() { "open" } else { "closed" }).to_owned(),
            ),
            (
                "rates",
                match (&c.rate_ramp, c.rate) {
                    (Some(ramp), _) => format!("ramp {ramp}"),
                    (None, Some(rate)) => format!("{rate:.0} msgs/s"),
                    (None, None) => "none".into(),
                },
            ),
            (
                "connection modes",
                c.connection_mode
                    .clone()
                    .unwrap_or_else(|| "persistent".into()),
            ),
        ]
    };
    settings(a)
        .into_iter()
        .zip(settings(b))
        .find(|((_, x), (_, y))| x != y)
        .map(|((what, x), (_, y))| (what, x, y))
}

/// How many of `t`'s runs had a noisy window.
fn noisy_runs(t: &TargetResult) -> usize {
    t.runs()
        .iter()
        .filter(|r| {
            r.noise
                .as_ref()
                .is_some_and(|n| !crate::run::noise::warnings(n).is_empty())
        })
        .count()
}

/// One run a side shows no interval; the plain ratio of each figure, said to be of single runs,
/// is still what the files hold.
fn single_run_ratios(
    a: &TargetResult,
    a_name: &str,
    b: &TargetResult,
    b_name: &str,
) -> Vec<String> {
    let figures = Figure::compared(a);
    let width = figures.iter().map(|f| f.name().len()).max().unwrap_or(0);
    figures
        .iter()
        .filter_map(|&f| {
            let (x, y) = (f.spread(a)?.median, f.spread(b)?.median);
            (y > 0.0).then(|| {
                format!(
                    "  {:<width$}  {a_name} {:.2}× {b_name} (one run against {}: no interval; \
                     --repeat 5 gives one)",
                    f.name(),
                    x / y,
                    match (a.runs().len(), b.runs().len()) {
                        (1, 1) => "one".to_owned(),
                        (1, n) | (n, 1) => format!("the median of {n}"),
                        _ => unreachable!("verdicts are given when both sides ran twice"),
                    }
                )
            })
        })
        .collect()
}

/// A heading and [`verdicts`] for every target of `run` against `baseline`; empty if the run
/// was not repeated. Errs if no target is called `baseline`.
pub fn against_baseline(run: &RunResult, baseline: &str) -> Result<String, CompareError> {
    let Some(base) = run.targets.iter().find(|t| t.target == baseline) else {
        return Err(CompareError::NoBaseline {
            baseline: baseline.to_owned(),
            targets: names(run),
        });
    };
    let mut out = String::new();
    for t in run.targets.iter().filter(|t| t.target != baseline) {
        let lines = verdicts(t, &t.target, base, baseline);
        if !lines.is_empty() {
            let _ = writeln!(out, "{} against {baseline}:", t.target);
            for line in lines {
                let _ = writeln!(out, "{line}");
            }
        }
    }
    Ok(out)
}

/// `loadgen compare A B`: each target of `a` against the target of the same name in `b`, or,
/// when each file holds one target, those two whatever their names. Names are followed by the
/// file's label when both sides have the same name.
pub fn compare(
    a: &RunResult,
    a_label: &str,
    b: &RunResult,
    b_label: &str,
) -> Result<String, CompareError> {
    if let Some((what, a_value, b_value)) = differing_setting(a, b) {
        return Err(CompareError::DifferentSettings {
            a: a_label.to_owned(),
            b: b_label.to_owned(),
            what,
            a_value,
            b_value,
        });
    }
    let mut pairs: Vec<(&TargetResult, &TargetResult)> = a
        .targets
        .iter()
        .filter_map(|ta| Some((ta, b.targets.iter().find(|tb| tb.target == ta.target)?)))
        .collect();
    if pairs.is_empty() {
        match (&a.targets[..], &b.targets[..]) {
            ([ta], [tb]) => pairs.push((ta, tb)),
            _ => {
                return Err(CompareError::NothingInCommon {
                    a: a_label.to_owned(),
                    a_targets: names(a),
                    b: b_label.to_owned(),
                    b_targets: names(b),
                });
            }
        }
    }
    let mut out = String::new();
    for (ta, tb) in pairs {
        let (na, nb) = if ta.target == tb.target {
            (
                format!("{} ({a_label})", ta.target),
                format!("{} ({b_label})", tb.target),
            )
        } else {
            (ta.target.clone(), tb.target.clone())
        };
        let _ = writeln!(
            out,
            "{na} against {nb}, {} and {} runs:",
            ta.runs().len(),
            tb.runs().len()
        );
        let mut lines = verdicts(ta, &na, tb, &nb);
        if lines.is_empty() {
            lines = single_run_ratios(ta, &na, tb, &nb);
        }
        if lines.is_empty() {
            // No ratio: say why rather than print a heading alone.
            for (t, name) in [(ta, &na), (tb, &nb)] {
                if t.runs().iter().all(|r| r.window_ns == 0) {
                    lines.push(format!(
                        "  {name}: no window measured (cut before it opened): nothing to compare"
                    ));
                }
            }
        }
        // A verdict from noisy windows says so on its own line, where it is read.
        let (qa, qb) = (noisy_runs(ta), noisy_runs(tb));
        let noisy = (qa + qb > 0).then(|| {
            format!(
                " (noisy windows: {qa} of {} runs and {qb} of {})",
                ta.runs().len(),
                tb.runs().len()
            )
        });
        for line in lines {
            let _ = writeln!(out, "{line}{}", noisy.as_deref().unwrap_or(""));
        }
    }
    Ok(out)
}

/// `101.6k`, `1.23M`: throughput with four significant figures, as a repeated median deserves no
/// more.
fn compact(x: f64) -> String {
    match x.abs() {
        v if v < 1e3 => format!("{x:.0}"),
        v if v < 1e6 => format!("{:.1}k", x / 1e3),
        _ => format!("{:.2}M", x / 1e6),
    }
}

fn names(run: &RunResult) -> String {
    let names: Vec<&str> = run.targets.iter().map(|t| t.target.as_str()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real result file's target, its figures replaced.
    fn run(name: &str, msgs_per_sec: f64, p99_us: u64) -> TargetResult {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../results/reference/runs/20261125T143739Z-6-targets-c100-m64.json");
        let mut t = echo_report::read_result(&path).unwrap().targets.remove(0);
        t.target = name.into();
        t.msgs_per_sec = Some(msgs_per_sec);
        t.latency_ns.p99 = p99_us * 1000;
        t
    }

    fn repeated(name: &str, rates: &[f64]) -> TargetResult {
        let runs = rates
            .iter()
            .map(|&r| run(name, r, (1e8 / r) as u64))
            .collect();
        TargetResult::from_runs(runs).unwrap()
    }

    fn result(targets: Vec<TargetResult>) -> RunResult {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../results/reference/runs/20261125T143739Z-6-targets-c100-m64.json");
        let mut r = echo_report::read_result(&path).unwrap();
        r.targets = targets;
        r
    }

    #[test]
    fn cells_show_a_single_run_plainly_and_repeats_with_their_interval() {
        assert_eq!(
            cell(Figure::MsgsPerSec, &run("tokio", 101_569.4, 1860)),
            "101569"
        );
        assert_eq!(cell(Figure::P99, &run("tokio", 1.0, 1860)), "1.86ms");
        let t = repeated(
            "tokio",
            &[100_000.0, 101_600.0, 98_000.0, 103_000.0, 101_000.0],
        );
        // Five runs: min…max; the larger half-width is 101.0k - 98.0k = 3.0%.
        assert_eq!(cell(Figure::MsgsPerSec, &t), "101.0k±3.0%");
        let note = interval_note(std::slice::from_ref(&t)).unwrap();
        assert!(
            note.contains("5 runs allow only min…max, a 93.8% interval"),
            "{note}"
        );
        assert_eq!(interval_note(&[run("tokio", 1.0, 1)]), None);
    }

    #[test]
    fn a_clear_difference_and_a_tie_are_said_plainly() {
        let tokio = repeated("tokio", &[110.0, 111.0, 112.0, 113.0, 114.0]);
        let smol = repeated("smol", &[100.0, 101.0, 102.0, 103.0, 104.0]);
        let lines = verdicts(&tokio, "tokio", &smol, "smol");
        assert!(lines[0].starts_with("  msgs/s") && lines[0].contains("tokio 1.10× smol ["));
        assert!(!lines[0].contains("no difference"), "{lines:?}");
        let async_std = repeated("async-std", &[103.0, 99.0, 101.0, 104.0, 100.0]);
        let lines = verdicts(&async_std, "async-std", &smol, "smol");
        assert!(
            lines[0].ends_with("no difference this run can show"),
            "{lines:?}"
        );
        assert!(verdicts(&run("a", 1.0, 1), "a", &smol, "smol").is_empty());
    }

    #[test]
    fn ties_are_marked_against_the_fastest() {
        let tokio = repeated("tokio", &[110.0, 111.0, 112.0, 113.0, 114.0]);
        let smol = repeated("smol", &[100.0, 101.0, 102.0, 103.0, 104.0]);
        let near = repeated("tokio-current", &[109.0, 115.0, 111.0, 108.0, 113.0]);
        assert_eq!(ties(&[&smol, &tokio, &near]), [false, false, true]);
        let once = run("threads", 112.0, 1);
        assert_eq!(
            ties(&[&tokio, &once]),
            [false, false],
            "one run shows no interval"
        );
    }

    #[test]
    fn compare_pairs_targets_by_name_or_the_only_two() {
        let a = result(vec![repeated(
            "tokio",
            &[110.0, 111.0, 112.0, 113.0, 114.0],
        )]);
        let b = result(vec![repeated(
            "tokio",
            &[100.0, 101.0, 102.0, 103.0, 104.0],
        )]);
        let out = compare(&a, "new.json", &b, "old.json").unwrap();
        assert!(out.starts_with("tokio (new.json) against tokio (old.json), 5 and 5 runs:"));
        assert!(
            out.contains("tokio (new.json) 1.10× tokio (old.json) ["),
            "{out}"
        );
        let c = result(vec![repeated("smol", &[100.0, 101.0, 102.0])]);
        let out = compare(&a, "a.json", &c, "c.json").unwrap();
        assert!(out.contains("tokio 1.11× smol [1.08–1.14]\n"), "{out}");
        let two = result(vec![run("smol", 1.0, 1), run("threads", 1.0, 1)]);
        let err = compare(&a, "a.json", &two, "two.json")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("(smol, threads)") && err.contains("no target in common"),
            "{err}"
        );
        let once = result(vec![run("tokio", 1.0, 1)]);
        let out = compare(&a, "a", &once, "b").unwrap();
        assert!(
            out.contains("(one run against the median of 5: no interval"),
            "the plain ratio, said to be of one run: {out}"
        );
    }

    #[test]
    fn a_run_cut_before_its_window_is_said_to_have_nothing_to_compare() {
        let mut cut = run("tokio", 1.0, 1);
        (cut.window_ns, cut.msgs_per_sec, cut.latency_ns.count) = (0, None, 0);
        cut.server.as_mut().unwrap().cpu_ns_per_msg = None;
        let out = compare(
            &result(vec![cut]),
            "cut.json",
            &result(vec![run("tokio", 100.0, 1)]),
            "whole.json",
        )
        .unwrap();
        assert!(
            out.contains("  tokio (cut.json): no window measured (cut before it opened)"),
            "{out}"
        );
        assert!(!out.contains("×") && !out.contains("whole.json):"), "{out}");
    }

    /// A capacity search's runs: each found `kept` (or, for 0, kept no rate, its last step
    /// answering a million msgs/s late).
    fn searched(name: &str, kept: &[f64]) -> TargetResult {
        let runs = kept
            .iter()
            .map(|&k| {
                let mut t = run(name, if k > 0.0 { k } else { 1e6 }, 1);
                t.capacity = Some(echo_report::testing::capacity_search(
                    (k > 0.0).then_some(k),
                ));
                t
            })
            .collect();
        TargetResult::from_runs(runs).unwrap()
    }

    #[test]
    fn capacity_searches_compare_their_capacities_alone() {
        let tokio = searched("tokio", &[150_000.0, 160_000.0, 155_000.0]);
        let threads = searched("threads", &[10_000.0, 12_000.0, 11_000.0]);
        // The median search stands for the target.
        assert_eq!(tokio.capacity.as_ref().unwrap().kept, Some(155_000.0));
        assert_eq!(cell(Figure::Capacity, &tokio), "155.0k±3.2%");
        let lines = verdicts(&tokio, "tokio", &threads, "threads");
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("  capacity  tokio 14.09× threads ["),
            "{lines:?}"
        );
        // A search that kept no rate counts as 0, not as missing: it cannot flatter its target.
        let blocking = searched("blocking", &[0.0, 0.0, 0.0]);
        assert_eq!(cell(Figure::Capacity, &blocking), "none");
        let lines = verdicts(&blocking, "blocking", &threads, "threads");
        assert!(lines[0].contains("no ratio"), "{lines:?}");
        let mixed = searched("smol", &[0.0, 90_000.0, 100_000.0]);
        assert_eq!(Figure::Capacity.values(&mixed), [0.0, 90_000.0, 100_000.0]);
        // The median search, by capacity: by msgs/s it would be the 100,000 one.
        assert_eq!(mixed.capacity.as_ref().unwrap().kept, Some(90_000.0));
        // A closed-loop run and a search have no figure in common to compare.
        let closed = repeated("tokio", &[110.0, 111.0, 112.0]);
        assert!(verdicts(&tokio, "a", &closed, "b").is_empty());
        let near = searched("tokio-current", &[158_000.0, 150_000.0, 152_000.0]);
        assert_eq!(ties(&[&threads, &tokio, &near]), [false, false, true]);
    }

    #[test]
    fn capacities_the_client_limited_are_lower_bounds_and_said_to_be() {
        let limited = |name: &str, kept: &[f64]| {
            let mut t = searched(name, kept);
            for r in &mut t.repeats.as_mut().unwrap().runs {
                r.capacity.as_mut().unwrap().answer = "client-limited".into();
            }
            t
        };
        let tokio = limited("tokio", &[390_000.0, 400_000.0, 390_000.0]);
        let smol = limited("smol", &[440_000.0, 460_000.0, 440_000.0]);
        let threads = searched("threads", &[140_000.0, 150_000.0, 87_500.0]);
        assert_eq!(cell(Figure::Capacity, &tokio), "≥390.0k±2.6%");
        assert_eq!(cell(Figure::Capacity, &threads), "140.0k±37.5%");
        let both = verdicts(&smol, "smol", &tokio, "tokio");
        assert!(
            both[0].contains("compares what loadgen could drive, not the servers"),
            "{both:?}"
        );
        let one = verdicts(&tokio, "tokio", &threads, "threads");
        assert!(
            one[0].contains("(lower bounds: 3 of 3 searches of tokio, 0 of 3 of threads)"),
            "{one:?}"
        );
        let real = verdicts(&threads, "threads", &searched("a", &[1.0, 2.0, 3.0]), "a");
        assert!(!real[0].contains("lower bound"), "{real:?}");
    }

    #[test]
    fn a_baseline_must_be_in_the_run() {
        let run = result(vec![
            repeated("tokio", &[110.0, 111.0, 112.0, 113.0, 114.0]),
            repeated("smol", &[100.0, 101.0, 102.0, 103.0, 104.0]),
        ]);
        let out = against_baseline(&run, "smol").unwrap();
        assert!(out.starts_with("tokio against smol:\n  msgs/s"), "{out}");
        assert!(
            against_baseline(&run, "threads")
                .unwrap_err()
                .to_string()
                .contains("tokio, smol")
        );
    }
}
