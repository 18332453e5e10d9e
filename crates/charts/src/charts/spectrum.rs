//! The full latency percentile spectrum of one point, in HdrHistogram's style: the x axis is
//! 1/(1−p) on a log scale, so every extra nine of the tail gets the same width.

use hdrhistogram::Histogram;

use super::{ChartKind, Context, NoData, distance_from_preferred, no_such_clients};
use crate::figure::{Axis, Figure, LegendEntry, Mark, Panel, Swatch, Tick, saturated_entry};
use crate::load::Point;
use crate::scenario::{Scenario, by_scenario, by_target, latest};
use crate::style::{TimeUnit, footer, plain};

/// Points per halving of the distance to 100%, as HdrHistogram's own percentile output uses.
const TICKS_PER_HALF_DISTANCE: u32 = 5;

/// The deepest percentile labelled: 99.9999%.
const MAX_NINES: i32 = 6;

/// Above this ratio of the largest latency shown to the smallest, the latency axis is
/// logarithmic: a linear one would flatten every curve but the slowest into the floor.
const LOG_Y_ABOVE: f64 = 50.0;

/// Every target's latency percentiles at one point: the scenario and client count given by
/// `--at-clients` or, by default, the one most targets were measured at (ties: the plain echo,
/// the smallest message, clients nearest 100). A target measured there more than once shows its
/// latest run.
pub fn spectrum(ctx: &Context) -> Result<Figure, NoData> {
    let (scenario, clients, points) = pick(ctx)?;
    // A target whose clients starved has no curve: its histogram leaves out the clients that
    // never got a reply, and would look like the fastest. The legend says so instead.
    let mut failed = Vec::new();
    let curves: Vec<(&Point, Vec<(f64, f64)>)> = by_target(&points)
        .into_iter()
        .filter_map(|(_, pts)| {
            let p = latest(pts)?;
            if p.starved() {
                failed.push(p);
                return None;
            }
            let curve = percentile_curve(&p.histogram);
            (!curve.is_empty()).then_some((p, curve))
        })
        .collect();
    if curves.is_empty() {
        return Err(NoData(format!(
            "every histogram at {clients} clients ({}) is empty",
            scenario.label()
        )));
    }

    let values = || curves.iter().flat_map(|(_, c)| c.iter().map(|v| v.1));
    let max_ns = values().fold(0.0, f64::max);
    let min_ns = values().fold(f64::INFINITY, f64::min);
    let unit = TimeUnit::for_max_ns(max_ns);
    let widest = curves
        .iter()
        .flat_map(|(_, c)| c.last().map(|v| v.0))
        .fold(100.0, f64::max);
    let x = percentile_axis(widest);
    let y = if max_ns / min_ns > LOG_Y_ABOVE {
        let desc = format!("round-trip latency ({}, log scale)", unit.name);
        Axis::decades(desc, unit.of(min_ns), unit.of(max_ns), plain)
    } else {
        let desc = format!("round-trip latency ({})", unit.name);
        Axis::from_zero(desc, unit.of(max_ns), plain)
    };

    let mut marks = Vec::new();
    let mut legend = Vec::new();
    for (p, curve) in &curves {
        let color = ctx.palette.color(p.name());
        marks.push(Mark::Line {
            points: curve.iter().map(|&(x, v)| (x, unit.of(v))).collect(),
            color,
            dashed: false,
            dots: false,
        });
        let dagger = if p.saturated() { " †" } else { "" };
        legend.push(LegendEntry {
            label: format!("{}{dagger}", p.name()),
            color,
            swatch: Swatch::Line,
        });
    }
    for p in &failed {
        let t = p.target();
        legend.push(LegendEntry {
            label: format!(
                "{}: {} of {} clients starved",
                p.name(),
                t.starved_clients.unwrap_or_default(),
                t.connected
            ),
            color: ctx.palette.color(p.name()),
            swatch: Swatch::Cross,
        });
    }
    if curves.iter().any(|(p, _)| p.saturated()) {
        legend.push(saturated_entry());
    }
    let mut f = Figure::single(
        ChartKind::Spectrum.to_string(),
        "Latency by percentile".into(),
        format!("{}, {clients} clients", scenario.label()),
        footer(points.iter().map(|p| p.run())),
        Panel {
            title: None,
            x,
            y,
            marks,
        },
    );
    f.legend_title = "target".into();
    f.legend = legend;
    Ok(f)
}

