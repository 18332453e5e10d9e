//! A missing or broken result file gives an error that names it and says what is wrong; other
//! JSON in a results directory is skipped with a note. Nothing panics.

mod common;

use std::fs;

use common::{fixtures, fixtures_copy};
use echo_charts::{ChartKind, Filter, LoadError, Options, RenderError, draw_charts, load};

fn load_dir(dir: &std::path::Path) -> Result<echo_charts::Loaded, LoadError> {
    load(&[dir.to_owned()], &Filter::default())
}

#[test]
fn a_missing_path_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-results");
    let e = load_dir(&missing).unwrap_err();
    assert!(matches!(e, LoadError::Missing(_)), "{e:?}");
    let msg = e.to_string();
    assert!(msg.contains("no-such-results does not exist"), "{msg}");
    assert!(
        msg.contains("scripts/sweep.sh"),
        "says how to get results: {msg}"
    );
}

#[test]
fn a_file_that_is_not_json_is_an_error_not_a_skip() {
    let dir = fixtures_copy();
    fs::write(
        dir.path().join("sweep/64B-10c.json"),
        "{ \"schema\": \"echo-bench/result/v1\", trunc",
    )
    .unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        msg.contains("64B-10c.json is not an echo-bench result file (not JSON"),
        "{msg}"
    );
    assert!(msg.contains("fix or remove that file"), "{msg}");
}

#[test]
fn a_result_file_missing_a_field_says_which() {
    let dir = fixtures_copy();
    let path = dir.path().join("sweep/64B-1c.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    value["targets"][0]
        .as_object_mut()
        .unwrap()
        .remove("msgs_per_sec");
    fs::write(&path, value.to_string()).unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    // A rate may be absent only where no window opened: this one did, so the file is refused.
    assert!(
        msg.contains("64B-1c.json") && msg.contains("has no 'msgs_per_sec'"),
        "{msg}"
    );
    value["targets"][0]
        .as_object_mut()
        .unwrap()
        .remove("messages");
    fs::write(&path, value.to_string()).unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(msg.contains("missing field `messages`"), "{msg}");
}

#[test]
fn a_result_of_another_schema_version_is_an_error() {
    let dir = fixtures_copy();
    let path = dir.path().join("sweep/64B-1c.json");
    let text = fs::read_to_string(&path)
        .unwrap()
        .replace(echo_report::SCHEMA, "echo-bench/result/v9");
    fs::write(&path, text).unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(
        msg.contains(&format!(
            "schema 'echo-bench/result/v9', expected '{}'",
            echo_report::SCHEMA
        )),
        "{msg}"
    );
}

#[test]
fn a_corrupt_histogram_names_the_file_and_target() {
    let dir = fixtures_copy();
    let path = dir.path().join("sweep/64B-100c.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    value["targets"][1]["histogram"] = "AAAA".into();
    fs::write(&path, value.to_string()).unwrap();
    let e = load_dir(dir.path()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, LoadError::Histogram { .. }), "{e:?}");
    assert!(
        msg.contains("64B-100c.json: target 'tokio' has a histogram that does not decode"),
        "{msg}"
    );
}

#[test]
fn other_json_in_a_results_directory_is_skipped_with_a_note() {
    let dir = fixtures_copy();
    fs::write(dir.path().join("sweep-plan.json"), r#"{"points": 12}"#).unwrap();
    fs::write(
        dir.path().join("package.json"),
        r#"{"schema": "https://example.org/pkg"}"#,
    )
    .unwrap();
    let loaded = load_dir(dir.path()).unwrap();
    assert_eq!(loaded.notes.len(), 2, "{:?}", loaded.notes);
    assert!(
        loaded
            .notes
            .iter()
            .any(|n| n.contains("sweep-plan.json: not a result file (no \"schema\" field)"))
    );
    assert!(
        loaded
            .notes
            .iter()
            .any(|n| n.contains("package.json: not a result file (schema"))
    );
    assert_eq!(
        loaded.points.len(),
        load_dir(&fixtures()).unwrap().points.len()
    );

    // Named on the command line, the same file must be a result file.
    let named = load(&[dir.path().join("sweep-plan.json")], &Filter::default()).unwrap_err();
    assert!(named.to_string().contains("no 'schema' field"), "{named}");
}

#[test]
fn a_directory_without_results_says_so() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("notes.txt"), "not json").unwrap();
    let msg = load_dir(dir.path()).unwrap_err().to_string();
    assert!(msg.starts_with("no echo-bench result files"), "{msg}");
}

#[test]
fn a_filter_that_matches_nothing_says_what_there_is() {
    let filter = Filter {
        msg_size: Some(16 * 1024),
        ..Filter::default()
    };
    let msg = load(&[fixtures()], &filter).unwrap_err().to_string();
    assert!(
        msg.starts_with("no results match --msg-size 16KiB"),
        "{msg}"
    );
    assert!(
        msg.contains("message sizes 64B, 1KiB")
            && msg.contains("targets threads, tokio, tokio-current"),
        "{msg}"
    );
}

#[test]
fn an_output_directory_that_cannot_be_written_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("charts");
    fs::write(&blocker, "a file where the directory should be").unwrap();
    let loaded = load_dir(&fixtures()).unwrap();
    let e = draw_charts(
        &loaded,
        &[ChartKind::Spectrum],
        &Options::default(),
        &blocker,
    )
    .unwrap_err();
    assert!(matches!(e, RenderError::Write { .. }), "{e:?}");
    assert!(
        e.to_string().contains("cannot write") && e.to_string().contains("spectrum.svg"),
        "{e}"
    );
}
