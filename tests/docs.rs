//! The documentation cannot go stale: every finding in README.md is recomputed from the result
//! file it names, and every relative link or image in README.md and docs/ must point at a file.
//!
//! A finding is an item of the list between `<!-- findings -->` and `<!-- /findings -->`, each
//! followed by one or more check comments that say which figures of which file its sentence
//! quotes:
//!
//! ```text
//! <!-- check: median msgs/s results/x.json#threads = 57.1k [53.7k 57.4k] -->
//! <!-- check: ratio msgs/s results/x.json#tokio / results/x.json#threads = 1.65 [1.59 1.74] -->
//! <!-- check: value starved results/x.json#threads = 3779 -->
//! ```
//!
//! `median` is the median over the target's runs with its exact interval, `ratio` the
//! Hodges–Lehmann ratio of two targets' runs with its interval, `value` the figure of the
//! target's representative run. Each number must agree with the file to the digits written,
//! appear as written in the finding's sentence, and the sentence must link the file.

mod support;

use echo_report::stats::{Ratio, Spread};
use echo_report::{RunResult, TargetResult, read_result};
use std::collections::HashMap;
use std::path::Path;
use support::{documents, root};

/// The most findings the README may state: a reader with five minutes reads no more.
const MAX_FINDINGS: usize = 8;

/// A finding: its sentence and its checks.
#[derive(Debug)]
struct Finding {
    text: String,
    checks: Vec<String>,
}

/// The findings of a README's text.
fn findings(readme: &str) -> Result<Vec<Finding>, String> {
    let start = readme
        .find("<!-- findings -->")
        .ok_or("README.md has no <!-- findings --> marker")?;
    let end = readme
        .find("<!-- /findings -->")
        .ok_or("README.md has no <!-- /findings --> marker")?;
    let mut out: Vec<Finding> = Vec::new();
    for line in readme[start..end].lines().skip(1) {
        let line = line.trim();
        if let Some(spec) = line
            .strip_prefix("<!-- check:")
            .and_then(|l| l.strip_suffix("-->"))
        {
            let last = out
                .last_mut()
                .ok_or_else(|| format!("a check before any finding: {line}"))?;
            last.checks.push(spec.trim().to_owned());
        } else if line.starts_with(|c: char| c.is_ascii_digit()) && line.contains(". ") {
            out.push(Finding {
                text: line.to_owned(),
                checks: Vec::new(),
            });
        } else if !line.is_empty() {
            let last = out
                .last_mut()
                .ok_or_else(|| format!("text before any finding: {line}"))?;
            last.text.push(' ');
            last.text.push_str(line);
        }
    }
    Ok(out)
}

/// A number as written (`57.1k`, `95.4ms`, `402µs`, `1.65`): its value in base units
/// (messages, nanoseconds, or plain) and half the unit of its last digit, the most rounding
/// can have moved it.
fn parse_number(s: &str) -> Result<(f64, f64, String), String> {
    let digits_end = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
        .unwrap_or(s.len());
    let (digits, suffix) = s.split_at(digits_end);
    let scale = match suffix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        other => return Err(format!("unknown unit '{other}' in '{s}'")),
    };
    let plain = digits.replace(',', "");
    let value: f64 = plain
        .parse()
        .map_err(|e| format!("'{s}' is not a number: {e}"))?;
    let decimals = plain.split_once('.').map_or(0, |(_, d)| d.len());
    let half_unit = 0.5 * 10f64.powi(-(decimals as i32)) * scale;
    Ok((value * scale, half_unit, digits.to_owned()))
}

/// One figure of one run of a target, by its name in checks.
fn metric(name: &str, t: &TargetResult) -> Result<Option<f64>, String> {
    let latency = |ns: u64| (t.latency_ns.count > 0).then_some(ns as f64);
    Ok(match name {
        "msgs/s" => t.msgs_per_sec,
        "p50" => latency(t.latency_ns.p50),
        "p99" => latency(t.latency_ns.p99),
        "cpu" => t.server.and_then(|s| s.cpu_ns_per_msg),
        "capacity" => echo_report::Figure::Capacity.of(t),
        "conn/s" => t.churn.as_ref().map(|c| c.connections_per_sec),
        "bystander-p99" => t.bystander_latency_ns.map(|l| l.p99 as f64),
        "starved" => t.starved_clients.map(|n| n as f64),
        other => return Err(format!("unknown figure '{other}'")),
    })
}

/// Result files read so far, by path relative to the repository.
#[derive(Default)]
struct Files(HashMap<String, RunResult>);

impl Files {
    /// The target named by `FILE#TARGET`.
    fn target(&mut self, spec: &str) -> Result<(String, TargetResult), String> {
        let (file, name) = spec
            .split_once('#')
            .ok_or_else(|| format!("'{spec}' is not FILE#TARGET"))?;
        if !self.0.contains_key(file) {
            let run = read_result(&root().join(file)).map_err(|e| e.to_string())?;
            self.0.insert(file.to_owned(), run);
        }
        let t = self.0[file]
            .targets
            .iter()
            .find(|t| t.target == name)
            .ok_or_else(|| format!("{file} has no target '{name}'"))?;
        Ok((file.to_owned(), t.clone()))
    }
}

/// Every value of `figure` over `t`'s runs.
fn values(figure: &str, t: &TargetResult) -> Result<Vec<f64>, String> {
    let mut out = Vec::new();
    for run in t.runs() {
        if let Some(v) = metric(figure, run)? {
            out.push(v);
        }
    }
    Ok(out)
}

