//! What loadgen prints on stdout: one output format chosen once, and the one table of results
//! (a run just measured, or earlier runs side by side) drawn by [`echo_report::Table`].

use std::time::Duration;

use anyhow::Result;
use echo_common::units::{format_bytes, format_duration};
use echo_report::{
    Align, Figure, Latency, RunResult, Table, TargetResult, markdown_rows, measured_on,
};

use crate::cli::Format;
use crate::present::compare::{self, TIE_MARK};
use crate::present::stdout;
use crate::warnings::Warning;

/// Results to print: each run, with a label naming where it came from when there are several.
pub struct Source<'a> {
    /// The run.
    pub run: &'a RunResult,
    /// Its file, relative to the files' shared folder; `None` for the run just measured.
    pub label: Option<&'a str>,
}

/// Prints `sources` on stdout in `format`, and warnings where they belong: under the table, or on
/// stderr when stdout is data.
pub fn print(sources: &[Source], format: Format) -> Result<()> {
    let warnings = saturation(sources);
    let targets = sources.iter().map(|s| s.run.targets.len()).sum::<usize>();
    match format {
        // Nothing was measured: stderr has said why, and an empty table would say nothing.
        Format::Table | Format::Markdown if targets == 0 => {}
        Format::Table => {
            let mut table = table(sources);
            table
                .notes
                .extend(warnings.iter().map(|w| format!("WARNING: {w}")));
            stdout::write(&table.text())?;
            return Ok(());
        }
        Format::Json => match sources {
            [one] if one.label.is_none() => {
                stdout::write(&format!("{}\n", serde_json::to_string_pretty(one.run)?))?
            }
            _ => {
                let runs: Vec<&RunResult> = sources.iter().map(|s| s.run).collect();
                stdout::write(&format!("{}\n", serde_json::to_string_pretty(&runs)?))?
            }
        },
        Format::Markdown => stdout::write(&markdown_rows(
            sources
                .iter()
                .flat_map(|s| s.run.targets.iter().map(move |t| (s.run, t))),
        ))?,
    }
    if let Some(w) = warnings {
        eprintln!("Warning: {w}");
    }
    Ok(())
}

/// One warning for every target whose load generator was saturated.
fn saturation(sources: &[Source]) -> Option<Warning> {
    let targets: Vec<String> = sources
        .iter()
        .flat_map(|s| s.run.targets.iter())
        .filter(|t| t.client.saturated)
        .map(|t| t.target.clone())
        .collect();
    (!targets.is_empty()).then(|| Warning::ClientSaturated(dedup(targets)))
}

fn dedup(mut v: Vec<String>) -> Vec<String> {
    let mut seen = Vec::new();
    v.retain(|x| {
        let new = !seen.contains(x);
        if new {
            seen.push(x.clone());
        }
        new
    });
    v
}

/// Below this share of the asked rate, the table says the open loop fell short.
const RATE_SHORTFALL: f64 = 0.97;

/// The table of `sources`: one row per target of each run. Columns that hold no data are left
/// out, and settings every row shares go into the caption. A run just measured (no label) gets
/// every figure and a note per target; earlier runs side by side (labelled) get the figures that
/// compare, a source and a time per row, in the order that tells the pitfall story.
pub fn table(sources: &[Source]) -> Table {
    let compare = sources.iter().any(|s| s.label.is_some());
    let mut rows: Vec<Row> = sources
        .iter()
        .flat_map(|s| s.run.targets.iter().map(move |t| (s, t)))
        .collect();
    if compare {
        let target_rank = |name: &str| {
            echo_targets::every()
                .position(|t| t.name == name)
                .unwrap_or(usize::MAX)
        };
        rows.sort_by_key(|(s, t)| {
            (
                target_rank(&t.target),
                echo_report::work_rank(&s.run.config.work),
            )
        });
    }
    let shared = Shared::of(&rows);
    let mut t = Table::new(COLUMNS);
    t.caption
        .push(shared.caption(rows.iter().map(|(s, _)| s.run)));
    let tied = ties(&rows);
    let any_tie = tied.contains(&true);
    for (&(s, r), tied) in rows.iter().zip(tied) {
        let noise = noise_notes(r);
        t.row(cells((s, r), tied, &shared, compare && !noise.is_empty()));
        if !compare {
            t.notes
                .extend(notes(r).into_iter().map(|n| format!("  {}: {n}", r.target)));
            t.notes.extend(noise);
        }
    }
    let targets: Vec<TargetResult> = rows.iter().map(|(_, r)| (*r).clone()).collect();
    t.notes.extend(compare::interval_note(&targets));
    if rows.iter().any(|(_, r)| r.runs().len() > 1) {
        t.notes.push(
            "With repeated runs, p90, p99.9 and max are those of the run with the median msgs/s; \
             every run is in the result file."
                .into(),
        );
    }
    if any_tie {
        t.notes.push(format!(
            "{TIE_MARK}: this run cannot tell its msgs/s from the fastest's under the same \
             settings (the interval of their ratio includes 1)"
        ));
    }
    t
}

