//! The capacity and ramp charts, drawn from hand-made result files whose answers are known: each
//! bar stands where its search put the capacity, and each line follows its timeline.

mod common;

use std::path::Path;

use common::{check_png, check_svg, fixtures};
use echo_charts::figure::{Mark, Swatch};
use echo_charts::{ChartKind, Context, Filter, Options, draw_charts, load};
use echo_report::{
    CapacitySearch, CapacityStep, RunResult, TargetResult, Tick, read_result, write_atomic,
};

/// A closed-loop result of the fixtures (64 B, 100 clients) to dress up as the others.
fn base() -> RunResult {
    read_result(&fixtures().join("sweep/64B-100c.json")).unwrap()
}

fn target(run: &RunResult, name: &str) -> TargetResult {
    run.targets
        .iter()
        .find(|t| t.target == name)
        .unwrap_or_else(|| panic!("the fixture has no {name}"))
        .clone()
}

/// A search under `slo` that found `kept` (or, with `None`, found nothing below `broke`).
fn search(slo: &str, limit_ns: u64, kept: Option<f64>, broke: f64) -> CapacitySearch {
    let step = |asked: f64, verdict: &str| CapacityStep {
        asked,
        achieved: asked,
        at_percentile_ns: limit_ns,
        latency_ns: Default::default(),
        errors: 0,
        verdict: verdict.into(),
    };
    let mut steps: Vec<CapacityStep> = kept.iter().map(|&k| step(k, "kept")).collect();
    steps.push(step(broke, "too slow"));
    CapacitySearch {
        slo: slo.into(),
        percentile: 99.0,
        limit_ns,
        precision: 0.05,
        steps,
        answer: if kept.is_some() { "found" } else { "below" }.into(),
        kept,
        broke: Some(broke),
    }
}

fn write(dir: &Path, name: &str, run: &RunResult) {
    let json = serde_json::to_vec(run).unwrap();
    write_atomic(&dir.join(name), |w| w.write_all(&json)).unwrap();
}

/// Capacity searches of tokio and threads under two promises, and the fixture's closed loop.
fn capacity_results(dir: &Path) {
    let closed = base();
    write(dir, "closed.json", &closed);
    for (slo, limit, tokio, threads) in [
        ("p99=1ms", 1_000_000, Some(40_000.0), None),
        ("p99=10ms", 10_000_000, Some(80_000.0), Some(30_000.0)),
    ] {
        let mut run = base();
        // Run after the closed loop, as scripts/capacity.sh does: the later result is not the
        // closed loop's.
        run.started_at = "2026-11-25T23:00:00Z".into();
        run.config.rate = Some(20_000.0);
        run.targets = [("tokio", tokio), ("threads", threads)]
            .into_iter()
            .map(|(name, kept)| {
                let mut t = target(&closed, name);
                t.capacity = Some(search(slo, limit, kept, kept.unwrap_or(200.0) * 1.05));
                // Its figures are those of the step the answer names.
                t.msgs_per_sec = Some(kept.unwrap_or(200.0));
                t
            })
            .collect();
        write(dir, &format!("capacity-{slo}.json"), &run);
    }
}

/// A ramp of tokio and threads: 10k, 20k, 30k asked; threads falls behind at 30k.
fn ramp_results(dir: &Path) {
    let mut run = base();
    run.config.rate_ramp = Some("10000..30000/1s".into());
    let tick = |t_s: f64, asked: f64, msgs: u64, p99_ns: u64| Tick {
        t_s,
        msgs,
        p99_ns,
        asked_rate: Some(asked),
    };
    let mut tokio = target(&run, "tokio");
    tokio.timeline = vec![
        tick(1.0, 10e3, 10_000, 200_000),
        tick(2.0, 20e3, 20_000, 300_000),
        tick(3.0, 30e3, 30_000, 500_000),
    ];
    let mut threads = target(&run, "threads");
    threads.timeline = vec![
        tick(1.0, 10e3, 10_000, 250_000),
        tick(2.0, 20e3, 19_900, 900_000),
        // The last tick holds the window's overrun: 15,000 replies in a second and a half.
        tick(3.5, 30e3, 15_000, 80_000_000),
    ];
    run.targets = vec![tokio, threads];
    write(dir, "ramp.json", &run);
}

fn bars(f: &echo_charts::Figure) -> Vec<(f64, f64)> {
    f.marks()
        .filter_map(|m| match m {
            Mark::Bar { x, y, .. } => Some((x.start, *y)),
            _ => None,
        })
        .collect()
}

