//! TCP echo servers on tokio: the multi-thread runtime with `--threads` workers ([`TARGET`]), and
//! the current-thread runtime, one thread and one event loop like Python's asyncio
//! ([`TARGET_CURRENT`]). A task per connection in both.

use std::io;
use std::net::TcpListener as StdListener;
use std::sync::Arc;

use echo_common::{Conn, Context, How, Serves, Target, Work};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::{Builder, Runtime};

/// The multi-thread runtime.
pub const TARGET: Target = Target::new(
    "tokio",
    "tokio's multi-thread runtime with --threads workers, a task per connection",
    serve,
    Serves::EventLoop,
);

/// The current-thread runtime.
pub const TARGET_CURRENT: Target = Target::new(
    "tokio-current",
    "tokio's current-thread runtime: one thread, one event loop, a task per connection",
    serve_current,
    Serves::EventLoop,
);

/// Serves on a multi-thread runtime with `--threads` workers.
pub fn serve(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    let runtime = Builder::new_multi_thread()
        .worker_threads(context.config().threads.into())
        .enable_all()
        .build()?;
    run(runtime, listener, context)
}

/// Serves on a current-thread runtime.
pub fn serve_current(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    let runtime = Builder::new_current_thread().enable_all().build()?;
    run(runtime, listener, context)
}

fn run(runtime: Runtime, listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    let result = runtime.block_on(accept_loop(listener, context));
    // Offloaded work still sleeping cannot be cancelled; do not wait for it.
    runtime.shutdown_background();
    result
}

async fn accept_loop(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    tokio::spawn(Arc::clone(&context).lag_probe());
    while let Some(accepted) = context.shutdown().until(listener.accept()).await {
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                tokio::time::sleep(context.accept_failed(e)?).await;
                continue;
            }
        };
        let Some(conn) = context.admit(peer) else {
            continue;
        };
        tokio::spawn(connection(stream, conn));
    }
    drop(listener);
    context.drained().await;
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
    let mut buf = conn.buffer();
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        for _ in 0..conn.received(n) {
            work(conn.work()).await?;
        }
        stream.write_all(&buf[..n]).await?;
        conn.echoed(n);
    }
}

async fn work(work: &Work) -> io::Result<()> {
    match work.how() {
        How::Nothing => Ok(()),
        How::Wait(duration) => {
            tokio::time::sleep(duration).await;
            Ok(())
        }
        How::Inline => work.run_blocking(),
        How::Offload => {
            let work = work.clone();
            tokio::task::spawn_blocking(move || work.run_blocking()).await?
        }
    }
}
