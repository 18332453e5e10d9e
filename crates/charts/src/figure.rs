//! A chart as plain data: a heading, panels of marks on axes, a legend and a footer. Chart
//! functions build a [`Figure`] from points; [`crate::render`] draws it. Keeping the two apart lets
//! a test check what a chart shows without decoding pictures, and keeps plotters' generics in one
//! module.

use std::ops::Range;

use plotters::style::RGBColor;

/// Canvas size of a one-panel chart, in pixels: wide enough for a legend beside the plot.
pub const SIZE: (u32, u32) = (1100, 640);

/// Canvas size of a chart with a grid of panels.
pub const GRID_SIZE: (u32, u32) = (1300, 900);

/// One chart, ready to draw.
#[derive(Debug, Clone)]
pub struct Figure {
    /// File name without extension.
    pub name: String,
    /// Bold, on top.
    pub title: String,
    /// Below the title: what was held fixed.
    pub subtitle: String,
    /// At the bottom: the machine and date measured on.
    pub footer: String,
    /// Pixels.
    pub size: (u32, u32),
    /// Panels per row.
    pub columns: usize,
    /// The plots, row by row.
    pub panels: Vec<Panel>,
    /// Above the legend: what its entries are (`target`, `work`).
    pub legend_title: String,
    /// One entry per series.
    pub legend: Vec<LegendEntry>,
}

/// One plot with its axes.
#[derive(Debug, Clone)]
pub struct Panel {
    /// Above the plot, when a figure has several.
    pub title: Option<String>,
    /// Horizontal axis.
    pub x: Axis,
    /// Vertical axis.
    pub y: Axis,
    /// What is drawn, in order.
    pub marks: Vec<Mark>,
}

/// An axis: its range, scale and labelled ticks.
#[derive(Debug, Clone)]
pub struct Axis {
    /// Label with unit, e.g. `p99 latency (µs)`.
    pub desc: String,
    /// Values shown.
    pub range: Range<f64>,
    /// Logarithmic (base 10) rather than linear.
    pub log: bool,
    /// Labelled ticks, each with a grid line.
    pub ticks: Vec<Tick>,
    /// Unlabelled light grid lines.
    pub minor: Vec<f64>,
    /// Draw grid lines across the plot for this axis' ticks.
    pub grid: bool,
}

/// A labelled tick.
#[derive(Debug, Clone, PartialEq)]
pub struct Tick {
    /// Where.
    pub at: f64,
    /// What it says.
    pub label: String,
}

/// Something drawn in a panel, in data coordinates.
#[derive(Debug, Clone)]
pub enum Mark {
    /// A series joined by a line.
    Line {
        /// Points, in x order.
        points: Vec<(f64, f64)>,
        /// Colour.
        color: RGBColor,
        /// Dashed rather than solid.
        dashed: bool,
        /// A dot at each point (for a few measured points, not for a dense curve).
        dots: bool,
    },
    /// A bar from the bottom of the y axis up to `y`.
    Bar {
        /// Its horizontal extent.
        x: Range<f64>,
        /// Its top.
        y: f64,
        /// Colour.
        color: RGBColor,
    },
    /// A confidence interval over repeated runs: a vertical line from `y.start` to `y.end` at
    /// `x`, with short caps.
    Whisker {
        /// Where.
        x: f64,
        /// From the lower bound to the upper.
        y: Range<f64>,
        /// Colour.
        color: RGBColor,
    },
    /// A small note at a point (`n/a` where a bar has no value).
    Note {
        /// Where, in data coordinates (the centre of the text's top edge).
        at: (f64, f64),
        /// What.
        text: String,
    },
    /// A cross for a point that failed (some clients starved), so no figure of it is drawn. It
    /// sits in a strip below the plot, labelled `starved`, never on the value axis, where it
    /// would read as a value.
    Failed {
        /// Where along the x axis, in data coordinates.
        x: f64,
        /// Which row of the strip (0 nearest the plot): a series each, so no cross hides another.
        row: usize,
        /// Colour.
        color: RGBColor,
    },
}

