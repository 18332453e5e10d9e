//! Durations and byte counts as people type them: `250us`, `1.5ms`, `10s`, `64`, `16KiB`, `1MiB`.

use std::time::Duration;

/// Parses a duration with a unit: `ns`, `us` (or `µs`), `ms`, `s`, `m`. A bare number is refused,
/// since `1` could mean a second or a millisecond and a benchmark must not guess.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("'{s}' has no unit: write e.g. 500us, 1ms, 10s"))?;
    let (number, unit) = s.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{s}' does not start with a number"))?;
    let seconds_per_unit = match unit {
        "ns" => 1e-9,
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        _ => {
            return Err(format!(
                "'{unit}' in '{s}' is not a unit: use ns, us, ms, s or m"
            ));
        }
    };
    Duration::try_from_secs_f64(value * seconds_per_unit).map_err(|e| format!("'{s}': {e}"))
}

/// Parses a byte count: a bare number, or one with `B`, `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (all
/// binary multiples, as buffer sizes are).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let value: u64 = number
        .parse()
        .map_err(|_| format!("'{s}' is not a byte count: write e.g. 64, 16KiB, 1MiB"))?;
    let multiple: u64 = match unit {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "'{unit}' in '{s}' is not a unit: use B, KiB, MiB or GiB"
            ));
        }
    };
    value
        .checked_mul(multiple)
        .ok_or_else(|| format!("'{s}' is too large"))
}

/// A duration in the shortest unit that keeps it readable (`850ns`, `12.3us`, `4.56ms`, `1.20s`).
pub fn format_duration(d: Duration) -> String {
    let ns = d.as_nanos() as f64;
    match ns {
        n if n < 1e3 => format!("{n:.0}ns"),
        n if n < 1e6 => format!("{:.1}us", n / 1e3),
        n if n < 1e9 => format!("{:.2}ms", n / 1e6),
        n => format!("{:.2}s", n / 1e9),
    }
}

/// A byte count in binary units (`64B`, `16KiB`, `1.5MiB`), the inverse of [`parse_bytes`] where
/// the count is a whole number of units.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (size, unit) in UNITS {
        if n >= size {
            return if n.is_multiple_of(size) {
                format!("{}{unit}", n / size)
            } else {
                format!("{:.1}{unit}", n as f64 / size as f64)
            };
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_need_a_unit() {
        assert_eq!(parse_duration("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("10").unwrap_err().contains("no unit"));
        assert!(parse_duration("10h").unwrap_err().contains("not a unit"));
        assert!(parse_duration("-1ms").is_err());
    }

    #[test]
    fn byte_counts_are_binary() {
        assert_eq!(parse_bytes("64"), Ok(64));
        assert_eq!(parse_bytes("16KiB"), Ok(16 * 1024));
        assert_eq!(parse_bytes("1MiB"), Ok(1 << 20));
        assert!(parse_bytes("1.5MiB").is_err());
        assert!(parse_bytes("12XB").unwrap_err().contains("not a unit"));
        assert!(parse_bytes("99999999999999999999G").is_err());
    }

    #[test]
    fn formats_round_trip() {
        for n in [1, 64, 1024, 16 * 1024, 1 << 20] {
            assert_eq!(parse_bytes(&format_bytes(n)), Ok(n));
        }
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.50ms");
        assert_eq!(format_duration(Duration::from_nanos(850)), "850ns");
    }
}
