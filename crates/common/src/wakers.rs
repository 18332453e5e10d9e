//! Tasks waiting for a condition that another thread makes true (the shutdown trigger, the last
//! connection closing), woken outside any lock.
//!
//! Why not event-listener, which wakes while it holds its list lock: a runtime's wake from another
//! thread may wait for its loop to make room (compio's queue of such wake-ups holds 64), and the
//! loop, running the tasks woken so far, drops their listeners, which takes that same lock. That
//! cycle deadlocked compio's server on SIGTERM at 1000 connections.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{self, Poll, Waker};

/// The wakers of the tasks waiting on one condition.
#[derive(Default)]
pub(crate) struct Wakers {
    waiting: Mutex<HashMap<u64, Waker>>,
    next_id: AtomicU64,
}

impl Wakers {
    /// Wakes every task waiting now, after letting go of the lock. Whoever made the condition
    /// true must have made it visible first.
    pub fn wake_all(&self) {
        let waiting = std::mem::take(&mut *self.lock());
        waiting.into_values().for_each(Waker::wake);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Waker>> {
        // A panic while holding this lock cannot leave the map half-changed.
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// One task's place among the [`Wakers`]. A connection task polls one each time it wakes, so the
/// common case costs the condition and a pointer comparison: the lock is taken only to register
/// a waker the first time or when the task's waker changes. Taking it on every wake-up cost
/// tokio-current 3% of its round trips (`scripts/fidelity.sh`).
pub(crate) struct Waiter {
    wakers: Arc<Wakers>,
    id: u64,
    /// The waker registered, if any.
    waker: Option<Waker>,
}

impl Waiter {
    pub fn new(wakers: &Arc<Wakers>) -> Self {
        Waiter {
            wakers: Arc::clone(wakers),
            id: wakers.next_id.fetch_add(1, Relaxed),
            waker: None,
        }
    }

    /// Ready once `done()` holds; until then the task is registered to be woken.
    pub fn poll_until(&mut self, cx: &mut task::Context<'_>, done: impl Fn() -> bool) -> Poll<()> {
        if done() {
            return Poll::Ready(());
        }
        if self.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            return Poll::Pending;
        }
        let mut waiting = self.wakers.lock();
        // Checked again under the lock: a `wake_all` that took the wakers before ours went in
        // came after the condition was made true.
        if done() {
            return Poll::Ready(());
        }
        waiting.insert(self.id, cx.waker().clone());
        drop(waiting);
        self.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        if self.waker.is_some() {
            self.wakers.lock().remove(&self.id);
        }
    }
}
