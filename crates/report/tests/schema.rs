//! The result file's layout, pinned: the JSON key names scripts and charts rely on, and the
//! checks that make a reader refuse a file it does not know rather than guess.

use std::fs;
use std::path::Path;

use echo_common::{LagSummary, Summary};
use echo_report::{
    ClientCost, Errors, Latency, Machine, OpenLoop, ReadError, RunConfig, RunResult, SCHEMA,
    ServerCost, TargetResult, Tick, encode_histogram, new_histogram, read_result,
};
use serde_json::Value;

/// A result with every optional part present, so that every key appears.
fn full_result() -> RunResult {
    let latency = Latency {
        count: 3,
        min: 1,
        mean: 2.0,
        stdev: 1.0,
        p50: 2,
        p90: 3,
        p99: 3,
        p999: 3,
        p9999: 3,
        max: 3,
    };
    RunResult {
        schema: SCHEMA.into(),
        started_at: "2026-11-25T12:00:00Z".into(),
        git_commit: Some("abc".into()),
        machine: Machine {
            cpu_model: "cpu".into(),
            cores: 2,
            kernel: "6.1".into(),
            hostname: "host".into(),
        },
        config: RunConfig {
            clients: 1,
            msg_size: 64,
            duration_ns: 1,
            warmup_ns: 1,
            timeout_ns: 1,
            client_threads: 1,
            client_cpus: vec![1],
            server_cpus: vec![0],
            server_threads: 1,
            rate: Some(10.0),
            work: "none".into(),
            work_every: 1,
        },
        targets: vec![TargetResult {
            target: "tokio".into(),
            partial: false,
            clients: 1,
            connected: 1,
            connect_ns: 1,
            window_ns: 1,
            messages: 3,
            msgs_per_sec: 3.0,
            mb_per_sec: 0.1,
            latency_ns: latency,
            latency_uncorrected_ns: Some(latency),
            bystander_latency_ns: Some(latency),
            working_latency_ns: Some(latency),
            errors: Errors::default(),
            starved_clients: 0,
            timeline: vec![Tick {
                t_s: 1.0,
                msgs: 3,
                p99_ns: 3,
            }],
            server: Some(ServerCost {
                cpu_user_ns: 1,
                cpu_sys_ns: 1,
                cpu_ns_per_msg: 1.0,
                peak_rss_bytes: 1,
                rss_per_conn_bytes: 1.0,
                threads: 1,
            }),
            client: ClientCost {
                cpu_ns_per_msg: 1.0,
                rss_per_conn_bytes: 1.0,
                saturated: false,
            },
            open_loop: Some(OpenLoop {
                target_rate: 10.0,
                achieved_rate: 10.0,
            }),
            server_summary: Some(Summary {
                target: "tokio".into(),
                accepted: 1,
                closed: 1,
                refused: 0,
                bytes_echoed: 192,
                errors: 0,
                resets_by_peer: 0,
                loop_lag_ns: Some(LagSummary {
                    samples: 1,
                    mean: 1,
                    p50: 1,
                    p99: 1,
                    p999: 1,
                    max: 1,
                }),
            }),
            histogram: encode_histogram(&new_histogram()),
        }],
        partial: false,
    }
}

