//! What makes points comparable: the settings a chart holds fixed, and grouping points by them.

use std::cmp::Ordering;

use echo_proto::units::format_bytes;
use echo_report::{RunConfig, format_count, work_rank};

use crate::load::Point;

/// The settings points must share to sit on one chart: message size, work, rate and connection
/// mode. Clients and target vary along a chart's axes and series.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Bytes per message.
    pub msg_size: usize,
    /// The server's `--work`.
    pub work: String,
    /// The server's `--work-every`.
    pub work_every: u64,
    /// Open loop: messages per second asked for; `None` for a closed loop.
    pub rate: Option<f64>,
    /// `--connection-mode` other than persistent (`per-message`, `per:N`): connections churn,
    /// so the figures price a connection too and belong on charts of their own.
    pub connection_mode: Option<String>,
}

impl Scenario {
    /// The scenario a run was set up with.
    pub fn of(config: &RunConfig) -> Self {
        Scenario {
            msg_size: config.msg_size,
            work: config.work.clone(),
            work_every: config.work_every,
            rate: config.rate,
            connection_mode: config.connection_mode.clone(),
        }
    }

    /// The work, with how often it applies: `block:10.00ms (1 in 10)`.
    pub fn work_label(&self) -> String {
        if self.work_every > 1 {
            format!("{} (1 in {})", self.work, self.work_every)
        } else {
            self.work.clone()
        }
    }

    /// For a chart's subtitle: `64B messages, work block:10.00ms, closed loop`.
    pub fn label(&self) -> String {
        let mut s = format!("{} messages", format_bytes(self.msg_size as u64));
        if self.work != "none" {
            s += &format!(", work {}", self.work_label());
        }
        match self.rate {
            Some(rate) => s += &format!(", open loop at {} msgs/s", format_count(rate)),
            None => s += ", closed loop",
        }
        if let Some(mode) = &self.connection_mode {
            s += &format!(", a new connection {}", churn_words(mode));
        }
        s
    }

    /// For a file name: `64B`, `64B-block-10.00ms-every10`, `64B-rate10000`.
    pub fn slug(&self) -> String {
        let mut s = format_bytes(self.msg_size as u64);
        if self.work != "none" {
            s += &format!("-{}", self.work);
        }
        if self.work_every > 1 {
            s += &format!("-every{}", self.work_every);
        }
        if let Some(rate) = self.rate {
            s += &format!("-rate{rate:.0}");
        }
        if let Some(mode) = &self.connection_mode {
            s += &format!("-{mode}");
        }
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    }

    fn key(&self) -> (usize, &str, u64, Option<u64>, Option<&str>) {
        (
            self.msg_size,
            &self.work,
            self.work_every,
            self.rate.map(f64::to_bits),
            self.connection_mode.as_deref(),
        )
    }
}

impl PartialEq for Scenario {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Scenario {}

impl PartialOrd for Scenario {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Scenario {
    /// By message size, then work (plain echo first), then rate (closed loop first).
    fn cmp(&self, other: &Self) -> Ordering {
        self.msg_size
            .cmp(&other.msg_size)
            .then_with(|| work_rank(&self.work).cmp(&work_rank(&other.work)))
            .then_with(|| self.work.cmp(&other.work))
            .then_with(|| self.work_every.cmp(&other.work_every))
            .then_with(|| match (self.rate, other.rate) {
                (Some(a), Some(b)) => a.total_cmp(&b),
                (a, b) => a.is_some().cmp(&b.is_some()),
            })
            // Persistent connections (None) first.
            .then_with(|| self.connection_mode.cmp(&other.connection_mode))
    }
}

/// `per message` for `per-message`, `every 5 messages` for `per:5`.
fn churn_words(mode: &str) -> String {
    match mode.strip_prefix("per:") {
        Some(n) => format!("every {n} messages"),
        None => mode.replace('-', " "),
    }
}

/// `points` grouped by scenario, in scenario order.
pub fn by_scenario<'a>(points: &[&'a Point]) -> Vec<(Scenario, Vec<&'a Point>)> {
    let mut groups: Vec<(Scenario, Vec<&'a Point>)> = Vec::new();
    for p in points {
        let s = p.scenario();
        match groups.iter_mut().find(|(g, _)| *g == s) {
            Some((_, members)) => members.push(p),
            None => groups.push((s, vec![p])),
        }
    }
    groups.sort_by(|a, b| a.0.cmp(&b.0));
    groups
}

/// `points` grouped by target name, in the order targets first appear.
pub fn by_target<'a>(points: &[&'a Point]) -> Vec<(&'a str, Vec<&'a Point>)> {
    let mut groups: Vec<(&'a str, Vec<&'a Point>)> = Vec::new();
    for p in points {
        match groups.iter_mut().find(|(name, _)| *name == p.name()) {
            Some((_, members)) => members.push(p),
            None => groups.push((p.name(), vec![p])),
        }
    }
    groups
}

