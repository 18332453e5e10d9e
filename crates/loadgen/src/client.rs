//! The clients: a few threads, each a single-threaded tokio event loop driving its share of the
//! connections. An event-driven client needs far less CPU per message than a thread per
//! connection, so the load generator is not what a measurement measures.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc::Sender;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use echo_common::Work;
use echo_common::pattern::Pattern;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::{JoinSet, LocalSet};
use tokio::time::timeout;

use crate::record::{Failure, Record};
use crate::schedule::{Schedule, latency};

/// The phases of a run, in order; the coordinator moves them on, clients follow.
pub const CONNECTING: u8 = 0;
pub const WARMUP: u8 = 1;
pub const MEASURE: u8 = 2;
pub const STOP: u8 = 3;

/// What the coordinator and all client threads share.
#[derive(Default)]
pub struct Shared {
    phase: AtomicU8,
    window_start: OnceLock<Instant>,
    /// Clients still running; when it reaches zero there is nothing left to measure.
    alive: AtomicUsize,
    /// Woken at STOP, so that clients waiting on a reply stop at once.
    stop: tokio::sync::Notify,
    /// Open loop: messages per second per connection, as `f64` bits (0: closed loop).
    rate_per_conn: AtomicU64,
}

impl Shared {
    pub fn phase(&self) -> u8 {
        self.phase.load(Relaxed)
    }

    pub fn set_phase(&self, phase: u8) {
        self.phase.fetch_max(phase, Relaxed);
        if phase == STOP {
            self.stop.notify_waiters();
        }
    }

    /// Completes at STOP.
    async fn stopped(&self) {
        let notified = self.stop.notified();
        if self.phase() == STOP {
            return;
        }
        notified.await;
    }

    /// Sets the open loop's rate per connection; call before the warm-up.
    pub fn set_rate_per_conn(&self, rate: f64) {
        self.rate_per_conn.store(rate.to_bits(), Relaxed);
    }

    fn rate_per_conn(&self) -> Option<f64> {
        Some(f64::from_bits(self.rate_per_conn.load(Relaxed))).filter(|r| *r > 0.0)
    }

    /// Clients still running.
    pub fn alive(&self) -> usize {
        self.alive.load(Relaxed)
    }

    /// Opens the measured window now.
    pub fn open_window(&self) -> Instant {
        let now = *self.window_start.get_or_init(Instant::now);
        self.set_phase(MEASURE);
        now
    }

    /// The window's start, if it is open (and not yet closed).
    fn window(&self) -> Option<Instant> {
        match self.phase() {
            MEASURE => self.window_start.get().copied(),
            _ => None,
        }
    }
}

/// How every client behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    pub msg_size: usize,
    pub timeout: Duration,
    pub work_every: u64,
    /// Connection attempts in flight at once, on this thread.
    pub connect_concurrency: usize,
    /// Length of the window, in whole seconds rounded up (for the timeline).
    pub seconds: usize,
    /// Whether this is an open-loop run.
    pub open_loop: bool,
}

/// What a client thread tells the coordinator.
pub enum Event {
    /// Its connections are open (or failed); it waits for the warm-up.
    Connected {
        connected: usize,
        failures: Vec<Failure>,
        last: Option<Instant>,
    },
    /// It has stopped.
    Done(Box<Record>),
}

/// One client thread: connects `ids`, reports, waits for the warm-up, drives its connections
/// until the phase is STOP, then sends its record.
pub fn thread_main(
    ids: Range<usize>,
    settings: Settings,
    shared: Arc<Shared>,
    progress: Arc<AtomicU64>,
    events: Sender<Event>,
) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a current-thread runtime builds");
    let split = settings.work_every > 1;
    let record = Rc::new(RefCell::new(Record::new(
        settings.seconds,
        settings.open_loop,
        split,
    )));
    let settings = Rc::new(settings);
    LocalSet::new().block_on(&runtime, async {
        let (streams, failures, last) = connect_all(ids, &settings).await;
        shared.alive.fetch_add(streams.len(), Relaxed);
        let _ = events.send(Event::Connected {
            connected: streams.len(),
            failures,
            last,
        });
        // Wait for the coordinator. Millisecond polling is fine: the warm-up absorbs any skew.
        while shared.phase() == CONNECTING {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        let start = Instant::now();
        let rate = shared.rate_per_conn().unwrap_or(1.0) * streams.len().max(1) as f64;
        let period = Duration::from_secs_f64(1.0 / rate).clamp(FINEST_TICK, COARSEST_TICK);
        let pacer = Rc::new(Pacer::new(start, period));
        if shared.rate_per_conn().is_some() {
            tokio::task::spawn_local(tick(Rc::clone(&pacer), Arc::clone(&shared)));
        }
        let mut clients = JoinSet::new();
        for (id, stream) in streams {
            let client = Client {
                id: id as u64,
                settings: Rc::clone(&settings),
                shared: Arc::clone(&shared),
                progress: Arc::clone(&progress),
                record: Rc::clone(&record),
                pacer: Rc::clone(&pacer),
            };
            match shared.rate_per_conn() {
                Some(rate) => clients.spawn_local(client.open_loop(stream, rate, start)),
                None => clients.spawn_local(client.closed_loop(stream)),
            };
        }
        while clients.join_next().await.is_some() {}
    });
    let record = Rc::try_unwrap(record).map_or_else(
        |_| unreachable!("all clients have ended"),
        RefCell::into_inner,
    );
    let _ = events.send(Event::Done(Box::new(record)));
}

