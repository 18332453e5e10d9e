//! The `echo-charts` binary, run as a user would.

mod common;

use std::fs;
use std::process::{Command, Output};

use common::{check_png, check_svg, fixtures, fixtures_copy};

fn echo_charts(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_echo-charts"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Fails with what the binary said, and checks it did not panic.
fn failure(out: &Output) -> String {
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success(),
        "should fail; stdout:\n{}",
        text(&out.stdout)
    );
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    stderr
}

#[test]
fn draws_every_chart_and_the_table_into_the_output_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("charts");
    let table = dir.path().join("table.md");
    let fixtures = fixtures();
    let out = echo_charts(&[
        fixtures.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--markdown",
        table.to_str().unwrap(),
    ]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    for chart in [
        "throughput",
        "p99",
        "spectrum",
        "memory",
        "cpu",
        "pitfall",
        "timeline",
    ] {
        assert!(
            stdout.contains(&format!("{chart}: wrote ")),
            "{chart}: {stdout}"
        );
    }
    check_svg(
        &out_dir.join("spectrum.svg"),
        &["Latency by percentile", "99.99%"],
    );
    check_png(&out_dir.join("pitfall.png"), (1300, 1040));
    let table = fs::read_to_string(&table).unwrap();
    assert!(
        table.starts_with("Measured on ") && table.contains("\n| target | clients |"),
        "the machine, then the table: {table}"
    );
}

#[test]
fn charts_go_beside_the_results_by_default() {
    let dir = fixtures_copy();
    let out = echo_charts(&[dir.path().to_str().unwrap(), "--only", "spectrum,timeline"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let charts = dir.path().join("charts");
    for file in [
        "spectrum.svg",
        "spectrum.png",
        "timeline.svg",
        "timeline.png",
    ] {
        assert!(charts.join(file).is_file(), "{file}");
    }
    assert!(
        !charts.join("throughput-64B.svg").exists(),
        "--only draws only those"
    );
}

#[test]
fn table_prints_a_markdown_row_per_target_and_point() {
    let out = echo_charts(&["table", fixtures().to_str().unwrap(), "--msg-size", "1KiB"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let rows: Vec<&str> = stdout.lines().filter(|l| l.starts_with('|')).collect();
    assert_eq!(
        rows.len(),
        2 + 2 * 2,
        "header, rule, 2 targets × 2 client counts:\n{stdout}"
    );
    assert!(rows[2].starts_with("| threads | 10 | 1KiB |"), "{stdout}");
    assert!(
        stdout.contains("Measured on AMD EPYC 7B13 (fixture) (2 cores), 2026-11-25."),
        "{stdout}"
    );
}

#[test]
fn a_missing_results_directory_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("results");
    let stderr = failure(&echo_charts(&[missing.to_str().unwrap()]));
    assert!(
        stderr.starts_with("echo-charts: error: ") && stderr.contains("results does not exist"),
        "{stderr}"
    );
    let stderr = failure(&echo_charts(&["table", missing.to_str().unwrap()]));
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn a_broken_result_file_fails_with_its_name() {
    let dir = fixtures_copy();
    fs::write(dir.path().join("pitfall/64B-100c-block.json"), "").unwrap();
    let stderr = failure(&echo_charts(&[dir.path().to_str().unwrap()]));
    assert!(
        stderr.contains("64B-100c-block.json is not an echo-bench result file"),
        "{stderr}"
    );
    assert!(
        !dir.path().join("charts").exists(),
        "nothing drawn from a partial set"
    );
}

#[test]
fn skipped_charts_are_noted_and_nothing_to_draw_is_an_error() {
    let file = fixtures().join("sweep/64B-100c.json");
    let out = echo_charts(&[
        file.to_str().unwrap(),
        "--out",
        tempfile::tempdir().unwrap().path().to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(
        text(&out.stderr).contains("throughput: skipped: no throughput at two client counts"),
        "{}",
        text(&out.stderr)
    );

    let stderr = failure(&echo_charts(&[file.to_str().unwrap(), "--only", "pitfall"]));
    assert!(
        stderr.contains("pitfall: skipped: no results that differ only in --work"),
        "{stderr}"
    );
    assert!(stderr.contains("no chart had data to draw"), "{stderr}");
}

#[test]
fn bad_flags_are_refused_with_the_choices() {
    // Usage errors exit with 2, as clap's do.
    let out = echo_charts(&["--only", "pie"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("unknown chart 'pie'; charts: throughput, p99, spectrum"),
        "{}",
        text(&out.stderr)
    );
    let out = echo_charts(&["--msg-size", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("is not a byte count"),
        "{}",
        text(&out.stderr)
    );
}