/// One row of the table: a target's result and the run it came from.
type Row<'a> = (&'a Source<'a>, &'a TargetResult);

/// The table's columns; those that hold no data are left out when it is drawn.
const COLUMNS: [(&str, Align); 25] = [
    ("source", Align::Left),
    ("time", Align::Left),
    ("target", Align::Left),
    ("work", Align::Left),
    ("clients", Align::Right),
    ("size", Align::Right),
    ("asked/s", Align::Right),
    ("capacity", Align::Right),
    ("msgs/s", Align::Right),
    ("MB/s", Align::Right),
    ("p50", Align::Right),
    ("p90", Align::Right),
    ("p99", Align::Right),
    ("p99.9", Align::Right),
    ("max", Align::Right),
    ("server CPU/msg", Align::Right),
    ("bystander p99", Align::Right),
    ("working p99", Align::Right),
    ("loop lag p99", Align::Right),
    ("uncorrected p50", Align::Right),
    ("uncorrected p99", Align::Right),
    ("sent/s", Align::Right),
    ("errors", Align::Right),
    ("starved", Align::Right),
    ("flags", Align::Left),
];

/// Settings every row shares, said once in the caption instead of in a column (`None`: they
/// differ, and the column stays).
struct Shared {
    work: Option<String>,
    size: Option<String>,
    rate: Option<String>,
    /// Every run started on the same day: the time column leaves the date out.
    one_day: bool,
    /// Earlier runs side by side (the rows are labelled): only the figures that compare.
    compare: bool,
}

impl Shared {
    fn of(rows: &[Row]) -> Shared {
        let runs = || rows.iter().map(|(s, _)| s.run);
        let same = |f: fn(&RunResult) -> String| {
            let first = runs().next().map(f)?;
            runs().all(|r| f(r) == first).then_some(first)
        };
        let days: Vec<&str> = runs().map(|r| day(&r.started_at)).collect();
        Shared {
            work: same(work_of),
            size: same(size_of),
            rate: same(rate_of),
            one_day: days.windows(2).all(|w| w[0] == w[1]),
            compare: rows.iter().any(|(s, _)| s.label.is_some()),
        }
    }

    /// Where and when the runs were measured, and the settings they share.
    fn caption<'a>(&self, runs: impl IntoIterator<Item = &'a RunResult>) -> String {
        let mut caption = measured_on(runs);
        caption.push_str(&format!(
            " {} messages, work {}, {}.",
            self.size.as_deref().unwrap_or("various"),
            self.work.as_deref().unwrap_or("various"),
            self.rate.as_deref().unwrap_or("closed and open loops")
        ));
        caption
    }
}

fn work_of(r: &RunResult) -> String {
    if r.config.work_every > 1 {
        format!("{} (1 in {})", r.config.work, r.config.work_every)
    } else {
        r.config.work.clone()
    }
}

fn size_of(r: &RunResult) -> String {
    format_bytes(r.config.msg_size as u64)
}

