//! Latency over time: throughput and p99 second by second for one run, where a stall shows as a
//! spike that a whole-run percentile would average away.

use std::path::Path;

use echo_report::Tick;

use super::seconds::{P99Scale, time_axis};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, LegendEntry, Mark, Panel, Swatch, saturated_entry};
use crate::load::Point;
use crate::scenario::{by_target, median};
use crate::style::{TimeUnit, footer, plain, si};

/// Canvas size: two panels stacked.
const SIZE: (u32, u32) = (1100, 820);

/// Fewest ticks (seconds) that make a timeline.
const MIN_TICKS: usize = 2;

/// A tick shorter than this fraction of the median tick is left out: the sliver at the end of a
/// window holds a handful of messages, so its rate and p99 would be noise drawn as a spike.
const MIN_TICK_FRACTION: f64 = 0.5;

/// Every target of one run, second by second: messages per second above, p99 below. The run is
/// `--timeline-file` (and `--timeline-target`) or, by default, the one holding the target whose
/// worst second has the largest p99, among points whose clients did not starve.
pub fn timeline(ctx: &Context) -> Result<Figure, NoData> {
    let o = &ctx.options;
    let candidates: Vec<&Point> = ctx
        .points
        .iter()
        .copied()
        .filter(|p| full_ticks(p).len() >= MIN_TICKS)
        .filter(|p| {
            o.timeline_file
                .as_deref()
                .is_none_or(|f| names_file(f, &p.source))
        })
        .filter(|p| o.timeline_target.as_deref().is_none_or(|t| t == p.name()))
        // A run whose clients starved has no stall to show: its figures leave them out.
        .filter(|p| !p.starved() || o.timeline_file.is_some() || o.timeline_target.is_some())
        .collect();
    // The largest stall is the second with the largest p99, in time: a 1.5 s second among
    // 10,000 clients outranks a 750 µs blip that is large only as a ratio to its neighbours.
    let Some((spiky, s)) = candidates
        .iter()
        .filter_map(|p| spike(p).map(|s| (*p, s)))
        .max_by(|a, b| a.1.worst_ns.total_cmp(&b.1.worst_ns))
    else {
        let mut why = format!("no result with a timeline of {MIN_TICKS} seconds or more");
        if let Some(f) = &o.timeline_file {
            why += &format!(" in a file named {}", f.display());
        }
        if let Some(t) = &o.timeline_target {
            why += &format!(" for target {t}");
        }
        return Err(NoData(why));
    };
    // Every target of the same run (file) that was loaded, the spiky one among them.
    let run: Vec<&Point> = ctx
        .points
        .iter()
        .copied()
        .filter(|p| p.source == spiky.source)
        .collect();

    let per_target = by_target(&run);
    let scale = P99Scale::of(&run);
    let unit = scale.unit;
    let end = run
        .iter()
        .flat_map(|p| full_ticks(p).last().map(|(_, t)| t.t_s))
        .fold(0.0, f64::max);

    let mut rate_marks = Vec::new();
    let mut p99_marks = Vec::new();
    let mut legend = Vec::new();
    let mut max_rate = 0.0f64;
    for (name, pts) in &per_target {
        let color = ctx.palette.color(name);
        if let Some(p) = pts.iter().find(|p| p.starved()) {
            let t = p.target();
            legend.push(LegendEntry {
                label: format!(
                    "{name}: {} of {} clients starved",
                    t.starved_clients.unwrap_or_default(),
                    t.connected
                ),
                color,
                swatch: Swatch::Cross,
            });
            continue;
        }
        for p in pts {
            let rates = per_second(p);
            max_rate = rates.iter().map(|r| r.1).fold(max_rate, f64::max);
            rate_marks.push(Mark::Line {
                points: rates,
                color,
                dashed: false,
                dots: true,
            });
            let p99: Vec<(f64, f64)> = full_ticks(p)
                .into_iter()
                .map(|(_, t)| t)
                .filter(|t| t.p99_ns > 0)
                .map(|t| (t.t_s, unit.of(t.p99_ns as f64)))
                .collect();
            p99_marks.push(Mark::Line {
                points: p99,
                color,
                dashed: false,
                dots: true,
            });
        }
        let dagger = if pts.iter().any(|p| p.saturated()) {
            " †"
        } else {
            ""
        };
        legend.push(LegendEntry {
            label: format!("{name}{dagger}"),
            color,
            swatch: Swatch::Line,
        });
    }
    if run.iter().any(|p| p.saturated() && !p.starved()) {
        legend.push(saturated_entry());
    }

    let panels = vec![
        Panel {
            title: Some("Round trips per second".into()),
            x: time_axis(end),
            y: Axis::from_zero("round trips per second (msgs/s)", max_rate, si),
            marks: rate_marks,
        },
        scale.panel(end, p99_marks),
    ];
    let file = spiky
        .source
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let spike_unit = TimeUnit::for_max_ns(s.worst_ns);
    Ok(Figure {
        name: ChartKind::Timeline.to_string(),
        title: format!(
            "Latency over time: {} peaks at {} {} p99 (t = {} s)",
            spiky.name(),
            three_figures(spike_unit.of(s.worst_ns)),
            spike_unit.name,
            plain(s.at_s)
        ),
        subtitle: format!(
            "{}, {} clients · {file} · worst second {:.1}× the median second",
            spiky.scenario().label(),
            spiky.clients(),
            s.ratio
        ),
        footer: footer(run.iter().map(|p| p.run())),
        size: SIZE,
        columns: 1,
        panels,
        legend_title: "target".into(),
        legend,
    })
}

