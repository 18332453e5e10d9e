//! A client thread from its first connect to its final record: open its connections (at most
//! `connect_concurrency` attempts at a time, non-blocking, in the loop), wait for the warm-up,
//! then drive every connection from one readiness loop until the phase is STOP.
//!
//! Each loop turn: one `epoll_wait` for up to [`EVENTS`] events; the phase and the window read
//! once; every ready connection served; due open-loop messages sent; deadlines scanned (at most
//! once a millisecond); the progress counter stored once.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::Sender;
use std::time::Duration;

use mio::event::Event as Ready;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Registry, Token};

use crate::engine::churn::{ConnectionMode, Cycle, Stage};
use crate::engine::clock::{Clock, Nanos};
use crate::engine::conn::{Common, Conn};
use crate::engine::connect::{connect, established};
use crate::engine::deadline::Deadlines;
use crate::engine::pacer::Pacer;
use crate::engine::record::{Failure, Record};
use crate::engine::reply::Rules;
use crate::engine::schedule::Schedule;
use crate::engine::shared::{Event, Phase, Settings, Shared};
use crate::engine::{EVENTS, TURN};

/// A second on the thread's clock, for the timeline.
const SECOND: Nanos = 1_000_000_000;

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
    let mut record = settings.new_record();
    own_descriptor_table();
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
    while shared.phase() == Phase::Connecting {
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
    if shared.phase() != Phase::Stop {
        conns.drive(&mut poll, &shared, &progress, &mut record);
    }
    conns.finish(&shared, &mut record);
    // The last second of the window, however short, gets its messages.
    record.close_seconds(usize::MAX);
    let _ = events.send(Event::Done(Box::new(record)));
}

/// Gives this thread a descriptor table of its own (`unshare(CLONE_FILES)`), which its sockets
/// then live in. The kernel looks a descriptor up without touching the file's reference count
/// only when the table is not shared, as in a single-threaded client; in a shared table every
/// send and recv takes and drops a reference, and at ten thousand sockets those are cache misses
/// on every message. Nothing else in the process uses these sockets, and the thread's sockets
/// close when it ends. Best effort: without it the thread works as before.
fn own_descriptor_table() {
    let _ = nix::sched::unshare(nix::sched::CloneFlags::CLONE_FILES);
}

/// When a connection times out: a connect in progress from its start, otherwise its oldest
/// message in flight from its send; never with nothing in flight.
fn deadline_of(conn: &Conn, cycle: Option<&Cycle>, timeout: Nanos) -> Option<Nanos> {
    match cycle.filter(|c| c.stage() == Stage::Connecting) {
        Some(c) => Some(c.began() + timeout),
        None => conn.deadline(timeout),
    }
}

/// A connection in the loop: its socket and its state machine, all a round trip touches, in one
/// cache line of its own, so that ten thousand connections take as little cache as they can.
#[repr(align(64))]
struct Slot {
    stream: TcpStream,
    conn: Conn,
    /// Whether the socket is watched for writability too. Only while a message is half
    /// written: otherwise each acknowledgement could wake the loop for nothing, which the
    /// leanest clients do not pay for.
    writable: bool,
    /// Whether a deadline is stored for it (its own or an earlier message's, see [`Deadlines`]):
    /// only a connection without one writes one when it sends. Kept here, in the line a round
    /// trip touches anyway, because asking the array would cost the cache miss the lower bound
    /// saves.
    armed: bool,
}

