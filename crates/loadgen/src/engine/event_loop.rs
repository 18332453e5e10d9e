//! A client thread from its first connect to its final record: open its connections (at most
//! `connect_concurrency` attempts at a time, non-blocking, in the loop), wait for the warm-up,
//! then drive every connection from one readiness loop until the phase is STOP.
//!
//! Each loop turn: one `epoll_wait` for up to [`EVENTS`] events; the phase and the window read
//! once; every ready connection served; due open-loop messages sent; deadlines scanned (at most
//! once a millisecond); the progress counter stored once.

use std::io::ErrorKind;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use mio::event::Event as Ready;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::client::{CONNECTING, Event, STOP, Settings, Shared};
use crate::engine::clock::{Clock, Nanos};
use crate::engine::conn::Conn;
use crate::engine::deadline::Deadlines;
use crate::engine::pacer::Pacer;
use crate::engine::reply::Rules;
use crate::record::{Failure, Record};
use crate::schedule::Schedule;

/// Readiness events taken per `epoll_wait`, as the leanest epoll clients do.
pub const EVENTS: usize = 1024;

/// The longest a loop turn waits for readiness: how soon an idle thread sees STOP and scans its
/// deadlines. A millisecond is the timeouts' precision; it costs an idle thread about a
/// thousand cheap wake-ups a second.
const TURN: Duration = Duration::from_millis(1);

/// The pacer's timer, beyond any connection's index.
const TIMER: Token = Token(usize::MAX);

/// How long a thread waits between looks at the phase before the warm-up starts.
const PHASE_POLL: Duration = Duration::from_millis(1);

/// One client thread: connects `ids`, reports, waits for the warm-up, drives its connections
/// until the phase is STOP, then sends its record.
pub fn thread_main(
    ids: Range<usize>,
    settings: Settings,
    shared: Arc<Shared>,
    progress: Arc<AtomicU64>,
    events: Sender<Event>,
) {
    let mut record = Record::new(
        settings.seconds,
        settings.open_loop,
        settings.work_every > 1,
    );
    let mut poll = match Poll::new() {
        Ok(poll) => poll,
        Err(e) => {
            // Without an epoll instance no connection can be driven: each one failed.
            let failures = vec![Failure::of(&e); ids.len()];
            let _ = events.send(Event::Connected {
                connected: 0,
                failures,
            });
            let _ = events.send(Event::Done(Box::new(record)));
            return;
        }
    };
    let (streams, failures) = connect(&mut poll, &ids, &settings, &shared);
    let connected = streams.iter().flatten().count();
    shared.started(connected);
    let _ = events.send(Event::Connected {
        connected,
        failures,
    });
    while shared.phase() == CONNECTING {
        std::thread::sleep(PHASE_POLL);
    }
    let registry = match poll.registry().try_clone() {
        Ok(registry) => registry,
        Err(e) => {
            // Its connections cannot be driven: each one failed, unanswered.
            for _ in streams.iter().flatten() {
                record.failure(Failure::of(&e));
                record.starved += 1;
                shared.stopped();
            }
            let _ = events.send(Event::Done(Box::new(record)));
            return;
        }
    };
    let mut conns = Conns::new(registry, streams, ids.start, &settings, &shared);
    if shared.phase() != STOP {
        conns.drive(&mut poll, &shared, &progress, &mut record);
    }
    conns.finish(&shared, &mut record);
    let _ = events.send(Event::Done(Box::new(record)));
}

