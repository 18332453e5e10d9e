//! The conformance suite's helpers, written once for every target: clients that check every byte
//! they get back and cannot hang, a server run in this process or as a child process, and what
//! `/proc` says about a child's sockets, memory and threads, and about loopback connections.
//!
//! No helper measures speed. Every wait is bounded by [`HANG_GUARD`], which is only there so a
//! broken server fails a test instead of hanging it.

use std::collections::VecDeque;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use echo_common::pattern::Pattern;
use echo_common::{Config, Running, Summary, Target};
use nix::sys::signal::Signal;

/// The longest any single step may take before the test gives up on the server: a guard against
/// hangs, never a performance bound.
pub const HANG_GUARD: Duration = Duration::from_secs(10);

/// How long a client waits to see that a one-at-a-time server does *not* serve it while another
/// client holds the server. Nothing can arrive on a correct server, so this only costs time.
pub const NOT_SERVED_WAIT: Duration = Duration::from_millis(300);

/// The target called `name`, from the registry the suite covers.
pub fn target(name: &str) -> &'static Target {
    echo_targets::find(name).unwrap_or_else(|| panic!("no target called '{name}'"))
}

/// The target called `name` if this machine can run it. If it cannot, follows the project's skip
/// rule ([`echo_testkit::skip`]): says so once on the terminal, past the harness's capture, and
/// returns `None`; with `ECHO_BENCH_REQUIRE_ALL=1` (as in CI), fails the test instead.
pub fn runnable(name: &str) -> Option<&'static Target> {
    let target = target(name);
    let Some(why) = echo_targets::unavailable(target) else {
        return Some(target);
    };
    if echo_testkit::require_all() {
        echo_testkit::skip(&echo_testkit::current_test(), &why);
    }
    // By hand, one line per target rather than one per behaviour.
    static SAID: Mutex<Vec<&str>> = Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&target.name) {
        said.push(target.name);
        echo_testkit::skip(&format!("conformance of {name}"), &why);
    }
    None
}

