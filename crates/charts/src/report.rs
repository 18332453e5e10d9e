//! One self-contained HTML page per results folder (`echo-charts report DIR` → `DIR/report.html`):
//! every chart of the folder inline as SVG, each followed by the numbers it was drawn from with
//! their intervals; the machine, dates and commits; noisy windows; failed and starved points.
//! Nothing is fetched and nothing sits beside the page, so it can be mailed or archived alone.
//! Hovering a point of a chart shows its value and interval (an SVG `<title>`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io;
use std::path::{Path, PathBuf};

use echo_report::stats::Spread;
use echo_report::{Figure as Stat, TargetResult, format_count, format_us, write_atomic};

use crate::load::{Filter, LoadError, Loaded, Point, load};
use crate::render::{RenderError, svg_with_hover, xml_escape};
use crate::{ChartKind, Context, Figure, Options, register_font};

/// The page's file name inside the folder it reports on.
pub const REPORT_FILE: &str = "report.html";

/// A window is flagged noisy when the hypervisor stole more than this share of the pinned CPUs:
/// the limit loadgen flags `NOISE` at (loadgen's `noise::STEAL_LIMIT`).
const STEAL_LIMIT: f64 = 0.02;

/// ... or when other processes used more than this share of them (loadgen's `OTHERS_LIMIT`).
const OTHERS_LIMIT: f64 = 0.05;

/// Why a report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The folder's result files could not be read.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The folder holds no result file.
    #[error("{0}: no echo-bench result files here, so there is nothing to report")]
    Empty(PathBuf),
    /// A chart could not be drawn.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The page could not be written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The page.
        path: PathBuf,
        /// What failed.
        source: io::Error,
    },
}

/// Writes `dir/report.html` atomically and returns its path.
pub fn write_report(dir: &Path) -> Result<PathBuf, ReportError> {
    let html = report_html(dir)?;
    let path = dir.join(REPORT_FILE);
    write_atomic(&path, |out| out.write_all(html.as_bytes())).map_err(|source| {
        ReportError::Write {
            path: path.clone(),
            source,
        }
    })?;
    Ok(path)
}

