//! Wall-clock time, for runs on several hosts at once: parsing `--start-at`, turning it into
//! this host's monotonic clock, and what the host's clock can say about itself.
//!
//! Several hosts line up their windows only through their wall clocks, so each host records its
//! window on the wall clock and how far its clock can be trusted (its source, and whether it is
//! synchronised). Everything after the start time is measured on the monotonic clock: a wall
//! clock that steps during a run moves no window.

use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use echo_common::units::{format_duration, parse_duration};
use echo_report::Clock;

/// How long to wait for `timedatectl` to say whether the clock is synchronised. It answers in
/// milliseconds where systemd runs; where it does not, it fails at once. This bounds the rest.
const TIMEDATECTL_WAIT: Duration = Duration::from_secs(1);

/// `--start-at TIME`: RFC 3339 in UTC (`2026-11-25T18:30:00Z`, fractions allowed) or `+DUR`
/// from `now` (`+30s`). Refuses a time that is not in the future.
pub fn parse_start_at(text: &str, now: SystemTime) -> Result<SystemTime, String> {
    let at = match text.strip_prefix('+') {
        Some(after) => {
            now + parse_duration(after).map_err(|e| format!("--start-at {text}: {e}"))?
        }
        None => humantime::parse_rfc3339(text).map_err(|e| {
            format!(
                "--start-at {text}: not a time ({e}); give RFC 3339 in UTC, like \
                 2026-11-25T18:30:00Z (`date -u -d +30sec +%FT%TZ`), or +30s from now"
            )
        })?,
    };
    if at <= now {
        return Err(format!(
            "--start-at {text} is already past ({} ago, by this host's clock, now {}): give a \
             time far enough ahead to start loadgen on every host",
            ago(now.duration_since(at).unwrap_or_default()),
            humantime::format_rfc3339_seconds(now)
        ));
    }
    Ok(at)
}

/// `1.50s`, or `3h 20m 5s` for longer: whole seconds are enough once it is minutes.
fn ago(d: Duration) -> String {
    if d < Duration::from_secs(60) {
        format_duration(d)
    } else {
        humantime::format_duration(Duration::from_secs(d.as_secs())).to_string()
    }
}

/// The moment on this host's monotonic clock that its wall clock now says is `at`.
pub fn instant_of(at: SystemTime) -> Instant {
    let (wall, mono) = (SystemTime::now(), Instant::now());
    match at.duration_since(wall) {
        Ok(ahead) => mono + ahead,
        Err(behind) => mono.checked_sub(behind.duration()).unwrap_or(mono),
    }
}

/// Nanoseconds since the Unix epoch (0 before it).
pub fn unix_ns(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// The wall-clock time of `then`, a moment of this process's monotonic clock.
pub fn wall_of(then: Instant) -> SystemTime {
    let (wall, mono) = (SystemTime::now(), Instant::now());
    match then.checked_duration_since(mono) {
        Some(ahead) => wall + ahead,
        None => wall - mono.duration_since(then),
    }
}

/// What this host's clock says about itself, as far as it can be read cheaply.
pub fn facts() -> Clock {
    let source =
        fs::read_to_string("/sys/devices/system/clocksource/clocksource0/current_clocksource")
            .ok()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty());
    Clock {
        source,
        synchronized: timedatectl_synchronized(),
    }
}

/// `timedatectl show -p NTPSynchronized --value`: `yes` or `no`, where systemd can tell.
fn timedatectl_synchronized() -> Option<bool> {
    let mut child = Command::new("timedatectl")
        .args(["show", "--property=NTPSynchronized", "--value"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let deadline = Instant::now() + TIMEDATECTL_WAIT;
    while child.try_wait().ok()?.is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().ok()?;
    match String::from_utf8_lossy(&out.stdout).trim() {
        "yes" if out.status.success() => Some(true),
        "no" if out.status.success() => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_times_are_absolute_or_from_now_and_in_the_future() {
        let now = humantime::parse_rfc3339("2026-11-25T18:00:00Z").unwrap();
        let at = |s| parse_start_at(s, now);
        assert_eq!(at("+30s").unwrap(), now + Duration::from_secs(30));
        assert_eq!(
            at("2026-11-25T18:00:01.5Z").unwrap(),
            now + Duration::from_millis(1500)
        );
        let err = |s| at(s).unwrap_err();
        assert!(
            err("2026-11-25T17:59:00Z").contains("already past (1m ago"),
            "{}",
            err("2026-11-25T17:59:00Z")
        );
        assert!(err("2026-11-25T18:00:00Z").contains("already past"));
        assert!(err("+0s").contains("already past"));
        assert!(err("tomorrow").contains("RFC 3339"));
        assert!(err("2026-11-25T19:00:00+01:00").contains("RFC 3339"));
        assert!(err("+30").contains("--start-at +30"));
    }

    #[test]
    fn wall_and_monotonic_times_correspond() {
        let ahead = SystemTime::now() + Duration::from_secs(60);
        let then = instant_of(ahead);
        let back = wall_of(then);
        let diff = back.duration_since(ahead).unwrap_or_else(|e| e.duration());
        // The two clocks are read a moment apart, so this is not exact; the bound is far
        // below the minute that a sign or direction error would show.
        assert!(diff < Duration::from_secs(5), "{diff:?}");
        assert_eq!(unix_ns(UNIX_EPOCH + Duration::from_nanos(42)), 42);
    }
}
