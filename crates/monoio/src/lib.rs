//! TCP echo server on monoio: thread-per-core on io_uring. Each of `--threads` threads runs a
//! runtime of its own, with its own ring, accepting on the shared listener; a connection stays
//! on the thread that accepted it, a task there, and no task ever moves to another thread (no
//! work stealing). Reads and writes hand an owned buffer to the kernel and get it back on
//! completion, rather than waiting for readiness and copying.
//!
//! monoio has no blocking pool of its own: its documentation recommends attaching one for
//! `spawn_blocking`. The suite's [`BlockingPool`] is attached, so offloaded work has the same
//! room here as on tokio.

use std::io;
use std::net::TcpListener as StdListener;
use std::rc::Rc;
use std::sync::Arc;
use std::thread;

use echo_common::{BlockingPool, Conn, Context, How, Serves, Target, Work};
use monoio::blocking::{BlockingTask, ThreadPool};
use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use monoio::{IoUringDriver, RuntimeBuilder};

/// The monoio target.
pub const TARGET: Target = Target::new(
    "monoio",
    "monoio: thread-per-core on io_uring, a runtime per --threads sharing the listener, a \
            task per connection; offload: spawn_blocking on an attached pool, as its docs advise",
    serve,
    Serves::EventLoop,
)
.available_if(available);

/// Accepts each runtime keeps in flight on the listener. An io_uring accept yields one
/// connection, and the task that issued it runs again only on the runtime's next turn, after
/// every connection whose I/O completed meanwhile. With thousands of busy connections a turn is
/// long, so a single accept in flight takes one connection per long turn while a burst of new
/// ones waits in the kernel's queue past the clients' patience. Each accept in flight takes one
/// more per turn; 64 drain the default 4096-long backlog in 64 turns, while costing only an
/// idle submission each when nobody connects. (Readiness-based runtimes get the same effect by
/// accepting until the queue is empty.)
const ACCEPTS_IN_FLIGHT: usize = 64;

/// Whether an io_uring runtime can be built here.
fn available() -> Result<(), String> {
    RuntimeBuilder::<IoUringDriver>::new()
        .build()
        .map(drop)
        .map_err(|e| echo_common::uring::uring_unavailable(&e))
}

/// Serves with `--threads` runtimes: one on the calling thread, the others on threads of their
/// own.
pub fn serve(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    let pool = BlockingPool::new();
    let others = (1..context.config().threads)
        .map(|i| {
            let (listener, context, pool) =
                (listener.try_clone()?, Arc::clone(&context), pool.clone());
            thread::Builder::new()
                .name(format!("monoio-{i}"))
                .spawn(move || run(listener, context, pool))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut result = run(listener, Arc::clone(&context), pool);
    for other in others {
        let other = other
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("a monoio thread panicked")));
        result = result.and(other);
    }
    result
}

/// One core's runtime, serving until shutdown. A runtime that fails stops the whole server.
fn run(listener: StdListener, context: Arc<Context>, pool: BlockingPool) -> io::Result<()> {
    let result = RuntimeBuilder::<IoUringDriver>::new()
        .enable_timer()
        .attach_thread_pool(Box::new(Offload(pool)))
        .build()
        .and_then(|mut runtime| runtime.block_on(accept_loop(listener, Arc::clone(&context))));
    if result.is_err() {
        context.shutdown().trigger();
    }
    result
}

async fn accept_loop(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    let listener = Rc::new(TcpListener::from_std(listener)?);
    // A probe per core: each core's loop can be blocked on its own.
    monoio::spawn(Arc::clone(&context).lag_probe());
    let acceptors: Vec<_> = (0..ACCEPTS_IN_FLIGHT)
        .map(|_| monoio::spawn(accept(Rc::clone(&listener), Arc::clone(&context))))
        .collect();
    let mut result = Ok(());
    for acceptor in acceptors {
        result = result.and(acceptor.await);
    }
    drop(listener);
    result?;
    context.drained().await;
    Ok(())
}

/// One of the accepts in flight: accepts and spawns connections until shutdown. One that fails
/// shuts the server down, so that its siblings stop too.
async fn accept(listener: Rc<TcpListener>, context: Arc<Context>) -> io::Result<()> {
    while let Some(accepted) = context.shutdown().until(listener.accept()).await {
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => match context.accept_failed(e) {
                Ok(pause) => {
                    monoio::time::sleep(pause).await;
                    continue;
                }
                Err(e) => {
                    context.shutdown().trigger();
                    return Err(e);
                }
            },
        };
        let Some(conn) = context.admit(peer) else {
            continue;
        };
        monoio::spawn(connection(stream, conn));
    }
    Ok(())
}

async fn connection(mut stream: TcpStream, mut conn: Conn) {
    let shutdown = conn.shutdown().clone();
    if let Some(Err(e)) = shutdown.until(echo(&mut stream, &mut conn)).await {
        conn.failed(&e);
    }
}

async fn echo(stream: &mut TcpStream, conn: &mut Conn) -> io::Result<()> {
    stream.set_nodelay(conn.nodelay())?;
    // Reads fill a buffer's spare capacity: an empty one with room for `--buffer` bytes.
    let mut buf = conn.buffer();
    buf.clear();
    loop {
        let (read, filled) = stream.read(buf).await;
        buf = filled;
        let n = read?;
        if n == 0 {
            return Ok(());
        }
        for _ in 0..conn.received(n) {
            work(conn.work()).await?;
        }
        let (written, echoed) = stream.write_all(buf).await;
        buf = echoed;
        written?;
        conn.echoed(n);
        buf.clear();
    }
}

async fn work(work: &Work) -> io::Result<()> {
    match work.how() {
        How::Nothing => Ok(()),
        How::Wait(duration) => {
            monoio::time::sleep(duration).await;
            Ok(())
        }
        How::Inline => work.run_blocking(),
        How::Offload => {
            let work = work.clone();
            monoio::spawn_blocking(move || work.run_blocking())
                .await
                .unwrap_or_else(|_| Err(io::Error::other("offloaded work was cancelled")))
        }
    }
}

/// monoio's blocking-pool interface, on the suite's pool.
struct Offload(BlockingPool);

impl ThreadPool for Offload {
    fn schedule_task(&self, task: BlockingTask) {
        self.0.run(Box::new(move || task.run()));
    }
}
