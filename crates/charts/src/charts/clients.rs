//! What the charts against the number of clients share: a chart per scenario, a line per target,
//! clients on a log axis.

use super::ChartKind;
use crate::figure::{
    Axis, Figure, LegendEntry, Mark, Panel, Swatch, failed_entry, saturated_entry,
};
use crate::load::Point;
use crate::scenario::{Scenario, by_scenario, by_target, median_by_clients};
use crate::style::{Palette, footer, si};

/// The points of one scenario and a series per target drawn from them.
pub(super) struct SeriesSet<'a> {
    /// What the points share.
    pub scenario: Scenario,
    /// Every point with a value.
    pub points: Vec<&'a Point>,
    /// A series per target, in the order targets first appear.
    pub series: Vec<Series<'a>>,
}

/// One target's values against clients.
pub(super) struct Series<'a> {
    /// The target.
    pub target: &'a str,
    /// (clients, value), ascending by clients; the median where a point was measured more than
    /// once. Client counts where clients starved are left out: they are in `failed`.
    pub values: Vec<(f64, f64)>,
    /// Client counts where some clients starved (in any repeat): drawn as failed, no value.
    pub failed: Vec<f64>,
    /// Client counts of `values` where the load generator was saturated (in any repeat).
    pub saturated: Vec<f64>,
    /// The points the values came from.
    pub points: Vec<&'a Point>,
}

impl SeriesSet<'_> {
    /// Every value of every series.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.series
            .iter()
            .flat_map(|s| s.values.iter().map(|v| v.1))
    }

    /// A log axis of clients with a tick at each client count measured.
    pub fn clients_axis(&self) -> Axis {
        let mut clients: Vec<f64> = self
            .series
            .iter()
            .flat_map(|s| s.values.iter().map(|v| v.0).chain(s.failed.iter().copied()))
            .collect();
        clients.sort_by(f64::total_cmp);
        clients.dedup();
        Axis::log_at("concurrent clients (log scale)", &clients, si)
    }

    /// A line per series, `scale` applied to each value, and the legend. The line breaks at a
    /// failed client count, which gets a cross in the strip below the plot instead; a value measured with
    /// the load generator saturated gets a `†` above it.
    pub fn lines(
        &self,
        palette: &Palette,
        scale: impl Fn(f64) -> f64,
        dashed: impl Fn(&Series) -> bool,
        y: &Axis,
    ) -> (Vec<Mark>, Vec<LegendEntry>) {
        let mut marks = Vec::new();
        let mut legend = Vec::new();
        // Each target with failed points gets its own row of crosses, so none hides another.
        let mut failed_row = 0;
        for s in &self.series {
            let color = palette.color(s.target);
            let dashed = dashed(s);
            let mut segment: Vec<(f64, f64)> = Vec::new();
            for &(x, v) in &s.values {
                let broken = segment
                    .last()
                    .is_some_and(|last| s.failed.iter().any(|f| last.0 < *f && *f < x));
                if broken {
                    marks.push(line(std::mem::take(&mut segment), color, dashed));
                }
                segment.push((x, scale(v)));
                if s.saturated.contains(&x) {
                    let above = y.fraction(y.fraction_of(scale(v)) + DAGGER_LIFT);
                    marks.push(Mark::Note {
                        at: (x, above),
                        text: "†".into(),
                    });
                }
            }
            if !segment.is_empty() {
                marks.push(line(segment, color, dashed));
            }
            for &x in &s.failed {
                marks.push(Mark::Failed {
                    x,
                    row: failed_row,
                    color,
                });
            }
            if !s.failed.is_empty() {
                failed_row += 1;
            }
            legend.push(LegendEntry {
                label: s.target.to_owned(),
                color,
                swatch: if dashed { Swatch::Dashed } else { Swatch::Line },
            });
        }
        if self.series.iter().any(|s| !s.failed.is_empty()) {
            legend.push(failed_entry());
        }
        if self.series.iter().any(|s| !s.saturated.is_empty()) {
            legend.push(saturated_entry());
        }
        (marks, legend)
    }

    /// A whisker per point measured over several runs: the confidence interval of `figure`'s
    /// median, `scale` applied.
    pub fn whiskers(
        &self,
        palette: &Palette,
        figure: echo_report::Figure,
        scale: impl Fn(f64) -> f64,
    ) -> Vec<Mark> {
        self.intervals(figure)
            .map(|(target, clients, i)| Mark::Whisker {
                x: clients,
                y: scale(i.lo)..scale(i.hi),
                color: palette.color(target),
            })
            .collect()
    }

    /// The scenario's label, and what whiskers mean if `figure` has any.
    pub fn subtitle(&self, figure: echo_report::Figure) -> String {
        let mut label = self.scenario.label();
        if self.intervals(figure).next().is_some() {
            label.push_str(super::WHISKER_NOTE);
        }
        label
    }

    /// Both bounds of every interval [`SeriesSet::whiskers`] draws, for the axes to hold them.
    pub fn interval_bounds(&self, figure: echo_report::Figure) -> impl Iterator<Item = f64> + '_ {
        self.intervals(figure).flat_map(|(_, _, i)| [i.lo, i.hi])
    }

    fn intervals(
        &self,
        figure: echo_report::Figure,
    ) -> impl Iterator<Item = (&str, f64, echo_report::stats::Interval)> + '_ {
        self.series.iter().flat_map(move |s| {
            s.points.iter().filter_map(move |p| {
                // A failed point has no value on the scale, so no interval either.
                if s.failed.contains(&(p.clients() as f64)) {
                    return None;
                }
                let spread = figure.spread(p.target()).filter(|s| s.n > 1)?;
                Some((s.target, p.clients() as f64, spread.interval))
            })
        })
    }

    /// The machine and date of the points.
    pub fn footer(&self) -> String {
        footer(self.points.iter().map(|p| p.run()))
    }

    /// This scenario's chart of `kind`: one panel, a line per target, the targets as its legend.
    pub fn figure(
        &self,
        kind: ChartKind,
        title: &str,
        subtitle: String,
        panel: Panel,
        legend: Vec<LegendEntry>,
    ) -> Figure {
        let name = format!("{kind}-{}", self.scenario.slug());
        let mut f = Figure::single(name, title.into(), subtitle, self.footer(), panel);
        f.legend_title = "target".into();
        f.legend = legend;
        f
    }
}