/// Opens connections to `ids`, at most `connect_concurrency` attempts at a time.
async fn connect_all(
    ids: Range<usize>,
    settings: &Settings,
) -> (Vec<(usize, TcpStream)>, Vec<Failure>, Option<Instant>) {
    let mut streams = Vec::with_capacity(ids.len());
    let mut failures = Vec::new();
    let mut last = None;
    let mut pending = JoinSet::new();
    let mut ids = ids.into_iter();
    loop {
        while pending.len() < settings.connect_concurrency {
            let Some(id) = ids.next() else { break };
            let (addr, limit) = (settings.addr, settings.timeout);
            pending.spawn(async move {
                let stream = match timeout(limit, TcpStream::connect(addr)).await {
                    Ok(Ok(stream)) => stream,
                    Ok(Err(e)) => return Err(Failure::of(&e)),
                    Err(_) => return Err(Failure::Timeout),
                };
                // An echo client that lets Nagle hold back its writes measures Nagle.
                stream.set_nodelay(true).map_err(|e| Failure::of(&e))?;
                Ok((id, stream))
            });
        }
        match pending.join_next().await {
            None => break,
            Some(Ok(Ok(stream))) => {
                streams.push(stream);
                last = Some(Instant::now());
            }
            Some(Ok(Err(failure))) => failures.push(failure),
            Some(Err(_)) => failures.push(Failure::Other),
        }
    }
    (streams, failures, last)
}

/// One connection's client.
struct Client {
    id: u64,
    settings: Rc<Settings>,
    shared: Arc<Shared>,
    progress: Arc<AtomicU64>,
    record: Rc<RefCell<Record>>,
    /// Open loop: this thread's clock for sending on time.
    pacer: Rc<Pacer>,
}

impl Client {
    /// Closed loop: send a message, read its whole echo, check it, record, repeat. The buffers
    /// are allocated once; nothing in the loop allocates.
    async fn closed_loop(self, mut stream: TcpStream) {
        let size = self.settings.msg_size;
        let pattern = Pattern::new(size, self.id);
        let mut out = vec![0; size];
        pattern.fill(0, &mut out);
        let mut back = vec![0; size];
        let (mut rx, mut tx) = stream.split();
        let mut replied = false;
        for seq in 0u64.. {
            if self.shared.phase() == STOP {
                break;
            }
            pattern.stamp(seq, &mut out);
            let sent = Instant::now();
            // Written and read together: a message larger than the socket buffers would
            // otherwise deadlock, each side waiting for the other to read.
            let io = async { tokio::try_join!(tx.write_all(&out), rx.read_exact(&mut back)) };
            let failure = tokio::select! {
                result = timeout(self.settings.timeout, io) => match result {
                    Ok(Ok(_)) => None,
                    Ok(Err(e)) => Some(Failure::of(&e)),
                    Err(_) => Some(Failure::Timeout),
                },
                // A reply still outstanding at STOP belongs to no window: drop it.
                () = self.shared.stopped() => break,
            };
            let done = Instant::now();
            if let Some(failure) = failure {
                self.record.borrow_mut().failure(failure);
                break;
            }
            if let Err(mismatch) = pattern.check(seq, &back) {
                let mut record = self.record.borrow_mut();
                record.failure(Failure::Corrupt);
                record
                    .first_corruption
                    .get_or_insert_with(|| format!("client {}: {mismatch}", self.id));
                break;
            }
            if let Some(start) = self.shared.window()
                && sent >= start
            {
                let ns = (done - sent).as_nanos() as u64;
                self.measured(seq, start, done, ns, ns);
                replied = true;
            }
        }
        self.finish(replied);
    }

