//! What a run leaves behind: a table on stdout (or JSON), and result files under `results/`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use echo_common::units::format_duration;
use echo_report::{Latency, RunResult, TargetResult, write_atomic, write_hgrm};
use hdrhistogram::Histogram;

use crate::run::describe_errors;

fn us(ns: u64) -> String {
    format_duration(std::time::Duration::from_nanos(ns))
}

/// The human-readable table of a run, with notes under it.
pub fn table(run: &RunResult) -> String {
    let split = run.targets.iter().any(|t| t.bystander_latency_ns.is_some());
    let lag = run.targets.iter().any(|t| {
        t.server_summary
            .as_ref()
            .is_some_and(|s| s.loop_lag_ns.is_some())
            && run.config.work != "none"
    });
    let mut header = vec![
        "target", "clients", "msgs/s", "MB/s", "p50", "p90", "p99", "p99.9", "max",
    ];
    if split {
        header.extend(["bystander p99", "working p99"]);
    }
    if lag {
        header.push("loop lag p99");
    }
    let open = run.targets.iter().any(|t| t.open_loop.is_some());
    if open {
        header.extend(["uncorrected p50", "uncorrected p99", "sent/s"]);
    }
    header.extend(["errors", "starved"]);
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for t in &run.targets {
        let l = &t.latency_ns;
        let mut row = vec![
            format!("{}{}", t.target, if t.partial { " (partial)" } else { "" }),
            if t.connected == t.clients {
                t.clients.to_string()
            } else {
                format!("{}/{}", t.connected, t.clients)
            },
            format!("{:.0}", t.msgs_per_sec),
            format!("{:.1}", t.mb_per_sec),
        ];
        row.extend(
            [l.p50, l.p90, l.p99, l.p999, l.max]
                .map(|v| if l.count == 0 { "-".into() } else { us(v) }),
        );
        if split {
            let p99 =
                |l: &Option<Latency>| l.filter(|l| l.count > 0).map_or("-".into(), |l| us(l.p99));
            row.extend([p99(&t.bystander_latency_ns), p99(&t.working_latency_ns)]);
        }
        if lag {
            let p99 = t
                .server_summary
                .as_ref()
                .and_then(|s| s.loop_lag_ns)
                .filter(|l| l.samples > 0);
            row.push(p99.map_or("-".into(), |l| us(l.p99)));
        }
        if open {
            let raw = t.latency_uncorrected_ns.filter(|l| l.count > 0);
            row.push(raw.map_or("-".into(), |l| us(l.p50)));
            row.push(raw.map_or("-".into(), |l| us(l.p99)));
            row.push(
                t.open_loop
                    .map_or("-".into(), |o| format!("{:.0}", o.achieved_rate)),
            );
        }
        row.extend([t.errors.total().to_string(), t.starved_clients.to_string()]);
        rows.push(row);
    }
    let mut out = render(&rows, 1);
    for t in &run.targets {
        for note in notes(t) {
            let _ = writeln!(out, "  {}: {note}", t.target);
        }
    }
    out
}

/// Below this share of the asked rate, the table says the open loop fell short.
const RATE_SHORTFALL: f64 = 0.97;

/// One table of many result files: a row per target per file, with the settings that differ
/// between them. This is how the pitfall demonstration puts its runs side by side.
pub fn results_table(runs: &[RunResult]) -> String {
    let mut rows = vec![
        [
            "target",
            "work",
            "clients",
            "size",
            "msgs/s",
            "p50",
            "p99",
            "bystander p50",
            "bystander p99",
            "working p99",
            "loop lag p99",
            "errors",
            "starved",
        ]
        .map(String::from)
        .to_vec(),
    ];
    // Open-loop runs add what only they have: the uncorrected figures and the rates.
    let open = runs.iter().any(|r| r.config.rate.is_some());
    if open {
        rows[0]
            .extend(["uncorrected p50", "uncorrected p99", "asked/s", "sent/s"].map(String::from));
    }
    let lat = |l: Option<Latency>, f: fn(&Latency) -> u64| {
        l.filter(|l| l.count > 0).map_or("-".into(), |l| us(f(&l)))
    };
    // Each target's runs together, in the order that tells the story (see `work_rank`).
    let mut pairs: Vec<(&RunResult, &TargetResult)> = runs
        .iter()
        .flat_map(|r| r.targets.iter().map(move |t| (r, t)))
        .collect();
    let target_rank = |name: &str| {
        echo_targets::every()
            .position(|t| t.name == name)
            .unwrap_or(usize::MAX)
    };
    pairs.sort_by_key(|(r, t)| {
        (
            target_rank(&t.target),
            echo_report::work_rank(&r.config.work),
        )
    });
    for (run, t) in pairs {
        let lag = t
            .server_summary
            .as_ref()
            .and_then(|s| s.loop_lag_ns)
            .filter(|l| l.samples > 0);
        let work = if run.config.work == "none" {
            "none".to_owned()
        } else {
            format!("{} every {}", run.config.work, run.config.work_every)
        };
        rows.push(vec![
            format!("{}{}", t.target, if t.partial { " (partial)" } else { "" }),
            work,
            t.connected.to_string(),
            run.config.msg_size.to_string(),
            format!("{:.0}", t.msgs_per_sec),
            lat(Some(t.latency_ns), |l| l.p50),
            lat(Some(t.latency_ns), |l| l.p99),
            lat(t.bystander_latency_ns, |l| l.p50),
            lat(t.bystander_latency_ns, |l| l.p99),
            lat(t.working_latency_ns, |l| l.p99),
            lag.map_or("-".into(), |l| us(l.p99)),
            t.errors.total().to_string(),
            t.starved_clients.to_string(),
        ]);
        if open {
            let row = rows.last_mut().expect("just pushed");
            row.push(lat(t.latency_uncorrected_ns, |l| l.p50));
            row.push(lat(t.latency_uncorrected_ns, |l| l.p99));
            row.push(
                t.open_loop
                    .map_or("-".into(), |o| format!("{:.0}", o.target_rate)),
            );
            row.push(
                t.open_loop
                    .map_or("-".into(), |o| format!("{:.0}", o.achieved_rate)),
            );
        }
    }
    render(&rows, 2)
}

