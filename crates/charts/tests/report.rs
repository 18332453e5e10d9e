//! `echo-charts report DIR`: one self-contained page per results folder, checked as a reader's
//! browser would meet it (the rendering itself is checked in Chromium by the workspace's
//! `tests/report_browser.rs`).

mod common;

use std::fs;
use std::process::Command;

use common::{fixtures, fixtures_copy};

fn report(dir: &std::path::Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_echo-charts"))
        .arg("report")
        .arg(dir)
        .output()
        .expect("the binary runs")
}

#[test]
fn a_report_holds_every_chart_inline_with_its_numbers_and_nothing_outside() {
    let dir = fixtures_copy();
    // And the fixtures whose clients starved, as a section of their own.
    let failing = fixtures().join("../failing");
    fs::create_dir(dir.path().join("failing")).unwrap();
    for entry in fs::read_dir(&failing).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(
            &path,
            dir.path().join("failing").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    let out = report(dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = fs::read_to_string(dir.path().join("report.html")).unwrap();
    let leftovers: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.') || n.ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "written atomically: {leftovers:?}");

    // Self-contained: nothing fetched, nothing linked beside it.
    for outside in ["src=", "href=", "url(", "@import", "<script", "<link"] {
        assert!(
            !html.contains(outside),
            "the page refers outside itself: {outside}"
        );
    }
    // A section per subfolder, each with its charts inline and a table after each.
    for section in ["<h2>pitfall/</h2>", "<h2>sweep/</h2>", "<h2>failing/</h2>"] {
        assert!(html.contains(section), "no section {section}");
    }
    let charts = html.matches("<svg").count();
    assert!(charts >= 5, "{charts} charts");
    assert!(
        html.matches("<table>").count() >= charts,
        "a table of numbers after every chart"
    );
    // Hovering a point names it and gives its value and interval.
    assert!(
        html.contains("<title>tokio · 100: "),
        "no hover title for tokio at 100 clients"
    );
    assert!(
        html.matches("<title>").count() > 20,
        "a hover title per point"
    );
    // The machine, and the failed points listed in words.
    assert!(html.contains("AMD EPYC 7B13 (fixture)"));
    assert!(
        html.contains("clients starved (no reply in the window)"),
        "starved points listed"
    );
}

#[test]
fn a_folder_without_results_is_refused_with_a_reason() {
    let empty = tempfile::tempdir().unwrap();
    let out = report(empty.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no echo-bench result files"), "{stderr}");
    assert!(!empty.path().join("report.html").exists());
    // The committed fixtures stay untouched: the report goes into the folder given only.
    assert!(!fixtures().join("report.html").exists());
}

#[test]
fn hovering_a_point_measured_several_times_shows_its_one_interval() {
    // Committed pitfall results: every point measured 3 times, drawn as bars with whiskers.
    let reference = fixtures().join("../../../../../results/reference/pitfall/wait");
    let dir = tempfile::tempdir().unwrap();
    for entry in fs::read_dir(&reference).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            fs::copy(&path, dir.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    let out = report(dir.path());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let html = fs::read_to_string(dir.path().join("report.html")).unwrap();
    let titles: Vec<&str> = html
        .split("<title>")
        .skip(2)
        .map(|t| t.split("</title>").next().unwrap())
        .collect();
    let tokio_block = titles
        .iter()
        .find(|t| t.starts_with("block:1.00ms (1 in 10) · tokio: ") && t.contains("p99"))
        .unwrap_or_else(|| panic!("no hover title for tokio's bystander p99: {titles:?}"));
    assert!(
        tokio_block.contains(" [") && tokio_block.ends_with(']'),
        "its interval: {tokio_block}"
    );
    let doubled: Vec<_> = titles
        .iter()
        .filter(|t| t.matches(" [").count() > 1)
        .collect();
    assert!(
        doubled.is_empty(),
        "a point with two intervals: {doubled:?}"
    );
}
