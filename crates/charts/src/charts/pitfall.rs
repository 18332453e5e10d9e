//! The pitfall table as a chart: the same servers with different work per message (none, the
//! right way to wait, a blocking call on the loop, the blocking call offloaded), side by side.

use echo_report::stats::Spread;
use echo_report::{RunConfig, TargetResult, work_rank};
use plotters::style::RGBColor;

use super::cpu::{GROUP_WIDTH, category_axis};
use super::{ChartKind, Context, NoData, distance_from_preferred, no_such_clients};
use crate::figure::{
    Axis, Figure, GRID_SIZE, LegendEntry, Mark, Panel, Swatch, failed_entry, saturated_entry,
};
use crate::load::Point;
use crate::scenario::{Scenario, by_target};
use crate::style::{COLORS, TimeUnit, footer, nth_color, plain, si};

/// Where an `n/a` note sits: this fraction of the way up its panel.
const NOTE_HEIGHT: f64 = 0.07;

/// Canvas size: the grid's width, and taller, for target names turned upright under each panel
/// (16 targets with names up to `python-asyncio` do not fit level).
const SIZE: (u32, u32) = (GRID_SIZE.0, GRID_SIZE.1 + 140);

/// A figure each bar shows.
struct Metric {
    title: &'static str,
    /// Latency in ns (drawn on the shared log axis) or, if not, throughput in msgs/s.
    latency: bool,
    /// Its value in one run of a target.
    value: fn(&RunConfig, &TargetResult) -> Option<f64>,
}

const METRICS: [Metric; 4] = [
    Metric {
        title: "Bystander p99: messages with no work",
        latency: true,
        value: bystander_p99,
    },
    Metric {
        title: "Working p99: messages with work",
        latency: true,
        value: working_p99,
    },
    Metric {
        title: "Event-loop lag p99 (server's own probe)",
        latency: true,
        value: loop_lag_p99,
    },
    Metric {
        title: "Throughput",
        latency: false,
        value: |_, t| t.msgs_per_sec,
    },
];