/// The loop a run drove, as its caption says it: a ramp by its rates, and a capacity search as
/// a search (its `rate` is only where the search started).
fn rate_of(r: &RunResult) -> String {
    let c = &r.config;
    let ramp = c.rate_ramp.as_deref().and_then(|ramp| {
        let (rates, step) = ramp.split_once('/')?;
        let (from, to) = rates.split_once("..")?;
        Some(format!(
            "open loop, ramp {from}→{to} msgs/s in steps of {step}"
        ))
    });
    if let Some(ramp) = ramp {
        ramp
    } else if r.targets.iter().any(|t| t.capacity.is_some()) {
        format!(
            "open loop, a capacity search from {:.0} msgs/s (each step's rate is its own)",
            c.rate.unwrap_or_default()
        )
    } else {
        c.rate.map_or_else(
            || "closed loop".into(),
            |x| format!("open loop at {x:.0} msgs/s"),
        )
    }
}

/// One row's cells, in [`COLUMNS`]' order. Earlier runs side by side say only that a window
/// was `noisy`; a run just measured says how, in a note.
fn cells((s, r): Row, tied: bool, shared: &Shared, noisy: bool) -> Vec<Option<String>> {
    let run = s.run;
    let full = !shared.compare;
    let lat =
        |l: Option<Latency>, f: fn(&Latency) -> u64| l.filter(|l| l.count > 0).map(|l| ns(f(&l)));
    let all = Some(r.latency_ns);
    // A run stopped before its window opened has no rate, starved count or rate sent: its file
    // leaves the first two out, and the open loop's achieved rate over no time says nothing.
    let opened = r.window_ns > 0;
    let lag = r
        .server_summary
        .as_ref()
        .and_then(|s| s.loop_lag_ns)
        .filter(|l| l.samples > 0 && run.config.work != "none");
    let flags: Vec<&str> = [
        // The target's own mark: a run cut short in its second target leaves the first whole.
        ("partial", r.partial),
        ("client saturated", r.client.saturated),
        (TIE_MARK, tied),
        ("noisy", noisy),
    ]
    .into_iter()
    .filter_map(|(flag, set)| set.then_some(flag))
    .collect();
    // Repeated runs: the median over them, with its interval.
    let repeated = r.runs().len() > 1;
    let spread = |f: Figure| repeated.then(|| compare::cell(f, r));
    vec![
        s.label.map(str::to_owned),
        s.label.map(|_| time(&run.started_at, shared.one_day)),
        Some(r.target.clone()),
        shared.work.is_none().then(|| work_of(run)),
        Some(if r.connected == r.clients {
            r.clients.to_string()
        } else {
            format!("{}/{}", r.connected, r.clients)
        }),
        shared.size.is_none().then(|| size_of(run)),
        shared
            .rate
            .is_none()
            .then(|| run.config.rate.map(|x| format!("{x:.0}")))
            .flatten(),
        r.capacity
            .as_ref()
            .map(|_| compare::cell(Figure::Capacity, r)),
        spread(Figure::MsgsPerSec).or_else(|| r.msgs_per_sec.map(|x| format!("{x:.0}"))),
        r.mb_per_sec.filter(|_| full).map(|x| format!("{x:.1}")),
        spread(Figure::P50).or_else(|| lat(all, |l| l.p50)),
        lat(all, |l| l.p90).filter(|_| full),
        spread(Figure::P99).or_else(|| lat(all, |l| l.p99)),
        lat(all, |l| l.p999).filter(|_| full),
        lat(all, |l| l.max),
        // One run's own value, or the median and interval of several.
        Some(compare::cell(Figure::ServerCpuPerMsg, r)).filter(|c| c != "-"),
        lat(r.bystander_latency_ns, |l| l.p99),
        lat(r.working_latency_ns, |l| l.p99),
        lag.map(|l| ns(l.p99)),
        lat(r.latency_uncorrected_ns, |l| l.p50),
        lat(r.latency_uncorrected_ns, |l| l.p99),
        r.open_loop
            .filter(|_| opened)
            .map(|o| format!("{:.0}", o.achieved_rate)),
        Some(r.errors.total().to_string()),
        r.starved_clients.map(|n| n.to_string()),
        (!flags.is_empty()).then(|| flags.join(", ")),
    ]
}

