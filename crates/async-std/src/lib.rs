//! TCP echo server on async-std, its executor on `--threads` threads, a task per connection.
//!
//! async-std is discontinued upstream ("Deprecated in favor of `smol`"); it is pinned here because
//! much code still runs on it.

use std::io;
use std::net::TcpListener as StdListener;
use std::sync::Arc;

use async_std::io::{ReadExt, WriteExt};
use async_std::net::{TcpListener, TcpStream};
use async_std::task;
use echo_common::{Conn, Context, How, Serves, Target, Work};

/// The async-std target.
pub const TARGET: Target = Target::new(
    "async-std",
    "async-std: its global executor on --threads threads, a task per connection",
    serve,
    Serves::EventLoop,
);

/// Serves on async-std's executor with `--threads` threads. The executor is global to the
/// process, so the thread count is fixed by the first server a process starts.
pub fn serve(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    let threads = context.config().threads.into();
    async_global_executor::init_with_config(
        async_global_executor::GlobalExecutorConfig::default()
            .with_min_threads(threads)
            .with_max_threads(threads),
    );
    task::block_on(accept_loop(listener, context))
}

async fn accept_loop(listener: StdListener, context: Arc<Context>) -> io::Result<()> {
    let listener = TcpListener::from(listener);
    task::spawn(Arc::clone(&context).lag_probe());
    while let Some(accepted) = context.shutdown().until(listener.accept()).await {
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                task::sleep(context.accept_failed(e)?).await;
                continue;
            }
        };
        let Some(conn) = context.admit(peer) else {
            continue;
        };
        task::spawn(connection(stream, conn));
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
            task::sleep(duration).await;
            Ok(())
        }
        How::Inline => work.run_blocking(),
        How::Offload => {
            let work = work.clone();
            task::spawn_blocking(move || work.run_blocking()).await
        }
    }
}
