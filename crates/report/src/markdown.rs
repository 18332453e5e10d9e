//! A Markdown table of results, for the README and for pull requests: one row per target and point.

use std::cmp::Ordering;
use std::fmt::Write;

use echo_proto::units::format_bytes;

use crate::table::{Align, Table};
use crate::{Figure, RunResult, TargetResult, work_rank};

/// The `work` of a plain echo: a column for it appears only when some row has other work.
const NO_WORK: &str = "none";

/// Marks a row whose run was cut short.
const PARTIAL_MARK: &str = "*";

/// Marks a row where the load generator's CPUs were saturated.
const SATURATED_MARK: &str = "†";

/// One row of the table: a target's result and the run it belongs to.
pub type Row<'a> = (&'a RunResult, &'a TargetResult);

/// The table of every target in `results`; see [`markdown_rows`].
pub fn markdown_table(results: &[RunResult]) -> String {
    markdown_rows(
        results
            .iter()
            .flat_map(|r| r.targets.iter().map(move |t| (r, t))),
    )
}

/// A Markdown table with one row per (run, target) pair, under a line naming the machine(s) and
/// date(s) measured on, and followed by footnotes for partial runs or a saturated load generator.
///
/// Rows are ordered by message size, work (the plain echo first, see [`work_rank`]) and rate, then
/// by target (in the order targets first
/// appear), then by clients. Latencies are in microseconds. A `work` column appears only when some
/// row ran with work other than `none`, and a `rate` column only when some row ran an open loop.
pub fn markdown_rows<'a>(rows: impl IntoIterator<Item = Row<'a>>) -> String {
    let mut rows: Vec<Row<'a>> = rows.into_iter().collect();
    if rows.is_empty() {
        return "No results.\n".into();
    }
    sort_rows(&mut rows);
    let shown = Shown {
        work: rows
            .iter()
            .any(|(r, _)| r.config.work != NO_WORK || r.config.work_every > 1),
        rate: rows.iter().any(|(r, _)| r.config.rate.is_some()),
    };
    let mut table = Table::new([
        ("target", Align::Left),
        ("clients", Align::Right),
        ("msg size", Align::Right),
        ("work", Align::Left),
        ("rate (msgs/s)", Align::Right),
        ("msgs/s", Align::Right),
        ("p50 (µs)", Align::Right),
        ("p99 (µs)", Align::Right),
        ("p99.9 (µs)", Align::Right),
        ("max (µs)", Align::Right),
        ("errors", Align::Right),
        ("starved clients", Align::Right),
    ]);
    table
        .caption
        .push(measured_on(rows.iter().map(|(r, _)| *r)));
    let mut marks = Marks::default();
    for row in &rows {
        table.row(cells(*row, shown, &mut marks));
    }
    table.notes.extend(marks.notes());
    table.markdown()
}

/// Which of the optional columns the table has.
#[derive(Clone, Copy)]
struct Shown {
    /// `work`: some row ran with work other than `none`.
    work: bool,
    /// `rate`: some row ran an open loop.
    rate: bool,
}

/// Which footnotes the rows call for.
#[derive(Default)]
struct Marks {
    partial: bool,
    saturated: bool,
    repeated: bool,
}

impl Marks {
    /// The footnotes, in the table's order.
    fn notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if self.partial {
            notes.push(format!(
                "{PARTIAL_MARK} The run was cut short: figures cover what was measured."
            ));
        }
        if self.repeated {
            notes.push(
                "± : the median of repeated runs and the larger half-width of its confidence \
                 interval (95%; min…max for 5 runs or fewer); other figures are the \
                 median-throughput run's."
                    .into(),
            );
        }
        if self.saturated {
            notes.push(format!(
                "{SATURATED_MARK} The load generator's CPUs were saturated: figures may measure \
                 the client."
            ));
        }
        notes
    }
}

/// Message size, work (the plain echo first) and rate, then target in the order targets first
/// appear, then clients, then start time.
fn sort_rows(rows: &mut [Row]) {
    let mut target_order: Vec<&str> = Vec::new();
    for (_, t) in rows.iter() {
        if !target_order.contains(&t.target.as_str()) {
            target_order.push(&t.target);
        }
    }
    let rank = |name: &str| target_order.iter().position(|n| *n == name);
    rows.sort_by(|(ra, ta), (rb, tb)| {
        let (a, b) = (&ra.config, &rb.config);
        (a.msg_size, work_rank(&a.work), &a.work, a.work_every)
            .cmp(&(b.msg_size, work_rank(&b.work), &b.work, b.work_every))
            .then_with(|| cmp_rate(ra.config.rate, rb.config.rate))
            .then_with(|| rank(&ta.target).cmp(&rank(&tb.target)))
            .then_with(|| ta.clients.cmp(&tb.clients))
            .then_with(|| ra.started_at.cmp(&rb.started_at))
    });
}