/// For each row, whether its throughput is tied with the fastest among the rows measured under
/// the same settings (clients, size, work, rate).
fn ties(rows: &[(&Source, &TargetResult)]) -> Vec<bool> {
    let key = |(s, t): &(&Source, &TargetResult)| {
        let c = &s.run.config;
        (
            t.clients,
            c.msg_size,
            c.work.clone(),
            c.work_every,
            c.rate.map(f64::to_bits),
        )
    };
    let mut tied = vec![false; rows.len()];
    let mut done = vec![false; rows.len()];
    for i in 0..rows.len() {
        if done[i] {
            continue;
        }
        let group: Vec<usize> = (i..rows.len())
            .filter(|&j| key(&rows[j]) == key(&rows[i]))
            .collect();
        let targets: Vec<&TargetResult> = group.iter().map(|&j| rows[j].1).collect();
        for (&j, t) in group.iter().zip(compare::ties(&targets)) {
            tied[j] = t;
            done[j] = true;
        }
    }
    tied
}

/// A note for each run of `t` whose window was noisy.
fn noise_notes(t: &TargetResult) -> Vec<String> {
    let runs = t.runs();
    runs.iter()
        .enumerate()
        .filter_map(|(i, r)| Some((i, crate::run::noise::warnings(r.noise.as_ref()?))))
        .flat_map(|(i, warnings)| {
            let who = if runs.len() > 1 {
                format!("{} run {}", t.target, i + 1)
            } else {
                t.target.clone()
            };
            warnings
                .into_iter()
                .map(move |w| format!("NOISE: {who}: {w}"))
        })
        .collect()
}

fn ns(ns: u64) -> String {
    format_duration(Duration::from_nanos(ns))
}

/// `2026-11-25` of `2026-11-25T10:00:01Z`.
fn day(rfc3339: &str) -> &str {
    rfc3339.get(..10).unwrap_or(rfc3339)
}

/// When a run started: `10:00:01`, with the day in front when the rows span several days.
fn time(rfc3339: &str, one_day: bool) -> String {
    let clock = rfc3339.get(11..19).unwrap_or(rfc3339);
    if one_day {
        clock.to_owned()
    } else {
        format!("{} {clock}", day(rfc3339))
    }
}

fn notes(t: &TargetResult) -> Vec<String> {
    let mut notes = Vec::new();
    let opened = t.window_ns > 0;
    if !opened {
        // Said in words, where a 0 msgs/s would have read as a measurement. (A merge of hosts
        // whose windows never overlapped has no window either, without being cut.)
        let cut = if t.partial {
            "cut before its measured window opened: "
        } else {
            ""
        };
        notes.push(format!(
            "{cut}no window measured, so no rate or cost per message"
        ));
    }
    if let Some(o) = t.open_loop
        && opened
        && o.achieved_rate < o.target_rate * RATE_SHORTFALL
    {
        notes.push(format!(
            "sent {:.0} msgs/s of the {:.0} asked: the server (or the client) could not keep up, \
             and the corrected latency counts every message from when it was due",
            o.achieved_rate, o.target_rate
        ));
    }
    if let Some(c) = &t.capacity {
        notes.extend(capacity_notes(t, c));
    }
    if let Some(c) = t.churn.as_ref().filter(|_| opened) {
        notes.push(format!(
            "{}: {:.0} connections/s; connect p99 {}, exchange p99 {}; latency above counts \
             each connection's first message from its connect",
            c.mode,
            c.connections_per_sec,
            ns(c.connect_latency_ns.p99),
            ns(c.exchange_latency_ns.p99)
        ));
    }
    if t.errors.total() > 0 {
        notes.push(format!("errors: {}", t.errors));
    }
    if let Some(starved) = t.starved_clients.filter(|&n| n > 0) {
        notes.push(format!(
            "{starved} clients got no reply at all in the window"
        ));
    }
    notes.extend(cost_note(t));
    notes
}

