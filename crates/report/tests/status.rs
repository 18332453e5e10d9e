//! `loadgen status`: what a resumed sweep keeps and what it measures again, and why.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use echo_report::status::{Status, Wanted, status};
use serde_json::Value;

/// The result files the charts are tested on (written by echo-charts' `tests/fixtures.rs`).
fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/tests/fixtures/results")
}

/// The fixture point `sweep/64B-100c.json`, as its sweep asked for it.
fn as_measured() -> Wanted {
    Wanted {
        targets: vec!["threads".into(), "tokio".into()],
        clients: Some(100),
        msg_size: Some(64),
        duration: Some(Duration::from_secs(5)),
        warmup: Some(Duration::from_secs(1)),
        ..Wanted::default()
    }
}

fn redo_reason(path: &std::path::Path, wanted: &Wanted) -> String {
    match status(path, wanted) {
        Status::Redo(why) => why,
        other => panic!("expected it to be measured again, got {other:?}"),
    }
}

/// A copy of the fixture point with `edit` applied to its JSON.
fn edited(edit: impl FnOnce(&mut Value)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let text = fs::read_to_string(fixtures().join("sweep/64B-100c.json")).unwrap();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    edit(&mut value);
    fs::write(dir.path().join("point.json"), value.to_string()).unwrap();
    dir
}

#[test]
fn a_complete_point_with_the_same_settings_is_done() {
    let path = fixtures().join("sweep/64B-100c.json");
    match status(&path, &as_measured()) {
        Status::Done(summary) => {
            assert!(
                summary.starts_with("threads ") && summary.contains("msgs/s p99"),
                "{summary}"
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_file_is_missing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        status(&dir.path().join("none.json"), &as_measured()),
        Status::Missing
    );
}

#[test]
fn other_settings_are_measured_again_and_named() {
    let path = fixtures().join("sweep/64B-100c.json");
    let quick = Wanted {
        duration: Some(Duration::from_secs(10)),
        ..as_measured()
    };
    assert_eq!(
        redo_reason(&path, &quick),
        "it was measured with --duration 5.00s, not 10.00s"
    );
    let warm = Wanted {
        warmup: Some(Duration::from_secs(2)),
        ..as_measured()
    };
    assert!(redo_reason(&path, &warm).contains("--warmup 1.00s, not 2.00s"));
    let size = Wanted {
        msg_size: Some(1024),
        ..as_measured()
    };
    assert!(redo_reason(&path, &size).contains("--msg-size 64B, not 1KiB"));
    let more = Wanted {
        targets: vec!["smol".into()],
        ..as_measured()
    };
    assert!(redo_reason(&path, &more).contains("no result for target smol"));
}

#[test]
fn a_point_cut_short_is_measured_again() {
    let dir = edited(|v| v["partial"] = Value::Bool(true));
    let why = redo_reason(&dir.path().join("point.json"), &as_measured());
    assert!(why.contains("cut short"), "{why}");
    let dir = edited(|v| v["targets"][1]["partial"] = Value::Bool(true));
    let why = redo_reason(&dir.path().join("point.json"), &as_measured());
    assert!(why.contains("target tokio was cut short"), "{why}");
    let dir = edited(|v| v["targets"][0]["window_ns"] = Value::from(0));
    let why = redo_reason(&dir.path().join("point.json"), &as_measured());
    assert!(why.contains("measured nothing"), "{why}");
}

#[test]
fn a_broken_file_is_measured_again_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("point.json");
    fs::write(&path, "{ half a fi").unwrap();
    assert!(redo_reason(&path, &as_measured()).contains("not JSON"));
}

#[test]
fn another_repeat_count_or_connection_mode_is_measured_again() {
    let path = fixtures().join("sweep/64B-100c.json");
    let same = Wanted {
        repeat: Some(1),
        connection_mode: Some("persistent".into()),
        ..as_measured()
    };
    assert!(matches!(status(&path, &same), Status::Done(_)));
    let thrice = Wanted {
        repeat: Some(3),
        ..as_measured()
    };
    assert_eq!(
        redo_reason(&path, &thrice),
        "it was measured with --repeat 1, not 3"
    );
    let churn = Wanted {
        connection_mode: Some("per-message".into()),
        ..as_measured()
    };
    assert_eq!(
        redo_reason(&path, &churn),
        "it was measured with --connection-mode persistent, not per-message"
    );
    let churned = edited(|v| v["config"]["connection_mode"] = "per-message".into());
    let point = churned.path().join("point.json");
    assert!(matches!(
        status(
            &point,
            &Wanted {
                connection_mode: Some("per-message".into()),
                ..as_measured()
            }
        ),
        Status::Done(_)
    ));
}
