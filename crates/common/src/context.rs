//! A running server's shared state, and the per-connection handle its handlers use.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::time::Duration;

use crate::Summary;
use crate::lag::{Handover, Lag, ticker};
use crate::stats::Stats;
use crate::wakers::Waiter;
use crate::work::Framer;
use crate::{Config, Shutdown, Work, WorkSpec};

/// How long an accept loop pauses after running out of file descriptors (or memory), so that
/// closing connections can free some instead of the loop spinning on the same error.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

/// The kernel name of every loop-lag ticker thread, which tools and the conformance tests look
/// for (Python's servers use the same).
pub const TICKER_THREAD: &str = "lag-ticker";

/// What all of a server's tasks or threads share.
pub struct Context {
    config: Config,
    /// `config.work`, prepared.
    work: Work,
    shutdown: Shutdown,
    stats: Stats,
    lag: Lag,
}

impl Context {
    /// A server's state before it accepts anything. Prepares the configured work (writes its data
    /// file or builds its database), which is why it can fail.
    pub fn new(config: Config, shutdown: Shutdown) -> io::Result<Arc<Self>> {
        let work = Work::prepare(config.work)?;
        Ok(Arc::new(Context {
            config,
            work,
            shutdown,
            stats: Stats::default(),
            lag: Lag::default(),
        }))
    }

    /// The validated configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The shutdown trigger.
    pub fn shutdown(&self) -> &Shutdown {
        &self.shutdown
    }

    /// Takes on an accepted connection, or turns it away (returns `None`, and the caller drops the
    /// socket) when shutting down or at the `--max-connections` cap.
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Option<Conn> {
        if self.shutdown.is_triggered() {
            return None;
        }
        let max = self.config.max_connections;
        if self.stats.active.fetch_add(1, AcqRel) >= max {
            self.close_one();
            let refused = self.stats.refused.fetch_add(1, Relaxed) + 1;
            // Logged at 1, 2, 4, 8, ... so a flood of refusals cannot flood the log.
            if refused.is_power_of_two() {
                eprintln!(
                    "connection limit of {max} reached: closed the new connection from {peer} \
                     ({refused} turned away so far; raise --max-connections to allow more)"
                );
            }
            return None;
        }
        self.stats.accepted.fetch_add(1, Relaxed);
        Some(Conn {
            context: Arc::clone(self),
            framer: Framer::new(self.config.msg_size, self.config.work_every),
            bytes: 0,
        })
    }

    /// Decides what an accept loop does after `accept` failed: go on after the returned pause, or
    /// stop with the error when it is not one a server outlives.
    pub fn accept_failed(&self, e: io::Error) -> io::Result<Duration> {
        match e.raw_os_error() {
            Some(libc::EMFILE | libc::ENFILE | libc::ENOBUFS | libc::ENOMEM) => {
                let errors = self.stats.errors.fetch_add(1, Relaxed) + 1;
                if errors.is_power_of_two() {
                    eprintln!(
                        "accept failed: {e}; pausing (raise `ulimit -n` to hold more connections)"
                    );
                }
                Ok(ACCEPT_BACKOFF)
            }
            // The peer gave up between SYN and accept, or a signal interrupted us: nothing lost.
            Some(libc::ECONNABORTED | libc::EINTR | libc::EPROTO | libc::EPERM) => {
                Ok(Duration::ZERO)
            }
            _ if e.kind() == io::ErrorKind::WouldBlock => Ok(Duration::ZERO),
            _ => Err(e),
        }
    }

    /// Completes when no connection is open any more.
    pub async fn drained(&self) {
        let mut waiter = Waiter::new(&self.stats.drained);
        std::future::poll_fn(|cx| waiter.poll_until(cx, || self.stats.active.load(Acquire) == 0))
            .await
    }

    /// Blocks the calling thread until no connection is open any more.
    pub fn drained_blocking(&self) {
        futures_lite::future::block_on(self.drained());
    }

    /// Connections open right now.
    pub fn active(&self) -> usize {
        self.stats.active.load(Relaxed)
    }

    /// The statistics so far, as the server prints them when it stops.
    pub fn summary(&self, target: &str, event_loop: bool) -> Summary {
        self.stats
            .summary(target, event_loop.then(|| self.lag.summary()))
    }