/// Results that differ only in `work` (at one message size, rate and client count), as grouped
/// bars per target: bystander p99, working p99, the server's loop-lag p99 and throughput, a bar
/// per work. The client count is `--at-clients` or, by default, the one with the most kinds of
/// work (ties: most targets, clients nearest 100).
pub fn pitfall(ctx: &Context) -> Result<Figure, NoData> {
    let (scenario, clients, points, works) = pick(ctx)?;
    let targets = by_target(&points);
    let names: Vec<&str> = targets.iter().map(|(n, _)| *n).collect();

    // spreads[m][t][w]: metric m of target t under work w over every run (of every repetition
    // and every file) measuring it: the bar shows the median, a whisker its interval.
    let spreads: Vec<Vec<Vec<Option<Spread>>>> = METRICS
        .iter()
        .map(|m| {
            targets
                .iter()
                .map(|(_, pts)| {
                    works
                        .iter()
                        .map(|w| {
                            let runs: Vec<f64> = pts
                                .iter()
                                .filter(|p| p.scenario().work_label() == *w)
                                .flat_map(|p| {
                                    let config = &p.run().config;
                                    p.target()
                                        .runs()
                                        .iter()
                                        .filter_map(|r| (m.value)(config, r))
                                })
                                .collect();
                            Spread::of(&runs)
                        })
                        .collect()
                })
                .collect()
        })
        .collect();
    let values: Vec<Vec<Vec<Option<f64>>>> = spreads
        .iter()
        .map(|m| {
            m.iter()
                .map(|t| t.iter().map(|w| w.map(|s| s.median)).collect())
                .collect()
        })
        .collect();
    let any_whisker = spreads
        .iter()
        .flatten()
        .flatten()
        .flatten()
        .any(|s| s.n > 1);

    // starved[t][w]: some clients of target t under work w never got a reply: no bar, a cross
    // in the strip below the plot. saturated[t][w]: the load generator was the limit: a `†`.
    let starved = grid(&targets, &works, Point::starved);
    let saturated = grid(&targets, &works, Point::saturated);
    let any_starved = starved.iter().flatten().any(|s| *s);
    let any_saturated = saturated.iter().flatten().any(|s| *s);

    // Every median and interval bound of the latency (or throughput) metrics, for the axes to
    // hold them.
    let extent = |latency: bool| {
        METRICS
            .iter()
            .zip(&spreads)
            .filter(move |(m, _)| m.latency == latency)
            .flat_map(|(_, v)| v.iter().flatten().flatten())
            .flat_map(|s| [s.median, s.interval.lo, s.interval.hi])
    };
    let latencies = || extent(true).filter(|v| *v > 0.0);
    let max_ns = latencies().fold(0.0, f64::max);
    let min_ns = latencies().fold(f64::INFINITY, f64::min);
    let unit = TimeUnit::for_max_ns(max_ns);
    let latency_axis = if max_ns > 0.0 {
        let desc = format!("p99 ({}, log scale)", unit.name);
        Axis::decades(desc, unit.of(min_ns), unit.of(max_ns), plain)
    } else {
        Axis::decades(format!("p99 ({})", unit.name), 1.0, 10.0, plain)
    };
    let max_rate = extent(false).fold(0.0, f64::max);
    let rate_axis = Axis::from_zero("round trips per second (msgs/s)", max_rate, si);

    let colors = work_colors(&works);
    let bar_w = GROUP_WIDTH / works.len() as f64;
    let panels = METRICS
        .iter()
        .zip(values.iter().zip(&spreads))
        .map(|(metric, (by_target, spreads))| {
            let (y, scale): (Axis, Box<dyn Fn(f64) -> f64>) = if metric.latency {
                (latency_axis.clone(), Box::new(move |v| unit.of(v)))
            } else {
                (rate_axis.clone(), Box::new(|v| v))
            };
            let mut marks = Vec::new();
            for (t, row) in by_target.iter().enumerate() {
                // A whole group without a value (no event loop to probe) gets one note, not one
                // per bar crammed side by side.
                if row.iter().all(|v| v.is_none()) {
                    marks.push(Mark::Note {
                        at: (t as f64 + 0.5, y.fraction(NOTE_HEIGHT)),
                        text: "n/a".into(),
                    });
                    continue;
                }
                for (w, value) in row.iter().enumerate() {
                    let x0 = t as f64 + (1.0 - GROUP_WIDTH) / 2.0 + w as f64 * bar_w;
                    let centre = x0 + bar_w * 0.46;
                    if starved[t][w] {
                        marks.push(Mark::Failed {
                            x: centre,
                            row: 0,
                            color: colors[w],
                        });
                        continue;
                    }
                    match value {
                        Some(v) => {
                            marks.push(Mark::Bar {
                                x: x0..x0 + bar_w * 0.92,
                                y: scale(*v),
                                color: colors[w],
                            });
                            if let Some(s) = spreads[t][w].filter(|s| s.n > 1) {
                                marks.push(Mark::Whisker {
                                    x: centre,
                                    y: scale(s.interval.lo)..scale(s.interval.hi),
                                    color: super::WHISKER_INK,
                                });
                            }
                            if saturated[t][w] {
                                let above = y.fraction(y.fraction_of(scale(*v)) + 0.03);
                                marks.push(Mark::Note {
                                    at: (centre, above),
                                    text: "†".into(),
                                });
                            }
                        }
                        None => marks.push(Mark::Note {
                            at: (centre, y.fraction(NOTE_HEIGHT)),
                            text: "–".into(),
                        }),
                    }
                }
            }
            Panel {
                title: Some(metric.title.into()),
                x: category_axis("target", &names),
                y,
                marks,
            }
        })
        .collect();

    Ok(Figure {
        name: ChartKind::Pitfall.to_string(),
        title: "The pitfall: work in the handler, and who waits for it".into(),
        subtitle: format!(
            "{}, {clients} clients · n/a, –: not measured (no event loop, or no such messages){}",
            plain_label(&scenario),
            if any_whisker { super::WHISKER_NOTE } else { "" }
        ),
        footer: footer(points.iter().map(|p| p.run())),
        size: SIZE,
        columns: 2,
        panels,
        legend_title: "work".into(),
        legend: works
            .iter()
            .zip(&colors)
            .map(|(w, &color)| LegendEntry {
                label: w.clone(),
                color,
                swatch: Swatch::Block,
            })
            .chain(any_starved.then(failed_entry))
            .chain(any_saturated.then(saturated_entry))
            .collect(),
    })
}

/// `grid[t][w]`: whether `flag` holds for any point of target `t` under work `w`.
fn grid(
    targets: &[(&str, Vec<&Point>)],
    works: &[String],
    flag: fn(&Point) -> bool,
) -> Vec<Vec<bool>> {
    targets
        .iter()
        .map(|(_, pts)| {
            works
                .iter()
                .map(|w| {
                    pts.iter()
                        .any(|p| p.scenario().work_label() == *w && flag(p))
                })
                .collect()
        })
        .collect()
}

