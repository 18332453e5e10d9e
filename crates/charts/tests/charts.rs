//! Each chart drawn from the committed fixtures: what it shows, and that its files are a real SVG
//! and a real PNG.

mod common;

use std::fs;
use std::path::PathBuf;

use common::{check_png, check_svg, fixtures};
use echo_charts::figure::{Mark, Swatch};
use echo_charts::{ChartKind, Context, Figure, Filter, Loaded, Options, draw_charts, load};

const MACHINE: &str = "AMD EPYC 7B13 (fixture) (2 cores)";
const DATE: &str = "2026-11-25";

fn loaded() -> Loaded {
    load(&[fixtures()], &Filter::default()).unwrap()
}

fn build_with(kind: ChartKind, options: Options) -> Vec<Figure> {
    let loaded = loaded();
    let ctx = Context::new(&loaded, options);
    kind.build(&ctx)
        .unwrap_or_else(|e| panic!("{kind} has no data: {e}"))
}

fn build(kind: ChartKind) -> Vec<Figure> {
    build_with(kind, Options::default())
}

fn names(figures: &[Figure]) -> Vec<&str> {
    figures.iter().map(|f| f.name.as_str()).collect()
}

fn legend(f: &Figure) -> Vec<&str> {
    f.legend.iter().map(|e| e.label.as_str()).collect()
}

/// Draws `kind` into a temporary directory, checks every file, and returns the SVGs' text.
fn draw(kind: ChartKind) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let figures = build(kind);
    let outcomes = draw_charts(&loaded(), &[kind], &Options::default(), dir.path()).unwrap();
    let files = outcomes[0].result.as_ref().unwrap();
    assert_eq!(
        files.len(),
        2 * figures.len(),
        "an SVG and a PNG per figure: {files:?}"
    );
    let mut texts = Vec::new();
    for f in &figures {
        let svg = dir.path().join(format!("{}.svg", f.name));
        let png = dir.path().join(format!("{}.png", f.name));
        assert!(files.contains(&svg) && files.contains(&png), "{files:?}");
        texts.push(check_svg(&svg, &[&f.title, MACHINE, DATE]));
        check_png(&png, f.size);
    }
    texts
}

