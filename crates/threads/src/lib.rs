//! TCP echo server on std::net: one OS thread per connection, each blocked in `read` until its
//! client speaks. No event loop: the kernel's scheduler does the multiplexing.

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

use echo_common::{Conn, Context, Target};

/// The thread-per-connection target.
pub const TARGET: Target = Target {
    name: "threads",
    about: "std::net, one OS thread per connection",
    serve,
    multi_threaded: false,
    event_loop: false,
    one_at_a_time: false,
    pool: None,
    available: None,
};

/// Serves with a new thread for each connection.
pub fn serve(listener: TcpListener, context: Arc<Context>) -> io::Result<()> {
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
        if let Err(e) = thread::Builder::new().spawn(move || connection(stream, conn)) {
            // The closure, and with it the connection, was dropped: the client sees it closed.
            eprintln!("cannot start a thread for the connection from {peer}: {e}");
        }
    }
    drop(tracked);
    drop(listener);
    context.drained_blocking();
    Ok(())
}

fn connection(stream: TcpStream, mut conn: Conn) {
    // Shutting the socket down is what wakes the blocked `read` at shutdown.
    let stream = Arc::new(stream);
    let _tracked = conn.shutdown().track(&stream);
    if let Err(e) = echo(&mut &*stream, &mut conn) {
        conn.failed(&e);
    }
}

fn echo(stream: &mut &TcpStream, conn: &mut Conn) -> io::Result<()> {
    stream.set_nodelay(conn.nodelay())?;
    let mut buf = conn.buffer();
    loop {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        for _ in 0..conn.received(n) {
            conn.work().run_blocking()?;
        }
        stream.write_all(&buf[..n])?;
        conn.echoed(n);
    }
}