/// What a capacity search came to: its answer, a caveat if its window was noisy, and every
/// search's capacity under `--repeat`.
fn capacity_notes(t: &TargetResult, c: &echo_report::CapacitySearch) -> Vec<String> {
    let mut notes = Vec::new();
    let answer = crate::drive::capacity::Answer::of(c);
    notes.push(format!(
        "capacity at {}: {answer}, {} steps; the figures above are the step that found it",
        c.slo,
        c.steps.len()
    ));
    // Near the knee a noisy window moves the answer: said where the capacity is read.
    if !noise_notes(t).is_empty() {
        notes.push(
            "CAVEAT: that capacity comes from a noisy window (see NOISE below): take it as \
             rough, and search again on a quiet machine"
                .into(),
        );
    }
    if t.runs().len() > 1 {
        let each: Vec<String> = Figure::Capacity
            .values(t)
            .iter()
            .map(|&k| {
                if k > 0.0 {
                    format!("{k:.0}")
                } else {
                    "none kept".into()
                }
            })
            .collect();
        notes.push(format!(
            "capacity over {} searches: {} (the median search's figures are shown)",
            each.len(),
            each.join(", ")
        ));
    }
    notes
}

/// What the server cost (per message only if the window held one: the file leaves it out
/// otherwise, and so does the note), and the client's cost per message beside it.
fn cost_note(t: &TargetResult) -> Option<String> {
    let s = t.server.as_ref()?;
    let per_msg = s
        .cpu_ns_per_msg
        .map(|ns| format!("{ns:.0} ns CPU/msg, "))
        .unwrap_or_default();
    let mut note = format!(
        "server: {per_msg}peak RSS {:.1} MiB, {} threads",
        s.peak_rss_bytes as f64 / (1 << 20) as f64,
        s.threads,
    );
    if let Some(client) = t.client.cpu_ns_per_msg {
        note.push_str(&format!("; client: {client:.0} ns CPU/msg"));
    }
    Some(note)
}

#[cfg(test)]
mod tests {
    use super::*;
    use echo_common::LagSummary;
    use echo_report::{OpenLoop, RunConfig, testing};

    /// A run of `targets` at `clients`, made by hand: figures chosen to be told apart.
    fn run(work: &str, msg_size: usize, targets: &[&str]) -> RunResult {
        let targets: Vec<TargetResult> = targets
            .iter()
            .map(|name| TargetResult {
                target: (*name).into(),
                clients: 100,
                connected: 100,
                window_ns: 1_000_000_000,
                messages: 50_000,
                msgs_per_sec: Some(50_000.0),
                mb_per_sec: Some(3.2),
                starved_clients: Some(0),
                latency_ns: Latency {
                    count: 50_000,
                    p50: 1_500_000,
                    p90: 2_000_000,
                    p99: 4_000_000,
                    p999: 9_000_000,
                    max: 12_000_000,
                    ..Latency::default()
                },
                server: None,
                ..TargetResult::default()
            })
            .collect();
        let config = RunConfig {
            client_cpus: vec![1],
            server_cpus: vec![0],
            work_every: if work == "none" { 1 } else { 10 },
            ..testing::config(100, msg_size, work)
        };
        RunResult {
            started_at: "2026-11-25T10:00:01Z".into(),
            ..testing::run(config, targets)
        }
    }

    fn lines(t: &Table) -> Vec<String> {
        t.text().lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_run_shows_every_figure_under_a_caption_naming_machine_and_settings() {
        let r = run("none", 1024, &["tokio"]);
        let t = table(&[Source {
            run: &r,
            label: None,
        }]);
        let lines = lines(&t);
        assert_eq!(
            lines[0],
            "Measured on Test CPU (2 cores), 2026-11-25. 1KiB messages, work none, closed loop."
        );
        // scripts/sweep.sh reads msgs/s and p99 as the 3rd and 7th words of the target's row.
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            [
                "target", "clients", "msgs/s", "MB/s", "p50", "p90", "p99", "p99.9", "max",
                "errors", "starved"
            ]
        );
        let row: Vec<_> = lines[3].split_whitespace().collect();
        assert_eq!(
            (row[0], row[2], row[6]),
            ("tokio", "50000", "4.00ms"),
            "{row:?}"
        );
        assert_eq!(lines.len(), 4, "no notes for a clean run: {lines:?}");
    }

