//! What the charts drawn second by second share (the timeline and the ramp): the time axis and
//! the panel of each second's p99, on one scale for every run they show.

use crate::figure::{Axis, Mark, Panel};
use crate::load::Point;
use crate::style::{TimeUnit, plain};

/// The time axis, from the window's opening to `end` seconds.
pub fn time_axis(end: f64) -> Axis {
    Axis::from_zero("time since the measured window opened (s)", end, plain)
}

/// The scale of the p99 panel for `points`: a unit and the range of every second's p99.
pub struct P99Scale {
    pub unit: TimeUnit,
    min_ns: f64,
    max_ns: f64,
}

impl P99Scale {
    /// Over every second with a reply in `points`' timelines; one empty decade if none had one.
    pub fn of(points: &[&Point]) -> Self {
        let p99s = || {
            points
                .iter()
                .flat_map(|p| p.target().timeline.iter().map(|t| t.p99_ns as f64))
                .filter(|v| *v > 0.0)
        };
        let max_ns = p99s().fold(0.0, f64::max);
        let unit = TimeUnit::for_max_ns(max_ns);
        match max_ns {
            0.0 => P99Scale {
                min_ns: unit.ns,
                max_ns: unit.ns,
                unit,
            },
            max_ns => P99Scale {
                min_ns: p99s().fold(f64::INFINITY, f64::min),
                max_ns,
                unit,
            },
        }
    }

    /// The panel "p99 latency of each second" over `end` seconds, with `marks` in this unit.
    pub fn panel(&self, end: f64, marks: Vec<Mark>) -> Panel {
        Panel {
            title: Some("p99 latency of each second".into()),
            x: time_axis(end),
            y: Axis::decades(
                format!("p99 ({}, log scale)", self.unit.name),
                self.unit.of(self.min_ns),
                self.unit.of(self.max_ns),
                plain,
            ),
            marks,
        }
    }
}
