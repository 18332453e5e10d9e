//! Stopping a server: one trigger, seen by async tasks (as a future) and by blocked threads (whose
//! sockets are shut down under them, the only way to wake a thread blocked in `accept` or `read`).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll, Waker};

use event_listener::{Event, EventListener};

/// A shutdown trigger shared by a server and whoever stops it (a signal, a test, a benchmark).
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    event: Event,
    tracked: Mutex<HashMap<u64, Arc<dyn AsFd + Send + Sync>>>,
    next_id: AtomicU64,
}

impl Shutdown {
    /// A trigger nobody has pulled yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Pulls the trigger on the first SIGINT or SIGTERM; a second one exits at once, for a user
    /// who will not wait for the connections to close.
    pub fn on_signals(&self) -> io::Result<()> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
        let this = self.clone();
        std::thread::Builder::new()
            .name("signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    if this.is_triggered() {
                        eprintln!(
                            "second signal: exiting without waiting for connections to close"
                        );
                        std::process::exit(128 + signal);
                    }
                    this.trigger();
                }
            })?;
        Ok(())
    }

    /// Starts the shutdown: wakes every waiter and shuts down every tracked socket. Idempotent.
    pub fn trigger(&self) {
        if self.0.triggered.swap(true, Ordering::SeqCst) {
            return;
        }
        self.0.event.notify(usize::MAX);
        for socket in self.tracked().values() {
            shut(socket.as_ref());
        }
    }

    /// Whether shutdown has started.
    pub fn is_triggered(&self) -> bool {
        self.0.triggered.load(Ordering::SeqCst)
    }

    /// Completes once shutdown has started.
    pub fn wait(&self) -> Wait {
        Wait {
            shutdown: self.clone(),
            listener: None,
        }
    }

    /// Runs `fut` until it completes (`Some`) or shutdown starts (`None`), whichever comes first.
    pub async fn until<T>(&self, fut: impl Future<Output = T>) -> Option<T> {
        futures_lite::future::or(async { Some(fut.await) }, async {
            self.wait().await;
            None
        })
        .await
    }

    /// Shuts `socket` down when the trigger is pulled (at once, if it already has been), waking a
    /// thread blocked on it. For a listener that makes `accept` fail; for a connection, `read`
    /// return 0. The socket is shared, not duplicated, so tracking costs no descriptor. The
    /// returned guard stops tracking it when dropped.
    pub fn track<S: AsFd + Send + Sync + 'static>(&self, socket: &Arc<S>) -> Tracked {
        let id = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        self.tracked()
            .insert(id, Arc::clone(socket) as Arc<dyn AsFd + Send + Sync>);
        // Checked after inserting, so a trigger racing with us is seen by one side or the other.
        if self.is_triggered() {
            shut(socket.as_ref());
        }
        Tracked {
            shutdown: self.clone(),
            id,
        }
    }

    fn tracked(&self) -> MutexGuard<'_, HashMap<u64, Arc<dyn AsFd + Send + Sync>>> {
        // A panic while holding this lock cannot leave the map half-changed.
        self.0.tracked.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// [`Shutdown::wait`]'s future. Every connection task polls one each time it wakes (through
/// [`Shutdown::until`]), so the common case costs one atomic load and a pointer comparison: the
/// listener is polled, which takes the event's lock, only when the task's waker changes. Polling it
/// on every wake-up cost tokio-current 3% of its round trips (`scripts/fidelity.sh`).
pub struct Wait {
    shutdown: Shutdown,
    /// Registered on the first poll, with the waker it will wake.
    listener: Option<(EventListener, Waker)>,
}

impl Future for Wait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        loop {
            if self.shutdown.is_triggered() {
                return Poll::Ready(());
            }
            match &mut self.listener {
                // The trigger notifies the listener, which wakes this same waker.
                Some((_, waker)) if waker.will_wake(cx.waker()) => return Poll::Pending,
                Some((listener, waker)) => {
                    if Pin::new(&mut *listener).poll(cx).is_pending() {
                        waker.clone_from(cx.waker());
                        return Poll::Pending;
                    }
                    // Notified: the trigger was pulled (checked again at the top).
                    self.listener = None;
                }
                None => {
                    // Listening first and checking after, so a trigger in between is seen.
                    let listener = self.shutdown.0.event.listen();
                    self.listener = Some((listener, Waker::noop().clone()));
                }
            }
        }
    }
}

fn shut(socket: &(impl AsFd + ?Sized)) {
    // Fails harmlessly (ENOTCONN) on a socket the peer already closed.
    let _ = socket2::SockRef::from(&socket.as_fd()).shutdown(std::net::Shutdown::Both);
}

/// A socket [`Shutdown::track`] will shut down; dropping this stops tracking it.
pub struct Tracked {
    shutdown: Shutdown,
    id: u64,
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.shutdown.tracked().remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn trigger_wakes_a_thread_blocked_in_accept() {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let shutdown = Shutdown::new();
        let _tracked = shutdown.track(&listener);
        let blocked = std::thread::spawn(move || listener.accept().map(|_| ()));
        shutdown.trigger();
        assert!(blocked.join().unwrap().is_err());
    }

    #[test]
    fn trigger_wakes_a_thread_blocked_in_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let _client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let conn = Arc::new(listener.accept().unwrap().0);
        let shutdown = Shutdown::new();
        let tracked = shutdown.track(&conn);
        let blocked = std::thread::spawn(move || {
            let _tracked = tracked;
            (&*conn).read(&mut [0; 16]).unwrap()
        });
        shutdown.trigger();
        assert_eq!(blocked.join().unwrap(), 0);
        assert!(shutdown.tracked().is_empty(), "the guard untracks on drop");
    }

    #[test]
    fn a_socket_tracked_after_the_trigger_is_shut_at_once() {
        let listener = Arc::new(TcpListener::bind("127.0.0.1:0").unwrap());
        let shutdown = Shutdown::new();
        shutdown.trigger();
        shutdown.trigger();
        let _tracked = shutdown.track(&listener);
        assert!(listener.accept().is_err());
        futures_lite::future::block_on(shutdown.wait());
        let never = std::future::pending::<()>();
        assert_eq!(futures_lite::future::block_on(shutdown.until(never)), None);
    }

    #[test]
    fn a_waiting_task_is_woken_by_the_trigger_and_a_new_waker_is_the_one_woken() {
        let shutdown = Shutdown::new();
        let mut wait = shutdown.wait();
        let (first, second) = (Arc::new(Count::default()), Arc::new(Count::default()));
        let first_waker = Waker::from(Arc::clone(&first));
        let second_waker = Waker::from(Arc::clone(&second));
        let mut poll =
            |waker: &Waker| Pin::new(&mut wait).poll(&mut task::Context::from_waker(waker));
        assert!(poll(&first_waker).is_pending());
        assert!(
            poll(&first_waker).is_pending(),
            "polled again by the same task"
        );
        // The task moved (another waker): the trigger must wake the new one, not the old.
        assert!(poll(&second_waker).is_pending());
        shutdown.trigger();
        assert_eq!(
            second.0.load(Ordering::SeqCst),
            1,
            "the current waker is woken"
        );
        assert!(poll(&second_waker).is_ready());
    }

    #[derive(Default)]
    struct Count(AtomicU64);

    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}
