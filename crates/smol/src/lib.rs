//! TCP echo server on smol: an explicit [`Executor`] run by `--threads` threads, a task per
//! connection. (smol's global executor would run on one thread unless `SMOL_THREADS` is set.)

use std::io;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;

use echo_common::{Conn, Context, How, Serves, Target, Work};
use smol::io::{AsyncReadExt, AsyncWriteExt};
use smol::{Async, Executor, Timer};

/// The smol target.
pub const TARGET: Target = Target::new(
    "smol",
    "smol: an explicit executor on --threads threads, a task per connection",
    serve,
    Serves::EventLoop,
);

/// Serves on an executor run by `--threads` threads: the calling thread and `--threads - 1`
/// more. The accept loop is a task on the executor like any other, so with one thread the
/// whole server runs in one `executor.run`, as smol's own examples do: no thread hands
/// connections to another.
pub fn serve(listener: TcpListener, context: Arc<Context>) -> io::Result<()> {
    let executor = Arc::new(Executor::new());
    let accepting = executor.spawn(accept_loop(
        Arc::clone(&executor),
        listener,
        Arc::clone(&context),
    ));
    // The other workers run the executor until `stop` is dropped, after the accept loop is over.
    let (stop, stopped) = smol::channel::bounded::<()>(1);
    let workers = (1..context.config().threads)
        .map(|i| {
            let (executor, stopped) = (Arc::clone(&executor), stopped.clone());
            std::thread::Builder::new()
                .name(format!("smol-{i}"))
                .spawn(move || smol::block_on(executor.run(stopped.recv())))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let result = smol::block_on(executor.run(accepting));
    context.shutdown().trigger();
    drop(stop);
    for worker in workers {
        let _ = worker.join();
    }
    result
}

async fn accept_loop(
    executor: Arc<Executor<'static>>,
    listener: TcpListener,
    context: Arc<Context>,
) -> io::Result<()> {
    let listener = Async::new(listener)?;
    executor.spawn(Arc::clone(&context).lag_probe()).detach();
    while let Some(accepted) = context.shutdown().until(listener.accept()).await {
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                Timer::after(context.accept_failed(e)?).await;
                continue;
            }
        };
        let Some(conn) = context.admit(peer) else {
            continue;
        };
        executor.spawn(connection(stream, conn)).detach();
    }
    drop(listener);
    context.drained().await;
    Ok(())
}

async fn connection(mut stream: Async<TcpStream>, mut conn: Conn) {
    let shutdown = conn.shutdown().clone();
    if let Some(Err(e)) = shutdown.until(echo(&mut stream, &mut conn)).await {
        conn.failed(&e);
    }
}

async fn echo(stream: &mut Async<TcpStream>, conn: &mut Conn) -> io::Result<()> {
    stream.get_ref().set_nodelay(conn.nodelay())?;
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
            Timer::after(duration).await;
            Ok(())
        }
        How::Inline => work.run_blocking(),
        How::Offload => {
            let work = work.clone();
            smol::unblock(move || work.run_blocking()).await
        }
    }
}