    /// Records message `seq`, done at `done` in the window opened at `start`: its latency
    /// (`ns`, and `raw_ns` from its actual send), and whether it was a working message.
    fn measured(&self, seq: u64, start: Instant, done: Instant, ns: u64, raw_ns: u64) {
        let second = (done - start).as_secs() as usize;
        let working = Work::applies_to(seq, self.settings.work_every);
        self.record
            .borrow_mut()
            .message(ns, raw_ns, working, second);
        self.progress.fetch_add(1, Relaxed);
    }

    fn finish(&self, replied: bool) {
        if !replied {
            self.record.borrow_mut().starved += 1;
        }
        self.shared.alive.fetch_sub(1, Relaxed);
    }

    /// Open loop: message `seq` is due at `t0 + seq / rate`, sent on schedule whether or not
    /// earlier replies are back (they pipeline on the connection), and its latency is counted
    /// from when it was due, not when it left: a stalled server is charged for every message
    /// it held up, which is what corrects coordinated omission (as wrk2 does). The latency from
    /// the actual send is kept too, for comparison.
    async fn open_loop(self, mut stream: TcpStream, rate: f64, start: Instant) {
        let size = self.settings.msg_size;
        let pattern = Pattern::new(size, self.id);
        let schedule = Schedule::new(start, rate, self.id);
        let due = |seq: u64| schedule.due(seq);
        // Send times of the messages in flight, oldest first; never grows past its capacity.
        let in_flight = RefCell::new(VecDeque::with_capacity(MAX_IN_FLIGHT));
        let (sent, received) = (tokio::sync::Notify::new(), tokio::sync::Notify::new());
        let (mut rx, mut tx) = stream.split();

        let sender = async {
            let mut out = vec![0; size];
            pattern.fill(0, &mut out);
            for seq in 0u64.. {
                self.pacer.wait_until(due(seq)).await;
                while in_flight.borrow().len() == MAX_IN_FLIGHT {
                    received.notified().await;
                }
                pattern.stamp(seq, &mut out);
                let at = Instant::now();
                tx.write_all(&out).await.map_err(|e| Failure::of(&e))?;
                in_flight.borrow_mut().push_back(at);
                if let Some(start) = self.shared.window()
                    && at >= start
                {
                    self.record.borrow_mut().sent += 1;
                }
                sent.notify_one();
            }
            Ok::<(), Failure>(())
        };
        let mut replied = false;
        let receiver = async {
            let mut back = vec![0; size];
            for seq in 0u64.. {
                while in_flight.borrow().is_empty() {
                    sent.notified().await;
                }
                match timeout(self.settings.timeout, rx.read_exact(&mut back)).await {
                    Ok(Ok(_)) => {}
                    Ok(Err(e)) => return Err(Failure::of(&e)),
                    Err(_) => return Err(Failure::Timeout),
                }
                let done = Instant::now();
                let at = in_flight
                    .borrow_mut()
                    .pop_front()
                    .expect("a message was in flight");
                received.notify_one();
                if let Err(mismatch) = pattern.check(seq, &back) {
                    self.record
                        .borrow_mut()
                        .first_corruption
                        .get_or_insert_with(|| format!("client {}: {mismatch}", self.id));
                    return Err(Failure::Corrupt);
                }
                let intended = due(seq);
                // Every reply that arrives in the window counts, including those of messages
                // due before it: above capacity those are the late ones that matter most.
                if let Some(start) = self.shared.window()
                    && done >= start
                {
                    let (ns, raw_ns) = latency(intended, at, done);
                    self.measured(seq, start, done, ns, raw_ns);
                    replied = true;
                }
            }
            Ok::<(), Failure>(())
        };
        let result = tokio::select! {
            r = async { tokio::try_join!(sender, receiver) } => r.map(|_| ()),
            () = self.shared.stopped() => Ok(()),
        };
        if let Err(failure) = result {
            self.record.borrow_mut().failure(failure);
        }
        self.finish(replied);
    }
}

/// The open loop's pacing tick is the interval between this thread's messages, within these
/// bounds: fine enough that a message leaves close to when it is due, coarse enough that the
/// ticks cost the client little CPU.
const FINEST_TICK: Duration = Duration::from_micros(100);
const COARSEST_TICK: Duration = Duration::from_millis(1);

