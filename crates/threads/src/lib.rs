//! TCP echo server on std::net: one OS thread per connection, each blocked in `read` until its
//! client speaks. No event loop: the kernel's scheduler does the multiplexing.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use echo_common::blocking::serve_connection;
use echo_common::{Context, Serves, Target};

/// The thread-per-connection target.
pub const TARGET: Target = Target::new(
    "threads",
    "std::net, one OS thread per connection",
    serve,
    Serves::ThreadPerConnection,
);

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
        if let Err(e) = thread::Builder::new().spawn(move || serve_connection(stream, conn)) {
            // The closure, and with it the connection, was dropped: the client sees it closed.
            eprintln!("cannot start a thread for the connection from {peer}: {e}");
        }
    }
    drop(tracked);
    drop(listener);
    context.drained_blocking();
    Ok(())
}
