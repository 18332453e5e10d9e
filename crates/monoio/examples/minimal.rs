//! The leanest idiomatic monoio echo server, the yardstick `scripts/fidelity.sh` holds the
//! `monoio` target to: one io_uring runtime on the main thread, a task per connection, an owned
//! 16 KiB buffer passed to the kernel and back, TCP_NODELAY, and several accepts in flight on
//! the listener (the server's `ACCEPTS_IN_FLIGHT` says why). No flags, no work, no shutdown.
//!
//! ```sh
//! cargo run --release -p echo-monoio --example monoio-minimal -- 127.0.0.1:7878
//! ```

use std::rc::Rc;

use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
use monoio::net::{TcpListener, TcpStream};
use monoio::{IoUringDriver, RuntimeBuilder};

/// Accepts in flight at once, as in the server.
const ACCEPTS_IN_FLIGHT: usize = 64;

fn main() -> std::io::Result<()> {
    let addr = std::env::args().nth(1).unwrap_or("127.0.0.1:7878".into());
    RuntimeBuilder::<IoUringDriver>::new()
        .build()?
        .block_on(async {
            let listener = Rc::new(TcpListener::bind(addr)?);
            println!("listening on {}", listener.local_addr()?);
            let acceptors: Vec<_> = (0..ACCEPTS_IN_FLIGHT)
                .map(|_| monoio::spawn(accept(Rc::clone(&listener))))
                .collect();
            for acceptor in acceptors {
                acceptor.await?;
            }
            Ok(())
        })
}

async fn accept(listener: Rc<TcpListener>) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        monoio::spawn(echo(stream));
    }
}

async fn echo(mut stream: TcpStream) {
    let mut buf = Vec::with_capacity(16 * 1024);
    loop {
        let (read, filled) = stream.read(buf).await;
        if !matches!(read, Ok(1..)) {
            return;
        }
        let (written, echoed) = stream.write_all(filled).await;
        if written.is_err() {
            return;
        }
        buf = echoed;
        buf.clear();
    }
}
