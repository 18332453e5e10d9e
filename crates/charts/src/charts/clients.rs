//! What the charts against the number of clients share: a chart per scenario, a line per target,
//! clients on a log axis.

use super::ChartKind;
use crate::figure::{Axis, Figure, LegendEntry, Mark, Panel, Swatch};
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
    /// (clients, value), ascending by clients; the median where a point was measured more than once.
    pub values: Vec<(f64, f64)>,
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
            .flat_map(|s| s.values.iter().map(|v| v.0))
            .collect();
        clients.sort_by(f64::total_cmp);
        clients.dedup();
        Axis::log_at("concurrent clients (log scale)", &clients, si)
    }

    /// A line per series, `scale` applied to each value, and the legend.
    pub fn lines(
        &self,
        palette: &Palette,
        scale: impl Fn(f64) -> f64,
        dashed: impl Fn(&Series) -> bool,
    ) -> (Vec<Mark>, Vec<LegendEntry>) {
        let mut marks = Vec::new();
        let mut legend = Vec::new();
        for s in &self.series {
            let color = palette.color(s.target);
            let dashed = dashed(s);
            marks.push(Mark::Line {
                points: s.values.iter().map(|&(x, y)| (x, scale(y))).collect(),
                color,
                dashed,
                dots: true,
            });
            legend.push(LegendEntry {
                label: s.target.to_owned(),
                color,
                swatch: if dashed { Swatch::Dashed } else { Swatch::Line },
            });
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

/// For each scenario where some target was measured at two client counts or more, a series per
/// target of `value` against clients. Points where `value` is `None` are left out.
pub(super) fn series_sets<'a>(
    points: &[&'a Point],
    value: impl Fn(&Point) -> Option<f64>,
) -> Vec<SeriesSet<'a>> {
    let with_value: Vec<&Point> = points
        .iter()
        .copied()
        .filter(|p| value(p).is_some())
        .collect();
    let mut sets = Vec::new();
    for (scenario, members) in by_scenario(&with_value) {
        let series: Vec<Series> = by_target(&members)
            .into_iter()
            .map(|(target, points)| Series {
                target,
                values: median_by_clients(&points, &value),
                points,
            })
            .collect();
        if series.iter().any(|s| s.values.len() >= 2) {
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