/// `x` to three significant figures: `53.6`, `120`, `4.57`.
fn three_figures(x: f64) -> String {
    let decimals = (2 - x.abs().max(1e-9).log10().floor() as i32).clamp(0, 2) as usize;
    format!("{x:.decimals$}")
}

/// A point's worst second.
#[derive(Debug, Clone, Copy)]
struct Spike {
    /// Its p99, in ns.
    worst_ns: f64,
    /// When it ended, seconds into the window.
    at_s: f64,
    /// Its p99 over the median second's p99.
    ratio: f64,
}

fn spike(p: &Point) -> Option<Spike> {
    let ticks: Vec<_> = p
        .target()
        .timeline
        .iter()
        .filter(|t| t.p99_ns > 0)
        .collect();
    if ticks.len() < MIN_TICKS {
        return None;
    }
    let worst = ticks.iter().max_by_key(|t| t.p99_ns)?;
    let typical = median(ticks.iter().map(|t| t.p99_ns as f64));
    Some(Spike {
        worst_ns: worst.p99_ns as f64,
        at_s: worst.t_s,
        ratio: worst.p99_ns as f64 / typical,
    })
}

/// (end of tick, messages per second in it).
fn per_second(p: &Point) -> Vec<(f64, f64)> {
    full_ticks(p)
        .into_iter()
        .map(|(len, t)| (t.t_s, t.msgs as f64 / len))
        .collect()
}

/// The point's ticks with their lengths (the time since the previous tick), without ticks much
/// shorter than the others (see [`MIN_TICK_FRACTION`]).
fn full_ticks(p: &Point) -> Vec<(f64, &Tick)> {
    let mut start = 0.0;
    let mut ticks = Vec::new();
    for t in &p.target().timeline {
        ticks.push((t.t_s - start, t));
        start = t.t_s;
    }
    let typical = median(ticks.iter().map(|(len, _)| *len));
    ticks.retain(|(len, _)| *len > 0.0 && *len >= MIN_TICK_FRACTION * typical);
    ticks
}

/// Whether `given` (a path, file name or file stem) names `source`.
fn names_file(given: &Path, source: &Path) -> bool {
    given == source
        || source.ends_with(given)
        || source
            .file_stem()
            .is_some_and(|stem| given.as_os_str() == stem)
}
