//! A blocking pool for servers whose runtime has none of its own: threads that run what must not
//! run on the event loop (`offload`, `file-offload`, `sqlite-offload`), so that the loop can go on
//! serving meanwhile. What tokio calls `spawn_blocking`, in a few lines; the hand-written `mio`
//! loop uses it, and so do runtimes that ask to be given a pool (monoio).
//!
//! A job tells its loop that it is done itself: the pool only runs jobs.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Most threads the pool grows to: tokio's `spawn_blocking` default, so offloaded work starts
/// queueing at the same load here as on tokio. Threads are started only when every one is busy.
const MAX_THREADS: usize = 512;

/// A job: a blocking call and whatever reports its result.
pub type Job = Box<dyn FnOnce() + Send>;

/// A pool of threads that grows on demand up to [`MAX_THREADS`]. Clones share the pool. When
/// the last clone is dropped its threads finish the job at hand and exit; nobody waits for them
/// (a sleeping job cannot be cut short).
#[derive(Clone)]
pub struct BlockingPool(Arc<Owner>);

/// Closes the pool when the last handle goes; the threads hold only [`Shared`].
struct Owner(Arc<Shared>);

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Signalled when a job is queued or the pool closes.
    changed: Condvar,
}

#[derive(Default)]
struct State {
    jobs: VecDeque<Job>,
    threads: usize,
    idle: usize,
    closed: bool,
}

impl BlockingPool {
    /// A pool with no threads yet.
    pub fn new() -> Self {
        BlockingPool(Arc::new(Owner(Arc::default())))
    }

    /// Runs `job` on a pool thread: an idle one, else a new one, else the first to come free.
    pub fn run(&self, job: Job) {
        let shared = &self.0.0;
        let mut state = shared.lock();
        state.jobs.push_back(job);
        // Each idle thread will take one queued job; a job beyond those needs a new thread.
        if state.jobs.len() > state.idle && state.threads < MAX_THREADS {
            let shared = Arc::clone(shared);
            let started = std::thread::Builder::new()
                .name("blocking".into())
                .spawn(move || shared.work());
            match started {
                Ok(_) => state.threads += 1,
                // The job waits for a thread that exists; with none at all, it waits forever,
                // and so does its connection, as on a runtime whose pool cannot grow.
                Err(e) => eprintln!("cannot start a blocking-pool thread: {e}"),
            }
        } else {
            shared.changed.notify_one();
        }
    }
}

impl Default for BlockingPool {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.lock().closed = true;
        self.0.changed.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs run outside the lock, so a panicking job cannot poison it mid-change.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A pool thread's life: take a job, run it, until the pool closes.
    fn work(&self) {
        let mut state = self.lock();
        loop {
            if state.closed {
                return;
            }
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                job();
                state = self.lock();
                continue;
            }
            state.idle += 1;
            state = self.changed.wait(state).unwrap_or_else(|e| e.into_inner());
            state.idle -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// Only a guard against a hang, not a bound on speed.
    const HANG_GUARD: Duration = Duration::from_secs(10);

    #[test]
    fn a_job_never_waits_behind_busy_threads() {
        let pool = BlockingPool::new();
        // Three jobs block until the gate opens: each holds a thread of its own.
        let gate = Arc::new((Mutex::new(false), Condvar::new()));
        for _ in 0..3 {
            let gate = Arc::clone(&gate);
            pool.run(Box::new(move || {
                let (open, opened) = &*gate;
                let _open = opened
                    .wait_while(open.lock().unwrap(), |open| !*open)
                    .unwrap();
            }));
        }
        let (done, finished) = mpsc::channel();
        pool.run(Box::new(move || done.send(()).unwrap()));
        let ran = finished.recv_timeout(HANG_GUARD);
        *gate.0.lock().unwrap() = true;
        gate.1.notify_all();
        assert!(ran.is_ok(), "the last job waited for the blocked ones");
    }
}