/// How far above its point a `†` sits, as a fraction of the plot's height.
const DAGGER_LIFT: f64 = 0.07;

fn line(points: Vec<(f64, f64)>, color: plotters::style::RGBColor, dashed: bool) -> Mark {
    Mark::Line {
        points,
        color,
        dashed,
        dots: true,
    }
}

/// For each scenario where some target was measured at two client counts or more, a series per
/// target of `value` against clients. Points where `value` is `None` are left out, unless their
/// clients starved: those are failed points, drawn without a value.
pub(super) fn series_sets<'a>(
    points: &[&'a Point],
    value: impl Fn(&Point) -> Option<f64>,
) -> Vec<SeriesSet<'a>> {
    let kept: Vec<&Point> = points
        .iter()
        .copied()
        .filter(|p| p.starved() || value(p).is_some())
        .collect();
    let mut sets = Vec::new();
    for (scenario, members) in by_scenario(&kept) {
        let series: Vec<Series> = by_target(&members)
            .into_iter()
            .map(|(target, points)| {
                let clients_where = |pick: fn(&Point) -> bool| {
                    let mut c: Vec<f64> = points
                        .iter()
                        .filter(|p| pick(p))
                        .map(|p| p.clients() as f64)
                        .collect();
                    c.sort_by(f64::total_cmp);
                    c.dedup();
                    c
                };
                let failed = clients_where(Point::starved);
                let values: Vec<(f64, f64)> = median_by_clients(&points, &value)
                    .into_iter()
                    .filter(|(x, _)| !failed.contains(x))
                    .collect();
                let saturated = clients_where(Point::saturated)
                    .into_iter()
                    .filter(|x| values.iter().any(|v| v.0 == *x))
                    .collect();
                Series {
                    target,
                    values,
                    failed,
                    saturated,
                    points,
                }
            })
            .collect();
        if series.iter().any(|s| s.values.len() + s.failed.len() >= 2) {
            sets.push(SeriesSet {
                scenario,
                points: members,
                series,
            });
        }
    }
    sets
}

/// The note for a chart against clients with nothing to draw.
pub(super) fn nothing(what: &str) -> super::NoData {
    super::NoData(format!(
        "no {what} at two client counts or more for any target and scenario (message size, work, rate)"
    ))
}
