//! TCP echo server on std::net with a fixed pool of worker threads, the design most blocking
//! production servers use: the accept loop queues each connection, and a free worker takes it
//! and serves it to the end, blocked in `read` while its client is quiet. Threads are bounded,
//! so clients beyond the pool are accepted but wait in the queue, unserved, until a worker comes
//! free: in a closed-loop run, their messages time out (loadgen counts them as starved).

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::mpsc::{self, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;

use echo_common::blocking::serve_connection;
use echo_common::{Config, Conn, Context, Serves, Target};

/// The thread-pool target.
pub const TARGET: Target = Target::new(
    "thread-pool",
    "std::net, a fixed pool of 8 × --threads worker threads, each serving one connection \
            at a time; clients beyond the pool wait",
    serve,
    Serves::Pool(workers),
);

/// Workers per `--threads` (whose default is one per CPU). A pool's threads spend most of their
/// time blocked in `read`, so pools are sized at a multiple of the CPUs; 8 per CPU is a common
/// choice for I/O-bound pools, and with the suite's standard 100 clients on one server CPU it
/// leaves most clients waiting, which is what this design does under load.
pub const WORKERS_PER_THREAD: usize = 8;

/// Worker threads for `config`.
pub fn workers(config: &Config) -> usize {
    WORKERS_PER_THREAD * usize::from(config.threads)
}

/// Serves with a fixed pool of workers; accepts on the calling thread.
pub fn serve(listener: TcpListener, context: Arc<Context>) -> io::Result<()> {
    let (queue, queued) = mpsc::channel::<(TcpStream, Conn)>();
    let queued = Arc::new(Mutex::new(queued));
    let pool = (0..workers(context.config()))
        .map(|i| {
            let queued = Arc::clone(&queued);
            thread::Builder::new()
                .name(format!("pool-{i}"))
                .spawn(move || worker(&queued))
        })
        .collect::<io::Result<Vec<_>>>()?;
    // Shutting the listener down is what wakes the blocked `accept` at shutdown.
    let listener = Arc::new(listener);
    let tracked = context.shutdown().track(&listener);
    loop {
        let accepted = listener.accept();
        if context.shutdown().is_triggered() {
            break;
        }
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                thread::sleep(context.accept_failed(e)?);
                continue;
            }
        };
        let Some(conn) = context.admit(peer) else {
            continue;
        };
        // Fails only once every worker has gone, which they do only after this sender.
        let _ = queue.send((stream, conn));
    }
    drop(tracked);
    drop(listener);
    // Workers finish what is queued (each connection closes at once: shutdown has begun), then
    // find the queue closed and exit.
    drop(queue);
    context.drained_blocking();
    for worker in pool {
        let _ = worker.join();
    }
    Ok(())
}

/// A worker's life: take the next connection, serve it to the end, until the queue closes.
fn worker(queued: &Mutex<Receiver<(TcpStream, Conn)>>) {
    loop {
        // Idle workers queue on the lock; the one holding it waits for a connection.
        let next = queued.lock().unwrap_or_else(|e| e.into_inner()).recv();
        let Ok((stream, conn)) = next else {
            return;
        };
        serve_connection(stream, conn);
    }
}
