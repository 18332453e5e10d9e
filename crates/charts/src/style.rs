//! The look every chart shares: a colour per target, number formats and time units.

use echo_report::{RunResult, format_count, measured_on};
use plotters::style::RGBColor;

/// Tableau 10: distinct for most colour-blind readers and in greyscale print. Stable per target
/// across charts (see [`Palette`]), so a reader learns them once.
pub const COLORS: [RGBColor; 10] = [
    RGBColor(0x4e, 0x79, 0xa7),
    RGBColor(0xf2, 0x8e, 0x2b),
    RGBColor(0xe1, 0x57, 0x59),
    RGBColor(0x76, 0xb7, 0xb2),
    RGBColor(0x59, 0xa1, 0x4f),
    RGBColor(0xed, 0xc9, 0x48),
    RGBColor(0xb0, 0x7a, 0xa1),
    RGBColor(0xff, 0x9d, 0xa7),
    RGBColor(0x9c, 0x75, 0x5f),
    RGBColor(0xba, 0xb0, 0xac),
];

/// A colour per name, in the order names were given: the same target has the same colour on
/// every chart of one set of results.
#[derive(Debug, Clone, Default)]
pub struct Palette(Vec<String>);

impl Palette {
    /// A palette for `names`, in order.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> Self {
        Palette(names.into_iter().map(str::to_owned).collect())
    }

    /// The colour of `name`; a name the palette was not given gets one after the known names'.
    pub fn color(&self, name: &str) -> RGBColor {
        let i = self
            .0
            .iter()
            .position(|n| n == name)
            .unwrap_or(self.0.len());
        COLORS[i % COLORS.len()]
    }
}

/// The colour of the `i`th item of a series not keyed by target (work kinds, client counts).
pub fn nth_color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// A count for an axis: `0`, `500`, `1k`, `2.5k`, `10k`, `1.5M`.
pub fn si(x: f64) -> String {
    let (v, suffix) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    format!("{}{suffix}", trim(v))
}

/// A number without needless decimals, thousands separated: `0.2`, `15`, `1,000`.
pub fn plain(x: f64) -> String {
    if x.abs() >= 1000.0 {
        format_count(x)
    } else {
        trim(x)
    }
}

/// `x` with up to two decimals (below 1, up to three significant digits, so that a log axis'
/// 0.001 does not read `0`), trailing zeros dropped.
fn trim(x: f64) -> String {
    let decimals = if x != 0.0 && x.abs() < 1.0 {
        (2 - x.abs().log10().floor() as i32).max(2) as usize
    } else {
        2
    };
    let s = format!("{x:.decimals$}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// A unit for latencies, chosen so the largest shown has at most five digits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimeUnit {
    /// Its symbol.
    pub name: &'static str,
    /// Nanoseconds in one.
    pub ns: f64,
}

impl TimeUnit {
    /// Microseconds, unless the largest value is at least 10 ms (then ms) or 10 s (then s).
    pub fn for_max_ns(max_ns: f64) -> Self {
        match max_ns {
            m if m >= 10e9 => TimeUnit { name: "s", ns: 1e9 },
            m if m >= 10e6 => TimeUnit {
                name: "ms",
                ns: 1e6,
            },
            _ => TimeUnit {
                name: "µs",
                ns: 1e3,
            },
        }
    }

    /// `ns` in this unit.
    pub fn of(&self, ns: f64) -> f64 {
        ns / self.ns
    }
}

/// The footer of a chart drawn from `runs`: machine, cores and date, and the commit when they
/// share one.
pub fn footer<'a>(runs: impl IntoIterator<Item = &'a RunResult> + Clone) -> String {
    let mut commits: Vec<&str> = runs
        .clone()
        .into_iter()
        .filter_map(|r| r.git_commit.as_deref())
        .collect();
    commits.sort_unstable();
    commits.dedup();
    let on = measured_on(runs);
    match commits.as_slice() {
        [one] => format!(
            "{}, echo-bench {}.",
            on.trim_end_matches('.'),
            short_commit(one)
        ),
        _ => on,
    }
}

/// Hex digits of a commit id worth showing: enough to be unique in any repository this size.
const COMMIT_DIGITS: usize = 12;

/// `8740afd116dd9a11…-dirty` as `8740afd116dd-dirty`.
fn short_commit(commit: &str) -> String {
    let hex = commit.chars().take_while(char::is_ascii_hexdigit).count();
    if hex > COMMIT_DIGITS {
        format!("{}{}", &commit[..COMMIT_DIGITS], &commit[hex..])
    } else {
        commit.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_numbers_are_short() {
        assert_eq!(si(0.0), "0");
        assert_eq!(si(1.0), "1");
        assert_eq!(si(2500.0), "2.5k");
        assert_eq!(si(10_000.0), "10k");
        assert_eq!(si(1_500_000.0), "1.5M");
        assert_eq!(plain(0.25), "0.25");
        assert_eq!(plain(0.001), "0.001", "a log axis' small ticks are not 0");
        assert_eq!(plain(0.0123), "0.0123");
        assert_eq!(plain(10_000.0), "10,000");
    }

    #[test]
    fn units_fit_the_largest_value() {
        assert_eq!(TimeUnit::for_max_ns(3e6).name, "µs");
        assert_eq!(TimeUnit::for_max_ns(30e6).name, "ms");
        assert_eq!(TimeUnit::for_max_ns(30e9).of(30e9), 30.0);
    }

    #[test]
    fn commits_are_shortened() {
        assert_eq!(
            short_commit("8740afd116dd9a1124561627b72e23df1f9c29da-dirty"),
            "8740afd116dd-dirty"
        );
        assert_eq!(
            short_commit("8740afd116dd9a1124561627b72e23df1f9c29da"),
            "8740afd116dd"
        );
        assert_eq!(short_commit("fixture"), "fixture");
    }

    #[test]
    fn colours_are_stable_per_name() {
        let p = Palette::new(["threads", "tokio"]);
        assert_eq!(p.color("tokio"), COLORS[1]);
        assert_eq!(p.color("unknown"), COLORS[2]);
    }
}