    /// The loop-lag probe (see the `lag` module): spawn what this returns once on the event
    /// loop, before it accepts. It ends at shutdown.
    ///
    /// The ticker thread starts here, at the call, not when the loop first polls the probe, and
    /// this returns only once the thread runs under its name (the standard library names a
    /// thread from inside it, when it first runs): by the time the loop serves anyone, a tool
    /// (or test) that looks for the ticker by name finds it. Started lazily, on a busy machine
    /// the ticker could still be unnamed while the loop already served.
    pub fn lag_probe(self: Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let handover = Arc::new(Handover::default());
        let (ticks, this) = (Arc::clone(&handover), Arc::clone(&self));
        let (named, is_named) = std::sync::mpsc::sync_channel(1);
        let started = std::thread::Builder::new()
            .name(TICKER_THREAD.into())
            .spawn(move || {
                let _ = named.send(());
                ticker(&ticks, || this.active() > 0)
            })
            .is_ok_and(|_| is_named.recv().is_ok());
        if !started {
            eprintln!("could not start the loop-lag ticker thread; loop lag will not be measured");
        }
        async move {
            if !started {
                return;
            }
            // However the probe ends (shutdown, or its task dropped), the ticker stops.
            let _stop = Closes(Arc::clone(&handover));
            while let Some(tick) = self.shutdown.until(handover.next()).await {
                // An idle loop's lag is nobody's concern; only lag while serving is recorded.
                if self.active() > 0 {
                    self.lag.record(tick.elapsed());
                }
            }
        }
    }

    fn close_one(&self) {
        if self.stats.active.fetch_sub(1, AcqRel) == 1 {
            self.stats.drained.wake_all();
        }
    }
}

/// One admitted connection: the handler's view of the server. Dropping it counts the connection
/// as closed.
pub struct Conn {
    context: Arc<Context>,
    framer: Framer,
    bytes: u64,
}

impl Conn {
    /// A read buffer of the configured size, allocated once per connection.
    pub fn buffer(&self) -> Vec<u8> {
        vec![0; self.context.config.buffer]
    }

    /// The work to do on a working message.
    pub fn work(&self) -> &Work {
        &self.context.work
    }

    /// Whether `TCP_NODELAY` is to be set on the connection.
    pub fn nodelay(&self) -> bool {
        !self.context.config.nagle
    }

    /// The server's shutdown trigger.
    pub fn shutdown(&self) -> &Shutdown {
        &self.context.shutdown
    }

    /// Takes `n` bytes just read; returns how many working messages they complete, each of which
    /// gets its work done before these bytes are echoed.
    pub fn received(&mut self, n: usize) -> u64 {
        if matches!(self.context.config.work, WorkSpec::None) {
            return 0;
        }
        self.framer.received(n)
    }

    /// Counts `n` bytes echoed.
    pub fn echoed(&mut self, n: usize) {
        self.bytes += n as u64;
    }

    /// Counts the connection as ended by `error`: the peer's doing (it reset the connection or
    /// went away mid-echo) or, for anything else, a failure of the server's.
    pub fn failed(&self, error: &io::Error) {
        let stats = &self.context.stats;
        let counter = if by_peer(error) {
            &stats.resets_by_peer
        } else {
            &stats.errors
        };
        counter.fetch_add(1, Relaxed);
    }
}

/// Whether `error` is the peer ending the connection abruptly: a reset (`SO_LINGER` 0, or a
/// close with bytes unread), a write to a connection it has closed, or an abort.
fn by_peer(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

impl Drop for Conn {
    fn drop(&mut self) {
        let stats = &self.context.stats;
        stats.bytes.fetch_add(self.bytes, Relaxed);
        stats.closed.fetch_add(1, Relaxed);
        self.context.close_one();
    }
}

/// Closes the lag hand-over when dropped, so the ticker thread stops with its probe.
struct Closes(Arc<Handover>);

impl Drop for Closes {
    fn drop(&mut self) {
        self.0.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_ending_the_connection_is_not_a_server_error() {
        for kind in [
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::BrokenPipe,
            io::ErrorKind::ConnectionAborted,
        ] {
            assert!(by_peer(&io::Error::from(kind)), "{kind:?}");
        }
        for kind in [
            io::ErrorKind::PermissionDenied,
            io::ErrorKind::OutOfMemory,
            io::ErrorKind::Other,
        ] {
            assert!(!by_peer(&io::Error::from(kind)), "{kind:?}");
        }
    }
}
