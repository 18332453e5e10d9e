//! What a server counts, and the one-line summary it prints when it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

use echo_proto::{LagSummary, Summary};

use crate::wakers::Wakers;

/// Counters shared by all of a server's connections. Connections add their bytes once, when they
/// close, so no counter is touched per message.
#[derive(Default)]
pub(crate) struct Stats {
    pub accepted: AtomicU64,
    pub closed: AtomicU64,
    pub refused: AtomicU64,
    pub bytes: AtomicU64,
    pub errors: AtomicU64,
    pub resets_by_peer: AtomicU64,
    pub active: AtomicUsize,
    /// Woken when `active` drops to zero.
    pub drained: Arc<Wakers>,
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
            resets_by_peer: self.resets_by_peer.load(Relaxed),
            loop_lag_ns,
            runtime: None,
        }
    }
}
