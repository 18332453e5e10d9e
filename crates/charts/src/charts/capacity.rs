//! Capacity under a latency target: for each target, the highest open-loop rate whose tail
//! latency kept each promise (`loadgen --find-capacity`), beside its closed-loop maximum, which
//! ignores latency and so flatters a server that lets queues grow.

use plotters::style::RGBColor;

use super::cpu::{GROUP_WIDTH, category_axis};
use super::{ChartKind, Context, NoData};
use crate::figure::{Axis, Figure, LegendEntry, Mark, Panel, Swatch};
use crate::load::Point;
use crate::scenario::latest;
use crate::style::{footer, si};
use echo_report::Figure::{Capacity, MsgsPerSec};
use echo_report::stats::Spread;

/// Closed-loop bars: grey, so the eye reads the promises first.
const CLOSED_LOOP: RGBColor = RGBColor(0xa0, 0xa0, 0xa0);

/// One bar colour per promise, tightest first (blue to green), as the palette of a sequence.
const PROMISES: [RGBColor; 4] = [
    RGBColor(0x08, 0x51, 0x9c),
    RGBColor(0x31, 0x82, 0xbd),
    RGBColor(0x41, 0xab, 0x5d),
    RGBColor(0x74, 0xc4, 0x76),
];

/// Whether a point is a plain closed-loop run (no rate, ramp, churn or search).
fn closed_loop(p: &Point) -> bool {
    let c = &p.run().config;
    let t = p.target();
    c.rate.is_none()
        && c.rate_ramp.is_none()
        && c.connection_mode.is_none()
        && t.capacity.is_none()
        && t.churn.is_none()
}

