//! Server CPU per message: what each runtime spends, kernel included, to echo one message.

use plotters::style::RGBColor;

use super::{ChartKind, Context, NoData};
use crate::figure::{
    Axis, Figure, LegendEntry, Mark, Panel, Swatch, Tick, failed_entry, saturated_entry,
};
use crate::scenario::{by_scenario, by_target, median};
use crate::style::{TimeUnit, footer, plain, si};

/// Of a category's width, the part its bars fill; the rest separates categories.
pub(super) const GROUP_WIDTH: f64 = 0.8;

/// Light to dark blue: more clients, darker bar.
const FEW: (f64, f64, f64) = (0x9e as f64, 0xca as f64, 0xe1 as f64);
const MANY: (f64, f64, f64) = (0x08 as f64, 0x30 as f64, 0x6b as f64);

/// The server's user + system CPU time per message (`server.cpu_ns_per_msg`), bars per target,
/// a bar per client count (the median of repeats); one figure per scenario.
pub fn cpu(ctx: &Context) -> Result<Vec<Figure>, NoData> {
    let with_cost: Vec<_> = ctx
        .points
        .iter()
        .copied()
        .filter(|p| {
            p.target()
                .server
                .and_then(|s| s.cpu_ns_per_msg)
                .is_some_and(f64::is_finite)
        })
        .filter(|p| p.target().messages > 0)
        .collect();
    if with_cost.is_empty() {
        return Err(NoData(
            "no server CPU figures (server.cpu_ns_per_msg): loadgen records them for servers it starts or is given --server-pid".into(),
        ));
    }
    let mut figures = Vec::new();
    for (scenario, members) in by_scenario(&with_cost) {
        let targets = by_target(&members);
        let mut clients: Vec<usize> = members.iter().map(|p| p.clients()).collect();
        clients.sort_unstable();
        clients.dedup();

        let cost = |p: &&crate::load::Point| {
            p.target()
                .server
                .and_then(|s| s.cpu_ns_per_msg)
                .unwrap_or(0.0)
        };
        // Starved points draw no bar, so their cost must not stretch the axis.
        let max_ns = members
            .iter()
            .filter(|p| !p.starved())
            .map(cost)
            .fold(0.0, f64::max);
        let unit = if max_ns < 10_000.0 {
            TimeUnit {
                name: "ns",
                ns: 1.0,
            }
        } else {
            TimeUnit::for_max_ns(max_ns)
        };

        let bar_w = GROUP_WIDTH / clients.len() as f64;
        let y_desc = format!("server CPU per message ({}, user + system)", unit.name);
        let y = Axis::from_zero(y_desc, unit.of(max_ns), plain);
        let mut marks = Vec::new();
        let (mut any_failed, mut any_saturated) = (false, false);
        for (i, (_, pts)) in targets.iter().enumerate() {
            for (j, &c) in clients.iter().enumerate() {
                let at_c: Vec<_> = pts.iter().copied().filter(|p| p.clients() == c).collect();
                let v = median(at_c.iter().map(cost));
                if v.is_nan() {
                    continue;
                }
                let x0 = i as f64 + (1.0 - GROUP_WIDTH) / 2.0 + j as f64 * bar_w;
                let centre = x0 + bar_w * 0.46;
                // Starved clients: the messages counted are only the served clients', so the
                // cost per message is not comparable. A cross instead of a bar.
                if at_c.iter().any(|p| p.starved()) {
                    any_failed = true;
                    marks.push(Mark::Failed {
                        x: centre,
                        row: 0,
                        color: shade(j, clients.len()),
                    });
                    continue;
                }
                marks.push(Mark::Bar {
                    x: x0..x0 + bar_w * 0.92,
                    y: unit.of(v),
                    color: shade(j, clients.len()),
                });
                if at_c.iter().any(|p| p.saturated()) {
                    any_saturated = true;
                    marks.push(Mark::Note {
                        at: (centre, y.fraction(y.fraction_of(unit.of(v)) + 0.05)),
                        text: "†".into(),
                    });
                }
            }
        }
        let mut legend: Vec<LegendEntry> = clients
            .iter()
            .enumerate()
            .map(|(j, &c)| LegendEntry {
                label: si(c as f64),
                color: shade(j, clients.len()),
                swatch: Swatch::Block,
            })
            .collect();
        if any_failed {
            legend.push(failed_entry());
        }
        if any_saturated {
            legend.push(saturated_entry());
        }
        let names: Vec<&str> = targets.iter().map(|(n, _)| *n).collect();
        let panel = Panel {
            title: None,
            x: category_axis("target", &names),
            y,
            marks,
        };
        let mut f = Figure::single(
            format!("{}-{}", ChartKind::Cpu, scenario.slug()),
            "Server CPU per message".into(),
            scenario.label(),
            footer(members.iter().map(|p| p.run())),
            panel,
        );
        f.legend_title = "clients".into();
        f.legend = legend;
        figures.push(f);
    }
    Ok(figures)
}

/// An axis of `names`, one unit wide each, labelled at their centres.
pub(super) fn category_axis(desc: &str, names: &[&str]) -> Axis {
    let ticks = names
        .iter()
        .enumerate()
        .map(|(i, n)| Tick {
            at: i as f64 + 0.5,
            label: n.to_string(),
        })
        .collect();
    Axis::labelled(desc, 0.0..names.len() as f64, ticks)
}

/// The `j`th of `n` shades from light to dark.
fn shade(j: usize, n: usize) -> RGBColor {
    let t = if n > 1 {
        j as f64 / (n - 1) as f64
    } else {
        1.0
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(FEW.0, MANY.0), mix(FEW.1, MANY.1), mix(FEW.2, MANY.2))
}
