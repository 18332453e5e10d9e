//! The clients: a few threads, each a single-threaded tokio event loop driving its share of the
//! connections. An event-driven client needs far less CPU per message than a thread per
//! connection, so the load generator is not what a measurement measures.

use std::cell::RefCell;
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
}

impl Shared {
    pub fn phase(&self) -> u8 {
        self.phase.load(Relaxed)
    }

    pub fn set_phase(&self, phase: u8) {
        self.phase.fetch_max(phase, Relaxed);
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
    let record = Rc::new(RefCell::new(Record::new(settings.seconds, false, split)));
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
        let mut clients = JoinSet::new();
        for (id, stream) in streams {
            let client = Client {
                id: id as u64,
                settings: Rc::clone(&settings),
                shared: Arc::clone(&shared),
                progress: Arc::clone(&progress),
                record: Rc::clone(&record),
            };
            clients.spawn_local(client.closed_loop(stream));
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
            let failure = match timeout(self.settings.timeout, io).await {
                Ok(Ok(_)) => None,
                Ok(Err(e)) => Some(Failure::of(&e)),
                Err(_) => Some(Failure::Timeout),
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
                let second = (done - start).as_secs() as usize;
                let working = Work::applies_to(seq, self.settings.work_every);
                self.record.borrow_mut().message(ns, ns, working, second);
                self.progress.fetch_add(1, Relaxed);
                replied = true;
            }
        }
        if !replied {
            self.record.borrow_mut().starved += 1;
        }
        self.shared.alive.fetch_sub(1, Relaxed);
    }
}
