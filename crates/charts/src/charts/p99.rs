//! Tail latency against clients: what concurrency costs each request.

use super::clients::{nothing, series_sets};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, Panel};
use crate::style::{TimeUnit, plain};

/// The 99th-percentile round-trip latency (`latency_ns.p99`, the median of repeated runs)
/// against clients, a line per target with each repeated point's confidence interval, on a log
/// scale; one figure per scenario (message size, work, rate).
pub fn p99(ctx: &Context) -> Result<Vec<Figure>, NoData> {
    let p99 = echo_report::Figure::P99;
    let sets = series_sets(&ctx.points, |p| p99.spread(p.target()).map(|s| s.median));
    if sets.is_empty() {
        return Err(nothing("p99 latency"));
    }
    let figures = sets
        .iter()
        .map(|set| {
            let all = || set.values().chain(set.interval_bounds(p99));
            let max = all().fold(0.0, f64::max);
            let min = all().fold(f64::INFINITY, f64::min);
            let unit = TimeUnit::for_max_ns(max);
            let y_desc = format!("p99 round-trip latency ({}, log scale)", unit.name);
            let y = Axis::decades(y_desc, unit.of(min), unit.of(max), plain);
            let (mut marks, legend) = set.lines(&ctx.palette, |v| unit.of(v), |_| false, &y);
            marks.extend(set.whiskers(&ctx.palette, p99, |v| unit.of(v)));
            let panel = Panel {
                title: None,
                x: set.clients_axis(),
                y,
                marks,
            };
            set.figure(
                ChartKind::P99,
                "p99 latency vs clients",
                set.subtitle(p99),
                panel,
                legend,
            )
        })
        .collect();
    Ok(figures)
}