/// A legend entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LegendEntry {
    /// Its text.
    pub label: String,
    /// Its colour.
    pub color: RGBColor,
    /// How its sample is drawn.
    pub swatch: Swatch,
}

/// How a legend entry's sample is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Swatch {
    /// A short solid line with a dot.
    Line,
    /// A short dashed line with a dot.
    Dashed,
    /// A filled square, for bars.
    Block,
    /// A cross, for failed points.
    Cross,
    /// No sample: the label explains a mark written into the plot (`†`).
    Text,
}

/// The legend entry for failed points: what a [`Mark::Failed`] cross means.
pub fn failed_entry() -> LegendEntry {
    LegendEntry {
        label: "starved (row below the axis): no value".into(),
        color: MUTED,
        swatch: Swatch::Cross,
    }
}

/// The legend entry for points where the load generator was saturated (marked `†`).
pub fn saturated_entry() -> LegendEntry {
    LegendEntry {
        label: "† client saturated".into(),
        color: MUTED,
        swatch: Swatch::Text,
    }
}

/// Grey for marks and notes that are about the measurement rather than a series.
pub const MUTED: RGBColor = RGBColor(0x66, 0x66, 0x66);

impl Figure {
    /// A figure with one panel and the default size.
    pub fn single(
        name: String,
        title: String,
        subtitle: String,
        footer: String,
        panel: Panel,
    ) -> Self {
        Figure {
            name,
            title,
            subtitle,
            footer,
            size: SIZE,
            columns: 1,
            panels: vec![panel],
            legend_title: String::new(),
            legend: Vec::new(),
        }
    }

    /// Every mark of every panel.
    pub fn marks(&self) -> impl Iterator<Item = &Mark> {
        self.panels.iter().flat_map(|p| &p.marks)
    }
}

impl Axis {
    /// A linear axis from zero to a round number at or above `max`, with about five labelled
    /// ticks formatted by `label`.
    pub fn from_zero(desc: impl Into<String>, max: f64, label: impl Fn(f64) -> String) -> Self {
        let max = if max > 0.0 { max } else { 1.0 };
        let step = nice_step(max);
        let top = (max / step).ceil() * step;
        let ticks = (0..)
            .map(|i| i as f64 * step)
            .take_while(|v| *v <= top * (1.0 + 1e-9))
            .map(|at| Tick {
                at,
                label: label(at),
            })
            .collect();
        Axis {
            desc: desc.into(),
            range: 0.0..top * 1.05,
            log: false,
            ticks,
            minor: Vec::new(),
            grid: true,
        }
    }

    /// A linear axis over `range` with a tick at each `(position, label)`, and no grid: for
    /// time or categories.
    pub fn labelled(desc: impl Into<String>, range: Range<f64>, ticks: Vec<Tick>) -> Self {
        Axis {
            desc: desc.into(),
            range,
            log: false,
            ticks,
            minor: Vec::new(),
            grid: false,
        }
    }

    /// A logarithmic axis spanning whole decades around `min..=max` (both positive), with a
    /// labelled tick at each power of ten and light lines at 2…9 times it. Over two decades or
    /// fewer, 2× and 5× are labelled too, so that the axis has more than two or three labels.
    pub fn decades(
        desc: impl Into<String>,
        min: f64,
        max: f64,
        label: impl Fn(f64) -> String,
    ) -> Self {
        let lo = min.max(f64::MIN_POSITIVE).log10().floor() as i32;
        let hi = (max.max(min).log10().ceil() as i32).max(lo + 1);
        let labelled: &[u32] = if hi - lo <= 2 { &[1, 2, 5] } else { &[1] };
        let mut ticks = Vec::new();
        let mut minor = Vec::new();
        for e in lo..=hi {
            for m in 1..10u32 {
                let at = m as f64 * 10f64.powi(e);
                if e == hi && m > 1 {
                    break;
                }
                if labelled.contains(&m) {
                    ticks.push(Tick {
                        at,
                        label: label(at),
                    });
                } else {
                    minor.push(at);
                }
            }
        }
        Axis {
            desc: desc.into(),
            range: 10f64.powi(lo)..10f64.powi(hi),
            log: true,
            ticks,
            minor,
            grid: true,
        }
    }

