//! The result file's layout, pinned: the JSON key names scripts and charts rely on, and the
//! checks that make a reader refuse a file it does not know rather than guess.

use std::fs;
use std::path::Path;

use echo_proto::{LagSummary, Summary};
use echo_report::{
    CapacitySearch, CapacityStep, Churn, ClientCost, Clock, Errors, HostRun, Latency, Machine,
    Noise, OpenLoop, ReadError, RunConfig, RunResult, SCHEMA, ServerCost, TargetResult, Tick,
    WallWindow, encode_histogram, new_histogram, read_result,
};
use serde_json::Value;

/// A result with every optional part present, so that every key appears: a merge of one host,
/// whose own result is the same again.
fn full_result() -> RunResult {
    let host = host_result();
    RunResult {
        hosts: vec![HostRun {
            file: "host1.json".into(),
            result: host.clone(),
        }],
        ..host
    }
}

/// One host's result with every optional part present.
fn host_result() -> RunResult {
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
    let mut run = RunResult {
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
            start_at: Some("2026-11-25T12:00:00Z".into()),
            rate_ramp: Some("10..20/1s".into()),
            connection_mode: Some("per-message".into()),
            repeat: 2,
            bind: vec!["192.0.2.1".into(), "192.0.2.101".into()],
        },
        targets: vec![TargetResult {
            target: "tokio".into(),
            partial: false,
            clients: 1,
            connected: 1,
            connect_ns: 1,
            window_ns: 1,
            wall_window: Some(WallWindow {
                start_unix_ns: 1,
                end_unix_ns: 2,
            }),
            messages: 3,
            msgs_per_sec: Some(3.0),
            mb_per_sec: Some(0.1),
            latency_ns: latency,
            latency_uncorrected_ns: Some(latency),
            bystander_latency_ns: Some(latency),
            working_latency_ns: Some(latency),
            errors: Errors::default(),
            starved_clients: Some(0),
            timeline: vec![Tick {
                t_s: 1.0,
                msgs: 3,
                p99_ns: 3,
                asked_rate: Some(10.0),
            }],
            server: Some(ServerCost {
                cpu_user_ns: 1,
                cpu_sys_ns: 1,
                cpu_ns_per_msg: Some(1.0),
                peak_rss_bytes: 1,
                rss_per_conn_bytes: 1.0,
                threads: 1,
            }),
            client: ClientCost {
                cpu_ns_per_msg: Some(1.0),
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
                runtime: Some("go1.19.8".into()),
            }),
            histogram: encode_histogram(&new_histogram()),
            capacity: Some(CapacitySearch {
                slo: "p99=1ms".into(),
                percentile: 99.0,
                limit_ns: 1_000_000,
                precision: 0.05,
                steps: vec![CapacityStep {
                    asked: 10.0,
                    achieved: 10.0,
                    at_percentile_ns: 3,
                    latency_ns: latency,
                    errors: 0,
                    verdict: "kept".into(),
                }],
                answer: "at-least".into(),
                kept: Some(10.0),
                broke: Some(20.0),
            }),
            churn: Some(Churn {
                mode: "per-message".into(),
                connections: 3,
                connections_per_sec: 3.0,
                connect_latency_ns: latency,
                exchange_latency_ns: latency,
            }),
            noise: Some(Noise {
                cpus: vec![0, 1],
                steal: 0.001,
                others: Some(0.01),
            }),
            repeats: None,
        }],
        partial: false,
        clock: Some(Clock {
            source: Some("tsc".into()),
            synchronized: Some(true),
        }),
        hosts: Vec::new(),
    };
    // Two runs of it, so that the repetitions and their spreads appear too.
    let one = run.targets[0].clone();
    let mut other = one.clone();
    other.msgs_per_sec = Some(4.0);
    run.targets = vec![TargetResult::from_runs(vec![one, other]).unwrap()];
    run
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
        "config.start_at",
        "config.rate_ramp",
        "config.connection_mode",
        "config.repeat",
        "config.bind",
        "targets",
        "targets[].target",
        "targets[].partial",
        "targets[].clients",
        "targets[].connected",
        "targets[].connect_ns",
        "targets[].window_ns",
        "targets[].wall_window",
        "targets[].wall_window.start_unix_ns",
        "targets[].wall_window.end_unix_ns",
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
        "targets[].errors.port_exhausted",
        "targets[].starved_clients",
        "targets[].timeline",
        "targets[].timeline[].t_s",
        "targets[].timeline[].msgs",
        "targets[].timeline[].p99_ns",
        "targets[].timeline[].asked_rate",
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
        "targets[].server_summary.runtime",
        "targets[].histogram",
        "targets[].capacity",
        "targets[].capacity.slo",
        "targets[].capacity.percentile",
        "targets[].capacity.limit_ns",
        "targets[].capacity.precision",
        "targets[].capacity.steps",
        "targets[].capacity.steps[].asked",
        "targets[].capacity.steps[].achieved",
        "targets[].capacity.steps[].at_percentile_ns",
        "targets[].capacity.steps[].errors",
        "targets[].capacity.steps[].verdict",
        "targets[].capacity.answer",
        "targets[].capacity.kept",
        "targets[].capacity.broke",
        "targets[].churn",
        "targets[].churn.mode",
        "targets[].churn.connections",
        "targets[].churn.connections_per_sec",
        "targets[].noise",
        "targets[].noise.cpus",
        "targets[].noise.steal",
        "targets[].noise.others",
        "partial",
        "clock",
        "clock.source",
        "clock.synchronized",
    ]
    .map(String::from)
    .to_vec();
    for l in [
        "latency_ns",
        "latency_uncorrected_ns",
        "bystander_latency_ns",
        "working_latency_ns",
        "capacity.steps[].latency_ns",
        "churn.connect_latency_ns",
        "churn.exchange_latency_ns",
    ] {
        keys.extend(latency_keys(&format!("targets[].{l}")));
    }
    // A target's runs under --repeat hold every key a target has, but no runs of their own.
    let target_keys: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("targets[]."))
        .map(|k| format!("targets[].repeats.runs[].{k}"))
        .collect();
    keys.extend(target_keys);
    keys.extend(
        [
            "targets[].repeats",
            "targets[].repeats.runs",
            "targets[].repeats.representative",
        ]
        .map(String::from),
    );
    for figure in [
        "msgs_per_sec",
        "p50_ns",
        "p99_ns",
        "server_cpu_ns_per_msg",
        "capacity",
    ] {
        let spread = format!("targets[].repeats.{figure}");
        for k in [
            "n",
            "median",
            "interval",
            "interval.lo",
            "interval.hi",
            "interval.confidence",
            "min",
            "max",
            "cv",
        ] {
            keys.push(format!("{spread}.{k}"));
        }
        keys.push(spread);
    }
    // A merge (`loadgen merge`) keeps each host's result whole, in the same layout.
    let host_keys: Vec<String> = keys.iter().map(|k| format!("hosts[].result.{k}")).collect();
    keys.extend(["hosts", "hosts[].file", "hosts[].result"].map(String::from));
    keys.extend(host_keys);
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
    assert_eq!(SCHEMA, "echo-bench/result/v2");
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
fn a_result_from_before_the_scenarios_still_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut value = serde_json::to_value(full_result()).unwrap();
    for key in ["rate_ramp", "connection_mode", "bind"] {
        value["config"].as_object_mut().unwrap().remove(key);
    }
    let target = value["targets"][0].as_object_mut().unwrap();
    target.remove("capacity");
    target.remove("churn");
    target["errors"]
        .as_object_mut()
        .unwrap()
        .remove("port_exhausted");
    target["timeline"][0]
        .as_object_mut()
        .unwrap()
        .remove("asked_rate");
    let path = write_json(dir.path(), "old.json", &value);
    let run = read_result(&path).unwrap();
    let t = &run.targets[0];
    assert!(t.capacity.is_none() && t.churn.is_none() && t.timeline[0].asked_rate.is_none());
    assert_eq!(t.errors.port_exhausted, 0);
    assert!(run.config.rate_ramp.is_none() && run.config.connection_mode.is_none());
    assert!(run.config.bind.is_empty(), "no --bind: the kernel chose");
}

