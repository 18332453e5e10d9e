//! TCP echo server written as an event loop by hand, on mio: the loop that every async runtime
//! in the suite hides under its tasks, and so the upper bound for all of them on one core.
//!
//! One thread does everything. It asks the kernel which sockets are ready (`Poll::poll`, epoll
//! underneath), serves each ready one as far as it can go without waiting, and asks again. A
//! connection is a plain struct in a table (a [`Slab`]); its index is the token the kernel hands
//! back with its readiness. Nothing here waits on a socket: a read or a write that would block
//! returns `WouldBlock`, and the loop moves on until the kernel says the socket is ready again.
//!
//! Readiness is edge-triggered: the kernel reports a change once, so a connection is read until
//! it runs dry, and a write that only half fits waits for the next "writable" report.
//!
//! The work models show where work can go. A wait (`sleep`) becomes a timer the loop keeps
//! itself; `offload`, `file-offload` and `sqlite-offload` go to a blocking pool whose threads wake
//! the loop when done (through a [`Waker`]); and `block`, `cpu`, `file-block` and `sqlite-block`
//! run right here, on the loop's only thread, while every other connection waits: this is the
//! loop you block.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::future::Future;
use std::io::{self, Read, Write};
use std::net::TcpListener as StdListener;
use std::pin::Pin;
use std::sync::{Arc, mpsc};
use std::task::{self, Wake};
use std::time::{Duration, Instant};

use echo_common::{BlockingPool, Conn, Context, How, Serves, Target};
use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};
use slab::Slab;

/// The hand-written event loop.
pub const TARGET: Target = Target::new(
    "mio",
    "an event loop written by hand on mio: one thread, epoll readiness, a table of \
            connections, timers, and a blocking pool for offloaded work",
    serve,
    Serves::EventLoop,
);

/// The listener's token. Connections are numbered from 0 by their slot in the table.
const LISTENER: Token = Token(usize::MAX);

/// The token of the [`Waker`], which other threads use to wake the loop: the blocking pool when a
/// job is done, the loop-lag ticker, and the shutdown trigger.
const WAKER: Token = Token(usize::MAX - 1);

/// Readiness events taken per call to `poll`; more wait for the next call. mio's own examples
/// take 128; 1024 lets a loop with many ready clients make fewer calls.
const EVENTS: usize = 1024;

/// Serves on the calling thread until shutdown. Set-up: the kernel's readiness queue, the
/// listener registered with it, and the waker.
pub fn serve(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut listener = TcpListener::from_std(listener);
    let poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
    let (done, finished) = mpsc::channel();
    EventLoop {
        poll,
        listener,
        connections: Slab::new(),
        timers: BinaryHeap::new(),
        pool: BlockingPool::new(),
        done,
        finished,
        waker,
        context,
    }
    .run()
}

/// Everything the loop owns.
struct EventLoop {
    poll: Poll,
    listener: TcpListener,
    connections: Slab<Connection>,
    /// What is due when, soonest first.
    timers: BinaryHeap<Reverse<(Instant, Due)>>,
    pool: BlockingPool,
    /// Offloaded jobs report here (with their connection's slot) when they finish.
    done: mpsc::Sender<(usize, io::Result<()>)>,
    finished: mpsc::Receiver<(usize, io::Result<()>)>,
    waker: Arc<Waker>,
    context: Arc<Context>,
}

/// What a timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// A connection's `sleep` is over.
    Connection(usize),
    /// Time to try `accept` again after running out of file descriptors.
    Accept,
}

// ---------------------------------------------------------------------------------------------
// The loop and the accept