/// Aligns `rows` (the first is the header) into columns: the first `left` (names) flush left,
/// the figures flush right.
fn render(rows: &[Vec<String>], left: usize) -> String {
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(c, (cell, w))| {
                if c < left {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
                }
            })
            .collect();
        let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        if i == 0 {
            let _ = writeln!(
                out,
                "{}",
                "-".repeat(widths.iter().sum::<usize>() + 2 * (widths.len() - 1))
            );
        }
    }
    out
}

fn notes(t: &TargetResult) -> Vec<String> {
    let mut notes = Vec::new();
    if t.client.saturated {
        notes.push("WARNING: the load generator kept its CPUs over 90% busy: the rate may be the client's limit as much as the server's (scripts/client-overhead.sh compares it with a minimal client)".into());
    }
    if let Some(o) = t.open_loop
        && o.achieved_rate < o.target_rate * RATE_SHORTFALL
    {
        notes.push(format!(
            "sent {:.0} msgs/s of the {:.0} asked: the server (or the client) could not keep up, \
             and the corrected latency counts every message from when it was due",
            o.achieved_rate, o.target_rate
        ));
    }
    if t.errors.total() > 0 {
        notes.push(format!("errors: {}", describe_errors(&t.errors)));
    }
    if t.starved_clients > 0 {
        notes.push(format!(
            "{} clients got no reply at all in the window",
            t.starved_clients
        ));
    }
    if let Some(s) = &t.server {
        notes.push(format!(
            "server: {:.0} ns CPU/msg, peak RSS {:.1} MiB, {} threads; client: {:.0} ns CPU/msg",
            s.cpu_ns_per_msg,
            s.peak_rss_bytes as f64 / (1 << 20) as f64,
            s.threads,
            t.client.cpu_ns_per_msg
        ));
    }
    notes
}

/// Writes the run's files under `dir`: one `.hgrm` per target and histogram, then the JSON
/// result (last, so that a reader that sees the JSON finds everything it names). Returns the
/// JSON file's path.
pub fn save(
    dir: &Path,
    output: Option<&Path>,
    run: &RunResult,
    histograms: &[(String, Histogram<u64>)],
) -> Result<PathBuf> {
    let (dir, stem) = match output {
        Some(path) => (
            path.parent().unwrap_or(Path::new(".")),
            path.file_stem()
                .context("--output needs a file name")?
                .to_string_lossy()
                .into_owned(),
        ),
        None => (dir, file_stem(run)),
    };
    for (suffix, h) in histograms {
        let path = dir.join(format!("{stem}-{suffix}.hgrm"));
        // Microseconds, the unit HdrHistogram's plotter expects by default.
        write_atomic(&path, |w| write_hgrm(h, 1000.0, w))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    let path = dir.join(format!("{stem}.json"));
    write_atomic(&path, |w| {
        serde_json::to_writer_pretty(&mut *w, run)?;
        w.write_all(b"\n")
    })
    .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// `20261125T140501Z-tokio-c1000-m64`: sortable by time, readable by setting.
fn file_stem(run: &RunResult) -> String {
    let stamp: String = run
        .started_at
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .collect();
    let targets = if run.targets.len() > 3 {
        format!("{}-targets", run.targets.len())
    } else {
        run.targets
            .iter()
            .map(|t| t.target.replace([':', '.'], "_"))
            .collect::<Vec<_>>()
            .join("+")
    };
    let mut stem = format!(
        "{stamp}-{targets}-c{}-m{}",
        run.config.clients, run.config.msg_size
    );
    if run.config.work != "none" {
        stem.push('-');
        stem.extend(
            run.config
                .work
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }),
        );
    }
    if let Some(rate) = run.config.rate {
        let _ = write!(stem, "-r{rate:.0}");
    }
    stem
}
