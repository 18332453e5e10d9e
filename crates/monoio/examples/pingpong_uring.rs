//! The client side of the io_uring question (#10): the leanest echo client monoio allows, to set
//! beside `loadgen`'s epoll yardstick (`crates/loadgen/examples/pingpong.rs`). One io_uring
//! runtime on one thread, a task per connection, each writing a message and reading its echo
//! with owned buffers: a send and a receive submitted per round trip, the submissions of every
//! connection batched into one `io_uring_enter` per loop turn, and no extra receive to learn
//! that the socket is empty. If this client needs less CPU per message than the epoll one, an
//! io_uring engine for loadgen is worth building (through the `io-uring` crate, which needs
//! `unsafe`); if not, it is not. No verification, no histogram: it measures the floor.
//!
//! ```sh
//! cargo run --release -p echo-monoio --example pingpong-uring -- 127.0.0.1:7878 1000 5 [64]
//! ```

use std::cell::Cell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use monoio::io::{AsyncReadRentExt, AsyncWriteRentExt};
use monoio::net::TcpStream;
use monoio::{IoUringDriver, RuntimeBuilder};

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: pingpong-uring ADDR CLIENTS SECONDS [MSG_SIZE]";
    let arg = |i: usize| args.get(i).ok_or_else(|| std::io::Error::other(usage));
    let bad = |_| std::io::Error::other(usage);
    let addr: SocketAddr = arg(0)?.parse().map_err(|_| std::io::Error::other(usage))?;
    let clients: usize = arg(1)?.parse().map_err(bad)?;
    let seconds: f64 = arg(2)?.parse().map_err(|_| std::io::Error::other(usage))?;
    let size: usize = args.get(3).map_or(Ok(64), |s| s.parse()).map_err(bad)?;

    // Room in the ring for every connection's send and receive at once.
    let entries = u32::try_from(2 * clients)
        .unwrap_or(u32::MAX)
        .next_power_of_two();
    let mut runtime = RuntimeBuilder::<IoUringDriver>::new()
        .with_entries(entries.min(32_768))
        .enable_timer()
        .build()?;
    runtime.block_on(async move {
        let trips = Rc::new(Cell::new(0u64));
        let stop = Rc::new(Cell::new(false));
        let mut tasks = Vec::with_capacity(clients);
        for _ in 0..clients {
            let std = std::net::TcpStream::connect(addr)?;
            std.set_nodelay(true)?;
            let mut stream = TcpStream::from_std(std)?;
            let (trips, stop) = (Rc::clone(&trips), Rc::clone(&stop));
            tasks.push(monoio::spawn(async move {
                let (mut message, mut echo) = (vec![b'x'; size], vec![0u8; size]);
                while !stop.get() {
                    let (sent, m) = stream.write_all(message).await;
                    let (got, e) = stream.read_exact(echo).await;
                    (message, echo) = (m, e);
                    if sent.is_err() || got.is_err() {
                        return;
                    }
                    trips.set(trips.get() + 1);
                }
            }));
        }
        let (start, cpu_start, before) = (Instant::now(), cpu_time(), trips.get());
        monoio::time::sleep(Duration::from_secs_f64(seconds)).await;
        let (elapsed, cpu, done) = (start.elapsed().as_secs_f64(), cpu_time() - cpu_start, trips.get() - before);
        stop.set(true);
        for task in tasks {
            task.await;
        }
        println!(
            "pingpong-uring: {clients} clients, {done} round trips in {elapsed:.2} s: {:.0} msgs/s, {:.0} ns CPU/msg",
            done as f64 / elapsed,
            cpu.as_nanos() as f64 / done.max(1) as f64
        );
        Ok(())
    })
}

/// This process's CPU time (user and system), from /proc: the same measure as the yardstick's.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}