/// Slots in a pacer's wheel: how far ahead, in ticks, a sender can wait on the wheel rather than
/// on tokio's timer.
const SLOTS: usize = 64;

/// A small timing wheel: senders wait in the slot of the tick their message is due in, and
/// [`tick`] wakes each slot once its time has come. tokio's own timer only counts whole
/// milliseconds, and a message sent late by the timer would be charged to the server.
pub struct Pacer {
    start: Instant,
    period: Duration,
    slots: Vec<tokio::sync::Notify>,
}

impl Pacer {
    fn new(start: Instant, period: Duration) -> Self {
        Pacer {
            start,
            period,
            slots: (0..SLOTS).map(|_| tokio::sync::Notify::new()).collect(),
        }
    }

    /// The tick `t` falls in.
    fn slot_of(&self, t: Instant) -> u64 {
        (t.saturating_duration_since(self.start).as_nanos() / self.period.as_nanos()) as u64
    }

    /// Completes at `due`, or within one tick after it.
    async fn wait_until(&self, due: Instant) {
        let slot = self.slot_of(due);
        loop {
            let now = Instant::now();
            if now >= due {
                return;
            }
            let ahead = slot - self.slot_of(now);
            if ahead >= SLOTS as u64 - 1 {
                // Far off: the coarse timer first, waking well inside the wheel's reach.
                let early = self.period * (SLOTS as u32 / 2) + COARSEST_TICK;
                tokio::time::sleep_until((due - early.min(due - now)).into()).await;
                continue;
            }
            let notified = self.slots[slot as usize % SLOTS].notified();
            tokio::pin!(notified);
            // Registered before the clock is read again, so a tick in between is not missed.
            notified.as_mut().enable();
            if Instant::now() >= due {
                return;
            }
            notified.await;
        }
    }
}

/// Drives `pacer` from a timerfd (nanosecond resolution) until STOP: every tick wakes the
/// senders of the slots whose time has passed.
async fn tick(pacer: Rc<Pacer>, shared: Arc<Shared>) {
    use nix::sys::time::TimeSpec;
    use nix::sys::timerfd::{ClockId, Expiration, TimerFd, TimerFlags, TimerSetTimeFlags};
    let timer = TimerFd::new(
        ClockId::CLOCK_MONOTONIC,
        TimerFlags::TFD_NONBLOCK | TimerFlags::TFD_CLOEXEC,
    )
    .and_then(|t| {
        t.set(
            Expiration::Interval(TimeSpec::from_duration(pacer.period)),
            TimerSetTimeFlags::empty(),
        )?;
        Ok(t)
    })
    .map_err(std::io::Error::from)
    // `AsyncFd::new` is deprecated for types that may close their descriptor while it is
    // registered; `Timer` owns its descriptor for as long as the `AsyncFd` lives.
    .and_then(|t| {
        #[allow(deprecated)]
        tokio::io::unix::AsyncFd::new(Timer(t))
    });
    let timer = match timer {
        Ok(timer) => Some(timer),
        Err(e) => {
            eprintln!("cannot create the open loop's pacing timer ({e}); pacing to 1 ms");
            None
        }
    };
    let mut next = 0u64;
    loop {
        tokio::select! {
            () = async {
                match &timer {
                    Some(timer) => {
                        if let Ok(mut guard) = timer.readable().await {
                            // Reading consumes every expiry so far; EAGAIN: none yet.
                            let _ = guard.get_inner().0.wait();
                            guard.clear_ready();
                        }
                    }
                    None => tokio::time::sleep(COARSEST_TICK).await,
                }
            } => {
                // Wake every slot whose tick has ended (at most one turn of the wheel).
                let now = pacer.slot_of(Instant::now());
                next = next.max(now.saturating_sub(SLOTS as u64));
                while next < now {
                    pacer.slots[next as usize % SLOTS].notify_waiters();
                    next += 1;
                }
            }
            () = shared.stopped() => return,
        }
    }
}

/// A timerfd, which tokio can watch.
struct Timer(nix::sys::timerfd::TimerFd);

impl std::os::fd::AsRawFd for Timer {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsFd;
        self.0.as_fd().as_raw_fd()
    }
}

/// Messages one open-loop connection keeps in flight at most. Past it the sender waits, and the
/// wait shows in the corrected latency, since the schedule does not.
const MAX_IN_FLIGHT: usize = 4096;