impl EventLoop {
    fn run(mut self) -> io::Result<()> {
        // Two things come from other threads as futures from echo_common, the shutdown trigger
        // and the loop-lag probe. Both wake the loop through the waker, and the loop polls them
        // by hand when it does: a runtime's whole executor, for two futures.
        let waker = task::Waker::from(Arc::new(WakeLoop(Arc::clone(&self.waker))));
        let mut cx = task::Context::from_waker(&waker);
        let shutdown = self.context.shutdown().clone();
        let mut stopped = std::pin::pin!(shutdown.wait());
        let mut probe: Option<Pin<Box<dyn Future<Output = ()>>>> =
            Some(Box::pin(Arc::clone(&self.context).lag_probe()));
        let mut events = Events::with_capacity(EVENTS);
        let mut woken = true;
        loop {
            if woken {
                woken = false;
                if stopped.as_mut().poll(&mut cx).is_ready() {
                    break;
                }
                if probe
                    .as_mut()
                    .is_some_and(|p| p.as_mut().poll(&mut cx).is_ready())
                {
                    probe = None;
                }
                self.finish_offloaded();
            }
            // Sleep in the kernel until a socket is ready, the waker fires or a timer is due.
            let timeout = self
                .timers
                .peek()
                .map(|Reverse((at, _))| at.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for event in &events {
                match event.token() {
                    LISTENER => self.accept()?,
                    WAKER => woken = true,
                    // An end-of-file already reported must not be overlooked: see `serve`.
                    Token(slot) => self.drive(slot, !event.is_read_closed()),
                }
            }
            self.fire_timers()?;
        }
        self.stop();
        Ok(())
    }

    /// Accepts every connection waiting in the kernel's queue.
    fn accept(&mut self) -> io::Result<()> {
        loop {
            let (mut stream, peer) = match self.listener.accept() {
                Ok(accepted) => accepted,
                // The queue is empty: the next "readable" on the listener brings us back.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) => {
                    let pause = self.context.accept_failed(e)?;
                    if !pause.is_zero() {
                        self.timers
                            .push(Reverse((Instant::now() + pause, Due::Accept)));
                        return Ok(());
                    }
                    continue;
                }
            };
            let Some(conn) = self.context.admit(peer) else {
                continue;
            };
            stream.set_nodelay(conn.nodelay())?;
            let entry = self.connections.vacant_entry();
            // Both interests at once, for good: with edge-triggered readiness the kernel only
            // reports "writable" again after a write found the socket's buffer full, so keeping
            // write interest costs nothing while writes fit.
            self.poll.registry().register(
                &mut stream,
                Token(entry.key()),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            entry.insert(Connection::new(stream, conn));
        }
    }

    /// Serves the connection in `slot` as far as it goes, and acts on where it stopped.
    /// `short_read_drains` as for [`Connection::serve`].
    fn drive(&mut self, slot: usize, short_read_drains: bool) {
        // A late event for a connection closed earlier in this round has no connection.
        let Some(connection) = self.connections.get_mut(slot) else {
            return;
        };
        match connection.serve(short_read_drains) {
            Ok(Next::Ready) => {}
            Ok(Next::Wait(duration)) => self
                .timers
                .push(Reverse((Instant::now() + duration, Due::Connection(slot)))),
            Ok(Next::Offload) => self.offload(slot),
            Ok(Next::Closed) => drop(self.connections.remove(slot)),
            Err(e) => {
                let connection = self.connections.remove(slot);
                connection.conn.failed(&e);
            }
        }
    }

    /// Hands the work of the connection in `slot` to the blocking pool. When the job is done it
    /// reports, and wakes the loop, which then finishes the connection's message.
    fn offload(&mut self, slot: usize) {
        let work = self.connections[slot].conn.work().clone();
        let (done, waker) = (self.done.clone(), Arc::clone(&self.waker));
        self.pool.run(Box::new(move || {
            let _ = done.send((slot, work.run_blocking()));
            let _ = waker.wake();
        }));
    }

    /// Takes the reports of finished offloaded jobs and moves their connections on.
    fn finish_offloaded(&mut self) {
        while let Ok((slot, result)) = self.finished.try_recv() {
            self.resume(slot, result);
        }
    }

    /// Moves on every timer that is due.
    fn fire_timers(&mut self) -> io::Result<()> {
        let now = Instant::now();
        while let Some(&Reverse((at, due))) = self.timers.peek() {
            if at > now {
                break;
            }
            self.timers.pop();
            match due {
                Due::Connection(slot) => self.resume(slot, Ok(())),
                Due::Accept => self.accept()?,
            }
        }
        Ok(())
    }

    /// A connection's wait or offloaded work is over: on with its message.
    fn resume(&mut self, slot: usize, result: io::Result<()>) {
        // A waiting connection is left alone by everything else, so its slot is still its own.
        let connection = &mut self.connections[slot];
        match result {
            Ok(()) => {
                connection.worked();
                // Readiness reported meanwhile was set aside: read until the socket says dry.
                self.drive(slot, false);
            }
            Err(e) => {
                let connection = self.connections.remove(slot);
                connection.conn.failed(&e);
            }
        }
    }
}

/// Wakes the loop from another thread, for a future polled by hand.
struct WakeLoop(Arc<Waker>);

impl Wake for WakeLoop {
    fn wake(self: Arc<Self>) {
        let _ = self.0.wake();
    }
}

// ---------------------------------------------------------------------------------------------
// One connection

/// One client's connection: its socket, its buffer and where it is in its current echo.
struct Connection {
    stream: TcpStream,
    conn: Conn,
    buf: Vec<u8>,
    /// Bytes in `buf` read from the client; `buf[written..filled]` still to be echoed.
    filled: usize,
    written: usize,
    /// Messages completed by the last read whose work is still to do before their echo.
    work_due: u64,
    /// In a wait or offloaded work: nothing to do until the loop says it is over.
    waiting: bool,
}

/// Where a connection stopped.
enum Next {
    /// Waiting for the kernel to report the socket ready again.
    Ready,
    /// Waiting on a timer for this long.
    Wait(Duration),
    /// Waiting on its work in the blocking pool.
    Offload,
    /// The client closed it.
    Closed,
}

impl Connection {
    fn new(stream: TcpStream, conn: Conn) -> Self {
        Connection {
            stream,
            buf: conn.buffer(),
            conn,
            filled: 0,
            written: 0,
            work_due: 0,
            waiting: false,
        }
    }

