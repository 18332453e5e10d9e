//! What a server counts, and the one-line summary it prints when it stops.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use event_listener::Event;
use serde::{Deserialize, Serialize};

use crate::lag::LagSummary;

/// Counters shared by all of a server's connections. Connections add their bytes once, when they
/// close, so no counter is touched per message.
#[derive(Default)]
pub(crate) struct Stats {
    pub accepted: AtomicU64,
    pub closed: AtomicU64,
    pub refused: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
    pub active: AtomicUsize,
    /// Notified when `active` drops to zero.
    pub drained: Event,
}

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
    /// Connections that ended in an I/O error (a reset, say), plus failed accepts.
    pub errors: u64,
    /// How late the event loop ran a task that was ready, while serving; `null` for servers
    /// without an event loop.
    pub loop_lag_ns: Option<LagSummary>,
}

impl Stats {
    pub fn summary(&self, target: &str, loop_lag_ns: Option<LagSummary>) -> Summary {
        Summary {
            target: target.to_owned(),
            accepted: self.accepted.load(Relaxed),
            closed: self.closed.load(Relaxed),
            refused: self.refused.load(Relaxed),
            bytes_echoed: self.bytes.load(Relaxed),
            errors: self.errors.load(Relaxed),
            loop_lag_ns,
        }
    }
}
