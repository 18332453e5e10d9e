//! Throughput against clients: how far each server scales with concurrency.

use super::clients::{nothing, series_sets};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, Panel};
use crate::style::si;

/// Messages per second (`msgs_per_sec`) against clients, a line per target; one figure per
/// scenario (message size, work, rate).
pub fn throughput(ctx: &Context) -> Result<Vec<Figure>, NoData> {
    let sets = series_sets(&ctx.points, |p| Some(p.target().msgs_per_sec));
    if sets.is_empty() {
        return Err(nothing("throughput"));
    }
    let figures = sets
        .iter()
        .map(|set| {
            let max = set.values().fold(0.0, f64::max);
            let y = Axis::from_zero("round trips per second (msgs/s)", max, si);
            let (marks, legend) = set.lines(&ctx.palette, |v| v, |_| false, &y);
            let panel = Panel {
                title: None,
                x: set.clients_axis(),
                y,
                marks,
            };
            set.figure(
                ChartKind::Throughput,
                "Throughput vs clients",
                set.scenario.label(),
                panel,
                legend,
            )
        })
        .collect();
    Ok(figures)
}
