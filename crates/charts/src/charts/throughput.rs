//! Throughput against clients: how far each server scales with concurrency.

use super::clients::{nothing, series_sets};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, Panel};
use crate::style::si;

/// Messages per second (`msgs_per_sec`, the median of repeated runs) against clients, a line
/// per target with each repeated point's confidence interval; one figure per scenario (message
/// size, work, rate).
pub fn throughput(ctx: &Context) -> Result<Vec<Figure>, NoData> {
    let rate = echo_report::Figure::MsgsPerSec;
    let sets = series_sets(&ctx.points, |p| rate.spread(p.target()).map(|s| s.median));
    if sets.is_empty() {
        return Err(nothing("throughput"));
    }
    let figures = sets
        .iter()
        .map(|set| {
            let max = set
                .values()
                .chain(set.interval_bounds(rate))
                .fold(0.0, f64::max);
            let y = Axis::from_zero("round trips per second (msgs/s)", max, si);
            let (mut marks, legend) = set.lines(&ctx.palette, |v| v, |_| false, &y);
            marks.extend(set.whiskers(&ctx.palette, rate, |v| v));
            let panel = Panel {
                title: None,
                x: set.clients_axis(),
                y,
                marks,
            };
            set.figure(
                ChartKind::Throughput,
                "Throughput vs clients",
                set.subtitle(rate),
                panel,
                legend,
            )
        })
        .collect();
    Ok(figures)
}
