//! Tail latency against clients: what concurrency costs each request.

use super::clients::{nothing, series_sets};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, Panel};
use crate::style::{TimeUnit, plain};

/// The 99th-percentile round-trip latency (`latency_ns.p99`) against clients, a line per target,
/// on a log scale; one figure per scenario (message size, work, rate).
pub fn p99(ctx: &Context) -> Result<Vec<Figure>, NoData> {
    let sets = series_sets(&ctx.points, |p| {
        let l = &p.target().latency_ns;
        (l.count > 0).then_some(l.p99 as f64)
    });
    if sets.is_empty() {
        return Err(nothing("p99 latency"));
    }
    let figures = sets
        .iter()
        .map(|set| {
            let max = set.values().fold(0.0, f64::max);
            let min = set.values().fold(f64::INFINITY, f64::min);
            let unit = TimeUnit::for_max_ns(max);
            let y_desc = format!("p99 round-trip latency ({}, log scale)", unit.name);
            let y = Axis::decades(y_desc, unit.of(min), unit.of(max), plain);
            let (marks, legend) = set.lines(&ctx.palette, |v| unit.of(v), |_| false, &y);
            let panel = Panel {
                title: None,
                x: set.clients_axis(),
                y,
                marks,
            };
            set.figure(
                ChartKind::P99,
                "p99 latency vs clients",
                set.scenario.label(),
                panel,
                legend,
            )
        })
        .collect();
    Ok(figures)
}