    /// A logarithmic axis with a labelled tick at exactly each of `values` (positive), padded so
    /// that no point sits on the plot's edge: for client counts.
    pub fn log_at(desc: impl Into<String>, values: &[f64], label: impl Fn(f64) -> String) -> Self {
        let min = values.iter().copied().fold(f64::INFINITY, f64::min);
        let max = values.iter().copied().fold(0.0, f64::max);
        // Half a step of the usual 10× sweep on either side.
        const PAD: f64 = 2.0;
        Axis {
            desc: desc.into(),
            range: min / PAD..max * PAD,
            log: true,
            ticks: values
                .iter()
                .map(|&at| Tick {
                    at,
                    label: label(at),
                })
                .collect(),
            minor: Vec::new(),
            grid: true,
        }
    }

    /// The value a fraction `f` of the way up the axis (0 at its start, 1 at its end), on its
    /// own scale: where to put a note just above the axis.
    pub fn fraction(&self, f: f64) -> f64 {
        let Range { start, end } = self.range;
        if self.log {
            start * (end / start).powf(f)
        } else {
            start + (end - start) * f
        }
    }

    /// The inverse of [`Axis::fraction`]: how far up the axis `v` is (0 at its start).
    pub fn fraction_of(&self, v: f64) -> f64 {
        let Range { start, end } = self.range;
        if self.log {
            (v / start).ln() / (end / start).ln()
        } else {
            (v - start) / (end - start)
        }
    }

    /// The label of the tick at `v`, or nothing.
    pub fn label_at(&self, v: f64) -> String {
        let close = |t: &&Tick| (t.at - v).abs() <= 1e-9 * t.at.abs().max(1e-9);
        self.ticks
            .iter()
            .find(close)
            .map(|t| t.label.clone())
            .unwrap_or_default()
    }
}

/// A step of 1, 2 or 5 times a power of ten that cuts `0..max` into four to eight parts.
fn nice_step(max: f64) -> f64 {
    let rough = max / 5.0;
    let power = 10f64.powf(rough.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|step| max / step <= 8.0)
        .unwrap_or(10.0 * power)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round() {
        let a = Axis::from_zero("x", 147_000.0, |v| format!("{v}"));
        let at: Vec<f64> = a.ticks.iter().map(|t| t.at).collect();
        assert_eq!(
            at,
            [
                0.0, 20_000.0, 40_000.0, 60_000.0, 80_000.0, 100_000.0, 120_000.0, 140_000.0,
                160_000.0
            ]
        );
        assert!(a.range.end >= 160_000.0);
        assert_eq!(Axis::from_zero("x", 0.0, |v| format!("{v}")).ticks.len(), 6);
    }

    #[test]
    fn log_axes_cover_whole_decades() {
        let a = Axis::decades("y", 19.0, 3_100.0, |v| format!("{v}"));
        assert_eq!(a.range, 10.0..10_000.0);
        assert_eq!(a.ticks.len(), 4);
        assert_eq!(a.minor.len(), 3 * 8);
        assert_eq!(a.label_at(1000.0), "1000");
        assert_eq!(a.label_at(1500.0), "");
        let one = Axis::decades("y", 100.0, 100.0, |v| format!("{v}"));
        assert_eq!(one.range, 100.0..1000.0);
        let at: Vec<f64> = one.ticks.iter().map(|t| t.at).collect();
        assert_eq!(
            at,
            [100.0, 200.0, 500.0, 1000.0],
            "a short axis labels 2× and 5× too"
        );
    }
}
