//! Stopping a server: one trigger, seen by async tasks (as a future) and by blocked threads (whose
//! sockets are shut down under them, the only way to wake a thread blocked in `accept` or `read`).

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::os::fd::AsFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll};

use crate::wakers::{Waiter, Wakers};

/// A shutdown trigger shared by a server and whoever stops it (a signal, a test, a benchmark).
#[derive(Clone, Default)]
pub struct Shutdown(Arc<Inner>);

#[derive(Default)]
struct Inner {
    triggered: AtomicBool,
    /// The tasks waiting for the trigger.
    waiting: Arc<Wakers>,
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
        self.0.waiting.wake_all();
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
            waiter: Waiter::new(&self.0.waiting),
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
        lock(&self.0.tracked)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave its map half-changed.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`Shutdown::wait`]'s future: cheap to poll on every wake-up (see [`Waiter`]).
pub struct Wait {
    shutdown: Shutdown,
    waiter: Waiter,
}

impl Future for Wait {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut task::Context<'_>) -> Poll<()> {
        let Wait { shutdown, waiter } = &mut *self;
        waiter.poll_until(cx, || shutdown.is_triggered())
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
    use std::sync::mpsc;
    use std::task::Waker;

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
    fn a_wake_that_waits_for_the_loop_to_drop_another_wait_does_not_deadlock() {
        // compio's wake from another thread waits until its loop makes room, and the loop, in
        // the meantime, finishes tasks and drops their `Wait`s. A trigger that woke tasks while
        // holding its lock would wait forever for a loop blocked on that same lock.
        let shutdown = Shutdown::new();
        let (ask, asked) = mpsc::channel::<()>();
        let (done, finished) = mpsc::channel::<()>();
        let mut other = shutdown.wait();
        let plain = Waker::noop().clone();
        assert!(
            Pin::new(&mut other)
                .poll(&mut task::Context::from_waker(&plain))
                .is_pending()
        );
        // The loop: told to, it drops the other task's Wait.
        let event_loop = std::thread::spawn(move || {
            asked.recv().unwrap();
            drop(other);
            done.send(()).unwrap();
        });
        let mut waiting = shutdown.wait();
        let waker = Waker::from(Arc::new(WaitsForTheLoop(Mutex::new(Some((ask, finished))))));
        assert!(
            Pin::new(&mut waiting)
                .poll(&mut task::Context::from_waker(&waker))
                .is_pending()
        );
        let (triggered, trigger_done) = mpsc::channel();
        std::thread::spawn(move || {
            shutdown.trigger();
            triggered.send(()).unwrap();
        });
        // A bound, so a deadlock fails the test instead of hanging the suite.
        if trigger_done
            .recv_timeout(std::time::Duration::from_secs(20))
            .is_err()
        {
            // Dropping it would wait for the deadlocked lock too.
            std::mem::forget(waiting);
            panic!("the trigger deadlocked with the loop");
        }
        event_loop.join().unwrap();
    }

    /// A waker like compio's from another thread: it returns only once the loop has done its part.
    struct WaitsForTheLoop(Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>);

    impl std::task::Wake for WaitsForTheLoop {
        fn wake(self: Arc<Self>) {
            if let Some((ask, finished)) = lock(&self.0).take() {
                ask.send(()).unwrap();
                finished.recv().unwrap();
            }
        }
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