/// One row's cells; notes in `marks` which footnotes it needs.
fn cells((run, t): Row, shown: Shown, marks: &mut Marks) -> Vec<Option<String>> {
    let mut name = t.target.clone();
    if run.partial || t.partial {
        marks.partial = true;
        name.push_str(PARTIAL_MARK);
    }
    if t.client.saturated {
        marks.saturated = true;
        name.push_str(SATURATED_MARK);
    }
    let work = shown.work.then(|| {
        let mut work = run.config.work.clone();
        if run.config.work_every > 1 {
            let _ = write!(work, " (1 in {})", run.config.work_every);
        }
        work
    });
    let rate = shown.rate.then(|| {
        run.config
            .rate
            .map_or_else(|| "closed loop".into(), format_count)
    });
    let l = &t.latency_ns;
    // Repeated runs: the median over them and its interval's larger half-width.
    let repeated = |f: Figure, shown: fn(f64) -> String| {
        let s = f.spread(t).filter(|s| s.n > 1)?;
        Some(format!(
            "{} ± {:.1}%",
            shown(s.median),
            s.plus_minus()? * 100.0
        ))
    };
    let us = |x: f64| format_us(x.round() as u64);
    // A run cut before its window has no rate or starved count, and one without a reply no
    // latency: an empty cell, not a 0 that reads as measured.
    let latency = |ns: u64| (l.count > 0).then(|| format_us(ns));
    marks.repeated |= t.runs().len() > 1;
    vec![
        Some(name),
        Some(t.clients.to_string()),
        Some(format_bytes(run.config.msg_size as u64)),
        work,
        rate,
        repeated(Figure::MsgsPerSec, format_count).or(t.msgs_per_sec.map(format_count)),
        repeated(Figure::P50, us).or(latency(l.p50)),
        repeated(Figure::P99, us).or(latency(l.p99)),
        latency(l.p999),
        latency(l.max),
        Some(t.errors.total().to_string()),
        t.starved_clients.map(|n| n.to_string()),
    ]
}

/// "Measured on CPU (N cores), DATE." for the distinct machines and days of `runs`.
pub fn measured_on<'a>(runs: impl IntoIterator<Item = &'a RunResult>) -> String {
    let mut machines: Vec<String> = Vec::new();
    let mut days: Vec<&str> = Vec::new();
    for r in runs {
        let machine = format!("{} ({} cores)", r.machine.cpu_model, r.machine.cores);
        if !machines.contains(&machine) {
            machines.push(machine);
        }
        let day = r.started_at.get(..10).unwrap_or(&r.started_at);
        if !days.contains(&day) {
            days.push(day);
        }
    }
    days.sort_unstable();
    let when = match days.as_slice() {
        [] => String::new(),
        [one] => format!(", {one}"),
        [first, .., last] => format!(", {first} to {last}"),
    };
    format!("Measured on {}{when}.", machines.join("; "))
}