/// The report of the result files under `dir`, as one HTML document.
pub fn report_html(dir: &Path) -> Result<String, ReportError> {
    let all = load(&[dir.to_owned()], &Filter::default())?;
    if all.points.is_empty() {
        return Err(ReportError::Empty(dir.to_owned()));
    }
    register_font();
    let name = dir
        .file_name()
        .map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into());
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>echo-bench: {0}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <h1>echo-bench results: {0}</h1>\n",
        xml_escape(&name)
    );
    page.push_str(&about(dir, &all.points));
    for (section, points) in sections(dir, &all.points) {
        let loaded = Loaded {
            points,
            notes: Vec::new(),
        };
        page.push_str(&section_html(dir, &section, &loaded)?);
    }
    page.push_str("</body>\n</html>\n");
    Ok(page)
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1340px;margin:1em auto;padding:0 1em;color:#222}\
figure{margin:1.5em 0}svg{max-width:100%;height:auto;display:block}\
table{border-collapse:collapse;font-size:13px;margin:.5em 0 2em}\
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f4f4f4}\
td:nth-child(-n+2),th:nth-child(-n+2){text-align:left}.muted{color:#666}";

/// The points of `dir` by the subfolder of `dir` they are in (`""` for files directly in it).
fn sections(dir: &Path, points: &[Point]) -> BTreeMap<String, Vec<Point>> {
    let mut out: BTreeMap<String, Vec<Point>> = BTreeMap::new();
    for p in points {
        let rel = p.source.strip_prefix(dir).unwrap_or(&p.source);
        let mut parts = rel.components();
        let first = parts.next();
        let section = match (first, parts.next()) {
            (Some(f), Some(_)) => f.as_os_str().to_string_lossy().into_owned(),
            _ => String::new(),
        };
        out.entry(section).or_default().push(p.clone());
    }
    out
}

/// Machines, dates, commits, noisy windows, and failed or starved points.
fn about(dir: &Path, points: &[Point]) -> String {
    let mut machines: Vec<String> = Vec::new();
    let mut commits: Vec<String> = Vec::new();
    let mut dates: Vec<&str> = Vec::new();
    for p in points {
        let m = &p.run().machine;
        let machine = format!("{} ({} CPUs), Linux {}", m.cpu_model, m.cores, m.kernel);
        if !machines.contains(&machine) {
            machines.push(machine);
        }
        let commit = p
            .run()
            .git_commit
            .clone()
            .unwrap_or_else(|| "unknown".into());
        if !commits.contains(&commit) {
            commits.push(commit);
        }
        dates.push(&p.run().started_at);
    }
    dates.sort_unstable();
    let mut out = String::from("<table class=\"about\">\n");
    let mut row = |k: &str, v: &str| {
        let _ = writeln!(out, "<tr><th>{k}</th><td>{}</td></tr>", xml_escape(v));
    };
    row("machine", &machines.join("; "));
    row(
        "measured",
        &format!(
            "{} to {}",
            dates.first().unwrap_or(&""),
            dates.last().unwrap_or(&"")
        ),
    );
    row("commit", &commits.join(", "));
    row(
        "result files",
        &format!("{} under {}", points.len(), dir.display()),
    );
    out.push_str("</table>\n");

    let noisy: Vec<String> = points.iter().flat_map(|p| noisy_runs(dir, p)).collect();
    out.push_str("<h2>Noisy windows</h2>\n");
    list(
        &mut out,
        &noisy,
        &format!(
            "none: in every window the hypervisor stole at most {:.0}% of the pinned CPUs and other processes used at most {:.0}%",
            STEAL_LIMIT * 100.0,
            OTHERS_LIMIT * 100.0
        ),
    );
    let failed: Vec<String> = points
        .iter()
        .filter_map(|p| failure(dir, p.run().partial, p))
        .collect();
    out.push_str("<h2>Failed and starved points</h2>\n");
    list(
        &mut out,
        &failed,
        "none: every client of every point got replies, without errors",
    );
    out
}

fn list(out: &mut String, items: &[String], none: &str) {
    if items.is_empty() {
        let _ = writeln!(out, "<p class=\"muted\">{}</p>", xml_escape(none));
        return;
    }
    out.push_str("<ul>\n");
    for item in items {
        let _ = writeln!(out, "<li>{}</li>", xml_escape(item));
    }
    out.push_str("</ul>\n");
}

/// Where `p` is: its file relative to `dir`, and its target.
fn where_(dir: &Path, p: &Point) -> String {
    let rel = p.source.strip_prefix(dir).unwrap_or(&p.source);
    format!("{} {}", rel.display(), p.name())
}

/// Each run of `p` whose window was noisy, said in words.
fn noisy_runs(dir: &Path, p: &Point) -> Vec<String> {
    let runs = p.target().runs();
    runs.iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let n = r.noise.as_ref()?;
            let others = n.others.unwrap_or(0.0);
            (n.steal > STEAL_LIMIT || others > OTHERS_LIMIT).then(|| {
                let run = if runs.len() > 1 {
                    format!(" run {}", i + 1)
                } else {
                    String::new()
                };
                format!(
                    "{}{run}: steal {:.1}%, other processes {:.1}% of CPUs {:?}",
                    where_(dir, p),
                    n.steal * 100.0,
                    others * 100.0,
                    n.cpus
                )
            })
        })
        .collect()
}

/// What went wrong at `p`, if anything: starved clients, errors, a run cut short.
fn failure(dir: &Path, partial: bool, p: &Point) -> Option<String> {
    let t = p.target();
    let mut what = Vec::new();
    if let Some(starved) = t.starved_clients.filter(|&n| n > 0) {
        what.push(format!(
            "{starved} of {} clients starved (no reply in the window)",
            t.clients
        ));
    }
    let errors: Vec<String> = t
        .errors
        .by_kind()
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{n} {kind}"))
        .collect();
    if !errors.is_empty() {
        what.push(format!("errors: {}", errors.join(", ")));
    }
    if partial || t.partial {
        what.push("cut short".into());
    }
    (!what.is_empty()).then(|| format!("{}: {}", where_(dir, p), what.join("; ")))
}