/// A bar per target and promise (the capacity each search found; a note where it found none or
/// only a lower bound), and the closed-loop maximum at the same client count beside them.
pub fn capacity(ctx: &Context) -> Result<Figure, NoData> {
    let searched: Vec<&Point> = ctx
        .points
        .iter()
        .copied()
        .filter(|p| p.target().capacity.is_some())
        .collect();
    if searched.is_empty() {
        return Err(NoData(
            "no capacity searches (results of loadgen --find-capacity)".into(),
        ));
    }
    let clients = searched[0].clients();
    let msg_size = searched[0].run().config.msg_size;
    // Promises, tightest first, by their spelling.
    let mut promises: Vec<(u64, f64, String)> = searched
        .iter()
        .filter_map(|p| p.target().capacity.as_ref())
        .map(|c| (c.limit_ns, c.percentile, c.slo.clone()))
        .collect();
    promises.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.total_cmp(&a.1)));
    promises.dedup_by(|a, b| a.2 == b.2);

    let mut names: Vec<&str> = Vec::new();
    for p in &searched {
        if !names.contains(&p.name()) {
            names.push(p.name());
        }
    }
    let closed: Vec<&Point> = ctx
        .points
        .iter()
        .copied()
        .filter(|p| closed_loop(p) && p.clients() == clients)
        .filter(|p| p.run().config.msg_size == msg_size)
        .collect();
    let has_closed = names.iter().any(|n| closed.iter().any(|p| p.name() == *n));
    let bars = promises.len() + usize::from(has_closed);
    let bar_w = GROUP_WIDTH / bars as f64;

    let mut marks = Vec::new();
    let mut notes = Vec::new();
    // The bars stand at a single search's capacity (the median one's under --repeat); a
    // whisker spans the interval of the median over the searches. Returns the whisker's top.
    let whisker = |marks: &mut Vec<Mark>, x: f64, spread: Option<Spread>| {
        let s = spread.filter(|s| s.n > 1)?;
        marks.push(Mark::Whisker {
            x,
            y: s.interval.lo..s.interval.hi,
            color: super::WHISKER_INK,
        });
        Some(s.interval.hi)
    };
    let mut max = 0.0f64;
    for (i, name) in names.iter().enumerate() {
        let x0 = |j: usize| i as f64 + (1.0 - GROUP_WIDTH) / 2.0 + j as f64 * bar_w;
        for (j, (_, _, slo)) in promises.iter().enumerate() {
            let found = latest(searched.iter().copied().filter(|p| {
                p.name() == *name && p.target().capacity.as_ref().is_some_and(|c| &c.slo == slo)
            }));
            let Some((point, search)) =
                found.and_then(|p| Some((p, p.target().capacity.as_ref()?)))
            else {
                continue;
            };
            let (x, centre) = (x0(j), x0(j) + bar_w * 0.46);
            let spread = Capacity.spread(point.target());
            match search.kept {
                Some(rate) => {
                    marks.push(Mark::Bar {
                        x: x..x + bar_w * 0.92,
                        y: rate,
                        color: PROMISES[j % PROMISES.len()],
                    });
                    // Drawn after its bar, so the bar does not hide it.
                    let top = whisker(&mut marks, centre, spread).map_or(rate, |hi| hi.max(rate));
                    max = max.max(top);
                    if search.is_lower_bound() {
                        // Over the bar, and over its whisker if it has one.
                        notes.push((centre, top, "≥".to_owned(), 0));
                    }
                }
                None => {
                    max = max.max(whisker(&mut marks, centre, spread).unwrap_or(0.0));
                    let below = search.broke.map_or_else(String::new, si);
                    // Staggered by promise: side by side, the notes of narrow bars would overlap.
                    notes.push((centre, 0.0, format!("<{below}"), j));
                }
            }
        }
        // A closed-loop run cut before its window has no rate: no bar.
        let closed_rate = latest(closed.iter().copied().filter(|p| p.name() == *name))
            .and_then(|p| Some((p, p.target().msgs_per_sec?)));
        if let Some((p, rate)) = closed_rate {
            let x = x0(promises.len());
            marks.push(Mark::Bar {
                x: x..x + bar_w * 0.92,
                y: rate,
                color: CLOSED_LOOP,
            });
            let top = whisker(&mut marks, x + bar_w * 0.46, MsgsPerSec.spread(p.target()));
            max = max.max(top.unwrap_or(rate).max(rate));
        }
    }
    let whiskers = marks.iter().any(|m| matches!(m, Mark::Whisker { .. }));
    let lower_bounds = notes.iter().any(|(_, _, text, _)| text == "≥");
    let y = Axis::from_zero("messages per second (msgs/s)", max, si);
    // Notes sit just above the bar (or the axis): the text hangs from its top-left corner.
    let lift = y.fraction(0.05);
    marks.extend(notes.into_iter().map(|(x, at, text, stagger)| Mark::Note {
        at: (x, at + lift * (1 + stagger) as f64),
        text,
    }));

    let mut legend: Vec<LegendEntry> = promises
        .iter()
        .enumerate()
        .map(|(j, (_, _, slo))| LegendEntry {
            label: format!("open loop, {slo}"),
            color: PROMISES[j % PROMISES.len()],
            swatch: Swatch::Block,
        })
        .collect();
    if has_closed {
        legend.push(LegendEntry {
            label: "closed loop, any latency".into(),
            color: CLOSED_LOOP,
            swatch: Swatch::Block,
        });
    }
    let mut runs: Vec<&Point> = searched.clone();
    runs.extend(&closed);
    let mut f = Figure::single(
        ChartKind::Capacity.to_string(),
        "Capacity: the highest rate that keeps the latency promise".into(),
        format!(
            "{} clients, {msg_size}B messages · open loop, latency from each message's due time · \
             the closed-loop maximum beside it ignores latency",
            clients
        ),
        footer(runs.iter().map(|p| p.run())),
        Panel {
            title: None,
            x: category_axis("target", &names),
            y,
            marks,
        },
    );
    f.subtitle
        .push_str(if whiskers { super::WHISKER_NOTE } else { "" });
    if lower_bounds {
        f.subtitle.push_str(
            " · ≥: a lower bound (no rate broke the promise, or only the client's CPU did)",
        );
    }
    f.legend_title = "rate".into();
    f.legend = legend;
    Ok(f)
}
