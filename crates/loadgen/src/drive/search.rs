//! `--find-capacity`: one target's capacity search, each step an ordinary open-loop run
//! ([`run::run`]) at the rate the search ([`super::capacity`]) asks for next. Every step starts
//! a fresh server, connects, warms up and measures its window, so a step above capacity leaves
//! no backlog to the next one. The steps are said as they finish; the result is the step that
//! found the capacity, carrying the whole search.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use anyhow::{Result, bail};
use echo_common::units::format_duration;

use crate::drive::capacity::{Capacity, Measurement, Search, Slo};
use crate::plan::{Drive, Plan};
use crate::run::measured::Hgrm;
use crate::run::problem::Problem;
use crate::run::progress::Progress;
use crate::run::{self, Outcome};

/// Searches `drive`'s capacity under `slo`, starting from the plan's rate.
pub fn search(
    plan: &Plan,
    slo: Slo,
    drive: &Drive,
    interrupted: &AtomicBool,
    progress: &mut Progress,
) -> Result<Outcome> {
    let name = drive.name();
    let start = plan.rate.unwrap_or(crate::drive::capacity::START_RATE);
    let mut capacity = Capacity::new(Search::from(start), slo);
    let mut outcomes = Vec::new();
    while let Some(rate) = capacity.next_rate() {
        let step = Plan {
            rate: Some(rate),
            ..plan.clone()
        };
        progress.say(
            &name,
            format!("step {}: {rate:.0} msgs/s", capacity.steps().len() + 1),
        );
        let outcome = run::run(&step, drive, interrupted, progress)?;
        if interrupted.load(Relaxed) {
            // A window cut short says nothing about the rate: the search ends before it.
            capacity.stop();
            break;
        }
        let step = capacity.record(rate, measurement(&outcome, &slo));
        progress.say(
            &name,
            format!(
                "step {}: {rate:.0} msgs/s asked, {:.0} replies/s, p{} {} ({} errors): {}",
                capacity.steps().len(),
                step.measured.achieved,
                slo.percentile,
                format_duration(std::time::Duration::from_nanos(step.measured.latency_ns)),
                step.measured.errors,
                step.verdict,
            ),
        );
        outcomes.push(outcome);
    }
    let answer = capacity.answer();
    progress.say(&name, format!("capacity at {slo}: {answer}"));
    let latencies: Vec<_> = outcomes.iter().map(|o| o.result.latency_ns).collect();
    let Some(i) = capacity.representative() else {
        bail!("{name}: the capacity search was interrupted before its first step was measured");
    };
    let mut outcome = outcomes.swap_remove(i);
    outcome.result.capacity = Some(capacity.to_result(&latencies));
    if interrupted.load(Relaxed) {
        outcome.result.partial = true;
        outcome.problem.get_or_insert(Problem::Interrupted);
    } else if matches!(
        outcome.problem,
        Some(Problem::NothingMeasured { .. } | Problem::AllClientsFailed)
    ) {
        // The step standing for a search that found no rate failed by definition: a server
        // too slow to answer at all is the search's answer, not a fault of the run.
        outcome.problem = None;
    }
    Ok(outcome)
}

/// What a step measured, as the search judges it: verified replies per second, the latency at
/// the promise's percentile (corrected), and the errors.
fn measurement(outcome: &Outcome, slo: &Slo) -> Measurement {
    let r = &outcome.result;
    let latency_ns = outcome
        .histograms
        .iter()
        .find(|h| h.suffix.is_empty())
        .map_or(u64::MAX, |Hgrm { histogram: h, .. }| {
            if h.is_empty() {
                // Not one reply: no latency kept any promise.
                u64::MAX
            } else {
                h.value_at_quantile(slo.percentile / 100.0)
            }
        });
    Measurement {
        // A step whose window never opened (its server died in the warm-up) had no reply.
        achieved: r.msgs_per_sec.unwrap_or(0.0),
        latency_ns,
        errors: r.errors.total(),
        client_limited: r.client.saturated,
    }
}

#[cfg(test)]
mod tests {
    //! The wiring from a run's result to what the search judges: the search's logic has tests of
    //! its own (capacity.rs); these check that a step is judged on what its run measured.

    use super::*;

    /// A step's outcome as a run leaves it: a committed result of the capacity search, its
    /// histogram beside it as the run keeps it.
    fn outcome(saturated: bool) -> Outcome {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../results/reference/capacity");
        let file = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|x| x == "json"))
            .expect("a reference capacity result");
        let mut result = echo_report::read_result(&file).unwrap().targets.remove(0);
        result.client.saturated = saturated;
        let h = echo_report::decode_histogram(&result.histogram).unwrap();
        Outcome {
            result,
            problem: None,
            histograms: vec![Hgrm::new("", h)],
        }
    }

    #[test]
    fn a_step_is_judged_on_its_runs_rate_latency_errors_and_client_saturation() {
        let slo: Slo = "p99=1ms".parse().unwrap();
        for saturated in [false, true] {
            let o = outcome(saturated);
            let m = measurement(&o, &slo);
            assert_eq!(m.client_limited, saturated, "the run's own saturation flag");
            assert_eq!(Some(m.achieved), o.result.msgs_per_sec);
            assert_eq!(m.errors, o.result.errors.total());
            assert_eq!(
                m.latency_ns,
                o.histograms[0].histogram.value_at_quantile(0.99)
            );
        }
    }
}