/// Polls `check` until it returns `Some`, or panics with `what` (and the last state seen) once
/// [`HANG_GUARD`] has passed.
pub fn eventually<T, S: std::fmt::Debug>(what: &str, mut check: impl FnMut() -> Result<T, S>) -> T {
    let deadline = Instant::now() + HANG_GUARD;
    loop {
        match check() {
            Ok(done) => return done,
            Err(state) if Instant::now() >= deadline => {
                panic!("{what}: still not so after {HANG_GUARD:?}; last seen: {state:?}")
            }
            Err(_) => thread::sleep(Duration::from_millis(10)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Clients

/// A connection to the server under test. Every message it sends is a [`Pattern`] message unique
/// to this client, so an echo that is lost, reordered, corrupted or meant for another client
/// fails the check. Every blocking call on it times out after [`HANG_GUARD`].
pub struct Client {
    stream: TcpStream,
    id: u64,
    next_seq: u64,
    /// Messages sent whose echo has not been read yet: (size, sequence number).
    in_flight: VecDeque<(usize, u64)>,
}

/// A fresh connection number for each client, so no two clients send the same bytes.
fn next_client_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Client {
    /// Connects to `addr` (always loopback).
    pub fn connect(addr: SocketAddr) -> Client {
        Self::connect_with(addr, |_| {})
    }

    /// Connects with kernel socket buffers locked at `bytes` each way, so that what a stalled
    /// client holds in its own buffers is small and known.
    pub fn connect_with_buffers(addr: SocketAddr, bytes: usize) -> Client {
        Self::connect_with(addr, |socket| {
            socket.set_send_buffer_size(bytes).expect("SO_SNDBUF");
            socket.set_recv_buffer_size(bytes).expect("SO_RCVBUF");
        })
    }

    fn connect_with(addr: SocketAddr, setup: impl FnOnce(&socket2::Socket)) -> Client {
        assert!(
            addr.ip().is_loopback(),
            "the suite only talks to 127.0.0.1, not {addr}"
        );
        let socket = socket2::Socket::new(
            socket2::Domain::for_address(addr),
            socket2::Type::STREAM,
            Some(socket2::Protocol::TCP),
        )
        .expect("socket");
        setup(&socket);
        socket
            .connect_timeout(&addr.into(), HANG_GUARD)
            .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
        let stream: TcpStream = socket.into();
        stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
        stream.set_write_timeout(Some(HANG_GUARD)).unwrap();
        // Every byte the client writes goes out at once: a dribbler must really dribble.
        stream.set_nodelay(true).unwrap();
        Client {
            stream,
            id: next_client_id(),
            next_seq: 0,
            in_flight: VecDeque::new(),
        }
    }

    /// The number that makes this client's messages its own (see [`Pattern::new`]).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Its end of the connection.
    pub fn local_addr(&self) -> SocketAddr {
        self.stream.local_addr().expect("local address")
    }

    /// A second handle on the same connection, for a thread that reads while another writes.
    pub fn try_clone_for_reading(&self) -> Client {
        Client {
            stream: self.stream.try_clone().expect("clone the stream"),
            id: self.id,
            next_seq: 0,
            in_flight: VecDeque::new(),
        }
    }

    /// The next message of `size` bytes this client will send, and its sequence number. Taking
    /// it counts it as in flight.
    pub fn next_message(&mut self, size: usize) -> (u64, Vec<u8>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.in_flight.push_back((size, seq));
        let mut message = vec![0; size];
        Pattern::new(size, self.id).fill(seq, &mut message);
        (seq, message)
    }

    /// Writes one message of `size` bytes without reading its echo. Only for messages small
    /// enough to sit in the socket buffers; larger ones go through [`Client::echo`].
    pub fn send(&mut self, size: usize) {
        let (seq, message) = self.next_message(size);
        self.stream
            .write_all(&message)
            .unwrap_or_else(|e| panic!("client {}: sending message {seq}: {e}", self.id));
    }

    /// Writes `count` messages of `size` bytes in a single write, so that they reach the server
    /// together (on loopback, one write of a few KiB arrives as one segment).
    pub fn send_together(&mut self, size: usize, count: usize) {
        let mut all = Vec::with_capacity(size * count);
        for _ in 0..count {
            all.extend(self.next_message(size).1);
        }
        self.write_raw(&all);
    }

    /// Reads the echo of every message sent so far and checks it byte for byte.
    pub fn expect_echo(&mut self) {
        while let Some((size, seq)) = self.in_flight.pop_front() {
            let mut got = vec![0; size];
            self.stream.read_exact(&mut got).unwrap_or_else(|e| {
                panic!(
                    "client {}: reading the echo of message {seq} ({size} B): {e}",
                    self.id
                )
            });
            if let Err(mismatch) = Pattern::new(size, self.id).check(seq, &got) {
                panic!("client {}: {mismatch}", self.id);
            }
        }
    }

    /// Sends `count` messages of `size` bytes and checks their echo, reading while it writes
    /// (a client that only writes a large message fills both sides' buffers and stalls).
    pub fn echo(&mut self, size: usize, count: u64) {
        assert!(
            self.in_flight.is_empty(),
            "echo() with earlier messages unread"
        );
        let pattern = Pattern::new(size, self.id);
        let first = self.next_seq;
        self.next_seq += count;
        self.in_flight
            .extend((first..first + count).map(|seq| (size, seq)));
        let mut writer = self.stream.try_clone().expect("clone the stream");
        let id = self.id;
        thread::scope(|scope| {
            let pattern = &pattern;
            let sender = scope.spawn(move || {
                let mut message = vec![0; size];
                pattern.fill(first, &mut message);
                for seq in first..first + count {
                    pattern.stamp(seq, &mut message);
                    writer.write_all(&message).unwrap_or_else(|e| {
                        panic!("client {id}: sending message {seq} ({size} B): {e}")
                    });
                }
            });
            self.expect_echo();
            sender.join().expect("the sender thread panicked");
        });
    }

    /// Writes raw bytes (part of a message, say).
    pub fn write_raw(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("client {}: writing {} B: {e}", self.id, bytes.len()));
    }

    /// Reads exactly `n` raw bytes.
    pub fn read_raw(&mut self, n: usize) -> Vec<u8> {
        let mut got = vec![0; n];
        self.stream
            .read_exact(&mut got)
            .unwrap_or_else(|e| panic!("client {}: reading {n} B: {e}", self.id));
        got
    }

    /// Writes bytes of one endless message without ever reading, until a write makes no progress
    /// for `stall` or `limit` bytes are written; returns the bytes written.
    pub fn write_until_stalled(&mut self, limit: usize, stall: Duration) -> usize {
        let mut chunk = vec![0; 64 * 1024];
        Pattern::new(chunk.len(), self.id).fill(0, &mut chunk);
        self.stream.set_write_timeout(Some(stall)).unwrap();
        let mut written = 0;
        while written < limit {
            let n = chunk.len().min(limit - written);
            match self.stream.write(&chunk[..n]) {
                Ok(0) => panic!("client {}: the connection stopped taking bytes", self.id),
                Ok(n) => written += n,
                Err(e) if is_timeout(&e) => break,
                Err(e) => panic!("client {}: writing after {written} B: {e}", self.id),
            }
        }
        self.stream.set_write_timeout(Some(HANG_GUARD)).unwrap();
        written
    }

    /// Shuts down the write side: the server reads end-of-file.
    pub fn half_close(&mut self) {
        self.stream
            .shutdown(Shutdown::Write)
            .expect("shutdown(Write)");
    }

    /// Reads until end-of-file; returns what came.
    pub fn read_to_eof(&mut self) -> Vec<u8> {
        let mut got = Vec::new();
        self.stream.read_to_end(&mut got).unwrap_or_else(|e| {
            panic!(
                "client {}: reading to EOF after {} B: {e}",
                self.id,
                got.len()
            )
        });
        got
    }

    /// Reads whatever the server still sends until it closes the connection (end-of-file or a
    /// reset); panics if it leaves it open for [`HANG_GUARD`]. Returns how many bytes came.
    pub fn read_until_closed(&mut self) -> usize {
        let mut buf = [0; 4096];
        let mut total = 0;
        loop {
            match self.stream.read(&mut buf) {
                Ok(0) => return total,
                Ok(n) => total += n,
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return total,
                Err(e) if is_timeout(&e) => panic!(
                    "client {}: the server left the connection open for {HANG_GUARD:?}",
                    self.id
                ),
                Err(e) => panic!("client {}: expected the server to close, got {e}", self.id),
            }
        }
    }

    /// Panics unless the server has closed this connection (end-of-file, or a reset if the
    /// server closed it with bytes unread) rather than sending anything or leaving it open.
    pub fn assert_closed_by_server(&mut self) {
        let mut byte = [0];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
            Ok(_) => panic!(
                "client {}: expected the server to close, got a byte",
                self.id
            ),
            Err(e) if is_timeout(&e) => {
                panic!(
                    "client {}: the server left the connection open for {HANG_GUARD:?}",
                    self.id
                )
            }
            Err(e) => panic!("client {}: expected the server to close, got {e}", self.id),
        }
    }

    /// Panics if anything arrives within [`NOT_SERVED_WAIT`]: how a client shows it is not
    /// being served (by a one-at-a-time server busy with someone else).
    pub fn assert_not_served(&mut self) {
        self.stream.set_read_timeout(Some(NOT_SERVED_WAIT)).unwrap();
        let mut byte = [0];
        let result = self.stream.peek(&mut byte);
        self.stream.set_read_timeout(Some(HANG_GUARD)).unwrap();
        match result {
            Err(e) if is_timeout(&e) => {}
            Ok(n) => panic!(
                "client {}: expected to wait unserved, but {n} B arrived",
                self.id
            ),
            Err(e) => panic!("client {}: expected to wait unserved, got {e}", self.id),
        }
    }

    /// Whether any byte has arrived that this client has not read, without waiting.
    pub fn has_unread_bytes(&self) -> bool {
        self.stream.set_nonblocking(true).unwrap();
        let result = self.stream.peek(&mut [0]);
        self.stream.set_nonblocking(false).unwrap();
        match result {
            Ok(n) => n > 0,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("client {}: peek: {e}", self.id),
        }
    }

    /// Closes with `SO_LINGER` 0: the kernel sends a reset instead of an orderly close.
    pub fn reset(self) {
        socket2::SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .expect("SO_LINGER");
        drop(self.stream);
    }
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

// ---------------------------------------------------------------------------------------------
// A server in this process

/// A server started with [`echo_common::start`] on a port of its own. Stopped when dropped, in
/// the background so that a server that does not stop cannot hang a test that already failed.
/// A target that is a program of its own (a Python server) cannot run in this process: it runs
/// as a child [`Process`] instead, and its open connections are counted from `/proc`.
pub struct InProcess {
    server: Server,
    addr: SocketAddr,
}

enum Server {
    Thread(Option<Running>),
    Child(Process),
}

impl InProcess {
    /// Starts `target` with the default configuration.
    pub fn start(target: &'static Target) -> InProcess {
        if echo_targets::program(target).is_some() {
            let child = Process::start(target, &[]);
            return InProcess {
                addr: child.addr(),
                server: Server::Child(child),
            };
        }
        let config = Config::on("127.0.0.1:0".parse().unwrap());
        let running = echo_common::start(target, config)
            .unwrap_or_else(|e| panic!("{}: cannot start: {e}", target.name));
        let addr = running.addr();
        assert!(addr.ip().is_loopback());
        InProcess {
            server: Server::Thread(Some(running)),
            addr,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Connections open right now.
    pub fn active(&self) -> usize {
        match &self.server {
            Server::Thread(running) => running.as_ref().expect("running").context().active(),
            Server::Child(child) => child.connections(),
        }
    }

    /// Shuts it down and returns its summary.
    pub fn stop(mut self) -> Summary {
        match &mut self.server {
            Server::Thread(running) => stop_in_background(running.take().expect("running"))
                .recv_timeout(HANG_GUARD)
                .expect("the server did not stop")
                .expect("the server failed"),
            Server::Child(child) => {
                child.signal(Signal::SIGTERM);
                let (status, summary) = child.wait_for_exit();
                assert!(
                    status.success(),
                    "exit status {status}; stderr: {}",
                    child.stderr()
                );
                summary
            }
        }
    }
}

fn stop_in_background(running: Running) -> mpsc::Receiver<io::Result<Summary>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(running.stop());
    });
    rx
}

impl Drop for InProcess {
    fn drop(&mut self) {
        // A child is killed by its own `Drop`.
        if let Server::Thread(running) = &mut self.server
            && let Some(running) = running.take()
        {
            let _ = stop_in_background(running).recv_timeout(HANG_GUARD);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A server as a child process

/// The `echo-server` binary running one target, as a process of its own: for what only the
/// process can show (its exit, its file descriptors, its memory, its CPU time). Killed when
/// dropped, should a test fail before it stops it.
pub struct Process {
    child: Child,
    addr: SocketAddr,
    stdout: mpsc::Receiver<String>,
    stderr: Arc<Mutex<String>>,
}

impl Process {
    /// Runs `echo-server TARGET --addr 127.0.0.1:0 ARGS...` and waits until it listens.
    pub fn start(target: &Target, args: &[&str]) -> Process {
        let mut child = spawn_server(target, args);
        let (tx, stdout) = mpsc::channel();
        let out = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().unwrap();
        thread::spawn({
            let stderr = Arc::clone(&stderr);
            move || {
                for line in BufReader::new(err).lines() {
                    let Ok(line) = line else { break };
                    let mut all = stderr.lock().unwrap();
                    all.push_str(&line);
                    all.push('\n');
                }
            }
        });
        let mut process = Process {
            child,
            addr: "127.0.0.1:0".parse().unwrap(),
            stdout,
            stderr,
        };
        let first = process.stdout.recv_timeout(HANG_GUARD).unwrap_or_else(|e| {
            panic!(
                "{} printed no first line ({e}); stderr: {}",
                target.name,
                process.stderr()
            )
        });
        process.addr = first
            .strip_prefix("listening on ")
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line: {first:?}"));
        assert!(process.addr.ip().is_loopback());
        process
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything it has written to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Sends it `signal`.
    pub fn signal(&self, signal: Signal) {
        let pid = nix::unistd::Pid::from_raw(self.pid() as i32);
        nix::sys::signal::kill(pid, signal).expect("kill");
    }

    /// Whether it has exited (it is then reaped).
    pub fn exited(&mut self) -> bool {
        self.child.try_wait().expect("wait").is_some()
    }

    /// Waits for it to exit; returns its exit status and the summary it printed last.
    pub fn wait_for_exit(&mut self) -> (ExitStatus, Summary) {
        let status = self.wait_for_status();
        // Its stdout is closed now; the reader thread hands over what is left, then hangs up.
        let mut last = None;
        while let Ok(line) = self.stdout.recv_timeout(HANG_GUARD) {
            last = Some(line);
        }
        let last = last.unwrap_or_else(|| panic!("no summary printed; stderr: {}", self.stderr()));
        let summary = serde_json::from_str(&last)
            .unwrap_or_else(|e| panic!("the last line is not a summary ({e}): {last:?}"));
        (status, summary)
    }

    /// Stops it with SIGTERM; returns its summary after checking it exited 0.
    pub fn stop(mut self) -> Summary {
        self.signal(Signal::SIGTERM);
        let (status, summary) = self.wait_for_exit();
        assert!(
            status.success(),
            "exit status {status}; stderr: {}",
            self.stderr()
        );
        summary
    }

    /// Bytes its connections have received and it has not read yet, from `/proc/PID/net/tcp`.
    pub fn unread(&self) -> u64 {
        let mine: Vec<u64> = self
            .socket_fds()
            .into_iter()
            .map(|(_, inode)| inode)
            .collect();
        tcp_table(self.pid())
            .iter()
            .filter(|t| mine.contains(&t.inode))
            .map(|t| t.unread)
            .sum()
    }

    /// Waits for it to exit, whatever it printed; returns its exit status.
    pub fn wait_for_status(&mut self) -> ExitStatus {
        let deadline = Instant::now() + HANG_GUARD;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not exit within {HANG_GUARD:?}"
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The process's open sockets, from `/proc/PID/fd`.
    pub fn sockets(&self) -> Vec<SocketFd> {
        let tcp = tcp_table(self.pid());
        let unix = unix_inodes(self.pid());
        let mut sockets = Vec::new();
        for (fd, inode) in self.socket_fds() {
            let kind = match tcp.iter().find(|t| t.inode == inode) {
                Some(t) if t.state == TCP_LISTEN => SocketKind::TcpListener,
                Some(t) => {
                    SocketKind::TcpConnection(format!("state {:02X} ({})", t.state, t.addrs))
                }
                None if unix.contains(&inode) => SocketKind::Unix,
                // A TCP socket that was reset or closed is no longer in the table, but its
                // descriptor is still open: a leaked connection all the same.
                None => SocketKind::Other,
            };
            sockets.push(SocketFd { fd, inode, kind });
        }
        sockets.sort_by(|a, b| a.fd.cmp(&b.fd));
        sockets
    }

    /// Its socket descriptors and their inodes, from `/proc/PID/fd`.
    fn socket_fds(&self) -> Vec<(String, u64)> {
        let dir = format!("/proc/{}/fd", self.pid());
        let mut fds = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let Ok(entry) = entry else { continue };
            // An fd can close between listing and reading its link.
            let Ok(link) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let inode = link
                .to_string_lossy()
                .strip_prefix("socket:[")
                .and_then(|s| s.strip_suffix(']'))
                .and_then(|s| s.parse::<u64>().ok());
            if let Some(inode) = inode {
                fds.push((entry.file_name().to_string_lossy().into_owned(), inode));
            }
        }
        fds
    }

    /// Its threads, as `/proc/PID/task` shows them now.
    pub fn threads(&self) -> Vec<ThreadView> {
        let dir = format!("/proc/{}/task", self.pid());
        let mut threads = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{dir}: {e}")) {
            let Ok(entry) = entry else { continue };
            // A thread can end between listing and reading.
            if let Some(thread) = ThreadView::read(&entry.path()) {
                threads.push(thread);
            }
        }
        threads
    }

    /// Its open TCP connections: every socket but listeners and Unix-domain ones.
    pub fn connections(&self) -> usize {
        self.sockets()
            .iter()
            .filter(|s| !matches!(s.kind, SocketKind::TcpListener | SocketKind::Unix))
            .count()
    }

    /// Its resident memory, in bytes.
    pub fn rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap();
        let kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().strip_suffix("kB"))
            .and_then(|v| v.trim().parse().ok())
            .expect("VmRSS in /proc/PID/status");
        kib * 1024
    }
}

/// `echo-server TARGET --addr 127.0.0.1:0 ARGS...`, started with its output piped to the test.
fn spawn_server(target: &Target, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .arg(target.name)
        .args(["--addr", "127.0.0.1:0"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn echo-server")
}

/// Runs `echo-server TARGET --addr 127.0.0.1:0 ARGS...` expecting it to refuse to start: returns
/// its exit status, stdout and stderr. Panics if it is still running after [`HANG_GUARD`] (it
/// started serving instead), killing it first.
pub fn refusal(target: &Target, args: &[&str]) -> (ExitStatus, String, String) {
    let mut child = spawn_server(target, args);
    let deadline = Instant::now() + HANG_GUARD;
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{} {args:?} did not refuse: still running after {HANG_GUARD:?}",
                target.name
            );
        }
        thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().expect("collect its output");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Drop for Process {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// One socket descriptor of a process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketFd {
    /// The descriptor's number.
    pub fd: String,
    /// The socket's inode (two descriptors of one socket share it).
    pub inode: u64,
    /// What the socket is.
    pub kind: SocketKind,
}

/// What a socket descriptor refers to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketKind {
    /// A TCP socket in LISTEN state.
    TcpListener,
    /// Any other TCP socket in the kernel's table: a connection, with its state and addresses.
    TcpConnection(String),
    /// A Unix-domain socket (signal handling's self-pipe, say).
    Unix,
    /// A socket in neither table: typically a TCP connection already reset or closed by the
    /// peer, whose descriptor was never closed.
    Other,
}

const TCP_LISTEN: u8 = 0x0A;

struct TcpEntry {
    inode: u64,
    state: u8,
    addrs: String,
    /// Bytes received and not yet read by the socket's owner.
    unread: u64,
}

/// The TCP sockets of the process's network namespace, from `/proc/PID/net/tcp{,6}`.
fn tcp_table(pid: u32) -> Vec<TcpEntry> {
    let mut entries = Vec::new();
    for file in ["tcp", "tcp6"] {
        let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                continue;
            }
            entries.push(TcpEntry {
                inode: f[9].parse().unwrap_or(0),
                state: u8::from_str_radix(f[3], 16).unwrap_or(0),
                addrs: format!("{} -> {}", f[1], f[2]),
                unread: f[4]
                    .split_once(':')
                    .and_then(|(_, rx)| u64::from_str_radix(rx, 16).ok())
                    .unwrap_or(0),
            });
        }
    }
    entries
}

/// The inodes of the Unix-domain sockets of the process's network namespace.
fn unix_inodes(pid: u32) -> Vec<u64> {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/unix")).unwrap_or_default();
    table
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(6)?.parse().ok())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What /proc says about a child's threads and about loopback connections

/// The name every server gives its loop-lag ticker thread.
pub use echo_common::TICKER_THREAD;

/// One thread of a process at one moment.
#[derive(Debug, Clone)]
pub struct ThreadView {
    /// Its name (`comm`).
    pub name: String,
    /// Its scheduler state: `R` running or runnable, `S` asleep in the kernel, ...
    pub state: char,
    /// The system call it is blocked in, if any (from `/proc/.../syscall`).
    pub syscall: Option<i64>,
    /// Times it has gone to sleep of its own accord: each `sleep`, each blocking wait.
    pub voluntary_switches: u64,
}

impl ThreadView {
    fn read(dir: &std::path::Path) -> Option<ThreadView> {
        let read = |file: &str| std::fs::read_to_string(dir.join(file)).ok();
        let name = read("comm")?.trim_end().to_owned();
        let stat = read("stat")?;
        // The state is the first field after the command name, which may hold spaces.
        let state = stat[stat.rfind(')')? + 2..].chars().next()?;
        let syscall = read("syscall")?
            .split_whitespace()
            .next()
            .and_then(|n| n.parse().ok());
        let voluntary_switches = read("status")?
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())?;
        Some(ThreadView {
            name,
            state,
            syscall,
            voluntary_switches,
        })
    }

    /// Whether it is asleep in `std::thread::sleep` (`clock_nanosleep`, or `nanosleep`).
    pub fn in_sleep_call(&self) -> bool {
        self.state == 'S'
            && matches!(
                self.syscall,
                Some(n) if n == nix::libc::SYS_clock_nanosleep || n == nix::libc::SYS_nanosleep
            )
    }
}

