//! `cargo bench`: every server in [`echo_targets::ALL`], started in-process with
//! [`echo_common::start`] and stopped again after each benchmark, under one client workload (see
//! `client.rs`). See `benches/README.md` for what each group measures and how to run it.
//!
//! The default pass takes a few minutes on a 2-core machine; `ECHO_BENCH_LONG=1` runs a longer,
//! more precise one. Criterion's own `--warm-up-time`, `--measurement-time`, `--nresamples` and
//! `--sample-size` flags override either (`--sample-size` for the latency groups only).

mod client;

use std::net::SocketAddr;
use std::time::Duration;

use client::{PingPong, Swarm};
use criterion::{BenchmarkGroup, Criterion, SamplingMode, Throughput, measurement::WallTime};
use echo_common::units::format_bytes;
use echo_common::{Config, Target, WorkSpec};

/// The two message sizes of the latency benchmarks: a small request, and a page-sized one that
/// shows what copying more bytes adds to a round trip.
const SMALL: usize = 64;
const LARGE: usize = 4 * 1024;

/// The many-connection workload: this many connections at once, each doing this many round trips
/// of [`SMALL`] messages before it closes. 100 connections keep every server's threads busy
/// while one client thread can still drive them; 100 round trips make a connection's set-up and
/// close a small part of its cost.
const CONNECTIONS: usize = 100;
const ROUND_TRIPS: u64 = 100;

/// The pitfall in small: a 1 ms wait on every 10th message, done right (`sleep`) and wrong
/// (`block`), on tokio. Every 10th, so that most messages are bystanders that only suffer.
const PITFALL_WORK: [&str; 2] = ["sleep:1ms", "block:1ms"];
const PITFALL_EVERY: u64 = 10;
const PITFALL_TARGET: &str = "tokio";

/// Set (to anything but `0`) for the longer, more precise pass.
const LONG_ENV: &str = "ECHO_BENCH_LONG";

/// How long and how often to measure.
struct Pass {
    warm_up: Duration,
    measurement: Duration,
    /// Samples of the latency groups, whose iterations take microseconds.
    latency_samples: usize,
    /// Samples of the many-connection groups, whose iterations take a tenth of a second or more.
    swarm_samples: usize,
    /// Bootstrap resamples per estimate. Criterion's plots draw a density of every bootstrap
    /// distribution, which at its default of 100,000 costs about 6 s of CPU per benchmark here,
    /// more than the measuring; a tenth of that still gives stable confidence intervals.
    resamples: usize,
}

/// The default: every benchmark in about 5 s, the whole run in a few minutes on 2 cores.
const QUICK: Pass = Pass {
    warm_up: Duration::from_secs(1),
    measurement: Duration::from_secs(3),
    latency_samples: 50,
    swarm_samples: 10,
    resamples: 10_000,
};

/// `ECHO_BENCH_LONG=1`: criterion's default warm-up, samples and resamples for the latency groups
/// with twice its default measuring time, and three times the samples for the slow groups.
const LONG: Pass = Pass {
    warm_up: Duration::from_secs(3),
    measurement: Duration::from_secs(10),
    latency_samples: 100,
    swarm_samples: 30,
    resamples: 100_000,
};

fn main() {
    // Before criterion draws its first plot: plotters' `ab_glyph` feature (switched on across the
    // workspace by echo-charts) has no fonts until one is registered, and panics without one.
    echo_charts::register_font();
    let pass = match std::env::var(LONG_ENV).as_deref() {
        Ok("" | "0") | Err(_) => &QUICK,
        Ok(_) => &LONG,
    };
    let mut criterion = Criterion::default()
        .warm_up_time(pass.warm_up)
        .measurement_time(pass.measurement)
        .sample_size(pass.latency_samples)
        .nresamples(pass.resamples)
        .configure_from_args();

    for size in [SMALL, LARGE] {
        round_trip(&mut criterion, size);
    }
    many_connections(&mut criterion, pass);
    pitfall(&mut criterion, pass);

    // Writes the summary report, target/criterion/report/index.html.
    criterion.final_summary();
}