/// A section: every chart its points make, each followed by its numbers.
fn section_html(dir: &Path, section: &str, loaded: &Loaded) -> Result<String, ReportError> {
    let ctx = Context::new(loaded, Options::default());
    let mut out = String::new();
    let heading = if section.is_empty() {
        let name = dir
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        format!("{name}/ (files at the top)")
    } else {
        format!("{section}/")
    };
    let _ = writeln!(out, "<h2>{}</h2>", xml_escape(&heading));
    let mut any = false;
    for kind in ChartKind::ALL.into_iter().chain(ChartKind::SCENARIOS) {
        let Ok(figures) = kind.build(&ctx) else {
            continue;
        };
        for figure in figures {
            any = true;
            out.push_str("<figure>\n");
            out.push_str(&svg_with_hover(&figure)?);
            let _ = writeln!(
                out,
                "<figcaption>{}</figcaption>",
                xml_escape(&figure.title)
            );
            out.push_str("</figure>\n");
            out.push_str(&numbers(dir, kind, &figure, &loaded.points));
        }
    }
    if !any {
        out.push_str("<p class=\"muted\">No chart applies to these results; their numbers:</p>\n");
        out.push_str(&table(dir, &loaded.points.iter().collect::<Vec<_>>()));
    }
    Ok(out)
}

/// The table of the points `figure` was drawn from: a chart against clients is one scenario
/// (its name ends in the scenario's slug); the others draw every point given.
fn numbers(dir: &Path, kind: ChartKind, figure: &Figure, points: &[Point]) -> String {
    let prefix = format!("{kind}-");
    let drawn: Vec<&Point> = match figure.name.strip_prefix(&prefix) {
        Some(slug) => points
            .iter()
            .filter(|p| p.scenario().slug() == slug)
            .collect(),
        None => points.iter().collect(),
    };
    table(dir, &drawn)
}

/// A figure over `t`'s runs as `median [lo–hi]` (the interval only with several runs).
fn spread(stat: Stat, t: &TargetResult, shown: fn(f64) -> String) -> String {
    match stat.spread(t) {
        Some(Spread {
            n,
            median,
            interval,
            ..
        }) if n > 1 => format!(
            "{} [{}–{}]",
            shown(median),
            shown(interval.lo),
            shown(interval.hi)
        ),
        Some(s) => shown(s.median),
        None => "–".into(),
    }
}

fn us(ns: f64) -> String {
    format_us(ns.round() as u64)
}

fn table(dir: &Path, points: &[&Point]) -> String {
    let any_capacity = points.iter().any(|p| p.target().capacity.is_some());
    let mut out = String::from(
        "<table>\n<tr><th>file</th><th>target</th><th>clients</th><th>msg size</th><th>work</th>\
         <th>loop</th><th>runs</th><th>msgs/s</th><th>p50 (µs)</th><th>p99 (µs)</th>\
         <th>server CPU/msg (µs)</th>",
    );
    if any_capacity {
        out.push_str("<th>capacity (msgs/s)</th>");
    }
    out.push_str("<th>errors</th><th>starved</th></tr>\n");
    for p in points {
        let (run, t) = (p.run(), p.target());
        let c = &run.config;
        let rel = p.source.strip_prefix(dir).unwrap_or(&p.source);
        let work = if c.work_every > 1 {
            format!("{} (1 in {})", c.work, c.work_every)
        } else {
            c.work.clone()
        };
        let mode = match (&c.rate_ramp, c.rate, &c.connection_mode) {
            (Some(ramp), _, _) => format!("ramp {ramp}"),
            (None, Some(rate), _) => format!("open, {}/s", format_count(rate)),
            (None, None, Some(mode)) => format!("closed, {mode}"),
            (None, None, None) => "closed".into(),
        };
        let cells = [
            rel.display().to_string(),
            p.name().to_owned(),
            t.clients.to_string(),
            echo_proto::units::format_bytes(c.msg_size as u64),
            work,
            mode,
            t.runs().len().to_string(),
            spread(Stat::MsgsPerSec, t, format_count),
            spread(Stat::P50, t, us),
            spread(Stat::P99, t, us),
            spread(Stat::ServerCpuPerMsg, t, |ns| format!("{:.2}", ns / 1e3)),
        ];
        out.push_str("<tr>");
        for cell in &cells {
            let _ = write!(out, "<td>{}</td>", xml_escape(cell));
        }
        if any_capacity {
            let _ = write!(
                out,
                "<td>{}</td>",
                xml_escape(&spread(Stat::Capacity, t, format_count))
            );
        }
        let _ = writeln!(
            out,
            "<td>{}</td><td>{}</td></tr>",
            t.errors.total(),
            // No window, no starved count: the dash of a figure not measured.
            t.starved_clients
                .map_or_else(|| "–".into(), |n| n.to_string())
        );
    }
    out.push_str("</table>\n<p class=\"muted\">With several runs: the median and, in brackets, its exact confidence interval (95%, or min…max for 5 runs or fewer).</p>\n");
    out
}