/// The point's scenario, client count, and every target's points there.
fn pick<'a>(ctx: &Context<'a>) -> Result<(Scenario, usize, Vec<&'a Point>), NoData> {
    let mut candidates: Vec<(Scenario, usize, Vec<&'a Point>)> = Vec::new();
    for (scenario, members) in by_scenario(&ctx.points) {
        let mut counts: Vec<usize> = members.iter().map(|p| p.clients()).collect();
        counts.sort_unstable();
        counts.dedup();
        for c in counts {
            if ctx.options.at_clients.is_some_and(|n| n != c) {
                continue;
            }
            let at: Vec<&Point> = members
                .iter()
                .copied()
                .filter(|p| p.clients() == c)
                .collect();
            candidates.push((scenario.clone(), c, at));
        }
    }
    // Scenarios come in order (plain echo and small messages first), so the first best wins.
    let targets = |pts: &[&Point]| by_target(pts).len();
    let best = candidates
        .into_iter()
        .enumerate()
        .min_by_key(|(i, (_, c, pts))| {
            (
                std::cmp::Reverse(targets(pts)),
                distance_from_preferred(*c),
                *i,
            )
        });
    match (best, ctx.options.at_clients) {
        (Some((_, found)), _) => Ok(found),
        (None, Some(n)) => Err(no_such_clients(n, &ctx.points)),
        (None, None) => Err(NoData("no points".into())),
    }
}

/// (1/(1−p), latency in ns) from the 0th percentile to the last below 100%.
pub fn percentile_curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut curve = vec![(1.0, h.min() as f64)];
    for v in h.iter_quantiles(TICKS_PER_HALF_DISTANCE) {
        let q = v.quantile_iterated_to();
        if q >= 1.0 {
            break;
        }
        let x = 1.0 / (1.0 - q);
        if curve.last().is_some_and(|last| x > last.0) {
            curve.push((x, v.value_iterated_to() as f64));
        }
    }
    curve
}

/// 1/(1−p) from 1 (the 0th percentile) to the power of ten at or beyond `widest`, labelled in
/// nines: `50%`, `90%`, `99%`, `99.9%`…
fn percentile_axis(widest: f64) -> Axis {
    let nines = (widest.log10().ceil() as i32).clamp(2, MAX_NINES);
    let mut ticks = vec![Tick {
        at: 2.0,
        label: "50%".into(),
    }];
    for n in 1..=nines {
        ticks.push(Tick {
            at: 10f64.powi(n),
            label: nines_label(n),
        });
    }
    Axis {
        desc: "percentile (x is 1/(1−p), log scale)".into(),
        range: 1.0..10f64.powi(nines),
        log: true,
        ticks,
        minor: Vec::new(),
        grid: true,
    }
}

/// `90%` for one nine, `99%` for two, `99.9%` for three…
fn nines_label(nines: i32) -> String {
    match nines {
        1 => "90%".into(),
        2 => "99%".into(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_axis_is_labelled_in_nines() {
        let a = percentile_axis(20_000.0);
        let labels: Vec<&str> = a.ticks.iter().map(|t| t.label.as_str()).collect();
        assert_eq!(labels, ["50%", "90%", "99%", "99.9%", "99.99%", "99.999%"]);
        assert_eq!(a.range, 1.0..100_000.0);
    }

    #[test]
    fn the_curve_runs_up_the_percentiles() {
        let mut h = echo_report::new_histogram();
        for v in 1..=100_000u64 {
            h.record(v * 10).unwrap();
        }
        let curve = percentile_curve(&h);
        assert_eq!(curve[0], (1.0, 10.0));
        assert!(
            curve
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1)
        );
        let last = curve.last().unwrap();
        assert!(last.0 >= 10_000.0, "reaches 99.99%: {last:?}");
        assert!(percentile_curve(&echo_report::new_histogram()).is_empty());
    }
}