/// Opens a connection for each of `ids`, at most `connect_concurrency` attempts at a time;
/// returns the streams (by position in `ids`, `None` where it failed) and the failures.
fn connect(
    poll: &mut Poll,
    ids: &Range<usize>,
    settings: &Settings,
    shared: &Shared,
) -> (Vec<Option<TcpStream>>, Vec<Failure>) {
    let n = ids.len();
    let mut streams: Vec<Option<TcpStream>> = (0..n).map(|_| None).collect();
    // When each attempt in progress began.
    let mut since: Vec<Option<Instant>> = vec![None; n];
    let mut failures = Vec::new();
    let mut events = Events::with_capacity(EVENTS);
    let (mut next, mut pending) = (0, 0);
    loop {
        while pending < settings.connect_concurrency.max(1) && next < n {
            let i = next;
            next += 1;
            let stream = TcpStream::connect(settings.addr).and_then(|mut s| {
                poll.registry().register(
                    &mut s,
                    Token(i),
                    Interest::READABLE | Interest::WRITABLE,
                )?;
                Ok(s)
            });
            match stream {
                Ok(s) => {
                    streams[i] = Some(s);
                    since[i] = Some(Instant::now());
                    pending += 1;
                }
                Err(e) => failures.push(Failure::of(&e)),
            }
        }
        if pending == 0 {
            break;
        }
        if shared.phase() == STOP {
            // Given up (Ctrl-C, the server gone): attempts still pending are abandoned, not failed.
            for i in 0..n {
                if since[i].take().is_some() {
                    streams[i] = None;
                }
            }
            break;
        }
        if let Err(e) = poll.poll(&mut events, Some(TURN))
            && e.kind() != ErrorKind::Interrupted
        {
            for i in 0..n {
                if since[i].take().is_some() {
                    streams[i] = None;
                    failures.push(Failure::of(&e));
                }
            }
            break;
        }
        for event in &events {
            let i = event.token().0;
            let Some(stream) = streams[i].as_ref().filter(|_| since[i].is_some()) else {
                continue;
            };
            match established(stream) {
                Ok(false) => continue,
                Ok(true) => shared.note_connected(),
                Err(f) => {
                    streams[i] = None;
                    failures.push(f);
                }
            }
            since[i] = None;
            pending -= 1;
        }
        let now = Instant::now();
        for i in 0..n {
            if since[i].is_some_and(|t| now - t >= settings.timeout) {
                since[i] = None;
                streams[i] = None;
                failures.push(Failure::Timeout);
                pending -= 1;
            }
        }
    }
    (streams, failures)
}

/// Whether a non-blocking connect has completed: `Ok(false)` if still under way.
fn established(stream: &TcpStream) -> Result<bool, Failure> {
    if let Some(e) = stream.take_error().map_err(|e| Failure::of(&e))? {
        return Err(Failure::of(&e));
    }
    match stream.peer_addr() {
        Ok(_) => {
            // An echo client that lets Nagle hold back its writes measures Nagle.
            stream.set_nodelay(true).map_err(|e| Failure::of(&e))?;
            Ok(true)
        }
        Err(e) if e.kind() == ErrorKind::NotConnected => Ok(false),
        Err(e) => Err(Failure::of(&e)),
    }
}

/// A connection in the loop: its socket and its state machine.
struct Slot {
    stream: TcpStream,
    conn: Conn,
    /// Whether the socket is watched for writability too. Only while a message is half
    /// written: otherwise each acknowledgement could wake the loop for nothing, which the
    /// leanest clients do not pay for.
    writable: bool,
}

/// One thread's connections, indexed by their token.
struct Conns {
    slots: Vec<Option<Slot>>,
    registry: Registry,
    deadlines: Deadlines,
    timeout: Nanos,
    rules: Rules,
    clock: Clock,
}

impl Conns {
    /// The state machines for `streams` (ids from `first`), their schedules starting now.
    fn new(
        registry: Registry,
        streams: Vec<Option<TcpStream>>,
        first: usize,
        settings: &Settings,
        shared: &Shared,
    ) -> Self {
        let clock = Clock::start();
        let rate = shared.rate_per_conn();
        let slots: Vec<Option<Slot>> = streams
            .into_iter()
            .enumerate()
            .map(|(i, stream)| {
                let id = (first + i) as u64;
                let schedule = rate.map(|rate| Schedule::new(0, rate, id));
                stream.map(|stream| Slot {
                    stream,
                    conn: Conn::new(id, settings.msg_size, schedule, clock),
                    // Connecting needed both; the first settle drops writability.
                    writable: true,
                })
            })
            .collect();
        Conns {
            registry,
            deadlines: Deadlines::new(slots.len()),
            slots,
            timeout: settings.timeout.as_nanos() as Nanos,
            clock,
            rules: Rules {
                window: None,
                open_loop: rate.is_some(),
                work_every: settings.work_every,
            },
        }
    }