/// The scenario's label without its work, which varies here.
fn plain_label(s: &Scenario) -> String {
    Scenario {
        work: "none".into(),
        work_every: 1,
        ..s.clone()
    }
    .label()
}

type Group<'a> = (Scenario, usize, Vec<&'a Point>, Vec<String>);

/// The group of points to show: same message size, rate and clients, two kinds of work or more.
/// Returns the scenario (of its first point), clients, points and work labels in story order.
fn pick<'a>(ctx: &Context<'a>) -> Result<Group<'a>, NoData> {
    let mut groups: Vec<(Scenario, usize, Vec<&'a Point>)> = Vec::new();
    for p in &ctx.points {
        if ctx.options.at_clients.is_some_and(|n| n != p.clients()) {
            continue;
        }
        let s = p.scenario();
        let same = |g: &Scenario, c: usize| {
            g.msg_size == s.msg_size
                && g.rate.map(f64::to_bits) == s.rate.map(f64::to_bits)
                && c == p.clients()
        };
        match groups.iter_mut().find(|(g, c, _)| same(g, *c)) {
            Some((_, _, members)) => members.push(p),
            None => groups.push((s, p.clients(), vec![p])),
        }
    }
    let with_works = groups.into_iter().filter_map(|(s, c, pts)| {
        let mut works: Vec<String> = pts.iter().map(|p| p.scenario().work_label()).collect();
        works.sort_by(|a, b| work_rank(a).cmp(&work_rank(b)).then(a.cmp(b)));
        works.dedup();
        (works.len() >= 2).then_some((s, c, pts, works))
    });
    let best = with_works
        .enumerate()
        .min_by_key(|(i, (_, c, pts, works))| {
            (
                std::cmp::Reverse(works.len()),
                std::cmp::Reverse(by_target(pts).len()),
                distance_from_preferred(*c),
                *i,
            )
        });
    match (best, ctx.options.at_clients) {
        (Some((_, group)), _) => Ok(group),
        (None, Some(n)) if !ctx.points.iter().any(|p| p.clients() == n) => {
            Err(no_such_clients(n, &ctx.points))
        }
        _ => Err(NoData(
            "no results that differ only in --work (same message size, rate and clients): run loadgen with --work none, block:…, offload:…".into(),
        )),
    }
}

/// A colour per work that says what it is: the plain echo blue, the right way to wait green, a
/// blocking call red, offloading orange. Another of a kind already coloured gets a free colour.
fn work_colors(works: &[String]) -> Vec<RGBColor> {
    let mut used: Vec<RGBColor> = Vec::new();
    for w in works {
        let preferred = match w.split(':').next().unwrap_or(w) {
            "none" => Some(COLORS[0]),
            "sleep" => Some(COLORS[4]),
            "block" | "file-block" | "sqlite-block" => Some(COLORS[2]),
            "offload" | "file-offload" | "sqlite-offload" => Some(COLORS[1]),
            "cpu" => Some(COLORS[6]),
            _ => None,
        };
        let color = preferred
            .filter(|c| !used.contains(c))
            .or_else(|| {
                (0..)
                    .map(nth_color)
                    .take(COLORS.len())
                    .find(|c| !used.contains(c))
            })
            .unwrap_or(COLORS[9]);
        used.push(color);
    }
    used
}

fn p99_of(l: &echo_report::Latency) -> Option<f64> {
    (l.count > 0).then_some(l.p99 as f64)
}

/// p99 of the messages without work; with no work at all, every message is one.
fn bystander_p99(config: &RunConfig, t: &TargetResult) -> Option<f64> {
    match &t.bystander_latency_ns {
        Some(l) => p99_of(l),
        None if config.work == "none" => p99_of(&t.latency_ns),
        None => None,
    }
}

/// p99 of the messages with work; with work on every message, every message is one.
fn working_p99(config: &RunConfig, t: &TargetResult) -> Option<f64> {
    match &t.working_latency_ns {
        Some(l) => p99_of(l),
        None if config.work != "none" && config.work_every <= 1 => p99_of(&t.latency_ns),
        None => None,
    }
}

/// The server's event-loop lag p99, when it has a loop and loadgen started it.
fn loop_lag_p99(_: &RunConfig, t: &TargetResult) -> Option<f64> {
    let lag = t.server_summary.as_ref()?.loop_lag_ns?;
    (lag.samples > 0).then_some(lag.p99 as f64)
}