/// The full result, written without its first target's server summary `key` and read back.
fn read_without_summary_key(key: &str) -> RunResult {
    let dir = tempfile::tempdir().unwrap();
    let mut value = serde_json::to_value(full_result()).unwrap();
    value["targets"][0]["server_summary"]
        .as_object_mut()
        .unwrap()
        .remove(key);
    let path = write_json(dir.path(), "old.json", &value);
    read_result(&path).unwrap()
}

#[test]
fn a_summary_from_before_resets_by_peer_still_reads() {
    let run = read_without_summary_key("resets_by_peer");
    assert_eq!(
        run.targets[0]
            .server_summary
            .as_ref()
            .unwrap()
            .resets_by_peer,
        0
    );
}

#[test]
fn a_summary_from_before_the_runtime_was_named_still_reads() {
    let run = read_without_summary_key("runtime");
    assert_eq!(
        run.targets[0].server_summary.as_ref().unwrap().runtime,
        None
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
        "echo-bench/result/v3",
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

/// The full result as JSON, with its first target's `key` renamed.
fn with_target_key_renamed(key: &str) -> serde_json::Value {
    let mut value = serde_json::to_value(full_result()).unwrap();
    let target = value["targets"][0].as_object_mut().unwrap();
    let p = target.remove(key).unwrap();
    target.insert(format!("{key}_renamed"), p);
    value
}

#[test]
fn a_file_with_a_renamed_key_is_refused_and_says_which() {
    // `messages` is required; `msgs_per_sec` may be absent, and is refused by the check below.
    for key in ["messages", "msgs_per_sec"] {
        let why = refusal(&with_target_key_renamed(key));
        assert!(
            why.contains(&format!("`{key}`")) || why.contains(&format!("'{key}'")),
            "{why}"
        );
    }
}

/// The figures a window always has may be absent (a run cut before its window), so serde alone
/// would read a file that renamed or lost one as such a run: the reader checks them against the
/// window, in a target, in its repetitions and in a merged host's result.
#[test]
fn a_window_without_its_rate_or_starved_count_is_refused_and_says_which() {
    for key in ["msgs_per_sec", "mb_per_sec", "starved_clients"] {
        let why = refusal(&with_target_key_renamed(key));
        assert!(
            why.contains(&format!(
                "target tokio measured a window of 1 ns but has no '{key}'"
            )),
            "{why}"
        );
    }
    let mut value = serde_json::to_value(full_result()).unwrap();
    value["targets"][0]["repeats"]["runs"][1]
        .as_object_mut()
        .unwrap()
        .remove("msgs_per_sec");
    assert!(refusal(&value).contains("no 'msgs_per_sec'"));
    let mut value = serde_json::to_value(full_result()).unwrap();
    value["hosts"][0]["result"]["targets"][0]
        .as_object_mut()
        .unwrap()
        .remove("starved_clients");
    assert!(refusal(&value).contains("no 'starved_clients'"));
}

/// One target of a run cut before its window opened, as loadgen leaves it.
fn cut_before_its_window() -> RunResult {
    let mut run = host_result();
    run.partial = true;
    let t = &mut run.targets[0];
    t.repeats = None;
    (t.partial, t.window_ns, t.wall_window, t.messages) = (true, 0, None, 0);
    (t.msgs_per_sec, t.mb_per_sec, t.starved_clients) = (None, None, None);
    t.latency_ns = Latency::default();
    t.timeline.clear();
    t.server.as_mut().unwrap().cpu_ns_per_msg = None;
    t.client.cpu_ns_per_msg = None;
    run
}

#[test]
fn a_run_cut_before_its_window_has_no_rate_starved_count_or_cost_per_message() {
    let run = cut_before_its_window();
    let value = serde_json::to_value(&run).unwrap();
    let target = &value["targets"][0];
    for key in ["msgs_per_sec", "mb_per_sec", "starved_clients"] {
        assert!(target.get(key).is_none(), "{key}: {target:#}");
    }
    for side in ["server", "client"] {
        assert!(target[side].get("cpu_ns_per_msg").is_none(), "{target:#}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = write_json(dir.path(), "cut.json", &value);
    assert_eq!(read_result(&path).unwrap(), run);
}

/// Every result file committed under `results/reference/` (and the charts' fixtures) was written when
/// these figures were always there: each still reads, with every one of them present.
#[test]
fn every_committed_result_reads_its_figures_as_present() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let found = echo_report::find_result_files(&[
        root.join("results/reference"),
        root.join("crates/charts/tests/fixtures"),
    ])
    .unwrap();
    assert!(found.len() > 100, "{} files", found.len());
    fn check(run: &RunResult, file: &Path) {
        for t in run
            .targets
            .iter()
            .flat_map(|t| std::iter::once(t).chain(t.runs()))
        {
            let what = format!("{} {}", file.display(), t.target);
            assert!(t.msgs_per_sec.is_some() && t.mb_per_sec.is_some(), "{what}");
            assert!(t.starved_clients.is_some(), "{what}");
            assert!(t.client.cpu_ns_per_msg.is_some(), "{what}");
            assert!(
                t.server.is_none_or(|s| s.cpu_ns_per_msg.is_some()),
                "{what}"
            );
        }
        for h in &run.hosts {
            check(&h.result, file);
        }
    }
    for f in found {
        check(&read_result(&f.path).unwrap(), &f.path);
    }
}

#[test]
fn errors_are_described_by_kind() {
    let e = echo_report::Errors {
        refused: 3,
        timeout: 1,
        ..Default::default()
    };
    assert_eq!(e.to_string(), "3 refused, 1 timeout");
    assert_eq!(echo_report::Errors::default().to_string(), "none");
}