#[test]
fn capacity_has_a_bar_per_promise_and_the_closed_loop_beside_them() {
    let dir = tempfile::tempdir().unwrap();
    capacity_results(dir.path());
    let loaded = load(&[dir.path().to_owned()], &Filter::default()).unwrap();
    let ctx = Context::new(&loaded, Options::default());
    let f = ChartKind::Capacity.build(&ctx).unwrap().remove(0);
    let closed = base();
    let closed_rate = |name: &str| target(&closed, name).msgs_per_sec.unwrap();
    // Targets in the order the searches list them: tokio (three bars), threads (two: it kept no
    // 1 ms promise, which is a note instead).
    let heights: Vec<f64> = bars(&f).iter().map(|b| b.1).collect();
    assert_eq!(
        heights,
        [
            40_000.0,
            80_000.0,
            closed_rate("tokio"),
            30_000.0,
            closed_rate("threads")
        ]
    );
    let xs: Vec<f64> = bars(&f).iter().map(|b| b.0).collect();
    assert!(
        xs.windows(2).all(|w| w[0] < w[1]),
        "bars left to right: {xs:?}"
    );
    assert!(xs[3] > 1.0, "threads' bars sit in the second category");
    let notes: Vec<&str> = f
        .marks()
        .filter_map(|m| match m {
            Mark::Note { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        notes,
        ["<210"],
        "threads broke 1 ms at every rate, down to 210"
    );
    let legend: Vec<&str> = f.legend.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(
        legend,
        [
            "open loop, p99=1ms",
            "open loop, p99=10ms",
            "closed loop, any latency"
        ]
    );
    assert!(f.legend.iter().all(|e| e.swatch == Swatch::Block));
}

#[test]
fn repeated_searches_draw_the_median_capacity_with_its_interval() {
    let dir = tempfile::tempdir().unwrap();
    let closed = base();
    let mut run = base();
    run.config.rate = Some(20_000.0);
    run.config.repeat = 3;
    let tokio = target(&closed, "tokio");
    let runs = [95_000.0, 70_000.0, 80_000.0]
        .map(|kept| {
            let mut t = tokio.clone();
            t.capacity = Some(search("p99=10ms", 10_000_000, Some(kept), kept * 1.05));
            t.msgs_per_sec = Some(kept);
            t
        })
        .to_vec();
    run.targets = vec![TargetResult::from_runs(runs).unwrap()];
    write(dir.path(), "capacity-p99=10ms.json", &run);
    let loaded = load(&[dir.path().to_owned()], &Filter::default()).unwrap();
    let ctx = Context::new(&loaded, Options::default());
    let f = ChartKind::Capacity.build(&ctx).unwrap().remove(0);
    assert_eq!(bars(&f).iter().map(|b| b.1).collect::<Vec<_>>(), [80_000.0]);
    let whiskers: Vec<_> = f
        .marks()
        .filter_map(|m| match m {
            Mark::Whisker { y, .. } => Some(y.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(whiskers, [70_000.0..95_000.0]);
    assert!(
        f.subtitle.ends_with(echo_charts::WHISKER_NOTE),
        "{}",
        f.subtitle
    );
}

#[test]
fn the_ramp_shows_the_rate_asked_and_each_targets_replies_and_p99() {
    let dir = tempfile::tempdir().unwrap();
    ramp_results(dir.path());
    let loaded = load(&[dir.path().to_owned()], &Filter::default()).unwrap();
    let ctx = Context::new(&loaded, Options::default());
    let f = ChartKind::Ramp.build(&ctx).unwrap().remove(0);
    assert_eq!(f.name, "ramp");
    let lines = |panel: usize| -> Vec<Vec<(f64, f64)>> {
        f.panels[panel]
            .marks
            .iter()
            .filter_map(|m| match m {
                Mark::Line { points, .. } => Some(points.clone()),
                _ => None,
            })
            .collect()
    };
    let rates = lines(0);
    assert_eq!(rates[0], [(1.0, 10e3), (2.0, 20e3), (3.0, 30e3)], "tokio");
    assert_eq!(
        rates[2],
        [(1.0, 10e3), (2.0, 20e3), (3.0, 30e3)],
        "asked, drawn last"
    );
    assert_eq!(
        rates[1],
        [(1.0, 10e3), (2.0, 19_900.0), (3.5, 10_000.0)],
        "threads, the overrun tick divided by its own length"
    );
    let p99 = lines(1);
    assert_eq!(
        p99[1].last(),
        Some(&(3.5, 80.0)),
        "threads' last p99, in ms"
    );
    let legend: Vec<&str> = f.legend.iter().map(|e| e.label.as_str()).collect();
    assert_eq!(legend, ["asked", "tokio", "threads"]);
    assert!(f.subtitle.contains("10000..30000/1s"), "{}", f.subtitle);
}

#[test]
fn both_are_drawn_as_real_files_and_skipped_without_their_results() {
    let dir = tempfile::tempdir().unwrap();
    capacity_results(dir.path());
    ramp_results(dir.path());
    let out = dir.path().join("charts");
    let loaded = load(&[dir.path().to_owned()], &Filter::default()).unwrap();
    let kinds = [ChartKind::Capacity, ChartKind::Ramp];
    let outcomes = draw_charts(&loaded, &kinds, &Options::default(), &out).unwrap();
    for o in &outcomes {
        assert_eq!(
            o.result.as_ref().unwrap().len(),
            2,
            "{}: an SVG and a PNG",
            o.kind
        );
    }
    check_svg(
        &out.join("capacity.svg"),
        &["Capacity", "p99=10ms", "tokio"],
    );
    check_png(&out.join("capacity.png"), (1100, 640));
    check_svg(&out.join("ramp.svg"), &["rising rate", "asked", "threads"]);
    check_png(&out.join("ramp.png"), (1100, 820));
    if let Ok(keep) = std::env::var("KEEP_CHARTS") {
        for f in ["capacity.png", "ramp.png"] {
            std::fs::copy(out.join(f), Path::new(&keep).join(f)).unwrap();
        }
    }

    let sweep = load(&[fixtures()], &Filter::default()).unwrap();
    let outcomes = draw_charts(&sweep, &kinds, &Options::default(), &out).unwrap();
    for o in outcomes {
        let why = o.result.unwrap_err().0;
        assert!(
            why.contains("--find-capacity") || why.contains("--rate-ramp"),
            "{why}"
        );
    }
}
