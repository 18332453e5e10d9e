//! A rising rate (`loadgen --rate-ramp`): second by second, the rate asked for, the rate each
//! target achieved, and its p99. Where the achieved line leaves the asked one and the p99 turns
//! up is the knee of that server's latency curve, found in one run.

use echo_report::Tick;
use plotters::style::RGBColor;

use super::seconds::{P99Scale, time_axis};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, LegendEntry, Mark, Panel, Swatch};
use crate::load::Point;
use crate::scenario::by_target;
use crate::style::{footer, si};

/// Canvas size: two panels stacked, as the timeline.
const SIZE: (u32, u32) = (1100, 820);

/// The rate asked for: black and dashed, the line every target is measured against.
const ASKED: RGBColor = RGBColor(0x20, 0x20, 0x20);

/// One figure per ramp run (result file): replies per second against the rate asked above, p99
/// of each second below (log scale), a line per target.
pub fn ramp(ctx: &Context) -> Result<Vec<Figure>, NoData> {
    let ramped: Vec<&Point> = ctx
        .points
        .iter()
        .copied()
        .filter(|p| p.run().config.rate_ramp.is_some() && !p.target().timeline.is_empty())
        .collect();
    if ramped.is_empty() {
        return Err(NoData(
            "no ramp runs (results of loadgen --rate-ramp with a timeline)".into(),
        ));
    }
    let mut files: Vec<&std::path::Path> = ramped.iter().map(|p| p.source.as_path()).collect();
    files.dedup();
    let figures = files
        .iter()
        .map(|file| {
            let run: Vec<&Point> = ramped
                .iter()
                .copied()
                .filter(|p| p.source == *file)
                .collect();
            let name = if files.len() == 1 {
                ChartKind::Ramp.to_string()
            } else {
                let stem = file.file_stem().map_or_else(String::new, |s| {
                    s.to_string_lossy().replace(['.', ':', ' '], "_")
                });
                format!("{}-{stem}", ChartKind::Ramp)
            };
            figure(ctx, name, &run)
        })
        .collect();
    Ok(figures)
}

fn figure(ctx: &Context, name: String, run: &[&Point]) -> Figure {
    let first = run[0];
    let scale = P99Scale::of(run);
    let unit = scale.unit;
    let end = run
        .iter()
        .flat_map(|p| p.target().timeline.last().map(|t| t.t_s))
        .fold(0.0, f64::max);

    let asked: Vec<(f64, f64)> = ticks(first)
        .into_iter()
        .filter_map(|(t, _, tick)| tick.asked_rate.map(|r| (t, r)))
        .collect();
    let mut max_rate = asked.iter().map(|a| a.1).fold(0.0, f64::max);
    let mut rate_marks = Vec::new();
    let mut p99_marks = Vec::new();
    let mut legend = vec![LegendEntry {
        label: "asked".into(),
        color: ASKED,
        swatch: Swatch::Dashed,
    }];
    for (target, pts) in by_target(run) {
        let color = ctx.palette.color(target);
        for p in pts {
            let achieved: Vec<(f64, f64)> = ticks(p)
                .into_iter()
                .map(|(t, len, tick)| (t, tick.msgs as f64 / len))
                .collect();
            max_rate = achieved.iter().map(|a| a.1).fold(max_rate, f64::max);
            rate_marks.push(Mark::Line {
                points: achieved,
                color,
                dashed: false,
                dots: true,
            });
            p99_marks.push(Mark::Line {
                points: ticks(p)
                    .into_iter()
                    .filter(|(_, _, tick)| tick.p99_ns > 0)
                    .map(|(t, _, tick)| (t, unit.of(tick.p99_ns as f64)))
                    .collect(),
                color,
                dashed: false,
                dots: true,
            });
        }
        legend.push(LegendEntry {
            label: target.to_string(),
            color,
            swatch: Swatch::Line,
        });
    }
    // Drawn last, on top: where a target keeps up, its line hides under this one.
    rate_marks.push(Mark::Line {
        points: asked,
        color: ASKED,
        dashed: true,
        dots: false,
    });
    let config = &first.run().config;
    Figure {
        name,
        title: "A rising rate: where each server's latency turns up".into(),
        subtitle: format!(
            "rate {} across the window, {} clients, {}B messages · latency from each \
             message's due time",
            config.rate_ramp.as_deref().unwrap_or("?"),
            config.clients,
            config.msg_size
        ),
        footer: footer(run.iter().map(|p| p.run())),
        size: SIZE,
        columns: 1,
        panels: vec![
            Panel {
                title: Some("Replies per second against the rate asked".into()),
                x: time_axis(end),
                y: Axis::from_zero("messages per second (msgs/s)", max_rate, si),
                marks: rate_marks,
            },
            scale.panel(end, p99_marks),
        ],
        legend_title: "messages".into(),
        legend,
    }
}

/// A point's seconds: (end of the second, its length, the tick). The timeline's last tick may be
/// a little longer than a second (the window's overrun is folded into it), so rates divide by
/// each tick's own length.
fn ticks(p: &Point) -> Vec<(f64, f64, &Tick)> {
    let mut start = 0.0;
    p.target()
        .timeline
        .iter()
        .map(|t| {
            let len = t.t_s - start;
            start = t.t_s;
            (t.t_s, len, t)
        })
        .filter(|(_, len, _)| *len > 0.0)
        .collect()
}