/// The send and receive queues of the loopback connection from `local` to `remote`, as the kernel
/// holds them on `local`'s side: bytes written but not yet acknowledged by the peer's kernel, and
/// bytes received but not yet read by the application.
pub fn tcp_queues(local: SocketAddr, remote: SocketAddr) -> Option<(u64, u64)> {
    let file = if local.is_ipv4() { "tcp" } else { "tcp6" };
    let table = std::fs::read_to_string(format!("/proc/net/{file}")).ok()?;
    let port = |field: &str| {
        field
            .rsplit(':')
            .next()
            .and_then(|p| u16::from_str_radix(p, 16).ok())
    };
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || port(f[1])? != local.port() || port(f[2])? != remote.port() {
            return None;
        }
        let (tx, rx) = f[4].split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// Waits until the server at `server` has read every byte `client` has sent it: first the
/// client's kernel sees them all acknowledged (they are in the server's receive queue or taken),
/// then the server's side of the connection holds none unread.
pub fn wait_until_read_by_server(client: &Client, server: SocketAddr) {
    let local = client.local_addr();
    eventually(
        "the server's kernel has every byte the client sent",
        || match tcp_queues(local, server) {
            Some((0, _)) => Ok(()),
            queues => Err(queues),
        },
    );
    eventually(
        "the server has read every byte the client sent",
        || match tcp_queues(server, local) {
            Some((_, 0)) => Ok(()),
            queues => Err(queues),
        },
    );
}
