//! The client side of every benchmark: the same code whatever the server, allocating nothing per
//! message (every buffer is made once, when a client is built), and checking every echo byte for
//! byte with the project's message [`Pattern`], so a fast wrong server cannot win.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use echo_common::pattern::Pattern;
use mio::net::TcpStream as MioStream;
use mio::{Events, Interest, Poll, Token};

/// How long a client waits without any progress before it calls the server hung: a benchmark
/// fails loudly instead of hanging `cargo bench`. Far above any round trip measured here.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection doing strict ping-pong with blocking calls on the calling thread: send a
/// message, wait for all of its echo. What the latency benchmarks time.
pub struct PingPong {
    stream: TcpStream,
    pattern: Pattern,
    message: Vec<u8>,
    reply: Vec<u8>,
    seq: u64,
}

impl PingPong {
    /// Connects to `addr`, for messages of `size` bytes.
    pub fn connect(addr: SocketAddr, size: usize) -> io::Result<Self> {
        let stream = TcpStream::connect(addr)?;
        stream.set_nodelay(true)?;
        stream.set_read_timeout(Some(STALL_TIMEOUT))?;
        stream.set_write_timeout(Some(STALL_TIMEOUT))?;
        let pattern = Pattern::new(size, 0);
        let mut message = vec![0; size];
        pattern.fill(0, &mut message);
        Ok(PingPong {
            stream,
            pattern,
            message,
            reply: vec![0; size],
            seq: 0,
        })
    }

    /// One round trip: the next message out, its whole echo back and checked.
    pub fn round_trip(&mut self) -> io::Result<()> {
        self.seq += 1;
        self.pattern.stamp(self.seq, &mut self.message);
        self.stream.write_all(&self.message)?;
        self.stream.read_exact(&mut self.reply)?;
        self.pattern
            .check(self.seq, &self.reply)
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))
    }
}

/// Many connections at once, driven by one thread with epoll (through mio): each connection
/// connects, does a fixed number of ping-pong round trips, and closes. One thread uses at most one
/// core, leaving the rest of a 2-core machine to the server, and was busy only about half the time
/// here (it waits on the server otherwise); a thread per connection would spend the client's time
/// switching threads instead.
pub struct Swarm {
    addr: SocketAddr,
    round_trips: u64,
    poll: Poll,
    events: Events,
    peers: Vec<Peer>,
}

/// One of a swarm's connections. Its buffers outlive its socket: a new run reconnects and reuses
/// them.
struct Peer {
    stream: Option<MioStream>,
    pattern: Pattern,
    message: Vec<u8>,
    reply: Vec<u8>,
    /// Bytes of the current message written, and of its echo read.
    sent: usize,
    received: usize,
    /// Round trips completed on the current connection.
    done: u64,
}

impl Swarm {
    /// A swarm of `connections` connections to `addr`, each doing `round_trips` round trips of
    /// `size`-byte messages per [`run`](Self::run).
    pub fn new(
        addr: SocketAddr,
        connections: usize,
        round_trips: u64,
        size: usize,
    ) -> io::Result<Self> {
        let peers = (0..connections as u64)
            .map(|i| {
                let pattern = Pattern::new(size, i);
                let mut message = vec![0; size];
                pattern.fill(0, &mut message);
                Peer {
                    stream: None,
                    pattern,
                    message,
                    reply: vec![0; size],
                    sent: 0,
                    received: 0,
                    done: 0,
                }
            })
            .collect();
        Ok(Swarm {
            addr,
            round_trips,
            poll: Poll::new()?,
            // One event per connection is the most a single wait can report.
            events: Events::with_capacity(connections),
            peers,
        })
    }

    /// Messages echoed per run.
    pub fn messages(&self) -> u64 {
        self.peers.len() as u64 * self.round_trips
    }

