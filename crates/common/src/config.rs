//! The flags every server takes, with the same names and defaults everywhere.

use std::net::SocketAddr;

use serde::Serialize;

use echo_proto::{ParseWorkError, WorkSpec};

/// Where a server listens unless told otherwise. Loopback only: this is a benchmark, not a service.
pub const DEFAULT_ADDR: &str = "127.0.0.1:7878";

/// Bytes read from a socket at a time. 16 KiB holds the largest message of the standard sweep in
/// one read, and is what a typical runtime example would pick for bulk copies.
pub const DEFAULT_BUFFER: usize = 16 * 1024;

/// Connections a server holds at once before it turns new ones away: room for the 10,000-client
/// runs within this machine's 20,000 file descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;

/// Pending connections the kernel queues for `accept`. The usual default of 128 made 10,000
/// simultaneous connects take over 6 s on SYN retries; 4096 is this machine's `somaxconn`.
pub const DEFAULT_BACKLOG: u32 = 4096;

/// The message size that `--work-every` counts in when the client does not say otherwise.
pub const DEFAULT_MSG_SIZE: usize = 64;

/// How a server is set up. Every field is validated while parsing, so a server never re-checks it.
#[derive(clap::Args, Debug, Clone, Serialize)]
pub struct Config {
    /// Address to listen on. Port 0 picks a free port; the first line printed names it.
    #[arg(long, default_value = DEFAULT_ADDR)]
    pub addr: SocketAddr,

    /// Worker threads, for the servers that have a pool (single-threaded servers use one).
    #[arg(long, default_value_t = default_threads(), value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: u16,

    /// Bytes read from a connection at a time.
    #[arg(long, default_value_t = DEFAULT_BUFFER, value_parser = parse_buffer)]
    pub buffer: usize,

    /// Connections held at once; beyond it a new connection is closed at once, with a log line.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNECTIONS, value_parser = parse_positive)]
    pub max_connections: usize,

    /// Length of the kernel's queue of connections not yet accepted.
    #[arg(long, default_value_t = DEFAULT_BACKLOG, value_parser = clap::value_parser!(u32).range(1..))]
    pub backlog: u32,

    /// Leave Nagle's algorithm on (by default TCP_NODELAY is set on every connection, since an echo
    /// that waits to coalesce small writes measures the wait, not the server).
    #[arg(long)]
    pub nagle: bool,

    /// Work done on a message before it is echoed: none, sleep:DUR, block:DUR, offload:DUR,
    /// cpu:DUR, file-block:BYTES, file-offload:BYTES, sqlite-block, sqlite-offload.
    #[arg(long, default_value = "none", value_parser = parse_work)]
    pub work: WorkSpec,

    /// Do the work on every Nth message of a connection only; the rest are bystanders.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..))]
    pub work_every: u64,

    /// Message size in bytes, which is how the server tells messages apart when it has work to do.
    #[arg(long, default_value_t = DEFAULT_MSG_SIZE, value_parser = parse_positive)]
    pub msg_size: usize,
}

impl Config {
    /// The defaults, listening on `addr` (tests and benchmarks start here).
    pub fn on(addr: SocketAddr) -> Self {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Defaults {
            #[command(flatten)]
            config: Config,
        }
        let mut config = Defaults::parse_from(["echo"]).config;
        config.addr = addr;
        config
    }
}

fn default_threads() -> u16 {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(u16::MAX as usize) as u16)
}

fn parse_positive(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A buffer over 64 MiB is a typo, not a benchmark setting.
fn parse_buffer(s: &str) -> Result<usize, String> {
    let n = parse_positive(s)?;
    if n > 64 << 20 {
        return Err(format!("{n} bytes is more than the 64 MiB allowed"));
    }
    Ok(n)
}

fn parse_work(s: &str) -> Result<WorkSpec, String> {
    s.parse().map_err(|e: ParseWorkError| e.to_string())
}