    /// Reads, works and echoes until the socket would block, work must wait, or the client left.
    /// Nothing new is read until the last read is echoed in full, so a client that does not read
    /// its echo is held back rather than buffered.
    ///
    /// With `short_read_drains`, a read that comes up short is taken to have emptied the socket,
    /// which saves the read that would only say `WouldBlock` (tokio does the same): the kernel
    /// reports bytes that come later as a new "readable". It is not so for an end-of-file the
    /// kernel has already reported, nor for reports set aside while the connection waited.
    fn serve(&mut self, short_read_drains: bool) -> io::Result<Next> {
        if self.waiting {
            return Ok(Next::Ready);
        }
        // Good for this pass only: a report that came since may be about bytes that came since.
        let mut drained = false;
        loop {
            if self.work_due > 0 {
                match self.conn.work().how() {
                    How::Nothing => {}
                    How::Wait(duration) => {
                        self.waiting = true;
                        return Ok(Next::Wait(duration));
                    }
                    How::Offload => {
                        self.waiting = true;
                        return Ok(Next::Offload);
                    }
                    // The pitfall: the loop's only thread is busy here, and every other
                    // connection, timer and probe waits until it returns.
                    How::Inline => self.conn.work().run_blocking()?,
                }
                self.work_due -= 1;
                continue;
            }
            if self.written < self.filled {
                match self.stream.write(&self.buf[self.written..self.filled]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => {
                        self.written += n;
                        self.conn.echoed(n);
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Ready),
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                continue;
            }
            if drained {
                return Ok(Next::Ready);
            }
            match self.stream.read(&mut self.buf) {
                Ok(0) => return Ok(Next::Closed),
                Ok(n) => {
                    (self.filled, self.written) = (n, 0);
                    self.work_due = self.conn.received(n);
                    drained = short_read_drains && n < self.buf.len();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(Next::Ready),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// One message's wait or offloaded work is over.
    fn worked(&mut self) {
        self.waiting = false;
        self.work_due -= 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Shutdown

impl EventLoop {
    /// Stops accepting and closes every connection, each counting itself closed as it drops.
    /// Offloaded jobs still running finish on their own; their reports go nowhere.
    fn stop(self) {
        let EventLoop {
            listener,
            connections,
            ..
        } = self;
        drop(listener);
        drop(connections);
    }
}