    /// Connects every connection, runs all their round trips to the end, and closes them.
    pub fn run(&mut self) -> io::Result<()> {
        for (i, peer) in self.peers.iter_mut().enumerate() {
            // Connects complete in the kernel's accept queue even before the server accepts, so
            // this does not wait for a server that serves one connection at a time.
            let stream = TcpStream::connect(self.addr)?;
            stream.set_nodelay(true)?;
            stream.set_nonblocking(true)?;
            let mut stream = MioStream::from_std(stream);
            self.poll.registry().register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            peer.stream = Some(stream);
            peer.sent = 0;
            peer.received = 0;
            peer.done = 0;
            peer.pattern.stamp(0, &mut peer.message);
        }
        let result = self.drive();
        // Any connection still open after an error is closed here, so a failed run leaves none.
        for peer in &mut self.peers {
            if let Some(mut stream) = peer.stream.take() {
                let _ = self.poll.registry().deregister(&mut stream);
            }
        }
        result
    }

    fn drive(&mut self) -> io::Result<()> {
        let mut open = self.peers.len();
        let mut progress = Instant::now();
        // Bounded: every pass either finishes work or counts towards the stall timeout.
        while open > 0 {
            if progress.elapsed() > STALL_TIMEOUT {
                return Err(io::Error::new(
                    ErrorKind::TimedOut,
                    format!("{open} connections made no progress for {STALL_TIMEOUT:?}"),
                ));
            }
            // A signal meant for another thread of this process (an in-process server's runtime)
            // can interrupt the wait: wait again.
            match self.poll.poll(&mut self.events, Some(STALL_TIMEOUT)) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                result => result?,
            }
            for event in &self.events {
                let Some(peer) = self.peers.get_mut(event.token().0) else {
                    continue;
                };
                if peer.stream.is_none() {
                    continue;
                }
                progress = Instant::now();
                if peer.advance(self.round_trips)? {
                    // Closed at once: a one-connection-at-a-time server only then accepts the
                    // next connection.
                    if let Some(mut stream) = peer.stream.take() {
                        self.poll.registry().deregister(&mut stream)?;
                    }
                    open -= 1;
                }
            }
        }
        Ok(())
    }
}

impl Peer {
    /// Moves this connection's ping-pong on as far as its socket allows without blocking; true
    /// once it has done all `round_trips`.
    fn advance(&mut self, round_trips: u64) -> io::Result<bool> {
        let Some(stream) = self.stream.as_mut() else {
            return Ok(true);
        };
        if self.done == round_trips {
            return Ok(true);
        }
        let size = self.message.len();
        if self.sent < size {
            // The first message, or the rest of one whose write would have blocked.
            send(stream, &self.message, &mut self.sent)?;
            return Ok(false);
        }
        if !receive(stream, &mut self.reply, &mut self.received)? {
            return Ok(false);
        }
        self.pattern
            .check(self.done, &self.reply)
            .map_err(|e| io::Error::new(ErrorKind::InvalidData, e))?;
        self.done += 1;
        if self.done == round_trips {
            return Ok(true);
        }
        self.pattern.stamp(self.done, &mut self.message);
        self.sent = 0;
        self.received = 0;
        send(stream, &self.message, &mut self.sent)?;
        // No `read` now: the echo cannot be back before the server has been woken, so that read
        // would fail for certain. The readable event will come even though mio is
        // edge-triggered: the last echo was read in full, so the next one arriving is a change.
        Ok(false)
    }
}

/// Writes `message` from `*sent` on, until it is all out or the socket would block.
fn send(stream: &mut MioStream, message: &[u8], sent: &mut usize) -> io::Result<()> {
    // Bounded: each pass writes at least one byte, or returns.
    while *sent < message.len() {
        match stream.write(&message[*sent..]) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => *sent += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(()),
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Reads into `reply` from `*received` on, until it is full (true) or the socket would block.
fn receive(stream: &mut MioStream, reply: &mut [u8], received: &mut usize) -> io::Result<bool> {
    // Bounded: each pass reads at least one byte, or returns.
    while *received < reply.len() {
        match stream.read(&mut reply[*received..]) {
            Ok(0) => {
                return Err(io::Error::new(
                    ErrorKind::UnexpectedEof,
                    "the server closed the connection before echoing everything",
                ));
            }
            Ok(n) => *received += n,
            Err(e) if e.kind() == ErrorKind::WouldBlock => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
