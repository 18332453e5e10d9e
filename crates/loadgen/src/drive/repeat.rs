//! `--repeat N`: the order runs go in, and gathering them back per target.
//!
//! Runs go in rounds — every target once, then every target again (A B C, A B C, …) — so a
//! drift in the machine (another job starting, a warming cache, a throttled host) lands on every
//! target alike instead of on whichever ran last.

use echo_report::TargetResult;

/// The runs of `targets` targets repeated `repeat` times, in the order they go: `(round,
/// target)` pairs, round by round.
pub fn order(targets: usize, repeat: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..repeat).flat_map(move |round| (0..targets).map(move |target| (round, target)))
}

/// Gathers results run in [`order`] (each tagged with its target's index) into one result per
/// target, in target order, folded with [`TargetResult::from_runs`]. A target none of whose runs
/// finished is left out.
pub fn gather(targets: usize, runs: Vec<(usize, TargetResult)>) -> Vec<TargetResult> {
    let mut per_target: Vec<Vec<TargetResult>> = vec![Vec::new(); targets];
    for (target, result) in runs {
        per_target[target].push(result);
    }
    per_target
        .into_iter()
        .filter_map(TargetResult::from_runs)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_interleave_every_target() {
        let runs: Vec<_> = order(3, 2).collect();
        assert_eq!(runs, [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2)]);
        assert_eq!(order(2, 1).collect::<Vec<_>>(), [(0, 0), (0, 1)]);
        assert_eq!(order(0, 3).count(), 0);
    }

    #[test]
    fn runs_are_gathered_per_target_in_the_order_they_ran() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../results/reference/runs/20261125T143739Z-6-targets-c100-m64.json");
        let template = echo_report::read_result(&path).unwrap().targets.remove(0);
        let make = |name: &str, rate: f64| TargetResult {
            target: name.into(),
            msgs_per_sec: Some(rate),
            ..template.clone()
        };
        let runs = vec![
            (0, make("a", 1.0)),
            (1, make("b", 10.0)),
            (0, make("a", 2.0)),
            (1, make("b", 20.0)),
            (0, make("a", 3.0)),
        ];
        let gathered = gather(3, runs);
        assert_eq!(gathered.len(), 2, "the third target never ran");
        let rates = |t: &TargetResult| {
            t.runs()
                .iter()
                .filter_map(|r| r.msgs_per_sec)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            (gathered[0].target.as_str(), rates(&gathered[0])),
            ("a", vec![1.0, 2.0, 3.0])
        );
        assert_eq!(
            (gathered[1].target.as_str(), rates(&gathered[1])),
            ("b", vec![10.0, 20.0])
        );
    }
}
