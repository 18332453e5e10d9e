//! Results made by hand for tests, written once: a run on a made-up machine under plain
//! settings, for a test to fill with the targets and figures it is about. Built with the
//! `testing` feature (other crates' tests turn it on as a dev-dependency) and in this crate's
//! own tests.

use crate::{CapacitySearch, Machine, RunConfig, RunResult, SCHEMA, TargetResult};

/// The machine hand-made results claim: "Test CPU", 2 cores, host `box`.
pub fn machine() -> Machine {
    Machine {
        cpu_model: "Test CPU".into(),
        cores: 2,
        kernel: "6.1".into(),
        hostname: "box".into(),
    }
}

/// A closed loop of `clients` sending `msg_size` bytes with server `work` on every message: a
/// one-second window, no warm-up, a one-second timeout, one thread a side, nothing pinned.
pub fn config(clients: usize, msg_size: usize, work: &str) -> RunConfig {
    RunConfig {
        clients,
        msg_size,
        duration_ns: 1_000_000_000,
        warmup_ns: 0,
        timeout_ns: 1_000_000_000,
        client_threads: 1,
        client_cpus: vec![],
        server_cpus: vec![],
        server_threads: 1,
        rate: None,
        work: work.into(),
        work_every: 1,
        rate_ramp: None,
        connection_mode: None,
        repeat: 1,
        bind: Vec::new(),
        start_at: None,
    }
}

/// A complete run under `config` that measured `targets`, started 2026-11-25 10:00:00 UTC on
/// [`machine`].
pub fn run(config: RunConfig, targets: Vec<TargetResult>) -> RunResult {
    RunResult {
        schema: SCHEMA.into(),
        started_at: "2026-11-25T10:00:00Z".into(),
        git_commit: None,
        machine: machine(),
        config,
        targets,
        partial: false,
        clock: None,
        hosts: Vec::new(),
    }
}

/// A capacity search for p99 within 10 ms (precision 5%) that kept `kept`, broken 5% above it;
/// with no rate kept, answered `below`, broken at 100 msgs/s.
pub fn capacity_search(kept: Option<f64>) -> CapacitySearch {
    CapacitySearch {
        slo: "p99=10ms".into(),
        percentile: 99.0,
        limit_ns: 10_000_000,
        precision: 0.05,
        steps: vec![],
        answer: if kept.is_some() { "found" } else { "below" }.into(),
        kept,
        broke: Some(kept.map_or(100.0, |k| k * 1.05)),
    }
}
