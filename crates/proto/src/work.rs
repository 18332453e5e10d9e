//! The work a server does on a message before echoing it, as the `--work` flag spells it: a plain
//! `Copy` value that loadgen, the charts and the result files parse and print. What the work needs
//! at run time (a data file, a database) is prepared by the server from this spec, in
//! echo-common.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::units::{format_bytes, format_duration, parse_bytes, parse_duration};

/// Work done per message, as spelled on the command line (`none`, `block:1ms`, ...).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkSpec {
    /// A plain echo.
    #[default]
    None,
    /// `sleep:DUR`: wait on the runtime's own timer (the right way to wait).
    Sleep(Duration),
    /// `block:DUR`: `std::thread::sleep` inside the handler (the pitfall).
    Block(Duration),
    /// `offload:DUR`: the same blocking sleep on the runtime's blocking pool, awaited (the fix).
    Offload(Duration),
    /// `cpu:DUR`: spin the CPU. Async makes CPU-bound work no cheaper; it only hides where it runs.
    Cpu(Duration),
    /// `file-block:BYTES` / `file-offload:BYTES`: open a real file and read it with `std::fs`.
    File {
        /// Bytes read per message.
        bytes: u64,
        /// Run on the blocking pool rather than on the loop.
        offload: bool,
    },
    /// `sqlite-block` / `sqlite-offload`: a real query on a real SQLite database.
    Sqlite {
        /// Run on the blocking pool rather than on the loop.
        offload: bool,
    },
}

/// Where a server runs a message's work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum How {
    /// Nothing to do.
    Nothing,
    /// Await the runtime's timer for this long.
    Wait(Duration),
    /// Run the work's blocking implementation right here, on whatever thread runs the handler.
    Inline,
    /// Hand the work's blocking implementation to the runtime's blocking pool and await it.
    Offload,
}

impl WorkSpec {
    /// Where an event-loop server runs this work.
    pub fn how(self) -> How {
        match self {
            WorkSpec::None => How::Nothing,
            WorkSpec::Sleep(d) => How::Wait(d),
            WorkSpec::Block(_) | WorkSpec::Cpu(_) => How::Inline,
            WorkSpec::Offload(_) => How::Offload,
            WorkSpec::File { offload, .. } | WorkSpec::Sqlite { offload } => {
                if offload {
                    How::Offload
                } else {
                    How::Inline
                }
            }
        }
    }

    /// Whether message `index` (counted from 0 on each connection) gets the work when only every
    /// `every`th message does. The server and the load generator both ask this, so they agree on
    /// which messages are the bystanders.
    pub fn applies_to(index: u64, every: u64) -> bool {
        (index + 1).is_multiple_of(every)
    }
}

/// Why a `--work` spelling was refused.
#[derive(Debug, thiserror::Error)]
#[error("invalid work '{spelling}': {reason}")]
pub struct ParseWorkError {
    spelling: String,
    reason: String,
}

/// The spellings, for error messages and `--help`.
const SPELLINGS: &str = "none, sleep:DUR, block:DUR, offload:DUR, cpu:DUR, file-block:BYTES, \
                         file-offload:BYTES, sqlite-block, sqlite-offload";