/// One value per client count: the median of `value` over repeated points (the project quotes
/// medians of repeated runs), ascending by clients. Points without a value are left out.
pub fn median_by_clients(
    points: &[&Point],
    value: impl Fn(&Point) -> Option<f64>,
) -> Vec<(f64, f64)> {
    let mut pairs: Vec<(usize, f64)> = points
        .iter()
        .filter_map(|p| value(p).filter(|v| v.is_finite()).map(|v| (p.clients(), v)))
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.total_cmp(&b.1)));
    let mut out = Vec::new();
    for chunk in pairs.chunk_by(|a, b| a.0 == b.0) {
        out.push((chunk[0].0 as f64, median(chunk.iter().map(|p| p.1))));
    }
    out
}

/// The median of `values` (sorted or not); the mean of the middle two for an even count.
pub fn median(values: impl IntoIterator<Item = f64>) -> f64 {
    let mut v: Vec<f64> = values.into_iter().collect();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// Of several points measuring the same thing, the one started last.
pub fn latest<'a>(points: impl IntoIterator<Item = &'a Point>) -> Option<&'a Point> {
    points
        .into_iter()
        .max_by(|a, b| a.run().started_at.cmp(&b.run().started_at))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario(work: &str, every: u64, rate: Option<f64>) -> Scenario {
        Scenario {
            msg_size: 64,
            work: work.into(),
            work_every: every,
            rate,
            connection_mode: None,
        }
    }

    #[test]
    fn churning_connections_are_a_scenario_of_their_own() {
        let persistent = scenario("none", 1, None);
        let churn = Scenario {
            connection_mode: Some("per-message".into()),
            ..persistent.clone()
        };
        assert_ne!(
            persistent, churn,
            "a churn point never joins a persistent chart"
        );
        assert!(persistent < churn, "persistent connections come first");
        assert_eq!(
            churn.label(),
            "64B messages, closed loop, a new connection per message"
        );
        assert_eq!(churn.slug(), "64B-per-message");
        let every5 = Scenario {
            connection_mode: Some("per:5".into()),
            ..persistent
        };
        assert!(
            every5
                .label()
                .ends_with("a new connection every 5 messages")
        );
    }

    #[test]
    fn labels_and_slugs_name_what_differs() {
        let plain = scenario("none", 1, None);
        assert_eq!(plain.label(), "64B messages, closed loop");
        assert_eq!(plain.slug(), "64B");
        let blocked = scenario("block:10.00ms", 10, Some(5000.0));
        assert_eq!(
            blocked.label(),
            "64B messages, work block:10.00ms (1 in 10), open loop at 5,000 msgs/s"
        );
        assert_eq!(blocked.slug(), "64B-block-10.00ms-every10-rate5000");
    }

    #[test]
    fn scenarios_order_as_a_story() {
        let mut v = [
            scenario("offload:1ms", 1, None),
            scenario("block:1ms", 1, None),
            scenario("none", 1, Some(10.0)),
            scenario("none", 1, None),
        ];
        v.sort();
        let works: Vec<_> = v
            .iter()
            .map(|s| (s.work.as_str(), s.rate.is_some()))
            .collect();
        assert_eq!(
            works,
            [
                ("none", false),
                ("none", true),
                ("block:1ms", false),
                ("offload:1ms", false)
            ]
        );
    }

    #[test]
    fn median_of_repeats() {
        assert_eq!(median([3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median([4.0, 1.0]), 2.5);
        assert!(median([]).is_nan());
    }
}