    #[test]
    fn columns_appear_only_for_rows_that_have_them() {
        let mut r = run("block:1.00ms", 64, &["tokio", "smol"]);
        let t = &mut r.targets[1];
        t.bystander_latency_ns = Some(Latency {
            count: 9,
            p99: 7_000,
            ..Latency::default()
        });
        t.server_summary = Some(echo_common::Summary {
            target: "smol".into(),
            accepted: 100,
            closed: 100,
            refused: 0,
            bytes_echoed: 0,
            errors: 0,
            resets_by_peer: 0,
            loop_lag_ns: Some(LagSummary {
                samples: 5,
                mean: 0,
                p50: 0,
                p99: 3_000_000,
                p999: 0,
                max: 0,
            }),
            runtime: None,
        });
        r.config.rate = Some(60_000.0);
        t.open_loop = Some(OpenLoop {
            target_rate: 60_000.0,
            achieved_rate: 40_000.0,
        });
        t.errors.timeout = 3;
        t.starved_clients = Some(2);
        let text = table(&[Source {
            run: &r,
            label: None,
        }])
        .text();
        let header = text.lines().nth(1).unwrap();
        for present in ["bystander p99", "loop lag p99", "sent/s"] {
            assert!(header.contains(present), "{present}: {text}");
        }
        for absent in ["working p99", "uncorrected", "flags", "source", "asked/s"] {
            assert!(!header.contains(absent), "{absent}: {text}");
        }
        assert!(text.contains("open loop at 60000 msgs/s"), "{text}");
        assert!(text.contains("work block:1.00ms (1 in 10)"), "{text}");
        let smol = text.lines().find(|l| l.starts_with("smol")).unwrap();
        assert!(smol.contains("7.0us") && smol.contains("3.00ms"), "{smol}");
        let tokio = text.lines().find(|l| l.starts_with("tokio")).unwrap();
        assert!(
            tokio.contains(" - "),
            "tokio has no bystander figure: {tokio}"
        );
        assert!(
            text.contains("  smol: sent 40000 msgs/s of the 60000 asked")
                && text.contains("  smol: errors: 3 timeout")
                && text.contains("  smol: 2 clients got no reply"),
            "{text}"
        );
    }