impl FromStr for WorkSpec {
    type Err = ParseWorkError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let fail = |reason: String| ParseWorkError {
            spelling: s.to_owned(),
            reason,
        };
        let (kind, arg) = match s.split_once(':') {
            Some((k, a)) => (k, Some(a)),
            None => (s, None),
        };
        let duration = || -> Result<Duration, ParseWorkError> {
            let d = parse_duration(
                arg.ok_or_else(|| fail(format!("{kind} needs a duration, e.g. {kind}:1ms")))?,
            )
            .map_err(fail)?;
            if d.is_zero() {
                return Err(fail("the duration must be more than zero".into()));
            }
            Ok(d)
        };
        let bytes = || -> Result<u64, ParseWorkError> {
            let n = parse_bytes(
                arg.ok_or_else(|| fail(format!("{kind} needs a size, e.g. {kind}:64KiB")))?,
            )
            .map_err(fail)?;
            if n == 0 {
                return Err(fail("the size must be more than zero".into()));
            }
            Ok(n)
        };
        let no_arg = |w: WorkSpec| match arg {
            None => Ok(w),
            Some(_) => Err(fail(format!("{kind} takes no argument"))),
        };
        match kind {
            "none" => no_arg(WorkSpec::None),
            "sleep" => Ok(WorkSpec::Sleep(duration()?)),
            "block" => Ok(WorkSpec::Block(duration()?)),
            "offload" => Ok(WorkSpec::Offload(duration()?)),
            "cpu" => Ok(WorkSpec::Cpu(duration()?)),
            "file-block" | "file-offload" => Ok(WorkSpec::File {
                bytes: bytes()?,
                offload: kind == "file-offload",
            }),
            "sqlite-block" | "sqlite-offload" => no_arg(WorkSpec::Sqlite {
                offload: kind == "sqlite-offload",
            }),
            _ => Err(fail(format!(
                "unknown kind '{kind}'; expected one of {SPELLINGS}"
            ))),
        }
    }
}

impl fmt::Display for WorkSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = |offload: bool| if offload { "offload" } else { "block" };
        match self {
            WorkSpec::None => f.write_str("none"),
            WorkSpec::Sleep(d) => write!(f, "sleep:{}", format_duration(*d)),
            WorkSpec::Block(d) => write!(f, "block:{}", format_duration(*d)),
            WorkSpec::Offload(d) => write!(f, "offload:{}", format_duration(*d)),
            WorkSpec::Cpu(d) => write!(f, "cpu:{}", format_duration(*d)),
            WorkSpec::File { bytes, offload, .. } => {
                write!(f, "file-{}:{}", side(*offload), format_bytes(*bytes))
            }
            WorkSpec::Sqlite { offload, .. } => write!(f, "sqlite-{}", side(*offload)),
        }
    }
}

impl serde::Serialize for WorkSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for s in [
            "none",
            "sleep:1.00ms",
            "block:250.0us",
            "offload:2.00s",
            "cpu:1.00ms",
            "file-block:64KiB",
            "file-offload:1MiB",
            "sqlite-block",
            "sqlite-offload",
        ] {
            assert_eq!(s.parse::<WorkSpec>().unwrap().to_string(), s);
        }
    }

    #[test]
    fn bad_spellings_say_why() {
        let err = |s: &str| s.parse::<WorkSpec>().unwrap_err().to_string();
        assert!(err("nap:1ms").contains("unknown kind 'nap'"));
        assert!(err("sleep").contains("needs a duration"));
        assert!(err("sleep:0ms").contains("more than zero"));
        assert!(err("sleep:1").contains("no unit"));
        assert!(err("file-block").contains("needs a size"));
        assert!(err("sqlite-block:3").contains("takes no argument"));
    }

    #[test]
    fn pitfall_and_fix_run_in_different_places() {
        let how = |s: &str| s.parse::<WorkSpec>().unwrap().how();
        assert_eq!(how("sleep:1ms"), How::Wait(Duration::from_millis(1)));
        assert_eq!(how("block:1ms"), How::Inline);
        assert_eq!(how("offload:1ms"), How::Offload);
        assert_eq!(how("cpu:1ms"), How::Inline);
        assert_eq!(how("file-block:1KiB"), How::Inline);
        assert_eq!(how("file-offload:1KiB"), How::Offload);
        assert_eq!(how("sqlite-block"), How::Inline);
        assert_eq!(how("sqlite-offload"), How::Offload);
        assert_eq!(how("none"), How::Nothing);
    }

    #[test]
    fn the_server_and_the_client_agree_on_the_working_messages() {
        let working: Vec<u64> = (0..9).filter(|&i| WorkSpec::applies_to(i, 3)).collect();
        assert_eq!(working, [2, 5, 8]);
    }
}
