//! The committed result files under `tests/fixtures/results/` and the generator they come from.
//!
//! The fixtures are small but shaped like a real sweep on the project's 2-core machine: three
//! targets at 1 to 1000 clients with 64-byte messages, two at 1 KiB, and the pitfall runs (a
//! 10 ms blocking call on 1 message in 10, and the same call offloaded) at 100 clients, where the
//! single-threaded event loop stalls. `failing/` holds a small sweep of the one-at-a-time server,
//! whose clients starve, beside a tokio whose load generator saturates. Every histogram is a real encoded HdrHistogram of
//! deterministic pseudo-random samples.
//!
//! After changing the generator or the schema, rewrite them with
//! `UPDATE_FIXTURES=1 cargo test -p echo-charts --test fixtures`.

use std::path::{Path, PathBuf};

use echo_proto::{LagSummary, Summary};
use echo_report::{
    ClientCost, Errors, Latency, Machine, RunConfig, RunResult, SCHEMA, ServerCost, TargetResult,
    Tick, decode_histogram, encode_histogram, new_histogram, read_result, write_atomic,
};
use serde_json::Value;

const UPDATE: &str = "UPDATE_FIXTURES";
const SECONDS: u64 = 5;
const MS: f64 = 1e6;

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[test]
fn fixtures_match_their_generator() {
    let update = std::env::var_os(UPDATE).is_some();
    for (name, run) in generate() {
        let path = dir().join(&name);
        if update {
            write_atomic(&path, |w| {
                serde_json::to_writer_pretty(&mut *w, &run)?;
                w.write_all(b"\n")
            })
            .unwrap();
            continue;
        }
        let committed = read_result(&path)
            .unwrap_or_else(|e| panic!("{e}: rewrite the fixtures with {UPDATE}=1 cargo test -p echo-charts --test fixtures"));
        let (want, got) = (
            serde_json::to_value(&run).unwrap(),
            serde_json::to_value(&committed).unwrap(),
        );
        assert!(
            same(&want, &got),
            "{name} differs from its generator: rewrite the fixtures with {UPDATE}=1 cargo test -p echo-charts --test fixtures"
        );
    }
}

/// JSON equality with floats compared to a relative 1e-9 (parsing may round the last digit) and
/// histograms compared by content rather than by their compressed bytes.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter().all(|(k, v)| match (k.as_str(), y.get(k)) {
                    ("histogram", Some(Value::String(w))) => {
                        let (h1, h2) = (
                            decode_histogram(v.as_str().unwrap()).unwrap(),
                            decode_histogram(w).unwrap(),
                        );
                        h1.len() == h2.len()
                            && h1
                                .iter_recorded()
                                .zip(h2.iter_recorded())
                                .all(|(a, b)| a == b)
                    }
                    (_, Some(w)) => same(v, w),
                    (_, None) => false,
                })
        }
        _ => a == b,
    }
}

/// A small deterministic generator (SplitMix64): the same fixtures on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A standard normal deviate (Box–Muller).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next().max(1e-12), self.next());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// How a target behaves, roughly as measured on the project's machine.
struct Model {
    name: &'static str,
    /// Round trip with no queueing, ns.
    base_ns: f64,
    /// Round trips per second it saturates at.
    capacity: f64,
    /// Thread per connection?
    threads: bool,
    /// Event loops (0: none).
    loops: u64,
    cpu_ns: f64,
    kib_per_conn: f64,
    /// Serves one client at a time: the others starve.
    one_at_a_time: bool,
    /// From this many clients on, the load generator's CPUs are saturated.
    saturates_client_at: usize,
}

const THREADS: Model = Model {
    name: "threads",
    base_ns: 21_000.0,
    capacity: 90_000.0,
    threads: true,
    loops: 0,
    cpu_ns: 9_500.0,
    kib_per_conn: 14.0,
    one_at_a_time: false,
    saturates_client_at: usize::MAX,
};
const TOKIO: Model = Model {
    name: "tokio",
    base_ns: 19_000.0,
    capacity: 140_000.0,
    threads: false,
    loops: 2,
    cpu_ns: 6_200.0,
    kib_per_conn: 2.3,
    one_at_a_time: false,
    saturates_client_at: usize::MAX,
};
const TOKIO_CURRENT: Model = Model {
    name: "tokio-current",
    base_ns: 17_000.0,
    capacity: 120_000.0,
    threads: false,
    loops: 1,
    cpu_ns: 5_100.0,
    kib_per_conn: 2.1,
    one_at_a_time: false,
    saturates_client_at: usize::MAX,
};
/// The one-at-a-time server: every client but one starves.
const BLOCKING: Model = Model {
    name: "blocking",
    base_ns: 20_000.0,
    capacity: 9_000.0,
    threads: false,
    loops: 0,
    cpu_ns: 40_000.0,
    kib_per_conn: 0.01,
    one_at_a_time: true,
    saturates_client_at: usize::MAX,
};
/// tokio, with the load generator saturated from 100 clients on.
const TOKIO_SATURATING: Model = Model {
    saturates_client_at: 100,
    ..TOKIO
};

