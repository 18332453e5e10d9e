//! Charts stay legible as targets are added: with sixteen targets, today's and the languages to
//! come, no two tick labels of the pitfall chart run into each other.

mod common;

use std::fs;

use common::fixtures;
use echo_charts::render::x_label_boxes;
use echo_charts::{ChartKind, Context, Filter, Options, load, register_font};
use echo_report::read_result;

/// Every target the suite has or is adding, with the longest names it uses.
const SIXTEEN: [&str; 16] = [
    "threads",
    "blocking",
    "thread-pool",
    "tokio",
    "tokio-current",
    "async-std",
    "smol",
    "mio",
    "monoio",
    "compio",
    "python-asyncio",
    "python-uvloop",
    "python-threads",
    "python-gevent",
    "go-goroutines",
    "node-event-loop",
];

#[test]
fn the_pitfall_chart_with_sixteen_targets_has_no_overlapping_tick_labels() {
    // The pitfall fixtures' three targets, copied under sixteen names.
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(fixtures().join("pitfall")).unwrap() {
        let path = entry.unwrap().path();
        let mut run = read_result(&path).unwrap();
        let three = run.targets.clone();
        run.targets = SIXTEEN
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let mut t = three[i % three.len()].clone();
                t.target = (*name).into();
                t
            })
            .collect();
        let json = serde_json::to_string(&run).unwrap();
        fs::write(dir.path().join(path.file_name().unwrap()), json).unwrap();
    }
    let loaded = load(&[dir.path().to_owned()], &Filter::default()).unwrap();
    let ctx = Context::new(&loaded, Options::default());
    let figure = &ChartKind::Pitfall.build(&ctx).unwrap()[0];

    register_font();
    let panels = x_label_boxes(figure).unwrap();
    assert_eq!(panels.len(), 4);
    for (panel, boxes) in figure.panels.iter().zip(&panels) {
        let title = panel.title.as_deref().unwrap_or("");
        let labels: Vec<&str> = boxes.iter().map(|b| b.text.as_str()).collect();
        assert_eq!(labels, SIXTEEN, "{title}: a label per target");
        for (i, a) in boxes.iter().enumerate() {
            for b in &boxes[i + 1..] {
                assert!(
                    !a.overlaps(b),
                    "{title}: '{}' {a:?} runs into '{}' {b:?}",
                    a.text,
                    b.text
                );
            }
        }
        let (w, h) = figure.size;
        for b in boxes {
            assert!(
                b.x.start >= 0 && b.x.end <= w as i32 && b.y.start >= 0 && b.y.end <= h as i32,
                "{title}: '{}' {b:?} is off the canvas",
                b.text
            );
        }
    }
}