/// Checks one check against the files and the finding's sentence; `Err` says what differs.
fn check(spec: &str, finding: &str, files: &mut Files) -> Result<(), String> {
    let (lhs, rhs) = spec
        .split_once(" = ")
        .ok_or_else(|| format!("no ' = ' in '{spec}'"))?;
    let words: Vec<&str> = lhs.split_whitespace().collect();
    let (computed, named): (Vec<f64>, Vec<String>) = match words.as_slice() {
        ["median", figure, target] => {
            let (file, t) = files.target(target)?;
            let s = Spread::of(&values(figure, &t)?)
                .ok_or_else(|| format!("{target}: no {figure} in any run"))?;
            (vec![s.median, s.interval.lo, s.interval.hi], vec![file])
        }
        ["ratio", figure, a, "/", b] => {
            let (fa, ta) = files.target(a)?;
            let (fb, tb) = files.target(b)?;
            let r = Ratio::of(&values(figure, &ta)?, &values(figure, &tb)?)
                .ok_or_else(|| format!("no ratio of {figure} for {a} / {b}"))?;
            (vec![r.estimate, r.interval.lo, r.interval.hi], vec![fa, fb])
        }
        ["value", figure, target] => {
            let (file, t) = files.target(target)?;
            let v = metric(figure, &t)?.ok_or_else(|| format!("{target}: no {figure}"))?;
            (vec![v], vec![file])
        }
        _ => return Err(format!("cannot read the check '{lhs}'")),
    };
    let written: Vec<&str> = rhs
        .split(|c: char| c.is_whitespace() || c == '[' || c == ']')
        .filter(|w| !w.is_empty())
        .collect();
    if written.len() != computed.len() {
        return Err(format!(
            "'{spec}': {} numbers written, the check computes {}",
            written.len(),
            computed.len()
        ));
    }
    for (w, c) in written.iter().zip(&computed) {
        let (value, half_unit, digits) = parse_number(w)?;
        // A hair over half a unit, so a value exactly on a rounding edge still matches.
        if (value - c).abs() > half_unit * 1.000_001 {
            return Err(format!(
                "'{spec}': {w} is written, the file gives {c} (computed: {computed:?})"
            ));
        }
        if !finding.contains(&digits) {
            return Err(format!("'{spec}': {digits} is not in the sentence"));
        }
    }
    for file in named {
        if !finding.contains(&format!("]({file})")) {
            return Err(format!("'{spec}': the sentence does not link {file}"));
        }
    }
    Ok(())
}

/// Every problem with the findings of `readme`: none when each figure matches its file.
fn problems_with_findings(readme: &str) -> Vec<String> {
    let found = match findings(readme) {
        Ok(f) => f,
        Err(e) => return vec![e],
    };
    let mut problems = Vec::new();
    if found.is_empty() || found.len() > MAX_FINDINGS {
        problems.push(format!(
            "{} findings; the README states 1 to {MAX_FINDINGS}",
            found.len()
        ));
    }
    let mut files = Files::default();
    for f in &found {
        if f.checks.is_empty() {
            problems.push(format!("a finding with nothing checked: {}", f.text));
        }
        for c in &f.checks {
            if let Err(e) = check(c, &f.text, &mut files) {
                problems.push(e);
            }
        }
    }
    problems
}

#[test]
fn every_readme_finding_matches_the_result_file_it_names() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let problems = problems_with_findings(&readme);
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_figure_that_no_longer_matches_its_file_fails() {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let first_check = readme.find("<!-- check:").unwrap();
    let eq = first_check + readme[first_check..].find(" = ").unwrap() + 3;
    // Replace the first written number with one its file cannot give.
    let end = eq + readme[eq..].find([' ', '-']).unwrap();
    let planted = format!("{}987654{}", &readme[..eq], &readme[end..]);
    assert!(
        !problems_with_findings(&planted).is_empty(),
        "a wrong figure passed"
    );
}

/// The relative link and image targets of a Markdown text (not URLs, not pure anchors).
fn relative_links(markdown: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_code = false;
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if in_code {
            continue;
        }
        let mut rest = line;
        while let Some(i) = rest.find("](") {
            rest = &rest[i + 2..];
            let Some(end) = rest.find(')') else { break };
            let target = &rest[..end];
            let path = target.split('#').next().unwrap_or("");
            if !path.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
                out.push(path.to_owned());
            }
            rest = &rest[end..];
        }
    }
    out
}

/// Every relative link in `file` (a Markdown file) that points at nothing.
fn dead_links(file: &Path, markdown: &str) -> Vec<String> {
    let dir = file.parent().unwrap();
    relative_links(markdown)
        .into_iter()
        .filter(|link| !dir.join(link).exists())
        .map(|link| format!("{}: {link}", file.display()))
        .collect()
}

#[test]
fn every_relative_link_and_image_points_at_a_file() {
    let mut dead = Vec::new();
    let mut seen = 0;
    for doc in documents() {
        let text = std::fs::read_to_string(&doc).unwrap();
        seen += relative_links(&text).len();
        dead.extend(dead_links(&doc, &text));
    }
    assert!(
        seen > 0,
        "no relative links found at all: the scan is broken"
    );
    assert!(dead.is_empty(), "links to nothing:\n{}", dead.join("\n"));
}

#[test]
fn a_dead_link_or_image_is_caught() {
    let readme = root().join("README.md");
    let text = std::fs::read_to_string(&readme).unwrap();
    let planted =
        format!("{text}\n![gone](results/reference/no-such-chart.png) [and](docs/nope.md)\n");
    assert_eq!(dead_links(&readme, &planted).len(), 2);
    assert!(dead_links(&readme, &text).is_empty());
}