/// What the server does per message in a run.
#[derive(Clone, Copy, PartialEq)]
enum Work {
    None,
    /// A 10 ms `thread::sleep` on 1 message in 10, on the loop.
    Block,
    /// The same sleep on the blocking pool.
    Offload,
}

impl Work {
    fn spelling(self) -> &'static str {
        match self {
            Work::None => "none",
            Work::Block => "block:10.00ms",
            Work::Offload => "offload:10.00ms",
        }
    }
}

const WORK_EVERY: u64 = 10;
const WORK_NS: f64 = 10.0 * MS;

fn generate() -> Vec<(String, RunResult)> {
    let mut out = Vec::new();
    let mut minute = 0;
    let mut add = |name: String, msg_size: usize, clients: usize, work: Work, models: &[Model]| {
        minute += 1;
        let seed = minute as u64 * 7919;
        out.push((name, run(msg_size, clients, work, models, minute, seed)));
    };
    for clients in [1, 10, 100, 1000] {
        add(
            format!("results/sweep/64B-{clients}c.json"),
            64,
            clients,
            Work::None,
            &[THREADS, TOKIO, TOKIO_CURRENT],
        );
    }
    for clients in [10, 100] {
        add(
            format!("results/sweep/1KiB-{clients}c.json"),
            1024,
            clients,
            Work::None,
            &[THREADS, TOKIO],
        );
    }
    add(
        "results/pitfall/64B-100c-block.json".into(),
        64,
        100,
        Work::Block,
        &[THREADS, TOKIO, TOKIO_CURRENT],
    );
    add(
        "results/pitfall/64B-100c-offload.json".into(),
        64,
        100,
        Work::Offload,
        &[THREADS, TOKIO, TOKIO_CURRENT],
    );
    // Kept apart (`failing/`): a sweep where the one-at-a-time server starves its clients and
    // the load generator saturates, for the charts' failed and saturated marks.
    for clients in [1, 10, 100] {
        add(
            format!("failing/64B-{clients}c.json"),
            64,
            clients,
            Work::None,
            &[BLOCKING, TOKIO_SATURATING],
        );
    }
    out
}

fn run(
    msg_size: usize,
    clients: usize,
    work: Work,
    models: &[Model],
    minute: u32,
    seed: u64,
) -> RunResult {
    let every = if work == Work::None { 1 } else { WORK_EVERY };
    RunResult {
        schema: SCHEMA.into(),
        started_at: format!("2026-11-25T12:{minute:02}:00Z"),
        git_commit: Some("fixture".into()),
        machine: Machine {
            cpu_model: "AMD EPYC 7B13 (fixture)".into(),
            cores: 2,
            kernel: "6.1.0".into(),
            hostname: "fixture".into(),
        },
        config: RunConfig {
            clients,
            msg_size,
            duration_ns: SECONDS * 1_000_000_000,
            warmup_ns: 1_000_000_000,
            timeout_ns: 5_000_000_000,
            client_threads: 1,
            client_cpus: vec![1],
            server_cpus: vec![0],
            server_threads: 2,
            rate: None,
            work: work.spelling().into(),
            work_every: every,
            rate_ramp: None,
            connection_mode: None,
            repeat: 1,
            bind: Vec::new(),
            start_at: None,
        },
        targets: models
            .iter()
            .enumerate()
            .map(|(i, m)| target(m, msg_size, clients, work, seed + i as u64))
            .collect(),
        partial: false,
        clock: None,
        hosts: Vec::new(),
    }
}