/// One thread's connections, indexed by their token.
struct Conns {
    slots: Vec<Option<Slot>>,
    /// The open loop: when each connection's messages are due (empty in the closed loop).
    schedules: Vec<Schedule>,
    /// Connection churn: where each connection's cycle (connect, N echoes, close) is (empty
    /// with persistent connections).
    cycles: Vec<Cycle>,
    registry: Registry,
    /// Where churning connections connect again.
    addr: SocketAddr,
    deadlines: Deadlines,
    timeout: Nanos,
    rules: Rules,
    /// What every connection shares: size, clock, and where messages are made and echoes read.
    common: Common,
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
        let rate = shared.rate_per_conn();
        let ramp = shared.ramp();
        let open_loop = rate.is_some() || ramp.is_some();
        let mut common = Common::new(settings.msg_size, Clock::start());
        let ids = (first..first + streams.len()).map(|id| id as u64);
        let schedules: Vec<Schedule> = match (ramp, rate) {
            (Some((profile, n)), _) => ids
                .map(|id| Schedule::ramp(Arc::clone(profile), id, *n))
                .collect(),
            (None, Some(rate)) => ids.map(|id| Schedule::new(0, rate, id)).collect(),
            (None, None) => Vec::new(),
        };
        let cycles = match settings.connection_mode {
            ConnectionMode::Persistent => Vec::new(),
            // The first connection was opened before the warm-up: its cycle starts connected,
            // and nothing of it is measured.
            ConnectionMode::Per(n) => {
                common = common.with_limit(n);
                let mut cycle = Cycle::begin(0, n, None);
                cycle.connected(0);
                vec![cycle; streams.len()]
            }
        };
        let slots: Vec<Option<Slot>> = streams
            .into_iter()
            .enumerate()
            .map(|(i, stream)| {
                stream.map(|stream| Slot {
                    stream,
                    conn: Conn::new((first + i) as u64, &common),
                    // Connecting needed both; the first settle drops writability.
                    writable: true,
                    armed: false,
                })
            })
            .collect();
        Conns {
            registry,
            addr: settings.addr,
            deadlines: Deadlines::new(slots.len()),
            slots,
            schedules,
            cycles,
            common,
            timeout: settings.timeout.as_nanos() as Nanos,
            rules: Rules {
                window: None,
                open_loop,
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
        let now = self.common.clock().now();
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
            if shared.phase() == Phase::Stop {
                // A reply still outstanding at STOP belongs to no window: dropped.
                return;
            }
            self.rules.window = shared.window().map(|start| self.common.clock().of(start));
            let now = self.common.clock().now();
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
                let now = self.common.clock().now();
                while let Some(i) = pacer.pop_due(now) {
                    if let Some(slot) = &mut self.slots[i] {
                        slot.conn.queued = false;
                    }
                    self.send_due(i, pacer, now, shared, record);
                }
                pacer.arm(now);
            }
            if let Some(start) = self.rules.window {
                record.close_seconds(((now.saturating_sub(start)) / SECOND) as usize);
            }
            let (slots, cycles, timeout) = (&mut self.slots, &self.cycles, self.timeout);
            let current = |i: usize| {
                let slot = slots[i].as_mut()?;
                let deadline = deadline_of(&slot.conn, cycles.get(i), timeout);
                slot.armed = deadline.is_some();
                deadline
            };
            self.deadlines.scan(now, current, |i| expired.push(i));
            for i in expired.drain(..) {
                self.fail(i, Failure::Timeout, shared, record);
            }
            progress.store(record.messages(), Relaxed);
        }
    }

    /// Closed loop: connection `i` sends its first message.
    fn start_closed(&mut self, i: usize, now: Nanos, shared: &Shared, record: &mut Record) {
        let Some(slot) = &mut self.slots[i] else {
            return;
        };
        let result = slot.conn.send(
            &slot.stream,
            &mut self.common,
            &self.rules,
            record,
            now,
            now,
        );
        self.settle(i, result, shared, record);
    }

    /// Connection `i` is ready: finish its write, read what came.
    fn serve(&mut self, i: usize, event: &Ready, shared: &Shared, record: &mut Record) {
        let Some(slot) = &mut self.slots[i] else {
            return;
        };
        if let Some(cycle) = self.cycles.get_mut(i)
            && cycle.stage() == Stage::Connecting
        {
            let result = match established(&slot.stream) {
                Ok(false) => return,
                Ok(true) => {
                    let now = self.common.clock().now();
                    let connect_ns = cycle.connected(now);
                    if let (Some(ns), Some(h)) = (connect_ns, &mut record.connect) {
                        h.saturating_record(ns.max(1));
                    }
                    // Its first message counts from the connect call.
                    let due = cycle.due(0, now);
                    slot.conn.restart(&self.common);
                    let stream = &slot.stream;
                    let common = &mut self.common;
                    slot.conn
                        .send(stream, common, &self.rules, record, due, now)
                }
                Err(f) => Err(f),
            };
            self.settle(i, result, shared, record);
            return;
        }
        let mut result = Ok(());
        if event.is_writable() && slot.conn.writing(&self.common) {
            result = slot.conn.flush(&slot.stream, &mut self.common);
        }
        let closing = event.is_read_closed() || event.is_error();
        if result.is_ok() && (event.is_readable() || closing) {
            let (stream, common) = (&slot.stream, &mut self.common);
            result = slot
                .conn
                .on_readable(stream, common, &self.rules, record, closing);
        }
        let complete = !self.cycles.is_empty() && slot.conn.complete(&self.common);
        self.settle(i, result, shared, record);
        if complete {
            self.reconnect(i, shared, record);
        }
    }

    /// Connection churn: connection `i` has every echo back. It closes with a reset (linger 0:
    /// no TIME_WAIT to use up local ports; nothing is lost, every echo was read and verified)
    /// and connects again, non-blocking: the loop sees it established when it turns writable.
    fn reconnect(&mut self, i: usize, shared: &Shared, record: &mut Record) {
        let Some(slot) = &mut self.slots[i] else {
            return;
        };
        if self.rules.window.is_some() {
            record.connections += 1;
        }
        let _ = socket2::SockRef::from(&slot.stream).set_linger(Some(Duration::ZERO));
        let _ = self.registry.deregister(&mut slot.stream);
        let now = self.common.clock().now();
        let next = TcpStream::connect(self.addr).and_then(|mut stream| {
            self.registry.register(
                &mut stream,
                Token(i),
                Interest::READABLE | Interest::WRITABLE,
            )?;
            Ok(stream)
        });
        match next {
            Ok(stream) => {
                // The old socket closes (with its reset) as it is replaced.
                slot.stream = stream;
                slot.writable = true;
                slot.armed = true;
                let cycle = &mut self.cycles[i];
                *cycle = Cycle::begin(now, cycle.messages(), self.rules.window);
                self.deadlines.set(i, Some(now + self.timeout));
            }
            Err(e) => self.fail(i, Failure::of(&e), shared, record),
        }
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
        let result = slot.conn.send_due(
            &slot.stream,
            &mut self.common,
            &self.schedules[i],
            &self.rules,
            record,
            now,
        );
        if let Ok(Some(next)) = result {
            slot.conn.queued = true;
            pacer.push(next, i);
        }
        self.settle(i, result.map(|_| ()), shared, record);
    }

    /// After connection `i` did something: its new deadline, or its end on a failure.
    #[inline]
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
                let connecting = self
                    .cycles
                    .get(i)
                    .is_some_and(|c| c.stage() == Stage::Connecting);
                // A deadline already stored stays: it can only be earlier than this one, and
                // the scan renews it when it passes.
                if !slot.armed
                    && let Some(at) = deadline_of(&slot.conn, self.cycles.get(i), self.timeout)
                {
                    self.deadlines.set(i, Some(at));
                    slot.armed = true;
                }
                // A connect in progress is seen through writability.
                let want = slot.conn.writing(&self.common) || connecting;
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

