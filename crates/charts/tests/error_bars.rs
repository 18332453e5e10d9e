//! Repeated runs (`--repeat`) on the charts: each point at the median of its runs, with a
//! whisker from its interval's lower bound to its upper.

mod common;

use std::fs;
use std::path::Path;

use common::{check_png, check_svg, fixtures_copy};
use echo_charts::figure::Mark;
use echo_charts::{ChartKind, Context, Filter, Loaded, Options, WHISKER_NOTE, draw_charts, load};
use echo_report::{RunResult, TargetResult, read_result, write_atomic};

/// Each run's figures are the fixture's scaled by these. Four runs: the interval is min…max (the
/// most four runs allow), and the median (the mean of the middle two) is no run's own value, so
/// a chart that drew the representative run instead of the median would be caught. The largest
/// values reach far past the median (past a decade for p99), so an axis that ignored the
/// whiskers would cut them off.
const RATE_SCALES: [f64; 4] = [0.9, 1.0, 1.2, 2.0];
const LATENCY_SCALES: [f64; 4] = [1.0, 1.25, 0.8, 12.0];
/// The medians of those scales.
const RATE_MEDIAN: f64 = 1.1;
const LATENCY_MEDIAN: f64 = 1.125;

/// The fixtures, every target of every file turned into three runs of it.
fn repeated_fixtures() -> tempfile::TempDir {
    let dir = fixtures_copy();
    for sub in ["sweep", "pitfall"] {
        for entry in fs::read_dir(dir.path().join(sub)).unwrap() {
            let path = entry.unwrap().path();
            let mut run: RunResult = read_result(&path).unwrap();
            run.config.repeat = RATE_SCALES.len();
            run.targets = run.targets.into_iter().map(repeat).collect();
            write_atomic(&path, |w| {
                serde_json::to_writer(w, &run).map_err(Into::into)
            })
            .unwrap();
        }
    }
    dir
}

fn repeat(t: TargetResult) -> TargetResult {
    let runs = RATE_SCALES
        .iter()
        .zip(LATENCY_SCALES)
        .map(|(&rate, latency)| {
            let mut r = t.clone();
            r.msgs_per_sec = r.msgs_per_sec.map(|x| x * rate);
            let scale = |ns: &mut u64| *ns = (*ns as f64 * latency) as u64;
            scale(&mut r.latency_ns.p99);
            for l in [&mut r.bystander_latency_ns, &mut r.working_latency_ns]
                .into_iter()
                .flatten()
            {
                scale(&mut l.p99);
            }
            r
        })
        .collect();
    TargetResult::from_runs(runs).unwrap()
}

fn figures(dir: &Path, kind: ChartKind) -> Vec<echo_charts::Figure> {
    let loaded: Loaded = load(&[dir.to_owned()], &Filter::default()).unwrap();
    kind.build(&Context::new(&loaded, Options::default()))
        .unwrap()
}

/// Every whisker's (x, low, high), in order of x then height.
fn whiskers(f: &echo_charts::Figure) -> Vec<(f64, f64, f64)> {
    let mut w: Vec<_> = f
        .marks()
        .filter_map(|m| match m {
            Mark::Whisker { x, y, .. } => Some((*x, y.start, y.end)),
            _ => None,
        })
        .collect();
    w.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    w
}

/// Every point of every line, in the same order.
fn line_points(f: &echo_charts::Figure) -> Vec<(f64, f64)> {
    let mut p: Vec<_> = f
        .marks()
        .flat_map(|m| match m {
            Mark::Line { points, .. } => points.clone(),
            _ => vec![],
        })
        .collect();
    p.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
    p
}

#[test]
fn throughput_points_carry_their_interval() {
    let dir = repeated_fixtures();
    let f = &figures(dir.path(), ChartKind::Throughput)[0];
    let (points, bars) = (line_points(f), whiskers(f));
    assert_eq!(bars.len(), points.len(), "a whisker per point: {bars:?}");
    assert!(f.subtitle.ends_with(WHISKER_NOTE), "{}", f.subtitle);
    for ((x, y), (bx, lo, hi)) in points.iter().zip(&bars) {
        // The line is at the median of the runs, the whisker spans min…max.
        assert_eq!(x, bx);
        let (lo, hi) = (lo / y * RATE_MEDIAN, hi / y * RATE_MEDIAN);
        assert!(
            (lo - 0.9).abs() < 1e-9 && (hi - 2.0).abs() < 1e-9,
            "{y} {lo} {hi}"
        );
    }
    let top = bars.iter().map(|b| b.2).fold(0.0, f64::max);
    assert!(
        f.panels[0].y.range.end >= top,
        "the axis holds every whisker"
    );
}

#[test]
fn p99_points_carry_their_interval_on_the_log_axis() {
    let dir = repeated_fixtures();
    let f = &figures(dir.path(), ChartKind::P99)[0];
    let (points, bars) = (line_points(f), whiskers(f));
    assert_eq!(bars.len(), points.len());
    for ((_, y), (_, lo, hi)) in points.iter().zip(&bars) {
        assert!(lo < y && y < hi, "{lo} < {y} < {hi}");
        assert!((hi / y * LATENCY_MEDIAN - 12.0).abs() < 1e-2, "{y} {hi}");
    }
    let y = &f.panels[0].y.range;
    assert!(
        bars.iter().all(|b| y.start <= b.1 && b.2 <= y.end),
        "{y:?} {bars:?}"
    );
}

#[test]
fn pitfall_bars_carry_their_interval() {
    let dir = repeated_fixtures();
    let f = &figures(dir.path(), ChartKind::Pitfall)[0];
    let bars = f.marks().filter(|m| matches!(m, Mark::Bar { .. })).count();
    assert!(bars > 0);
    assert_eq!(whiskers(f).len(), bars, "a whisker on every bar");
    assert!(f.subtitle.ends_with(WHISKER_NOTE), "{}", f.subtitle);
}

#[test]
fn whiskers_are_drawn() {
    let dir = repeated_fixtures();
    let out = tempfile::tempdir().unwrap();
    let loaded = load(&[dir.path().to_owned()], &Filter::default()).unwrap();
    let kinds = [ChartKind::Throughput, ChartKind::Pitfall];
    let outcomes = draw_charts(&loaded, &kinds, &Options::default(), out.path()).unwrap();
    for outcome in outcomes {
        for file in outcome.result.unwrap() {
            match file.extension().and_then(|e| e.to_str()) {
                Some("svg") => {
                    check_svg(&file, &[]);
                }
                _ => {
                    check_png(&file, image_size(&file));
                }
            }
        }
    }
}

/// The size a PNG says it has (its IHDR), to check the rest against.
fn image_size(png: &Path) -> (u32, u32) {
    let bytes = fs::read(png).unwrap();
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}