fn target(m: &Model, msg_size: usize, clients: usize, work: Work, seed: u64) -> TargetResult {
    let mut rng = Rng(seed);
    // A one-at-a-time server serves a single client; the rest are connected and starve.
    let starved = if m.one_at_a_time { clients - 1 } else { 0 };
    let c = (clients - starved) as f64;
    // Larger messages cost a little more per round trip.
    let base = m.base_ns * (1.0 + msg_size as f64 / 4096.0);
    // Closed loop: every client waits for its reply, so latency grows once the server saturates.
    let median = base.max(c / m.capacity * 1e9);
    // A blocking call on a loop holds up every message queued behind it; a loop of several
    // threads holds up only its share. Offloaded, it holds up nobody but its own message.
    let stall = match (work, m.loops) {
        (Work::Block, 1) => WORK_NS,
        (Work::Block, n) if n > 1 => WORK_NS / n as f64,
        _ => 0.0,
    };

    let mut all = new_histogram();
    let mut bystanders = new_histogram();
    let mut working = new_histogram();
    const SAMPLES: usize = 20_000;
    for i in 0..SAMPLES {
        let mut v = median * (0.25 * rng.normal()).exp();
        // 0.5% of round trips wait for an idle virtual CPU to wake: 0.6–3 ms.
        if rng.next() < 0.005 {
            v += 0.6 * MS + rng.next() * 2.4 * MS;
        }
        let works = work != Work::None && (i as u64).is_multiple_of(WORK_EVERY);
        if works {
            v += WORK_NS;
        } else if stall > 0.0 && rng.next() < 0.3 {
            v += rng.next() * stall;
        }
        let v = v as u64;
        all.saturating_record(v);
        if work != Work::None {
            let side = if works { &mut working } else { &mut bystanders };
            side.saturating_record(v);
        }
    }
    let latency = Latency::of(&all);
    let rate = (c / (latency.mean * 1e-9)).min(m.capacity);
    let messages = (rate * SECONDS as f64) as u64;
    let lag_p99 = if m.loops > 0 {
        Some((stall.max(40_000.0)) as u64)
    } else {
        None
    };

    TargetResult {
        target: m.name.into(),
        partial: false,
        clients,
        connected: clients,
        connect_ns: (c * 2_000.0) as u64 + 150_000,
        window_ns: SECONDS * 1_000_000_000,
        wall_window: None,
        messages,
        msgs_per_sec: Some(messages as f64 / SECONDS as f64),
        mb_per_sec: Some(messages as f64 * msg_size as f64 / SECONDS as f64 / 1e6),
        latency_ns: latency,
        latency_uncorrected_ns: None,
        bystander_latency_ns: (work != Work::None).then(|| Latency::of(&bystanders)),
        working_latency_ns: (work != Work::None).then(|| Latency::of(&working)),
        errors: Errors {
            timeout: if m.threads && clients >= 1000 {
                3
            } else {
                starved as u64
            },
            ..Errors::default()
        },
        starved_clients: Some(starved),
        timeline: timeline(
            &mut rng,
            messages,
            latency.p99,
            work == Work::Block && m.loops == 1,
        ),
        server: Some(ServerCost {
            cpu_user_ns: (messages as f64 * m.cpu_ns * 0.4) as u64,
            cpu_sys_ns: (messages as f64 * m.cpu_ns * 0.6) as u64,
            // Per-message cost falls a little as batching grows with load.
            cpu_ns_per_msg: Some(m.cpu_ns * (1.0 - 0.05 * c.log10())),
            peak_rss_bytes: (2048.0 + c * m.kib_per_conn) as u64 * 1024,
            // Fixed costs spread over few connections look large.
            rss_per_conn_bytes: (m.kib_per_conn + 24.0 / c) * 1024.0,
            threads: if m.threads {
                clients as u64 + 1
            } else {
                m.loops + 1
            },
        }),
        client: ClientCost {
            cpu_ns_per_msg: Some(3_100.0),
            rss_per_conn_bytes: 4_096.0,
            saturated: clients >= m.saturates_client_at,
        },
        open_loop: None,
        server_summary: Some(Summary {
            target: m.name.into(),
            accepted: clients as u64,
            closed: clients as u64,
            refused: 0,
            bytes_echoed: messages * msg_size as u64,
            errors: 0,
            resets_by_peer: 0,
            loop_lag_ns: lag_p99.map(|p99| LagSummary {
                samples: SECONDS * 1000,
                mean: p99 / 8,
                p50: p99 / 10,
                p99,
                p999: p99 + p99 / 4,
                max: p99 * 2,
            }),
            runtime: None,
        }),
        histogram: encode_histogram(&all),
        capacity: None,
        churn: None,
        noise: None,
        repeats: None,
    }
}

/// Second by second: steady, or with a stall in the middle second; then, as loadgen writes it,
/// the sliver of a tick between the last whole second and the window's end.
fn timeline(rng: &mut Rng, messages: u64, p99: u64, stall: bool) -> Vec<Tick> {
    let mut ticks: Vec<Tick> = (1..=SECONDS)
        .map(|s| {
            let jitter = 1.0 + 0.05 * rng.normal();
            let stalled = stall && s == 3;
            Tick {
                t_s: s as f64,
                msgs: ((messages / SECONDS) as f64 * jitter * if stalled { 0.35 } else { 1.0 })
                    as u64,
                p99_ns: (p99 as f64 * jitter * if stalled { 4.5 } else { 1.0 }) as u64,
                asked_rate: None,
            }
        })
        .collect();
    ticks.push(Tick {
        t_s: SECONDS as f64 + 0.0004,
        msgs: 3,
        p99_ns: p99 / 5,
        asked_rate: None,
    });
    ticks
}