#[cfg(test)]
mod tests {
    //! Connection churn through the real loop on real sockets: a test server scripts what each
    //! connection meets, the loop runs until its one client has stopped, and the record says
    //! what happened. Nothing here depends on timing.

    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream as StdStream};
    use std::time::Instant;

    /// How long a test waits for the loop's client to stop before it fails (a bug cannot hang
    /// the suite): it normally stops within milliseconds.
    const GIVE_UP: Duration = Duration::from_secs(20);

    fn churn_settings(addr: SocketAddr, per: u64) -> Settings {
        Settings {
            addr,
            msg_size: 64,
            // Far longer than any step here takes: a timeout would be a bug.
            timeout: GIVE_UP,
            work_every: 1,
            connect_concurrency: 1,
            seconds: 1,
            open_loop: false,
            connection_mode: ConnectionMode::Per(per),
            sources: Vec::new(),
        }
    }

    /// Drives one churning client, `per` messages a connection, against `addr` with the window
    /// open until it stops on a failure; returns its record.
    fn churn_until_it_fails(addr: SocketAddr, per: u64) -> Record {
        let settings = churn_settings(addr, per);
        let shared = Arc::new(Shared::default());
        let mut poll = Poll::new().unwrap();
        let first = StdStream::connect(addr).unwrap();
        first.set_nonblocking(true).unwrap();
        let mut first = TcpStream::from_std(first);
        poll.registry()
            .register(
                &mut first,
                Token(0),
                Interest::READABLE | Interest::WRITABLE,
            )
            .unwrap();
        shared.started(1);
        shared.open_window();
        let registry = poll.registry().try_clone().unwrap();
        let mut conns = Conns::new(registry, vec![Some(first)], 0, &settings, &shared);
        let watch = Arc::clone(&shared);
        let client = std::thread::spawn(move || {
            let mut record = Record::new(1, false, false).with_churn(true);
            conns.drive(&mut poll, &shared, &AtomicU64::new(0), &mut record);
            conns.finish(&shared, &mut record);
            record.close_seconds(usize::MAX);
            record
        });
        // The loop runs until STOP; the client's failure is the condition to stop on.
        let give_up = Instant::now() + GIVE_UP;
        while watch.alive() > 0 {
            assert!(Instant::now() < give_up, "the client never stopped");
            std::thread::yield_now();
        }
        watch.set_phase(Phase::Stop);
        client.join().unwrap()
    }

    #[test]
    fn a_connection_and_its_socket_fill_one_cache_line() {
        // What a round trip touches per connection: more than a line costs a cache miss per
        // message once ten thousand connections outgrow the caches. A socket is a file
        // descriptor (mio adds a selector id in debug builds only), and the flag a byte.
        use std::mem::{align_of, size_of};
        assert!(size_of::<Conn>() + size_of::<std::os::fd::RawFd>() < 64);
        assert_eq!(align_of::<Slot>(), 64);
        if !cfg!(debug_assertions) {
            assert_eq!(size_of::<Option<Slot>>(), 64);
        }
    }

    #[test]
    fn a_client_threads_sockets_are_in_a_table_of_its_own() {
        use std::os::fd::AsRawFd;
        use std::sync::mpsc::channel;
        let link = |fd: i32| std::fs::read_link(format!("/proc/thread-self/fd/{fd}")).ok();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (opened, seen) = (channel(), channel::<()>());
        let thread = std::thread::spawn(move || {
            own_descriptor_table();
            let socket = StdStream::connect(addr).unwrap();
            let fd = socket.as_raw_fd();
            opened.0.send((fd, link(fd))).unwrap();
            // The socket stays open until the test has looked.
            let _ = seen.1.recv();
        });
        let (fd, theirs) = opened.1.recv().unwrap();
        let ours = link(fd);
        seen.0.send(()).unwrap();
        thread.join().unwrap();
        assert!(theirs.is_some(), "the socket was open in its thread");
        // In a shared table the same number would name the same socket here.
        assert_ne!(ours, theirs, "fd {fd} is the thread's own");
    }

    /// Reads one 64-byte message from `s` and echoes it.
    fn echo_one(s: &mut StdStream) {
        let mut m = [0; 64];
        s.read_exact(&mut m).unwrap();
        s.write_all(&m).unwrap();
    }

    /// A listener on a port that stays reserved after it stops listening: a second socket holds
    /// it bound, never listening, so a connect to it is then refused, and no one else can take
    /// it meanwhile (neither has SO_REUSEADDR, so a bind to port 0 is never given it; they share
    /// it through SO_REUSEPORT). Freeing the port instead let a test running alongside take it.
    fn listener_on_a_reserved_port() -> (TcpListener, socket2::Socket) {
        use socket2::{Domain, Socket, Type};
        let bound = || {
            let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
            s.set_reuse_port(true).unwrap();
            s
        };
        let reserve = bound();
        reserve
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .unwrap();
        let listener = bound();
        listener.bind(&reserve.local_addr().unwrap()).unwrap();
        listener.listen(8).unwrap();
        (listener.into(), reserve)
    }

    #[test]
    fn a_churning_client_connects_echoes_closes_and_counts_a_refused_connect() {
        let (listener, _reserved) = listener_on_a_reserved_port();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            // Three connections, one echo each; each is closed by the client with a reset.
            let mut conns = Vec::new();
            for n in 0..3 {
                let (mut s, _) = listener.accept().unwrap();
                if n == 2 {
                    // Stop listening before the last echo leaves: the next connect is refused.
                    // Shut down, not closed: a sibling test that copies this process's
                    // descriptor table (own_descriptor_table) or forks keeps a closed listener
                    // listening, and the connect was then accepted and reset.
                    let mut m = [0; 64];
                    s.read_exact(&mut m).unwrap();
                    socket2::SockRef::from(&listener)
                        .shutdown(std::net::Shutdown::Read)
                        .unwrap();
                    assert!(
                        TcpListener::bind(addr).is_err(),
                        "the port stays reserved: no other server can take it"
                    );
                    s.write_all(&m).unwrap();
                    conns.push(s);
                    drop(listener);
                    break;
                }
                echo_one(&mut s);
                conns.push(s);
            }
            // The client closes each with a reset: reading its end says so.
            conns
                .into_iter()
                .map(|mut s| s.read(&mut [0; 1]).map_err(|e| e.kind()))
                .collect::<Vec<_>>()
        });
        let record = churn_until_it_fails(addr, 1);
        assert_eq!(record.errors.refused, 1, "{:?}", record.errors);
        assert_eq!(record.errors.total(), 1, "{:?}", record.errors);
        assert_eq!(record.connections, 3, "three whole cycles");
        assert_eq!(
            record.all.len(),
            3,
            "one echo each, counted from the connect"
        );
        assert_eq!(record.exchange.as_ref().unwrap().len(), 3);
        assert_eq!(
            record.connect.as_ref().unwrap().len(),
            2,
            "the two connects made in the window (the first was made before it)"
        );
        let closes = server.join().unwrap();
        assert_eq!(
            closes,
            [Err(ErrorKind::ConnectionReset); 3],
            "closed with a reset, leaving no TIME_WAIT"
        );
    }

    #[test]
    fn a_connection_carrying_several_messages_closes_only_after_the_last_echo() {
        const PER: u64 = 3;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            // The first connection: as many echoes as the client sends before it closes.
            let (mut first, _) = listener.accept().unwrap();
            let mut echoed = 0;
            let mut m = [0; 64];
            while echoed < PER && first.read_exact(&mut m).is_ok() {
                first.write_all(&m).unwrap();
                echoed += 1;
            }
            // The next connection is reset at its first message: the client stops there.
            let (mut s, _) = listener.accept().unwrap();
            s.read_exact(&mut m).unwrap();
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s);
            (echoed, listener)
        });
        let record = churn_until_it_fails(addr, PER);
        let (echoed, _listener) = server.join().unwrap();
        assert_eq!(echoed, PER, "the first connection carried all its messages");
        assert_eq!(record.connections, 1, "one whole cycle");
        assert_eq!(record.all.len(), PER, "every echo of the cycle counted");
        assert_eq!(record.errors.reset, 1, "{:?}", record.errors);
        assert_eq!(record.errors.total(), 1, "{:?}", record.errors);
    }

    #[test]
    fn a_reset_mid_exchange_is_counted_as_a_reset() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut first, _) = listener.accept().unwrap();
            echo_one(&mut first);
            // The second connection: read the message, then reset instead of echoing.
            let (mut s, _) = listener.accept().unwrap();
            s.read_exact(&mut [0; 64]).unwrap();
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s);
            listener
        });
        let record = churn_until_it_fails(addr, 1);
        assert_eq!(record.errors.reset, 1, "{:?}", record.errors);
        assert_eq!(record.errors.total(), 1, "{:?}", record.errors);
        assert_eq!(record.connections, 1, "the first cycle completed");
        assert_eq!(record.all.len(), 1);
        drop(server.join().unwrap());
    }
}
