//! One connection served the blocking way, with std::net: read, do the work its completed
//! messages are due, echo, repeat. The three std servers (`threads`, `blocking`, `thread-pool`)
//! differ only in which thread runs this, so it lives here once and their diff shows just that.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

use crate::Conn;

/// Serves `stream` on the calling thread until the peer closes it, it fails, or shutdown shuts
/// it down; a failure is counted on `conn`.
pub fn serve_connection(stream: TcpStream, mut conn: Conn) {
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