fn cmp_rate(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

/// A count or rate, rounded, with thousands separated: `145,210`.
pub fn format_count(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Nanoseconds as microseconds with three significant figures at most (`19.3`, `2.45`,
/// `1,234`): the histograms keep three, so more would be noise.
pub fn format_us(ns: u64) -> String {
    let us = ns as f64 / 1e3;
    match us {
        u if u < 10.0 => format!("{u:.2}"),
        u if u < 100.0 => format!("{u:.1}"),
        u => format_count(u),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Errors, Latency, testing};

    fn run(msg_size: usize, work: &str, targets: &[(&str, usize, f64)]) -> RunResult {
        let targets: Vec<TargetResult> = targets
            .iter()
            .map(|&(name, clients, rate)| TargetResult {
                target: name.into(),
                clients,
                connected: clients,
                window_ns: 1_000_000_000,
                messages: rate as u64,
                msgs_per_sec: Some(rate),
                latency_ns: Latency {
                    count: 1,
                    p50: 19_300,
                    p99: 2_450,
                    p999: 123_456,
                    max: 1_234_567,
                    ..Latency::default()
                },
                errors: Errors {
                    timeout: 2,
                    ..Errors::default()
                },
                starved_clients: Some(3),
                server: None,
                ..TargetResult::default()
            })
            .collect();
        testing::run(testing::config(targets[0].clients, msg_size, work), targets)
    }

    #[test]
    fn repeated_runs_show_their_median_and_interval() {
        let mut r = run(64, "none", &[("tokio", 100, 100_000.0)]);
        let one = r.targets[0].clone();
        let runs = [90_000.0, 100_000.0, 110_000.0, 104_000.0, 98_000.0].map(|rate| TargetResult {
            msgs_per_sec: Some(rate),
            ..one.clone()
        });
        r.targets = vec![TargetResult::from_runs(runs.to_vec()).unwrap()];
        let md = markdown_table(&[r]);
        // Median 100,000; five runs: min…max, 90,000 to 110,000.
        assert!(md.contains("| 100,000 ± 10.0% |"), "{md}");
        assert!(md.contains("± : the median of repeated runs"), "{md}");
        let single = markdown_table(&[run(64, "none", &[("tokio", 100, 100_000.0)])]);
        assert!(!single.contains('±'), "{single}");
    }

    #[test]
    fn one_row_per_target_and_point_in_a_stable_order() {
        let results = [
            run(
                64,
                "none",
                &[("tokio", 100, 98_765.4), ("threads", 100, 50_000.0)],
            ),
            run(
                64,
                "none",
                &[("tokio", 10, 1_000.0), ("threads", 10, 2_000.0)],
            ),
            run(16, "none", &[("tokio", 1, 10.0)]),
        ];
        let table = markdown_table(&results);
        let lines: Vec<&str> = table.lines().skip(2).collect();
        assert_eq!(
            table.lines().next(),
            Some("Measured on Test CPU (2 cores), 2026-11-25."),
            "the machine heads the table: {table}"
        );
        assert_eq!(
            lines[0],
            "| target | clients | msg size | msgs/s | p50 (µs) | p99 (µs) | p99.9 (µs) | max (µs) \
             | errors | starved clients |"
        );
        assert_eq!(
            lines[2],
            "| tokio | 1 | 16B | 10 | 19.3 | 2.45 | 123 | 1,235 | 2 | 3 |"
        );
        let order: Vec<_> = lines[3..7]
            .iter()
            .map(|l| {
                l.split('|').nth(1).unwrap().trim().to_owned()
                    + "/"
                    + l.split('|').nth(2).unwrap().trim()
            })
            .collect();
        assert_eq!(
            order,
            ["tokio/10", "tokio/100", "threads/10", "threads/100"]
        );
        assert!(lines[4].contains("| 98,765 |"), "{table}");
        assert!(
            !table.contains("work"),
            "no work column for plain echoes: {table}"
        );
    }

    #[test]
    fn work_and_flags_appear_when_present() {
        let mut blocked = run(64, "block:10.00ms", &[("tokio|x", 100, 10.0)]);
        blocked.config.work_every = 10;
        blocked.targets[0].client.saturated = true;
        blocked.partial = true;
        let table = markdown_table(&[run(64, "none", &[("tokio", 100, 1.0)]), blocked]);
        assert!(table.contains("| work |"), "{table}");
        assert!(
            table.contains("| tokio\\|x*† | 100 | 64B | block:10.00ms (1 in 10) |"),
            "{table}"
        );
        assert!(table.contains("\n* The run was cut short"), "{table}");
        assert!(table.contains("\n† The load generator"), "{table}");
        assert_eq!(markdown_table(&[]), "No results.\n");
    }

    #[test]
    fn a_run_cut_before_its_window_shows_no_figure_it_did_not_measure() {
        let mut cut = run(64, "none", &[("tokio", 100, 0.0)]);
        cut.partial = true;
        let t = &mut cut.targets[0];
        (t.window_ns, t.messages, t.latency_ns) = (0, 0, Latency::default());
        (t.msgs_per_sec, t.starved_clients, t.partial) = (None, None, true);
        let table = markdown_table(std::slice::from_ref(&cut));
        // Alone, it leaves every column of figures out; beside a whole run, its cells are empty.
        assert!(
            table.contains("| target | clients | msg size | errors |\n"),
            "{table}"
        );
        assert!(table.contains("| tokio* | 100 | 64B | 2 |"), "{table}");
        let whole = run(64, "none", &[("threads", 100, 5_000.0)]);
        let table = markdown_table(&[whole, cut]);
        assert!(
            table.contains("| tokio* | 100 | 64B | — | — | — | — | — | 2 | — |"),
            "{table}"
        );
    }

    #[test]
    fn numbers_are_readable() {
        assert_eq!(format_count(0.4), "0");
        assert_eq!(format_count(999.0), "999");
        assert_eq!(format_count(1_234_567.8), "1,234,568");
        assert_eq!(format_us(1_500), "1.50");
        assert_eq!(format_us(12_345), "12.3");
        assert_eq!(format_us(3_000_000), "3,000");
    }
}
