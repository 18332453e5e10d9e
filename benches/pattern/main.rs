//! `cargo bench --bench pattern`: what loadgen's message pattern (`echo_common::pattern`) costs
//! per message, in-process and without sockets: making a message (`fill_part`) and checking an
//! echo (`check_part`), each at 64 B and 16 KiB, whole messages from their start as nearly every
//! write and read in loadgen is. Against it, a plain copy (`copy_from_slice`) and a plain
//! comparison (`==`) of as many bytes: what the C library's vector code takes for the same work.
//! See `benches/README.md`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use echo_common::pattern::Pattern;
use echo_common::units::format_bytes;

/// A small message and the large one whose client cost loadgen is held to.
const SIZES: [usize; 2] = [64, 16 << 10];

/// How long each benchmark warms up and measures.
const WARM_UP: Duration = Duration::from_secs(1);
const MEASUREMENT: Duration = Duration::from_secs(2);

/// A connection other than 0, so the salt is not the trivial one.
const CONN: u64 = 7;

fn main() {
    // As in benches/servers: plotters has no font until one is registered.
    echo_charts::register_font();
    // Nanoseconds a sample: a short pass already settles them (criterion's flags override).
    let mut criterion = Criterion::default()
        .warm_up_time(WARM_UP)
        .measurement_time(MEASUREMENT)
        .configure_from_args();
    for size in SIZES {
        let mut group = criterion.benchmark_group(format!("pattern_{}", format_bytes(size as u64)));
        group.throughput(Throughput::Bytes(size as u64));
        let pattern = Pattern::new(size, 0);
        let mut message = vec![0; size];
        pattern.fill_part(CONN, 1, 0, &mut message);
        let mut out = vec![0; size];
        group.bench_function("fill_part", |b| {
            b.iter(|| pattern.fill_part(CONN, black_box(1), 0, black_box(&mut out)));
        });
        group.bench_function("check_part", |b| {
            b.iter(|| pattern.check_part(CONN, black_box(1), 0, black_box(&message)));
        });
        group.bench_function("copy_from_slice", |b| {
            b.iter(|| black_box(&mut out[..]).copy_from_slice(black_box(&message)));
        });
        let copy = message.clone();
        group.bench_function("eq", |b| {
            b.iter(|| black_box(&copy[..]) == black_box(&message[..]));
        });
        group.finish();
    }
    criterion.final_summary();
}