    #[test]
    fn earlier_runs_side_by_side_name_their_source_and_tell_apart_two_plain_runs() {
        let wait = run("none", 64, &["tokio", "smol"]);
        let mut io = run("none", 64, &["tokio"]);
        io.started_at = "2026-11-25T11:30:00Z".into();
        let mut blocked = run("block:1.00ms", 16384, &["tokio"]);
        blocked.targets[0].client.saturated = true;
        blocked.targets[0].partial = true;
        let sources = [
            Source {
                run: &wait,
                label: Some("wait/none"),
            },
            Source {
                run: &io,
                label: Some("io/none"),
            },
            Source {
                run: &blocked,
                label: Some("wait/block_1ms"),
            },
        ];
        let text = table(&sources).text();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("Measured on Test CPU (2 cores), 2026-11-25.")
                && lines[0].contains("various messages, work various"),
            "{text}"
        );
        let header: Vec<_> = lines[1].split_whitespace().collect();
        assert_eq!(
            header[..6],
            ["source", "time", "target", "work", "clients", "size"]
        );
        for absent in ["MB/s", "p90", "p99.9", "bystander"] {
            assert!(!lines[1].contains(absent), "{absent}: {text}");
        }
        // Each target's rows together, the plain echo first, each named by file and time.
        let rows: Vec<Vec<&str>> = lines[3..7]
            .iter()
            .map(|l| l.split_whitespace().take(4).collect())
            .collect();
        assert_eq!(
            rows,
            [
                ["wait/none", "10:00:01", "tokio", "none"],
                ["io/none", "11:30:00", "tokio", "none"],
                ["wait/block_1ms", "10:00:01", "tokio", "block:1.00ms"],
                ["wait/none", "10:00:01", "smol", "none"],
            ]
        );
        assert!(
            lines[5].contains(" 16KiB ") && lines[3].contains(" 64B "),
            "{text}"
        );
        assert!(lines[5].ends_with("partial, client saturated"), "{text}");
        let warnings: Vec<_> = lines.iter().filter(|l| l.contains("WARNING")).collect();
        assert!(warnings.is_empty(), "warnings are added by print: {text}");
    }

    #[test]
    fn repeated_capacity_searches_show_the_median_capacity_and_every_search() {
        let mut r = run("none", 64, &["tokio"]);
        r.config.rate = Some(20_000.0);
        let search = |kept: Option<f64>| {
            let mut t = r.targets[0].clone();
            t.capacity = Some(echo_report::testing::capacity_search(kept));
            t
        };
        let runs = vec![
            search(Some(150_000.0)),
            search(None),
            search(Some(160_000.0)),
        ];
        r.targets = vec![TargetResult::from_runs(runs).unwrap()];
        let text = table(&[Source {
            run: &r,
            label: None,
        }])
        .text();
        let lines: Vec<&str> = text.lines().collect();
        let header: Vec<_> = lines[1].split_whitespace().collect();
        let row: Vec<_> = lines[3].split_whitespace().collect();
        let capacity = header.iter().position(|h| *h == "capacity").unwrap();
        assert_eq!(row[capacity], "150.0k±100.0%", "{text}");
        assert!(
            text.contains("capacity over 3 searches: 150000, none kept, 160000"),
            "{text}"
        );
    }

    /// The caption says the loop that ran: a ramp by its rates, a capacity search as a search
    /// (its `rate` is only where it started), a steady rate as that rate.
    #[test]
    fn the_caption_names_a_ramp_and_a_search_for_what_they_are_and_noise_is_a_caveat() {
        let caption = |r: &RunResult| {
            let text = table(&[Source {
                run: r,
                label: None,
            }])
            .text();
            text.lines().next().unwrap().to_owned()
        };
        let mut r = run("none", 64, &["tokio"]);
        r.config.rate_ramp = Some("5000..40000/500ms".into());
        let said = caption(&r);
        assert!(
            said.ends_with("open loop, ramp 5000→40000 msgs/s in steps of 500ms."),
            "{said}"
        );
        let mut r = run("none", 64, &["tokio"]);
        r.config.rate = Some(10_000.0);
        r.targets[0].capacity = Some(echo_report::CapacitySearch {
            broke: Some(170.0),
            ..echo_report::testing::capacity_search(Some(162.0))
        });
        let said = caption(&r);
        assert!(
            said.ends_with(
                "open loop, a capacity search from 10000 msgs/s (each step's rate is its own)."
            ) && !said.contains("open loop at 10000"),
            "{said}"
        );
        let quiet = table(&[Source {
            run: &r,
            label: None,
        }])
        .text();
        assert!(!quiet.contains("CAVEAT"), "{quiet}");
        r.targets[0].noise = Some(echo_report::Noise {
            cpus: vec![0, 1],
            steal: 0.5,
            others: None,
        });
        let noisy = table(&[Source {
            run: &r,
            label: None,
        }])
        .text();
        let caveat = noisy
            .lines()
            .find(|l| l.contains("CAVEAT"))
            .unwrap_or_else(|| panic!("{noisy}"));
        assert!(
            caveat.contains("capacity comes from a noisy window"),
            "on its own line: {noisy}"
        );
        r.targets[0].capacity = None;
        assert!(caption(&r).ends_with("open loop at 10000 msgs/s."));
    }

    #[test]
    fn a_saturated_client_is_one_warning_however_many_targets() {
        let mut r = run("none", 64, &["tokio", "smol", "threads"]);
        for t in &mut r.targets[..2] {
            t.client.saturated = true;
        }
        let w = saturation(&[Source {
            run: &r,
            label: None,
        }])
        .unwrap();
        assert_eq!(
            w,
            Warning::ClientSaturated(vec!["tokio".into(), "smol".into()])
        );
        r.targets
            .iter_mut()
            .for_each(|t| t.client.saturated = false);
        assert_eq!(
            saturation(&[Source {
                run: &r,
                label: None
            }]),
            None
        );
    }
}