#[test]
fn throughput_is_drawn_per_message_size() {
    let figures = build(ChartKind::Throughput);
    assert_eq!(names(&figures), ["throughput-64B", "throughput-1KiB"]);
    assert_eq!(legend(&figures[0]), ["threads", "tokio", "tokio-current"]);
    assert_eq!(legend(&figures[1]), ["threads", "tokio"]);
    let lines: Vec<usize> = figures[0]
        .marks()
        .map(|m| match m {
            Mark::Line { points, .. } => points.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(lines, [4, 4, 4], "a point per client count per target");
    let x = &figures[0].panels[0].x;
    assert!(x.log);
    assert_eq!(
        x.ticks.iter().map(|t| t.label.as_str()).collect::<Vec<_>>(),
        ["1", "10", "100", "1k"]
    );

    let svgs = draw(ChartKind::Throughput);
    for text in &svgs {
        for word in [
            "msgs/s",
            "concurrent clients (log scale)",
            "threads",
            "tokio",
        ] {
            assert!(text.contains(word), "{word}: {text}");
        }
    }
}

#[test]
fn p99_latency_is_on_a_log_scale_with_its_unit() {
    let figures = build(ChartKind::P99);
    assert_eq!(names(&figures), ["p99-64B", "p99-1KiB"]);
    let y = &figures[0].panels[0].y;
    assert!(y.log);
    assert!(y.desc.contains("(ms, log scale)"), "{}", y.desc);
    draw(ChartKind::P99);
}

#[test]
fn spectrum_shows_every_target_at_one_point_in_nines() {
    let figures = build(ChartKind::Spectrum);
    let f = &figures[0];
    assert_eq!(f.name, "spectrum");
    assert_eq!(f.subtitle, "64B messages, closed loop, 100 clients");
    assert_eq!(legend(f), ["threads", "tokio", "tokio-current"]);
    for m in f.marks() {
        let Mark::Line { points, .. } = m else {
            panic!("{m:?}")
        };
        assert!(
            points
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "rises with the percentile"
        );
        assert!(points.last().unwrap().0 >= 10_000.0, "reaches 99.99%");
    }
    let svg = &draw(ChartKind::Spectrum)[0];
    for label in ["50%", "90%", "99%", "99.9%", "99.99%", "1/(1−p)"] {
        assert!(svg.contains(label), "{label}: {svg}");
    }

    let at_10 = build_with(
        ChartKind::Spectrum,
        Options {
            at_clients: Some(10),
            ..Options::default()
        },
    );
    assert!(
        at_10[0].subtitle.ends_with(", 10 clients"),
        "{}",
        at_10[0].subtitle
    );
}

#[test]
fn memory_dashes_servers_with_a_thread_per_connection() {
    let figures = build(ChartKind::Memory);
    assert_eq!(names(&figures), ["memory-64B", "memory-1KiB"]);
    let f = &figures[0];
    let swatches: Vec<(&str, Swatch)> = f
        .legend
        .iter()
        .map(|e| (e.label.as_str(), e.swatch))
        .collect();
    assert_eq!(
        swatches,
        [
            ("threads", Swatch::Dashed),
            ("tokio", Swatch::Line),
            ("tokio-current", Swatch::Line)
        ]
    );
    assert!(
        f.subtitle.contains("dashed: a thread per connection"),
        "{}",
        f.subtitle
    );
    let y = &f.panels[0].y;
    assert!(y.log && y.desc.contains("(KiB, log scale)"), "{}", y.desc);
    draw(ChartKind::Memory);
}

#[test]
fn cpu_has_a_bar_per_target_and_client_count() {
    let figures = build(ChartKind::Cpu);
    let f = figures.iter().find(|f| f.name == "cpu-64B").unwrap();
    assert_eq!(
        f.marks().filter(|m| matches!(m, Mark::Bar { .. })).count(),
        3 * 4
    );
    assert_eq!(legend(f), ["1", "10", "100", "1k"]);
    let targets: Vec<&str> = f.panels[0]
        .x
        .ticks
        .iter()
        .map(|t| t.label.as_str())
        .collect();
    assert_eq!(targets, ["threads", "tokio", "tokio-current"]);
    draw(ChartKind::Cpu);
}

#[test]
fn pitfall_compares_each_work_per_target() {
    let f = &build(ChartKind::Pitfall)[0];
    assert_eq!(
        legend(f),
        [
            "none",
            "block:10.00ms (1 in 10)",
            "offload:10.00ms (1 in 10)"
        ]
    );
    let titles: Vec<&str> = f
        .panels
        .iter()
        .map(|p| p.title.as_deref().unwrap())
        .collect();
    assert_eq!(
        titles,
        [
            "Bystander p99: messages with no work",
            "Working p99: messages with work",
            "Event-loop lag p99 (server's own probe)",
            "Throughput"
        ]
    );
    // The thread-per-connection server has no event loop to measure.
    let lag = &f.panels[2];
    let notes = lag
        .marks
        .iter()
        .filter(|m| matches!(m, Mark::Note { text, .. } if text == "n/a"))
        .count();
    assert_eq!(
        notes, 1,
        "one n/a for threads' whole group, not one per bar"
    );

    // On the single-threaded loop, a blocking call makes bystanders wait: its bar stands
    // far above the plain echo's; offloaded, it does not.
    let bars: Vec<f64> = f.panels[0]
        .marks
        .iter()
        .filter_map(|m| match m {
            Mark::Bar { y, .. } => Some(*y),
            _ => None,
        })
        .collect();
    let (none, block, offload) = (bars[6], bars[7], bars[8]);
    assert!(
        block > 5.0 * none && offload < 2.0 * none,
        "{none} {block} {offload}"
    );

    let svg = &draw(ChartKind::Pitfall)[0];
    assert!(
        svg.contains("block:10.00ms (1 in 10)") && svg.contains("n/a"),
        "{svg}"
    );
}

#[test]
fn timeline_picks_the_run_with_the_largest_spike() {
    let f = &build(ChartKind::Timeline)[0];
    assert!(
        f.title
            .starts_with("Latency over time: tokio-current peaks at"),
        "{}",
        f.title
    );
    assert!(f.subtitle.contains("64B-100c-block.json"), "{}", f.subtitle);
    assert_eq!(f.panels.len(), 2);
    assert_eq!(
        legend(f),
        ["threads", "tokio", "tokio-current"],
        "every target of that run"
    );
    draw(ChartKind::Timeline);

    let named = Options {
        timeline_file: Some(PathBuf::from("64B-10c")),
        timeline_target: Some("threads".into()),
        ..Options::default()
    };
    let f = &build_with(ChartKind::Timeline, named)[0];
    assert!(f.title.contains("threads"), "{}", f.title);
    assert!(f.subtitle.contains("64B-10c.json"), "{}", f.subtitle);
}

#[test]
fn every_chart_carries_title_axes_with_units_legend_and_machine() {
    for kind in ChartKind::ALL {
        for f in build(kind) {
            assert!(!f.title.is_empty() && !f.subtitle.is_empty(), "{}", f.name);
            assert!(
                !f.legend.is_empty() && !f.legend_title.is_empty(),
                "{} has no legend",
                f.name
            );
            assert!(
                f.footer.contains(MACHINE) && f.footer.contains(DATE),
                "{}: {}",
                f.name,
                f.footer
            );
            for p in &f.panels {
                for axis in [&p.x, &p.y] {
                    assert!(
                        !axis.desc.is_empty() && !axis.ticks.is_empty(),
                        "{}: {axis:?}",
                        f.name
                    );
                    assert!(
                        !axis.log || axis.ticks.iter().all(|t| t.label != "0"),
                        "{}: a log axis has no 0, yet a tick reads 0: {axis:?}",
                        f.name
                    );
                }
                assert!(
                    p.y.desc.contains('('),
                    "{}: the y axis names its unit: {}",
                    f.name,
                    p.y.desc
                );
            }
        }
    }
}

#[test]
fn drawing_everything_writes_only_finished_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("charts");
    let outcomes = draw_charts(&loaded(), &ChartKind::ALL, &Options::default(), &out).unwrap();
    assert_eq!(outcomes.len(), ChartKind::ALL.len());
    let mut written: Vec<PathBuf> = Vec::new();
    for o in &outcomes {
        written.extend(
            o.result
                .clone()
                .unwrap_or_else(|e| panic!("{}: {e}", o.kind)),
        );
    }
    let mut on_disk: Vec<PathBuf> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    on_disk.sort();
    written.sort();
    assert_eq!(on_disk, written, "no temporary or stray files");
    for path in &written {
        match path.extension().and_then(|e| e.to_str()) {
            Some("svg") => {
                check_svg(path, &[MACHINE]);
            }
            Some("png") => {
                check_png(path, svg_size(path));
            }
            other => panic!("unexpected file type {other:?}"),
        }
    }
}

/// The size the figure of a PNG was drawn at, read back from its SVG twin.
fn svg_size(png: &std::path::Path) -> (u32, u32) {
    let text = fs::read_to_string(png.with_extension("svg")).unwrap();
    let doc = roxmltree::Document::parse(&text).unwrap();
    let attr = |name| doc.root_element().attribute(name).unwrap().parse().unwrap();
    (attr("width"), attr("height"))
}

#[test]
fn a_chart_without_data_is_skipped_with_a_note() {
    let one_point = load(
        &[fixtures().join("sweep/64B-100c.json")],
        &Filter::default(),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let outcomes =
        draw_charts(&one_point, &ChartKind::ALL, &Options::default(), dir.path()).unwrap();
    let note = |kind: ChartKind| {
        let o = outcomes.iter().find(|o| o.kind == kind).unwrap();
        o.result.as_ref().err().map(|e| e.to_string())
    };
    assert!(
        note(ChartKind::Throughput)
            .unwrap()
            .contains("two client counts or more")
    );
    assert!(
        note(ChartKind::Pitfall)
            .unwrap()
            .contains("differ only in --work")
    );
    assert_eq!(
        note(ChartKind::Spectrum),
        None,
        "one point is enough for a spectrum"
    );
    assert_eq!(note(ChartKind::Timeline), None);
    let wrote = fs::read_dir(dir.path()).unwrap().count();
    assert_eq!(wrote, 2 * 3, "spectrum, cpu and timeline");

    let loaded = loaded();
    let ctx = Context::new(
        &loaded,
        Options {
            at_clients: Some(7),
            ..Options::default()
        },
    );
    let e = ChartKind::Spectrum.build(&ctx).unwrap_err();
    assert_eq!(
        e.to_string(),
        "no results at --at-clients 7 (the results hold 1, 10, 100, 1000)"
    );
}

#[test]
fn filters_choose_the_points() {
    let filter = Filter {
        msg_size: Some(1024),
        ..Filter::default()
    };
    let loaded = load(&[fixtures()], &filter).unwrap();
    let ctx = Context::new(&loaded, Options::default());
    assert_eq!(
        names(&ChartKind::Throughput.build(&ctx).unwrap()),
        ["throughput-1KiB"]
    );

    let filter = Filter {
        targets: vec!["tokio".into()],
        work: Some("none".into()),
        ..Filter::default()
    };
    let loaded = load(&[fixtures()], &filter).unwrap();
    assert_eq!(loaded.target_names(), ["tokio"]);
    assert!(loaded.points.iter().all(|p| p.run().config.work == "none"));
}

// ---------------------------------------------------------------------------------------------
// Starved clients and a saturated load generator (fixtures in `failing/`)

fn failing() -> Loaded {
    load(&[fixtures().join("../failing")], &Filter::default()).unwrap()
}

fn build_failing(kind: ChartKind) -> Vec<Figure> {
    let loaded = failing();
    let ctx = Context::new(&loaded, Options::default());
    kind.build(&ctx)
        .unwrap_or_else(|e| panic!("{kind} has no data: {e}"))
}

/// The x of every mark of `kind` in `f`'s first panel drawn in `color`.
fn xs(f: &Figure, color: plotters::style::RGBColor, failed: bool) -> Vec<f64> {
    f.panels[0]
        .marks
        .iter()
        .flat_map(|m| match m {
            Mark::Line {
                points, color: c, ..
            } if !failed && *c == color => points.iter().map(|p| p.0).collect(),
            Mark::Failed { x, color: c, .. } if failed && *c == color => vec![*x],
            _ => Vec::new(),
        })
        .collect()
}

#[test]
fn starved_points_look_failed_on_every_chart_against_clients() {
    let loaded = failing();
    let palette = Context::new(&loaded, Options::default()).palette;
    let blocking = palette.color("blocking");
    for kind in [ChartKind::Throughput, ChartKind::P99, ChartKind::Memory] {
        let f = &build_failing(kind)[0];
        assert_eq!(
            xs(f, blocking, false),
            [1.0],
            "{kind}: no line through the starved points"
        );
        assert_eq!(
            xs(f, blocking, true),
            [10.0, 100.0],
            "{kind}: a cross at each starved point"
        );
        let entry = f
            .legend
            .iter()
            .find(|e| e.swatch == Swatch::Cross)
            .unwrap_or_else(|| panic!("{kind}: no legend note for the crosses"));
        assert!(entry.label.contains("starved"), "{}", entry.label);
    }
    let cpu = &build_failing(ChartKind::Cpu)[0];
    let crosses = cpu
        .marks()
        .filter(|m| matches!(m, Mark::Failed { .. }))
        .count();
    assert_eq!(
        crosses, 2,
        "blocking at 10 and 100 clients: crosses, not bars"
    );
    let svg = {
        let dir = tempfile::tempdir().unwrap();
        draw_charts(&loaded, &[ChartKind::P99], &Options::default(), dir.path()).unwrap();
        fs::read_to_string(dir.path().join("p99-64B.svg")).unwrap()
    };
    assert!(svg.contains("starved (row below the axis)"), "{svg}");
}

#[test]
fn the_spectrum_draws_no_curve_for_starved_clients() {
    let loaded = failing();
    let ctx = Context::new(
        &loaded,
        Options {
            at_clients: Some(100),
            ..Options::default()
        },
    );
    let f = &ChartKind::Spectrum.build(&ctx).unwrap()[0];
    let lines = f.marks().filter(|m| matches!(m, Mark::Line { .. })).count();
    assert_eq!(lines, 1, "only tokio has a curve");
    let labels: Vec<(&str, Swatch)> = f
        .legend
        .iter()
        .map(|e| (e.label.as_str(), e.swatch))
        .collect();
    assert!(
        labels.contains(&("blocking: 99 of 100 clients starved", Swatch::Cross)),
        "{labels:?}"
    );
    assert!(labels.contains(&("tokio †", Swatch::Line)), "{labels:?}");
}

#[test]
fn a_saturated_load_generator_is_marked_with_a_dagger() {
    let loaded = failing();
    let tokio = Context::new(&loaded, Options::default())
        .palette
        .color("tokio");
    for kind in [ChartKind::Throughput, ChartKind::P99, ChartKind::Cpu] {
        let f = &build_failing(kind)[0];
        let daggers = f
            .marks()
            .filter(|m| matches!(m, Mark::Note { text, .. } if text == "†"))
            .count();
        assert_eq!(daggers, 1, "{kind}: tokio at 100 clients");
        assert!(
            f.legend
                .iter()
                .any(|e| e.label.contains("† client saturated")),
            "{kind}: {:?}",
            legend(f)
        );
    }
    // Only the saturated point is marked: tokio's line still runs through all three.
    let f = &build_failing(ChartKind::Throughput)[0];
    assert_eq!(xs(f, tokio, false), [1.0, 10.0, 100.0]);
}

#[test]
fn the_timeline_shows_the_slowest_second_not_the_largest_ratio() {
    // A run whose worst second is 100 times its typical one, but only 99 µs longer, beside the
    // fixtures' 10 ms blocking stall, 4.5 times its typical second.
    let dir = common::fixtures_copy();
    let path = dir.path().join("sweep/64B-1c.json");
    let mut run: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    for (i, tick) in run["targets"][0]["timeline"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .enumerate()
    {
        tick["p99_ns"] = serde_json::Value::from(if i == 2 { 100_000 } else { 1_000 });
    }
    fs::write(&path, run.to_string()).unwrap();
    let loaded = load(&[dir.path().to_owned()], &Filter::default()).unwrap();
    let ctx = Context::new(&loaded, Options::default());
    let f = &ChartKind::Timeline.build(&ctx).unwrap()[0];
    assert!(f.subtitle.contains("64B-100c-block.json"), "{}", f.subtitle);

    // A run whose clients starved is not a stall to show.
    let loaded = failing();
    let ctx = Context::new(&loaded, Options::default());
    let f = &ChartKind::Timeline.build(&ctx).unwrap()[0];
    assert!(f.title.contains("tokio"), "{}", f.title);
}