    /// Drives every connection until STOP.
    fn drive(
        &mut self,
        poll: &mut Poll,
        shared: &Shared,
        progress: &AtomicU64,
        record: &mut Record,
    ) {
        let mut pacer = self
            .rules
            .open_loop
            .then(|| Pacer::new(poll.registry(), TIMER, self.slots.len()));
        let now = self.clock.now();
        for i in 0..self.slots.len() {
            match &mut pacer {
                Some(pacer) => self.send_due(i, pacer, now, shared, record),
                None => self.start_closed(i, now, shared, record),
            }
        }
        let mut events = Events::with_capacity(EVENTS);
        let mut expired = Vec::with_capacity(self.slots.len());
        loop {
            if let Err(e) = poll.poll(&mut events, Some(TURN))
                && e.kind() != ErrorKind::Interrupted
            {
                // The epoll instance itself failed: no connection can be driven any more.
                for i in 0..self.slots.len() {
                    self.fail(i, Failure::of(&e), shared, record);
                }
                return;
            }
            if shared.phase() == STOP {
                // A reply still outstanding at STOP belongs to no window: dropped.
                return;
            }
            self.rules.window = shared.window().map(|start| self.clock.of(start));
            let now = self.clock.now();
            for event in &events {
                if event.token() == TIMER {
                    if let Some(pacer) = &mut pacer {
                        pacer.on_timer();
                    }
                    continue;
                }
                let i = event.token().0;
                self.serve(i, event, shared, record);
                if let Some(pacer) = &mut pacer {
                    self.send_due(i, pacer, now, shared, record);
                }
            }
            if let Some(pacer) = &mut pacer {
                let now = self.clock.now();
                while let Some(i) = pacer.pop_due(now) {
                    if let Some(slot) = &mut self.slots[i] {
                        slot.conn.queued = false;
                    }
                    self.send_due(i, pacer, now, shared, record);
                }
                pacer.arm(now);
            }
            self.deadlines.scan(now, |i| expired.push(i));
            for i in expired.drain(..) {
                self.fail(i, Failure::Timeout, shared, record);
            }
            progress.store(record.all.len(), Relaxed);
        }
    }

    /// Closed loop: connection `i` sends its first message.
    fn start_closed(&mut self, i: usize, now: Nanos, shared: &Shared, record: &mut Record) {
        let Some(slot) = &mut self.slots[i] else {
            return;
        };
        let result = slot
            .conn
            .send(&mut slot.stream, &self.rules, record, now, now);
        self.settle(i, result, shared, record);
    }

    /// Connection `i` is ready: finish its write, read what came.
    fn serve(&mut self, i: usize, event: &Ready, shared: &Shared, record: &mut Record) {
        let Some(slot) = &mut self.slots[i] else {
            return;
        };
        let mut result = Ok(());
        if event.is_writable() && slot.conn.writing() {
            result = slot.conn.flush(&mut slot.stream);
        }
        if result.is_ok() && (event.is_readable() || event.is_read_closed() || event.is_error()) {
            result = slot.conn.on_readable(&mut slot.stream, &self.rules, record);
        }
        self.settle(i, result, shared, record);
    }

    /// Open loop: connection `i` sends what is due by `now`, and waits in the pacer for its next
    /// message (unless it already does, or must wait for its socket or a reply first).
    fn send_due(
        &mut self,
        i: usize,
        pacer: &mut Pacer,
        now: Nanos,
        shared: &Shared,
        record: &mut Record,
    ) {
        let Some(slot) = &mut self.slots[i] else {
            return;
        };
        if slot.conn.queued {
            return;
        }
        let result = slot
            .conn
            .send_due(&mut slot.stream, &self.rules, record, now);
        if let Ok(Some(next)) = result {
            slot.conn.queued = true;
            pacer.push(next, i);
        }
        self.settle(i, result.map(|_| ()), shared, record);
    }

    /// After connection `i` did something: its new deadline, or its end on a failure.
    fn settle(
        &mut self,
        i: usize,
        result: Result<(), Failure>,
        shared: &Shared,
        record: &mut Record,
    ) {
        match result {
            Ok(()) => {
                let Some(slot) = &mut self.slots[i] else {
                    return;
                };
                self.deadlines.set(i, slot.conn.deadline(self.timeout));
                let want = slot.conn.writing();
                if want != slot.writable {
                    let interest = if want {
                        Interest::READABLE | Interest::WRITABLE
                    } else {
                        Interest::READABLE
                    };
                    // Modifying the interest re-checks readiness, so no edge is lost.
                    let changed = self
                        .registry
                        .reregister(&mut slot.stream, Token(i), interest);
                    match changed {
                        Ok(()) => slot.writable = want,
                        Err(e) => self.fail(i, Failure::of(&e), shared, record),
                    }
                }
            }
            Err(failure) => self.fail(i, failure, shared, record),
        }
    }

    /// Connection `i` failed: counted, closed, and out of the run.
    fn fail(&mut self, i: usize, failure: Failure, shared: &Shared, record: &mut Record) {
        if let Some(slot) = self.slots[i].take() {
            record.failure(failure);
            if !slot.conn.replied {
                record.starved += 1;
            }
            self.deadlines.set(i, None);
            shared.stopped();
        }
    }

    /// The run is over: every connection still open ends (starved if it never replied).
    fn finish(&mut self, shared: &Shared, record: &mut Record) {
        for slot in self.slots.iter_mut().filter_map(Option::take) {
            if !slot.conn.replied {
                record.starved += 1;
            }
            shared.stopped();
        }
    }
}
