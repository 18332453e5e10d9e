//! TCP echo server on std::net with a single thread that serves one connection at a time, to
//! completion, before it accepts the next. Every other client waits in the kernel's accept queue:
//! this is the synchronous server an event loop exists to replace.

use std::io;
use std::net::TcpListener;
use std::sync::Arc;
use std::thread;

use echo_common::blocking::serve_connection;
use echo_common::{Context, Serves, Target};

/// The one-connection-at-a-time target.
pub const TARGET: Target = Target::new(
    "blocking",
    "std::net, one thread serving one connection at a time, to completion",
    serve,
    Serves::OneAtATime,
);

/// Serves each connection in turn on the calling thread.
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
        serve_connection(stream, conn);
    }
    drop(tracked);
    drop(listener);
    context.drained_blocking();
    Ok(())
}
