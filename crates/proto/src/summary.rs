//! What a server reports when it stops: one line of JSON on stdout, which loadgen reads and every
//! result file keeps.

use serde::{Deserialize, Serialize};

/// The final statistics a server prints as one line of JSON on stdout when it stops.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// The target's name (`tokio`, `threads`, ...).
    pub target: String,
    /// Connections accepted and served.
    pub accepted: u64,
    /// Connections closed again (equal to `accepted` after a clean shutdown).
    pub closed: u64,
    /// Connections turned away at the `--max-connections` cap.
    pub refused: u64,
    /// Bytes echoed back over all connections.
    pub bytes_echoed: u64,
    /// The server's own failures: connections that ended in an I/O error of its making, plus
    /// failed accepts. A peer that resets or goes away is counted in `resets_by_peer` instead.
    pub errors: u64,
    /// Connections the peer reset or abandoned mid-echo (`ECONNRESET`, `EPIPE`,
    /// `ECONNABORTED`): how a load generator's clients may leave at the end of a run, and no
    /// failure of the server's. Absent from summaries written before it was counted (read as 0).
    #[serde(default)]
    pub resets_by_peer: u64,
    /// How late the event loop ran a task that was ready, while serving; `null` for servers
    /// without an event loop.
    pub loop_lag_ns: Option<LagSummary>,
    /// The runtime that served and its version, for a server that is a program of its own
    /// (`go1.19.8`, `node v20.20.2, libuv 1.46.0`, `CPython 3.11.9, gevent 26.9.0`). Absent for
    /// the Rust servers, whose crates' versions `Cargo.lock` pins at the recorded commit, and in
    /// files written before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub runtime: Option<String>,
}

/// The loop-lag distribution, in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LagSummary {
    /// Probes recorded (one per period while at least one connection was open).
    pub samples: u64,
    /// Mean lag.
    pub mean: u64,
    /// Median lag.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest lag seen.
    pub max: u64,
}
