//! The yardstick: the leanest closed-loop echo client we know how to write. One thread, one
//! epoll instance (mio), one `epoll_wait` for up to 1024 events per turn; on each event, read
//! until nothing more can be there (a short read, or the whole echo: one `read` per message
//! when the echo comes in one piece) and send the next message when a whole echo is in. No
//! verification, no histogram, no clock per message, no timeouts. It answers one question: does
//! loadgen draw as many round trips from a server, for as little CPU, as the leanest
//! event-driven client can? If loadgen falls short of this, loadgen is the bottleneck.
//!
//! ```sh
//! cargo run --release -p loadgen --example pingpong -- 127.0.0.1:7878 100 10 [64 [1 [PID]]]
//! #                                                    ADDR    CLIENTS SECONDS [MSG_SIZE [WARMUP [SERVER_PID]]]
//! ```
//! Prints `pingpong: N clients, K starved, M round trips in S s: R msgs/s, C ns CPU/msg`,
//! counted after a warm-up of WARMUP seconds (1 unless given), as loadgen counts after its own:
//! the first burst of every connection at once, and cold caches, are charged to neither client.
//! K is how many clients completed no round trip in that window: a server that leaves some
//! connections unserved (an accept queue drained too slowly, say) shows it here, whatever its
//! total. Given the server's process id, it adds the server's CPU per message over the same
//! window.

use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

/// Events taken per `epoll_wait`.
const EVENTS: usize = 1024;

/// How long one `epoll_wait` may sleep: only bounds how late the end of the run is noticed.
const TURN: Duration = Duration::from_millis(100);

struct Conn {
    stream: TcpStream,
    /// Bytes of the current message's echo read so far.
    got: usize,
    /// Bytes of the current message written so far (the message size when all is out).
    written: usize,
    /// Whether writability is watched (only while a message is half written).
    writable: bool,
    /// Round trips completed since the start, and by the start of the window. Counted per
    /// connection rather than in one total, which costs the same one add per message, so that
    /// a starved connection shows at the end without anything more per message.
    trips: u64,
    trips_before: u64,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pingpong: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let usage = "usage: pingpong ADDR CLIENTS SECONDS [MSG_SIZE [WARMUP [SERVER_PID]]]";
    let arg = |i: usize| args.get(i).ok_or_else(|| std::io::Error::other(usage));
    let addr: SocketAddr = arg(0)?.parse().map_err(|_| std::io::Error::other(usage))?;
    let clients: usize = arg(1)?.parse().map_err(|_| std::io::Error::other(usage))?;
    let seconds: f64 = arg(2)?.parse().map_err(|_| std::io::Error::other(usage))?;
    let size: usize = args
        .get(3)
        .map_or(Ok(64), |s| s.parse())
        .map_err(|_| std::io::Error::other(usage))?;
    let warmup: f64 = args
        .get(4)
        .map_or(Ok(1.0), |s| s.parse())
        .map_err(|_| std::io::Error::other(usage))?;
    let server_stat = args
        .get(5)
        .map(|pid| pid.parse::<u32>().map(|pid| format!("/proc/{pid}/stat")))
        .transpose()
        .map_err(|_| std::io::Error::other(usage))?;

    // The process's descriptor limit raised to fit the clients, as loadgen raises its own.
    loadgen::ensure_fds_for(clients, 1).map_err(std::io::Error::other)?;
    let mut poll = Poll::new()?;
    let mut conns = Vec::with_capacity(clients);
    for i in 0..clients {
        let std = std::net::TcpStream::connect(addr)?;
        std.set_nodelay(true)?;
        std.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        conns.push(Conn {
            stream,
            got: 0,
            written: size,
            writable: false,
            trips: 0,
            trips_before: 0,
        });
    }
    let message = vec![b'x'; size];
    let mut sink = vec![0; size];
    for (i, c) in conns.iter_mut().enumerate() {
        c.written = 0;
        send(c, &message, &poll, i)?;
    }

    let mut events = Events::with_capacity(EVENTS);
    let (warm, length) = (
        Instant::now() + Duration::from_secs_f64(warmup),
        Duration::from_secs_f64(seconds),
    );
    let mut start = None;
    let (mut cpu_start, mut server_start) = (Duration::ZERO, Duration::ZERO);
    loop {
        let now = Instant::now();
        match start {
            None if now >= warm => {
                for c in &mut conns {
                    c.trips_before = c.trips;
                }
                (start, cpu_start) = (Some(now), cpu_time("/proc/self/stat"));
                server_start = server_stat.as_deref().map_or(Duration::ZERO, cpu_time);
            }
            Some(start) if now - start >= length => break,
            _ => {}
        }
        match poll.poll(&mut events, Some(TURN)) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => result?,
        }
        for event in &events {
            let i = event.token().0;
            let c = &mut conns[i];
            if c.written < size {
                send(c, &message, &poll, i)?;
            }
            // Reads stop once nothing more can be there: after a short read (the socket is
            // empty) or a whole echo (the one message in flight is the one just sent). Later
            // data is a new edge. A closed or failed peer is read until its end shows.
            let closing = event.is_read_closed() || event.is_error();
            loop {
                let asked = size - c.got;
                match c.stream.read(&mut sink[..asked]) {
                    Ok(0) => return Err(std::io::Error::other("server closed a connection")),
                    Ok(n) => {
                        c.got += n;
                        let whole = c.got == size;
                        if whole {
                            c.got = 0;
                            c.trips += 1;
                            c.written = 0;
                            send(c, &message, &poll, i)?;
                        }
                        if !closing && (whole || n < asked) {
                            break;
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    let elapsed = start.map_or(0.0, |s| s.elapsed().as_secs_f64());
    let trips: u64 = conns.iter().map(|c| c.trips - c.trips_before).sum();
    let starved = conns.iter().filter(|c| c.trips == c.trips_before).count();
    let cpu = cpu_time("/proc/self/stat") - cpu_start;
    let per_msg = |cpu: Duration| cpu.as_nanos() as f64 / trips.max(1) as f64;
    let server = server_stat.as_deref().map_or(String::new(), |stat| {
        let ns = per_msg(cpu_time(stat).saturating_sub(server_start));
        format!(", {ns:.0} ns server CPU/msg")
    });
    println!(
        "pingpong: {clients} clients, {starved} starved, {trips} round trips in {elapsed:.2} s: {:.0} msgs/s, {:.0} ns CPU/msg{server}",
        trips as f64 / elapsed,
        per_msg(cpu)
    );
    Ok(())
}

/// Writes what is left of the message. A message the socket cannot take at once (large ones)
/// waits for a writable event; only then is writability watched, so small messages never pay
/// for it.
fn send(c: &mut Conn, message: &[u8], poll: &Poll, i: usize) -> std::io::Result<()> {
    while c.written < message.len() {
        match c.stream.write(&message[c.written..]) {
            Ok(n) => c.written += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                if !c.writable {
                    c.writable = true;
                    let both = Interest::READABLE | Interest::WRITABLE;
                    poll.registry().reregister(&mut c.stream, Token(i), both)?;
                }
                return Ok(());
            }
            Err(e) => return Err(e),
        }
    }
    if c.writable {
        c.writable = false;
        poll.registry()
            .reregister(&mut c.stream, Token(i), Interest::READABLE)?;
    }
    Ok(())
}

/// A process's CPU time (user + system), from its `stat` file in /proc.
fn cpu_time(stat: &str) -> Duration {
    let stat = std::fs::read_to_string(stat).unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    // Linux reports in USER_HZ, 100 on every mainstream configuration.
    Duration::from_millis(ticks * 10)
}