/// Latency: one connection, one message in flight; the time per iteration is one round trip.
fn round_trip(criterion: &mut Criterion, size: usize) {
    let mut group = criterion.benchmark_group(format!("round_trip_{}", format_bytes(size as u64)));
    for &target in echo_targets::ALL {
        with_server(target, config(size), |addr| {
            let mut client = PingPong::connect(addr, size).expect("connect");
            group.bench_function(target.name, |b| {
                b.iter(|| client.round_trip().expect("round trip"))
            });
        });
    }
    group.finish();
}

/// Throughput: [`CONNECTIONS`] connections at once, each doing [`ROUND_TRIPS`] round trips and
/// closing; reported in messages per second. The `blocking` server runs it too: it serves the
/// connections one after another (each waits in the accept queue until the one before closes),
/// which is exactly what it is here to show.
fn many_connections(criterion: &mut Criterion, pass: &Pass) {
    let mut group = criterion.benchmark_group(format!(
        "{CONNECTIONS}_connections_x{ROUND_TRIPS}_{}",
        format_bytes(SMALL as u64)
    ));
    slow_group(&mut group, pass);
    for &target in echo_targets::ALL {
        with_server(target, config(SMALL), |addr| {
            swarm_bench(&mut group, target.name, addr)
        });
    }
    group.finish();
}

/// The pitfall: the many-connection workload on tokio, with a 1 ms wait on every 10th message,
/// awaited on the runtime's timer versus slept on the worker thread.
fn pitfall(criterion: &mut Criterion, pass: &Pass) {
    let target = echo_targets::find(PITFALL_TARGET).expect("the pitfall target is registered");
    let mut group = criterion.benchmark_group(format!(
        "{PITFALL_TARGET}_work_every_{PITFALL_EVERY}th_{CONNECTIONS}_connections"
    ));
    slow_group(&mut group, pass);
    for spelling in PITFALL_WORK {
        let work: WorkSpec = spelling.parse().expect("a valid work spelling");
        let kind = spelling.split(':').next().unwrap_or(spelling);
        let config = Config {
            work,
            work_every: PITFALL_EVERY,
            ..config(SMALL)
        };
        with_server(target, config, |addr| swarm_bench(&mut group, kind, addr));
    }
    group.finish();
}

/// One many-connection benchmark against the server at `addr`.
fn swarm_bench(group: &mut BenchmarkGroup<'_, WallTime>, id: &str, addr: SocketAddr) {
    let mut swarm = Swarm::new(addr, CONNECTIONS, ROUND_TRIPS, SMALL).expect("client set-up");
    group.throughput(Throughput::Elements(swarm.messages()));
    group.bench_function(id, |b| b.iter(|| swarm.run().expect("swarm run")));
}

/// Settings for groups whose iterations take a tenth of a second or more: few samples, each of
/// the same number of iterations (criterion's default grows them linearly, which would take
/// minutes here).
fn slow_group(group: &mut BenchmarkGroup<'_, WallTime>, pass: &Pass) {
    group
        .sample_size(pass.swarm_samples)
        .sampling_mode(SamplingMode::Flat);
}

/// The servers' defaults on a free loopback port, for messages of `msg_size` bytes.
fn config(msg_size: usize) -> Config {
    let any_port = SocketAddr::from(([127, 0, 0, 1], 0));
    Config {
        msg_size,
        ..Config::on(any_port)
    }
}

/// Starts `target`, runs `bench` against it, and stops it again, checking that it shut down
/// cleanly: every connection closed and none failed.
fn with_server(target: &'static Target, config: Config, bench: impl FnOnce(SocketAddr)) {
    let running = echo_common::start(target, config)
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", target.name));
    bench(running.addr());
    let summary = running
        .stop()
        .unwrap_or_else(|e| panic!("{} failed: {e}", target.name));
    assert!(
        summary.errors == 0 && summary.closed == summary.accepted,
        "{} did not stop cleanly: {summary:?}",
        target.name
    );
}
