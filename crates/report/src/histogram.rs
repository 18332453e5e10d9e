//! Latency histograms: the bounds every recorder uses, the summary figures, and the two standard
//! serialized forms (V2 + DEFLATE in base64, and the `.hgrm` percentile text).

use std::io::{self, Write};

use base64::Engine;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// Longest latency recorded exactly, in nanoseconds: anything longer is a timeout anyway.
const HIGHEST_NS: u64 = 60_000_000_000;

/// Significant figures kept: 0.1% resolution, HdrHistogram's usual choice.
const SIGFIG: u8 = 3;

/// A histogram with the bounds every recorder and reader shares: 1 ns to 60 s, 3 significant
/// figures. Its counts array is allocated once here, so recording never allocates.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_NS, SIGFIG).expect("constant bounds are valid")
}

/// A latency distribution's figures, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Latency {
    /// Values recorded.
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// 99.99th percentile.
    pub p9999: u64,
    /// Largest.
    pub max: u64,
}

impl Latency {
    /// The figures of `h`; all zero when it is empty.
    pub fn of(h: &Histogram<u64>) -> Self {
        if h.is_empty() {
            return Latency::default();
        }
        Latency {
            count: h.len(),
            min: h.min(),
            mean: h.mean(),
            stdev: h.stdev(),
            p50: h.value_at_quantile(0.5),
            p90: h.value_at_quantile(0.9),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            p9999: h.value_at_quantile(0.9999),
            max: h.max(),
        }
    }
}

/// `h` in HdrHistogram's V2 + DEFLATE form, base64-encoded: what other HdrHistogram
/// implementations read (the same encoding their interval logs use).
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .expect("serializing to memory cannot fail");
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The inverse of [`encode_histogram`].
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| format!("histogram is not base64: {e}"))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| format!("histogram does not decode: {e:?}"))
}

/// Writes `h`'s percentile distribution in the `.hgrm` text layout (as HdrHistogram's
/// `outputPercentileDistribution` does), with values scaled by `scale` (1000.0 for
/// microseconds from nanoseconds), ready for HdrHistogram's plotter.
pub fn write_hgrm(
    h: &Histogram<u64>,
    scale: f64,
    out: &mut (impl Write + ?Sized),
) -> io::Result<()> {
    writeln!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    )?;
    let mut sum = 0;
    for v in h.iter_quantiles(5) {
        sum += v.count_since_last_iteration();
        let q = v.quantile_iterated_to();
        if q < 1.0 {
            writeln!(
                out,
                "{:12.3} {:1.12} {:10} {:14.2}",
                v.value_iterated_to() as f64 / scale,
                q,
                sum,
                1.0 / (1.0 - q)
            )?;
        } else {
            writeln!(
                out,
                "{:12.3} {:1.12} {:10} {:>14}",
                v.value_iterated_to() as f64 / scale,
                q,
                sum,
                "inf"
            )?;
        }
    }
    writeln!(
        out,
        "#[Mean    = {:12.3}, StdDeviation   = {:12.3}]",
        h.mean() / scale,
        h.stdev() / scale
    )?;
    writeln!(
        out,
        "#[Max     = {:12.3}, Total count    = {:12}]",
        h.max() as f64 / scale,
        h.len()
    )?;
    writeln!(
        out,
        "#[Buckets = {:12}, SubBuckets     = {:12}]",
        h.buckets(),
        h.distinct_values()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Histogram<u64> {
        let mut h = new_histogram();
        for v in 1..=10_000u64 {
            h.record(v * 1000).unwrap();
        }
        h
    }

    #[test]
    fn encoding_round_trips() {
        let h = sample();
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(Latency::of(&back), Latency::of(&h));
        assert!(
            decode_histogram("not base64!")
                .unwrap_err()
                .contains("base64")
        );
    }

    #[test]
    fn figures_come_from_the_distribution() {
        let l = Latency::of(&sample());
        assert_eq!(l.count, 10_000);
        assert!((4_990_000..=5_010_000).contains(&l.p50), "{l:?}");
        assert!((9_890_000..=9_910_000).contains(&l.p99), "{l:?}");
        assert_eq!(Latency::of(&new_histogram()), Latency::default());
    }

    /// The rows of an `.hgrm` text: (value, percentile, total count).
    fn hgrm_rows(text: &str) -> Vec<(f64, f64, u64)> {
        text.lines()
            .skip(1)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (
                    f[0].parse().unwrap(),
                    f[1].parse().unwrap(),
                    f[2].parse().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn hgrm_counts_add_up_and_values_are_in_the_unit_asked_for() {
        // 1 to 1000 ns, each once: values the histogram holds exactly, so the median is 500 ns.
        let mut h = new_histogram();
        for v in 1..=1000u64 {
            h.record(v).unwrap();
        }
        let mut out = Vec::new();
        write_hgrm(&h, 1000.0, &mut out).unwrap();
        let rows = hgrm_rows(&String::from_utf8(out).unwrap());
        assert!(rows.len() > 10, "{rows:?}");
        assert!(
            rows.windows(2).all(|w| w[0].2 <= w[1].2),
            "TotalCount never decreases: {rows:?}"
        );
        assert_eq!(rows.last().unwrap().2, 1000, "TotalCount ends at the count");
        let median = rows.iter().find(|r| r.1 == 0.5).expect("a 50% row");
        assert_eq!(median.0, 0.5, "500 ns in microseconds: {median:?}");
        assert_eq!(median.2, 500, "half the values are at or below the median");
        assert_eq!(rows.last().unwrap().0, 1.0, "the largest, 1000 ns, is 1 µs");
    }

    #[test]
    fn hgrm_rows_below_the_top_give_one_over_one_minus_the_percentile() {
        let mut out = Vec::new();
        write_hgrm(&sample(), 1000.0, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let median = text
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some("0.500000000000"))
            .expect("a 50% row");
        assert_eq!(median.split_whitespace().nth(3), Some("2.00"), "{text}");
    }

    #[test]
    fn hgrm_has_the_standard_layout() {
        let mut out = Vec::new();
        write_hgrm(&sample(), 1000.0, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let mut lines = text.lines();
        let header: Vec<_> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["Value", "Percentile", "TotalCount", "1/(1-Percentile)"]
        );
        assert!(text.contains("#[Mean    ="), "{text}");
        assert!(text.contains("Total count    =        10000]"), "{text}");
        let last_row = text.lines().rfind(|l| !l.starts_with('#') && !l.is_empty());
        assert!(last_row.unwrap().trim_end().ends_with("inf"));
    }
}