/// Every key path of `v`, objects' keys joined with `.`, arrays as `[]`.
fn key_paths(v: &Value, prefix: &str, out: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.push(path.clone());
                key_paths(v, &path, out);
            }
        }
        Value::Array(items) => {
            for item in items.iter().take(1) {
                key_paths(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn latency_keys(prefix: &str) -> Vec<String> {
    let mut keys = vec![prefix.to_owned()];
    for k in [
        "count", "min", "mean", "stdev", "p50", "p90", "p99", "p999", "p9999", "max",
    ] {
        keys.push(format!("{prefix}.{k}"));
    }
    keys
}

/// The keys of layout `echo-bench/result/v1`. Renaming or removing one breaks every reader of
/// older files: that needs a new [`SCHEMA`] version, not an edit here.
fn pinned_keys() -> Vec<String> {
    let mut keys: Vec<String> = [
        "schema",
        "started_at",
        "git_commit",
        "machine",
        "machine.cpu_model",
        "machine.cores",
        "machine.kernel",
        "machine.hostname",
        "config",
        "config.clients",
        "config.msg_size",
        "config.duration_ns",
        "config.warmup_ns",
        "config.timeout_ns",
        "config.client_threads",
        "config.client_cpus",
        "config.server_cpus",
        "config.server_threads",
        "config.rate",
        "config.work",
        "config.work_every",
        "targets",
        "targets[].target",
        "targets[].partial",
        "targets[].clients",
        "targets[].connected",
        "targets[].connect_ns",
        "targets[].window_ns",
        "targets[].messages",
        "targets[].msgs_per_sec",
        "targets[].mb_per_sec",
        "targets[].errors",
        "targets[].errors.refused",
        "targets[].errors.reset",
        "targets[].errors.eof",
        "targets[].errors.timeout",
        "targets[].errors.corrupt",
        "targets[].errors.other",
        "targets[].starved_clients",
        "targets[].timeline",
        "targets[].timeline[].t_s",
        "targets[].timeline[].msgs",
        "targets[].timeline[].p99_ns",
        "targets[].server",
        "targets[].server.cpu_user_ns",
        "targets[].server.cpu_sys_ns",
        "targets[].server.cpu_ns_per_msg",
        "targets[].server.peak_rss_bytes",
        "targets[].server.rss_per_conn_bytes",
        "targets[].server.threads",
        "targets[].client",
        "targets[].client.cpu_ns_per_msg",
        "targets[].client.rss_per_conn_bytes",
        "targets[].client.saturated",
        "targets[].open_loop",
        "targets[].open_loop.target_rate",
        "targets[].open_loop.achieved_rate",
        "targets[].server_summary",
        "targets[].server_summary.target",
        "targets[].server_summary.accepted",
        "targets[].server_summary.closed",
        "targets[].server_summary.refused",
        "targets[].server_summary.bytes_echoed",
        "targets[].server_summary.errors",
        "targets[].server_summary.resets_by_peer",
        "targets[].server_summary.loop_lag_ns",
        "targets[].server_summary.loop_lag_ns.samples",
        "targets[].server_summary.loop_lag_ns.mean",
        "targets[].server_summary.loop_lag_ns.p50",
        "targets[].server_summary.loop_lag_ns.p99",
        "targets[].server_summary.loop_lag_ns.p999",
        "targets[].server_summary.loop_lag_ns.max",
        "targets[].histogram",
        "partial",
    ]
    .map(String::from)
    .to_vec();
    for l in [
        "latency_ns",
        "latency_uncorrected_ns",
        "bystander_latency_ns",
        "working_latency_ns",
    ] {
        keys.extend(latency_keys(&format!("targets[].{l}")));
    }
    keys.sort();
    keys
}

#[test]
fn the_json_keys_are_the_pinned_ones() {
    let value = serde_json::to_value(full_result()).unwrap();
    let mut keys = Vec::new();
    key_paths(&value, "", &mut keys);
    keys.sort();
    let pinned = pinned_keys();
    let missing: Vec<_> = pinned.iter().filter(|k| !keys.contains(k)).collect();
    let extra: Vec<_> = keys.iter().filter(|k| !pinned.contains(k)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "the layout changed: keys gone {missing:?}, keys new {extra:?} (renaming or removing a \
         key needs a new SCHEMA version; a new key is added to the pinned list)"
    );
    assert_eq!(SCHEMA, "echo-bench/result/v1");
}

fn write_json(dir: &Path, name: &str, value: &Value) -> std::path::PathBuf {
    let path = dir.join(name);
    fs::write(&path, serde_json::to_string(value).unwrap()).unwrap();
    path
}

#[test]
fn a_result_file_reads_back_as_written() {
    let dir = tempfile::tempdir().unwrap();
    let run = full_result();
    let path = write_json(dir.path(), "r.json", &serde_json::to_value(&run).unwrap());
    assert_eq!(read_result(&path).unwrap(), run);
}

#[test]
fn a_summary_from_before_resets_by_peer_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut value = serde_json::to_value(full_result()).unwrap();
    value["targets"][0]["server_summary"]
        .as_object_mut()
        .unwrap()
        .remove("resets_by_peer");
    let path = write_json(dir.path(), "old.json", &value);
    let run = read_result(&path).unwrap();
    assert_eq!(
        run.targets[0]
            .server_summary
            .as_ref()
            .unwrap()
            .resets_by_peer,
        0
    );
}

/// The reason `read_result` refuses `value`.
fn refusal(value: &Value) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(dir.path(), "r.json", value);
    match read_result(&path) {
        Err(e @ ReadError::Invalid { .. }) => e.to_string(),
        other => panic!("expected the file to be refused as invalid, got {other:?}"),
    }
}

#[test]
fn a_file_without_its_schema_is_refused() {
    let mut value = serde_json::to_value(full_result()).unwrap();
    value.as_object_mut().unwrap().remove("schema");
    assert!(
        refusal(&value).contains("no 'schema' field"),
        "{}",
        refusal(&value)
    );
}

#[test]
fn a_file_of_another_layout_version_is_refused() {
    for other in [
        "echo-bench/result/v2",
        "echo-bench/result/v10",
        "echo-bench/result",
        "echo-bench/result/v1-beta",
        "other/v1",
    ] {
        let mut value = serde_json::to_value(full_result()).unwrap();
        value["schema"] = Value::from(other);
        let why = refusal(&value);
        assert!(
            why.contains(&format!("schema '{other}', expected '{SCHEMA}'")),
            "{why}"
        );
    }
}

#[test]
fn a_file_with_a_renamed_key_is_refused_and_says_which() {
    let mut value = serde_json::to_value(full_result()).unwrap();
    let target = value["targets"][0].as_object_mut().unwrap();
    let p = target.remove("msgs_per_sec").unwrap();
    target.insert("msgs_per_second".into(), p);
    let why = refusal(&value);
    assert!(why.contains("msgs_per_sec"), "{why}");
}
